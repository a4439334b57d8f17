//! The wire protocol: every message a peer sends to another peer.
//!
//! One module, shared by the node, the simulator, the browser peer and the
//! signaling server. A frame is one version byte ([`PROTOCOL_VERSION`]) followed
//! by the [postcard] encoding of a [`Message`]. Decoding checks the size first,
//! then the version, then the structure, then the limits below; it never panics
//! and never allocates more than the frame size allows.

use crate::id::Id;
// The store computes a range's summary and knows nothing of messages: this
// module depends on it, never the other way round (issue 15: no cycle).
pub use crate::store::RangeSummary;
use crate::store::{Record, Version, MAX_BLOB_BYTES, MAX_NAME_BYTES};
use serde::{Deserialize, Serialize};

/// Version byte at the start of every frame. Bump on any incompatible change.
pub const PROTOCOL_VERSION: u8 = 5;
/// Largest frame accepted or sent: Chromium's data-channel `maxMessageSize` (262144).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Largest value stored under one key by the core (bigger files are chunked above it).
pub const MAX_VALUE_BYTES: usize = 192 * 1024;
/// Most successor-list entries a message may carry.
pub const MAX_SUCCESSORS: usize = 32;
/// Most hops a routed request may take before it is answered with a failure.
pub const MAX_HOPS: usize = 96;
/// Most records one `Store` message may carry.
pub const MAX_RECORDS_PER_MESSAGE: usize = 4096;

/// A request number chosen by the node that sent the request; unique per
/// sender. A newtype, so that it cannot be mixed up with the other numbers
/// the layers above keep (links, pulls, introductions); on the wire it is the
/// bare `u64` it always was (`serde(transparent)`, see the test
/// `req_id_is_a_bare_u64_on_the_wire`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReqId(u64);

impl ReqId {
    /// The request number `n` (say, one a JavaScript caller handed back).
    pub const fn new(n: u64) -> ReqId {
        ReqId(n)
    }

