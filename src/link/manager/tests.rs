//! Trickle ICE, path failures and ICE restarts, driven by hand between
//! three link managers A, B, C: A and C are introduced to B through the
//! server, and every later link is signaled through B.

use super::*;
use crate::link::{Connectivity, ServerId};
use crate::signal::IntroId;

mod budget;
mod limit;

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const CHORD: [u8; 3] = [1, 2, 3];

fn cand(addr: &str, kind: &str) -> Candidate {
    Candidate {
        candidate: format!("candidate:1 1 udp 2122260223 {addr} 50000 typ {kind}"),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
    }
}

struct World {
    l: Vec<Links>,
    now: Millis,
    /// Open data channels: (manager, link) → (manager, link).
    wire: BTreeMap<(usize, LinkId), (usize, LinkId)>,
    /// Commands other than `Send` on a wire, in order.
    cmds: Vec<(usize, RtcCommand)>,
    /// Outputs other than commands and delivered frames.
    out: Vec<(usize, LinkOutput)>,
    /// Chord frames delivered.
    delivered: Vec<(usize, Id)>,
    /// What each end of a link opened by [`World::open`] reports as the other end's limit.
    max_message_size: MaxMessageSize,
}

impl World {
    fn new(cfg: LinkConfig) -> World {
        let l = (0..3).map(|i| Links::new(Id::from_u64(100 * (i as u64 + 1)), cfg.clone(), i as u64)).collect();
        World {
            l,
            now: Millis(1_000),
            wire: BTreeMap::new(),
            cmds: Vec::new(),
            out: Vec::new(),
            delivered: Vec::new(),
            max_message_size: MaxMessageSize::CHROMIUM,
        }
    }

    fn id(&self, i: usize) -> Id {
        Id::from_u64(100 * (i as u64 + 1))
    }

    /// Moves frames over open wires until every manager is quiet.
    fn pump(&mut self) {
        loop {
            let mut frames = Vec::new();
            for i in 0..3 {
                while let Some(o) = self.l[i].poll_output() {
                    match o {
                        LinkOutput::Rtc(RtcCommand::Send { link, bytes }) => match self.wire.get(&(i, link)) {
                            Some(&(j, lj)) => {
                                // A browser throws on a larger message.
                                assert!(
                                    self.max_message_size.fits(bytes.len()),
                                    "{} bytes over a link accepting {}",
                                    bytes.len(),
                                    self.max_message_size
                                );
                                frames.push((j, lj, bytes))
                            }
                            None => self.cmds.push((i, RtcCommand::Send { link, bytes })),
                        },
                        LinkOutput::Rtc(cmd) => self.cmds.push((i, cmd)),
                        LinkOutput::Deliver { from, .. } => self.delivered.push((i, from)),
                        other => self.out.push((i, other)),
                    }
                }
            }
            if frames.is_empty() {
                return;
            }
            for (j, lj, bytes) in frames {
                self.l[j].received(self.now, lj, bytes);
            }
        }
    }

    /// The link `i` last created for `peer`.
    fn created(&self, i: usize, peer: usize) -> LinkId {
        let peer = self.id(peer);
        self.cmds
            .iter()
            .rev()
            .find_map(|(k, c)| match c {
                RtcCommand::Create { link, peer: p, .. } if *k == i && *p == peer => Some(*link),
                _ => None,
            })
            .expect("a peer connection was created")
    }

    fn take_cmds(&mut self, i: usize) -> Vec<RtcCommand> {
        let (mine, rest) = std::mem::take(&mut self.cmds).into_iter().partition(|(k, _)| *k == i);
        self.cmds = rest;
        mine.into_iter().map(|(_, c)| c).collect()
    }

    fn take_out(&mut self, i: usize) -> Vec<LinkOutput> {
        let (mine, rest) = std::mem::take(&mut self.out).into_iter().partition(|(k, _)| *k == i);
        self.out = rest;
        mine.into_iter().map(|(_, o)| o).collect()
    }

    fn open(&mut self, a: usize, la: LinkId, b: usize, lb: LinkId) {
        self.wire.insert((a, la), (b, lb));
        self.wire.insert((b, lb), (a, la));
        self.l[a].opened(self.now, la, self.max_message_size);
        self.l[b].opened(self.now, lb, self.max_message_size);
        self.pump();
        self.out.retain(|(_, o)| !matches!(o, LinkOutput::Opened { .. }));
    }

