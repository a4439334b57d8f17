//! The ICE part of [`Links`]: trickled candidates, path failures and ICE
//! restarts, the ICE configuration and measured paths.
//!
//! Candidates follow the description they belong to on the same way: over
//! the server within a bootstrap introduction, else as envelopes, the
//! offerer's routed greedily like its offer and the answerer's back along
//! the offer's path. A candidate of the offerer may overtake its offer
//! through the ring (another relay was chosen meanwhile); the answerer keeps
//! a few such early ones until the offer arrives.
//!
//! A failed path (ICE `failed`, or `disconnected` for longer than
//! `disconnect_grace_ms`) is restarted by the side that made the original
//! offer, through the ring (the failed link itself cannot carry it); the
//! data channel survives a restart, and messages for the peer wait
//! meanwhile. A restart that has not connected within `restart_timeout_ms`
//! closes the link like any failure, and the usual retry takes over.

use super::{Link, LinkFailure, LinkId, LinkOutput, LinkState, Links, Role, RtcCommand, Via};
use crate::ice::{Candidate, IceConfig, PathInfo, MAX_CANDIDATES_PER_SESSION};
use crate::id::Id;
use crate::link::frame::{Envelope, EnvelopeBody};
use crate::signal::SignalPayload;
use crate::time::Millis;

/// Most offers whose early candidates are kept at once.
const MAX_EARLY_SESSIONS: usize = 16;

/// What the browser says of a connection's network path (`connectionState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connectivity {
    /// Connected (again).
    Connected,
    /// Checks stopped answering; may recover by itself.
    Disconnected,
    /// ICE gave up on every pair.
    Failed,
}

impl Links {
    /// The STUN/TURN servers and policy for links created from now on; open
    /// links get them too (for their restarts).
    pub fn set_ice(&mut self, ice: IceConfig) {
        if ice == self.ice {
            return;
        }
        self.ice = ice.clone();
        if !self.links.is_empty() {
            self.out.push_back(LinkOutput::Rtc(RtcCommand::UpdateIce { ice }));
        }
    }

    /// The ICE configuration in use.
    pub fn ice(&self) -> &IceConfig {
        &self.ice
    }

    /// The driver gathered a local candidate of `link` (`None`: gathering is complete).
    pub fn local_candidate(&mut self, now: Millis, link: LinkId, candidate: Option<Candidate>) {
        let loopback_only = self.cfg.loopback_only;
        let Some(l) = self.links.get_mut(&link) else { return };
        match candidate {
            Some(c) if !c.is_end() => {
                if loopback_only && !c.is_loopback() {
                    return;
                }
                if c.validate().is_err() || l.local_candidates >= MAX_CANDIDATES_PER_SESSION {
                    self.stats.candidates_dropped += 1;
                    return;
                }
                l.local_candidates += 1;
                self.send_candidate(now, link, c);
            }
            _ => {
                if l.gathered {
                    return;
                }
                l.gathered = true;
                if l.local_candidates == 0 && l.state != LinkState::Open {
                    self.fail(now, link, LinkFailure::NoCandidates);
                } else {
                    self.send_candidate(now, link, Candidate::end());
                }
            }
        }
    }

    /// Sends a local candidate the way the link's description went (or keeps
    /// it until the description is out).
    pub(super) fn send_candidate(&mut self, now: Millis, link: LinkId, c: Candidate) {
        let Some(l) = self.links.get_mut(&link) else { return };
        if !l.described {
            l.pending_local.push(c);
            return;
        }
        let through_server = l.via == Via::Server && l.state == LinkState::Connecting;
        match (through_server, l.role, l.intro) {
            (true, _, Some(intro)) => {
                let Candidate { candidate, sdp_mid, sdp_m_line_index } = c;
                self.out.push_back(LinkOutput::ToServer { intro, payload: SignalPayload::Ice { candidate, sdp_mid, sdp_m_line_index } });
            }
            (true, _, None) => {}
            (false, Role::Offerer { .. }, _) => {
                let env =
                    Envelope { to: l.peer, from: self.me, session: l.session, path: Vec::new(), body: EnvelopeBody::OfferCandidate(c) };
                self.route_offer(now, env, None);
            }
            (false, Role::Answerer, _) => {
                let env = Envelope {
                    to: l.peer,
                    from: self.me,
                    session: l.session,
                    path: l.reply_path.clone(),
                    body: EnvelopeBody::AnswerCandidate(c),
                };
                self.route_reply(env, false);
            }
        }
    }

