//! The Chord node: a sans-IO state machine.
//!
//! A [`Node`] owns its successor list, predecessor, finger table, stored
//! records and pending requests. It never reads a clock, never does IO and
//! draws randomness only from the seed in its constructor. The driver feeds it
//! three kinds of input, each with the current time:
//!
//! * messages from peers: [`Node::handle_message`] (or [`Node::handle_bytes`] for raw frames),
//! * timer expiries: [`Node::handle_timeout`] once [`Node::poll_timeout`] has passed,
//! * local commands: [`Node::create`], [`Node::join`], [`Node::put`], [`Node::get`],
//!   [`Node::lookup`], [`Node::leave`];
//!
//! and after each input drains [`Node::poll_output`] (messages to send, events
//! for the application), then asks [`Node::poll_timeout`] when to wake it next.
//!
//! ```no_run
//! use chord::{Node, Config, Id, Millis, Output};
//! # fn now() -> Millis { Millis(0) }
//! # fn send(_: Id, _: Vec<u8>) {}
//! # fn recv() -> Option<(Id, Vec<u8>)> { None }
//! let mut node = Node::new(Id::key_of("me"), Config::default(), 42);
//! node.create(now()).unwrap();
//! loop {
//!     if let Some((from, bytes)) = recv() {
//!         let _ = node.handle_bytes(now(), from, &bytes);
//!     }
//!     if node.poll_timeout().is_some_and(|t| t <= now()) {
//!         node.handle_timeout(now());
//!     }
//!     while let Some(out) = node.poll_output() {
//!         match out {
//!             Output::Send { to, msg } => send(to, msg.encode().unwrap()),
//!             Output::Event(ev) => println!("{ev:?}"),
//!         }
//!     }
//! }
//! ```
//!
//! # Routing: recursive, acknowledged hop by hop
//!
//! A lookup travels from node to node ([`Message::Route`]) and its answer comes
//! back along the same path ([`Message::RouteReply`]). We route recursively, not
//! iteratively, because in the browser every peer a node talks to needs a WebRTC
//! connection of its own: recursive routing only ever uses links a node already
//! keeps (fingers, successors, predecessor), whereas iterative routing would
//! open a connection from the origin to every hop. Each hop acknowledges
//! receipt ([`Message::RouteAck`]); a hop that does not acknowledge within
//! its deadline (its measured answer time within `rpc_timeout_ms` and
//! `rpc_timeout_max_ms`, see `rtt.rs`) is retried, then treated as dead: it is removed from the
//! finger table and successor list and the request is routed around it.
//!
//! # Requests in flight: one value each
//!
//! Everything this node waits for — a routed lookup, put, get, join, finger
//! fix or stray lookup, a direct question (a stabilize round, a predecessor
//! check, a probe, a replica fetch, a rescue, a merge check), a batch of
//! records waiting for its receipt, a get held while its successors confirm
//! it — is one value in one map keyed by its request number, owning its own
//! state and deadline, and ending as a whole (see `request.rs`, after
//! rust-libp2p's kad queries). What the node is doing — stabilizing, fixing
//! finger i, rescuing, checking a merge candidate — is read from that map,
//! never kept in flags beside it: a flag reset by hand on every exit path was
//! once left set on one (fuzz finding F4: a finger fix answered with the wrong
//! kind of result stayed "running", and fingers were never fixed again). The
//! hops a node forwards for other origins are kept apart: they are keyed by
//! the origin's numbers, not ours.
//!
//! # Maintenance: Zave's corrected Chord
//!
//! Invariants the node maintains (checked by the simulator after every event):
//!
//! * **OrderedSuccessorLists** — a successor list is strictly increasing in
//!   clockwise distance from its owner and never contains the owner
//!   ([`SuccessorList::adopt`] cuts a neighbour's list where it wraps).
//! * **OneOrderedRing** — following each member's first live successor yields
//!   exactly one cycle, and its ids wrap around the circle exactly once.
//! * **Ordered appendages** — a node that is not (yet) on the cycle reaches it
//!   through successors that stay in clockwise order.
//!
//! They hold as long as the failure model holds: no node loses all r entries of
//! its successor list before it stabilizes. The rules that keep them:
//!
//! * *Join* copies the successor's list (after checking the successor is alive)
//!   and starts with no predecessor.
//! * *Stabilize* asks the first successor s for its predecessor p and list; it
//!   adopts p only after p itself answered (never an unchecked pointer).
//! * *Rectify* (Zave's replacement for notify): a node accepts a would-be
//!   predecessor only if it lies between the current predecessor and itself,
//!   or there is none; a dead predecessor is cleared by check-predecessor.
//! * *Fix fingers* sets a finger only from the answer of the responsible node.
//!
//! [`SuccessorList::adopt`]: crate::successors::SuccessorList::adopt

