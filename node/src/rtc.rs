//! The node's WebRTC links: one [`str0m::Rtc`] per link, all on one UDP socket.
//!
//! **Why str0m.** It is sans-IO, like the core: it owns no socket, thread or
//! clock; the driver feeds it datagrams and time and carries out what it
//! returns, so the whole node stays one deterministic loop over one socket
//! (`--listen IP:PORT`, the address a firewall opens). It is mature with
//! browsers (Chromium and Firefox data channels), and with its `rust-crypto`
//! provider it needs no OpenSSL or C toolchain. webrtc-rs gathers
//! server-reflexive and relayed candidates itself, which str0m does not; a
//! native node is meant to run where it has a reachable address (a server),
//! and tabs behind NATs reach that address through their own STUN
//! (server-reflexive) and TURN (relayed) candidates, so the node does not
//! need a TURN client of its own. (A node behind a NAT without a reachable
//! address is the case this choice does not cover: see the README.)
//!
//! Each link has the same pre-negotiated data channel as a tab's
//! (`negotiated: true, id: 0`, label `chord`, ordered, reliable). The node's
//! candidates are host candidates on the socket's addresses, written into its
//! descriptions (no trickling, so `Candidate(None)` follows the description at
//! once). Remote candidates the node cannot use (`.local` mDNS names, TCP)
//! are skipped.
//!
//! Flow control: str0m accepts at most 128 KiB buffered across a link's
//! streams, so the node reports at most [`SEND_LIMIT`] as the link's message
//! limit (the core cuts chunks into parts that fit), and holds transfer frames
//! back while more than [`BULK_HIGH`] is buffered, so Chord frames always find
//! room.

use chord::ice::{Candidate as ChordCandidate, CandidateKind, PathInfo};
use chord::link::{Connectivity, LinkId, MaxMessageSize};
use chord::peer::RtcInput;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

/// The largest message the node sends: half of str0m's 128 KiB send buffer,
/// so a bulk part and control frames fit at once.
pub const SEND_LIMIT: u64 = 64 * 1024;
/// Transfer frames wait while more than this is buffered on the link.
pub const BULK_HIGH: usize = 64 * 1024;
/// Longest pause between ICE checks of an unanswered pair.
const STUN_MAX_RTO: Duration = Duration::from_millis(1000);
/// Unanswered ICE checks before the pair counts as lost.
const STUN_RETRANSMITS: usize = 5;

/// What the links report, for the driver: inputs for the peer, datagrams to send.
#[derive(Debug, Default)]
pub struct Reports {
    /// For the peer, in order.
    pub inputs: Vec<(LinkId, RtcInput)>,
    /// To send: (from, to, bytes).
    pub transmits: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Bytes the node received on data channels.
    pub received: u64,
}

/// One link.
struct Link {
    rtc: Rtc,
    channel: Option<ChannelId>,
    pending: Option<SdpPendingOffer>,
    /// The remote's `a=max-message-size` (SDP default when absent).
    remote_limit: MaxMessageSize,
    open: bool,
    /// Transfer frames held back while the buffer is full.
    bulk: VecDeque<Vec<u8>>,
    /// Control frames the buffer could not take at once (rare).
    control: VecDeque<Vec<u8>>,
    /// Whether ICE is connected (to report changes only).
    connected: bool,
    /// Whether the remote chose a relayed candidate (from its description).
    remote_kinds: Vec<(SocketAddr, CandidateKind)>,
    path_reported: bool,
}

/// Every link of the node.
pub struct RtcLinks {
    /// Host candidate addresses (the socket's).
    local: Vec<SocketAddr>,
    links: BTreeMap<LinkId, Link>,
    /// Bytes sent on data channels.
    pub sent: u64,
}

/// The channel every link carries: the same as a tab's (`src/web/rtc.rs`).
fn channel_config() -> ChannelConfig {
    ChannelConfig { label: "chord".into(), ordered: true, reliability: Reliability::Reliable, negotiated: Some(0), protocol: String::new() }
}

/// The `a=max-message-size` of an SDP, or the SDP default.
fn max_message_size(sdp: &str) -> MaxMessageSize {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=max-message-size:").and_then(|v| v.trim().parse::<u64>().ok()))
        .map(MaxMessageSize::bytes)
        .unwrap_or(MaxMessageSize::SDP_DEFAULT)
}

