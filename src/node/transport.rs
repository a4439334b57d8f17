//! What the transport below the node knows about a peer's liveness sooner
//! than Chord's own probes: a link that closed, and a peer no member of the
//! ring can reach any more.
//!
//! A tab that closes or crashes takes its data channels with it, and the
//! browser fires `close` on the other ends at once. Waiting for unanswered
//! pings instead costs `rpc_attempts` deadlines (seconds). The driver
//! therefore reports a lost link to a ring neighbour ([`Node::link_lost`]):
//! the node probes it at once, which makes the driver open a new link,
//! signaled through the ring. If the ring answers that nobody can reach the
//! peer ([`Node::unreachable`]), it is declared dead without waiting for the
//! probe's deadline, and for as long as those deadlines would have taken,
//! questions to it (say a stabilize round's check of a predecessor it still
//! names) fail at once instead of waiting. Nothing is adopted on this evidence, only removed, as
//! after a timeout: stabilization learns a live peer back (Zave: a pointer
//! is only ever adopted after it was checked).

use super::{Node, Query, QueryPurpose, Status};
use crate::message::ReqId;
use std::collections::BTreeMap;

use crate::id::Id;
use crate::time::Millis;

impl Node {
    /// Whether `peer` is in the successor list or is the predecessor.
    pub fn is_neighbour(&self, peer: &Id) -> bool {
        self.predecessor == Some(*peer) || self.successors.as_slice().contains(peer)
    }

    /// The transport's link to `peer` closed. A ring neighbour is probed now
    /// rather than at the next probe period, and declared dead if that one
    /// probe goes unanswered; returns whether it was a neighbour.
    pub fn link_lost(&mut self, now: Millis, peer: Id) -> bool {
        if self.status != Status::Joined || peer == self.id || !self.is_neighbour(&peer) {
            return false;
        }
        self.stats.links_lost += 1;
        // One confirming probe: a closed channel is strong evidence, so one
        // deadline without an answer (not `rpc_attempts` of them) declares it
        // dead, for when no "unreachable" comes back (a relay that has not
        // seen the crash yet forwards the link offer into a dead channel).
        // A peer heard from meanwhile still gets its extensions.
        let pending: Vec<ReqId> =
            self.queries().filter(|(_, q)| q.to == peer && q.purpose == QueryPurpose::Probe).map(|(r, _)| r).collect();
        if pending.is_empty() {
            let req = self.fresh_req();
            let mut q = Query::new(peer, QueryPurpose::Probe, now);
            q.attempts = self.cfg.rpc_attempts.saturating_sub(1);
            self.send_query(now, req, q);
        } else {
            let attempts = self.cfg.rpc_attempts;
            for r in pending {
                if let Some(q) = self.query_mut(r) {
                    q.attempts = q.attempts.max(attempts);
                }
            }
        }
        true
    }

    /// No member of the ring could carry a link offer to `peer` (the driver
    /// says so only for a neighbour whose link was lost, see
    /// [`Node::link_lost`]). Every question pending with it fails now, as if
    /// its last deadline had passed (a stabilize round with it ends, a probe
    /// declares it dead, a fetch asks the next holder), and it is declared
    /// dead. Returns whether it was still a neighbour or finger.
    pub fn unreachable(&mut self, now: Millis, peer: Id) -> bool {
        if self.status != Status::Joined || peer == self.id {
            return false;
        }
        let known = self.is_neighbour(&peer) || self.fingers.nodes().any(|n| *n == peer);
        self.gone.insert(peer, now);
        let mut pending: Vec<ReqId> = self.queries().filter(|(_, q)| q.to == peer).map(|(r, _)| r).collect();
        // In number order, not the map's: the same inputs fail them in the same order.
        pending.sort_unstable();
        for r in pending {
            let attempts = self.cfg.rpc_attempts;
            if let Some(token) = self.query_mut(r).map(|q| q.give_up(attempts)) {
                self.timers.cancel(token);
                self.on_query_timeout(now, r, false);
            }
        }
        if known && self.status == Status::Joined {
            // Its neighbours are repairing their lists at the same moment:
            // one more stabilize round right after this one fetches the
            // successor's repaired list rather than a period later.
            if !self.stabilize_again() {
                self.stabilize_now(now);
            }
        }
        if known {
            self.stats.dead_by_transport += 1;
            // An expired probe above may have declared it dead already.
            if self.is_neighbour(&peer) || self.fingers.nodes().any(|n| *n == peer) {
                self.mark_dead(now, &peer);
            }
        }
        known
    }
}

/// Peers the transport found unreachable, and when. Small: only neighbours
/// get there, and an entry older than the window is useless.
#[derive(Debug, Default)]
pub(super) struct Gone(BTreeMap<Id, Millis>);

/// At most this many peers are remembered as gone (the oldest is forgotten).
const MAX_GONE: usize = 64;

impl Gone {
    fn insert(&mut self, peer: Id, now: Millis) {
        if self.0.len() >= MAX_GONE && !self.0.contains_key(&peer) {
            if let Some(oldest) = self.0.iter().min_by_key(|(_, t)| **t).map(|(p, _)| *p) {
                self.0.remove(&oldest);
            }
        }
        self.0.insert(peer, now);
    }

    /// Whether `peer` was found unreachable within the last `window_ms`.
    pub(super) fn recently(&self, peer: &Id, now: Millis, window_ms: u64) -> bool {
        self.0.get(peer).is_some_and(|t| now.0.saturating_sub(t.0) < window_ms)
    }

    /// `peer` sent us something: it is reachable after all.
    pub(super) fn heard(&mut self, peer: &Id) {
        if !self.0.is_empty() {
            self.0.remove(peer);
        }
    }
}
