//! The server's whole state: rings, their members, and open introductions.
//!
//! Sans-IO, like the Chord node: [`Rings`] is fed what clients said and the
//! current time, and answers through [`Rings::poll_output`] (messages to send,
//! connections to close) and [`Rings::poll_timeout`] (when to call
//! [`Rings::handle_timeout`]). It never reads a clock, never touches a socket,
//! and draws randomness only from its seed, so every rule below is unit-tested
//! without a network.
//!
//! Rules, per ring:
//! * A peer that says hello to a ring with nobody who could introduce it
//!   becomes the ring's *founder* (`welcome{first:true}`). Until it reports
//!   `member` the founder already counts as an introducer: it has created the
//!   ring, and treating it so keeps two tabs opened at the same moment from
//!   founding two separate rings.
//! * Otherwise the newcomer is paired with a random introducer it has not
//!   tried yet. If that introducer stays silent, leaves, or the introduction
//!   expires, the newcomer is paired with another one (a fresh `welcome`), up
//!   to `tries` times; then it gets `intro_failed`, followed by
//!   `welcome{first:true}` if nobody else is left in the ring.
//! * An introduction ends when the newcomer reports `member`. From then on the
//!   server relays nothing for it; late signals are dropped and counted.

use crate::error::CloseReason;
use crate::intro::{ConnId, Intro};
use crate::stats::RingCounters;
use chord::rng::SeededRng;
use chord::signal::{IntroId, ServerMsg, SignalPayload};
use chord::Id;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// What the state asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send this message to that connection.
    Send(ConnId, ServerMsg),
    /// Send `error{reason}` to that connection and close it. The state has
    /// already forgotten the connection.
    Close(ConnId, CloseReason),
}

/// How introductions are run (see [`crate::Config`]).
#[derive(Clone, Copy, Debug)]
pub struct IntroPolicy {
    /// Longest silence allowed from an introducer.
    pub timeout: Duration,
    /// Longest life of an introduction.
    pub lifetime: Duration,
    /// Most introductions per newcomer.
    pub tries: u32,
}

/// Where a connected peer stands.
#[derive(Clone, Debug)]
enum Role {
    /// Being introduced: the current introduction and the introducers tried so far.
    Joining { intro: Option<IntroId>, tried: Vec<ConnId> },
    /// Told it is first; it created the ring and may introduce others.
    Founder,
    /// Reported `member`; may introduce others.
    Member,
    /// Its introductions all failed; it may still report `member` or leave.
    Failed,
}

/// A peer that said hello.
#[derive(Clone, Debug)]
struct Peer {
    ring: String,
    id: Id,
    role: Role,
    /// Introductions in which this peer is the introducer.
    introducing: BTreeSet<IntroId>,
}

/// One named ring.
#[derive(Clone, Debug, Default)]
struct Ring {
    /// Every connected peer of the ring, by id (ids are unique per ring).
    ids: HashMap<Id, ConnId>,
    /// Peers that reported `member`. Ordered, so a seed fixes every choice.
    members: BTreeSet<ConnId>,
    /// The peer told it is first, until it reports `member` or leaves.
    founder: Option<ConnId>,
}

impl Ring {
    /// Peers that can answer a newcomer.
    fn introducers(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.founder.into_iter().chain(self.members.iter().copied())
    }
}

/// Rings, members and introductions of the whole server.
#[derive(Debug)]
pub struct Rings {
    policy: IntroPolicy,
    /// Most peers per ring; a hello beyond it is closed.
    max_per_ring: usize,
    rng: SeededRng,
    next_intro: IntroId,
    peers: HashMap<ConnId, Peer>,
    rings: HashMap<String, Ring>,
    intros: HashMap<IntroId, Intro>,
    /// Each open introduction's next deadline; the first entry is the next wake-up.
    timers: BTreeSet<(Instant, IntroId)>,
    out: VecDeque<Output>,
    counters: RingCounters,
}

impl Rings {
    /// Empty state with at most `max_per_ring` peers per ring; `seed` fixes
    /// the choice of introducers.
    pub fn new(policy: IntroPolicy, max_per_ring: usize, seed: u64) -> Rings {
        Rings {
            policy,
            max_per_ring,
            rng: SeededRng::new(seed),
            next_intro: 1,
            peers: HashMap::new(),
            rings: HashMap::new(),
            intros: HashMap::new(),
            timers: BTreeSet::new(),
            out: VecDeque::new(),
            counters: RingCounters::default(),
        }
    }

