//! What a node waits for: every request in flight is one value.
//!
//! A request this node issued — a routed lookup, put, get, join, finger fix
//! or stray lookup ([`RouteReq`]), a direct question to one peer such as a
//! stabilize round, a check of the predecessor, a probe or a replica fetch
//! ([`Query`]), a batch of records waiting for its receipt ([`StoreWait`]),
//! or a get held at its primary while the successors confirm it
//! ([`Confirm`](super::confirm::Confirm)) — is one [`Pending`] value in one
//! map, `Node::requests`, keyed by its request number. Each value owns its
//! state and its deadline (a timer [`Timer::Deadline`] under the same
//! number), and decides itself what a timeout means ([`Query::on_timeout`],
//! [`RouteReq::may_retry`]), as rust-libp2p's kad lookups do. When it ends
//! — answered, failed, timed out, or dropped with the ring — it leaves the
//! map, and nothing else has to be reset.
//!
//! Why: a request's life used to be spread over six maps and four flags
//! (`stabilizing`, `restabilize`, `fixing_finger`, `rescuing`), each reset
//! by hand on every exit path. Fuzz finding F4 was one of them left set: a
//! finger fix whose answer was dropped stayed "running" for ever, and the
//! node never fixed a finger again. Now "stabilizing", "fixing finger i",
//! "rescuing" and "checking a merge candidate" are *derived* from what is in
//! flight (`Node::stabilizing` and friends), so they end when the request
//! ends, on every path. A stabilize round's "run another right after" wish
//! travels with the round itself ([`QueryPurpose::Stabilize`]`{ again }`).
//!
//! Not here: the hops a node forwards for other origins (`Node::hops`,
//! keyed by the origin's id and number, a key space this node does not
//! choose) and the answers it passes back (`forwarded.rs`).
//!
//! [`Timer::Deadline`]: super::timers::Timer::Deadline

use super::confirm::Confirm;
use super::fallback::Fallback;
use super::timers::Token;
use super::MAX_ALIVE_EXTENSIONS;
use crate::config::Config;
use crate::id::Id;
use crate::message::{Op, ReqId};
use crate::store::Version;
use crate::time::Millis;

/// One request in flight (see the module docs).
#[derive(Clone, Debug)]
pub(crate) enum Pending {
    /// A routed request this node issued (boxed, as `Confirm`: queries,
    /// the most common kind, are half its size).
    Route(Box<RouteReq>),
    /// A direct question to one peer.
    Query(Query),
    /// Records sent, waiting for their receipt.
    Store(StoreWait),
    /// A get held at its primary (this node) while its successors are asked
    /// (boxed: it holds the route and a record, and every entry of the map
    /// is as large as its largest kind).
    Confirm(Box<Confirm>),
}

/// What the origin of a routed request is waiting for.
#[derive(Clone, Debug)]
pub(crate) enum ReqKind {
    Lookup,
    Put,
    Get,
    /// Looking up our own successor to join.
    Join {
        via: Id,
    },
    /// Fixing finger `i`.
    FixFinger(usize),
    /// Finding the primary of a stray record we hold (see `return_strays`).
    Stray,
}

/// A routed request this node issued, waiting for the answer to come back
/// along its path. A retry is sent under a new number (the old one's answer,
/// if it still comes, is then unsolicited); the application keeps knowing it
/// by `user_req`.
#[derive(Clone, Debug)]
pub(crate) struct RouteReq {
    pub(super) kind: ReqKind,
    pub(super) target: Id,
    pub(super) op: Op,
    pub(super) token: Token,
    pub(super) attempts: u32,
    /// The id the application knows this request by (stable across retries).
    pub(super) user_req: ReqId,
    /// The peer this attempt was handed to first. The answer travels the
    /// route's path back, so its last step comes from this peer; an answer
    /// from anyone else is forged (finding F3) and dropped.
    pub(super) first_hop: Option<Id>,
}

impl RouteReq {
    /// A request not sent yet.
    pub(super) fn new(kind: ReqKind, target: Id, op: Op, user_req: ReqId) -> Self {
        RouteReq { kind, target, op, token: Token::default(), attempts: 0, user_req, first_hop: None }
    }

    /// Whether an attempt that failed may be tried again: attempts are left,
    /// and the node is still where the request makes sense (joined, or still
    /// joining for a join).
    pub(super) fn may_retry(&self, cfg: &Config, joined: bool, joining: bool) -> bool {
        self.attempts <= cfg.request_retries && (joined || matches!(self.kind, ReqKind::Join { .. }) && joining)
    }

    /// Whether the application is told how it ends (the node's own
    /// maintenance lookups it is not).
    pub(super) fn reported(&self) -> bool {
        matches!(self.kind, ReqKind::Lookup | ReqKind::Put | ReqKind::Get)
    }
}

