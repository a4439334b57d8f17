//! `fail`: a fraction of nodes crash at once; after stabilization every key
//! is looked up (the paper's simultaneous-failure experiment, Fig. 11).

use super::workload::Workload;
use super::{build_converged, finish, simulator, wait_converged, Progress};
use crate::config::Config;
use crate::id::Id;
use crate::sim::ideal::IdealRing;
use crate::sim::invariants::key_safety;
use crate::sim::report::Report;
use std::time::Instant;

/// Parameters of the failure scenario.
#[derive(Clone, Debug)]
pub struct FailParams {
    /// Ring size before the failure.
    pub nodes: usize,
    /// Keys stored before the failure.
    pub keys: u64,
    /// Fraction of nodes that crash at once.
    pub fail_fraction: f64,
    /// Replication factor R.
    pub replicas: usize,
    /// Successor-list length r.
    pub successors: usize,
    /// Seed.
    pub seed: u64,
    /// Gets kept in flight at once.
    pub concurrency: usize,
}

impl Default for FailParams {
    fn default() -> Self {
        FailParams { nodes: 1000, keys: 10_000, fail_fraction: 0.5, replicas: 1, successors: 20, seed: 1, concurrency: 2_000 }
    }
}

/// Runs the scenario.
pub fn run_fail(p: &FailParams, progress: Progress) -> Report {
    let started = Instant::now();
    let node = Config {
        successors: p.successors,
        replicas: p.replicas,
        stabilize_ms: 1_000,
        fix_fingers_ms: 1_000,
        check_predecessor_ms: 1_000,
        replicate_ms: 1_000,
        ..Config::default()
    };
    let mut sim = simulator(p.seed, node);
    let mut report = Report { scenario: "fail".into(), nodes: p.nodes, seed: p.seed, ..Report::default() };
    report.params.insert("fail_fraction".into(), p.fail_fraction);
    build_converged(&mut sim, p.nodes, progress);

    // Store the keys through real puts and let replication settle.
    let mut w = Workload::default();
    for i in 0..p.keys {
        let Some(origin) = sim.random_member() else { break };
        let name = format!("key-{i}");
        w.put(&mut sim, origin, Id::key_of(&name), name.into_bytes());
        if w.in_flight() >= p.concurrency {
            while w.in_flight() >= p.concurrency / 2 && sim.step() {
                w.absorb(&mut sim, &|_| None);
            }
        }
        if i % 4096 == 0 {
            progress("put keys", i, p.keys);
        }
    }
    while w.in_flight() > 0 && sim.step() {
        w.absorb(&mut sim, &|_| None);
    }
    sim.run_for(5_000);
    w.absorb(&mut sim, &|_| None);
    let keys = w.acked.clone();
    report.keys = keys.len() as u64;
    progress("put keys", p.keys, p.keys);

    // Crash a random fraction at once.
    let mut members: Vec<usize> = sim.members().to_vec();
    let crash = ((p.nodes as f64) * p.fail_fraction).round() as usize;
    for i in 0..crash.min(members.len()) {
        let j = i + sim.rng().below((members.len() - i) as u64) as usize;
        members.swap(i, j);
    }
    for &h in &members[..crash.min(members.len())] {
        sim.crash(h);
    }
    // Keys every holder of which just crashed: the failure model allows losing these.
    let allowed = key_safety(&sim, &keys, p.replicas).lost as u64;
    report.keys_lost_allowed = allowed;

    let converged = wait_converged(&mut sim, 300_000, progress);
    report.params.insert("converged".into(), if converged { 1.0 } else { 0.0 });
    report.params.insert("recovery_sim_s".into(), sim.now().0 as f64 / 1000.0);

    // Look up every key.
    let ring = IdealRing::new(sim.members().iter().map(|&h| sim.nodes()[h].node.id()).collect());
    let truth = |k: &Id| Some(ring.successor(k));
    w.hops = Default::default();
    // Sorted: a HashMap's order differs between runs, and the seed must decide everything.
    let mut all: Vec<Id> = keys.keys().copied().collect();
    all.sort_unstable();
    for (i, key) in all.iter().enumerate() {
        let Some(origin) = sim.random_member() else { break };
        w.get(&mut sim, origin, *key);
        while w.in_flight() >= p.concurrency && sim.step() {
            w.absorb(&mut sim, &truth);
        }
        if i % 4096 == 0 {
            progress("get keys", i as u64, all.len() as u64);
        }
    }
    while w.in_flight() > 0 && sim.step() {
        w.absorb(&mut sim, &truth);
    }
    progress("get keys", all.len() as u64, all.len() as u64);
    sim.check();
    let safety = key_safety(&sim, &keys, p.replicas);
    report.keys_lost = safety.lost as u64;
    report.params.insert("under_replicated".into(), safety.under_replicated as f64);
    report.params.insert("failed_puts".into(), w.failed_puts as f64);
    w.fill(&mut report);
    finish(&mut report, &sim, started);
    report
}