    /// `newcomer` is introduced to `member` through the server, trickling one
    /// candidate each way; returns their links.
    fn introduce(&mut self, newcomer: usize, member: usize, intro: ServerIntro) -> (LinkId, LinkId) {
        let (n, m) = (self.id(newcomer), self.id(member));
        self.l[newcomer].connect_via_server(self.now, m, intro);
        self.pump();
        let ln = self.created(newcomer, member);
        // A candidate gathered before the description is set waits for it.
        self.l[newcomer].local_candidate(self.now, ln, Some(cand("10.0.1.2", "host")));
        self.l[newcomer].described(self.now, ln, "offer".into());
        self.l[newcomer].local_candidate(self.now, ln, None);
        self.pump();
        let to_server: Vec<SignalPayload> = self
            .take_out(newcomer)
            .into_iter()
            .filter_map(|o| match o {
                LinkOutput::ToServer { intro: i, payload } if i == intro => Some(payload),
                _ => None,
            })
            .collect();
        assert_eq!(
            to_server,
            vec![
                SignalPayload::Offer { sdp: "offer".into() },
                SignalPayload::Ice { candidate: cand("10.0.1.2", "host").candidate, sdp_mid: Some("0".into()), sdp_m_line_index: Some(0) },
                SignalPayload::Ice { candidate: String::new(), sdp_mid: None, sdp_m_line_index: None },
            ],
            "the offer goes first, then each candidate, then the end of candidates"
        );
        for p in to_server {
            self.l[member].server_signal(self.now, intro, n, p);
        }
        self.pump();
        let lm = self.created(member, newcomer);
        let added: Vec<Candidate> = self
            .take_cmds(member)
            .into_iter()
            .filter_map(|c| match c {
                RtcCommand::AddCandidate { link, candidate } if link == lm => Some(candidate),
                _ => None,
            })
            .collect();
        assert_eq!(added, vec![cand("10.0.1.2", "host"), Candidate::end()]);
        self.l[member].described(self.now, lm, "answer".into());
        self.l[member].local_candidate(self.now, lm, Some(cand("10.0.2.2", "srflx")));
        self.pump();
        for o in self.take_out(member) {
            if let LinkOutput::ToServer { payload, .. } = o {
                self.l[newcomer].server_signal(self.now, intro, m, payload);
            }
        }
        self.pump();
        let cmds = self.take_cmds(newcomer);
        assert!(cmds.contains(&RtcCommand::SetAnswer { link: ln, sdp: "answer".into() }));
        assert!(cmds.contains(&RtcCommand::AddCandidate { link: ln, candidate: cand("10.0.2.2", "srflx") }));
        self.open(newcomer, ln, member, lm);
        (ln, lm)
    }

    /// A ring in a line: A–B and C–B through two servers that both
    /// numbered their introduction 1.
    fn line(cfg: LinkConfig) -> World {
        World::line_with(cfg, MaxMessageSize::CHROMIUM)
    }

    /// [`World::line`] whose links report `max` as the other end's limit.
    fn line_with(cfg: LinkConfig, max: MaxMessageSize) -> World {
        let mut w = World::new(cfg);
        w.max_message_size = max;
        w.introduce(A, B, ServerIntro { server: ServerId(0), intro: IntroId(1) });
        w.introduce(C, B, ServerIntro { server: ServerId(1), intro: IntroId(1) });
        w.cmds.clear();
        w.out.clear();
        w
    }

