//! Random churn schedules on small rings, with Zave's invariants checked after
//! every single event. Each seed is a reproducible scenario: ring size 8–64,
//! message loss up to 5 %, joins, crashes and graceful leaves at random times,
//! puts throughout. A failure message names the seed.

use chord::sim::invariants::{convergence, key_safety};
use chord::sim::scenario::{build_converged, wait_converged};
use chord::sim::{NetModel, SimConfig, Simulator};
use chord::{Config, Event, Id};
use std::collections::{HashMap, HashSet};

/// Keys some alive node holds.
fn held(sim: &Simulator) -> HashSet<Id> {
    sim.nodes().iter().filter(|n| n.alive).flat_map(|n| n.node.store().records().map(|r| r.key)).collect()
}

/// Keys no alive node holds.
fn unheld(sim: &Simulator, keys: &HashMap<Id, Id>) -> HashSet<Id> {
    let held = held(sim);
    keys.keys().filter(|k| !held.contains(*k)).copied().collect()
}

struct Outcome {
    violations: u64,
    breaches: u64,
    events: u64,
}

/// The ring-unification switches a schedule runs with (see `Config::lost_probe_ms`
/// and `Config::rescue`); `None` keeps `Config::default()`'s.
#[derive(Clone, Copy, Debug, Default)]
struct Switches {
    lost_probe_ms: Option<u64>,
    rescue: Option<bool>,
}

impl Switches {
    /// From `CHURN_LOST_PROBE_MS` and `CHURN_RESCUE` (`0`/`1`), for `other_seeds`.
    fn from_env() -> Switches {
        Switches {
            lost_probe_ms: std::env::var("CHURN_LOST_PROBE_MS").ok().map(|v| v.parse().expect("CHURN_LOST_PROBE_MS=ms")),
            rescue: std::env::var("CHURN_RESCUE").ok().map(|v| v == "1"),
        }
    }
}

fn schedule(seed: u64) -> Outcome {
    schedule_with(seed, Switches::default())
}

fn schedule_with(seed: u64, switches: Switches) -> Outcome {
    let mut pick = chord::rng::SeededRng::new(seed ^ 0x5eed);
    let nodes = 8 + pick.below(57) as usize;
    let loss = pick.below(6) as f64 / 100.0;
    let successors = 3 + pick.below(4) as usize;
    // Every third schedule runs the browser peer's failure detection:
    // neighbour probes, two attempts per query, deadlines that follow answer
    // times up to 5 times the least one.
    let probing = seed % 3 == 0;
    let cfg = Config {
        probe_ms: if probing { 500 } else { 0 },
        rpc_timeout_max_ms: if probing { 2_000 } else { 0 },
        rpc_attempts: if probing { 2 } else { 3 },
        successors,
        replicas: 3,
        stabilize_ms: 500,
        fix_fingers_ms: 250,
        check_predecessor_ms: 500,
        replicate_ms: 500,
        rpc_timeout_ms: 400,
        request_timeout_ms: 3_000,
        ..Config::default()
    };
    let cfg =
        Config { lost_probe_ms: switches.lost_probe_ms.unwrap_or(cfg.lost_probe_ms), rescue: switches.rescue.unwrap_or(cfg.rescue), ..cfg };
    let mut sim = Simulator::new(SimConfig {
        seed,
        node: cfg,
        net: NetModel { min_ms: 5, mean_extra_ms: 20.0, loss },
        check_every_event: true,
        encode: seed % 2 == 1,
        keep_neighbour_events: false,
    });
    build_converged(&mut sim, nodes, &mut |_, _, _| {});
    let mut pending_puts: HashMap<(usize, chord::message::ReqId), (Id, Id)> = HashMap::new();
    let mut acked: HashMap<Id, Id> = HashMap::new();
    let mut lost_by_crash: HashSet<Id> = HashSet::new();
    // 40 random actions over ~10 simulated seconds.
    for step in 0..40u64 {
        let wait = 50 + sim.rng().below(400);
        sim.run_for(wait);
        for (h, ev) in sim.take_events() {
            if let Event::PutDone { req, .. } = ev {
                if let Some((k, d)) = pending_puts.remove(&(h, req)) {
                    acked.insert(k, d);
                }
            }
        }
        let members = sim.members().len();
        match sim.rng().below(10) {
            0..=2 if members < 80 => {
                let id = sim.fresh_id();
                let h = sim.add_node(id);
                match sim.random_member() {
                    Some(via) => sim.join(h, via),
                    None => sim.create(h),
                }
            }
            3..=4 if members > 4 => {
                if let Some(h) = sim.random_member() {
                    // Keys whose every holder is this node are lost by the
                    // crash, also those whose put is acknowledged only later
                    // (the primary answers before its replicas have a copy).
                    let before = held(&sim);
                    sim.crash(h);
                    lost_by_crash.extend(before.difference(&held(&sim)));
                }
            }
            5 if members > 4 => {
                if let Some(h) = sim.random_member() {
                    sim.leave(h);
                }
            }
            _ => {
                if let Some(h) = sim.random_member() {
                    let name = format!("seed {seed} file {step}");
                    let key = Id::key_of(&name);
                    let value = name.into_bytes();
                    let digest = Id::hash(&value);
                    if let Ok(req) = sim.command(h, |n, now| n.put(now, key, value)) {
                        pending_puts.insert((h, req), (key, digest));
                    }
                }
            }
        }
    }
    // Quiet period, on a network that no longer loses messages: the ring must
    // repair itself completely.
    sim.cfg.net.loss = 0.0;
    let converged = wait_converged(&mut sim, 120_000, &mut |_, _, _| {});
    assert!(converged, "seed {seed}: ring of {nodes} did not converge: {:?}", convergence(&sim));
    sim.run_for(5_000);
    for (h, ev) in sim.take_events() {
        if let Event::PutDone { req, .. } = ev {
            if let Some((k, d)) = pending_puts.remove(&(h, req)) {
                acked.insert(k, d);
            }
        }
    }
    let safety = key_safety(&sim, &acked, 3);
    let lost: HashSet<Id> = unheld(&sim, &acked);
    let unexplained: Vec<&Id> = lost.difference(&lost_by_crash).collect();
    assert!(unexplained.is_empty(), "seed {seed}: {} keys lost without all holders crashing: {unexplained:?}", unexplained.len());
    if sim.members().len() >= 3 {
        assert_eq!(safety.under_replicated, 0, "seed {seed}: {safety:?}");
    }
    assert_eq!(sim.counters.violations, 0, "seed {seed}: {:#?}", sim.violation_log);
    Outcome { violations: sim.counters.violations, breaches: sim.counters.breaches, events: sim.counters.events }
}

