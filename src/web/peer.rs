//! `ChordPeer`, the JS API. Every error it throws or rejects with is an
//! `Error` whose message is written for the person using the page and whose
//! `code` is for the program (`codes.rs`; the `ErrorCode` union in `api_types.rs`).

use super::blobstore::BlobStore;
use super::driver::{self, Answer, Core, Failure};
use super::files::{read_slice, store_file, to_blob, TransferOptions, INLINE_MAX_BYTES};
use super::input::Input;
use super::js::{now, to_js};
use super::options::JoinOptions;
use crate::codes::storage_code;
use crate::id::Id;
use crate::peer::{Input as PeerInput, Peer};
use futures::channel::{mpsc, oneshot};
use futures::future::{select, Either};
use js_sys::Promise;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// This tab's node in a Chord ring. Clones (in Rust) share the one peer.
#[wasm_bindgen]
#[derive(Clone)]
pub struct ChordPeer {
    core: Rc<RefCell<Core>>,
    tx: mpsc::UnboundedSender<Input>,
    id: Id,
}

#[wasm_bindgen]
impl ChordPeer {
    /// Joins the ring through the signaling server: the first tab of a ring
    /// creates it; every other tab is introduced to one member and joins
    /// through it. Resolves once the tab knows its successor.
    #[wasm_bindgen(unchecked_return_type = "ChordPeer")]
    pub async fn join(#[wasm_bindgen(unchecked_param_type = "JoinOptions")] options: JsValue) -> Result<ChordPeer, JsValue> {
        let opts = JoinOptions::from_js(&options).map_err(|e| js_error("invalid", &e))?;
        let (fresh, seed) = fresh_identity().map_err(|e| js_error("join_failed", &e))?;
        let id = opts.id.unwrap_or(fresh);
        let (tx, rx) = mpsc::unbounded();
        let (join_tx, join_rx) = oneshot::channel();
        let mut peer = Peer::new(id, opts.config, seed);
        // The values this id held before (a reload) are taken back once joined.
        let store = match BlobStore::open(&id).await {
            Ok(store) => {
                let records = store.records().await.unwrap_or_default();
                let blobs = store.blobs().await.unwrap_or_default();
                peer.handle_input(now(), PeerInput::Restored { records, blobs });
                Some(store)
            }
            Err(e) => {
                web_sys::console::warn_1(&format!("chord: no storage for files larger than 16 KiB: {e}").into());
                None
            }
        };
        let core = Rc::new(RefCell::new(Core::new(peer, tx.clone(), opts.on_event, join_tx, store)));
        wasm_bindgen_futures::spawn_local(driver::run(core.clone(), rx));
        let opened = core.borrow_mut().connect_servers(opts.signaling_urls);
        if let Err(e) = opened {
            core.borrow_mut().stop();
            return Err(js_error("join_failed", &format!("Could not join the ring: {e}")));
        }
        let timeout = gloo_timers::future::TimeoutFuture::new(opts.join_timeout_ms as u32);
        let outcome = match select(join_rx, timeout).await {
            Either::Left((Ok(Ok(_)), _)) => Ok(()),
            Either::Left((Ok(Err(failure)), _)) => Err(failure),
            Either::Left((Err(_), _)) => Err(Failure { code: "join_failed", message: "the peer stopped while joining".into() }),
            Either::Right(_) => Err(Failure {
                code: "join_failed",
                message: format!(
                    "no answer within {} s from the signaling server or the ring member it introduced",
                    opts.join_timeout_ms / 1000
                ),
            }),
        };
        match outcome {
            Ok(()) => Ok(ChordPeer { core, tx, id }),
            Err(Failure { code, message }) => {
                core.borrow_mut().stop();
                Err(js_error(code, &format!("Could not join the ring: {message}")))
            }
        }
    }

