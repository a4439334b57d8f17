//! What the fuzz targets share: a fuzz-side description of Chord messages
//! (derived with `arbitrary`, so libFuzzer mutates structure rather than
//! postcard bytes), the ids they may name, and the invariants every node must
//! keep whatever it was fed.
//!
//! Ids are mostly drawn from a small pool — the ring's members, the receiver,
//! a few strangers, points just beside a member — because Chord's decisions
//! turn on interval tests between known ids: random 160-bit ids would almost
//! never land between two members and the interesting branches would stay cold.

use arbitrary::Arbitrary;
use chord::message::{Op, RangeSummary, ReqId, Route, RouteFailure, RouteReply, RouteResult, StoreReason};
use chord::{Id, Message, Node, Record, Version};

/// The ids a fuzz input can name.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Members of the ring, ascending.
    pub ring: Vec<Id>,
    /// Ids that are in no ring (outsiders, Sybils).
    pub strangers: Vec<Id>,
}

impl Ctx {
    /// A context over `ring` (sorted here) with `strangers` outsiders.
    pub fn new(mut ring: Vec<Id>, strangers: usize) -> Ctx {
        ring.sort_unstable();
        let strangers = (0..strangers).map(|k| Id::key_of(&format!("stranger {k}"))).collect();
        Ctx { ring, strangers }
    }

    /// Resolves a fuzz id; `me` is the receiving node.
    pub fn id(&self, f: &FId, me: Id) -> Id {
        match *f {
            FId::Me => me,
            FId::Ring(i) => self.ring[i as usize % self.ring.len()],
            FId::Stranger(i) => self.strangers[i as usize % self.strangers.len()],
            FId::NearMe(delta) => {
                let d = Id::from_u64(u64::from(delta.unsigned_abs()) + 1);
                if delta < 0 {
                    me.wrapping_sub(&d)
                } else {
                    me.wrapping_add(&d)
                }
            }
            FId::Near { base, delta } => {
                let b = self.ring[base as usize % self.ring.len()];
                let d = Id::from_u64(u64::from(delta.unsigned_abs()));
                if delta < 0 {
                    b.wrapping_sub(&d)
                } else {
                    b.wrapping_add(&d)
                }
            }
            FId::Raw(bytes) => Id(bytes),
        }
    }

    fn ids(&self, fs: &[FId], me: Id) -> Vec<Id> {
        fs.iter().map(|f| self.id(f, me)).collect()
    }
}

/// An id, as a fuzz input names it.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum FId {
    /// The receiving node.
    Me,
    /// A ring member, by index.
    Ring(u8),
    /// An outsider, by index.
    Stranger(u8),
    /// The receiving node shifted by a small amount, never zero (just before
    /// or after it: a would-be predecessor or successor).
    NearMe(i8),
    /// A ring member shifted by a small amount (lands inside or just outside its intervals).
    Near {
        /// Which member.
        base: u8,
        /// How far, clockwise if positive.
        delta: i8,
    },
    /// Any id.
    Raw([u8; 20]),
}

/// A request number: small ones hit the node's own counters, raw ones anything.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum FReq {
    /// 0..=255.
    Small(u8),
    /// Any.
    Raw(u64),
}

impl FReq {
    pub fn get(self) -> u64 {
        match self {
            FReq::Small(v) => u64::from(v),
            FReq::Raw(v) => v,
        }
    }

    /// As a Chord request number.
    pub fn req(self) -> ReqId {
        ReqId::new(self.get())
    }
}

/// A record name.
#[derive(Clone, Debug, Arbitrary)]
pub enum FName {
    /// No name (the writer gave a key).
    Empty,
    /// One of 256 fixed names.
    Fixed(u8),
    /// Any text.
    Any(String),
}

impl FName {
    pub fn get(&self) -> String {
        match self {
            FName::Empty => String::new(),
            FName::Fixed(i) => format!("file {i}"),
            FName::Any(s) => s.clone(),
        }
    }
}

