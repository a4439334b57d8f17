//! One WebRTC link: an `RTCPeerConnection` with one data channel.
//!
//! The channel is pre-negotiated (`negotiated: true, id: 0`) on both sides,
//! so its `onmessage` is set before the connection exists and no early
//! message can be lost, and no `ondatachannel` round is needed.
//!
//! ICE trickles: the description is reported as soon as it is set, and each
//! candidate as the browser gathers it (then `None` for the end of
//! gathering), so a STUN or TURN server that never answers delays nothing.
//! Negotiation steps run one after another on one task per link ([`Op`]),
//! so a remote candidate is never added before the remote description it
//! belongs to. While the link lives, a second task reads the selected
//! candidate pair from `getStats()` (which path, and its round-trip time).

use super::input::{RtcEvent, RtcSink};
use super::js::{js_message, to_js};
use crate::ice::{Candidate, CandidateKind, IceConfig, IcePolicy, PathInfo};
use crate::link::Connectivity;
use futures::channel::mpsc::{self, UnboundedReceiver, UnboundedSender};
use futures::StreamExt;
use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelInit, RtcDataChannelState, RtcDataChannelType, RtcIceCandidateInit,
    RtcIceTransportPolicy, RtcOfferOptions, RtcPeerConnection, RtcPeerConnectionIceEvent, RtcPeerConnectionState, RtcSdpType,
    RtcSessionDescriptionInit,
};

/// A negotiation step, run in order on the link's task.
enum Op {
    /// Make an offer, or answer this one.
    Negotiate(Option<String>),
    /// Apply the remote answer (to an offer or a restart).
    SetAnswer(String),
    /// Add a remote candidate.
    AddCandidate(Candidate),
    /// Make an ICE-restart offer, or answer this restart offer.
    Restart(Option<String>),
    /// Use new ICE servers from now on.
    Configure(IceConfig),
}

/// How often the connection state is looked at once the selected pair is
/// known (a cheap getter); `getStats()` is read again only after the
/// connection was not `connected` (an ICE restart may have changed the
/// path), or every `PATH_REFRESH_MS` for the round-trip time. `getStats()`
/// builds a report of every stats object: 32 tabs with about 25 links each,
/// each read every 2 s, would be 400 reports a second.
const PATH_POLL_MS: u32 = 2_000;
/// How often the selected pair is read before it is known.
const PATH_POLL_FIRST_MS: u32 = 250;
/// How often a known path is read again anyway (its round-trip time).
const PATH_REFRESH_MS: u32 = 30_000;

/// A peer connection and its data channel. Dropping it closes both,
/// detaches every callback and ends its tasks.
pub struct RtcLink {
    pc: RtcPeerConnection,
    dc: RtcDataChannel,
    ops: UnboundedSender<Op>,
    alive: Rc<Cell<bool>>,
    _on_open: Closure<dyn FnMut()>,
    _on_close: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_candidate: Closure<dyn FnMut(RtcPeerConnectionIceEvent)>,
    _on_state: Closure<dyn FnMut()>,
    _on_drained: Closure<dyn FnMut()>,
}

/// `bufferedamountlow` fires when the send buffer falls to this (the driver
/// holds frames back above `BUFFER_HIGH_BYTES`).
const BUFFER_LOW_BYTES: u32 = 256 * 1024;

/// The `RTCConfiguration` for `ice`.
fn configuration(ice: &IceConfig) -> Result<RtcConfiguration, JsValue> {
    let config = RtcConfiguration::new();
    if !ice.servers.is_empty() {
        let servers = to_js(&ice.servers).map_err(|e| JsValue::from_str(&e))?;
        config.set_ice_servers(&servers);
    }
    config.set_ice_transport_policy(match ice.policy {
        IcePolicy::All => RtcIceTransportPolicy::All,
        IcePolicy::Relay => RtcIceTransportPolicy::Relay,
    });
    Ok(config)
}

