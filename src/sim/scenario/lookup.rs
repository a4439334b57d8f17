//! `lookup`: path length of lookups in a ring (the paper's Fig. 10).

use super::workload::Workload;
use super::{build_converged_from, build_joined, finish, simulator, Progress};
use crate::config::Config;
use crate::id::Id;
use crate::rng::SeededRng;
use crate::sim::ideal::IdealRing;
use crate::sim::report::Report;
use crate::sim::Simulator;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Lookups kept in flight at once (per simulator).
    pub concurrency: usize,
    /// Independent copies of a converged ring to split the lookups over, one
    /// thread each. In a converged ring without maintenance, lookups never
    /// change any node's state, so they do not interact: k copies running
    /// L/k lookups each measure the same distribution as one running L.
    pub threads: usize,
}

impl Default for LookupParams {
    fn default() -> Self {
        LookupParams { nodes: 1024, lookups: 10_000, seed: 1, init: Init::Converged, successors: 8, concurrency: 1_000, threads: 1 }
    }
}

/// Runs the scenario.
pub fn run_lookup(p: &LookupParams, progress: Progress) -> Report {
    let started = Instant::now();
    let mut report = Report { scenario: "lookup".into(), nodes: p.nodes, seed: p.seed, ..Report::default() };
    match p.init {
        Init::Converged => run_converged(p, &mut report, progress),
        Init::Joined => run_joined(p, &mut report, progress),
    }
    report.wall_s = started.elapsed().as_secs_f64();
    report
}

fn converged_config(p: &LookupParams) -> Config {
    Config { successors: p.successors, maintenance: false, ..Config::default() }
}

fn run_converged(p: &LookupParams, report: &mut Report, progress: Progress) {
    let started = Instant::now();
    let mut rng = SeededRng::new(p.seed);
    let ring = IdealRing::new((0..p.nodes).map(|_| Id::from_words(|| rng.next_u64())).collect());
    let threads = p.threads.clamp(1, 16) as u64;
    let done: Vec<AtomicU64> = (0..threads).map(|_| AtomicU64::new(0)).collect();
    let results: Vec<(Simulator, Workload)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let done = &done[t as usize];
                let ring = ring.clone();
                let lookups = p.lookups / threads + u64::from(t < p.lookups % threads);
                let seed = p.seed.wrapping_add(t.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                scope.spawn(move || {
                    let mut sim = simulator(seed, converged_config(p));
                    build_converged_from(&mut sim, ring.clone(), &mut |_, _, _| {});
                    let mut w = Workload::default();
                    drive(&mut sim, &mut w, &ring, lookups, p.concurrency, &mut |_, d, _| done.store(d, Ordering::Relaxed));
                    sim.check();
                    (sim, w)
                })
            })
            .collect();
        // Progress is reported from this thread while the workers run.
        let total = p.lookups;
        while handles.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(std::time::Duration::from_millis(200));
            progress("lookups", done.iter().map(|d| d.load(Ordering::Relaxed)).sum(), total);
        }
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut w = Workload::default();
    for (sim, part) in &results {
        w.merge(part);
        report.events += sim.counters.events;
        report.messages += sim.counters.messages;
        report.invariant_violations += sim.counters.violations;
        report.assumption_breaches += sim.counters.breaches;
        report.violation_log.extend(sim.violation_log.iter().cloned());
        report.sim_s = report.sim_s.max(sim.now().0 as f64 / 1000.0);
    }
    if results.len() as u64 != threads {
        // A worker panicked: report it as a violation rather than a partial success.
        report.invariant_violations += 1;
        report.violation_log.push("a simulation thread panicked".into());
    }
    progress("lookups", w.done, p.lookups);
    report.params.insert("threads".into(), threads as f64);
    report.params.insert("converged".into(), 1.0);
    w.fill(report);
    report.successors = p.successors;
    report.replicas = Config::default().replicas;
    report.peak_rss_mib = crate::sim::report::peak_rss_mib();
    if report.lookups > 0 {
        report.failed_fraction = report.failed_lookups as f64 / report.lookups as f64;
    }
    report.wall_s = started.elapsed().as_secs_f64();
}

fn run_joined(p: &LookupParams, report: &mut Report, progress: Progress) {
    let started = Instant::now();
    let node = Config {
        successors: p.successors,
        stabilize_ms: 1_000,
        fix_fingers_ms: 1_000,
        check_predecessor_ms: 2_000,
        replicate_ms: 5_000,
        ..Config::default()
    };
    let mut sim = simulator(p.seed, node);
    let converged = build_joined(&mut sim, p.nodes, 1_000, 3_000, 600_000, progress);
    report.params.insert("converged".into(), if converged { 1.0 } else { 0.0 });
    report.params.insert("converge_sim_s".into(), sim.now().0 as f64 / 1000.0);
    let ring = IdealRing::new(sim.members().iter().map(|&h| sim.nodes()[h].node.id()).collect());
    let mut w = Workload::default();
    drive(&mut sim, &mut w, &ring, p.lookups, p.concurrency, progress);
    sim.check();
    w.fill(report);
    finish(report, &sim, started);
}

/// Runs `lookups` lookups from random members for random keys, `concurrency` at a time.
fn drive(sim: &mut Simulator, w: &mut Workload, ring: &IdealRing, lookups: u64, concurrency: usize, progress: Progress) {
    let truth = |k: &Id| Some(ring.successor(k));
    let mut issued = 0u64;
    while issued < lookups || w.in_flight() > 0 {
        while issued < lookups && w.in_flight() < concurrency {
            let Some(origin) = sim.random_member() else { break };
            let target = {
                let rng = sim.rng();
                Id::from_words(|| rng.next_u64())
            };
            w.lookup(sim, origin, target);
            issued += 1;
        }
        for _ in 0..4096 {
            if !sim.step() {
                break;
            }
        }
        w.absorb(sim, &truth);
        if issued % 16384 == 0 || w.in_flight() == 0 {
            progress("lookups", w.done, lookups);
        }
        if sim.is_idle() && w.in_flight() > 0 {
            break; // cannot happen with request timeouts, but never spin
        }
    }
}
