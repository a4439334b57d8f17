//! Ring unification: two rings of the same name become one again.
//!
//! Chord's stabilization keeps one ring one, but never merges two: after a
//! network split each side repairs into a ring of its own, and Zave's proof
//! starts from a single ring. The repair follows Shafaat, Ghodsi and Haridi,
//! "Dealing with network partitions in structured overlay networks" (2009),
//! adapted to Zave's rule that a node is adopted only after it answered
//! itself:
//!
//! * **Lost peers.** A node remembers, for [`Config::lost_keep_ms`], up to
//!   [`MAX_LOST`] peers it declared dead or lost (dead successors, fingers
//!   and hops, a silent predecessor, a first successor displaced by a node
//!   that did not list it), oldest out. Every [`Config::lost_probe_ms`] it
//!   pings one of them (the one probed longest ago; never two at once, one
//!   attempt each). When one answers, the node runs the merge with it
//!   ([`Node::unify_with`]); the peer stays remembered but is probed again
//!   only after a back-off that doubles each time it answers (a merge run
//!   while the cause of a split is still there — a Sybil still lying, a
//!   flapping link — can be undone, and the peer is needed again once the
//!   cause is gone). It leaves the list when it expires (or is pushed out
//!   by newer entries); while it is in the node's successor list or its
//!   predecessor it is not probed.
//! * **The merge** (their `mlookup` / `trysucc` zipper). `Merge { node }` is
//!   routed towards `node` in the receiver's ring. The node `a` with `node` in
//!   `(a, successor(a))` asks `node` for its neighbours; once `node` answered
//!   itself, `a` adopts it as first successor (its list merged in order with
//!   `a`'s own), rectifies it, and sends its displaced successor `s` to
//!   `node` as `Merge { node: s }`, to be placed the same way in `node`'s
//!   ring. Each step inserts one node; a step whose node already is the
//!   successor stops (the rings are one there). Many nodes probe at once
//!   after a split heals, so the zipper runs from many points in parallel,
//!   and stabilization closes what remains.
//! * **Bounds.** A `Merge` travels at most [`MAX_HOPS`] steps; a node checks one
//!   merge candidate at a time and queues at most [`MAX_MERGE_QUEUE`] more
//!   (further ones are counted in [`Stats::merge_dropped`] and dropped). A
//!   forged `Merge` can only make a node check a candidate that must answer
//!   for itself: it cannot plant an unchecked pointer.
//!
//! [`Config::lost_keep_ms`]: crate::config::Config::lost_keep_ms
//! [`Config::lost_probe_ms`]: crate::config::Config::lost_probe_ms
//! [`MAX_HOPS`]: crate::message::MAX_HOPS

use super::*;
use crate::message::MAX_HOPS;

/// Most lost peers a node remembers.
pub const MAX_LOST: usize = 32;
/// Peers remembered as having announced their leave (see [`Node::is_gone`]).
pub const MAX_DEPARTED: usize = 16;
/// Most merge candidates a node queues while it checks another.
pub const MAX_MERGE_QUEUE: usize = 8;

/// One remembered peer.
#[derive(Clone, Copy, Debug)]
struct Lost {
    peer: Id,
    /// When it was (last) lost.
    since: Millis,
    /// When it was last probed.
    probed: Option<Millis>,
    /// Not probed again before this (set when it answered).
    due: Millis,
    /// How often it answered (the back-off doubles each time).
    found: u32,
}

/// Peers this node declared dead or lost, oldest first, at most [`MAX_LOST`].
#[derive(Clone, Debug, Default)]
pub(crate) struct LostList {
    entries: VecDeque<Lost>,
}

impl LostList {
    /// Remembers `peer` as lost at `now` (again, if it already was).
    pub(crate) fn remember(&mut self, peer: Id, now: Millis) {
        self.forget(&peer);
        if self.entries.len() >= MAX_LOST {
            self.entries.pop_front();
        }
        self.entries.push_back(Lost { peer, since: now, probed: None, due: now, found: 0 });
    }

    /// Forgets `peer`.
    pub(crate) fn forget(&mut self, peer: &Id) {
        self.entries.retain(|e| e.peer != *peer);
    }