mod confirm;
mod data;
mod fallback;
mod forwarded;
mod maintenance;
mod request;
mod routing;
mod rtt;
mod stats;
mod timers;
mod transport;
mod unify;

pub use confirm::MAX_CONFIRMS;
pub use stats::{DropReason, Stats};
pub use unify::{MAX_LOST, MAX_MERGE_QUEUE};

use crate::config::Config;
use crate::error::{CommandError, RequestError};
use crate::finger::FingerTable;
use crate::id::Id;
use crate::message::{DecodeError, Message, Op, ReqId};
use crate::rng::SeededRng;
use crate::store::{Record, Store, Version};
use crate::successors::SuccessorList;
use crate::time::Millis;
use request::{Answer, Pending, Query, QueryPurpose, QueryStep, ReqKind, RouteReq, StoreWait};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use std::collections::VecDeque;
use timers::{Timer, Timers, Token};

/// Where the node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Not in a ring (new, or it lost every successor and must rejoin).
    Idle,
    /// Looking for its successor through a known member, or (with
    /// [`Config::rescue`]) through its nearest finger after every successor died.
    Joining,
    /// A member of the ring.
    Joined,
    /// It left gracefully; it accepts nothing more.
    Left,
}

/// Something the node wants the driver to do or know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send `msg` to peer `to`.
    Send {
        /// The peer.
        to: Id,
        /// The message.
        msg: Message,
    },
    /// Tell the application.
    Event(Event),
}

/// What happened, for the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The node joined (or created) a ring.
    Joined {
        /// Its first successor (itself when it created the ring).
        successor: Id,
    },
    /// Joining failed.
    JoinFailed {
        /// Why.
        error: RequestError,
    },
    /// A lookup finished.
    LookupDone {
        /// The request.
        req: ReqId,
        /// What was looked up.
        target: Id,
        /// Its successor.
        node: Id,
        /// Path length.
        hops: u16,
    },
    /// A put was stored by the key's primary.
    PutDone {
        /// The request.
        req: ReqId,
        /// The key.
        key: Id,
        /// The primary that stored it.
        node: Id,
        /// The version the value got.
        version: Version,
        /// Path length.
        hops: u16,
    },
    /// A get was answered.
    GetDone {
        /// The request.
        req: ReqId,
        /// The key.
        key: Id,
        /// The record, or `None` if nothing is stored under the key.
        record: Option<Record>,
        /// The node that answered.
        node: Id,
        /// The answering node's replicas (other holders of a blob's bytes).
        replicas: Vec<Id>,
        /// Path length.
        hops: u16,
    },
    /// A lookup, put or get failed.
    RequestFailed {
        /// The request.
        req: ReqId,
        /// Its key.
        target: Id,
        /// Why.
        error: RequestError,
    },
    /// The first successor changed.
    SuccessorChanged {
        /// The new first successor.
        successor: Option<Id>,
    },
    /// The predecessor changed.
    PredecessorChanged {
        /// The new predecessor.
        predecessor: Option<Id>,
    },
    /// This node now holds `record` (new key, or a newer version). Only with
    /// [`Config::store_events`]: lets a driver persist records and fetch a
    /// blob's bytes from `from` (`None` for a put this node committed).
    Stored {
        /// The record as held now.
        record: Record,
        /// The peer it came from.
        from: Option<Id>,
    },
    /// This node no longer holds `key` (handed on). Only with [`Config::store_events`].
    Dropped {
        /// The key.
        key: Id,
        /// The digest of the record it held.
        digest: Id,
    },
    /// Every successor is gone: the node is out of the ring and should join
    /// again through a member the driver knows (records are kept).
    LostRing,
    /// The node left the ring.
    Left,
}

