//! `partition`: the network splits into groups, each side keeps running
//! (joins, puts — some to the same keys on both sides — and crashes), then
//! the network heals and ring unification must make one ring again.
//!
//! Definitions (see also docs/unification.md):
//!
//! * **rings**: distinct cycles of the members' best-successor graph
//!   ([`count_rings`]); `rings_before_heal` is counted just before the heal,
//!   `rings_after_heal` at the end of the run.
//! * **one correct ring** ([`one_correct_ring`]): one cycle, and every member's
//!   predecessor and successor list as in the ideal ring over the members.
//!   `merge_s` is the simulated time from the heal to the first check (every
//!   second) that finds it.
//! * **keys_lost**: keys that some live node held at the heal and no live
//!   node holds at the end (no node crashes after the heal, so every such key
//!   had a live holder throughout).
//! * **stale_versions**: keys whose newest copy at the end is older than the
//!   newest copy a live node held at the heal (the newer version lost).
//! * **conflicting_versions**: keys whose live holders at the end disagree
//!   on (version, digest).
//! * **under_replicated**: keys not held, at their newest version, by all of
//!   their R rightful holders in the ideal ring at the end.
//!
//! * **false_absent**: gets issued once the ring is one correct ring (every
//!   simulated second from `merge_s` on, [`GETS_PER_S`] of them, for keys a
//!   live node holds, from random members) that answered "nothing stored" —
//!   a lie, since a live node held the key and keeps it. `gets_not_sure`
//!   counts those that failed instead (an honest "not sure yet", or a route
//!   that did not get through). Gets issued while the two rings are still
//!   merging are not scored: a node of one ring that has not met the other
//!   yet answers for the range it knows, as during the split.
//!
//! After the ring is correct the run goes on until a check finds the ring
//! correct and the records settled (no conflicting, stale or under-replicated
//! key), or the cap; `settle_s` is the time from the heal until then.

use super::{build_converged, simulator, Progress};
use crate::config::Config;
use crate::id::Id;
use crate::message::ReqId;
use crate::node::{Event, Status};
use crate::sim::ideal::IdealRing;
use crate::sim::invariants::{count_rings, one_correct_ring};
use crate::sim::report::Report;
use crate::sim::{NetModel, Simulator};
use crate::store::Version;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

/// Gets issued per simulated second after the heal.
pub const GETS_PER_S: usize = 8;

/// Parameters of the partition scenario.
#[derive(Clone, Debug)]
pub struct PartitionParams {
    /// Ring size before the split.
    pub nodes: usize,
    /// Groups the network splits into.
    pub groups: usize,
    /// When the split starts, simulated seconds after the ring is built.
    pub split_s: u64,
    /// How long the split lasts, simulated seconds.
    pub heal_s: u64,
    /// Replication factor R.
    pub replicas: usize,
    /// Successor-list length r.
    pub successors: usize,
    /// Keys put before the split.
    pub keys: u64,
    /// Random actions (join, crash, put, put of a key the other side also
    /// writes) spread over the split.
    pub actions: u64,
    /// Longest run after the heal, simulated seconds.
    pub cap_s: u64,
    /// Check the invariants every this many simulated ms (0: after every event).
    pub check_every_ms: u64,
    /// Message loss probability (the partition aside).
    pub loss: f64,
    /// The node configuration (successors, replicas and the lost-peer probe are set from above).
    pub node: Config,
    /// Mean period of the lost-peer probe (ring unification), ms.
    pub lost_probe_ms: u64,
    /// Seed.
    pub seed: u64,
}

impl Default for PartitionParams {
    fn default() -> Self {
        PartitionParams {
            nodes: 64,
            groups: 2,
            split_s: 10,
            heal_s: 60,
            replicas: 3,
            successors: 8,
            keys: 100,
            actions: 40,
            cap_s: 600,
            check_every_ms: 1_000,
            loss: 0.0,
            node: Config::default(),
            lost_probe_ms: 3_000,
            seed: 1,
        }
    }
}

