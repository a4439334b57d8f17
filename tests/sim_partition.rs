//! Network partitions in the simulator: rings split, then unify.

use chord::sim::scenario::{no_progress, run_partition, PartitionParams};

#[test]
fn probe_one() {
    let seed: u64 = std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let nodes: usize = std::env::var("NODES").ok().and_then(|s| s.parse().ok()).unwrap_or(64);
    let p = PartitionParams { nodes, seed, ..PartitionParams::default() };
    let r = run_partition(&p, &mut no_progress());
    eprintln!("{}", serde_json::to_string_pretty(&r).unwrap());
    assert!(r.ok());
}

#[test]
fn sweep() {
    let Ok(n) = std::env::var("SWEEP") else { return };
    let n: u64 = n.parse().unwrap();
    let mut bad = 0;
    for seed in 0..n {
        let mut pick = chord::rng::SeededRng::new(seed ^ 0xabc);
        let nodes = 16 + pick.below(113) as usize;
        let groups = 2 + pick.below(2) as usize;
        let mut p = PartitionParams { nodes, groups, seed, heal_s: 30 + pick.below(60), check_every_ms: 500, ..PartitionParams::default() };
        if std::env::var("BROWSER").is_ok() { p.node = chord::peer::browser_node_config(); }
        let r = run_partition(&p, &mut no_progress());
        if !r.ok() || r.settle_s.is_none() {
            bad += 1;
            eprintln!("seed {seed} nodes {nodes} groups {groups}: ok={} merge_s={:?} settle={:?} rings {}→{} lost {} stale {} confl {} under {} viol {} {:?}", r.ok(), r.merge_s, r.settle_s, r.rings_before_heal, r.rings_after_heal, r.keys_lost, r.stale_versions, r.conflicting_versions, r.under_replicated, r.base.invariant_violations, r.base.violation_log.first());
        } else {
            eprintln!("seed {seed} nodes {nodes} groups {groups}: merge {:?} settle {:?} wall {:.2}", r.merge_s, r.settle_s, r.base.wall_s);
        }
    }
    assert_eq!(bad, 0);
}

#[test]
fn one_seed() {
    let Ok(seed) = std::env::var("ONE") else { return };
    let seed: u64 = seed.parse().unwrap();
    let mut pick = chord::rng::SeededRng::new(seed ^ 0xabc);
    let nodes = 16 + pick.below(113) as usize;
    let groups = 2 + pick.below(2) as usize;
    let mut p = PartitionParams { nodes, groups, seed, heal_s: 30 + pick.below(60), check_every_ms: 500, ..PartitionParams::default() };
    if std::env::var("BROWSER").is_ok() { p.node = chord::peer::browser_node_config(); }
    if std::env::var("NOUNIFY").is_ok() { p.node.lost_probe_ms = 0; }
    if let Ok(a) = std::env::var("ACTIONS") { p.actions = a.parse().unwrap(); }
    eprintln!("heal_s {}", p.heal_s);
    let r = run_partition(&p, &mut no_progress());
    eprintln!("{:#?}", r);
}

#[test]
fn split_debug() {
    if std::env::var("SPLITDBG").is_err() { return; }
    use chord::sim::{SimConfig, Simulator};
    use chord::sim::scenario::build_converged;
    let mut sim = Simulator::new(SimConfig { seed: 36, node: chord::peer::browser_node_config(), ..SimConfig::default() });
    build_converged(&mut sim, 128, &mut no_progress());
    sim.run_for(5_000);
    let assign: Vec<u32> = (0..128).map(|_| sim.rng().below(3) as u32).collect();
    sim.partition(&assign);
    let mut traced = false;
    for step in 0..120 {
        sim.run_for(500);
        for (h, ev) in sim.take_events() {
            let id = sim.nodes()[h].node.id();
            if matches!(ev, chord::Event::LostRing) && !traced {
                traced = true;
                eprintln!("TRACE {:?} at {}", id, sim.now().0);
                sim.trace.push(id);
            }
            if sim.trace.contains(&id) { eprintln!("EV {:?} {:?}", id, ev); }
        }
        let nj = sim.nodes().iter().filter(|n| n.alive && n.node.status() != chord::Status::Joined).count();
        if step % 4 == 0 {
            let mut dead_ends = [0usize; 3];
            let mut mem = [0usize; 3];
            let mut short = [0usize; 3];
            for &h in sim.members() {
                let g = sim.group_of(h) as usize;
                mem[g] += 1;
                let n = &sim.nodes()[h].node;
                let ok = n.successors().iter().any(|s| sim.handle_of(s).is_some_and(|x| sim.members().contains(&x) && sim.group_of(x) as usize == g));
                if !ok { dead_ends[g] += 1; if step == 8 { eprintln!("DEAD END {:?} g{g} succs {:?} groups {:?} pending {} stats {:?}", n.id(), n.successors(), n.successors().iter().map(|s| sim.handle_of(s).map(|x| (sim.group_of(x), sim.nodes()[x].alive, sim.nodes()[x].node.status()))).collect::<Vec<_>>(), n.pending(), n.stats()); } }
                if n.successors().len() < 3 { short[g] += 1; }
            }
            eprintln!("t={} not joined {nj} rings {} members {mem:?} dead-ends {dead_ends:?} short {short:?}", sim.now().0, chord::sim::invariants::count_rings(&sim));
        }
    }
}
