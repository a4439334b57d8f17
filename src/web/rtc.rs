//! One WebRTC link: an `RTCPeerConnection` with one data channel.
//!
//! The channel is pre-negotiated (`negotiated: true, id: 0`) on both sides,
//! so its `onmessage` is set before the connection exists and no early
//! message can be lost, and no `ondatachannel` round is needed. ICE is not
//! trickled: the description is reported once gathering is complete (host
//! candidates only, so that takes milliseconds), which keeps ring signaling
//! to one offer and one answer.

use super::driver::{Input, RtcEvent};
use crate::link::LinkId;
use futures::channel::mpsc::UnboundedSender;
use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelInit, RtcDataChannelState, RtcDataChannelType,
    RtcIceGatheringState, RtcPeerConnection, RtcPeerConnectionState, RtcSdpType, RtcSessionDescriptionInit,
};

/// How long to wait for ICE gathering before sending what was gathered.
const GATHER_TIMEOUT_MS: u32 = 3_000;

/// A peer connection and its data channel. Dropping it closes both and
/// detaches every callback.
pub struct RtcLink {
    pc: RtcPeerConnection,
    dc: RtcDataChannel,
    /// Whether the local description was reported already.
    pub described: bool,
    _on_open: Closure<dyn FnMut()>,
    _on_close: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_gathering: Closure<dyn FnMut()>,
    _on_state: Closure<dyn FnMut()>,
    _on_drained: Closure<dyn FnMut()>,
}

/// `bufferedamountlow` fires when the send buffer falls to this (the driver
/// holds frames back above `BUFFER_HIGH_BYTES`).
const BUFFER_LOW_BYTES: u32 = 256 * 1024;

impl RtcLink {
    /// Creates the connection and starts negotiating: an answer to
    /// `remote_offer`, or an offer. Events go to `tx` tagged with `link`.
    pub fn new(link: LinkId, tx: UnboundedSender<Input>, remote_offer: Option<String>) -> Result<RtcLink, JsValue> {
        // No ICE servers: host candidates only (no STUN/TURN exists here).
        let pc = RtcPeerConnection::new_with_configuration(&RtcConfiguration::new())?;
        let init = RtcDataChannelInit::new();
        init.set_negotiated(true);
        init.set_id(0);
        init.set_ordered(true);
        let dc = pc.create_data_channel_with_data_channel_dict("chord", &init);
        dc.set_binary_type(RtcDataChannelType::Arraybuffer);

        let send = move |ev: RtcEvent| {
            // The driver is gone only when the peer was dropped; nothing to tell then.
            let _ = tx.unbounded_send(Input::Rtc { link, ev });
        };
        let on_open = {
            let send = send.clone();
            Closure::<dyn FnMut()>::new(move || send(RtcEvent::Opened))
        };
        let on_close = {
            let send = send.clone();
            Closure::<dyn FnMut()>::new(move || send(RtcEvent::Closed))
        };
        let on_message = {
            let send = send.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                if let Ok(buf) = e.data().dyn_into::<ArrayBuffer>() {
                    send(RtcEvent::Message(Uint8Array::new(&buf).to_vec()));
                }
            })
        };
        let on_gathering = {
            let send = send.clone();
            let pc = pc.clone();
            Closure::<dyn FnMut()>::new(move || {
                if pc.ice_gathering_state() == RtcIceGatheringState::Complete {
                    send(RtcEvent::Gathered);
                }
            })
        };
        let on_state = {
            let send = send.clone();
            let pc = pc.clone();
            Closure::<dyn FnMut()>::new(move || {
                if matches!(pc.connection_state(), RtcPeerConnectionState::Failed | RtcPeerConnectionState::Closed) {
                    send(RtcEvent::Closed);
                }
            })
        };
        let on_drained = {
            let send = send.clone();
            Closure::<dyn FnMut()>::new(move || send(RtcEvent::Drained))
        };
        dc.set_buffered_amount_low_threshold(BUFFER_LOW_BYTES);
        dc.set_onbufferedamountlow(Some(on_drained.as_ref().unchecked_ref()));
        dc.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        dc.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        dc.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        pc.set_onicegatheringstatechange(Some(on_gathering.as_ref().unchecked_ref()));
        pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));

        wasm_bindgen_futures::spawn_local(negotiate(pc.clone(), remote_offer, send));
        Ok(RtcLink {
            pc,
            dc,
            described: false,
            _on_open: on_open,
            _on_close: on_close,
            _on_message: on_message,
            _on_gathering: on_gathering,
            _on_state: on_state,
            _on_drained: on_drained,
        })
    }

    /// The complete local description, once there is one.
    pub fn local_sdp(&self) -> Option<String> {
        self.pc.local_description().map(|d| d.sdp())
    }

    /// Applies the remote answer (offering side).
    pub fn set_answer(&self, sdp: &str, tx: UnboundedSender<Input>, link: LinkId) {
        let d = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        d.set_sdp(sdp);
        let promise = self.pc.set_remote_description(&d);
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = JsFuture::from(promise).await {
                let _ = tx.unbounded_send(Input::Rtc { link, ev: RtcEvent::Failed(js_message(&e)) });
            }
        });
    }

    /// Sends one message. Errors (channel not open, closing) mean the link is gone.
    pub fn send(&self, bytes: &[u8]) -> Result<(), String> {
        if self.dc.ready_state() != RtcDataChannelState::Open {
            return Err("data channel not open".into());
        }
        self.dc.send_with_u8_array(bytes).map_err(|e| js_message(&e))
    }

    /// Bytes queued in the channel and not yet sent.
    pub fn buffered(&self) -> u32 {
        self.dc.buffered_amount()
    }

    /// The SCTP `maxMessageSize` of the connection, when known. web-sys has
    /// no `RTCSctpTransport`, so it is read by reflection.
    pub fn max_message_size(&self) -> Option<f64> {
        let sctp = Reflect::get(&self.pc, &"sctp".into()).ok()?;
        Reflect::get(&sctp, &"maxMessageSize".into()).ok()?.as_f64()
    }
}

impl Drop for RtcLink {
    fn drop(&mut self) {
        self.dc.set_onopen(None);
        self.dc.set_onclose(None);
        self.dc.set_onmessage(None);
        self.dc.set_onbufferedamountlow(None);
        self.pc.set_onicegatheringstatechange(None);
        self.pc.set_onconnectionstatechange(None);
        self.dc.close();
        self.pc.close();
    }
}

/// Creates the offer or answer, sets it locally, and reports when gathering
/// is complete (or after [`GATHER_TIMEOUT_MS`] with what was gathered).
async fn negotiate(pc: RtcPeerConnection, remote_offer: Option<String>, send: impl Fn(RtcEvent)) {
    let result: Result<(), JsValue> = async {
        let local = match remote_offer {
            Some(offer) => {
                let d = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
                d.set_sdp(&offer);
                JsFuture::from(pc.set_remote_description(&d)).await?;
                JsFuture::from(pc.create_answer()).await?
            }
            None => JsFuture::from(pc.create_offer()).await?,
        };
        JsFuture::from(pc.set_local_description(local.unchecked_ref())).await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        send(RtcEvent::Failed(js_message(&e)));
        return;
    }
    if pc.ice_gathering_state() == RtcIceGatheringState::Complete {
        send(RtcEvent::Gathered);
        return;
    }
    gloo_timers::future::TimeoutFuture::new(GATHER_TIMEOUT_MS).await;
    send(RtcEvent::Gathered);
}

/// The message of a JavaScript error value.
pub fn js_message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| e.as_string()).unwrap_or_else(|| format!("{e:?}"))
}
