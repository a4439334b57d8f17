//! Records: put and get at the responsible node, hand-over and replication.

use super::*;
use crate::message::{Route, RouteFailure, RouteResult, StoreReason, MAX_MESSAGE_BYTES, MAX_RECORDS_PER_MESSAGE};
use std::collections::HashSet;

/// Value bytes per `Store` message, leaving room for the framing.
const STORE_BATCH_BYTES: usize = MAX_MESSAGE_BYTES - 16 * 1024;

/// Most stray records a node looks up at once (see `return_strays`); the
/// rest wait for the next replicate period.
pub const MAX_STRAY_LOOKUPS: usize = 32;

impl Node {
    /// Runs a routed request at the node responsible for its key (this one).
    pub(super) fn execute(&mut self, now: Millis, route: Route) {
        let hops = route.hops;
        let key = route.target;
        let result = match &route.op {
            Op::FindSuccessor => RouteResult::Found { node: self.id },
            Op::Join => {
                RouteResult::JoinPoint { node: self.id, predecessor: self.predecessor, successors: self.successors.as_slice().to_vec() }
            }
            Op::Get => return self.execute_get(now, route),
            Op::Put { name, value } => {
                let value = value.clone();
                let name = name.clone();
                match self.commit(now, key, route.origin, |version| Record { name, ..Record::new(key, value, version) }) {
                    Ok(version) => RouteResult::Stored { node: self.id, version },
                    Err(reason) => RouteResult::Failed { node: self.id, reason },
                }
            }
        };
        self.reply(now, route, result, hops);
    }

    /// Commits a put from `writer` as the key's primary: the next version
    /// after the one held, kept here and pushed to the replicas at once.
    pub(super) fn commit(
        &mut self,
        now: Millis,
        key: Id,
        writer: Id,
        record: impl FnOnce(Version) -> Record,
    ) -> Result<Version, RouteFailure> {
        if self.store.get(&key).is_none() && self.store.len() >= self.cfg.max_records {
            return Err(RouteFailure::StoreFull);
        }
        // Only a forged record reaches the last version. Wrapping to 0 would
        // lose to the record held: the put would be reported done, not stored.
        let Some(seq) = self.store.get(&key).map_or(0, |r| r.version.seq).checked_add(1) else {
            return Err(RouteFailure::StoreFull);
        };
        let version = Version { seq, writer };
        self.merge_record(record(version), None);
        // Push the new version to the replicas now rather than at the next pass.
        self.replicate(now, Some(key));
        Ok(version)
    }

    /// Keeps whichever of the held and the incoming record wins; reports a change.
    pub(super) fn merge_record(&mut self, record: Record, from: Option<Id>) -> crate::store::Merge {
        let copy = self.cfg.store_events.then(|| record.clone());
        let merged = self.store.merge(record);
        if let (Some(record), crate::store::Merge::Inserted | crate::store::Merge::Replaced) = (copy, merged) {
            self.emit(Event::Stored { record, from });
        }
        merged
    }

    /// Drops the record for `key`; reports it.
    fn remove_record(&mut self, key: &Id) {
        if let Some(r) = self.store.remove(key) {
            if self.cfg.store_events {
                self.emit(Event::Dropped { key: r.key, digest: r.digest });
            }
        }
    }

    /// Sends the records in `(lo, hi]` to `to`.
    pub(super) fn hand_over(&mut self, now: Millis, to: Id, lo: Id, hi: Id, reason: StoreReason) {
        let records: Vec<Record> = self.store.in_range(&lo, &hi).cloned().collect();
        // With one replica the sender must not keep a copy it is no longer responsible for.
        let delete = self.cfg.replicas <= 1 && reason == StoreReason::JoinHandover;
        self.send_records(now, to, reason, records, delete);
    }

