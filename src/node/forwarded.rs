//! The hops this node took for other peers' routes, kept until each answer has
//! passed back (or its time is up).
//!
//! A routed answer travels back along the path its route recorded, one hop at a
//! time. Each node on the way pops the previous hop and sends the answer there.
//! Taken on trust, that path lets any linked peer make this node send to an id
//! it names: a peer it has never met, for which the transport would start a new
//! WebRTC connection (issue 15, hole 1). So an answer is passed back only along
//! a hop this node actually took: it arrives from a peer the route was handed
//! to here, and goes on to the peer the route came from.

use crate::id::Id;
use crate::message::ReqId;
use crate::time::Millis;
use std::collections::BTreeMap;

/// Routes remembered at most; past that, the oldest go (their answers are then
/// dropped here and the origin asks again).
pub const MAX_FORWARDED: usize = 4096;

/// One pass of a route through this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pass {
    /// The peer the route came from: where its answer goes.
    back: Id,
    /// A peer the route was handed to: where its answer comes from.
    next: Id,
}

#[derive(Clone, Debug)]
struct Entry {
    /// Usually one; more when the route was handed on again around a dead hop,
    /// or passed this node twice.
    passes: Vec<Pass>,
    /// After this, the origin has given up on the answer.
    until: Millis,
}

/// What to do with an answer on its way back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it on: this node took that hop.
    Pass,
    /// No such route here: never forwarded, or its answer already passed
    /// (a duplicate), or the origin gave up on it long ago.
    Unknown,
    /// A route this node forwarded, but not from that peer or not towards that one.
    Mismatch,
}

/// Passes per route at most (a route makes at most a few attempts per hop).
const MAX_PASSES: usize = 8;

/// The routes this node forwarded, by (origin, request number).
#[derive(Clone, Debug, Default)]
pub struct Forwarded {
    routes: BTreeMap<(Id, ReqId), Entry>,
}

impl Forwarded {
    /// Remembers that the route `key`, which came from `back`, was handed to `next`.
    pub fn note(&mut self, now: Millis, key: (Id, ReqId), back: Id, next: Id, until: Millis) {
        if !self.routes.contains_key(&key) && self.routes.len() >= MAX_FORWARDED {
            self.routes.retain(|_, e| e.until > now);
            if self.routes.len() >= MAX_FORWARDED {
                let oldest = self.routes.iter().min_by_key(|(_, e)| e.until).map(|(k, _)| *k);
                if let Some(k) = oldest {
                    self.routes.remove(&k);
                }
            }
        }
        let entry = self.routes.entry(key).or_insert_with(|| Entry { passes: Vec::new(), until });
        entry.until = entry.until.max(until);
        let pass = Pass { back, next };
        if !entry.passes.contains(&pass) {
            if entry.passes.len() >= MAX_PASSES {
                entry.passes.remove(0);
            }
            entry.passes.push(pass);
        }
    }

    /// Whether an answer to `key` that arrived from `from` may go on to `back`;
    /// if so, that pass is used up.
    pub fn take(&mut self, now: Millis, key: (Id, ReqId), from: Id, back: Id) -> Verdict {
        let Some(entry) = self.routes.get_mut(&key) else { return Verdict::Unknown };
        if entry.until <= now {
            self.routes.remove(&key);
            return Verdict::Unknown;
        }
        let Some(i) = entry.passes.iter().position(|p| p.back == back && p.next == from) else { return Verdict::Mismatch };
        entry.passes.remove(i);
        if entry.passes.is_empty() {
            self.routes.remove(&key);
        }
        Verdict::Pass
    }

    /// How many routes are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether none is.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Id {
        Id::key_of(s)
    }

    #[test]
    fn an_answer_goes_back_only_along_a_hop_taken() {
        let mut f = Forwarded::default();
        let key = (id("origin"), ReqId::new(7));
        f.note(Millis(0), key, id("a"), id("b"), Millis(100));
        // From the wrong peer, towards the wrong peer, for another route, too late.
        assert_eq!(f.take(Millis(1), key, id("x"), id("a")), Verdict::Mismatch);
        assert_eq!(f.take(Millis(1), key, id("b"), id("x")), Verdict::Mismatch);
        assert_eq!(f.take(Millis(1), (id("origin"), ReqId::new(8)), id("b"), id("a")), Verdict::Unknown);
        assert_eq!(f.take(Millis(1), key, id("b"), id("a")), Verdict::Pass);
        // Used up: a second answer does not pass.
        assert_eq!(f.take(Millis(2), key, id("b"), id("a")), Verdict::Unknown);
        f.note(Millis(0), key, id("a"), id("b"), Millis(100));
        assert_eq!(f.take(Millis(100), key, id("b"), id("a")), Verdict::Unknown, "expired");
        assert!(f.is_empty());
    }

    #[test]
    fn a_route_handed_on_again_or_passing_twice_keeps_each_pass() {
        let mut f = Forwarded::default();
        let key = (id("origin"), ReqId::new(1));
        f.note(Millis(0), key, id("a"), id("b"), Millis(100));
        f.note(Millis(5), key, id("a"), id("c"), Millis(105)); // b was dead: around it
        f.note(Millis(6), key, id("d"), id("e"), Millis(106)); // the route came by again
        assert_eq!(f.take(Millis(7), key, id("e"), id("d")), Verdict::Pass);
        assert_eq!(f.take(Millis(8), key, id("c"), id("a")), Verdict::Pass);
        assert_eq!(f.take(Millis(8), key, id("b"), id("a")), Verdict::Pass);
        assert!(f.is_empty());
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_go_first() {
        let mut f = Forwarded::default();
        for i in 0..(MAX_FORWARDED as u64 + 10) {
            f.note(Millis(i), (id("o"), ReqId::new(i)), id("a"), id("b"), Millis(1_000_000 + i));
        }
        assert_eq!(f.len(), MAX_FORWARDED);
        assert_eq!(f.take(Millis(0), (id("o"), ReqId::new(0)), id("b"), id("a")), Verdict::Unknown, "the oldest went");
        assert_eq!(f.take(Millis(0), (id("o"), ReqId::new(MAX_FORWARDED as u64 + 9)), id("b"), id("a")), Verdict::Pass);
    }
}