    /// A connection said hello (already validated: version and ring name).
    pub fn hello(&mut self, conn: ConnId, ring: &str, id: Id, now: Instant) {
        if self.peers.contains_key(&conn) {
            return self.close(conn, CloseReason::HelloTwice, now);
        }
        if let Some(r) = self.rings.get(ring) {
            if r.ids.contains_key(&id) {
                return self.close(conn, CloseReason::DuplicateId(id.to_hex()), now);
            }
            if r.ids.len() >= self.max_per_ring {
                let reason = CloseReason::RingFull { ring: ring.to_owned(), max: self.max_per_ring };
                return self.close(conn, reason, now);
            }
        }
        self.rings.entry(ring.to_owned()).or_default().ids.insert(id, conn);
        let role = Role::Joining { intro: None, tried: Vec::new() };
        self.peers.insert(conn, Peer { ring: ring.to_owned(), id, role, introducing: BTreeSet::new() });
        self.introduce(conn, None, now);
    }

    /// A connection reported that it is part of its ring.
    pub fn member(&mut self, conn: ConnId, now: Instant) {
        let Some(peer) = self.peers.get_mut(&conn) else {
            return self.close(conn, CloseReason::NoHello, now);
        };
        let previous = std::mem::replace(&mut peer.role, Role::Member);
        let ring = peer.ring.clone();
        match previous {
            Role::Member => return,
            Role::Joining { intro: Some(intro), .. } => {
                self.end_intro(intro);
                self.counters.introductions_completed += 1;
            }
            Role::Joining { intro: None, .. } | Role::Founder | Role::Failed => {}
        }
        if let Some(r) = self.rings.get_mut(&ring) {
            if r.founder == Some(conn) {
                r.founder = None;
            }
            r.members.insert(conn);
        }
    }

    /// A connection sent a signal for an introduction.
    pub fn signal(&mut self, conn: ConnId, intro_id: IntroId, payload: SignalPayload, now: Instant) {
        let Some(from) = self.peers.get(&conn).map(|p| p.id) else {
            return self.close(conn, CloseReason::NoHello, now);
        };
        let Some(intro) = self.intros.get_mut(&intro_id) else {
            // Over or never opened. Trickled ICE candidates routinely arrive
            // after the newcomer has joined, so this is not a protocol error.
            self.counters.signals_refused += 1;
            return;
        };
        let Some(party) = intro.party(conn) else {
            return self.close(conn, CloseReason::NotAParty(intro_id), now);
        };
        let before = intro.deadline();
        if !intro.record_signal(party, now, self.policy.timeout) {
            return self.close(conn, CloseReason::TooManySignals(intro_id), now);
        }
        let (after, to) = (intro.deadline(), intro.other(party));
        if after != before {
            self.timers.remove(&(before, intro_id));
            self.timers.insert((after, intro_id));
        }
        self.out.push_back(Output::Send(to, ServerMsg::Signal { intro: intro_id, from, payload }));
    }

    /// A connection is gone (closed, said bye, or was closed by the server).
    /// Its open introductions end: a newcomer it was introducing moves on to
    /// another introducer; an introducer it was talking to is told.
    pub fn leave(&mut self, conn: ConnId, now: Instant) {
        let Some(peer) = self.peers.remove(&conn) else { return };
        if let Some(ring) = self.rings.get_mut(&peer.ring) {
            ring.ids.remove(&peer.id);
            ring.members.remove(&conn);
            if ring.founder == Some(conn) {
                ring.founder = None;
            }
        }
        if let Role::Joining { intro: Some(intro_id), .. } = peer.role {
            if let Some(intro) = self.end_intro(intro_id) {
                self.counters.introductions_failed += 1;
                let reason = "the newcomer left".to_owned();
                self.out.push_back(Output::Send(intro.introducer, ServerMsg::IntroFailed { intro: intro_id, reason }));
            }
        }
        for intro_id in peer.introducing {
            self.abandon(intro_id, "the introducer left", false, now);
        }
        if self.rings.get(&peer.ring).is_some_and(|r| r.ids.is_empty()) {
            self.rings.remove(&peer.ring);
        }
    }