/// How a record's body is made.
#[derive(Clone, Debug, Arbitrary)]
pub enum FBody {
    /// Inline bytes with their true size and digest.
    Inline(Vec<u8>),
    /// A blob manifest (no bytes).
    Blob {
        /// Claimed size.
        size: u64,
        /// Claimed digest.
        digest: FId,
    },
    /// Inline bytes whose size or digest lies.
    Corrupt {
        /// The bytes.
        value: Vec<u8>,
        /// Claimed size.
        size: u64,
        /// Claimed digest.
        digest: FId,
    },
}

/// A record.
#[derive(Clone, Debug, Arbitrary)]
pub struct FRecord {
    /// The name.
    pub name: FName,
    /// Take the key from the name (else from `key`).
    pub key_from_name: bool,
    /// The key when not taken from the name.
    pub key: FId,
    /// Version sequence number.
    pub seq: u64,
    /// Version writer.
    pub writer: FId,
    /// The body.
    pub body: FBody,
}

impl FRecord {
    /// The record this describes.
    pub fn get(&self, ctx: &Ctx, me: Id) -> Record {
        let name = self.name.get();
        let key = if self.key_from_name { Id::key_of(&name) } else { ctx.id(&self.key, me) };
        let version = Version { seq: self.seq, writer: ctx.id(&self.writer, me) };
        let (value, size, digest) = match &self.body {
            FBody::Inline(v) => (v.clone(), v.len() as u64, Id::hash(v)),
            FBody::Blob { size, digest } => (Vec::new(), *size, ctx.id(digest, me)),
            FBody::Corrupt { value, size, digest } => (value.clone(), *size, ctx.id(digest, me)),
        };
        Record { key, version, digest, size, name, value }
    }
}

/// A routed operation.
#[derive(Clone, Debug, Arbitrary)]
pub enum FOp {
    /// Find successor.
    FindSuccessor,
    /// Put.
    Put {
        /// Name.
        name: FName,
        /// Value.
        value: Vec<u8>,
    },
    /// Get.
    Get,
    /// Join (the target is the joiner).
    Join,
}

impl FOp {
    pub fn get(&self) -> Op {
        match self {
            FOp::FindSuccessor => Op::FindSuccessor,
            FOp::Put { name, value } => Op::Put { name: name.get(), value: value.clone() },
            FOp::Get => Op::Get,
            FOp::Join => Op::Join,
        }
    }
}

/// The result of a routed request.
#[derive(Clone, Debug, Arbitrary)]
pub enum FResult {
    /// Found.
    Found(FId),
    /// Stored.
    Stored {
        /// Primary.
        node: FId,
        /// Version sequence.
        seq: u64,
        /// Version writer.
        writer: FId,
    },
    /// Join point.
    JoinPoint {
        /// The joiner's successor-to-be.
        node: FId,
        /// Its predecessor.
        predecessor: Option<FId>,
        /// Its successor list.
        successors: Vec<FId>,
    },
    /// Value.
    Value {
        /// Answering node.
        node: FId,
        /// The record.
        record: Option<FRecord>,
        /// Replicas.
        replicas: Vec<FId>,
    },
    /// Failed.
    Failed {
        /// The node that gave up.
        node: FId,
        /// Which reason.
        reason: u8,
    },
}

impl FResult {
    /// The result this describes.
    pub fn get(&self, ctx: &Ctx, me: Id) -> RouteResult {
        match self {
            FResult::Found(n) => RouteResult::Found { node: ctx.id(n, me) },
            FResult::Stored { node, seq, writer } => {
                RouteResult::Stored { node: ctx.id(node, me), version: Version { seq: *seq, writer: ctx.id(writer, me) } }
            }
            FResult::JoinPoint { node, predecessor, successors } => RouteResult::JoinPoint {
                node: ctx.id(node, me),
                predecessor: predecessor.as_ref().map(|p| ctx.id(p, me)),
                successors: ctx.ids(successors, me),
            },
            FResult::Value { node, record, replicas } => RouteResult::Value {
                node: ctx.id(node, me),
                record: record.as_ref().map(|r| r.get(ctx, me)),
                replicas: ctx.ids(replicas, me),
            },
            FResult::Failed { node, reason } => RouteResult::Failed {
                node: ctx.id(node, me),
                reason: match reason % 4 {
                    0 => RouteFailure::NoRoute,
                    1 => RouteFailure::TooManyHops,
                    2 => RouteFailure::NotInRing,
                    _ => RouteFailure::StoreFull,
                },
            },
        }
    }
}