/// Why a direct query was sent, with what the query needs to carry on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum QueryPurpose {
    /// Stabilize: asking the first successor. `again`: its list changed
    /// while the round was in flight, so another round follows this one.
    Stabilize { again: bool },
    /// Stabilize: checking the successor's predecessor before adopting it
    /// (`again` as for `Stabilize`).
    Candidate { again: bool },
    /// Join: asking the successor found by the join lookup.
    Join { attempt: u32 },
    /// Check predecessor.
    CheckPredecessor,
    /// Neighbour probe of a successor-list entry or finger.
    Probe,
    /// A get asking a replica for its copy (see `fallback.rs`).
    Fetch(Box<Fallback>),
    /// A primary asking a successor before it answers a get (see
    /// `confirm.rs`): for the confirm `of`, asking a replica or not.
    Confirm { of: ReqId, replica: bool },
    /// Ring unification: pinging a peer remembered as lost (see `unify.rs`).
    Unify,
    /// Ring unification: checking a merge candidate before adopting it
    /// (with the merge's hop count).
    MergeCandidate { hops: u16 },
    /// Every successor died: asking the nearest finger (or the predecessor)
    /// to be the successor before giving the ring up.
    Rescue,
}

/// The message kinds that answer a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    Neighbors,
    Pong,
    Fetched,
}

impl QueryPurpose {
    /// Which message answers a query sent for this purpose.
    pub(super) fn answered_by(&self) -> Answer {
        match self {
            QueryPurpose::CheckPredecessor | QueryPurpose::Probe | QueryPurpose::Unify => Answer::Pong,
            QueryPurpose::Fetch(_) | QueryPurpose::Confirm { .. } => Answer::Fetched,
            QueryPurpose::Stabilize { .. }
            | QueryPurpose::Candidate { .. }
            | QueryPurpose::Join { .. }
            | QueryPurpose::MergeCandidate { .. }
            | QueryPurpose::Rescue => Answer::Neighbors,
        }
    }

    /// Whether it is a step of a stabilize round.
    pub(super) fn is_stabilize(&self) -> bool {
        matches!(self, QueryPurpose::Stabilize { .. } | QueryPurpose::Candidate { .. })
    }
}

/// A direct question to one peer, waiting for its answer.
#[derive(Clone, Debug)]
pub(crate) struct Query {
    pub(super) to: Id,
    pub(super) purpose: QueryPurpose,
    pub(super) token: Token,
    pub(super) attempts: u32,
    /// When it was last sent.
    pub(super) sent_at: Millis,
    /// When it was first sent (an answer is an answer-time sample only if
    /// it was sent once).
    pub(super) first_sent: Millis,
    /// Waits extended because `to` was heard from meanwhile.
    pub(super) extensions: u32,
}

/// What a query's deadline means (see [`Query::on_timeout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueryStep {
    /// Forget it quietly (a lost peer probed once, still silent).
    Drop,
    /// The deadline fired late (this node was stalled): wait once more from now.
    Rearm,
    /// Ask again under the same number.
    Resend,
    /// No answer will come: the query failed.
    Failed,
}

impl Query {
    /// A query to `to`, not sent yet.
    pub(crate) fn new(to: Id, purpose: QueryPurpose, now: Millis) -> Self {
        Query { to, purpose, token: Token::default(), attempts: 0, sent_at: now, first_sent: now, extensions: 0 }
    }

    /// Marks the question as on its last attempt, with no extension left:
    /// its next deadline fails it (the transport said no answer can come).
    /// Returns its timer.
    pub(crate) fn give_up(&mut self, rpc_attempts: u32) -> Token {
        self.attempts = self.attempts.max(rpc_attempts);
        self.extensions = MAX_ALIVE_EXTENSIONS;
        self.token
    }

    /// Its deadline passed. `late`: it fired late (this node was stalled);
    /// `heard`: its peer sent us something since the query was last sent.
    /// Updates the counts for a resend.
    pub(super) fn on_timeout(&mut self, late: bool, heard: bool, rpc_attempts: u32) -> QueryStep {
        if self.purpose == QueryPurpose::Unify && !late {
            // A lost peer still silent: one attempt per probe keeps probing the
            // dead cheap; it stays remembered until it expires.
            return QueryStep::Drop;
        }
        if late {
            // We were stalled, not (necessarily) the peer.
            return QueryStep::Rearm;
        }
        if self.extensions < MAX_ALIVE_EXTENSIONS && heard {
            // It is alive (it sent us something since): ask again, and count no attempt.
            self.extensions += 1;
            self.attempts -= 1;
            return QueryStep::Resend;
        }
        if self.attempts < rpc_attempts {
            // Perhaps only a message was lost.
            return QueryStep::Resend;
        }
        QueryStep::Failed
    }
}