    /// The number itself (for JavaScript, which knows it as a number).
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for ReqId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Everything one peer says to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// "Tell me your predecessor and successor list" (stabilize, join, candidate check).
    GetNeighbors {
        /// Echoed in the answer.
        req: ReqId,
    },
    /// Answer to [`Message::GetNeighbors`].
    Neighbors {
        /// The request this answers.
        req: ReqId,
        /// The sender's predecessor, if it has one.
        predecessor: Option<Id>,
        /// The sender's successor list, nearest first.
        successors: Vec<Id>,
    },
    /// "I believe I am your predecessor" (Zave's rectify; the receiver decides).
    Rectify,
    /// "My successor list changed": sent to the predecessor, which then
    /// stabilizes at once instead of at its next period. It carries nothing:
    /// the receiver asks its successor itself, so it adopts no pointer on the
    /// sender's word.
    SuccessorsChanged,
    /// Liveness probe (check predecessor, neighbour probes).
    Ping {
        /// Echoed in the answer.
        req: ReqId,
    },
    /// Answer to [`Message::Ping`].
    Pong {
        /// The request this answers.
        req: ReqId,
        /// The sender's predecessor and the predecessors it knows before that,
        /// nearest first: lets a node learn the R nodes before it, which bound
        /// the keys it should hold as a replica.
        predecessors: Vec<Id>,
    },
    /// The sender leaves the ring gracefully; its neighbours repair around it.
    Leaving {
        /// The leaver's predecessor.
        predecessor: Option<Id>,
        /// The leaver's successor list.
        successors: Vec<Id>,
    },
    /// A request routed recursively towards the node responsible for `target`.
    Route(Route),
    /// Hop-by-hop receipt for a [`Message::Route`]; lets the sender retry around a dead hop.
    RouteAck {
        /// Origin of the routed request.
        origin: Id,
        /// The origin's request number.
        req: ReqId,
    },
    /// The answer to a routed request, travelling back along the request's path.
    RouteReply(RouteReply),
    /// Records handed to the receiver (join hand-over, leave hand-over, replication).
    Store {
        /// Sender-chosen number echoed in [`Message::StoreAck`].
        req: ReqId,
        /// Why the records are sent.
        reason: StoreReason,
        /// The records; the receiver keeps the newer version of each key.
        records: Vec<Record>,
    },
    /// Receipt for [`Message::Store`]: the receiver now holds these versions (or newer).
    StoreAck {
        /// The `Store` request this answers.
        req: ReqId,
    },
    /// Anti-entropy: "this is what I hold of my own range `(lo, hi]`". The
    /// receiver (the sender's successor) answers with a `Store` of its records
    /// in that range if its own summary differs, so records that landed on the
    /// wrong node during churn find their way back to the primary.
    SyncRange {
        /// Start of the range (exclusive).
        lo: Id,
        /// End of the range (inclusive).
        hi: Id,
        /// Summary of the sender's records in the range.
        summary: RangeSummary,
    },
    /// "Send me your copy of `key`": a get whose primary answered with a
    /// record that fails its digest asks the primary's replicas directly.
    Fetch {
        /// Echoed in [`Message::Fetched`].
        req: ReqId,
        /// The key.
        key: Id,
    },
    /// Answer to [`Message::Fetch`]: the receiver's copy, if it holds one.
    Fetched {
        /// The `Fetch` this answers.
        req: ReqId,
        /// The record held under the key.
        record: Option<Record>,
    },
    /// Ring unification: "place `node` in your ring". Routed towards `node`
    /// like a lookup; the node `a` with `node` in `(a, successor(a))` asks
    /// `node` itself for its neighbours and only then adopts it as successor
    /// (so a forged `Merge` can make a node check a candidate, never adopt
    /// one), then sends its displaced successor on to `node` the same way.
    /// It stops where `node` already is the successor (same ring).
    Merge {
        /// The node to place.
        node: Id,
        /// Forwarding steps taken so far (bounded by [`MAX_HOPS`]).
        hops: u16,
    },
}

/// Why records are being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoreReason {
    /// A node joined in front of the sender and is now primary for these keys.
    JoinHandover,
    /// The sender is leaving; the receiver is now primary for these keys.
    LeaveHandover,
    /// The sender is primary and the receiver is one of its R−1 replicas.
    Replica,
    /// Anti-entropy answer to [`Message::SyncRange`].
    Sync,
}

/// A routed request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The node that issued the request.
    pub origin: Id,
    /// The origin's request number.
    pub req: ReqId,
    /// The key or point being looked up.
    pub target: Id,
    /// Nodes the lookup was forwarded through so far (the paper's path length).
    pub hops: u16,
    /// Nodes that held the request before the receiver, origin first: the way back.
    pub path: Vec<Id>,
    /// Set by the key's predecessor when it hands the request to the responsible node.
    pub last_hop: bool,
    /// What to do at the responsible node.
    pub op: Op,
}

/// The operation carried by a routed request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Return the successor of the target.
    FindSuccessor,
    /// Store a value under the target key.
    Put {
        /// The name the key was derived from (empty if the writer gave a key).
        name: String,
        /// The value.
        value: Vec<u8>,
    },
    /// Fetch the value under the target key.
    Get,
    /// A joining node (the target is its id) asks the node that will be its
    /// successor for that node's predecessor and successor list: the answer
    /// comes from the successor itself, so the joiner adopts a checked
    /// pointer without a round trip of its own (which, in a browser, would
    /// first need a WebRTC link to it).
    Join,
}

/// The answer to a routed request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteReply {
    /// The origin of the request.
    pub origin: Id,
    /// The origin's request number.
    pub req: ReqId,
    /// Remaining way back (the receiver pops the next node to pass it to).
    pub path: Vec<Id>,
    /// Path length of the lookup.
    pub hops: u16,
    /// The result.
    pub result: RouteResult,
}