    /// A candidate from the other side of `link`.
    pub(super) fn remote_candidate(&mut self, link: LinkId, c: Candidate) {
        let Some(l) = self.links.get_mut(&link) else { return };
        if c.validate().is_err() || l.remote_candidates >= MAX_CANDIDATES_PER_SESSION {
            self.stats.candidates_dropped += 1;
            return;
        }
        l.remote_candidates += 1;
        self.out.push_back(LinkOutput::Rtc(RtcCommand::AddCandidate { link, candidate: c }));
    }

    /// A candidate envelope for this peer from `from`.
    pub(super) fn ring_candidate(&mut self, now: Millis, from: Id, session: u64, c: Candidate, from_offerer: bool) {
        let link = self
            .by_peer
            .get(&from)
            .copied()
            .filter(|id| self.links.get(id).is_some_and(|l| l.session == session && matches!(l.role, Role::Answerer) == from_offerer));
        match link {
            Some(id) => self.remote_candidate(id, c),
            None if from_offerer => {
                // Its offer may still be on the way; keep a few, briefly.
                let i = match self.early.iter().position(|(p, s, _, _)| *p == from && *s == session) {
                    Some(i) => i,
                    None if self.early.len() >= MAX_EARLY_SESSIONS => {
                        self.stats.candidates_dropped += 1;
                        return;
                    }
                    None => {
                        self.early.push((from, session, now, Vec::new()));
                        self.early.len() - 1
                    }
                };
                let cs = &mut self.early[i].3;
                if cs.len() < MAX_CANDIDATES_PER_SESSION {
                    cs.push(c);
                } else {
                    self.stats.candidates_dropped += 1;
                }
            }
            None => self.stats.signals_dropped += 1,
        }
    }

    /// The browser's view of `link`'s network path changed.
    pub fn connectivity(&mut self, now: Millis, link: LinkId, c: Connectivity) {
        let Some(l) = self.links.get_mut(&link) else { return };
        match (l.state, c) {
            (LinkState::Connecting, Connectivity::Failed) => {
                let reason = if l.remote_described { LinkFailure::NoPath } else { LinkFailure::Timeout };
                self.fail(now, link, reason);
            }
            (LinkState::Connecting, _) => {}
            (LinkState::Open, Connectivity::Connected) => l.disconnected_at = None,
            (LinkState::Open, Connectivity::Disconnected) => {
                l.disconnected_at.get_or_insert(now);
            }
            (LinkState::Open, Connectivity::Failed) => self.begin_restart(now, link),
            (LinkState::Restarting, Connectivity::Connected) => {
                l.state = LinkState::Open;
                l.restart_deadline = None;
                l.last_used = now;
                let peer = l.peer;
                self.stats.restarts_succeeded += 1;
                self.flush_queue(link, peer);
            }
            // The restart goes on until it connects or its deadline.
            (LinkState::Restarting, _) => {}
        }
    }

    /// The measured path of `link` (selected candidate pair, round-trip time).
    pub fn path(&mut self, link: LinkId, path: PathInfo) {
        if let Some(l) = self.links.get_mut(&link) {
            l.path = Some(path);
        }
    }

    /// Gives up restarts past their deadline; restarts links disconnected too long.
    pub(super) fn ice_timeouts(&mut self, now: Millis) {
        let grace = self.cfg.disconnect_grace_ms;
        let due: Vec<(LinkId, LinkState)> = self
            .links
            .iter()
            .filter(|(_, l)| match l.state {
                LinkState::Open => l.disconnected_at.is_some_and(|t| t + grace <= now),
                LinkState::Restarting => l.restart_deadline.is_some_and(|t| t <= now),
                LinkState::Connecting => false,
            })
            .map(|(id, l)| (*id, l.state))
            .collect();
        for (id, state) in due {
            if state == LinkState::Open {
                self.begin_restart(now, id);
            } else {
                // No path came back: reported as a failed link (then closed).
                self.stats.restarts_failed += 1;
                self.fail(now, id, LinkFailure::NoPath);
            }
        }
    }

