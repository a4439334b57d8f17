//! Rings built by real joins in the simulator, with invariants checked after every event.

use chord::sim::invariants::{convergence, key_safety};
use chord::sim::scenario::{build_joined, wait_converged};
use chord::sim::{SimConfig, Simulator};
use chord::{Config, Event, Id};
use std::collections::HashMap;

fn sim(seed: u64, cfg: Config) -> Simulator {
    Simulator::new(SimConfig { seed, node: cfg, check_every_event: true, encode: true, ..SimConfig::default() })
}

#[test]
fn joined_ring_converges_without_violations() {
    let mut s = sim(7, Config { successors: 4, ..Config::default() });
    let ok = build_joined(&mut s, 24, 1_000, 3_000, 120_000, &mut |_, _, _| {});
    assert!(ok, "not converged: {:?}", convergence(&s));
    assert_eq!(s.counters.violations, 0, "{:#?}", s.violation_log);
    assert_eq!(s.counters.breaches, 0);
    assert_eq!(s.members().len(), 24);
}

#[test]
fn put_get_and_graceful_leave_keep_keys() {
    let mut s = sim(11, Config { successors: 4, replicas: 3, ..Config::default() });
    assert!(build_joined(&mut s, 12, 1_000, 3_000, 120_000, &mut |_, _, _| {}));
    let mut keys = HashMap::new();
    for i in 0..40 {
        let name = format!("file {i}");
        let key = Id::key_of(&name);
        let origin = s.random_member().unwrap();
        s.command(origin, |n, now| n.put(now, key, name.clone().into_bytes())).unwrap();
        keys.insert(key, Id::hash(name.as_bytes()));
    }
    s.run_for(10_000);
    let puts = s.take_events().into_iter().filter(|(_, e)| matches!(e, Event::PutDone { .. })).count();
    assert_eq!(puts, 40);
    let safety = key_safety(&s, &keys, 3);
    assert_eq!((safety.lost, safety.under_replicated), (0, 0), "{safety:?}");
    // Four nodes leave gracefully, one after another.
    for _ in 0..4 {
        let h = s.random_member().unwrap();
        s.leave(h);
        s.run_for(5_000);
    }
    assert!(wait_converged(&mut s, 120_000, &mut |_, _, _| {}));
    s.run_for(10_000);
    let safety = key_safety(&s, &keys, 3);
    assert_eq!((safety.lost, safety.under_replicated, safety.stale_primary), (0, 0, 0), "{safety:?}");
    // Every key can be read back from every member.
    s.take_events();
    for (key, digest) in &keys {
        let origin = s.random_member().unwrap();
        s.command(origin, |n, now| n.get(now, *key)).unwrap();
        s.run_for(3_000);
        let got = s.take_events().into_iter().find_map(|(_, e)| match e {
            Event::GetDone { record, .. } => Some(record),
            _ => None,
        });
        let rec = got.expect("get answered").expect("value found");
        assert_eq!(rec.digest, *digest);
    }
    assert_eq!(s.counters.violations, 0, "{:#?}", s.violation_log);
}