    /// Sends records in batches that fit a message; tracks receipts.
    fn send_records(&mut self, now: Millis, to: Id, reason: StoreReason, records: Vec<Record>, delete_after_ack: bool) {
        let mut batch: Vec<Record> = Vec::new();
        let mut bytes = 0;
        let mut it = records.into_iter().peekable();
        while let Some(r) = it.next() {
            bytes += r.value.len() + 128;
            batch.push(r);
            let full = batch.len() >= MAX_RECORDS_PER_MESSAGE || it.peek().is_some_and(|n| bytes + n.value.len() + 128 > STORE_BATCH_BYTES);
            if full || it.peek().is_none() {
                let req = self.fresh_req();
                let items = batch.iter().map(|r| (r.key, r.version)).collect();
                if self.status != Status::Left {
                    let token = self.timers.schedule(now + self.cfg.rpc_timeout_ms, Timer::Deadline(req));
                    self.requests.insert(req, Pending::Store(StoreWait { to, items, token, delete_after_ack }));
                }
                self.send(to, Message::Store { req, reason, records: std::mem::take(&mut batch) });
                bytes = 0;
            }
        }
    }

    pub(super) fn on_store(&mut self, _now: Millis, from: Id, req: ReqId, reason: StoreReason, records: Vec<Record>) {
        if self.status != Status::Joined {
            self.stats.count_drop(DropReason::NotJoined);
            return;
        }
        if reason == StoreReason::LeaveHandover {
            // The leaver no longer bounds the keys we hold (see `return_strays`).
            self.earlier.retain(|p| *p != from);
        }
        if reason == StoreReason::Sync && self.replica_targets().contains(&from) {
            // One of our replicas found its copy of our range differs from ours:
            // our record of what it acknowledged is stale. Push it everything again.
            self.store.forget_replica(&from);
        }
        for r in records {
            if !r.is_intact() {
                self.stats.count_drop(DropReason::Corrupt);
                continue;
            }
            if self.store.get(&r.key).is_none() && self.store.len() >= self.cfg.max_records {
                self.stats.count_drop(DropReason::StoreFull);
                continue;
            }
            self.merge_record(r, Some(from));
        }
        self.send(from, Message::StoreAck { req });
    }

    pub(super) fn on_store_ack(&mut self, from: Id, req: ReqId) {
        match self.requests.get(&req) {
            Some(Pending::Store(w)) if w.to == from => {
                let Some(Pending::Store(w)) = self.requests.remove(&req) else { return };
                self.timers.cancel(w.token);
                let keep: Vec<Id> = self.replica_targets();
                for (key, version) in &w.items {
                    if w.delete_after_ack {
                        if self.store.get(key).is_some_and(|r| r.version == *version) {
                            self.remove_record(key);
                        }
                    } else {
                        self.store.mark_replicated(key, version, from, &keep);
                    }
                }
            }
            _ => self.stats.count_drop(DropReason::Unsolicited),
        }
    }

    /// The successors that should hold copies of our primary records.
    pub(super) fn replica_targets(&self) -> Vec<Id> {
        let n = self.cfg.replicas.saturating_sub(1);
        self.successors.as_slice().iter().take(n).copied().collect()
    }

    pub(super) fn on_replicate_timer(&mut self, now: Millis) {
        if self.status != Status::Joined {
            return;
        }
        let t = self.period(self.cfg.replicate_ms);
        self.timers.schedule(now + t, Timer::Replicate);
        self.replicate(now, None);
        // Anti-entropy with our replicas: during churn a put can land on a node
        // that did not yet know us as its predecessor; this brings such records
        // back to us, the primary.
        if let Some(p) = self.predecessor {
            let summary = self.store.summary(&p, &self.id);
            for s in self.replica_targets() {
                self.send(s, Message::SyncRange { lo: p, hi: self.id, summary });
            }
        }
        self.return_strays(now);
    }