/// What the partition scenario reports (`--json` prints it).
#[derive(Clone, Debug, Default, Serialize)]
pub struct PartitionReport {
    /// The fields every scenario reports.
    #[serde(flatten)]
    pub base: Report,
    /// Groups of the split.
    pub groups: usize,
    /// Rings just before the heal.
    pub rings_before_heal: usize,
    /// Rings at the end.
    pub rings_after_heal: usize,
    /// Simulated seconds from the heal to one correct ring (`None`: not within the cap).
    pub merge_s: Option<f64>,
    /// Simulated seconds from the heal until the records settled (`None`: not within the cap).
    pub settle_s: Option<f64>,
    /// Whether the run ended in one correct ring.
    pub one_ring: bool,
    /// Keys a live node held at the heal that no live node holds at the end.
    pub keys_lost: u64,
    /// Keys whose newest copy at the end is older than the newest at the heal.
    pub stale_versions: u64,
    /// Keys whose live holders disagree on (version, digest) at the end.
    pub conflicting_versions: u64,
    /// Keys not held at their newest version by all R rightful holders at the end.
    pub under_replicated: u64,
    /// Keys written on more than one side of the split.
    pub keys_written_on_both_sides: u64,
    /// Messages dropped by the split.
    pub partitioned_messages: u64,
    /// Members at the end.
    pub final_nodes: usize,
    /// Joins, crashes and puts during the split.
    pub joins: u64,
    /// Crashes during the split.
    pub crashes: u64,
    /// Puts during the split.
    pub puts: u64,
    /// Merges started (`unify_with` calls, lost peers that answered), over all nodes.
    pub merges_started: u64,
    /// Merge candidates adopted, over all nodes.
    pub merges_adopted: u64,
    /// Merge steps dropped (bounds), over all nodes.
    pub merge_dropped: u64,
    /// Gets issued after the heal (for keys a live node held) and answered
    /// before the run ended.
    pub gets_after_heal: u64,
    /// Of those, gets answered "nothing stored" (false: the key was held).
    pub false_absent: u64,
    /// Of those, gets that failed (not sure yet, or not routed).
    pub gets_not_sure: u64,
}

impl PartitionReport {
    /// Whether the run met its promises: one correct ring, no key lost, no violation.
    pub fn ok(&self) -> bool {
        self.one_ring && self.keys_lost == 0 && self.base.invariant_violations == 0 && self.false_absent == 0
    }
}

/// The newest (version, digest) each key has among live nodes, and how many distinct ones.
fn copies(sim: &Simulator) -> HashMap<Id, (Version, Id, usize)> {
    let mut seen: HashMap<Id, Vec<(Version, Id)>> = HashMap::new();
    for n in sim.nodes().iter().filter(|n| n.alive) {
        for r in n.node.store().records() {
            let v = seen.entry(r.key).or_default();
            if !v.contains(&(r.version, r.digest)) {
                v.push((r.version, r.digest));
            }
        }
    }
    seen.into_iter()
        .map(|(k, mut v)| {
            v.sort_unstable();
            let (ver, dig) = v[v.len() - 1];
            (k, (ver, dig, v.len()))
        })
        .collect()
}

/// Keys not held at `newest` by each of their R rightful holders.
fn under_replicated(sim: &Simulator, newest: &HashMap<Id, (Version, Id, usize)>, replicas: usize) -> u64 {
    let nodes = sim.nodes();
    let ring = IdealRing::new(sim.members().iter().map(|&h| nodes[h].node.id()).collect());
    if ring.is_empty() {
        return newest.len() as u64;
    }
    let want = replicas.min(ring.len());
    let mut bad = 0;
    for (key, (ver, dig, _)) in newest {
        let pos = ring.successor_pos(key);
        let ok = (0..want).all(|k| {
            let id = ring.ids()[(pos + k) % ring.len()];
            sim.handle_of(&id).and_then(|h| nodes[h].node.store().get(key)).is_some_and(|r| r.version == *ver && r.digest == *dig)
        });
        bad += u64::from(!ok);
    }
    bad
}

/// Gets for keys live nodes hold, and what they answered.
#[derive(Default)]
struct Gets {
    pending: HashMap<(usize, ReqId), Id>,
}

