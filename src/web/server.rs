//! The WebSocket to the signaling server (bootstrap introductions only).
//!
//! Messages are the JSON of [`crate::signal`]: serialized with
//! `serde-wasm-bindgen` + `JSON.stringify`, parsed with `JSON.parse` +
//! `serde-wasm-bindgen`, so no JSON library ships in the bundle. Everything
//! received is checked against the protocol's limits before use.

use super::input::{Input, ServerEvent, SocketTag};
use super::js::js_message;
use crate::signal::{ClientMsg, ServerMsg, MAX_FRAME_BYTES};
use futures::channel::mpsc::UnboundedSender;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// An open (or opening) signaling socket. Dropping it closes the socket and
/// detaches every callback.
pub struct ServerConn {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl ServerConn {
    /// Opens a socket to `url`; its events go to `tx`, tagged with `tag`.
    pub fn open(url: &str, tx: UnboundedSender<Input>, tag: SocketTag) -> Result<ServerConn, String> {
        let ws = WebSocket::new(url).map_err(|e| format!("cannot open the signaling connection to {url}: {}", js_message(&e)))?;
        let send = move |ev: ServerEvent| {
            let _ = tx.unbounded_send(Input::Server(tag, ev));
        };
        let on_open = {
            let send = send.clone();
            Closure::<dyn FnMut()>::new(move || send(ServerEvent::Opened))
        };
        let on_message = {
            let send = send.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| match e.data().as_string() {
                Some(text) => send(ServerEvent::Message(parse(&text))),
                None => send(ServerEvent::Message(Err("the server sent a binary frame".into()))),
            })
        };
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| send(ServerEvent::Closed(e.reason())));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(ServerConn { ws, _on_open: on_open, _on_message: on_message, _on_close: on_close })
    }

    /// Sends one message; a socket that is not open drops it (the peer was
    /// told the server is closed, or will be).
    pub fn send(&self, msg: &ClientMsg) {
        if self.ws.ready_state() != WebSocket::OPEN {
            return;
        }
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        if let Ok(v) = serde::Serialize::serialize(msg, &serializer) {
            if let Ok(text) = js_sys::JSON::stringify(&v) {
                let _ = self.ws.send_with_str(&String::from(text));
            }
        }
    }
}

impl Drop for ServerConn {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

/// Parses and validates one server frame.
fn parse(text: &str) -> Result<ServerMsg, String> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(format!("the server sent a frame of {} bytes", text.len()));
    }
    let v = js_sys::JSON::parse(text).map_err(|_| "the server sent invalid JSON".to_string())?;
    let msg: ServerMsg = serde_wasm_bindgen::from_value(v).map_err(|e| format!("the server sent an unknown message: {e}"))?;
    msg.validate().map_err(|e| e.to_string())?;
    Ok(msg)
}
