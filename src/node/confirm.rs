//! No false "not found": a primary confirms an absence with its successors.
//!
//! A ring that has not converged (a node just took over a range, a merge is
//! under way, records are still being handed over) can route a get to a
//! primary that does not hold the key although its replicas do. So before it
//! answers, with [`Message::Fetch`] to all at once:
//!
//! * a primary that holds **no record** asks its whole successor list (r
//!   nodes): its R−1 replicas (its first successor when R = 1), and the rest
//!   of the list besides. The replicas alone were not enough after two rings
//!   merged: the other ring's copies stay on that ring's holders, which can
//!   lie a few nodes past the new primary's replicas until they are handed
//!   back (the simulator's partition scenario found such gets answering
//!   "nothing" in one correct ring; tests/sim_partition.rs asserts none in its
//!   200 schedules);
//! * a primary that holds a record but is not sure of its range (its
//!   predecessor changed within the last two stabilize periods, or it has
//!   none) asks its R−1 replicas, so that a newer copy wins.
//!
//! Then:
//!
//! * some copy exists: it answers the newest (and keeps it, as the primary);
//! * everyone answered that it holds nothing: "absent";
//! * else, when a *replica* did not answer (or answered garbage):
//!   [`RouteFailure::NotSure`], which the origin reports as
//!   [`RequestError::NotSure`] — never a false "absent". A silent member
//!   past the replicas is not waited on for more than its query's deadline
//!   and does not make the answer unsure: it is asked as a best effort (a
//!   dead node lingers in successor lists until stabilization drops it, and
//!   every get of a missing key would fail meanwhile).
//!
//! At most [`MAX_CONFIRMS`] gets are confirmed at once; beyond that a get
//! without a record is answered `NotSure` at once.

use super::*;
use crate::message::{Route, RouteFailure, RouteResult};

/// Most gets a node confirms with its successors at once.
pub const MAX_CONFIRMS: usize = 256;

/// A get held at its primary while its successors are asked.
#[derive(Clone, Debug)]
pub(crate) struct Confirm {
    route: Route,
    /// The newest copy found so far (ours first).
    best: Option<Record>,
    /// Successors not answered yet.
    waiting: usize,
    /// Replicas that did not answer or answered something unusable.
    silent: usize,
}

impl Node {
    /// Whether this node may not know its whole range yet.
    fn range_unsure(&self, now: Millis) -> bool {
        self.predecessor.is_none() || self.pred_changed_at.is_some_and(|t| now.0.saturating_sub(t.0) < 2 * self.cfg.stabilize_ms)
    }

    /// The nodes a primary asks before answering a get, each with whether it
    /// is a replica (see the module docs): with no record, its successor list;
    /// with one, its replicas.
    fn confirm_targets(&self, has_record: bool) -> Vec<(Id, bool)> {
        let replicas = self.cfg.replicas.saturating_sub(1).max(1);
        let take = if has_record { replicas } else { usize::MAX };
        self.successors.as_slice().iter().take(take).enumerate().filter(|(_, s)| **s != self.id).map(|(i, s)| (*s, i < replicas)).collect()
    }

    /// Answers a get at its primary, or first asks its successors (see the module docs).
    pub(super) fn execute_get(&mut self, now: Millis, route: Route) {
        let key = route.target;
        let record = self.store.get(&key).cloned();
        let targets = if record.is_none() || self.range_unsure(now) { self.confirm_targets(record.is_some()) } else { Vec::new() };
        if targets.is_empty() {
            let hops = route.hops;
            let result = RouteResult::Value { node: self.id, record, replicas: self.replica_targets() };
            return self.reply(now, route, result, hops);
        }
        if self.requests.values().filter(|p| matches!(p, Pending::Confirm(_))).count() >= MAX_CONFIRMS {
            self.stats.count_drop(DropReason::Limit);
            let hops = route.hops;
            let result = match record {
                Some(record) => RouteResult::Value { node: self.id, record: Some(record), replicas: self.replica_targets() },
                None => RouteResult::Failed { node: self.id, reason: RouteFailure::NotSure },
            };
            return self.reply(now, route, result, hops);
        }
        let id = self.fresh_req();
        self.requests.insert(id, Pending::Confirm(Box::new(Confirm { route, best: record, waiting: targets.len(), silent: 0 })));
        for (to, replica) in targets {
            let req = self.fresh_req();
            let q = Query::new(to, QueryPurpose::Confirm { of: id, replica }, now);
            self.send_query(now, req, q);
        }
    }

    /// The key the held get `of` asks its successors for.
    pub(super) fn confirm_key(&self, of: ReqId) -> Option<Id> {
        match self.requests.get(&of) {
            Some(Pending::Confirm(c)) => Some(c.route.target),
            _ => None,
        }
    }

    /// A successor (a `replica` or not) answered a query of the held get
    /// `id` (`None` record: it holds nothing; `answered` false: it did not answer).
    pub(super) fn on_confirm_answer(&mut self, now: Millis, id: ReqId, replica: bool, record: Option<Record>, answered: bool) {
        let Some(Pending::Confirm(c)) = self.requests.get_mut(&id) else { return };
        c.waiting = c.waiting.saturating_sub(1);
        let key = c.route.target;
        match record {
            _ if !answered => c.silent += usize::from(replica),
            Some(r) if r.key != key || !r.is_intact() => {
                self.stats.count_drop(DropReason::Corrupt);
                c.silent += usize::from(replica);
            }
            Some(r) if c.best.as_ref().is_none_or(|b| r.precedence(b) == std::cmp::Ordering::Greater) => c.best = Some(r),
            Some(_) | None => {}
        }
        if c.waiting > 0 {
            return;
        }
        let Some(Pending::Confirm(c)) = self.requests.remove(&id) else { return };
        let hops = c.route.hops;
        let result = match c.best {
            Some(best) => {
                // We are the primary: keep the newest copy and pass it on.
                if self.store.get(&key) != Some(&best) && self.status == Status::Joined {
                    let fits = self.store.get(&key).is_some() || self.store.len() < self.cfg.max_records;
                    if fits && self.merge_record(best.clone(), None) != crate::store::Merge::Kept {
                        self.replicate(now, Some(key));
                    }
                }
                RouteResult::Value { node: self.id, record: Some(best), replicas: self.replica_targets() }
            }
            None if c.silent > 0 => RouteResult::Failed { node: self.id, reason: RouteFailure::NotSure },
            None => RouteResult::Value { node: self.id, record: None, replicas: self.replica_targets() },
        };
        self.reply(now, c.route, result, hops);
    }
}