/// A forwarded route waiting for its receipt.
#[derive(Clone, Debug)]
pub(crate) struct HopWait {
    next: Id,
    /// The peer the route came from (`None`: it started here).
    from: Option<Id>,
    /// The route as sent to `next` (to resend it unchanged).
    sent: crate::message::Route,
    /// Whether the route arrived here as a last hop (to route it again around a dead hop).
    arrived_last_hop: bool,
    /// Whether forwarding counted a hop.
    counted: bool,
    token: Token,
    attempts: u32,
    /// When the route was last sent to `next`.
    sent_at: Millis,
    /// When it was first sent to `next` (a receipt is an answer-time sample
    /// only if it was sent once).
    first_sent: Millis,
    /// Waits extended because `next` was heard from meanwhile.
    extensions: u32,
}

/// How often a wait for a peer's answer is extended because the peer was
/// heard from meanwhile (it is alive, its answer is queued behind other
/// traffic). Bounds how long a peer that talks but never answers is kept.
pub const MAX_ALIVE_EXTENSIONS: u32 = 4;

/// Mixed into the node's seed for its request-number stream.
const REQ_SEED_SALT: u64 = 0x7265_7175_6573_7473;
/// Request numbers fit in 53 bits (JavaScript's exact integers).
const REQ_MASK: u64 = (1 << 53) - 1;

/// Most peers remembered in [`Node::heard_from`]'s table.
const MAX_HEARD: usize = 4096;

/// A Chord node. See the [module docs](self) for the driver loop and invariants.
#[derive(Debug)]
pub struct Node {
    id: Id,
    cfg: Config,
    rng: SeededRng,
    status: Status,
    predecessor: Option<Id>,
    /// The last predecessor known, kept after it died: it bounds hand-overs.
    last_predecessor: Option<Id>,
    /// A node that asked to be our predecessor while we were checking the current one.
    rectify_candidate: Option<Id>,
    /// Our predecessor's predecessors, nearest first (from its `Pong`), at most R.
    /// A hint: it only decides which records we count as strays, never routing.
    earlier: Vec<Id>,
    successors: SuccessorList,
    fingers: FingerTable,
    next_finger: usize,
    store: Store,
    timers: Timers,
    /// Draws request numbers (a stream of its own, so that drawing them
    /// leaves the timing jitter of `rng` unchanged).
    req_rng: SeededRng,
    /// Every request in flight that this node issued, one value each, by
    /// request number (see `request.rs`): routed requests, queries, stores
    /// waiting for receipts, gets held while confirmed. Whether the node is
    /// stabilizing, fixing a finger or rescuing is read from here.
    requests: HashMap<ReqId, Pending>,
    /// Routes forwarded for other origins, waiting for the next hop's receipt.
    hops: HashMap<(Id, ReqId), HopWait>,
    /// Routes forwarded for others: their answers go back only along these hops.
    forwarded: forwarded::Forwarded,
    /// When the predecessor last changed (`None`: not since the node was built).
    pred_changed_at: Option<Millis>,
    /// Peers declared dead or lost, probed for ring unification.
    lost: unify::LostList,
    /// The last few peers that announced they were leaving (`Leaving`), newest
    /// last: a way back into the ring must not go through them.
    departed: VecDeque<Id>,
    /// Merge candidates being checked or waiting.
    merging: unify::Merging,
    /// When each peer was last heard from (any frame).
    heard: HashMap<Id, Millis>,
    /// Peers the transport found unreachable, and when (see `node/transport.rs`).
    gone: transport::Gone,
    /// Answer-time estimates per peer: how long to wait for each.
    answer_times: rtt::AnswerTimes,
    out: VecDeque<Output>,
    stats: Stats,
}