impl Gets {
    /// Issues `n` gets for random keys of `held` from random members.
    fn issue(&mut self, sim: &mut Simulator, held: &[Id], n: usize) {
        for _ in 0..n {
            if held.is_empty() {
                return;
            }
            let key = held[sim.rng().below(held.len() as u64) as usize];
            let Some(h) = sim.random_member() else { return };
            if let Ok(req) = sim.command(h, |node, now| node.get(now, key)) {
                self.pending.insert((h, req), key);
            }
        }
    }

    /// Scores the answers that came in.
    fn absorb(&mut self, sim: &mut Simulator, rep: &mut PartitionReport) {
        for (h, ev) in sim.take_events() {
            match ev {
                Event::GetDone { req, record, .. } if self.pending.remove(&(h, req)).is_some() => {
                    rep.gets_after_heal += 1;
                    rep.false_absent += u64::from(record.is_none());
                }
                Event::RequestFailed { req, .. } if self.pending.remove(&(h, req)).is_some() => {
                    rep.gets_after_heal += 1;
                    rep.gets_not_sure += 1;
                }
                _ => {}
            }
        }
    }
}

/// A random live member of group `g`.
fn member_of(sim: &mut Simulator, g: u32) -> Option<usize> {
    let list: Vec<usize> = sim.members().iter().copied().filter(|&h| sim.group_of(h) == g).collect();
    if list.is_empty() {
        return None;
    }
    Some(list[sim.rng().below(list.len() as u64) as usize])
}

