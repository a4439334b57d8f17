//! Network partitions and ring unification in the simulator.
//!
//! 200 random partition schedules (seeded; ring of 16–128 nodes, 2–3
//! groups, splits of 45–120 simulated seconds with joins, crashes and puts —
//! some to the same key in every group — on each side): each must end in one
//! correct ring with no key lost that had a live holder at the heal, the
//! newest versions winning, every record on its R rightful holders, and no
//! invariant violation. Negative checks make sure the ring counter and the
//! checker really see several rings, and that without ring unification the
//! rings stay apart. The Sybil split of fuzz/README.md heals once the Sybils
//! go silent. A failure names the seed.

use chord::finger::FingerTable;
use chord::id::Id;
use chord::message::Message;
use chord::sim::ideal::IdealRing;
use chord::sim::invariants::{count_rings, one_correct_ring};
use chord::sim::scenario::{build_converged, build_converged_from, no_progress, run_partition, PartitionParams};
use chord::sim::{SimConfig, Simulator};
use chord::{Config, Millis, Node};

/// The parameters of schedule `seed`.
fn schedule(seed: u64) -> PartitionParams {
    let mut pick = chord::rng::SeededRng::new(seed ^ 0x9a27_1710);
    let nodes = 16 + pick.below(113) as usize;
    let groups = 2 + pick.below(2) as usize;
    let heal_s = 45 + pick.below(76);
    let loss = pick.below(3) as f64 / 100.0;
    // Every third schedule runs the browser peer's configuration (neighbour
    // probes, shorter timeouts); every fifth has a single replica.
    let node = if seed % 3 == 0 { chord::peer::browser_node_config() } else { Config::default() };
    let replicas = if seed % 5 == 0 { 1 } else { 3 };
    PartitionParams {
        nodes,
        groups,
        split_s: 5 + pick.below(10),
        heal_s,
        replicas,
        keys: 60,
        actions: 10 + pick.below(40),
        cap_s: 600,
        // Small rings are checked after every event, larger ones every 250 ms.
        check_every_ms: if nodes <= 32 { 0 } else { 250 },
        loss,
        node,
        seed,
        ..PartitionParams::default()
    }
}

fn run_range(seeds: std::ops::Range<u64>) {
    let mut worst_merge: f64 = 0.0;
    let (mut gets, mut not_sure) = (0, 0);
    for seed in seeds.clone() {
        let p = schedule(seed);
        let r = run_partition(&p, &mut no_progress());
        let what = format!(
            "seed {seed} ({} nodes, {} groups, split {} s, loss {}): {}",
            p.nodes,
            p.groups,
            p.heal_s,
            p.loss,
            serde_json::to_string(&r).unwrap_or_default()
        );
        assert!(r.rings_before_heal >= 2, "the split made no second ring: {what}");
        assert!(r.one_ring && r.rings_after_heal == 1, "not one correct ring: {what}");
        assert_eq!(r.keys_lost, 0, "keys lost: {what}");
        assert_eq!(r.base.invariant_violations, 0, "violations: {what}");
        assert!(r.settle_s.is_some(), "records did not settle (stale, conflicting or under-replicated): {what}");
        assert_eq!((r.stale_versions, r.conflicting_versions, r.under_replicated), (0, 0, 0), "{what}");
        // No get answers "nothing" for a key a live node holds once the ring is one.
        assert_eq!(r.false_absent, 0, "false \"nothing stored\" after the merge: {what}");
        gets += r.gets_after_heal;
        not_sure += r.gets_not_sure;
        worst_merge = worst_merge.max(r.merge_s.unwrap_or(f64::MAX));
    }
    assert!(gets > 0, "no get was scored");
    eprintln!("seeds {seeds:?}: slowest merge {worst_merge} simulated s after the heal; {gets} gets after it, {not_sure} not sure");
}