    /// This node's id: 40 hex digits.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.id.to_hex()
    }

    /// The key a name is stored under: SHA-1 of its UTF-8 bytes, 40 hex digits.
    #[wasm_bindgen(js_name = keyOf)]
    pub fn key_of(name: &str) -> String {
        Id::key_of(name).to_hex()
    }

    /// Stores `data` (a `Blob`/`File`, bytes or a string) under the SHA-1 of
    /// `name`; a re-put is an update. Up to 16 KiB the value rides the
    /// lookup; larger files (up to 1 GiB) are hashed and stored in this tab's
    /// IndexedDB, then the key's primary copies them over a direct link.
    /// `options.onProgress` gets `{phase, done, total}`; aborting
    /// `options.signal` cancels. Resolves to a `PutResult`.
    #[wasm_bindgen(unchecked_return_type = "Promise<PutResult>")]
    pub fn put(
        &self,
        name: String,
        #[wasm_bindgen(unchecked_param_type = "Blob | Uint8Array | ArrayBuffer | string")] data: JsValue,
        #[wasm_bindgen(unchecked_param_type = "TransferOptions | undefined")] options: JsValue,
    ) -> Promise {
        let core = self.core.clone();
        let tx = self.tx.clone();
        future_to_promise(async move {
            let fail = |e: String| js_error("invalid", &capitalize(&e));
            let opts = TransferOptions::from_js(&options).map_err(|e| fail(format!("could not store \"{name}\": {e}")))?;
            let file = to_blob(&data).map_err(|e| fail(format!("could not store \"{name}\": {e}")))?;
            if opts.aborted() {
                return Err(js_error("cancelled", &super::files::cancelled("put", &name)));
            }
            if name.is_empty() || name.len() > 1024 {
                // The same check and words as the driver's.
                let started = core.borrow_mut().put(name, Vec::new(), opts);
                return answer(tx, started).await;
            }
            let size = file.size() as u64;
            let started = if size <= INLINE_MAX_BYTES {
                let bytes = read_slice(&file, 0, size).await.map_err(|e| fail(format!("could not store \"{name}\": {e}")))?;
                core.borrow_mut().put(name, bytes.to_vec(), opts)
            } else {
                let store = core.borrow().store().ok_or_else(|| {
                    js_error(
                        "storage",
                        &capitalize(&format!(
                            "could not store \"{name}\": this browser gives the page no storage (IndexedDB) for files over 16 KiB"
                        )),
                    )
                })?;
                let blob = match store_file(|d| core.borrow().peer.holds_blob(d), &store, &name, &file, &opts).await {
                    Ok(b) => b,
                    Err(e) if e.starts_with("Cancelled") => return Err(js_error("cancelled", &e)),
                    Err(e) => return Err(js_error(storage_code(&e), &capitalize(&format!("could not store \"{name}\": {e}")))),
                };
                core.borrow_mut().put_blob(blob, opts)
            };
            answer(tx, started).await
        })
    }

    /// Fetches what is stored under the SHA-1 of `name` as a `Blob`
    /// (`undefined` if nothing is). A large file's bytes come straight from a
    /// holder and are checked against their SHA-1; a bad copy is reported
    /// (`bad_holder` event) and the next holder is asked. They go into this
    /// tab's IndexedDB as they arrive, and the `Blob` is made of them, so the
    /// file is never held in memory.
    /// `options.onProgress` gets `{phase: "receiving", done, total}`;
    /// aborting `options.signal` cancels.
    #[wasm_bindgen(unchecked_return_type = "Promise<Blob | undefined>")]
    pub fn get(&self, name: String, #[wasm_bindgen(unchecked_param_type = "TransferOptions | undefined")] options: JsValue) -> Promise {
        let started = TransferOptions::from_js(&options)
            .map_err(|e| Failure::from(format!("could not fetch \"{name}\": {e}")))
            .and_then(|opts| self.core.borrow_mut().get(name, opts));
        self.answer(started)
    }

    /// A snapshot of the routing state: predecessor, successors, fingers, links.
    #[wasm_bindgen(unchecked_return_type = "PeerState")]
    pub fn state(&self) -> Result<JsValue, JsValue> {
        let broken = |why: &str| js_error("failed", &format!("state() could not be built: {why}"));
        let core = self.core.borrow();
        let state = to_js(&core.peer.state()).map_err(|e| broken(&e))?;
        let timer = if core.timer_in_worker() { "worker" } else { "page" };
        js_sys::Reflect::set(&state, &"timer".into(), &timer.into()).map_err(|_| broken("timer"))?;
        let memory = wasm_bindgen::memory().unchecked_into::<js_sys::WebAssembly::Memory>();
        let bytes = memory.buffer().unchecked_into::<js_sys::ArrayBuffer>().byte_length();
        js_sys::Reflect::set(&state, &"wasmMemoryBytes".into(), &(bytes as f64).into()).map_err(|_| broken("wasmMemoryBytes"))?;
        Ok(state)
    }

    /// Closes the WebRTC link to `peer` (40 hex digits). The ring opens it
    /// again, signaled through the ring, when its tables need it. Returns
    /// whether there was such a link.
    #[wasm_bindgen(js_name = closeLink)]
    pub fn close_link(&self, peer: &str) -> Result<bool, JsValue> {
        let id = Id::from_hex(peer).map_err(|_| js_error("invalid", "closeLink needs a peer id of 40 hex digits"))?;
        Ok(self.core.borrow_mut().close_link(&id))
    }

    /// Leaves the ring gracefully: hands every value this tab holds to its
    /// successors, waits (up to 2 s) until the data channels have sent it,
    /// then closes every link and the signaling connection. A peer that is
    /// not in a ring at the moment just closes everything.
    ///
    /// The notices and values are handed to the data channels before this
    /// returns, not in the promise's first step: a closing tab cannot wait
    /// for the promise. Call it from `beforeunload` (and `pagehide`, for what
    /// has no `beforeunload`): Firefox sends what a closing tab queued in
    /// `beforeunload`, but only now and then what it queued in `pagehide`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn leave(&self) -> Promise {
        self.core.borrow_mut().leave();
        let core = self.core.clone();
        future_to_promise(async move {
            let deadline = now() + 2_000;
            while core.borrow().buffered() > 0 && now() < deadline {
                gloo_timers::future::TimeoutFuture::new(20).await;
            }
            core.borrow_mut().stop();
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Turns a started request into a promise of its answer.
    fn answer(&self, started: Result<Answer, Failure>) -> Promise {
        future_to_promise(answer(self.tx.clone(), started))
    }
}

/// The answer to a started request.
async fn answer(tx: mpsc::UnboundedSender<Input>, started: Result<Answer, Failure>) -> Result<JsValue, JsValue> {
    // The driver recomputes its next wake-up: the request armed timers.
    let _ = tx.unbounded_send(Input::Wake);
    let rx = started.map_err(|e| js_error(e.code, &capitalize(&e.message)))?;
    match rx.await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(js_error(e.code, &capitalize(&e.message))),
        Err(_) => Err(js_error("left", "This peer has left the ring")),
    }
}

/// An `Error` with `message` and a machine-readable `code` (one of `codes.rs`).
fn js_error(code: &str, message: &str) -> JsValue {
    let e = JsValue::from(JsError::new(message));
    let _ = js_sys::Reflect::set(&e, &"code".into(), &code.into());
    e
}

/// A random id and seed from the browser's cryptographic generator.
fn fresh_identity() -> Result<(Id, u64), String> {
    let crypto = web_sys::window().ok_or("no window")?.crypto().map_err(|_| "this browser has no crypto.getRandomValues")?;
    let mut bytes = [0u8; 28];
    crypto.get_random_values_with_u8_array(&mut bytes).map_err(|_| "crypto.getRandomValues failed")?;
    let mut id = [0u8; 20];
    id.copy_from_slice(&bytes[..20]);
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&bytes[20..]);
    Ok((Id(id), u64::from_le_bytes(seed)))
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