    /// Runs every deadline that has passed at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, intro_id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let silent = self.intros.get(&intro_id).is_some_and(|i| i.introducer_silent(now));
            if silent {
                // The introducer is told nothing: it may be gone without the
                // socket having noticed yet, and it has nothing to undo.
                self.abandon(intro_id, "the introducer did not answer", false, now);
            } else {
                self.abandon(intro_id, "the introduction expired", true, now);
            }
        }
    }

    /// The next message to send or connection to close, oldest first.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Rings::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// Number of rings with at least one connected peer.
    pub fn ring_count(&self) -> usize {
        self.rings.len()
    }

    /// Number of members over all rings.
    pub fn member_count(&self) -> usize {
        self.rings.values().map(|r| r.members.len()).sum()
    }

    /// Counters since the start.
    pub fn counters(&self) -> RingCounters {
        self.counters
    }

    /// Closes a connection for breaking the rules and forgets it.
    fn close(&mut self, conn: ConnId, reason: CloseReason, now: Instant) {
        self.out.push_back(Output::Close(conn, reason));
        self.leave(conn, now);
    }

    /// Pairs a joining newcomer with its next introducer, or ends its attempt.
    /// `ended` is the introduction that just failed, if any, with why.
    fn introduce(&mut self, newcomer: ConnId, ended: Option<(IntroId, &str)>, now: Instant) {
        let Some(peer) = self.peers.get(&newcomer) else { return };
        let Role::Joining { tried, .. } = &peer.role else { return };
        let Some(ring) = self.rings.get(&peer.ring) else { return };
        let candidates: Vec<ConnId> = ring.introducers().filter(|c| *c != newcomer && !tried.contains(c)).collect();
        let can_try = (tried.len() as u64) < u64::from(self.policy.tries);
        if can_try && !candidates.is_empty() {
            let introducer = candidates[self.rng.below(candidates.len() as u64) as usize];
            return self.open_intro(newcomer, introducer, now);
        }
        let alone = ring.introducers().all(|c| c == newcomer);
        let ring_name = peer.ring.clone();
        if let Some((intro, reason)) = ended {
            let reason = format!("{reason}; no introduction left to try");
            self.out.push_back(Output::Send(newcomer, ServerMsg::IntroFailed { intro, reason }));
        }
        let role = if alone {
            if let Some(r) = self.rings.get_mut(&ring_name) {
                r.founder = Some(newcomer);
            }
            // The connection task fills in the ICE servers, minted for its peer (ws.rs).
            let welcome = ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers: vec![] };
            self.out.push_back(Output::Send(newcomer, welcome));
            Role::Founder
        } else {
            Role::Failed
        };
        if let Some(p) = self.peers.get_mut(&newcomer) {
            p.role = role;
        }
    }

    /// Starts an introduction between a joining newcomer and an introducer.
    fn open_intro(&mut self, newcomer: ConnId, introducer: ConnId, now: Instant) {
        let (Some(newcomer_id), Some(introducer_id)) =
            (self.peers.get(&newcomer).map(|p| p.id), self.peers.get(&introducer).map(|p| p.id))
        else {
            return;
        };
        let intro_id = self.next_intro;
        self.next_intro += 1;
        let intro = Intro::new(newcomer, introducer, now, self.policy.timeout, self.policy.lifetime);
        self.timers.insert((intro.deadline(), intro_id));
        self.intros.insert(intro_id, intro);
        if let Some(Peer { role: Role::Joining { intro: current, tried }, .. }) = self.peers.get_mut(&newcomer) {
            *current = Some(intro_id);
            tried.push(introducer);
        }
        if let Some(p) = self.peers.get_mut(&introducer) {
            p.introducing.insert(intro_id);
        }
        self.counters.introductions += 1;
        self.out.push_back(Output::Send(introducer, ServerMsg::Introduce { intro: intro_id, newcomer: newcomer_id }));
        let (intro, introducer) = (Some(intro_id), Some(introducer_id));
        // The connection task fills in the ICE servers, minted for its peer (ws.rs).
        let welcome = ServerMsg::Welcome { first: false, intro, introducer, ice_servers: vec![] };
        self.out.push_back(Output::Send(newcomer, welcome));
    }

    /// Removes an introduction and every reference to it.
    fn end_intro(&mut self, intro_id: IntroId) -> Option<Intro> {
        let intro = self.intros.remove(&intro_id)?;
        self.timers.remove(&(intro.deadline(), intro_id));
        if let Some(p) = self.peers.get_mut(&intro.introducer) {
            p.introducing.remove(&intro_id);
        }
        if let Some(Peer { role: Role::Joining { intro: current, .. }, .. }) = self.peers.get_mut(&intro.newcomer) {
            if *current == Some(intro_id) {
                *current = None;
            }
        }
        Some(intro)
    }

    /// Ends an introduction that failed and moves its newcomer on.
    fn abandon(&mut self, intro_id: IntroId, reason: &str, tell_introducer: bool, now: Instant) {
        let Some(intro) = self.end_intro(intro_id) else { return };
        self.counters.introductions_failed += 1;
        if tell_introducer && self.peers.contains_key(&intro.introducer) {
            let msg = ServerMsg::IntroFailed { intro: intro_id, reason: reason.to_owned() };
            self.out.push_back(Output::Send(intro.introducer, msg));
        }
        self.introduce(intro.newcomer, Some((intro_id, reason)), now);
    }
}

#[cfg(test)]
#[path = "rings_tests.rs"]
mod tests;