/// Runs the scenario.
pub fn run_partition(p: &PartitionParams, progress: Progress) -> PartitionReport {
    let started = Instant::now();
    let groups = p.groups.max(1) as u32;
    let node = Config { successors: p.successors, replicas: p.replicas, lost_probe_ms: p.lost_probe_ms, rescue: true, ..p.node.clone() };
    let mut sim = simulator(p.seed, node);
    sim.cfg.net = NetModel { loss: p.loss, ..NetModel::default() };
    let mut rep = PartitionReport { groups: p.groups, ..Default::default() };
    rep.base = Report { scenario: "partition".into(), nodes: p.nodes, seed: p.seed, ..Report::default() };
    build_converged(&mut sim, p.nodes, progress);
    let mut names: Vec<String> = Vec::new();
    for i in 0..p.keys {
        if let Some(h) = sim.random_member() {
            let name = format!("key-{i}");
            let _ = sim.command(h, |n, now| n.put(now, Id::key_of(&name), name.clone().into_bytes()));
            names.push(name);
        }
    }
    rep.base.keys = p.keys;
    let check = |sim: &mut Simulator, until: crate::time::Millis| super::run_checked(sim, until, p.check_every_ms);
    let t0 = sim.now();
    check(&mut sim, t0 + p.split_s * 1000);

    // The split: every node to a random group.
    let assign: Vec<u32> = (0..sim.nodes().len()).map(|_| sim.rng().below(u64::from(groups)) as u32).collect();
    sim.partition(&assign);
    let split_at = sim.now();
    let heal_at = split_at + p.heal_s * 1000;
    let mut times: Vec<u64> = (0..p.actions).map(|_| sim.rng().below((p.heal_s * 1000).max(1))).collect();
    times.sort_unstable();
    let mut both_sides: HashSet<usize> = HashSet::new();
    for (i, t) in times.into_iter().enumerate() {
        check(&mut sim, split_at + t);
        let g = sim.rng().below(u64::from(groups)) as u32;
        match sim.rng().below(10) {
            0..=2 => {
                let id = sim.fresh_id();
                let h = sim.add_node(id);
                sim.set_group(h, g);
                match member_of(&mut sim, g) {
                    Some(via) => sim.join(h, via),
                    None => sim.create(h),
                }
                rep.joins += 1;
            }
            3..=4 => {
                let size = sim.members().iter().filter(|&&h| sim.group_of(h) == g).count();
                if size > 3 {
                    if let Some(h) = member_of(&mut sim, g) {
                        sim.crash(h);
                        rep.crashes += 1;
                    }
                }
            }
            5..=6 => {
                if let Some(h) = member_of(&mut sim, g) {
                    let name = format!("split-key-{i}");
                    let _ = sim.command(h, |n, now| n.put(now, Id::key_of(&name), format!("{name} in group {g}").into_bytes()));
                    names.push(name);
                    rep.puts += 1;
                }
            }
            _ => {
                // The same pre-split key written in every group.
                if !names.is_empty() {
                    let k = sim.rng().below(names.len().min(p.keys as usize).max(1) as u64) as usize;
                    for g in 0..groups {
                        if let Some(h) = member_of(&mut sim, g) {
                            let name = names[k].clone();
                            let value = format!("{name} written in group {g} at action {i}").into_bytes();
                            let _ = sim.command(h, |n, now| n.put(now, Id::key_of(&name), value));
                            rep.puts += 1;
                        }
                    }
                    both_sides.insert(k);
                }
            }
        }
        progress("split (actions)", i as u64 + 1, p.actions);
    }
    check(&mut sim, heal_at);
    sim.check();
    rep.rings_before_heal = count_rings(&sim);
    let at_heal = copies(&sim);
    let _ = sim.take_events();
    sim.heal();
    let mut gets = Gets::default();

    // After the heal: until one correct ring and settled records, or the cap.
    let cap = heal_at + p.cap_s * 1000;
    let step = 1_000;
    loop {
        let now = sim.now();
        let correct = one_correct_ring(&sim);
        if rep.merge_s.is_none() && correct {
            rep.merge_s = Some((now.0 - heal_at.0) as f64 / 1000.0);
        }
        // Settled: the ring is correct (still, or again: message loss can
        // upset it for a moment) and so are the records.
        if correct {
            let c = copies(&sim);
            let stale = at_heal.iter().filter(|(k, (v, d, _))| c.get(k).is_none_or(|(v2, d2, _)| (v2, d2) < (v, d))).count();
            let conflicting = c.values().filter(|x| x.2 > 1).count();
            if stale == 0 && conflicting == 0 && under_replicated(&sim, &c, p.replicas) == 0 {
                rep.settle_s = Some((now.0 - heal_at.0) as f64 / 1000.0);
                break;
            }
        }
        if now >= cap {
            break;
        }
        progress("heal (simulated s)", (now.0 - heal_at.0) / 1000, p.cap_s);
        if rep.merge_s.is_some() {
            let mut held: Vec<Id> = copies(&sim).into_keys().collect();
            held.sort_unstable();
            gets.issue(&mut sim, &held, GETS_PER_S);
        }
        check(&mut sim, now + step);
        gets.absorb(&mut sim, &mut rep);
    }
    sim.check();
    let end = copies(&sim);
    rep.rings_after_heal = count_rings(&sim);
    rep.one_ring = one_correct_ring(&sim);
    rep.keys_lost = at_heal.keys().filter(|k| !end.contains_key(*k)).count() as u64;
    rep.stale_versions = at_heal.iter().filter(|(k, (v, d, _))| end.get(k).is_some_and(|(v2, d2, _)| (v2, d2) < (v, d))).count() as u64;
    rep.conflicting_versions = end.values().filter(|x| x.2 > 1).count() as u64;
    rep.under_replicated = under_replicated(&sim, &end, p.replicas);
    rep.keys_written_on_both_sides = both_sides.len() as u64;
    rep.partitioned_messages = sim.counters.partitioned;
    rep.final_nodes = sim.members().len();
    let nodes = sim.nodes().iter().filter(|n| n.alive && n.node.status() != Status::Left);
    for n in nodes {
        let s = n.node.stats();
        rep.merges_started += s.merges_started;
        rep.merges_adopted += s.merges_adopted;
        rep.merge_dropped += s.merge_dropped;
    }
    let mut params = BTreeMap::new();
    params.insert("split_s".to_string(), p.split_s as f64);
    params.insert("heal_s".to_string(), p.heal_s as f64);
    rep.base.params = params;
    rep.base.keys_lost = rep.keys_lost;
    super::finish(&mut rep.base, &sim, started);
    rep
}