// 200 schedules, split so the test harness runs them on both cores.
#[test]
fn partition_schedules_0_100() {
    run_range(0..100);
}
#[test]
fn partition_schedules_100_200() {
    run_range(100..200);
}

/// `PARTITION_SEEDS=a..b cargo test --release --test sim_partition other_seeds`
/// searches other seeds or replays one (none by default).
#[test]
fn other_seeds() {
    let Ok(r) = std::env::var("PARTITION_SEEDS") else { return };
    let (a, b) = r.split_once("..").expect("PARTITION_SEEDS=a..b");
    run_range(a.parse().expect("a number")..b.parse().expect("a number"));
}

#[test]
fn a_seed_replays_exactly() {
    let a = run_partition(&schedule(7), &mut no_progress());
    let b = run_partition(&schedule(7), &mut no_progress());
    assert_eq!((a.base.events, a.base.messages, a.merge_s), (b.base.events, b.base.messages, b.merge_s));
}

/// A ring of `n` split into two groups: the counter sees two rings while
/// split, messages across are dropped, and without ring unification
/// (`lost_probe_ms = 0`) the rings stay apart after the heal; with it they
/// become one.
fn split_and_heal(unify: bool) -> (usize, usize, u64, bool) {
    let node = Config { lost_probe_ms: if unify { 3_000 } else { 0 }, rescue: true, ..Config::default() };
    let mut sim = Simulator::new(SimConfig { seed: 5, node, ..SimConfig::default() });
    build_converged(&mut sim, 48, &mut no_progress());
    sim.run_for(2_000);
    assert_eq!(count_rings(&sim), 1);
    let groups: Vec<u32> = (0..48).map(|h| (h % 2) as u32).collect();
    sim.partition(&groups);
    sim.run_for(60_000);
    sim.check();
    let during = count_rings(&sim);
    sim.heal();
    sim.run_for(120_000);
    sim.check();
    (during, count_rings(&sim), sim.counters.partitioned, one_correct_ring(&sim))
}

#[test]
fn without_unification_the_rings_stay_apart() {
    let (during, after, dropped, correct) = split_and_heal(false);
    assert_eq!(during, 2, "two groups, two rings");
    assert!(dropped > 0);
    assert_eq!(after, 2, "Chord's stabilization alone never merges two rings");
    assert!(!correct);
}

#[test]
fn with_unification_they_become_one() {
    let (during, after, _, correct) = split_and_heal(true);
    assert_eq!(during, 2);
    assert_eq!(after, 1);
    assert!(correct);
}

/// Two rings built apart, with no split to explain them, are a violation:
/// the checker tolerates several rings only when a partition made them.
#[test]
fn two_rings_without_a_split_are_a_violation() {
    let mut sim = Simulator::new(SimConfig { seed: 3, ..SimConfig::default() });
    let ids: Vec<Id> = (0..8).map(|_| sim.fresh_id()).collect();
    build_converged_from(&mut sim, IdealRing::new(ids[..4].to_vec()), &mut no_progress());
    build_converged_from(&mut sim, IdealRing::new(ids[4..].to_vec()), &mut no_progress());
    sim.run_for(5_000);
    assert_eq!(count_rings(&sim), 2);
    assert!(sim.check() > 0, "two rings went unnoticed");
    assert!(sim.violation_log.iter().any(|v| v.contains("OneRing: 2 cycles")), "{:?}", sim.violation_log);
}

