//! Files in the tab, on the JavaScript side of the driver: the put pipeline
//! (hash, then store the chunks in IndexedDB), transfer options (progress
//! callbacks, durability) and cancelling with an `AbortSignal`. The driver
//! carries out the peer's blob commands (`driver/blobs.rs`); this module
//! does not know the driver.

use super::blobstore::BlobStore;
use super::input::Input;
use super::js::{js_message, to_js};
use crate::id::Id;
use crate::message::ReqId;
use crate::store::Blob;
use crate::transfer::{chunk_count, CHUNK_BYTES};
use futures::channel::mpsc::UnboundedSender;
use js_sys::{Array, Function, Reflect, Uint8Array};
use serde::Serialize;
use sha1::{Digest, Sha1};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, AddEventListenerOptions};

/// Why blob bytes cannot be stored or fetched here.
pub(super) const NO_STORAGE: &str = "this browser gives the page no storage (IndexedDB)";

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
    held: impl Fn(&Id) -> bool,
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
    if !held(&digest) {
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