/// What a routed request produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RouteResult {
    /// The successor of the target.
    Found {
        /// That node.
        node: Id,
    },
    /// A put was stored.
    Stored {
        /// The primary that stored it.
        node: Id,
        /// The version it was given.
        version: Version,
    },
    /// A join lookup was answered by the joiner's successor-to-be.
    JoinPoint {
        /// That node.
        node: Id,
        /// Its predecessor.
        predecessor: Option<Id>,
        /// Its successor list.
        successors: Vec<Id>,
    },
    /// A get was answered.
    Value {
        /// The node that answered.
        node: Id,
        /// The record, or `None` if the key is not stored.
        record: Option<Record>,
        /// The answering node's replicas (its first R−1 successors): where
        /// else to fetch a blob's bytes from.
        replicas: Vec<Id>,
    },
    /// Routing gave up.
    Failed {
        /// The node that gave up.
        node: Id,
        /// Why.
        reason: RouteFailure,
    },
}

/// Why a routed request could not be completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RouteFailure {
    /// Every candidate next hop was dead.
    #[error("no live next hop towards the key")]
    NoRoute,
    /// The request exceeded the hop limit.
    #[error("the lookup exceeded {MAX_HOPS} hops")]
    TooManyHops,
    /// The node holding the request is not (or no longer) part of the ring.
    #[error("the node is not part of the ring")]
    NotInRing,
    /// The responsible node has no room for another record.
    #[error("the responsible node's store is full")]
    StoreFull,
    /// A node on the path already held as many requests from its neighbour
    /// as it allows (`Config::max_forwarding_per_peer`).
    #[error("a node on the path is busy with too many requests from its neighbour")]
    Busy,
    /// The key's primary holds no record and could not confirm the absence
    /// with its replicas (some did not answer): retry, it is not "not found".
    #[error("the key's primary could not confirm the absence with its replicas")]
    NotSure,
}

/// Why bytes received from the network were not accepted as a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame was empty.
    #[error("empty frame")]
    Empty,
    /// The frame is larger than [`MAX_MESSAGE_BYTES`].
    #[error("frame of {0} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")]
    Oversized(usize),
    /// The version byte is not [`PROTOCOL_VERSION`].
    #[error("protocol version {0} is not supported (this peer speaks {PROTOCOL_VERSION})")]
    Version(u8),
    /// The bytes do not decode to a message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The message decoded but breaks a limit.
    #[error("message breaks a limit: {0}")]
    Limit(&'static str),
}

/// Why a message could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The encoded message would exceed [`MAX_MESSAGE_BYTES`].
    #[error("message of {0} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")]
    Oversized(usize),
    /// The serializer failed (should not happen for these types).
    #[error("cannot encode message: {0}")]
    Serialize(String),
}