/// `unify_with` joins two rings that never met (say, two signaling servers
/// founded one each), whichever members are introduced.
#[test]
fn unify_with_merges_two_rings_built_apart() {
    for seed in 0..10 {
        let mut sim = Simulator::new(SimConfig { seed, ..SimConfig::default() });
        let ids: Vec<Id> = (0..24).map(|_| sim.fresh_id()).collect();
        let split = 4 + (seed as usize % 12);
        build_converged_from(&mut sim, IdealRing::new(ids[..split].to_vec()), &mut no_progress());
        build_converged_from(&mut sim, IdealRing::new(ids[split..].to_vec()), &mut no_progress());
        sim.expect_many_rings();
        for (i, id) in ids.iter().enumerate() {
            let h = sim.handle_of(id).unwrap();
            let _ = sim.command(h, |n, now| n.put(now, Id::key_of(&format!("{seed}/{i}")), vec![i as u8]));
        }
        sim.run_for(3_000);
        assert_eq!(count_rings(&sim), 2);
        let a = sim.handle_of(&ids[0]).unwrap();
        let b = ids[ids.len() - 1];
        sim.command(a, |n, now| n.unify_with(now, b));
        let start = sim.now();
        while !one_correct_ring(&sim) && sim.now().0 - start.0 < 60_000 {
            sim.run_for(500);
        }
        assert!(one_correct_ring(&sim), "seed {seed}: not one ring 60 s after unify_with");
        sim.run_for(20_000);
        sim.check();
        assert_eq!(sim.counters.violations, 0, "seed {seed}: {:?}", sim.violation_log);
        let held: std::collections::HashSet<Id> =
            sim.nodes().iter().flat_map(|n| n.node.store().records().map(|r| r.key).collect::<Vec<_>>()).collect();
        assert_eq!(held.len(), ids.len(), "seed {seed}: a key was lost");
    }
}

/// The Sybil split of fuzz/README.md ("What is not defended"): one Sybil just
/// before each of four honest nodes A < B < C < D gets itself accepted as
/// that node's predecessor and tells the node before it that its successor is
/// the asker's next-but-one. Once the Sybils go silent the ring is A⇄C and
/// B⇄D for good without ring unification; with it, the honest nodes find the
/// peers they lost (each remembered the successor a Sybil displaced) and
/// make one ring again. Returns the simulator 90 s after the Sybils went silent.
fn sybil_split(unify: bool) -> (Simulator, Vec<Id>, u64) {
    let honest: Vec<Id> = ["1", "5", "9", "d"].iter().map(|d| Id::from_hex(&format!("{d}{}", "0".repeat(39))).unwrap()).collect();
    let node = Config { successors: 4, replicas: 3, lost_probe_ms: if unify { 3_000 } else { 0 }, rescue: true, ..Config::default() };
    let mut sim = Simulator::new(SimConfig { seed: 11, node, ..SimConfig::default() });
    build_converged_from(&mut sim, IdealRing::new(honest.clone()), &mut no_progress());
    sim.outside = Some(Vec::new());
    sim.expect_many_rings();
    let next_but_one = |asker: &Id| -> Id {
        let i = honest.iter().position(|h| h == asker).unwrap_or(0);
        honest[(i + 2) % honest.len()]
    };
    // The Sybils (X − 1 for each honest X) rectify their victims, then
    // answer whatever they are asked, for 20 simulated seconds.
    for x in &honest {
        let h = sim.handle_of(x).unwrap();
        sim.deliver(h, x.wrapping_sub(&Id::from_u64(1)), Message::Rectify, 5);
    }
    let until = sim.now().0 + 20_000;
    while sim.now().0 < until {
        sim.run_for(10);
        let asked = std::mem::take(sim.outside.as_mut().unwrap());
        for (from, to, msg) in asked {
            let Some(h) = sim.handle_of(&from) else { continue };
            let reply = match msg {
                Message::GetNeighbors { req } => {
                    Some(Message::Neighbors { req, predecessor: Some(from), successors: vec![next_but_one(&from)] })
                }
                Message::Ping { req } => Some(Message::Pong { req, predecessors: vec![] }),
                _ => None,
            };
            if let Some(m) = reply {
                sim.deliver(h, to, m, 5);
            }
        }
    }
    // The Sybils go silent (their ids become dead nodes).
    sim.outside = None;
    let merges_before = sim.nodes().iter().map(|n| n.node.stats().merges_adopted).sum::<u64>();
    sim.run_for(90_000);
    let merges = sim.nodes().iter().map(|n| n.node.stats().merges_adopted).sum::<u64>() - merges_before;
    (sim, honest, merges)
}