    /// Records outside the keys we should hold — `(R-th predecessor, us]` —
    /// are strays: left by churn, or by the other side of a healed split.
    /// Each goes straight to its primary: we look its key up (at most
    /// [`MAX_STRAY_LOOKUPS`] at once) and send it there, and drop our copy
    /// once the primary has it (`on_stray_primary`). The first version handed
    /// strays one step towards their window per replicate period; after a
    /// merge of rings with few nodes on one side, copies then lay a dozen
    /// nodes past their window for tens of seconds, and a get answered
    /// "nothing" in one correct ring (partition schedules 81, 104 and 158).
    fn return_strays(&mut self, now: Millis) {
        let Some(lo) = self.window_start() else {
            return; // we do not know our window yet
        };
        let id = self.id;
        let busy: HashSet<Id> = self
            .routes()
            .filter(|r| matches!(r.kind, ReqKind::Stray))
            .map(|r| r.target)
            .chain(self.stores().filter(|w| w.delete_after_ack).flat_map(|w| w.items.iter().map(|(k, _)| *k)))
            .collect();
        let looking = self.routes().filter(|r| matches!(r.kind, ReqKind::Stray)).count();
        let strays: Vec<Id> = self
            .store
            .records()
            .map(|r| r.key)
            .filter(|k| !k.in_half_open(&lo, &id) && !busy.contains(k))
            .take(MAX_STRAY_LOOKUPS.saturating_sub(looking))
            .collect();
        for key in strays {
            if self.start_request(now, ReqKind::Stray, key, Op::FindSuccessor).is_err() {
                return; // at the request limit: next period
            }
        }
    }

    /// The start of the keys we should hold, `(R-th predecessor, us]`, if known.
    fn window_start(&self) -> Option<Id> {
        let r = self.cfg.replicas.max(1);
        self.predecessor_list().get(r - 1).copied()
    }

    /// The lookup for stray `key` found its primary `node`: hand it over.
    pub(super) fn on_stray_primary(&mut self, now: Millis, key: Id, node: Id) {
        let Some(record) = self.store.get(&key).cloned() else { return };
        let still_stray = self.window_start().is_some_and(|lo| !key.in_half_open(&lo, &self.id));
        if node == self.id || !still_stray {
            return; // our window moved meanwhile
        }
        self.send_records(now, node, StoreReason::Sync, vec![record], true);
    }

    /// Anti-entropy, receiving side: a node we replicate for summarised its
    /// range; if we hold something different there, send it what we have.
    pub(super) fn on_sync_range(&mut self, now: Millis, from: Id, lo: Id, hi: Id, summary: crate::message::RangeSummary) {
        if self.status != Status::Joined {
            self.stats.count_drop(DropReason::NotJoined);
            return;
        }
        // Only a node whose replica we are (one of our R−1 predecessors) may ask.
        let replicas = self.cfg.replicas.saturating_sub(1);
        if hi != from || !self.predecessor_list().iter().take(replicas).any(|p| *p == from) {
            self.stats.count_drop(DropReason::Unsolicited);
            return;
        }
        if self.store.summary(&lo, &hi) != summary {
            let records: Vec<Record> = self.store.in_range(&lo, &hi).cloned().collect();
            if records.is_empty() {
                // Still answer: the primary learns that we lack its records.
                let req = self.fresh_req();
                self.send(from, Message::Store { req, reason: StoreReason::Sync, records });
            } else {
                self.send_records(now, from, StoreReason::Sync, records, false);
            }
        }
    }

    /// Pushes primary records (or just `only`) to replicas that have not acknowledged them.
    pub(super) fn replicate(&mut self, now: Millis, only: Option<Id>) {
        // Without a predecessor we cannot tell our range: treat all we hold as ours.
        let lo = self.predecessor.unwrap_or(self.id);
        let id = self.id;
        for target in self.replica_targets() {
            // One batch in flight per replica keeps a slow replica from being flooded.
            if only.is_none() && self.stores().any(|w| w.to == target) {
                continue;
            }
            let records: Vec<Record> = match only {
                Some(k) => self.store.get(&k).cloned().into_iter().collect(),
                None => self.store.unreplicated(&lo, &id, &target).cloned().collect(),
            };
            if !records.is_empty() {
                self.send_records(now, target, StoreReason::Replica, records, false);
            }
        }
    }
}