    /// A links to C through B, trickling a candidate each way; returns (A's link, C's link).
    fn ring_link(&mut self) -> (LinkId, LinkId) {
        let c = self.id(C);
        self.l[A].send(self.now, c, CHORD.to_vec()).expect("small frames are sent or queued");
        self.pump();
        let la = self.created(A, C);
        self.l[A].local_candidate(self.now, la, Some(cand("10.0.1.2", "host")));
        self.l[A].described(self.now, la, "offer-ac".into());
        self.l[A].local_candidate(self.now, la, None);
        self.pump();
        let lc = self.created(C, A);
        let cmds = self.take_cmds(C);
        assert!(
            cmds.contains(&RtcCommand::Create {
                link: lc,
                peer: self.id(A),
                remote_offer: Some("offer-ac".into()),
                ice: IceConfig::default()
            }),
            "C answers A's offer, relayed by B: {cmds:?}"
        );
        let added: Vec<&Candidate> = cmds
            .iter()
            .filter_map(|c| match c {
                RtcCommand::AddCandidate { link, candidate } if *link == lc => Some(candidate),
                _ => None,
            })
            .collect();
        assert_eq!(added, vec![&cand("10.0.1.2", "host"), &Candidate::end()], "A's candidates follow its offer through B");
        self.l[C].described(self.now, lc, "answer-ca".into());
        self.l[C].local_candidate(self.now, lc, Some(cand("203.0.113.10", "relay")));
        self.pump();
        let cmds = self.take_cmds(A);
        assert!(cmds.contains(&RtcCommand::SetAnswer { link: la, sdp: "answer-ca".into() }), "{cmds:?}");
        assert!(cmds.contains(&RtcCommand::AddCandidate { link: la, candidate: cand("203.0.113.10", "relay") }), "{cmds:?}");
        assert_eq!(self.l[B].stats().forwarded, 5, "B relayed the offer, two candidates, the answer and one candidate");
        (la, lc)
    }
}

#[test]
fn candidates_trickle_over_the_server_and_through_the_ring() {
    let mut w = World::line(LinkConfig::default());
    let (la, lc) = w.ring_link();
    w.open(A, la, C, lc);
    assert!(w.delivered.contains(&(C, w.id(A))), "the queued chord frame went out once the link opened");
    assert_eq!(w.l[A].stats().signals_dropped + w.l[B].stats().signals_dropped + w.l[C].stats().signals_dropped, 0);
}

#[test]
fn a_candidate_that_overtakes_its_offer_is_kept_until_the_offer_arrives() {
    let mut w = World::line(LinkConfig::default());
    let (a, c) = (w.id(A), w.id(C));
    let lcb = *w.wire.keys().find(|(k, _)| *k == C).map(|(_, l)| l).into_iter().next().expect("C has a link to B");
    let b = w.id(B);
    let env = |body| Envelope { to: c, from: a, session: 77, path: vec![b], body };
    w.l[C].received(w.now, lcb, env(EnvelopeBody::OfferCandidate(cand("10.0.1.9", "host"))).encode());
    w.pump();
    assert!(w.take_cmds(C).is_empty(), "no link yet");
    w.l[C].received(w.now, lcb, env(EnvelopeBody::Offer("late offer".into())).encode());
    w.pump();
    let cmds = w.take_cmds(C);
    let lc = match &cmds[0] {
        RtcCommand::Create { link, remote_offer: Some(o), .. } if o == "late offer" => *link,
        other => panic!("expected the answering connection first, got {other:?}"),
    };
    assert_eq!(cmds[1], RtcCommand::AddCandidate { link: lc, candidate: cand("10.0.1.9", "host") });
}

#[test]
fn only_loopback_candidates_leave_a_loopback_only_peer() {
    let mut w = World::new(LinkConfig { loopback_only: true, ..LinkConfig::default() });
    let b = w.id(B);
    w.l[A].connect_via_server(w.now, b, ServerIntro { server: ServerId(0), intro: IntroId(1) });
    w.pump();
    let la = w.created(A, B);
    w.l[A].described(w.now, la, "v=0\r\na=candidate:1 1 udp 1 10.0.0.5 9 typ host\r\n".into());
    w.l[A].local_candidate(w.now, la, Some(cand("10.0.0.5", "host")));
    w.l[A].local_candidate(w.now, la, Some(cand("127.0.0.1", "host")));
    w.pump();
    let sent: Vec<SignalPayload> =
        w.take_out(A).into_iter().filter_map(|o| if let LinkOutput::ToServer { payload, .. } = o { Some(payload) } else { None }).collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0], SignalPayload::Offer { sdp: "v=0\r\n".into() });
    assert!(matches!(&sent[1], SignalPayload::Ice { candidate, .. } if candidate.contains("127.0.0.1")));
}

