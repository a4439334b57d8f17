//! Files in the tab: the put pipeline (hash, then store the chunks in
//! IndexedDB), carrying out the peer's blob commands, progress callbacks and
//! cancelling with an `AbortSignal`.

use super::blobstore::BlobStore;
use super::driver::{Core, Failure, Reply};
use super::input::Input;
use super::js::{js_message, now, to_js};
use crate::id::Id;
use crate::message::ReqId;
use crate::peer::{BlobCommand, Phase};
use crate::store::Blob;
use crate::transfer::{chunk_count, Sink, CHUNK_BYTES};
use futures::channel::mpsc::UnboundedSender;
use js_sys::{Array, Function, Reflect, Uint8Array};
use serde::Serialize;
use sha1::{Digest, Sha1};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, AddEventListenerOptions};

/// Why blob bytes cannot be stored or fetched here.
const NO_STORAGE: &str = "this browser gives the page no storage (IndexedDB)";

/// Values up to this size ride the lookup path inline; larger ones are blobs.
pub const INLINE_MAX_BYTES: u64 = 16 * 1024;

/// `{ onProgress, signal, durability }` of `put` and `get`.
#[derive(Clone, Default)]
pub struct TransferOptions {
    /// Called with `{ phase, done, total }`.
    pub on_progress: Option<Function>,
    /// Aborting it cancels the transfer.
    pub signal: Option<AbortSignal>,
    /// `put` of a file over 16 KiB: resolve once this many tabs hold the
    /// bytes (default: the ring's replication factor).
    pub durability: Option<u8>,
}

impl TransferOptions {
    /// Reads the options object (`undefined` is fine).
    pub fn from_js(v: &JsValue) -> Result<TransferOptions, String> {
        if v.is_undefined() || v.is_null() {
            return Ok(TransferOptions::default());
        }
        if !v.is_object() {
            return Err("the options must be an object like { onProgress, signal, durability }".into());
        }
        let get = |k: &str| Reflect::get(v, &k.into()).ok().filter(|x| !x.is_undefined() && !x.is_null());
        let on_progress = match get("onProgress") {
            None => None,
            Some(f) => Some(f.dyn_into::<Function>().map_err(|_| "options.onProgress must be a function".to_string())?),
        };
        let signal = match get("signal") {
            None => None,
            Some(s) => Some(s.dyn_into::<AbortSignal>().map_err(|_| "options.signal must be an AbortSignal".to_string())?),
        };
        let durability = match get("durability") {
            None => None,
            Some(d) => match d.as_f64() {
                Some(n) if n.fract() == 0.0 && (1.0..=16.0).contains(&n) => Some(n as u8),
                _ => return Err("options.durability must be a whole number of tabs from 1 to 16".into()),
            },
        };
        Ok(TransferOptions { on_progress, signal, durability })
    }

    /// Whether the caller aborted.
    pub fn aborted(&self) -> bool {
        self.signal.as_ref().is_some_and(|s| s.aborted())
    }

    /// Reports progress to the caller, from a fresh task (the callback may call the peer).
    pub fn progress(&self, phase: &'static str, done: u64, total: u64) {
        #[derive(Serialize)]
        struct P {
            phase: &'static str,
            done: u64,
            total: u64,
        }
        if let (Some(f), Ok(v)) = (self.on_progress.clone(), to_js(&P { phase, done, total })) {
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = f.call1(&JsValue::NULL, &v) {
                    web_sys::console::error_2(&"chord: onProgress threw".into(), &e);
                }
            });
        }
    }
}

/// Cancels request `req` when the signal aborts; removes its listener when dropped.
pub struct AbortHook {
    signal: AbortSignal,
    closure: Closure<dyn FnMut()>,
}

impl AbortHook {
    /// Listens on `signal` for request `req`.
    pub fn new(signal: &AbortSignal, req: ReqId, tx: UnboundedSender<Input>) -> Option<AbortHook> {
        let closure = Closure::<dyn FnMut()>::new(move || {
            let _ = tx.unbounded_send(Input::Cancel(req));
        });
        let opts = AddEventListenerOptions::new();
        opts.set_once(true);
        signal.add_event_listener_with_callback_and_add_event_listener_options("abort", closure.as_ref().unchecked_ref(), &opts).ok()?;
        Some(AbortHook { signal: signal.clone(), closure })
    }
}

