//! Deterministic discrete-event simulator driving real [`Node`]s.
//!
//! Every source of nondeterminism — message latency, loss, node ids, node
//! seeds, which node crashes — comes from one seeded generator, and events
//! are ordered by `(time, sequence number)`, so a seed replays exactly: a
//! failing seed is a reproducible bug report. Time jumps from event to event,
//! so a simulated hour of a 500-node ring takes seconds.
//!
//! The simulator also plays the bootstrap server: a node that lost every
//! successor (or whose join failed) is sent back through a random member, as
//! the signaling server would introduce it.
//!
//! Network partitions: [`Simulator::partition`] puts every node in a group;
//! while split, messages between groups are dropped (counted in
//! [`SimCounters::partitioned`], also those already in flight) and the
//! bootstrap stand-in introduces a node only to members of its own group
//! (each group has a server of its own). [`Simulator::heal`] ends the split.
//! While split, and after it until the members form one ring again, several
//! rings are expected and not counted as violations.
//!
//! [`invariants`] checks Zave's ring invariants and key safety; the
//! [`scenario`] module runs the experiments of the Chord paper.

pub mod correct;
pub mod ideal;
pub mod invariants;
pub mod network;
pub mod report;
// Scenarios time themselves and use threads: native only.
#[cfg(not(target_arch = "wasm32"))]
pub mod scenario;

use crate::config::Config;
use crate::id::Id;
use crate::message::Message;
use crate::node::{Event, Node, Output, Status};
use crate::rng::SeededRng;
use crate::time::Millis;
use invariants::Checker;
pub use network::NetModel;
use rustc_hash::FxHashMap as HashMap;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// How a simulation is set up.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed for everything random in the run.
    pub seed: u64,
    /// Configuration given to every node.
    pub node: Config,
    /// Latency and loss.
    pub net: NetModel,
    /// Check the ring invariants after every event (small rings only).
    pub check_every_event: bool,
    /// Encode and decode every message through the wire codec.
    pub encode: bool,
    /// Keep `SuccessorChanged` / `PredecessorChanged` events for the caller.
    pub keep_neighbour_events: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            node: Config::default(),
            net: NetModel::default(),
            check_every_event: false,
            encode: false,
            keep_neighbour_events: false,
        }
    }
}

/// Counters over a whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SimCounters {
    /// Events processed.
    pub events: u64,
    /// Messages sent by nodes.
    pub messages: u64,
    /// Messages the network lost.
    pub lost: u64,
    /// Messages that arrived at a crashed node.
    pub to_dead: u64,
    /// Invariant checks run.
    pub checks: u64,
    /// Invariant violations found (each one a bug).
    pub violations: u64,
    /// Breaches of the failure model (a node lost all r successors).
    pub breaches: u64,
    /// Times a node was re-introduced after losing the ring or failing to join.
    pub rejoins: u64,
    /// Messages nodes dropped as malformed, unsolicited, …
    pub dropped: u64,
    /// Messages dropped because sender and receiver were in different groups of a split.
    pub partitioned: u64,
}

// Deliveries are nearly every event: boxing the message would add an allocation to each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Ev {
    Deliver { to: usize, from: Id, msg: Message },
    Wake { node: usize },
    Rejoin { node: usize },
}

/// A heap entry: small, so that sifting does not move messages around.
/// The event itself waits in the simulator's slab at `slot`.
#[derive(Debug)]
struct Scheduled {
    at: Millis,
    seq: u64,
    slot: u32,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    // Reversed: BinaryHeap is a max-heap and we want the earliest event.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// One simulated node and what the simulator knows about it.
#[derive(Debug)]
pub struct SimNode {
    /// The node itself.
    pub node: Node,
    /// False once crashed or left.
    pub alive: bool,
    wake: Option<Millis>,
}

/// The simulator.
pub struct Simulator {
    /// Its configuration.
    pub cfg: SimConfig,
    now: Millis,
    rng: SeededRng,
    nodes: Vec<SimNode>,
    index: HashMap<Id, usize>,
    /// Alive, joined nodes (for random choices), with each node's position in it.
    members: Vec<usize>,
    member_pos: Vec<usize>,
    queue: BinaryHeap<Scheduled>,
    slab: Vec<Option<Ev>>,
    free: Vec<u32>,
    seq: u64,
    events: Vec<(usize, Event)>,
    /// Run counters.
    pub counters: SimCounters,
    checker: Checker,
    /// The first violations found, as text.
    pub violation_log: Vec<String>,
    /// Print every message to or from these nodes on stderr (debugging aid).
    pub trace: Vec<Id>,
    /// Each node's group (by handle) during a split.
    group: Vec<u32>,
    /// Whether the network is split into groups.
    split: bool,
    /// Several rings are expected: a split is on, or it healed and the rings
    /// have not become one yet.
    many_rings_expected: bool,
    /// When `Some`, messages to ids no simulated node has are kept here as
    /// `(from, to, message)` instead of vanishing: a test's outside peer
    /// (say, a hostile one) reads what the ring sends it.
    pub outside: Option<Vec<(Id, Id, Message)>>,
}

const NOT_MEMBER: usize = usize::MAX;

impl Simulator {
    /// An empty simulation.
    pub fn new(cfg: SimConfig) -> Simulator {
        Simulator {
            rng: SeededRng::new(cfg.seed),
            cfg,
            now: Millis::ZERO,
            nodes: Vec::new(),
            index: HashMap::default(),
            members: Vec::new(),
            member_pos: Vec::new(),
            queue: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            seq: 0,
            events: Vec::new(),
            counters: SimCounters::default(),
            checker: Checker::default(),
            violation_log: Vec::new(),
            trace: Vec::new(),
            group: Vec::new(),
            split: false,
            many_rings_expected: false,
            outside: None,
        }
    }