impl Node {
    /// A node with id `id` that draws its randomness from `seed`.
    pub fn new(id: Id, cfg: Config, seed: u64) -> Node {
        let successors = SuccessorList::new(id, cfg.successors);
        Node {
            id,
            rng: SeededRng::new(seed),
            status: Status::Idle,
            predecessor: None,
            last_predecessor: None,
            rectify_candidate: None,
            earlier: Vec::new(),
            successors,
            fingers: FingerTable::new(),
            next_finger: 0,
            store: Store::default(),
            timers: Timers::default(),
            req_rng: SeededRng::new(seed ^ REQ_SEED_SALT),
            requests: HashMap::default(),
            hops: HashMap::default(),
            forwarded: forwarded::Forwarded::default(),
            pred_changed_at: None,
            lost: unify::LostList::default(),
            departed: VecDeque::new(),
            merging: unify::Merging::default(),
            heard: HashMap::default(),
            gone: transport::Gone::default(),
            answer_times: rtt::AnswerTimes::default(),
            out: VecDeque::new(),
            stats: Stats::default(),
            cfg,
        }
    }

    /// A node placed directly into a converged ring (the simulator's ideal
    /// state). For the simulator and tests only (feature `sim`).
    #[cfg(any(test, feature = "sim"))]
    pub fn with_ring_state(
        id: Id,
        cfg: Config,
        seed: u64,
        predecessor: Option<Id>,
        successors: &[Id],
        fingers: FingerTable,
        now: Millis,
    ) -> Node {
        let mut n = Node::new(id, cfg, seed);
        if let Some((head, tail)) = successors.split_first() {
            n.successors.adopt(*head, tail);
        }
        n.predecessor = predecessor;
        n.last_predecessor = predecessor;
        n.fingers = fingers;
        n.status = Status::Joined;
        n.start_maintenance(now);
        n
    }

    /// The node's id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// Life-cycle status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Predecessor, if known.
    pub fn predecessor(&self) -> Option<Id> {
        self.predecessor
    }

    /// Successor list, nearest first.
    pub fn successors(&self) -> &[Id] {
        self.successors.as_slice()
    }

    /// The finger table.
    pub fn fingers(&self) -> &FingerTable {
        &self.fingers
    }

    /// Records held.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Message counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Timers, routed requests and queries outstanding (for leak checks).
    pub fn pending(&self) -> usize {
        self.requests.len() + self.hops.len() + self.merging.len() + self.timers.len()
    }

    /// Our predecessor followed by the predecessors it told us of, at most R.
    pub(crate) fn predecessor_list(&self) -> Vec<Id> {
        let mut list: Vec<Id> = self.predecessor.into_iter().chain(self.earlier.iter().copied()).collect();
        list.truncate(self.cfg.replicas.clamp(1, crate::message::MAX_SUCCESSORS));
        list
    }

