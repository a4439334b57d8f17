//! Issues lookups, puts and gets on simulated nodes and scores the answers.

use crate::id::Id;
use crate::message::ReqId;
use crate::node::Event;
use crate::sim::report::{HopStats, Report};
use crate::sim::Simulator;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug)]
enum Pending {
    Lookup,
    Get,
    Put(Id, Id),
}

/// Requests in flight and the tally of their results.
#[derive(Default)]
pub(crate) struct Workload {
    pending: HashMap<(usize, ReqId), Pending>,
    /// Path lengths of completed lookups and gets.
    pub hops: HopStats,
    /// Lookups and gets finished (successfully or not).
    pub done: u64,
    /// Lookups and gets that failed.
    pub failed: u64,
    /// Answers from a node that is not the key's current successor.
    pub wrong: u64,
    /// Gets that found no value.
    pub missing: u64,
    /// Keys whose put was acknowledged, with the digest of the value.
    pub acked: HashMap<Id, Id>,
    /// Puts that failed.
    pub failed_puts: u64,
}

impl Workload {
    pub(crate) fn in_flight(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn lookup(&mut self, sim: &mut Simulator, origin: usize, target: Id) {
        if let Ok(req) = sim.command(origin, |n, now| n.lookup(now, target)) {
            self.pending.insert((origin, req), Pending::Lookup);
        }
    }

    pub(crate) fn get(&mut self, sim: &mut Simulator, origin: usize, key: Id) {
        if let Ok(req) = sim.command(origin, |n, now| n.get(now, key)) {
            self.pending.insert((origin, req), Pending::Get);
        }
    }

    pub(crate) fn put(&mut self, sim: &mut Simulator, origin: usize, key: Id, value: Vec<u8>) {
        let digest = Id::hash(&value);
        if let Ok(req) = sim.command(origin, |n, now| n.put(now, key, value)) {
            self.pending.insert((origin, req), Pending::Put(key, digest));
        }
    }

    /// Scores the events the simulator collected. `truth` gives the key's
    /// current successor (`None` to skip that check).
    pub(crate) fn absorb(&mut self, sim: &mut Simulator, truth: &dyn Fn(&Id) -> Option<Id>) {
        for (h, ev) in sim.take_events() {
            match ev {
                Event::LookupDone { req, target, node, hops } => {
                    if self.pending.remove(&(h, req)).is_none() {
                        continue;
                    }
                    self.done += 1;
                    self.hops.record(hops);
                    if truth(&target).is_some_and(|t| t != node) {
                        self.wrong += 1;
                        self.failed += 1;
                    }
                }
                Event::GetDone { req, key, record, node, hops, .. } => {
                    if self.pending.remove(&(h, req)).is_none() {
                        continue;
                    }
                    self.done += 1;
                    self.hops.record(hops);
                    if record.is_none() {
                        self.missing += 1;
                        self.failed += 1;
                    } else if truth(&key).is_some_and(|t| t != node) {
                        self.wrong += 1;
                        self.failed += 1;
                    }
                }
                Event::PutDone { req, .. } => {
                    if let Some(Pending::Put(key, digest)) = self.pending.remove(&(h, req)) {
                        self.acked.insert(key, digest);
                    }
                }
                Event::RequestFailed { req, .. } => match self.pending.remove(&(h, req)) {
                    Some(Pending::Put(..)) => self.failed_puts += 1,
                    Some(_) => {
                        self.done += 1;
                        self.failed += 1;
                    }
                    None => {}
                },
                _ => {}
            }
        }
    }

    /// Requests whose origin crashed can never finish: count them as failed.
    pub(crate) fn abandon_dead(&mut self, sim: &Simulator) {
        let dead: Vec<(usize, ReqId)> = self.pending.keys().copied().filter(|(h, _)| !sim.nodes()[*h].alive).collect();
        for k in dead {
            if let Some(p) = self.pending.remove(&k) {
                if matches!(p, Pending::Put(..)) {
                    self.failed_puts += 1;
                }
            }
        }
    }

    /// Adds another workload's tallies (requests still pending are not merged).
    pub(crate) fn merge(&mut self, o: &Workload) {
        self.hops.merge(&o.hops);
        self.done += o.done;
        self.failed += o.failed;
        self.wrong += o.wrong;
        self.missing += o.missing;
        self.failed_puts += o.failed_puts;
        self.acked.extend(o.acked.iter().map(|(k, v)| (*k, *v)));
    }

    pub(crate) fn fill(&self, report: &mut Report) {
        report.lookups = self.done;
        report.failed_lookups = self.failed;
        report.wrong_successor = self.wrong;
        report.missing_values = self.missing;
        report.set_hops(&self.hops);
    }
}