/// The effective limit: the remote's, capped at what str0m can buffer.
fn effective_limit(remote: MaxMessageSize) -> MaxMessageSize {
    match remote.limit() {
        Some(n) if n < SEND_LIMIT => remote,
        _ => MaxMessageSize::bytes(SEND_LIMIT),
    }
}

impl RtcLinks {
    /// Links with host candidates on `local`.
    pub fn new(local: Vec<SocketAddr>) -> RtcLinks {
        RtcLinks { local, links: BTreeMap::new(), sent: 0 }
    }

    /// Open links.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// Creates `link`: an offer, or the answer to `remote_offer`.
    pub fn create(&mut self, now: Instant, link: LinkId, remote_offer: Option<String>, out: &mut Reports) -> Result<(), String> {
        // ICE gives up on a silent pair after ~4.5 s (checks at 0.25, 0.5, 1, 1, 1, 1 s), as
        // browsers report `disconnected` after ~5 s; str0m's default waits ~20 s.
        let mut config = Rtc::builder();
        config.set_max_stun_rto(STUN_MAX_RTO);
        config.set_max_stun_retransmits(STUN_RETRANSMITS);
        let mut rtc = config.build(now);
        for addr in &self.local {
            let c = Candidate::host(*addr, "udp").map_err(|e| format!("bad local address {addr}: {e}"))?;
            rtc.add_local_candidate(c);
        }
        let mut l = Link {
            rtc,
            channel: None,
            pending: None,
            remote_limit: MaxMessageSize::SDP_DEFAULT,
            open: false,
            bulk: VecDeque::new(),
            control: VecDeque::new(),
            connected: false,
            remote_kinds: Vec::new(),
            path_reported: false,
        };
        let sdp = match remote_offer {
            None => {
                let mut api = l.rtc.sdp_api();
                let ch = api.add_channel_with_config(channel_config());
                let (offer, pending) = api.apply().ok_or("str0m made no offer")?;
                l.channel = Some(ch);
                l.pending = Some(pending);
                offer.to_sdp_string()
            }
            Some(offer) => {
                l.remote_limit = max_message_size(&offer);
                l.remote_kinds = sdp_candidate_kinds(&offer);
                let offer = SdpOffer::from_sdp_string(&offer).map_err(|e| format!("unreadable offer: {e}"))?;
                let answer = l.rtc.sdp_api().accept_offer(offer).map_err(|e| format!("cannot answer the offer: {e}"))?;
                l.channel = Some(l.rtc.direct_api().create_data_channel(channel_config()));
                answer.to_sdp_string()
            }
        };
        out.inputs.push((link, RtcInput::Described(sdp)));
        out.inputs.push((link, RtcInput::Candidate(None)));
        self.links.insert(link, l);
        Ok(())
    }

