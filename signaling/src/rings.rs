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
//! * A peer whose hello says `member: true` (a member reconnecting: the server
//!   restarted, or its socket dropped) is a member at once. If the ring has
//!   other introducers, it gets a *meeting* with a random one: an introduction
//!   in which it offers, exactly like a newcomer, so that two rings of the same
//!   name formed apart get a link between them. Otherwise it gets
//!   `welcome{first:false}` without an introduction. A meeting relays signals
//!   like an introduction, but never moves on to another introducer and never
//!   makes anyone founder. Its announcer's `member` does not end it; it ends
//!   when it expires (nobody is told once the introducer has answered: the
//!   server cannot see whether the link formed, so this is no failure), when
//!   the introducer stays silent (the announcer gets `intro_failed`), or when a
//!   party leaves (the other gets `intro_failed`). Meetings have their own
//!   counters.
//! * During the *grace* period after the server starts, a newcomer whose hello
//!   reaches a ring with no introducer is *held*: no answer yet, since the
//!   server may have restarted under a ring whose members have not reconnected
//!   yet. When a member announces itself (`hello{member:true}`, or `member`
//!   from a held peer, which is how a reconnecting tab that predates the
//!   `member` field speaks), every held newcomer of its ring is introduced, to
//!   it or another introducer. When the grace period ends, the ring's first
//!   held newcomer founds it and the others are introduced to it. Holding
//!   applies to hellos only: a newcomer whose introductions all fail is
//!   answered as outside the grace period.

use crate::config::deadline;
use crate::error::CloseReason;
use crate::intro::{ConnId, Intro, Party, Purpose};
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

/// The grace period after the server starts (see [`crate::Config::grace`]).
#[derive(Clone, Copy, Debug)]
pub struct Grace {
    /// When the server started.
    pub started: Instant,
    /// How long after `started` a newcomer to a ring without introducers is
    /// held; zero: never.
    pub length: Duration,
}

/// Where a connected peer stands.
#[derive(Clone, Debug)]
enum Role {
    /// Said hello during the grace period to a ring with no introducer; waits,
    /// unanswered, for a member to announce itself or the grace period to end.
    Held,
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
    /// The meeting this peer announced itself with, while it is open.
    meeting: Option<IntroId>,
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
    /// Held newcomers, oldest first (bounded by the ring's size limit).
    held: Vec<ConnId>,
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
    /// When the grace period ends; `None` if there is none.
    grace_end: Option<Instant>,
    /// Newcomers held now, over all rings.
    held: usize,
    out: VecDeque<Output>,
    counters: RingCounters,
}

impl Rings {
    /// Empty state with at most `max_per_ring` peers per ring; `seed` fixes
    /// the choice of introducers; `grace` is the server's start and grace period.
    pub fn new(policy: IntroPolicy, max_per_ring: usize, seed: u64, grace: Grace) -> Rings {
        Rings {
            policy,
            max_per_ring,
            rng: SeededRng::new(seed),
            next_intro: IntroId(1),
            peers: HashMap::new(),
            rings: HashMap::new(),
            intros: HashMap::new(),
            timers: BTreeSet::new(),
            grace_end: (!grace.length.is_zero()).then(|| deadline(grace.started, grace.length)),
            held: 0,
            out: VecDeque::new(),
            counters: RingCounters::default(),
        }
    }

    /// A connection said hello (already validated: version and ring name);
    /// `member` is the hello's flag: the peer is already in the ring.
    pub fn hello(&mut self, conn: ConnId, ring: &str, id: Id, member: bool, now: Instant) {
        // Newcomers held until now were there first.
        self.end_grace_if_over(now);
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
        let in_grace = self.in_grace(now);
        let r = self.rings.entry(ring.to_owned()).or_default();
        r.ids.insert(id, conn);
        let hold = !member && in_grace && r.introducers().next().is_none();
        let role = if hold {
            r.held.push(conn);
            self.held += 1;
            self.counters.held_newcomers += 1;
            Role::Held
        } else {
            Role::Joining { intro: None, tried: Vec::new() }
        };
        let peer = Peer { ring: ring.to_owned(), id, role, introducing: BTreeSet::new(), meeting: None };
        self.peers.insert(conn, peer);
        if member {
            self.counters.member_hellos += 1;
            self.announce(conn, now);
        } else if !hold {
            self.introduce(conn, None, now);
        }
    }