fn run_range(seeds: std::ops::Range<u64>) {
    run_range_with(seeds, Switches::default())
}

fn run_range_with(seeds: std::ops::Range<u64>, switches: Switches) {
    let mut events = 0;
    let mut breaches = 0;
    for seed in seeds.clone() {
        let o = schedule_with(seed, switches);
        assert_eq!(o.violations, 0);
        events += o.events;
        breaches += o.breaches;
    }
    eprintln!("seeds {seeds:?}: {events} events checked, {breaches} failure-model breaches");
}

// 1000 schedules, split so the test harness runs them on every core.
#[test]
fn churn_schedules_0_250() {
    run_range(0..250);
}
#[test]
fn churn_schedules_250_500() {
    run_range(250..500);
}
#[test]
fn churn_schedules_500_750() {
    run_range(500..750);
}
#[test]
fn churn_schedules_750_1000() {
    run_range(750..1000);
}

/// Seeds that ended with a second cycle while a rescuing node (every
/// successor dead, asking its nearest finger) stayed a member with an empty
/// successor list, that is a ring of one (docs/unification.md, "Rescue
/// instead of a cascade").
#[test]
fn a_rescue_closes_no_second_cycle() {
    let rescue_only = Switches { lost_probe_ms: Some(0), rescue: Some(true) };
    for seed in [204, 866] {
        assert_eq!(schedule_with(seed, rescue_only).violations, 0, "seed {seed}");
    }
    let both = Switches { lost_probe_ms: Some(3_000), rescue: Some(true) };
    for seed in [473, 903] {
        assert_eq!(schedule_with(seed, both).violations, 0, "seed {seed}");
    }
}

#[test]
fn a_seed_replays_exactly() {
    let a = schedule(4242);
    let b = schedule(4242);
    assert_eq!((a.events, a.breaches), (b.events, b.breaches));
}

/// Twenty more schedules, or `CHURN_SEEDS=a..b cargo test --release --test
/// churn_schedules other_seeds` to search other seeds or replay one
/// (`CHURN_LOST_PROBE_MS=3000 CHURN_RESCUE=1` set the unification switches;
/// `CHURN_KEEP_GOING=1` runs every seed and names all that fail).
#[test]
fn other_seeds() {
    let range = match std::env::var("CHURN_SEEDS") {
        Ok(r) => {
            let (a, b) = r.split_once("..").expect("CHURN_SEEDS=a..b");
            a.parse().expect("a number")..b.parse().expect("a number")
        }
        Err(_) => 1000..1020,
    };
    let switches = Switches::from_env();
    if std::env::var("CHURN_KEEP_GOING").is_err() {
        return run_range_with(range, switches);
    }
    let failed: Vec<u64> = range.clone().filter(|seed| std::panic::catch_unwind(|| schedule_with(*seed, switches)).is_err()).collect();
    eprintln!("seeds {range:?} with {switches:?}: {} failed: {failed:?}", failed.len());
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
}