/// Why records are sent.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum FReason {
    /// Join hand-over.
    JoinHandover,
    /// Leave hand-over.
    LeaveHandover,
    /// Replica push.
    Replica,
    /// Anti-entropy.
    Sync,
}

/// A Chord message, as a fuzz input describes it.
#[derive(Clone, Debug, Arbitrary)]
pub enum FMsg {
    /// `GetNeighbors`.
    GetNeighbors(FReq),
    /// `Neighbors`.
    Neighbors {
        /// Request.
        req: FReq,
        /// Predecessor.
        predecessor: Option<FId>,
        /// Successor list.
        successors: Vec<FId>,
    },
    /// `Rectify`.
    Rectify,
    /// `SuccessorsChanged`.
    SuccessorsChanged,
    /// `Ping`.
    Ping(FReq),
    /// `Pong`.
    Pong {
        /// Request.
        req: FReq,
        /// Predecessor list.
        predecessors: Vec<FId>,
    },
    /// `Leaving`.
    Leaving {
        /// Predecessor.
        predecessor: Option<FId>,
        /// Successor list.
        successors: Vec<FId>,
    },
    /// `Route`.
    Route {
        /// Origin.
        origin: FId,
        /// Request.
        req: FReq,
        /// Target.
        target: FId,
        /// Hop count.
        hops: u16,
        /// Path so far.
        path: Vec<FId>,
        /// Append the sender to the path (as an honest hop does).
        sender_last: bool,
        /// Last hop flag.
        last_hop: bool,
        /// Operation.
        op: FOp,
    },
    /// `RouteAck`.
    RouteAck {
        /// Origin.
        origin: FId,
        /// Request.
        req: FReq,
    },
    /// `RouteReply`.
    RouteReply {
        /// Origin.
        origin: FId,
        /// Request.
        req: FReq,
        /// Way back.
        path: Vec<FId>,
        /// Hops.
        hops: u16,
        /// Result.
        result: FResult,
    },
    /// `Store`.
    Store {
        /// Request.
        req: FReq,
        /// Reason.
        reason: FReason,
        /// Records.
        records: Vec<FRecord>,
    },
    /// `StoreAck`.
    StoreAck(FReq),
    /// `SyncRange`.
    SyncRange {
        /// Range start.
        lo: FId,
        /// Range end.
        hi: FId,
        /// Claimed count.
        count: u64,
        /// Claimed hash.
        hash: FId,
    },
    /// `Fetch`.
    Fetch {
        /// Request.
        req: FReq,
        /// Key.
        key: FId,
    },
    /// `Fetched`.
    Fetched {
        /// Request.
        req: FReq,
        /// The copy claimed.
        record: Option<FRecord>,
    },
    /// `Merge` (ring unification): "place this node in your ring".
    Merge {
        /// The node to place.
        node: FId,
        /// Forwarding steps claimed so far.
        hops: u16,
    },
}