impl Drop for AbortHook {
    fn drop(&mut self) {
        let _ = self.signal.remove_event_listener_with_callback("abort", self.closure.as_ref().unchecked_ref());
    }
}

/// The message of a cancelled request.
pub fn cancelled(verb: &str, name: &str) -> String {
    format!("Cancelled: the {verb} of \"{name}\" was stopped")
}

/// What `put` accepts, as a `Blob`: a `Blob`/`File`, a `Uint8Array` (or any
/// `ArrayBufferView`/`ArrayBuffer`) or a string (stored as UTF-8).
pub fn to_blob(data: &JsValue) -> Result<web_sys::Blob, String> {
    if let Some(b) = data.dyn_ref::<web_sys::Blob>() {
        return Ok(b.clone());
    }
    let ok = data.is_string() || data.is_instance_of::<js_sys::ArrayBuffer>() || js_sys::ArrayBuffer::is_view(data);
    if !ok {
        return Err("put needs the data as a Blob, a File, a Uint8Array, an ArrayBuffer or a string".into());
    }
    web_sys::Blob::new_with_u8_array_sequence(&Array::of1(data)).map_err(|_| "the data could not be read".to_string())
}

/// Reads bytes `start..end` of `blob` (a JS array; not copied into wasm memory).
pub async fn read_slice(blob: &web_sys::Blob, start: u64, end: u64) -> Result<Uint8Array, String> {
    let part = blob.slice_with_f64_and_f64(start as f64, end as f64).map_err(|_| "the file could not be read".to_string())?;
    let buf = JsFuture::from(part.array_buffer()).await.map_err(|e| format!("the file could not be read: {}", js_message(&e)))?;
    Ok(Uint8Array::new(&buf))
}

/// Hashes `blob` and stores its chunks in `store` (skipped if the tab holds
/// it already), reporting `storing` progress. Returns its [`Blob`] manifest.
pub async fn store_file(
    core: &Rc<RefCell<Core>>,
    store: &BlobStore,
    name: &str,
    file: &web_sys::Blob,
    opts: &TransferOptions,
) -> Result<Blob, String> {
    let size = file.size() as u64;
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; CHUNK_BYTES as usize];
    let mut last = 0.0;
    let tick = |done: u64, last: &mut f64| {
        // At most ~100 callbacks per pass.
        let frac = done as f64 / (2 * size) as f64;
        if frac - *last >= 0.01 || done == 2 * size {
            *last = frac;
            opts.progress("storing", done.min(2 * size) / 2, size);
        }
    };
    for i in 0..chunk_count(size) {
        if opts.aborted() {
            return Err(cancelled("put", name));
        }
        let (s, e) = (i as u64 * CHUNK_BYTES as u64, ((i as u64 + 1) * CHUNK_BYTES as u64).min(size));
        let part = read_slice(file, s, e).await?;
        let n = (e - s) as usize;
        part.copy_to(&mut buf[..n]);
        hasher.update(&buf[..n]);
        tick(e, &mut last);
    }
    let digest = Id(hasher.finalize().into());
    let blob = Blob { key: Id::key_of(name), name: name.to_string(), size, digest };
    if !core.borrow().peer.holds_blob(&digest) {
        for i in 0..chunk_count(size) {
            if opts.aborted() {
                let _ = store.delete_blob(&digest).await;
                return Err(cancelled("put", name));
            }
            let (s, e) = (i as u64 * CHUNK_BYTES as u64, ((i as u64 + 1) * CHUNK_BYTES as u64).min(size));
            let part = read_slice(file, s, e).await?;
            if let Err(err) = store.put_chunk(&digest, i, &part).await {
                let _ = store.delete_blob(&digest).await;
                return Err(err);
            }
            tick(size + e, &mut last);
        }
        store.mark_complete(&digest, size).await?;
    }
    opts.progress("storing", size, size);
    Ok(blob)
}