#[test]
fn a_link_without_a_single_candidate_fails_and_says_why() {
    let mut w = World::line(LinkConfig::default());
    w.l[A].cfg.loopback_only = true;
    let c = w.id(C);
    w.l[A].send(w.now, c, CHORD.to_vec()).expect("small frames are sent or queued");
    w.pump();
    let la = w.created(A, C);
    w.l[A].described(w.now, la, "v=0\r\n".into());
    w.l[A].local_candidate(w.now, la, Some(cand("10.0.0.5", "host")));
    w.l[A].local_candidate(w.now, la, None);
    w.pump();
    assert_eq!(w.take_out(A), vec![LinkOutput::Failed { peer: c, via: Via::Ring, reason: LinkFailure::NoCandidates }]);
    assert!(w.take_cmds(A).contains(&RtcCommand::Close { link: la }));
    assert_eq!(w.l[A].stats().no_candidates, 1);
}

/// A's link to `to` (its offer described): returns A's link.
fn offer_from_a(w: &mut World, to: Id) -> LinkId {
    w.l[A].send(w.now, to, CHORD.to_vec()).expect("small frames are sent or queued");
    w.pump();
    let la = w.cmds.iter().rev().find_map(|(k, c)| match c {
        RtcCommand::Create { link, peer, .. } if *k == A && *peer == to => Some(*link),
        _ => None,
    });
    let la = la.expect("A created a connection");
    w.l[A].described(w.now, la, "offer".into());
    w.pump();
    la
}

#[test]
fn an_offer_the_ring_cannot_carry_fails_at_once_and_is_retried_later() {
    let cfg = LinkConfig::default();
    let mut w = World::line(cfg.clone());
    let c = w.id(C);
    // B's link to C is gone: B has nowhere to take A's offer for C.
    let lbc = *w.wire.iter().find(|((k, _), (j, _))| *k == B && *j == C).map(|((_, l), _)| l).expect("B–C link");
    w.l[B].closed(w.now, lbc);
    w.pump();
    let la = offer_from_a(&mut w, c);
    assert_eq!(w.take_out(A), vec![LinkOutput::Failed { peer: c, via: Via::Ring, reason: LinkFailure::Unreachable }]);
    assert!(w.take_cmds(A).contains(&RtcCommand::Close { link: la }));
    assert_eq!((w.l[A].stats().unreachable, w.l[A].stats().timeouts), (1, 0));
    assert_eq!(w.l[B].stats().signals_dropped, 1, "B counts the offer it could not carry");
    // A message sent within the retry pause waits for the next attempt, which comes after it.
    w.now = w.now + cfg.retry_after_ms / 2;
    w.l[A].send(w.now, c, CHORD.to_vec()).expect("small frames are sent or queued");
    w.l[A].handle_timeout(w.now);
    w.pump();
    assert!(!w.take_cmds(A).iter().any(|c| matches!(c, RtcCommand::Create { .. })), "no retry within the pause");
    w.now = w.now + cfg.retry_after_ms;
    w.l[A].handle_timeout(w.now);
    w.pump();
    assert!(w.take_cmds(A).iter().any(|cmd| matches!(cmd, RtcCommand::Create { peer, .. } if *peer == c)), "retried after the pause");
}

#[test]
fn an_offer_for_a_peer_outside_the_ring_comes_back_along_its_path() {
    let mut w = World::line(LinkConfig::default());
    let stranger = Id::from_u64(250);
    let la = offer_from_a(&mut w, stranger);
    // A → B → C; C has no link the offer has not visited, and says so back through B.
    assert_eq!(w.take_out(A), vec![LinkOutput::Failed { peer: stranger, via: Via::Ring, reason: LinkFailure::Unreachable }]);
    assert!(w.take_cmds(A).contains(&RtcCommand::Close { link: la }));
    assert_eq!((w.l[B].stats().forwarded, w.l[C].stats().signals_dropped), (2, 1), "B relayed the offer and the way back");
}

#[test]
fn a_peer_with_no_links_fails_its_ring_offer_at_once() {
    let mut w = World::new(LinkConfig::default());
    let c = w.id(C);
    let _ = offer_from_a(&mut w, c);
    assert_eq!(w.take_out(A), vec![LinkOutput::Failed { peer: c, via: Via::Ring, reason: LinkFailure::Unreachable }]);
    assert_eq!(w.l[A].stats().unreachable, 1);
}