impl FMsg {
    /// The message this describes, sent by `from` to `me`.
    pub fn get(&self, ctx: &Ctx, me: Id, from: Id) -> Message {
        let id = |f: &FId| ctx.id(f, me);
        match self {
            FMsg::GetNeighbors(req) => Message::GetNeighbors { req: req.req() },
            FMsg::Neighbors { req, predecessor, successors } => Message::Neighbors {
                req: req.req(),
                predecessor: predecessor.as_ref().map(id),
                successors: ctx.ids(successors, me),
            },
            FMsg::Rectify => Message::Rectify,
            FMsg::SuccessorsChanged => Message::SuccessorsChanged,
            FMsg::Ping(req) => Message::Ping { req: req.req() },
            FMsg::Pong { req, predecessors } => Message::Pong { req: req.req(), predecessors: ctx.ids(predecessors, me) },
            FMsg::Leaving { predecessor, successors } => {
                Message::Leaving { predecessor: predecessor.as_ref().map(id), successors: ctx.ids(successors, me) }
            }
            FMsg::Route { origin, req, target, hops, path, sender_last, last_hop, op } => {
                let mut path = ctx.ids(path, me);
                if *sender_last {
                    path.push(from);
                }
                Message::Route(Route {
                    origin: id(origin),
                    req: req.req(),
                    target: id(target),
                    hops: *hops,
                    path,
                    last_hop: *last_hop,
                    op: op.get(),
                })
            }
            FMsg::RouteAck { origin, req } => Message::RouteAck { origin: id(origin), req: req.req() },
            FMsg::RouteReply { origin, req, path, hops, result } => Message::RouteReply(RouteReply {
                origin: id(origin),
                req: req.req(),
                path: ctx.ids(path, me),
                hops: *hops,
                result: result.get(ctx, me),
            }),
            FMsg::Store { req, reason, records } => Message::Store {
                req: req.req(),
                reason: match reason {
                    FReason::JoinHandover => StoreReason::JoinHandover,
                    FReason::LeaveHandover => StoreReason::LeaveHandover,
                    FReason::Replica => StoreReason::Replica,
                    FReason::Sync => StoreReason::Sync,
                },
                records: records.iter().map(|r| r.get(ctx, me)).collect(),
            },
            FMsg::StoreAck(req) => Message::StoreAck { req: req.req() },
            FMsg::SyncRange { lo, hi, count, hash } => {
                Message::SyncRange { lo: id(lo), hi: id(hi), summary: RangeSummary { count: *count, hash: id(hash) } }
            }
            FMsg::Fetch { req, key } => Message::Fetch { req: req.req(), key: id(key) },
            FMsg::Fetched { req, record } => Message::Fetched { req: req.req(), record: record.as_ref().map(|r| r.get(ctx, me)) },
            FMsg::Merge { node, hops } => Message::Merge { node: id(node), hops: *hops },
        }
    }
}

/// How to answer a message a node sent, as its addressee (honest or lying) would.
#[derive(Clone, Debug, Arbitrary)]
pub struct FAnswer {
    /// Which of the remembered messages to answer.
    pub pick: u8,
    /// The predecessor to claim (`Neighbors`).
    pub predecessor: Option<FId>,
    /// The list to claim (`Neighbors` successors, `Pong` predecessors, `Value` replicas).
    pub list: Vec<FId>,
    /// The result to give (`Route`); `None` sends only the receipt.
    pub result: Option<FResult>,
    /// The copy to give (`Fetch`).
    pub record: Option<FRecord>,
}

impl FAnswer {
    /// The answer from `to` to `msg` (which `me` sent to `to`), if it has one.
    pub fn get(&self, ctx: &Ctx, me: Id, msg: &Message) -> Vec<Message> {
        match msg {
            Message::GetNeighbors { req } => vec![Message::Neighbors {
                req: *req,
                predecessor: self.predecessor.as_ref().map(|f| ctx.id(f, me)),
                successors: ctx.ids(&self.list, me),
            }],
            Message::Ping { req } => vec![Message::Pong { req: *req, predecessors: ctx.ids(&self.list, me) }],
            Message::Store { req, .. } => vec![Message::StoreAck { req: *req }],
            Message::Fetch { req, .. } => vec![Message::Fetched { req: *req, record: self.record.as_ref().map(|r| r.get(ctx, me)) }],
            Message::Route(r) => {
                let mut out = vec![Message::RouteAck { origin: r.origin, req: r.req }];
                if let Some(result) = &self.result {
                    let mut path = r.path.clone();
                    // The answering node is the end of the path; the reply goes to the last hop.
                    path.pop();
                    out.push(Message::RouteReply(RouteReply {
                        origin: r.origin,
                        req: r.req,
                        path,
                        hops: r.hops,
                        result: result.get(ctx, me),
                    }));
                }
                out
            }
            _ => Vec::new(),
        }
    }
}