impl RtcLink {
    /// Creates the connection and starts negotiating: an answer to
    /// `remote_offer`, or an offer. Events go to `sink`.
    pub fn new(sink: RtcSink, remote_offer: Option<String>, ice: &IceConfig) -> Result<RtcLink, JsValue> {
        let pc = RtcPeerConnection::new_with_configuration(&configuration(ice)?)?;
        let init = RtcDataChannelInit::new();
        init.set_negotiated(true);
        init.set_id(0);
        init.set_ordered(true);
        let dc = pc.create_data_channel_with_data_channel_dict("chord", &init);
        dc.set_binary_type(RtcDataChannelType::Arraybuffer);

        let send = move |ev: RtcEvent| sink.send(ev);
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
        let on_candidate = {
            let send = send.clone();
            Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(move |e: RtcPeerConnectionIceEvent| {
                // `null` (or an empty line, in older browsers) ends gathering.
                let c = e.candidate().map(|c| Candidate {
                    candidate: c.candidate(),
                    sdp_mid: c.sdp_mid(),
                    sdp_m_line_index: c.sdp_m_line_index(),
                });
                send(RtcEvent::Candidate(c.filter(|c| !c.is_end())));
            })
        };
        let on_state = {
            let send = send.clone();
            let pc = pc.clone();
            Closure::<dyn FnMut()>::new(move || match pc.connection_state() {
                RtcPeerConnectionState::Connected => send(RtcEvent::Connectivity(Connectivity::Connected)),
                RtcPeerConnectionState::Disconnected => send(RtcEvent::Connectivity(Connectivity::Disconnected)),
                RtcPeerConnectionState::Failed => send(RtcEvent::Connectivity(Connectivity::Failed)),
                RtcPeerConnectionState::Closed => send(RtcEvent::Closed),
                _ => {}
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
        pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
        pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));

        let (ops, rx) = mpsc::unbounded();
        let alive = Rc::new(Cell::new(true));
        wasm_bindgen_futures::spawn_local(run_ops(pc.clone(), rx, send.clone()));
        wasm_bindgen_futures::spawn_local(watch_path(pc.clone(), alive.clone(), send));
        let _ = ops.unbounded_send(Op::Negotiate(remote_offer));
        Ok(RtcLink {
            pc,
            dc,
            ops,
            alive,
            _on_open: on_open,
            _on_close: on_close,
            _on_message: on_message,
            _on_candidate: on_candidate,
            _on_state: on_state,
            _on_drained: on_drained,
        })
    }

    /// The local description as it stands (with the candidates gathered so far).
    pub fn local_sdp(&self) -> Option<String> {
        self.pc.local_description().map(|d| d.sdp())
    }

    /// Applies the remote answer (offering side).
    pub fn set_answer(&self, sdp: String) {
        let _ = self.ops.unbounded_send(Op::SetAnswer(sdp));
    }

    /// Adds a candidate the other side trickled.
    pub fn add_candidate(&self, c: Candidate) {
        let _ = self.ops.unbounded_send(Op::AddCandidate(c));
    }

    /// Restarts ICE: makes a restart offer, or answers `remote_offer`.
    pub fn restart(&self, remote_offer: Option<String>) {
        let _ = self.ops.unbounded_send(Op::Restart(remote_offer));
    }

    /// Uses `ice` from now on (fresh TURN credentials for later restarts).
    pub fn configure(&self, ice: IceConfig) {
        let _ = self.ops.unbounded_send(Op::Configure(ice));
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
        self.alive.set(false);
        self.dc.set_onopen(None);
        self.dc.set_onclose(None);
        self.dc.set_onmessage(None);
        self.dc.set_onbufferedamountlow(None);
        self.pc.set_onicecandidate(None);
        self.pc.set_onconnectionstatechange(None);
        self.dc.close();
        self.pc.close();
    }
}

/// Runs the link's negotiation steps in order until the link is dropped.
async fn run_ops(pc: RtcPeerConnection, mut rx: UnboundedReceiver<Op>, send: impl Fn(RtcEvent)) {
    while let Some(op) = rx.next().await {
        let result: Result<(), JsValue> = async {
            match op {
                Op::Negotiate(remote) => send(RtcEvent::Described(describe(&pc, remote, false).await?)),
                Op::Restart(remote) => {
                    send(RtcEvent::Described(describe(&pc, remote, true).await?));
                    // The side answering a restart may never have lost its
                    // path: its state stays `connected` and fires no change.
                    if pc.connection_state() == RtcPeerConnectionState::Connected {
                        send(RtcEvent::Connectivity(Connectivity::Connected));
                    }
                }
                Op::SetAnswer(sdp) => {
                    let d = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
                    d.set_sdp(&sdp);
                    JsFuture::from(pc.set_remote_description(&d)).await?;
                }
                Op::AddCandidate(c) => {
                    let init = RtcIceCandidateInit::new(&c.candidate);
                    init.set_sdp_mid(c.sdp_mid.as_deref());
                    init.set_sdp_m_line_index(c.sdp_m_line_index);
                    // A candidate the browser cannot use (an mDNS name it cannot
                    // resolve, a stale generation) costs only itself.
                    if let Err(e) = JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init))).await {
                        web_sys::console::debug_1(&format!("chord: remote candidate not added: {}", js_message(&e)).into());
                    }
                }
                Op::Configure(_) if pc.connection_state() == RtcPeerConnectionState::Closed => {}
                Op::Configure(ice) => {
                    // Only later restarts use it: a browser that refuses the
                    // change keeps the link on its first configuration.
                    if let Err(e) = configuration(&ice).and_then(|c| pc.set_configuration_with_configuration(&c)) {
                        web_sys::console::warn_1(&format!("chord: new ICE servers not applied to a link: {}", js_message(&e)).into());
                    }
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            send(RtcEvent::Failed(js_message(&e)));
        }
    }
}

