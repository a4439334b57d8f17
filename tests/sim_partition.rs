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