/// Checks what must hold of any node, whatever it was fed: Zave's
/// OrderedSuccessorLists, no self-pointers, tables within their sizes, a
/// store within its limit holding only intact records.
pub fn check_node(n: &Node) {
    let me = n.id();
    let cfg = n.config();
    let list = n.successors();
    assert!(list.len() <= cfg.successors.max(1), "successor list longer than r: {list:?}");
    let mut last = Id::ZERO;
    for s in list {
        let d = me.distance(s);
        // Strictly increasing from zero: also excludes the node itself.
        assert!(d > last, "successor list of {me:?} not ordered: {list:?}");
        last = d;
    }
    assert_ne!(n.predecessor(), Some(me), "a node is its own predecessor");
    let mut prev_end: Option<u8> = None;
    for r in n.fingers().runs() {
        assert!(r.start <= r.end && (r.end as usize) < chord::id::ID_BITS, "bad finger run {r:?}");
        assert!(prev_end.is_none_or(|e| e < r.start), "finger runs overlap: {:?}", n.fingers().runs());
        assert_ne!(r.node, me, "a node is its own finger");
        prev_end = Some(r.end);
    }
    let store = n.store();
    assert!(store.len() <= cfg.max_records, "store holds {} records, limit {}", store.len(), cfg.max_records);
    let mut bytes = 0;
    for r in store.records() {
        assert!(r.is_intact(), "stored a record that is not intact: {r:?}");
        bytes += r.value.len();
    }
    assert_eq!(bytes, store.bytes(), "store byte count drifted");
}

/// A link frame (an offer, answer or refusal travelling through the ring).
#[derive(Clone, Debug, Arbitrary)]
pub struct FEnvelope {
    /// For whom.
    pub to: FId,
    /// From whom.
    pub from: FId,
    /// Session number.
    pub session: u8,
    /// Relays.
    pub path: Vec<FId>,
    /// Body: 0 offer, 1 answer, 2 ICE restart, 3 offerer's candidate, 4 answerer's candidate, else refusal.
    pub kind: u8,
    /// SDP text.
    pub sdp: String,
}

impl FEnvelope {
    /// The envelope this describes.
    pub fn get(&self, ctx: &Ctx, me: Id) -> chord::link::Envelope {
        use chord::link::EnvelopeBody;
        chord::link::Envelope {
            to: ctx.id(&self.to, me),
            from: ctx.id(&self.from, me),
            session: u64::from(self.session),
            path: ctx.ids(&self.path, me),
            body: match self.kind % 6 {
                0 => EnvelopeBody::Offer(self.sdp.clone()),
                1 => EnvelopeBody::Answer(self.sdp.clone()),
                2 => EnvelopeBody::Restart(self.sdp.clone()),
                3 => EnvelopeBody::OfferCandidate(chord::ice::Candidate {
                    candidate: self.sdp.clone(),
                    sdp_mid: None,
                    sdp_m_line_index: None,
                }),
                4 => EnvelopeBody::AnswerCandidate(chord::ice::Candidate {
                    candidate: self.sdp.clone(),
                    sdp_mid: Some("0".into()),
                    sdp_m_line_index: Some(0),
                }),
                _ => EnvelopeBody::Refuse,
            },
        }
    }
}

/// A blob manifest.
#[derive(Clone, Debug, Arbitrary)]
pub struct FBlob {
    /// Name (the key is its hash unless `key` is given).
    pub name: FName,
    /// A key not derived from the name.
    pub key: Option<FId>,
    /// Size in bytes (up to 4 GiB: a quarter of them within the 1 GiB limit).
    pub size: u32,
    /// Digest.
    pub digest: FId,
}

impl FBlob {
    /// The blob this describes.
    pub fn get(&self, ctx: &Ctx, me: Id) -> chord::transfer::Blob {
        let name = self.name.get();
        let key = self.key.as_ref().map_or_else(|| Id::key_of(&name), |k| ctx.id(k, me));
        chord::transfer::Blob { key, name, size: u64::from(self.size), digest: ctx.id(&self.digest, me) }
    }
}

