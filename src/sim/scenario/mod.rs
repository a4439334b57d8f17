//! The experiments of the Chord paper, run on the simulator.
//!
//! Each scenario builds a ring, drives it, and returns a [`Report`]. Progress
//! is reported through a callback so that the command-line tool can draw a
//! progress bar while the library stays free of terminal code.

mod churn;
mod fail;
mod lookup;
mod partition;
mod workload;

pub use churn::{run_churn, ChurnParams};
pub use fail::{run_fail, FailParams};
pub use lookup::{run_lookup, Init, LookupParams};
pub use partition::{run_partition, PartitionParams, PartitionReport};

use super::ideal::IdealRing;
use super::invariants::convergence;
use super::report::Report;
use super::{SimConfig, Simulator};
use crate::config::Config;
use crate::node::Node;
use crate::time::Millis;

/// Progress callback: `(phase, done, total)`.
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64, u64);

/// A progress callback that does nothing.
pub fn no_progress() -> impl FnMut(&str, u64, u64) {
    |_: &str, _: u64, _: u64| {}
}

/// Places `n` nodes with random ids directly into their ideal state.
pub fn build_converged(sim: &mut Simulator, n: usize, progress: Progress) {
    let ids: Vec<_> = (0..n).map(|_| sim.fresh_id()).collect();
    build_converged_from(sim, IdealRing::new(ids), progress);
}

/// Places nodes with the given ids directly into their ideal state.
pub fn build_converged_from(sim: &mut Simulator, ring: IdealRing, progress: Progress) {
    let cfg = sim.cfg.node.clone();
    let now = sim.now();
    sim.reserve(ring.len());
    let total = ring.len() as u64;
    for pos in 0..ring.len() {
        let id = ring.ids()[pos];
        let pred = (ring.len() > 1).then(|| ring.predecessor_of(pos));
        let succs = ring.successors_of(pos, cfg.successors);
        let fingers = ring.fingers_of(pos);
        let seed = sim.rng().next_u64();
        sim.insert(Node::with_ring_state(id, cfg.clone(), seed, pred, &succs, fingers, now));
        if pos % 65536 == 0 {
            progress("build ring", pos as u64, total);
        }
    }
    progress("build ring", total, total);
}

/// Builds a ring of `n` nodes by real protocol joins through random members,
/// then runs maintenance until every pointer is correct or `max_ms` of
/// simulated time passed. Returns whether it converged.
///
/// Joins come in waves that at most double the ring: each wave's newcomers
/// arrive at random times within `wave_ms` through random members, then the
/// ring gets `settle_ms` to stabilize. Joining a thousand nodes into a ring of
/// ten at once would make most of them join through nodes that do not yet
/// know their neighbours, and the ring would spend its time walking them into
/// place one step at a time; waves keep joins realistic and the build fast.
pub fn build_joined(sim: &mut Simulator, n: usize, wave_ms: u64, settle_ms: u64, max_ms: u64, progress: Progress) -> bool {
    let first = sim.fresh_id();
    let h = sim.add_node(first);
    sim.create(h);
    let mut added = 1;
    while added < n {
        let wave = sim.members().len().max(1).min(n - added);
        let start = sim.now();
        let mut times: Vec<u64> = (0..wave).map(|_| sim.rng().below(wave_ms.max(1))).collect();
        times.sort_unstable();
        for t in times {
            sim.run_until(start + t);
            let id = sim.fresh_id();
            let h = sim.add_node(id);
            if let Some(via) = sim.random_member() {
                sim.join(h, via);
            }
            added += 1;
        }
        sim.run_until(start + wave_ms + settle_ms);
        progress("join", added as u64, n as u64);
    }
    wait_converged(sim, max_ms, progress)
}

/// Runs until every member's pointers are ideal (checked every few simulated
/// seconds, with the invariants), or `max_ms` passed.
pub fn wait_converged(sim: &mut Simulator, max_ms: u64, progress: Progress) -> bool {
    let deadline = sim.now() + max_ms;
    let step = (sim.cfg.node.stabilize_ms * 2).max(1_000);
    loop {
        sim.check();
        let c = convergence(sim);
        let bad = (c.not_joined + c.wrong_fingers + c.wrong_predecessors + c.wrong_successor_lists) as u64;
        progress("converge (wrong pointers left)", bad, bad.max(1));
        if c.is_converged() {
            return true;
        }
        if sim.now() >= deadline {
            return false;
        }
        sim.run_for(step);
    }
}

/// A simulator for a scenario.
pub(crate) fn simulator(seed: u64, node: Config) -> Simulator {
    Simulator::new(SimConfig { seed, node, ..SimConfig::default() })
}

/// Fills the fields every report has.
pub(crate) fn finish(report: &mut Report, sim: &Simulator, started: std::time::Instant) {
    report.invariant_violations = sim.counters.violations;
    report.assumption_breaches = sim.counters.breaches;
    report.sim_s = sim.now().0 as f64 / 1000.0;
    report.wall_s = started.elapsed().as_secs_f64();
    report.events = sim.counters.events;
    report.messages = sim.counters.messages;
    report.peak_rss_mib = super::report::peak_rss_mib();
    report.successors = sim.cfg.node.successors;
    report.replicas = sim.cfg.node.replicas;
    report.violation_log = sim.violation_log.clone();
    if report.lookups > 0 {
        report.failed_fraction = report.failed_lookups as f64 / report.lookups as f64;
    }
}

/// Advances simulated time in slices, checking invariants between them.
pub(crate) fn run_checked(sim: &mut Simulator, until: Millis, check_every_ms: u64) {
    if check_every_ms == 0 {
        sim.cfg.check_every_event = true;
        sim.run_until(until);
        sim.cfg.check_every_event = false;
        return;
    }
    while sim.now() < until {
        let t = (sim.now() + check_every_ms).min(until);
        sim.run_until(t);
        sim.check();
    }
}