#[test]
fn an_unreachable_notice_for_another_attempt_is_dropped() {
    let mut w = World::line(LinkConfig::default());
    let c = w.id(C);
    let (a, b) = (w.id(A), w.id(B));
    let _ = offer_from_a(&mut w, c);
    let session = w.l[A].links.values().find(|l| l.peer == c).map(|l| l.session).expect("A is linking to C");
    let lab = *w.wire.iter().find(|((k, _), (j, _))| *k == A && *j == B).map(|((_, l), _)| l).expect("A–B link");
    let forged = Envelope { to: a, from: c, session: session.wrapping_add(1), path: vec![b], body: EnvelopeBody::Unreachable };
    let dropped = w.l[A].stats().signals_dropped;
    w.l[A].received(w.now, lab, forged.encode());
    w.pump();
    assert!(w.take_out(A).is_empty(), "the attempt goes on");
    assert_eq!(w.l[A].stats().signals_dropped, dropped + 1);
}

#[test]
fn a_silent_peer_times_out_but_an_answered_link_that_never_connects_has_no_path() {
    let cfg = LinkConfig::default();
    let mut w = World::line(cfg.clone());
    let c = w.id(C);
    let b = w.id(B);
    // Silent: the offer reaches C, which never describes its answer.
    w.l[A].send(w.now, c, CHORD.to_vec()).expect("small frames are sent or queued");
    w.pump();
    let la = w.created(A, C);
    w.l[A].described(w.now, la, "offer".into());
    w.pump();
    let _ = w.created(C, A);
    assert!(w.take_out(A).is_empty(), "nothing to say before the deadline");
    w.now = w.now + cfg.connect_timeout_ms;
    w.l[A].handle_timeout(w.now);
    w.pump();
    assert!(w.take_out(A).contains(&LinkOutput::Failed { peer: c, via: Via::Ring, reason: LinkFailure::Timeout }));
    // Answered, then ICE fails: no path.
    let mut w = World::line(cfg);
    let (la, _) = w.ring_link();
    w.l[A].connectivity(w.now, la, Connectivity::Failed);
    w.pump();
    assert!(w.take_out(A).contains(&LinkOutput::Failed { peer: c, via: Via::Ring, reason: LinkFailure::NoPath }));
    assert_eq!((w.l[A].stats().no_path, w.l[A].stats().timeouts), (1, 0));
    let _ = b;
}

#[test]
fn a_failed_path_is_restarted_through_the_ring_and_queued_messages_follow() {
    let mut w = World::line(LinkConfig::default());
    let (a, c) = (w.id(A), w.id(C));
    let (la, lc) = w.ring_link();
    w.open(A, la, C, lc);
    w.delivered.clear();
    // A's path to C fails: A made the offer, so A restarts.
    w.l[A].connectivity(w.now, la, Connectivity::Failed);
    w.pump();
    assert_eq!(w.take_out(A), vec![LinkOutput::Restarting { peer: c }]);
    assert_eq!(w.take_cmds(A), vec![RtcCommand::Restart { link: la, remote_offer: None }]);
    assert!(!w.l[A].is_open(&c), "a restarting link carries no signaling");
    w.l[A].send(w.now, c, CHORD.to_vec()).expect("small frames are sent or queued");
    w.pump();
    assert!(w.delivered.is_empty(), "messages wait while the path is down");
    w.l[A].described(w.now, la, "restart offer".into());
    w.l[A].local_candidate(w.now, la, Some(cand("203.0.113.11", "srflx")));
    w.pump();
    assert_eq!(w.take_out(C), vec![LinkOutput::Restarting { peer: a }]);
    let cmds = w.take_cmds(C);
    assert_eq!(cmds[0], RtcCommand::Restart { link: lc, remote_offer: Some("restart offer".into()) });
    assert_eq!(cmds[1], RtcCommand::AddCandidate { link: lc, candidate: cand("203.0.113.11", "srflx") });
    w.l[C].described(w.now, lc, "restart answer".into());
    w.pump();
    assert!(w.take_cmds(A).contains(&RtcCommand::SetAnswer { link: la, sdp: "restart answer".into() }));
    w.l[A].connectivity(w.now, la, Connectivity::Connected);
    w.l[C].connectivity(w.now, lc, Connectivity::Connected);
    w.pump();
    assert!(w.l[A].is_open(&c) && w.l[C].is_open(&a));
    assert_eq!(w.delivered, vec![(C, a)], "the message queued during the restart went out");
    for l in [&w.l[A], &w.l[C]] {
        assert_eq!((l.stats().restarts_started, l.stats().restarts_succeeded, l.stats().restarts_failed), (1, 1, 0));
    }
}

