//! `churn`: nodes join and crash as Poisson processes while lookups run (the
//! paper's "lookups during stabilization" experiment).

use super::workload::Workload;
use super::{build_converged, finish, run_checked, simulator, Progress};
use crate::config::Config;
use crate::id::Id;
use crate::sim::ideal::IdealRing;
use crate::sim::invariants::key_safety;
use crate::sim::report::Report;
use crate::sim::Simulator;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// Parameters of the churn scenario.
#[derive(Clone, Debug)]
pub struct ChurnParams {
    /// Initial ring size.
    pub nodes: usize,
    /// Joins per second, and crashes per second (each a Poisson process).
    pub rate: f64,
    /// Mean stabilization period (fingers are refreshed 8 times as often, one run each).
    pub stabilize_ms: u64,
    /// Simulated duration of the churn phase.
    pub duration_s: u64,
    /// Replication factor R.
    pub replicas: usize,
    /// Successor-list length r.
    pub successors: usize,
    /// Keys stored before the churn starts.
    pub keys: u64,
    /// Lookups (gets of stored keys) per second, a Poisson process.
    pub lookup_rate: f64,
    /// Check invariants every this many simulated ms (0: after every event).
    pub check_every_ms: u64,
    /// Seed.
    pub seed: u64,
}

impl Default for ChurnParams {
    fn default() -> Self {
        ChurnParams {
            nodes: 500,
            rate: 0.05,
            stabilize_ms: 30_000,
            duration_s: 3_600,
            replicas: 3,
            successors: 8,
            keys: 1_000,
            lookup_rate: 1.0,
            check_every_ms: 1_000,
            seed: 1,
        }
    }
}

/// Keys no alive node (member or rejoining) holds.
fn unheld(sim: &Simulator, keys: &HashMap<Id, Id>) -> HashSet<Id> {
    let mut held = HashSet::new();
    for n in sim.nodes().iter().filter(|n| n.alive) {
        for r in n.node.store().records() {
            held.insert(r.key);
        }
    }
    keys.keys().filter(|k| !held.contains(*k)).copied().collect()
}

/// Runs the scenario.
pub fn run_churn(p: &ChurnParams, progress: Progress) -> Report {
    let started = Instant::now();
    let t = p.stabilize_ms.max(1);
    let node = Config {
        successors: p.successors,
        replicas: p.replicas,
        stabilize_ms: t,
        fix_fingers_ms: (t / 8).max(1),
        check_predecessor_ms: t,
        replicate_ms: t,
        ..Config::default()
    };
    let mut sim = simulator(p.seed, node);
    let mut report = Report { scenario: "churn".into(), nodes: p.nodes, seed: p.seed, ..Report::default() };
    report.params.insert("rate".into(), p.rate);
    report.params.insert("stabilize_ms".into(), t as f64);
    build_converged(&mut sim, p.nodes, progress);

    let mut w = Workload::default();
    for i in 0..p.keys {
        if let Some(origin) = sim.random_member() {
            let name = format!("file-{i}");
            w.put(&mut sim, origin, Id::key_of(&name), name.into_bytes());
        }
    }
    sim.run_for(2 * t);
    w.absorb(&mut sim, &|_| None);
    let keys = w.acked.clone();
    report.keys = keys.len() as u64;
    // Sorted: a HashMap's order differs between runs, and the seed must decide everything.
    let mut key_list: Vec<Id> = keys.keys().copied().collect();
    key_list.sort_unstable();

    let start = sim.now();
    let end = start + p.duration_s * 1000;
    let exp_ms = |sim: &mut Simulator, rate: f64| -> u64 {
        if rate <= 0.0 {
            u64::MAX / 4
        } else {
            (sim.rng().exponential(1000.0 / rate)).round() as u64
        }
    };
    let mut next_join = start + exp_ms(&mut sim, p.rate);
    let mut next_crash = start + exp_ms(&mut sim, p.rate);
    let mut next_lookup = start + exp_ms(&mut sim, p.lookup_rate);
    let mut lost_by_crash: HashSet<Id> = HashSet::new();
    let (mut joins, mut crashes) = (0u64, 0u64);
    loop {
        let next = next_join.min(next_crash).min(next_lookup);
        if next >= end {
            run_checked(&mut sim, end, p.check_every_ms);
            break;
        }
        run_checked(&mut sim, next, p.check_every_ms);
        let ring = IdealRing::new(sim.members().iter().map(|&h| sim.nodes()[h].node.id()).collect());
        w.absorb(&mut sim, &|k| (!ring.is_empty()).then(|| ring.successor(k)));
        w.abandon_dead(&sim);
        if next == next_join {
            let id = sim.fresh_id();
            let h = sim.add_node(id);
            match sim.random_member() {
                Some(via) => sim.join(h, via),
                None => sim.create(h),
            }
            joins += 1;
            next_join = next + exp_ms(&mut sim, p.rate);
        } else if next == next_crash {
            if let Some(h) = sim.random_member() {
                if sim.members().len() > 1 {
                    sim.crash(h);
                    crashes += 1;
                    lost_by_crash.extend(unheld(&sim, &keys));
                }
            }
            next_crash = next + exp_ms(&mut sim, p.rate);
        } else {
            if let (Some(origin), false) = (sim.random_member(), key_list.is_empty()) {
                let k = key_list[sim.rng().below(key_list.len() as u64) as usize];
                w.get(&mut sim, origin, k);
            }
            next_lookup = next + exp_ms(&mut sim, p.lookup_rate);
        }
        progress("churn (simulated s)", (sim.now().0 - start.0) / 1000, p.duration_s);
    }
    // Let the last lookups finish.
    let drain_until = sim.now() + sim.cfg.node.request_timeout_ms * 4;
    run_checked(&mut sim, drain_until, p.check_every_ms);
    let ring = IdealRing::new(sim.members().iter().map(|&h| sim.nodes()[h].node.id()).collect());
    w.absorb(&mut sim, &|k| (!ring.is_empty()).then(|| ring.successor(k)));
    w.abandon_dead(&sim);
    sim.check();
    let safety = key_safety(&sim, &keys, p.replicas);
    report.keys_lost = safety.lost as u64;
    let now_unheld = unheld(&sim, &keys);
    report.keys_lost_allowed = now_unheld.intersection(&lost_by_crash).count() as u64;
    report.params.insert("joins".into(), joins as f64);
    report.params.insert("crashes".into(), crashes as f64);
    report.params.insert("final_nodes".into(), sim.members().len() as f64);
    report.params.insert("under_replicated".into(), safety.under_replicated as f64);
    report.params.insert("rejoins".into(), sim.counters.rejoins as f64);
    w.fill(&mut report);
    finish(&mut report, &sim, started);
    report
}