    /// Applies the remote answer to this link's offer (or restart offer).
    pub fn set_answer(&mut self, link: LinkId, sdp: &str) -> Result<(), String> {
        let Some(l) = self.links.get_mut(&link) else { return Ok(()) };
        let Some(pending) = l.pending.take() else { return Err("an answer without an offer".into()) };
        l.remote_limit = max_message_size(sdp);
        l.remote_kinds.extend(sdp_candidate_kinds(sdp));
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| format!("unreadable answer: {e}"))?;
        l.rtc.sdp_api().accept_answer(pending, answer).map_err(|e| format!("cannot apply the answer: {e}"))
    }

    /// Adds a candidate the other side trickled; ones str0m cannot use are skipped.
    pub fn add_candidate(&mut self, link: LinkId, c: &ChordCandidate) {
        let Some(l) = self.links.get_mut(&link) else { return };
        if c.is_end() {
            return;
        }
        let line = c.candidate.strip_prefix("a=").unwrap_or(&c.candidate);
        match Candidate::from_sdp_string(line) {
            Ok(cand) if cand.proto() == Protocol::Udp => {
                if let Some(kind) = c.kind() {
                    l.remote_kinds.push((cand.addr(), kind));
                }
                l.rtc.add_remote_candidate(cand);
            }
            Ok(_) => tracing::debug!(%link, "skipped a non-UDP candidate"),
            // `.local` mDNS names: str0m cannot resolve them.
            Err(e) => tracing::debug!(%link, error = %e, "skipped a candidate str0m cannot use"),
        }
    }

    /// Restarts ICE: an ICE-restart offer, or the answer to `remote_offer`.
    pub fn restart(&mut self, link: LinkId, remote_offer: Option<String>, out: &mut Reports) -> Result<(), String> {
        let Some(l) = self.links.get_mut(&link) else { return Ok(()) };
        let sdp = match remote_offer {
            None => {
                let mut api = l.rtc.sdp_api();
                api.ice_restart(true);
                let (offer, pending) = api.apply().ok_or("str0m made no restart offer")?;
                l.pending = Some(pending);
                offer.to_sdp_string()
            }
            Some(offer) => {
                l.remote_kinds = sdp_candidate_kinds(&offer);
                let offer = SdpOffer::from_sdp_string(&offer).map_err(|e| format!("unreadable restart offer: {e}"))?;
                l.rtc.sdp_api().accept_offer(offer).map_err(|e| format!("cannot answer the restart: {e}"))?.to_sdp_string()
            }
        };
        out.inputs.push((link, RtcInput::Described(sdp)));
        out.inputs.push((link, RtcInput::Candidate(None)));
        Ok(())
    }

    /// Sends `bytes` on `link`; transfer frames wait while the buffer is full.
    /// `Err` when the link cannot take it (it is then closed by the caller).
    pub fn send(&mut self, link: LinkId, bytes: Vec<u8>, bulk: bool) -> Result<(), String> {
        let Some(l) = self.links.get_mut(&link) else { return Ok(()) };
        if bulk {
            l.bulk.push_back(bytes);
        } else {
            l.control.push_back(bytes);
        }
        let sent = l.flush()?;
        self.sent += sent;
        Ok(())
    }

    /// Closes and forgets `link`.
    pub fn close(&mut self, link: LinkId) {
        if let Some(mut l) = self.links.remove(&link) {
            l.rtc.disconnect();
        }
    }

    /// A datagram from `source` to `destination`: the link it belongs to takes it.
    /// Returns whether one did.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, destination: SocketAddr, bytes: &[u8]) -> bool {
        let Ok(contents) = bytes.try_into() else { return false };
        let input = Input::Receive(now, Receive { proto: Protocol::Udp, source, destination, contents });
        let Some((_, l)) = self.links.iter_mut().find(|(_, l)| l.rtc.accepts(&input)) else { return false };
        if let Err(e) = l.rtc.handle_input(input) {
            tracing::debug!(error = %e, "a link refused a datagram");
        }
        true
    }

    /// Time passed: every link's timers.
    pub fn timeout(&mut self, now: Instant) {
        for l in self.links.values_mut() {
            let _ = l.rtc.handle_input(Input::Timeout(now));
        }
    }

    /// Drains every link's output into `out`; returns the earliest wake-up.
    pub fn poll(&mut self, out: &mut Reports) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut dead = Vec::new();
        for (&link, l) in self.links.iter_mut() {
            loop {
                if !l.rtc.is_alive() {
                    dead.push(link);
                    break;
                }
                match l.rtc.poll_output() {
                    Ok(Output::Timeout(t)) => {
                        next = Some(next.map_or(t, |n| n.min(t)));
                        break;
                    }
                    Ok(Output::Transmit(t)) => out.transmits.push((t.source, t.destination, t.contents.to_vec())),
                    Ok(Output::Event(ev)) => l.event(link, ev, out, &mut self.sent),
                    Err(e) => {
                        tracing::info!(%link, error = %e, "link failed");
                        dead.push(link);
                        break;
                    }
                }
            }
        }
        for link in dead {
            self.links.remove(&link);
            out.inputs.push((link, RtcInput::Closed));
        }
        next
    }
}