    /// Simulated time.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// The simulator's random source (for scenarios, so that runs stay seeded).
    pub fn rng(&mut self) -> &mut SeededRng {
        &mut self.rng
    }

    /// A fresh random id no node has.
    pub fn fresh_id(&mut self) -> Id {
        loop {
            let rng = &mut self.rng;
            let id = Id::from_words(|| rng.next_u64());
            if !self.index.contains_key(&id) {
                return id;
            }
        }
    }

    /// All nodes ever added (index = handle).
    pub fn nodes(&self) -> &[SimNode] {
        &self.nodes
    }

    /// The handle of the node with id `id`.
    pub fn handle_of(&self, id: &Id) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Handles of alive, joined nodes.
    pub fn members(&self) -> &[usize] {
        &self.members
    }

    /// A uniformly random member, if any.
    pub fn random_member(&mut self) -> Option<usize> {
        if self.members.is_empty() {
            return None;
        }
        let i = self.rng.below(self.members.len() as u64) as usize;
        Some(self.members[i])
    }

    /// Reserves room for `n` more nodes.
    pub fn reserve(&mut self, n: usize) {
        self.nodes.reserve(n);
        self.index.reserve(n);
        self.member_pos.reserve(n);
        self.members.reserve(n);
    }

    /// Adds a node (not yet in any ring) and returns its handle.
    pub fn add_node(&mut self, id: Id) -> usize {
        let seed = self.rng.next_u64();
        self.insert(Node::new(id, self.cfg.node.clone(), seed))
    }

    /// Adds a node built elsewhere (e.g. with ideal ring state).
    pub fn insert(&mut self, node: Node) -> usize {
        let h = self.nodes.len();
        self.index.insert(node.id(), h);
        self.nodes.push(SimNode { node, alive: true, wake: None });
        self.member_pos.push(NOT_MEMBER);
        self.group.push(0);
        self.after_io(h);
        h
    }

    /// Splits the network: node `h` goes to group `groups[h]` (nodes beyond
    /// the slice, and nodes added later, to group 0 unless [`Simulator::set_group`]
    /// says otherwise). Messages between groups are dropped until [`Simulator::heal`].
    pub fn partition(&mut self, groups: &[u32]) {
        for (h, g) in self.group.iter_mut().enumerate() {
            *g = groups.get(h).copied().unwrap_or(0);
        }
        self.split = true;
        self.many_rings_expected = true;
    }

    /// Puts node `h` in group `g` (a node added during a split).
    pub fn set_group(&mut self, h: usize, g: u32) {
        if let Some(x) = self.group.get_mut(h) {
            *x = g;
        }
    }

    /// Node `h`'s group.
    pub fn group_of(&self, h: usize) -> u32 {
        self.group.get(h).copied().unwrap_or(0)
    }

    /// Ends the split: every message is delivered again.
    pub fn heal(&mut self) {
        self.split = false;
    }

    /// Whether the network is split.
    pub fn is_split(&self) -> bool {
        self.split
    }

    /// Declares that several rings are expected (rings built apart on
    /// purpose, or split by an attack), until the members form one correct
    /// ring again: they are counted, not reported as violations.
    pub fn expect_many_rings(&mut self) {
        self.many_rings_expected = true;
    }

