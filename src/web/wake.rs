//! The peer's one timer, kept in a dedicated worker.
//!
//! Chromium throttles timers of hidden pages (to once a second, and after a
//! few minutes to once a minute), which would make a background tab miss its
//! stabilize and check-predecessor rounds and drop out of the ring. Timers in
//! a dedicated worker are not throttled that way, and a worker's messages
//! reach the hidden page at once, so the driver asks a tiny worker to wake it
//! up. Where workers cannot be created (a page whose CSP forbids `blob:`
//! workers), it falls back to the page's own `setTimeout`.

use super::input::Input;
use super::js::js_message;
use futures::channel::mpsc::UnboundedSender;
use gloo_timers::callback::Timeout;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, MessageEvent, Url, Worker};

/// The worker: each message `[seq, ms]` replaces the pending timer, which
/// posts `seq` back when it fires.
const WORKER_JS: &str = "let t=null;onmessage=(e)=>{clearTimeout(t);const[s,ms]=e.data;t=setTimeout(()=>postMessage(s),ms);};";

/// Wakes the driver with [`Input::Wake`] at the requested time.
pub struct Wake {
    backend: Backend,
    tx: UnboundedSender<Input>,
    seq: u32,
}

enum Backend {
    Worker { worker: Worker, url: String, _on_message: Closure<dyn FnMut(MessageEvent)> },
    Page(Option<Timeout>),
}

impl Wake {
    /// A waker posting into `tx`; a worker if possible, else page timers.
    pub fn new(tx: UnboundedSender<Input>) -> Wake {
        let backend = match start_worker(tx.clone()) {
            Ok(b) => b,
            Err(e) => {
                web_sys::console::warn_1(
                    &format!("chord: no worker for timers ({}); using page timers, which hidden tabs throttle", js_message(&e)).into(),
                );
                Backend::Page(None)
            }
        };
        Wake { backend, tx, seq: 0 }
    }

    /// Whether the timer runs in a worker (so hidden tabs keep their pace).
    pub fn in_worker(&self) -> bool {
        matches!(self.backend, Backend::Worker { .. })
    }

    /// Wakes the driver once, `ms` from now, replacing any earlier request.
    pub fn arm(&mut self, ms: u64) {
        self.seq = self.seq.wrapping_add(1);
        let ms = ms.min(i32::MAX as u64) as u32;
        match &mut self.backend {
            Backend::Worker { worker, .. } => {
                let msg = js_sys::Array::of2(&self.seq.into(), &ms.into());
                if worker.post_message(&msg).is_err() {
                    let _ = self.tx.unbounded_send(Input::Wake);
                }
            }
            Backend::Page(t) => {
                let tx = self.tx.clone();
                // Replacing the old Timeout cancels it.
                *t = Some(Timeout::new(ms, move || {
                    let _ = tx.unbounded_send(Input::Wake);
                }));
            }
        }
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        if let Backend::Worker { worker, url, .. } = &self.backend {
            worker.set_onmessage(None);
            worker.terminate();
            let _ = Url::revoke_object_url(url);
        }
    }
}

fn start_worker(tx: UnboundedSender<Input>) -> Result<Backend, JsValue> {
    let parts = js_sys::Array::of1(&WORKER_JS.into());
    let bag = BlobPropertyBag::new();
    bag.set_type("text/javascript");
    let blob = Blob::new_with_str_sequence_and_options(&parts, &bag)?;
    let url = Url::create_object_url_with_blob(&blob)?;
    let worker = Worker::new(&url)?;
    // Only the latest request matters, and the driver handles due timers on
    // any input, so every tick is just a wake-up.
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |_e: MessageEvent| {
        let _ = tx.unbounded_send(Input::Wake);
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    Ok(Backend::Worker { worker, url, _on_message: on_message })
}