    /// Marks an open link as restarting; the original offerer makes the restart offer.
    fn begin_restart(&mut self, now: Millis, link: LinkId) {
        let deadline = now + self.cfg.restart_timeout_ms;
        let Some(l) = self.links.get_mut(&link) else { return };
        reset_for_restart(l, deadline);
        let peer = l.peer;
        let offerer = matches!(l.role, Role::Offerer { .. });
        if offerer {
            l.role = Role::Offerer { answered: false };
        }
        self.stats.restarts_started += 1;
        self.out.push_back(LinkOutput::Restarting { peer });
        if offerer {
            self.out.push_back(LinkOutput::Rtc(RtcCommand::Restart { link, remote_offer: None }));
        }
    }

    /// The other side restarts ICE on our link with it.
    pub(super) fn restart_offered(&mut self, now: Millis, from: Id, session: u64, path: Vec<Id>, sdp: String) {
        let link = self.by_peer.get(&from).copied().filter(|id| {
            self.links.get(id).is_some_and(|l| l.session == session && l.role == Role::Answerer && l.state != LinkState::Connecting)
        });
        let Some(link) = link else {
            self.stats.signals_dropped += 1;
            return;
        };
        if self.links[&link].state == LinkState::Open {
            // The other side noticed first.
            self.stats.restarts_started += 1;
            self.out.push_back(LinkOutput::Restarting { peer: from });
        }
        let deadline = now + self.cfg.restart_timeout_ms;
        let Some(l) = self.links.get_mut(&link) else { return };
        reset_for_restart(l, deadline);
        l.reply_path = path;
        l.remote_described = true;
        self.out.push_back(LinkOutput::Rtc(RtcCommand::Restart { link, remote_offer: Some(sdp) }));
    }

    /// Sends the description of a restart: through the ring, whatever the
    /// link was first negotiated through.
    pub(super) fn describe_restart(&mut self, now: Millis, link: LinkId, sdp: String) {
        let Some(l) = self.links.get(&link) else { return };
        let (to, from, session) = (l.peer, self.me, l.session);
        match l.role {
            Role::Offerer { .. } => {
                let env = Envelope { to, from, session, path: Vec::new(), body: EnvelopeBody::Restart(sdp) };
                self.route_offer(now, env, None);
            }
            Role::Answerer => {
                let env = Envelope { to, from, session, path: l.reply_path.clone(), body: EnvelopeBody::Answer(sdp) };
                self.route_reply(env, false);
            }
        }
    }

    /// Ends an attempt that failed, counting why and telling the peer.
    pub(super) fn fail(&mut self, now: Millis, link: LinkId, reason: LinkFailure) {
        let Some(l) = self.links.get(&link) else { return };
        let (peer, via) = (l.peer, l.via);
        match reason {
            LinkFailure::NoCandidates => self.stats.no_candidates += 1,
            LinkFailure::NoPath => self.stats.no_path += 1,
            LinkFailure::Timeout => self.stats.timeouts += 1,
            LinkFailure::Refused => self.stats.refused_by_peer += 1,
            LinkFailure::Unreachable => self.stats.unreachable += 1,
            LinkFailure::MessageLimit => self.stats.message_limit += 1,
            // Never an attempt's end: refused before any link (`Links::send`).
            LinkFailure::Budget => self.stats.budget += 1,
        }
        self.out.push_back(LinkOutput::Failed { peer, via, reason });
        self.end(now, link, true);
    }
}

/// A link entering an ICE restart: a new session of descriptions and candidates.
fn reset_for_restart(l: &mut Link, deadline: Millis) {
    l.state = LinkState::Restarting;
    l.restart_deadline = Some(deadline);
    l.disconnected_at = None;
    l.described = false;
    l.remote_described = false;
    l.pending_local.clear();
    l.local_candidates = 0;
    l.remote_candidates = 0;
    l.gathered = false;
    l.path = None;
}