/// A `Store` waiting for its receipt.
#[derive(Clone, Debug)]
pub(crate) struct StoreWait {
    pub(super) to: Id,
    pub(super) items: Vec<(Id, Version)>,
    pub(super) token: Token,
    /// Delete the records here once acknowledged (hand-over with R = 1).
    pub(super) delete_after_ack: bool,
}

/// The node's view of its requests in flight: what it is doing is read from
/// here, never kept beside it.
impl super::Node {
    /// The queries in flight, with their numbers.
    pub(super) fn queries(&self) -> impl Iterator<Item = (ReqId, &Query)> {
        self.requests.iter().filter_map(|(r, p)| match p {
            Pending::Query(q) => Some((*r, q)),
            _ => None,
        })
    }

    /// The routed requests this node issued that are in flight.
    pub(super) fn routes(&self) -> impl Iterator<Item = &RouteReq> {
        self.requests.values().filter_map(|p| match p {
            Pending::Route(r) => Some(&**r),
            _ => None,
        })
    }

    /// The record batches waiting for their receipts.
    pub(super) fn stores(&self) -> impl Iterator<Item = &StoreWait> {
        self.requests.values().filter_map(|p| match p {
            Pending::Store(w) => Some(w),
            _ => None,
        })
    }

    /// The query `req`, if it is one in flight.
    pub(super) fn query_mut(&mut self, req: ReqId) -> Option<&mut Query> {
        match self.requests.get_mut(&req) {
            Some(Pending::Query(q)) => Some(q),
            _ => None,
        }
    }

    /// Takes the query `req` out, if it is one in flight.
    pub(super) fn take_pending_query(&mut self, req: ReqId) -> Option<Query> {
        match self.requests.remove(&req) {
            Some(Pending::Query(q)) => Some(q),
            Some(other) => {
                self.requests.insert(req, other);
                None
            }
            None => None,
        }
    }

    /// Takes the routed request `req` out, if it is one in flight.
    pub(super) fn take_route(&mut self, req: ReqId) -> Option<RouteReq> {
        match self.requests.remove(&req) {
            Some(Pending::Route(r)) => Some(*r),
            Some(other) => {
                self.requests.insert(req, other);
                None
            }
            None => None,
        }
    }

    /// Whether a stabilize round is in flight (its first question, to the
    /// successor, or its second, to the successor's predecessor).
    pub(super) fn stabilizing(&self) -> bool {
        self.queries().any(|(_, q)| q.purpose.is_stabilize())
    }

    /// Asks the stabilize round in flight, if any, for another round right
    /// after it; returns whether there was one.
    pub(super) fn stabilize_again(&mut self) -> bool {
        let round = self.requests.values_mut().find_map(|p| match p {
            Pending::Query(Query { purpose: QueryPurpose::Stabilize { again } | QueryPurpose::Candidate { again }, .. }) => Some(again),
            _ => None,
        });
        match round {
            Some(again) => {
                *again = true;
                true
            }
            None => false,
        }
    }

    /// The finger whose lookup is in flight, if any (one at a time).
    pub(super) fn fixing_finger(&self) -> Option<usize> {
        self.routes().find_map(|r| match r.kind {
            ReqKind::FixFinger(i) => Some(i),
            _ => None,
        })
    }

    /// Whether every successor died and a finger is being asked to be the
    /// successor (status `Joining` meanwhile; see `Node::rescue`).
    pub(super) fn rescuing(&self) -> bool {
        self.queries().any(|(_, q)| q.purpose == QueryPurpose::Rescue)
    }

    /// The merge candidate being checked, with the merge's hop count.
    pub(super) fn merge_candidate(&self) -> Option<(Id, u16)> {
        self.queries().find_map(|(_, q)| match q.purpose {
            QueryPurpose::MergeCandidate { hops } => Some((q.to, hops)),
            _ => None,
        })
    }

    /// A request's deadline passed: the request decides what that means.
    pub(super) fn on_deadline(&mut self, now: Millis, req: ReqId, late: bool) {
        match self.requests.get(&req) {
            Some(Pending::Route(_)) => self.on_request_timeout(now, req),
            Some(Pending::Query(_)) => self.on_query_timeout(now, req, late),
            // No receipt: the records are pushed again at the next replicate period.
            Some(Pending::Store(_)) => {
                self.requests.remove(&req);
            }
            Some(Pending::Confirm(_)) | None => {}
        }
    }

    /// Whether a stabilize round is in flight (for tests and the simulator).
    #[cfg(any(test, feature = "sim"))]
    pub fn is_stabilizing(&self) -> bool {
        self.stabilizing()
    }

    /// The finger whose lookup is in flight, if any (for tests and the simulator).
    #[cfg(any(test, feature = "sim"))]
    pub fn finger_being_fixed(&self) -> Option<usize> {
        self.fixing_finger()
    }
}