    /// Next output, if any. Drain after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        let out = self.out.pop_front();
        if out.is_none() && self.out.capacity() > 0 {
            // Give the buffer back: an idle node then holds no output memory, and
            // the allocator hands the same (cache-warm) block to the next busy node.
            self.out = VecDeque::new();
        }
        out
    }

    /// When [`Node::handle_timeout`] must be called next.
    pub fn poll_timeout(&mut self) -> Option<Millis> {
        let t = self.timers.next_deadline();
        if t.is_none() {
            self.timers.clear();
        }
        if self.hops.is_empty() && self.hops.capacity() > 0 {
            self.hops = HashMap::default();
        }
        t
    }

    /// Tells the node that `peer` just sent traffic the node does not see
    /// itself (file chunks, in the browser): its answers may be queued behind
    /// that traffic on the same channel, so a late answer from it is waited
    /// for a little longer (at most [`MAX_ALIVE_EXTENSIONS`] times) instead of
    /// declaring it dead. Chord messages do not count: a peer that talks but
    /// does not answer (one that lost its ring and is joining again) must be
    /// dropped as before.
    pub fn heard_from(&mut self, now: Millis, peer: Id) {
        if self.heard.len() >= MAX_HEARD && !self.heard.contains_key(&peer) {
            let recent = Millis(now.0.saturating_sub(60_000));
            self.heard.retain(|_, t| *t >= recent);
            if self.heard.len() >= MAX_HEARD {
                self.heard.clear();
            }
        }
        self.heard.insert(peer, now);
    }

    /// How long to wait for `peer`'s answer or receipt: its measured answer
    /// time (see `node/rtt.rs`) within [`Config::rpc_timeout_ms`,
    /// `Config::rpc_timeout_max_ms`].
    pub(crate) fn deadline(&self, peer: &Id) -> u64 {
        self.answer_times.deadline(peer, self.cfg.rpc_timeout_ms, self.cfg.rpc_timeout_max_ms)
    }

    /// Whether `peer` was heard from at or after `t`.
    pub(crate) fn heard_since(&self, peer: &Id, t: Millis) -> bool {
        self.heard.get(peer).is_some_and(|h| *h >= t)
    }

    /// Decodes a frame from `from` and handles it. Frames that do not decode
    /// are counted (see [`Node::stats`]) and the reason returned.
    pub fn handle_bytes(&mut self, now: Millis, from: Id, bytes: &[u8]) -> Result<(), DecodeError> {
        match Message::decode(bytes) {
            Ok(msg) => {
                self.handle_message(now, from, msg);
                Ok(())
            }
            Err(e) => {
                self.stats.count_drop(match e {
                    DecodeError::Empty | DecodeError::Malformed(_) => DropReason::Malformed,
                    DecodeError::Oversized(_) => DropReason::Oversized,
                    DecodeError::Version(_) => DropReason::Version,
                    DecodeError::Limit(_) => DropReason::Limit,
                });
                Err(e)
            }
        }
    }

    /// Handles a decoded message from peer `from`.
    pub fn handle_message(&mut self, now: Millis, from: Id, msg: Message) {
        if self.status == Status::Left || from == self.id {
            self.stats.count_drop(DropReason::NotJoined);
            return;
        }
        if msg.check_limits().is_err() {
            self.stats.count_drop(DropReason::Limit);
            return;
        }
        self.stats.received += 1;
        self.gone.heard(&from);
        if !self.departed.is_empty() && !matches!(msg, Message::Leaving { .. }) {
            self.forget_departed(&from);
        }
        match msg {
            Message::GetNeighbors { req } => self.on_get_neighbors(from, req),
            Message::Neighbors { req, predecessor, successors } => self.on_neighbors(now, from, req, predecessor, successors),
            Message::Rectify => self.on_rectify(now, from),
            Message::SuccessorsChanged => self.on_successors_changed(now, from),
            // Only a member answers: a node that lost its ring and is joining
            // again must look dead to the neighbours that still list it (as it
            // does to their stabilize), or their probes and check-predecessor
            // keep it, routes wait on it, and a split spreads into a collapse.
            // A rescuing node (see `Node::rescue`) is alive, and back at once: it answers.
            Message::Ping { .. } if self.status != Status::Joined && !self.rescuing() => self.stats.count_drop(DropReason::NotJoined),
            Message::Ping { req } => {
                let predecessors = self.predecessor_list();
                self.send(from, Message::Pong { req, predecessors })
            }
            Message::Pong { req, predecessors } => self.on_pong(now, from, req, predecessors),
            Message::Leaving { predecessor, successors } => self.on_leaving(now, from, predecessor, successors),
            Message::Route(r) => self.on_route(now, from, r),
            Message::RouteAck { origin, req } => self.on_route_ack(now, from, origin, req),
            Message::RouteReply(r) => self.on_route_reply(now, from, r),
            Message::Store { req, reason, records } => self.on_store(now, from, req, reason, records),
            Message::StoreAck { req } => self.on_store_ack(from, req),
            Message::SyncRange { lo, hi, summary } => self.on_sync_range(now, from, lo, hi, summary),
            Message::Fetch { req, key } => self.on_fetch(from, req, key),
            Message::Fetched { req, record } => self.on_fetched(now, from, req, record),
            Message::Merge { node, hops } => self.on_merge(now, from, node, hops),
        }
    }

    /// Fires every timer due at `now`.
    ///
    /// A reply deadline that fires more than half an rpc timeout late says
    /// that this node was not running (a busy or frozen tab): the answers may
    /// be waiting in its own inbox. Such a deadline is set again from `now`
    /// and counts no attempt, so a node that stalls never declares its live
    /// neighbours dead. The simulator never fires a timer late.
    pub fn handle_timeout(&mut self, now: Millis) {
        while let Some((at, t)) = self.timers.pop_due(now) {
            let late = now.0.saturating_sub(at.0) > self.cfg.rpc_timeout_ms / 2;
            match t {
                Timer::Stabilize => self.on_stabilize_timer(now),
                Timer::FixFingers => self.on_fix_fingers_timer(now),
                Timer::CheckPredecessor => self.on_check_predecessor_timer(now),
                Timer::Replicate => self.on_replicate_timer(now),
                Timer::Probe => self.on_probe_timer(now),
                Timer::Unify => self.on_unify_timer(now),
                Timer::Deadline(req) => self.on_deadline(now, req, late),
                Timer::Hop(origin, req) => self.on_hop_timeout(now, origin, req, late),
            }
        }
    }

    /// Starts a new ring with this node as its only member.
    pub fn create(&mut self, now: Millis) -> Result<(), CommandError> {
        if matches!(self.status, Status::Joined | Status::Joining) {
            return Err(CommandError::AlreadyJoined);
        }
        self.status = Status::Joined;
        self.start_maintenance(now);
        self.emit(Event::Joined { successor: self.id });
        Ok(())
    }

    /// Looks up the successor of `target`. Answered by [`Event::LookupDone`].
    pub fn lookup(&mut self, now: Millis, target: Id) -> Result<ReqId, CommandError> {
        self.start_request(now, ReqKind::Lookup, target, Op::FindSuccessor)
    }

    /// Stores `value` under `key`. Answered by [`Event::PutDone`].
    pub fn put(&mut self, now: Millis, key: Id, value: Vec<u8>) -> Result<ReqId, CommandError> {
        self.put_op(now, key, String::new(), value)
    }

    /// Stores `value` under the SHA-1 of `name`, keeping the name with it.
    /// Answered by [`Event::PutDone`].
    pub fn put_named(&mut self, now: Millis, name: String, value: Vec<u8>) -> Result<ReqId, CommandError> {
        if name.len() > crate::store::MAX_NAME_BYTES {
            return Err(CommandError::NameTooLong(name.len()));
        }
        self.put_op(now, Id::key_of(&name), name, value)
    }

    fn put_op(&mut self, now: Millis, key: Id, name: String, value: Vec<u8>) -> Result<ReqId, CommandError> {
        if value.len() > crate::message::MAX_VALUE_BYTES {
            return Err(CommandError::ValueTooLarge(value.len()));
        }
        self.start_request(now, ReqKind::Put, key, Op::Put { name, value })
    }

    /// Commits a blob whose bytes this node's driver now holds, as the key's
    /// primary would commit a routed put from `writer`: gives it the next
    /// version, keeps it and pushes it to the replicas.
    pub fn commit_blob(&mut self, now: Millis, blob: &crate::store::Blob, writer: Id) -> Result<Version, CommandError> {
        if self.status != Status::Joined {
            return Err(CommandError::NotJoined);
        }
        if blob.size == 0 || blob.size > crate::store::MAX_BLOB_BYTES {
            return Err(CommandError::BlobSize(blob.size));
        }
        if blob.name.len() > crate::store::MAX_NAME_BYTES || (!blob.name.is_empty() && Id::key_of(&blob.name) != blob.key) {
            return Err(CommandError::NameTooLong(blob.name.len()));
        }
        self.commit(now, blob.key, writer, |version| Record::blob(blob, version)).map_err(|_| CommandError::StoreFull)
    }

    /// Takes back records this node held before (say, kept across a reload
    /// of its tab). They are merged like a hand-over, so newer versions in
    /// the ring win, and replication and anti-entropy carry them to where
    /// they belong. Returns how many were kept.
    pub fn restore(&mut self, now: Millis, records: Vec<Record>) -> usize {
        let mut kept = 0;
        for r in records {
            if !r.is_intact() || (self.store.get(&r.key).is_none() && self.store.len() >= self.cfg.max_records) {
                continue;
            }
            if self.merge_record(r, None) != crate::store::Merge::Kept {
                kept += 1;
            }
        }
        if self.status == Status::Joined && kept > 0 {
            self.replicate(now, None);
        }
        kept
    }

    /// Fetches the value under `key`. Answered by [`Event::GetDone`].
    pub fn get(&mut self, now: Millis, key: Id) -> Result<ReqId, CommandError> {
        self.start_request(now, ReqKind::Get, key, Op::Get)
    }

    fn send(&mut self, to: Id, msg: Message) {
        self.stats.sent += 1;
        self.out.push_back(Output::Send { to, msg });
    }

    fn emit(&mut self, ev: Event) {
        self.out.push_back(Output::Event(ev));
    }

    /// A request number no pending request, query or store uses. Random,
    /// so that a peer off a request's path cannot guess it and answer in the
    /// addressee's place (finding F3); below 2⁵³, so that JavaScript numbers
    /// carry it exactly; never 0.
    fn fresh_req(&mut self) -> ReqId {
        loop {
            let r = self.req_rng.next_u64() & REQ_MASK;
            if r != 0 && !self.requests.contains_key(&ReqId::new(r)) {
                return ReqId::new(r);
            }
        }
    }

    /// A jittered period, so that nodes started together do not stay in step.
    fn period(&mut self, mean: u64) -> u64 {
        self.rng.jitter(mean, 0.5)
    }

    /// Runs `f` and reports a change of first successor or predecessor. When
    /// the replica set or our own range changed, replicates at once instead of
    /// at the next pass: the window in which a key has fewer than R copies is
    /// what decides whether churn loses it.
    fn watch_neighbours(&mut self, now: Millis, f: impl FnOnce(&mut Self)) {
        let succ = self.successors.first();
        let pred = self.predecessor;
        let replicas = self.cfg.replicas.saturating_sub(1);
        let before: Vec<Id> = self.successors.as_slice().to_vec();
        f(self);
        if self.status == Status::Joined && self.successors.as_slice() != before.as_slice() {
            // Our predecessor's list is ours shifted by one: let it stabilize now
            // rather than at its next period, so a change runs back along the
            // ring in message latency instead of r stabilize periods.
            if let Some(p) = self.predecessor.filter(|p| *p != self.id) {
                self.send(p, Message::SuccessorsChanged);
            }
        }
        if let Some(s) = succ.filter(|s| !self.successors.contains(s)) {
            // Our first successor left our list without being declared dead
            // (a node that answered for itself did not list it): it may be
            // alive in another ring. Remember it for ring unification.
            self.remember_lost(now, s);
        }
        if self.successors.first() != succ {
            let successor = self.successors.first();
            self.emit(Event::SuccessorChanged { successor });
        }
        if self.predecessor != pred {
            self.pred_changed_at = Some(now);
            self.earlier.clear();
            let predecessor = self.predecessor;
            self.emit(Event::PredecessorChanged { predecessor });
        }
        let targets_changed = self.successors.as_slice().iter().take(replicas).ne(before.iter().take(replicas));
        let range_grew = pred.is_some() && self.predecessor.is_none();
        if self.status == Status::Joined && !self.store.is_empty() && (targets_changed || range_grew) {
            self.replicate(now, None);
        }
    }
}