/// Sets the remote offer (if any), creates the offer or answer (an ICE
/// restart offer with `restart`), sets it locally and returns its SDP.
async fn describe(pc: &RtcPeerConnection, remote_offer: Option<String>, restart: bool) -> Result<String, JsValue> {
    let local = match remote_offer {
        Some(offer) => {
            let d = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
            d.set_sdp(&offer);
            JsFuture::from(pc.set_remote_description(&d)).await?;
            JsFuture::from(pc.create_answer()).await?
        }
        None if restart => {
            let opts = RtcOfferOptions::new();
            opts.set_ice_restart(true);
            JsFuture::from(pc.create_offer_with_rtc_offer_options(&opts)).await?
        }
        None => JsFuture::from(pc.create_offer()).await?,
    };
    JsFuture::from(pc.set_local_description(local.unchecked_ref())).await?;
    Ok(pc.local_description().map(|d| d.sdp()).unwrap_or_default())
}

/// Reads the selected candidate pair while the link lives, and reports it when it changes.
async fn watch_path(pc: RtcPeerConnection, alive: Rc<Cell<bool>>, send: impl Fn(RtcEvent)) {
    let mut last: Option<PathInfo> = None;
    // Since the pair was last read: whether the connection was seen not
    // connected, and how long ago it was read.
    let mut interrupted = false;
    let mut since_read = 0;
    loop {
        let wait = if last.is_some() { PATH_POLL_MS } else { PATH_POLL_FIRST_MS };
        gloo_timers::future::TimeoutFuture::new(wait).await;
        if !alive.get() {
            return;
        }
        since_read += wait;
        if pc.connection_state() != RtcPeerConnectionState::Connected {
            interrupted = true;
            continue;
        }
        if last.is_some() && !interrupted && since_read < PATH_REFRESH_MS {
            continue;
        }
        let Ok(report) = JsFuture::from(pc.get_stats()).await else { continue };
        (interrupted, since_read) = (false, 0);
        let path = selected_path(&report);
        if path.is_some() && path != last && alive.get() {
            last = path;
            if let Some(p) = path {
                send(RtcEvent::Path(p));
            }
        }
    }
}

/// The selected pair of a `getStats()` report: Chromium names it in the
/// transport's `selectedCandidatePairId`, Firefox marks the pair `selected`.
fn selected_path(report: &JsValue) -> Option<PathInfo> {
    let map: &js_sys::Map = report.unchecked_ref();
    let field = |v: &JsValue, name: &str| Reflect::get(v, &name.into()).ok().filter(|x| !x.is_undefined() && !x.is_null());
    let mut pair_id = None;
    let mut selected_pair = None;
    map.for_each(&mut |value, _key| match field(&value, "type").and_then(|t| t.as_string()).as_deref() {
        Some("transport") => {
            if let Some(id) = field(&value, "selectedCandidatePairId").and_then(|x| x.as_string()) {
                pair_id = Some(id);
            }
        }
        Some("candidate-pair") if field(&value, "selected").and_then(|x| x.as_bool()) == Some(true) => {
            selected_pair = Some(value.clone());
        }
        _ => {}
    });
    let pair = match pair_id {
        Some(id) => Some(map.get(&id.into())).filter(|p| !p.is_undefined()),
        None => selected_pair,
    }?;
    let kind = |id_field: &str| -> Option<CandidateKind> {
        let id = field(&pair, id_field)?;
        let cand = map.get(&id);
        CandidateKind::parse(&field(&cand, "candidateType")?.as_string()?)
    };
    let rtt_ms = field(&pair, "currentRoundTripTime").and_then(|x| x.as_f64()).map(|s| (s * 1000.0).round() as u32);
    Some(PathInfo { local: kind("localCandidateId")?, remote: kind("remoteCandidateId")?, rtt_ms })
}
