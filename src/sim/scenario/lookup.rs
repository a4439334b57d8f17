//! `lookup`: path length of lookups in a ring (the paper's Fig. 10).

use super::workload::Workload;
use super::{build_converged, build_joined, finish, simulator, Progress};
use crate::config::Config;
use crate::id::Id;
use crate::sim::ideal::IdealRing;
use crate::sim::report::Report;
use std::time::Instant;

/// How the ring is set up before the lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Every node placed directly into the ideal state (no maintenance runs).
    Converged,
    /// Built by real joins through random members, then maintained until correct.
    Joined,
}

/// Parameters of the lookup scenario.
#[derive(Clone, Debug)]
pub struct LookupParams {
    /// Ring size.
    pub nodes: usize,
    /// Lookups to run.
    pub lookups: u64,
    /// Seed.
    pub seed: u64,
    /// How the ring is built.
    pub init: Init,
    /// Successor-list length r.
    pub successors: usize,
    /// Lookups kept in flight at once.
    pub concurrency: usize,
}

impl Default for LookupParams {
    fn default() -> Self {
        LookupParams { nodes: 1024, lookups: 10_000, seed: 1, init: Init::Converged, successors: 8, concurrency: 10_000 }
    }
}

/// Runs the scenario.
pub fn run_lookup(p: &LookupParams, progress: Progress) -> Report {
    let started = Instant::now();
    let node = match p.init {
        Init::Converged => Config { successors: p.successors, maintenance: false, ..Config::default() },
        Init::Joined => Config {
            successors: p.successors,
            stabilize_ms: 1_000,
            fix_fingers_ms: 1_000,
            check_predecessor_ms: 2_000,
            replicate_ms: 5_000,
            ..Config::default()
        },
    };
    let mut sim = simulator(p.seed, node);
    let mut report = Report { scenario: "lookup".into(), nodes: p.nodes, seed: p.seed, ..Report::default() };
    let converged = match p.init {
        Init::Converged => {
            build_converged(&mut sim, p.nodes, progress);
            true
        }
        Init::Joined => build_joined(&mut sim, p.nodes, 10, 600_000, progress),
    };
    report.params.insert("converged".into(), if converged { 1.0 } else { 0.0 });
    report.params.insert("converge_sim_s".into(), sim.now().0 as f64 / 1000.0);
    let ring = IdealRing::new(sim.members().iter().map(|&h| sim.nodes()[h].node.id()).collect());
    let truth = |k: &Id| Some(ring.successor(k));
    let mut w = Workload::default();
    let mut issued = 0u64;
    while issued < p.lookups || w.in_flight() > 0 {
        while issued < p.lookups && w.in_flight() < p.concurrency {
            let Some(origin) = sim.random_member() else { break };
            let target = {
                let rng = sim.rng();
                Id::from_words(|| rng.next_u64())
            };
            w.lookup(&mut sim, origin, target);
            issued += 1;
        }
        for _ in 0..4096 {
            if !sim.step() {
                break;
            }
        }
        w.absorb(&mut sim, &truth);
        if issued % 16384 == 0 || w.in_flight() == 0 {
            progress("lookups", w.done, p.lookups);
        }
        if sim.is_idle() && w.in_flight() > 0 {
            break; // cannot happen with request timeouts, but never spin
        }
    }
    sim.check();
    w.fill(&mut report);
    finish(&mut report, &sim, started);
    report
}