impl Message {
    /// Encodes into one frame: version byte + postcard.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let framed = postcard::to_extend(self, vec![PROTOCOL_VERSION]).map_err(|e| EncodeError::Serialize(e.to_string()))?;
        if framed.len() > MAX_MESSAGE_BYTES {
            return Err(EncodeError::Oversized(framed.len()));
        }
        Ok(framed)
    }

    /// Decodes one frame, enforcing every limit. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(DecodeError::Oversized(bytes.len()));
        }
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::Version(version));
        }
        let (msg, rest): (Message, &[u8]) = postcard::take_from_bytes(body).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(DecodeError::Malformed(format!("{} trailing bytes", rest.len())));
        }
        msg.check_limits()?;
        Ok(msg)
    }

    /// Checks the limits a decoded message must respect.
    pub fn check_limits(&self) -> Result<(), DecodeError> {
        match self {
            Message::Neighbors { successors, .. } | Message::Leaving { successors, .. } if successors.len() > MAX_SUCCESSORS => {
                return Err(DecodeError::Limit("successor list too long"));
            }
            Message::Pong { predecessors, .. } if predecessors.len() > MAX_SUCCESSORS => {
                return Err(DecodeError::Limit("predecessor list too long"));
            }
            Message::Route(r) => {
                if r.path.len() > MAX_HOPS + 2 {
                    return Err(DecodeError::Limit("route path too long"));
                }
                if let Op::Put { value, name } = &r.op {
                    if value.len() > MAX_VALUE_BYTES {
                        return Err(DecodeError::Limit("value too large"));
                    }
                    if name.len() > MAX_NAME_BYTES {
                        return Err(DecodeError::Limit("name too long"));
                    }
                    // The primary would store a record it rejects as not intact.
                    if !name.is_empty() && Id::key_of(name) != r.target {
                        return Err(DecodeError::Limit("name does not hash to the key"));
                    }
                }
            }
            Message::RouteReply(r) => {
                if r.path.len() > MAX_HOPS + 2 {
                    return Err(DecodeError::Limit("reply path too long"));
                }
                if let RouteResult::Value { record, replicas, .. } = &r.result {
                    if record.as_ref().is_some_and(|rec| !record_within_limits(rec)) {
                        return Err(DecodeError::Limit("value too large"));
                    }
                    if replicas.len() > MAX_SUCCESSORS {
                        return Err(DecodeError::Limit("replica list too long"));
                    }
                }
                if let RouteResult::JoinPoint { successors, .. } = &r.result {
                    if successors.len() > MAX_SUCCESSORS {
                        return Err(DecodeError::Limit("successor list too long"));
                    }
                }
            }
            Message::Merge { hops, .. } if usize::from(*hops) > MAX_HOPS => {
                return Err(DecodeError::Limit("merge exceeded the hop limit"));
            }
            Message::Fetched { record: Some(r), .. } if !record_within_limits(r) => {
                return Err(DecodeError::Limit("value too large"));
            }
            Message::Store { records, .. } => {
                if records.len() > MAX_RECORDS_PER_MESSAGE {
                    return Err(DecodeError::Limit("too many records"));
                }
                if !records.iter().all(record_within_limits) {
                    return Err(DecodeError::Limit("value too large"));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Whether a record's sizes are within the limits (its integrity is checked by the node).
fn record_within_limits(r: &Record) -> bool {
    r.value.len() <= MAX_VALUE_BYTES && r.name.len() <= MAX_NAME_BYTES && r.size <= MAX_BLOB_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Vec<Message> {
        let a = Id::key_of("a");
        let b = Id::key_of("b");
        vec![
            Message::GetNeighbors { req: ReqId(7) },
            Message::Neighbors { req: ReqId(7), predecessor: Some(a), successors: vec![a, b] },
            Message::Rectify,
            Message::SuccessorsChanged,
            Message::Ping { req: ReqId(1) },
            Message::Pong { req: ReqId(1), predecessors: vec![a] },
            Message::Leaving { predecessor: None, successors: vec![b] },
            Message::Route(Route {
                origin: a,
                req: ReqId(3),
                target: b,
                hops: 2,
                path: vec![a],
                last_hop: false,
                op: Op::Put { name: String::new(), value: vec![1, 2, 3] },
            }),
            Message::RouteAck { origin: a, req: ReqId(3) },
            Message::RouteReply(RouteReply {
                origin: a,
                req: ReqId(3),
                path: vec![],
                hops: 2,
                result: RouteResult::Value {
                    node: b,
                    record: Some(Record::new(b, b"v".to_vec(), Version { seq: 1, writer: a })),
                    replicas: vec![a],
                },
            }),
            Message::Store { req: ReqId(9), reason: StoreReason::Replica, records: vec![] },
            Message::StoreAck { req: ReqId(9) },
            Message::SyncRange { lo: a, hi: b, summary: RangeSummary { count: 2, hash: a } },
            Message::Fetch { req: ReqId(5), key: b },
            Message::Fetched { req: ReqId(5), record: Some(Record::new(b, b"w".to_vec(), Version { seq: 2, writer: b })) },
            Message::Fetched { req: ReqId(6), record: None },
            Message::Merge { node: a, hops: 3 },
            Message::Route(Route { origin: a, req: ReqId(4), target: a, hops: 0, path: vec![], last_hop: false, op: Op::Join }),
            Message::RouteReply(RouteReply {
                origin: a,
                req: ReqId(4),
                path: vec![b],
                hops: 3,
                result: RouteResult::JoinPoint { node: b, predecessor: Some(a), successors: vec![a, b] },
            }),
            Message::RouteReply(RouteReply {
                origin: a,
                req: ReqId(5),
                path: vec![],
                hops: 1,
                result: RouteResult::Failed { node: b, reason: RouteFailure::NotSure },
            }),
        ]
    }

    #[test]
    fn round_trip_every_kind() {
        for m in sample() {
            let bytes = m.encode().expect("encodes");
            assert_eq!(bytes[0], PROTOCOL_VERSION);
            assert_eq!(Message::decode(&bytes), Ok(m));
        }
    }

    #[test]
    fn req_id_is_a_bare_u64_on_the_wire() {
        // The newtype must not change a byte: peers built before it still talk to us.
        assert_eq!(postcard::to_allocvec(&ReqId(300)).unwrap(), postcard::to_allocvec(&300u64).unwrap());
        // Version, variant 0 (`GetNeighbors`), then 300 as a varint.
        assert_eq!(Message::GetNeighbors { req: ReqId(300) }.encode().unwrap(), vec![PROTOCOL_VERSION, 0, 0xac, 0x02]);
    }

    #[test]
    fn rejects_bad_frames_with_reasons() {
        assert_eq!(Message::decode(&[]), Err(DecodeError::Empty));
        assert_eq!(Message::decode(&[99, 0]), Err(DecodeError::Version(99)));
        assert!(matches!(Message::decode(&[PROTOCOL_VERSION, 0xff, 0xff]), Err(DecodeError::Malformed(_))));
        let big = vec![PROTOCOL_VERSION; MAX_MESSAGE_BYTES + 1];
        assert_eq!(Message::decode(&big), Err(DecodeError::Oversized(MAX_MESSAGE_BYTES + 1)));
        let mut trailing = Message::Rectify.encode().unwrap();
        trailing.push(0);
        assert!(matches!(Message::decode(&trailing), Err(DecodeError::Malformed(_))));
    }

    #[test]
    fn enforces_limits_after_decoding() {
        let long = Message::Neighbors { req: ReqId(1), predecessor: None, successors: vec![Id::ZERO; MAX_SUCCESSORS + 1] };
        let bytes = long.encode().unwrap();
        assert_eq!(Message::decode(&bytes), Err(DecodeError::Limit("successor list too long")));
        let put = |len: usize| {
            Message::Route(Route {
                origin: Id::ZERO,
                req: ReqId(0),
                target: Id::ZERO,
                hops: 0,
                path: vec![],
                last_hop: false,
                op: Op::Put { name: String::new(), value: vec![0; len] },
            })
        };
        let bytes = put(MAX_VALUE_BYTES + 1).encode().unwrap();
        assert_eq!(Message::decode(&bytes), Err(DecodeError::Limit("value too large")));
        let too_big = put(MAX_MESSAGE_BYTES);
        assert!(matches!(too_big.encode(), Err(EncodeError::Oversized(_))));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Message::decode(&bytes);
        }

        #[test]
        fn decode_never_panics_on_versioned_garbage(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut bytes = vec![PROTOCOL_VERSION];
            bytes.extend(body);
            let _ = Message::decode(&bytes);
        }

        #[test]
        fn truncations_of_valid_frames_are_rejected_not_panics(i in 0usize..12, cut in 0usize..64) {
            let m = sample().swap_remove(i);
            let bytes = m.encode().unwrap();
            let cut = cut.min(bytes.len().saturating_sub(1));
            let r = Message::decode(&bytes[..cut]);
            prop_assert!(r.is_err());
        }
    }
}