    /// Whether several rings are expected now (see the module docs).
    pub fn many_rings_expected(&self) -> bool {
        self.many_rings_expected
    }

    /// Whether a message from `from` may reach node `to` across the split.
    fn crosses_split(&self, from: &Id, to: usize) -> bool {
        self.split && self.index.get(from).is_some_and(|&f| self.group[f] != self.group[to])
    }

    /// Creates a ring at node `h`.
    pub fn create(&mut self, h: usize) {
        let now = self.now;
        // A fresh node is idle, so create cannot fail; a repeated call is a no-op.
        let _ = self.nodes[h].node.create(now);
        self.after_io(h);
    }

    /// Node `h` joins through node `via`.
    pub fn join(&mut self, h: usize, via: usize) {
        let now = self.now;
        let via = self.nodes[via].node.id();
        let _ = self.nodes[h].node.join(now, via);
        self.after_io(h);
    }

    /// Crashes node `h`: it stops at once, without telling anyone.
    pub fn crash(&mut self, h: usize) {
        self.nodes[h].alive = false;
        self.set_member(h, false);
    }

    /// Node `h` leaves gracefully.
    pub fn leave(&mut self, h: usize) {
        let now = self.now;
        let _ = self.nodes[h].node.leave(now);
        self.after_io(h);
        self.nodes[h].alive = false;
        self.set_member(h, false);
    }

    /// Runs a command on node `h` (lookup, put, get …) and processes its output.
    pub fn command<T>(&mut self, h: usize, f: impl FnOnce(&mut Node, Millis) -> T) -> T {
        let now = self.now;
        let r = f(&mut self.nodes[h].node, now);
        self.after_io(h);
        r
    }

    /// Delivers `msg` to node `to` in `delay_ms`, as sent by `from`, which may
    /// be any id: how a test's outside peer talks to the ring.
    pub fn deliver(&mut self, to: usize, from: Id, msg: Message, delay_ms: u64) {
        let at = self.now + delay_ms;
        self.schedule(at, Ev::Deliver { to, from, msg });
    }

    /// Takes the application events emitted since the last call, with the node that emitted each.
    pub fn take_events(&mut self) -> Vec<(usize, Event)> {
        std::mem::take(&mut self.events)
    }

    /// Whether any event is pending.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Time of the next event.
    pub fn next_event_time(&self) -> Option<Millis> {
        self.queue.peek().map(|s| s.at)
    }

    /// Processes one event. Returns false when there is none.
    pub fn step(&mut self) -> bool {
        let Some(s) = self.queue.pop() else { return false };
        self.now = self.now.max(s.at);
        self.counters.events += 1;
        let Some(ev) = self.slab[s.slot as usize].take() else { return true };
        self.free.push(s.slot);
        match ev {
            Ev::Deliver { to, from, msg } => {
                if !self.trace.is_empty() && (self.trace.contains(&from) || self.trace.contains(&self.nodes[to].node.id())) {
                    eprintln!("t={} {:?} -> {:?} (alive={}): {:?}", self.now.0, from, self.nodes[to].node.id(), self.nodes[to].alive, msg);
                }
                if !self.nodes[to].alive {
                    self.counters.to_dead += 1;
                } else if self.crosses_split(&from, to) {
                    self.counters.partitioned += 1;
                } else {
                    let now = self.now;
                    let node = &mut self.nodes[to].node;
                    if self.cfg.encode {
                        match msg.encode() {
                            Ok(bytes) => {
                                let _ = node.handle_bytes(now, from, &bytes);
                            }
                            Err(e) => self.violation(format!("node sent an unencodable message: {e}")),
                        }
                    } else {
                        node.handle_message(now, from, msg);
                    }
                    self.after_io(to);
                }
            }
            Ev::Wake { node } => {
                if self.nodes[node].alive && self.nodes[node].wake == Some(s.at) {
                    self.nodes[node].wake = None;
                    let now = self.now;
                    self.nodes[node].node.handle_timeout(now);
                    self.after_io(node);
                }
            }
            Ev::Rejoin { node } => self.rejoin(node),
        }
        if self.cfg.check_every_event {
            self.check();
        }
        true
    }

    /// Runs events until simulated time `t` (events at `t` included).
    pub fn run_until(&mut self, t: Millis) {
        while self.queue.peek().is_some_and(|s| s.at <= t) {
            self.step();
        }
        self.now = self.now.max(t);
    }

    /// Runs for `ms` of simulated time.
    pub fn run_for(&mut self, ms: u64) {
        let t = self.now + ms;
        self.run_until(t);
    }