    /// Drops entries older than `keep_ms`, then picks the due entry probed
    /// longest ago (never probed first) that `skip` does not exclude (it is
    /// kept: a peer back in our lists may be lost again), and marks it probed.
    fn next_probe(&mut self, now: Millis, keep_ms: u64, skip: impl Fn(&Id) -> bool) -> Option<Id> {
        self.entries.retain(|e| now.0.saturating_sub(e.since.0) <= keep_ms);
        let e = self.entries.iter_mut().filter(|e| e.due <= now && !skip(&e.peer)).min_by_key(|e| e.probed.map_or(0, |t| t.0 + 1))?;
        e.probed = Some(now);
        Some(e.peer)
    }

    /// `peer` answered a probe: probe it again only after a back-off that
    /// doubles each time (`base_ms`, 2·`base_ms`, …). It stays remembered:
    /// a merge run while the cause of the split is still there (a Sybil that
    /// still lies, a link that flaps) may be undone, and the peer is then
    /// needed again once the cause is gone.
    fn answered(&mut self, peer: &Id, now: Millis, base_ms: u64) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.peer == *peer) {
            e.found = e.found.saturating_add(1);
            e.due = now + base_ms.saturating_mul(1 << e.found.min(16));
        }
    }

    /// The peers remembered, oldest first.
    pub(crate) fn peers(&self) -> impl Iterator<Item = Id> + '_ {
        self.entries.iter().map(|e| e.peer)
    }
}

/// The merge candidates waiting while another is checked (the one being
/// checked is its `MergeCandidate` query, see `Node::merge_candidate`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Merging {
    queue: VecDeque<(Id, u16)>,
}

impl Merging {
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}

impl Node {
    /// Ring unification: `peer` is alive and reachable (say a signaling
    /// server introduced it, or it answered again after it was declared
    /// dead), and may belong to another ring of the same name. If it does,
    /// the two rings are merged; if it is in this ring, this costs a lookup.
    ///
    /// Nothing happens unless this node is joined. `peer` is never adopted
    /// on this call's word: the node that would take it as successor asks it
    /// first (see the [module docs](self)).
    pub fn unify_with(&mut self, now: Millis, peer: Id) {
        if self.status != Status::Joined || peer == self.id {
            return;
        }
        self.stats.merges_started += 1;
        self.route_merge(now, peer, 0);
    }

    /// Peers remembered as dead or lost, oldest first (probed for ring unification).
    pub fn lost_peers(&self) -> Vec<Id> {
        self.lost.peers().collect()
    }

    /// Whether `peer` is gone as far as this node knows: declared dead or
    /// lost, or it announced it was leaving (one of the last [`MAX_DEPARTED`]).
    /// A node that lost its ring must not try to rejoin through such a peer,
    /// though its link may still look open (a closed tab's link stays open
    /// until ICE gives up on it, seconds later).
    pub fn is_gone(&self, peer: &Id) -> bool {
        self.lost.peers().any(|p| p == *peer) || self.departed.contains(peer)
    }

    /// Remembers that `peer` announced it was leaving.
    pub(super) fn remember_departed(&mut self, peer: Id) {
        self.departed.retain(|p| *p != peer);
        if self.departed.len() >= MAX_DEPARTED {
            self.departed.pop_front();
        }
        self.departed.push_back(peer);
    }

    /// `peer` was heard from again (a reloaded tab comes back with its id).
    pub(super) fn forget_departed(&mut self, peer: &Id) {
        self.departed.retain(|p| p != peer);
    }

    /// Remembers `peer` as lost (see the module docs).
    pub(super) fn remember_lost(&mut self, now: Millis, peer: Id) {
        if peer != self.id {
            self.lost.remember(peer, now);
        }
    }

    /// `Merge { node }` from `from`: place `node` in this ring.
    pub(super) fn on_merge(&mut self, now: Millis, _from: Id, node: Id, hops: u16) {
        if self.status != Status::Joined {
            self.stats.count_drop(DropReason::NotJoined);
            return;
        }
        self.route_merge(now, node, hops);
    }

    /// One routing step of a merge: pass it on, check `node` as our
    /// successor, or stop because it already is.
    fn route_merge(&mut self, now: Millis, node: Id, hops: u16) {
        if node == self.id {
            return;
        }
        match self.successors.first() {
            Some(s) if s == node => {
                // Already our successor: the rings are one here.
                self.stats.merges_same_ring += 1;
            }
            Some(s) if !node.in_open(&self.id, &s) => {
                if usize::from(hops) >= MAX_HOPS {
                    self.stats.merge_dropped += 1;
                    return;
                }
                // `node` lies beyond s, so s precedes it: there is always a next hop.
                let next = self.closest_preceding(&node).unwrap_or(s);
                self.send(next, Message::Merge { node, hops: hops + 1 });
            }
            // `node` lies between us and our successor (or we are alone).
            _ => self.check_merge_candidate(now, node, hops),
        }
    }

