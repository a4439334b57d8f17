//! The driver's side of the tab's blob store: it carries out the peer's blob
//! commands (chunk reads and writes answered through the driver's channel),
//! saves held records, answers blob gets with a `Blob` of their stored chunks,
//! and reports progress. A child of the driver, so it reads `Core` directly.

use super::{Answer, Core, Failure, Reply};
use crate::id::Id;
use crate::message::ReqId;
use crate::peer::{BlobCommand, Phase};
use crate::store::Blob;
use crate::transfer::Sink;
use crate::web::files::{TransferOptions, NO_STORAGE};
use crate::web::input::Input;
use crate::web::js::now;
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;

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
    pub fn put_blob(&mut self, blob: Blob, opts: TransferOptions) -> Result<Answer, Failure> {
        let now = now();
        let name = blob.name.clone();
        let meta = Some((blob.size, blob.digest));
        let started = self.peer.put_blob_for(now, blob, opts.durability);
        self.track(now, "store", name, started, opts, meta)
    }
}