    /// A connection reported that it is part of its ring.
    pub fn member(&mut self, conn: ConnId, now: Instant) {
        let Some(peer) = self.peers.get_mut(&conn) else {
            return self.close(conn, CloseReason::NoHello, now);
        };
        let previous = std::mem::replace(&mut peer.role, Role::Member);
        let ring = peer.ring.clone();
        match previous {
            // Its meeting, if any, goes on.
            Role::Member => return,
            Role::Held => {
                // A reconnecting member that did not say so in its hello.
                self.unhold(conn, &ring);
                return self.announce(conn, now);
            }
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
        // A peer whose introductions had failed may have been the ring's only
        // peer when newcomers were held; they now have an introducer.
        self.release_held(&ring, now);
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
        let (before, answered) = (intro.deadline(), intro.introducer_answered());
        if !intro.record_signal(party, now, self.policy.timeout) {
            return self.close(conn, CloseReason::TooManySignals(intro_id), now);
        }
        if intro.purpose == Purpose::Meeting && !answered && intro.introducer_answered() {
            self.counters.meetings_answered += 1;
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
    /// another introducer; an introducer it was talking to is told, and so is
    /// the other party of a meeting. A held newcomer is forgotten.
    pub fn leave(&mut self, conn: ConnId, now: Instant) {
        if matches!(self.peers.get(&conn), Some(Peer { role: Role::Held, .. })) {
            let ring = self.peers[&conn].ring.clone();
            self.unhold(conn, &ring);
        }
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
        if let Some(meeting) = peer.meeting {
            self.end_meeting(meeting, Some((Party::Introducer, "the member that announced itself left")));
        }
        for intro_id in peer.introducing {
            match self.intros.get(&intro_id).map(|i| i.purpose) {
                Some(Purpose::Meeting) => self.end_meeting(intro_id, Some((Party::Newcomer, "the member met left"))),
                _ => self.abandon(intro_id, "the introducer left", false, now),
            }
        }
        if self.rings.get(&peer.ring).is_some_and(|r| r.ids.is_empty()) {
            self.rings.remove(&peer.ring);
        }
    }

    /// Runs every deadline that has passed at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.end_grace_if_over(now);
        while let Some(&(at, intro_id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(intro) = self.intros.get(&intro_id) else { continue };
            let silent = intro.introducer_silent(now);
            if intro.purpose == Purpose::Meeting {
                // Only an unanswered meeting is worth telling its announcer about.
                let tell = (!intro.introducer_answered()).then_some((Party::Newcomer, "the member did not answer"));
                self.end_meeting(intro_id, tell);
            } else if silent {
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
        let grace = self.grace_end.filter(|_| self.held > 0);
        self.timers.first().map(|&(at, _)| at).into_iter().chain(grace).min()
    }

    /// Newcomers held now, over all rings.
    pub fn held_count(&self) -> usize {
        self.held
    }

    /// How much of the grace period is left at `now` (zero once over, or if
    /// there is none).
    pub fn grace_left(&self, now: Instant) -> Duration {
        self.grace_end.map_or(Duration::ZERO, |end| end.saturating_duration_since(now))
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
            return self.open_intro(newcomer, introducer, Purpose::Join, now);
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

    /// Makes `conn` a member and answers its hello: a meeting with a random
    /// other introducer if the ring has one, else a welcome without
    /// introduction. Then every newcomer held in its ring is introduced.
    fn announce(&mut self, conn: ConnId, now: Instant) {
        let Some(peer) = self.peers.get_mut(&conn) else { return };
        peer.role = Role::Member;
        let name = peer.ring.clone();
        let Some(ring) = self.rings.get_mut(&name) else { return };
        let others: Vec<ConnId> = ring.introducers().filter(|&c| c != conn).collect();
        ring.members.insert(conn);
        if others.is_empty() {
            // The connection task fills in the ICE servers, minted for its peer (ws.rs).
            let welcome = ServerMsg::Welcome { first: false, intro: None, introducer: None, ice_servers: vec![] };
            self.out.push_back(Output::Send(conn, welcome));
        } else {
            let other = others[self.rng.below(others.len() as u64) as usize];
            self.open_intro(conn, other, Purpose::Meeting, now);
        }
        self.release_held(&name, now);
    }

    /// Whether `now` is within the grace period.
    fn in_grace(&self, now: Instant) -> bool {
        self.grace_end.is_some_and(|end| now < end)
    }

    /// Once the grace period is over, answers every held newcomer, ring by
    /// ring in name order (so that a seed fixes every choice).
    fn end_grace_if_over(&mut self, now: Instant) {
        if self.held == 0 || self.in_grace(now) {
            return;
        }
        let mut names: Vec<String> = self.rings.iter().filter(|(_, r)| !r.held.is_empty()).map(|(name, _)| name.clone()).collect();
        names.sort_unstable();
        for name in names {
            self.release_held(&name, now);
        }
    }

    /// Answers the held newcomers of ring `name`, oldest first, as if each had
    /// just said hello: the first founds the ring if it has no introducer, and
    /// the others are introduced.
    fn release_held(&mut self, name: &str, now: Instant) {
        let Some(ring) = self.rings.get_mut(name) else { return };
        let held = std::mem::take(&mut ring.held);
        self.held -= held.len();
        for conn in held {
            if let Some(p) = self.peers.get_mut(&conn) {
                p.role = Role::Joining { intro: None, tried: Vec::new() };
            }
            self.introduce(conn, None, now);
        }
    }

    /// Forgets that `conn` is held in ring `name` (its role is left to the caller).
    fn unhold(&mut self, conn: ConnId, name: &str) {
        if let Some(ring) = self.rings.get_mut(name) {
            let before = ring.held.len();
            ring.held.retain(|&c| c != conn);
            self.held -= before - ring.held.len();
        }
    }

    /// Starts an introduction between an offering peer (a joining newcomer, or
    /// the announcer of a meeting) and an introducer.
    fn open_intro(&mut self, newcomer: ConnId, introducer: ConnId, purpose: Purpose, now: Instant) {
        let (Some(newcomer_id), Some(introducer_id)) = (self.peers.get(&newcomer).map(|p| p.id), self.peers.get(&introducer).map(|p| p.id))
        else {
            return;
        };
        let intro_id = self.next_intro;
        self.next_intro = IntroId(intro_id.0 + 1);
        let intro = Intro::new(newcomer, introducer, purpose, now, self.policy.timeout, self.policy.lifetime);
        self.timers.insert((intro.deadline(), intro_id));
        self.intros.insert(intro_id, intro);
        match (purpose, self.peers.get_mut(&newcomer)) {
            (Purpose::Join, Some(Peer { role: Role::Joining { intro: current, tried }, .. })) => {
                *current = Some(intro_id);
                tried.push(introducer);
                self.counters.introductions += 1;
            }
            (Purpose::Meeting, Some(p)) => {
                p.meeting = Some(intro_id);
                self.counters.meetings += 1;
            }
            _ => {}
        }
        if let Some(p) = self.peers.get_mut(&introducer) {
            p.introducing.insert(intro_id);
        }
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
        if let Some(p) = self.peers.get_mut(&intro.newcomer) {
            if let Role::Joining { intro: current, .. } = &mut p.role {
                if *current == Some(intro_id) {
                    *current = None;
                }
            }
            if p.meeting == Some(intro_id) {
                p.meeting = None;
            }
        }
        Some(intro)
    }

    /// Ends a meeting, telling the party `tell` names (if still connected)
    /// why, and counts it if the introducer never answered.
    fn end_meeting(&mut self, intro_id: IntroId, tell: Option<(Party, &str)>) {
        let Some(intro) = self.end_intro(intro_id) else { return };
        if !intro.introducer_answered() {
            self.counters.meetings_unanswered += 1;
        }
        if let Some((party, reason)) = tell {
            let to = match party {
                Party::Newcomer => intro.newcomer,
                Party::Introducer => intro.introducer,
            };
            if self.peers.contains_key(&to) {
                let msg = ServerMsg::IntroFailed { intro: intro_id, reason: reason.to_owned() };
                self.out.push_back(Output::Send(to, msg));
            }
        }
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