impl Core {
    /// Carries out one blob command; reads and writes answer through the driver's channel.
    pub(super) fn blob_command(&mut self, cmd: BlobCommand) {
        let tx = self.tx.clone();
        let store = self.store.clone();
        match cmd {
            BlobCommand::Read { to, pull, digest, index } => wasm_bindgen_futures::spawn_local(async move {
                let bytes = match store {
                    Some(s) => s.get_chunk(&digest, index).await,
                    None => None,
                };
                let _ = tx.unbounded_send(Input::BlobRead { to, pull, index, bytes });
            }),
            BlobCommand::Write { pull, sink: Sink::Caller(req), index, bytes, .. } => {
                // Into the store as it arrives, not into JS memory (blobstore.js).
                let put = store.map(|s| s.put_get_chunk(req, index, &bytes));
                wasm_bindgen_futures::spawn_local(async move {
                    let result = match put {
                        Some(put) => put.await,
                        None => Err(NO_STORAGE.into()),
                    };
                    let _ = tx.unbounded_send(Input::BlobWritten { pull, index, result });
                })
            }
            BlobCommand::Write { pull, sink: Sink::Store, digest, index, bytes } => {
                let arr = Uint8Array::from(bytes.as_slice());
                wasm_bindgen_futures::spawn_local(async move {
                    let result = match store {
                        Some(s) => s.put_chunk(&digest, index, &arr).await,
                        None => Err(NO_STORAGE.into()),
                    };
                    let _ = tx.unbounded_send(Input::BlobWritten { pull, index, result });
                })
            }
            BlobCommand::Discard { sink: Sink::Caller(req), .. } => self.drop_get(req),
            BlobCommand::Discard { sink: Sink::Store, digest } | BlobCommand::Delete { digest } => {
                if let Some(s) = store {
                    wasm_bindgen_futures::spawn_local(async move {
                        if let Err(e) = s.delete_blob(&digest).await {
                            web_sys::console::warn_1(&format!("chord: {e}").into());
                        }
                    });
                }
            }
            BlobCommand::Complete { digest, size } => {
                if let Some(s) = store {
                    wasm_bindgen_futures::spawn_local(async move {
                        if let Err(e) = s.mark_complete(&digest, size).await {
                            web_sys::console::warn_1(&format!("chord: {e}").into());
                        }
                    });
                }
            }
        }
    }

    /// Saves or deletes a record in the tab's store, in the order they happen.
    pub(super) fn persist(&self, record: Option<&crate::Record>, key: Id) {
        let Some(store) = self.store.clone() else { return };
        let record = record.cloned();
        wasm_bindgen_futures::spawn_local(async move {
            let r = match record {
                Some(r) => store.put_record(&r).await,
                None => store.delete_record(&key).await,
            };
            if let Err(e) = r {
                web_sys::console::warn_1(&format!("chord: could not save the values this tab holds: {e}").into());
            }
        });
    }

    /// Answers blob get `req` with one `Blob` of its `count` stored chunks
    /// (which leave the store: the `Blob` holds them now).
    pub(super) fn answer_get(&self, req: ReqId, count: u32, reply: Reply) {
        let store = self.store.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let blob = match store {
                Some(s) => s.take_get(req, count).await,
                None => Err(NO_STORAGE.into()),
            };
            let _ = reply.send(blob.map(JsValue::from).map_err(Failure::from));
        });
    }

    /// Deletes what blob get `req` stored so far (it failed, was cancelled, or its holder was bad).
    pub(super) fn drop_get(&self, req: ReqId) {
        if let Some(s) = self.store.clone() {
            wasm_bindgen_futures::spawn_local(async move { s.drop_get(req).await });
        }
    }

    /// Progress of a request, to its caller.
    pub(super) fn on_progress(&self, req: ReqId, phase: Phase, done: u64, total: u64) {
        if let Some(p) = self.requests.get(&req) {
            let phase = match phase {
                Phase::Sending => "sending",
                Phase::Receiving => "receiving",
            };
            p.opts.progress(phase, done, total);
        }
    }

    /// Starts a blob put whose bytes are stored; the reply comes with `PutDone`.
    pub fn put_blob(&mut self, blob: Blob, opts: TransferOptions) -> Result<super::driver::Answer, super::driver::Failure> {
        let now = now();
        let name = blob.name.clone();
        let meta = Some((blob.size, blob.digest));
        let started = self.peer.put_blob_for(now, blob, opts.durability);
        self.track(now, "store", name, started, opts, meta)
    }
}