#[test]
fn the_sybil_split_stays_without_unification() {
    let (sim, honest, _) = sybil_split(false);
    assert_eq!(count_rings(&sim), 2, "the attack did not split the ring: {:?}", states(&sim, &honest));
}

#[test]
fn the_sybil_split_heals_once_the_sybils_go_silent() {
    let (mut sim, honest, merges) = sybil_split(true);
    assert!(one_correct_ring(&sim), "still split: {:?}", states(&sim, &honest));
    assert!(merges > 0, "one ring again, but not by a merge after the Sybils went silent");
    sim.check();
    assert_eq!(sim.counters.violations, 0, "{:?}", sim.violation_log);
}

fn states(sim: &Simulator, ids: &[Id]) -> Vec<(Id, Option<Id>, Vec<Id>)> {
    ids.iter()
        .filter_map(|id| sim.handle_of(id))
        .map(|h| {
            let n = &sim.nodes()[h].node;
            (n.id(), n.predecessor(), n.successors().to_vec())
        })
        .collect()
}

/// A node alone in its ring, for the unify checks below.
fn alone(id: Id) -> Node {
    Node::with_ring_state(id, Config::default(), 1, None, &[], FingerTable::new(), Millis(0))
}

/// A forged `Merge` makes a node ask the named node for its neighbours; it
/// never adopts it on the forger's word.
#[test]
fn a_forged_merge_plants_no_pointer() {
    let me = Id::from_u64(100);
    let mut n = alone(me);
    while n.poll_output().is_some() {}
    let ghost = Id::from_u64(200);
    n.handle_message(Millis(10), Id::from_u64(999), Message::Merge { node: ghost, hops: 0 });
    let out: Vec<_> = std::iter::from_fn(|| n.poll_output()).collect();
    assert!(out.iter().any(|o| matches!(o, chord::Output::Send { to, msg: Message::GetNeighbors { .. } } if *to == ghost)), "{out:?}");
    assert!(n.successors().is_empty(), "adopted on the forger's word");
    // The ghost never answers: nothing is adopted, and the check is dropped.
    for t in (100..20_000).step_by(100) {
        n.handle_timeout(Millis(t));
        while n.poll_output().is_some() {}
    }
    assert!(n.successors().is_empty());
    assert!(n.stats().merge_dropped >= 1);
}

/// The command line: `chord-sim partition … --json` prints one report and
/// exits 0 for a run that ends in one correct ring; bad arguments exit 2.
#[test]
fn chord_sim_partition_command() {
    let bin = env!("CARGO_BIN_EXE_chord-sim");
    let args = [
        "partition",
        "--nodes",
        "32",
        "--groups",
        "2",
        "--split-s",
        "5",
        "--heal-s",
        "60",
        "--keys",
        "20",
        "--actions",
        "8",
        "--seed",
        "3",
        "--json",
        "--quiet",
    ];
    let out = std::process::Command::new(bin).args(args).env("CHORD_SIM_NO_HUGEPAGES", "1").output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(r["scenario"], "partition");
    assert_eq!(r["rings_before_heal"], 2);
    assert_eq!(r["rings_after_heal"], 1);
    assert_eq!(r["keys_lost"], 0);
    assert!(r["merge_s"].as_f64().is_some());
    let out = std::process::Command::new(bin)
        .args(["partition", "--groups", "1", "--quiet"])
        .env("CHORD_SIM_NO_HUGEPAGES", "1")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(bin).args(["partition", "--help"]).env("CHORD_SIM_NO_HUGEPAGES", "1").output().expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--split-s") && help.contains("--heal-s") && help.contains("merge_s"), "{help}");
}