/// A transfer frame.
#[derive(Clone, Debug, Arbitrary)]
pub enum FXfer {
    /// Want a chunk.
    Want {
        /// Pull.
        pull: FReq,
        /// Blob digest.
        digest: FId,
        /// Chunk.
        index: u32,
    },
    /// A chunk.
    Chunk {
        /// Pull.
        pull: FReq,
        /// Chunk.
        index: u32,
        /// Bytes.
        bytes: Vec<u8>,
    },
    /// Missing.
    Missing(FReq),
    /// An offer to pull a blob.
    Offer {
        /// Put.
        put: FReq,
        /// Blob.
        blob: FBlob,
    },
    /// Withdraw.
    Withdraw(FReq),
    /// Committed.
    Committed {
        /// Put.
        put: FReq,
        /// Version sequence.
        seq: u64,
        /// Version writer.
        writer: FId,
    },
    /// Refused.
    Refused {
        /// Put.
        put: FReq,
        /// Reason.
        reason: u8,
    },
    /// An offer that is answered once `holders` tabs hold the bytes.
    OfferFor {
        /// Put.
        put: FReq,
        /// Blob.
        blob: FBlob,
        /// Holders asked for.
        holders: u8,
    },
    /// A replica holds a blob's bytes.
    Holding {
        /// The blob's key.
        key: FId,
        /// The blob's digest.
        digest: FId,
    },
    /// How many tabs hold a put's bytes.
    Copies {
        /// Put.
        put: FReq,
        /// Tabs claimed to hold the bytes.
        holders: u8,
        /// Tabs claimed to be the target.
        target: u8,
        /// Final count claimed.
        done: bool,
    },
    /// Part of a chunk.
    Part {
        /// Pull.
        pull: FReq,
        /// Chunk.
        index: u32,
        /// Where in the chunk.
        offset: u32,
        /// Bytes.
        bytes: Vec<u8>,
    },
}

impl FXfer {
    /// The transfer frame this describes.
    pub fn get(&self, ctx: &Ctx, me: Id) -> chord::transfer::XferMsg {
        use chord::transfer::{Refusal, XferMsg};
        match self {
            FXfer::Want { pull, digest, index } => {
                XferMsg::Want { pull: chord::transfer::PullId(pull.get()), digest: ctx.id(digest, me), index: *index }
            }
            FXfer::Chunk { pull, index, bytes } => {
                XferMsg::Chunk { pull: chord::transfer::PullId(pull.get()), index: *index, bytes: bytes.clone() }
            }
            FXfer::Missing(pull) => XferMsg::Missing { pull: chord::transfer::PullId(pull.get()) },
            FXfer::Offer { put, blob } => XferMsg::Offer { put: put.req(), blob: blob.get(ctx, me) },
            FXfer::Withdraw(put) => XferMsg::Withdraw { put: put.req() },
            FXfer::Committed { put, seq, writer } => {
                XferMsg::Committed { put: put.req(), version: Version { seq: *seq, writer: ctx.id(writer, me) } }
            }
            FXfer::Refused { put, reason } => XferMsg::Refused {
                put: put.req(),
                reason: match reason % 4 {
                    0 => Refusal::NotJoined,
                    1 => Refusal::StoreFull,
                    2 => Refusal::PullFailed,
                    _ => Refusal::Malformed,
                },
            },
            FXfer::OfferFor { put, blob, holders } => XferMsg::OfferFor { put: put.req(), blob: blob.get(ctx, me), holders: *holders },
            FXfer::Holding { key, digest } => XferMsg::Holding { key: ctx.id(key, me), digest: ctx.id(digest, me) },
            FXfer::Copies { put, holders, target, done } => {
                XferMsg::Copies { put: put.req(), holders: *holders, target: *target, done: *done }
            }
            FXfer::Part { pull, index, offset, bytes } => {
                XferMsg::Part { pull: chord::transfer::PullId(pull.get()), index: *index, offset: *offset, bytes: bytes.clone() }
            }
        }
    }
}