impl Link {
    /// Writes queued frames while the buffer takes them; returns the bytes written.
    fn flush(&mut self) -> Result<u64, String> {
        let Some(id) = self.channel.filter(|_| self.open) else { return Ok(0) };
        let Some(mut ch) = self.rtc.channel(id) else { return Err("the data channel is gone".into()) };
        let mut sent = 0u64;
        while let Some(f) = self.control.front() {
            match ch.write(true, f) {
                Ok(true) => sent += self.control.pop_front().map_or(0, |f| f.len() as u64),
                Ok(false) => return Ok(sent),
                Err(e) => return Err(e.to_string()),
            }
        }
        while let Some(f) = self.bulk.front() {
            if ch.buffered_amount() > BULK_HIGH {
                break;
            }
            match ch.write(true, f) {
                Ok(true) => sent += self.bulk.pop_front().map_or(0, |f| f.len() as u64),
                Ok(false) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(sent)
    }

    fn event(&mut self, link: LinkId, ev: Event, out: &mut Reports, sent: &mut u64) {
        match ev {
            Event::IceConnectionStateChange(s) => {
                let c = match s {
                    IceConnectionState::Connected | IceConnectionState::Completed => Some(Connectivity::Connected),
                    IceConnectionState::Disconnected => Some(Connectivity::Disconnected),
                    _ => None,
                };
                if let Some(c) = c {
                    let connected = c == Connectivity::Connected;
                    if connected != self.connected {
                        self.connected = connected;
                        out.inputs.push((link, RtcInput::Connectivity(c)));
                    }
                }
            }
            Event::ChannelOpen(id, _) if Some(id) == self.channel => {
                self.open = true;
                if let Some(mut ch) = self.rtc.channel(id) {
                    ch.set_buffered_amount_low_threshold(BULK_HIGH / 2);
                }
                out.inputs.push((link, RtcInput::Opened(effective_limit(self.remote_limit))));
                if !self.path_reported {
                    self.path_reported = true;
                    out.inputs.push((link, RtcInput::Path(self.path())));
                }
            }
            Event::ChannelData(d) if Some(d.id) == self.channel => {
                out.received += d.data.len() as u64;
                out.inputs.push((link, RtcInput::Message(d.data)));
            }
            Event::ChannelClose(id) if Some(id) == self.channel => {
                self.open = false;
                self.rtc.disconnect();
            }
            Event::ChannelBufferedAmountLow(id) if Some(id) == self.channel => match self.flush() {
                Ok(n) => *sent += n,
                Err(e) => {
                    tracing::info!(%link, error = %e, "send failed");
                    self.rtc.disconnect();
                }
            },
            _ => {}
        }
        // A control frame that did not fit waits for any event.
        if !self.control.is_empty() {
            if let Ok(n) = self.flush() {
                *sent += n;
            }
        }
    }

    /// The path: the node's side is a host candidate; the remote's kind is
    /// the one it announced for the address str0m selected, or, before that
    /// is known, the best the remote offered (relay when it offered only relays).
    fn path(&self) -> PathInfo {
        let remote = if !self.remote_kinds.is_empty() && self.remote_kinds.iter().all(|(_, k)| *k == CandidateKind::Relay) {
            CandidateKind::Relay
        } else if self.remote_kinds.iter().any(|(_, k)| *k == CandidateKind::Host) {
            CandidateKind::Host
        } else if self.remote_kinds.iter().any(|(_, k)| *k == CandidateKind::Srflx) {
            CandidateKind::Srflx
        } else {
            CandidateKind::Prflx
        };
        PathInfo { local: CandidateKind::Host, remote, rtt_ms: None }
    }
}

/// The candidates written into a description, with their kinds.
fn sdp_candidate_kinds(sdp: &str) -> Vec<(SocketAddr, CandidateKind)> {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a="))
        .filter(|l| l.starts_with("candidate:"))
        .filter_map(|l| {
            let c = Candidate::from_sdp_string(l).ok()?;
            let kind = ChordCandidate { candidate: l.to_string(), sdp_mid: None, sdp_m_line_index: None }.kind()?;
            Some((c.addr(), kind))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_the_remotes_capped_at_what_str0m_buffers() {
        assert_eq!(max_message_size("v=0\r\na=max-message-size:262144\r\n"), MaxMessageSize::bytes(262144));
        assert_eq!(max_message_size("v=0\r\n"), MaxMessageSize::SDP_DEFAULT);
        assert_eq!(effective_limit(MaxMessageSize::bytes(262144)), MaxMessageSize::bytes(SEND_LIMIT));
        assert_eq!(effective_limit(MaxMessageSize::UNLIMITED), MaxMessageSize::bytes(SEND_LIMIT));
        assert_eq!(effective_limit(MaxMessageSize::bytes(20_000)), MaxMessageSize::bytes(20_000));
    }
}