    /// Checks the ring invariants now; returns the number of violations found.
    pub fn check(&mut self) -> usize {
        self.counters.checks += 1;
        let mut checker = std::mem::take(&mut self.checker);
        let outcome = checker.check(self);
        self.checker = checker;
        self.counters.breaches += outcome.new_breaches as u64;
        // After a heal, Zave's invariants are asserted again from the first
        // check that finds the members in one correct ring.
        if self.many_rings_expected
            && !self.split
            && outcome.rings == 1
            && outcome.violations.is_empty()
            && outcome.appendages_ordered
            && invariants::one_correct_ring(self)
        {
            self.many_rings_expected = false;
        }
        let n = outcome.violations.len();
        for v in outcome.violations {
            self.violation(v);
        }
        n
    }

    fn violation(&mut self, text: String) {
        self.counters.violations += 1;
        if self.violation_log.len() < 20 {
            self.violation_log.push(format!("t={}ms seed={}: {text}", self.now.0, self.cfg.seed));
        }
    }

    fn schedule(&mut self, at: Millis, ev: Ev) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(ev);
                slot
            }
            None => {
                self.slab.push(Some(ev));
                (self.slab.len() - 1) as u32
            }
        };
        self.queue.push(Scheduled { at, seq: self.seq, slot });
    }

    fn set_member(&mut self, h: usize, member: bool) {
        let pos = self.member_pos[h];
        if member && pos == NOT_MEMBER {
            self.member_pos[h] = self.members.len();
            self.members.push(h);
        } else if !member && pos != NOT_MEMBER {
            self.members.swap_remove(pos);
            if let Some(&moved) = self.members.get(pos) {
                self.member_pos[moved] = pos;
            }
            self.member_pos[h] = NOT_MEMBER;
        }
    }

    /// Carries out what node `h` asked for after an input.
    fn after_io(&mut self, h: usize) {
        while let Some(out) = self.nodes[h].node.poll_output() {
            match out {
                Output::Send { to, msg } => {
                    self.counters.messages += 1;
                    let Some(&dst) = self.index.get(&to) else {
                        // A peer id nobody has: the message goes nowhere, or to the outside peer.
                        self.counters.to_dead += 1;
                        if let Some(outside) = &mut self.outside {
                            outside.push((self.nodes[h].node.id(), to, msg));
                        }
                        continue;
                    };
                    match self.cfg.net.sample(&mut self.rng) {
                        Some(latency) => {
                            let from = self.nodes[h].node.id();
                            let at = self.now + latency;
                            self.schedule(at, Ev::Deliver { to: dst, from, msg });
                        }
                        None => self.counters.lost += 1,
                    }
                }
                Output::Event(ev) => match ev {
                    Event::LostRing | Event::JoinFailed { .. } => {
                        let at = self.now + 1_000;
                        self.schedule(at, Ev::Rejoin { node: h });
                        self.events.push((h, ev));
                    }
                    Event::SuccessorChanged { .. } | Event::PredecessorChanged { .. } => {
                        if self.cfg.keep_neighbour_events {
                            self.events.push((h, ev));
                        }
                    }
                    _ => self.events.push((h, ev)),
                },
            }
        }
        let joined = self.nodes[h].alive && self.nodes[h].node.status() == Status::Joined;
        if joined != (self.member_pos[h] != NOT_MEMBER) {
            self.set_member(h, joined);
        }
        if !self.nodes[h].alive {
            return;
        }
        let next = self.nodes[h].node.poll_timeout();
        let sn = &mut self.nodes[h];
        match (next, sn.wake) {
            (Some(t), Some(w)) if t >= w => {
                // An earlier wake is already queued; it will reschedule.
            }
            (Some(t), _) => {
                sn.wake = Some(t);
                self.schedule(t, Ev::Wake { node: h });
            }
            (None, _) => {
                // The queued wake (if any) is for a timer that was cancelled: let it lapse.
                sn.wake = None;
            }
        }
    }

    /// The bootstrap server's job: introduce an idle node to a random member.
    fn rejoin(&mut self, h: usize) {
        if !self.nodes[h].alive || self.nodes[h].node.status() != Status::Idle {
            return;
        }
        self.counters.rejoins += 1;
        // While split, each group has a server of its own that knows only its members.
        let g = self.group[h];
        let split = self.split;
        let others: Vec<usize> = self.members.iter().copied().filter(|m| *m != h && (!split || self.group[*m] == g)).collect();
        if others.is_empty() {
            self.create(h);
        } else {
            let via = others[self.rng.below(others.len() as u64) as usize];
            self.join(h, via);
        }
    }
}