#[test]
fn a_restart_that_never_connects_closes_the_link() {
    let cfg = LinkConfig::default();
    let mut w = World::line(cfg.clone());
    let c = w.id(C);
    let (la, lc) = w.ring_link();
    w.open(A, la, C, lc);
    w.l[A].connectivity(w.now, la, Connectivity::Failed);
    w.l[A].described(w.now, la, "restart offer".into());
    w.pump();
    w.out.clear();
    w.now = w.now + cfg.restart_timeout_ms - 1;
    w.l[A].handle_timeout(w.now);
    w.pump();
    assert!(w.take_out(A).is_empty());
    w.now = w.now + 1;
    w.l[A].handle_timeout(w.now);
    w.pump();
    assert_eq!(
        w.take_out(A),
        vec![LinkOutput::Failed { peer: c, via: Via::Ring, reason: LinkFailure::NoPath }, LinkOutput::Closed { peer: c, lost: true }]
    );
    assert_eq!((w.l[A].stats().restarts_failed, w.l[A].stats().no_path), (1, 1));
}

#[test]
fn a_short_disconnect_is_waited_out_a_long_one_restarts() {
    let cfg = LinkConfig::default();
    let mut w = World::line(cfg.clone());
    let c = w.id(C);
    let (la, lc) = w.ring_link();
    w.open(A, la, C, lc);
    w.l[A].connectivity(w.now, la, Connectivity::Disconnected);
    w.now = w.now + cfg.disconnect_grace_ms - 1;
    w.l[A].handle_timeout(w.now);
    w.l[A].connectivity(w.now, la, Connectivity::Connected);
    w.now = w.now + cfg.disconnect_grace_ms;
    w.l[A].handle_timeout(w.now);
    w.pump();
    assert!(w.take_out(A).is_empty(), "recovered within the grace period");
    w.l[A].connectivity(w.now, la, Connectivity::Disconnected);
    assert_eq!(w.l[A].poll_timeout(), Some(w.now + cfg.disconnect_grace_ms).min(w.l[A].poll_timeout()));
    w.now = w.now + cfg.disconnect_grace_ms;
    w.l[A].handle_timeout(w.now);
    w.pump();
    assert_eq!(w.take_out(A), vec![LinkOutput::Restarting { peer: c }]);
}

#[test]
fn new_ice_servers_reach_new_and_open_connections() {
    let mut w = World::line(LinkConfig::default());
    let ice = IceConfig {
        servers: vec![crate::ice::IceServer { urls: vec!["stun:203.0.113.10:3478".into()], username: None, credential: None }],
        policy: crate::ice::IcePolicy::Relay,
    };
    w.l[A].set_ice(ice.clone());
    w.l[A].set_ice(ice.clone());
    w.pump();
    assert_eq!(w.take_cmds(A), vec![RtcCommand::UpdateIce { ice: ice.clone() }], "once, for the open links");
    let c = w.id(C);
    w.l[A].send(w.now, c, CHORD.to_vec()).expect("small frames are sent or queued");
    w.pump();
    assert!(w.take_cmds(A).iter().any(|cmd| matches!(cmd, RtcCommand::Create { ice: i, .. } if *i == ice)));
}

#[test]
fn a_restart_offer_avoids_links_whose_path_is_disconnected() {
    let mut w = World::line(LinkConfig::default());
    let (a, c) = (w.id(A), w.id(C));
    let (la, lc) = w.ring_link();
    w.open(A, la, C, lc);
    // A's link to B reports `disconnected` too: the restart offer has no way to C.
    let lab = *w.wire.iter().find(|((k, _), (j, _))| *k == A && *j == B).map(|((_, l), _)| l).expect("A–B link");
    w.l[A].connectivity(w.now, lab, Connectivity::Disconnected);
    w.l[A].connectivity(w.now, la, Connectivity::Failed);
    w.l[A].described(w.now, la, "restart offer".into());
    w.pump();
    assert!(w.take_cmds(C).is_empty(), "nothing reached C through the disconnected link");
    assert_eq!(w.l[A].stats().signals_dropped, 1);
    // Once A–B is connected again, the next restart gets through.
    w.l[A].connectivity(w.now, lab, Connectivity::Connected);
    w.now = w.now + LinkConfig::default().restart_timeout_ms;
    w.l[A].handle_timeout(w.now);
    w.pump();
    assert!(!w.l[A].is_open(&c), "the failed restart closed the link");
    let _ = a;
}