    /// Asks `node` for its neighbours before adopting it (one at a time).
    fn check_merge_candidate(&mut self, now: Millis, node: Id, hops: u16) {
        let checking = self.merge_candidate();
        let m = &mut self.merging;
        if checking.is_some_and(|(c, _)| c == node) || m.queue.iter().any(|(c, _)| *c == node) {
            return;
        }
        if checking.is_some() {
            if m.queue.len() < MAX_MERGE_QUEUE {
                m.queue.push_back((node, hops));
            } else {
                self.stats.merge_dropped += 1;
            }
            return;
        }
        self.query(now, node, QueryPurpose::MergeCandidate { hops });
    }

    /// The merge candidate `from` answered with its neighbours (its query
    /// carried the merge's `hops`).
    pub(super) fn on_merge_candidate(&mut self, now: Millis, from: Id, hops: u16, succs: Vec<Id>) {
        if self.status == Status::Joined {
            let old = self.successors.first();
            if succs.contains(&self.id) {
                // It lists us among its successors: we are in its ring already
                // (stabilization places us). Adopting it could close a ring of
                // its own between us (say, our list is empty and it is our
                // predecessor).
                self.stats.merges_same_ring += 1;
            } else if old.is_none_or(|s| from.in_open(&self.id, &s)) {
                // It answered itself: adopt it, keeping what we knew beyond it
                // in clockwise order (its ring's nodes and ours interleave).
                let mut tail: Vec<Id> = succs.into_iter().chain(self.successors.as_slice().iter().copied()).collect();
                let own = self.id;
                tail.retain(|t| *t != from && *t != own);
                tail.sort_unstable_by_key(|t| own.distance(t));
                tail.dedup();
                self.watch_neighbours(now, |n| {
                    n.successors.adopt(from, &tail);
                });
                self.stats.merges_adopted += 1;
                self.send(from, Message::Rectify);
                // The zipper's next step: our old successor goes into its ring.
                if let Some(s) = old.filter(|s| *s != from) {
                    self.send(from, Message::Merge { node: s, hops: 0 });
                }
            } else {
                // Our successor changed meanwhile: place it from here again.
                self.route_merge(now, from, hops.saturating_add(1));
            }
        }
        self.next_merge_candidate(now);
    }

    /// The merge candidate did not answer: forget it (it may be forged).
    pub(super) fn on_merge_candidate_timeout(&mut self, now: Millis) {
        self.stats.merge_dropped += 1;
        self.next_merge_candidate(now);
    }

    fn next_merge_candidate(&mut self, now: Millis) {
        if self.merge_candidate().is_some() {
            return;
        }
        while let Some((node, hops)) = self.merging.queue.pop_front() {
            if self.status != Status::Joined {
                continue;
            }
            // Re-decide: our successor may have changed while it waited.
            self.route_merge(now, node, hops);
            if self.merge_candidate().is_some() {
                return;
            }
        }
    }

    /// Pings one remembered lost peer; one that answers is merged with.
    pub(super) fn on_unify_timer(&mut self, now: Millis) {
        if self.status != Status::Joined || self.cfg.lost_probe_ms == 0 {
            return;
        }
        let t = self.period(self.cfg.lost_probe_ms);
        self.timers.schedule(now + t, Timer::Unify);
        if self.queries().any(|(_, q)| q.purpose == QueryPurpose::Unify) {
            return;
        }
        let succs = self.successors.as_slice();
        let pred = self.predecessor;
        // A peer back in our successor list or our predecessor is in our ring already.
        let Some(peer) = self.lost.next_probe(now, self.cfg.lost_keep_ms, |p| succs.contains(p) || pred == Some(*p)) else {
            return;
        };
        self.query(now, peer, QueryPurpose::Unify);
    }

    /// A lost peer answered our probe: merge with it.
    pub(super) fn on_unify_pong(&mut self, now: Millis, from: Id) {
        self.stats.lost_found += 1;
        self.lost.answered(&from, now, self.cfg.lost_probe_ms);
        self.unify_with(now, from);
    }
}
