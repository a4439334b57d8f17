//! Ring invariants (Zave), convergence to the ideal ring, and key safety.
//!
//! A *member* is an alive node whose status is `Joined`. A member's *best
//! successor* is the first entry of its successor list that is a member (in
//! its own group, while the network is split); a member with an empty list
//! is alone and its best successor is itself.
//!
//! Invariants (a violation is always a bug):
//! * **OrderedSuccessorLists** — each list is strictly increasing in clockwise
//!   distance from its owner and does not contain the owner.
//! * **AtMostOneRing / AtLeastOneRing** — the best-successor graph has exactly one cycle.
//! * **OrderedRing** — walking that cycle, ids wrap around zero exactly once.
//! * **OrderedAppendages** — a member off the cycle reaches it through best
//!   successors whose clockwise distance from it strictly increases.
//!
//! Failure-model breach (not a bug): a member whose successor list is non-empty
//! but holds no member — it lost all r successors before it could repair.
//!
//! During a network split (and after it heals, until the rings are one
//! again: [`Simulator::many_rings_expected`]) several cycles are expected,
//! one or more per group: they are counted ([`Outcome::rings`], [`count_rings`])
//! instead of reported, and OrderedRing and OrderedAppendages are not
//! reported either: members' lists still hold nodes of other groups that
//! were unreachable (as good as dead, a breach of the failure model for
//! many nodes at once) and are back, so a chain or a cycle through them may
//! wrap more than once. Ring unification repairs that; all invariants are
//! asserted again from the first check that finds one correct ring.

use super::correct::{member_problems, Problem, View};
use super::ideal::IdealRing;
use super::Simulator;
use crate::id::Id;
use crate::node::Status;
use std::collections::{HashMap, HashSet};

/// Remembers which nodes are already counted as breaching, so each incident counts once.
#[derive(Debug, Default)]
pub struct Checker {
    breached: HashSet<Id>,
}

/// What one check found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Invariant violations, described.
    pub violations: Vec<String>,
    /// Nodes that newly lost every successor.
    pub new_breaches: usize,
    /// Rings: distinct cycles of the best-successor graph among the members.
    pub rings: usize,
    /// Whether every appendage reaches a ring in clockwise order (checked
    /// also while several rings are expected, then not reported as violations).
    pub appendages_ordered: bool,
}

/// OrderedSuccessorLists for one list: strictly increasing in clockwise
/// distance from `own`, and without `own`. (A node's [`SuccessorList`]
/// keeps only such a prefix by construction; the simulator checks it anyway.)
///
/// [`SuccessorList`]: crate::successors::SuccessorList
pub fn ordered_successor_list(own: &Id, list: &[Id]) -> bool {
    let mut last = Id::ZERO;
    for s in list {
        let d = own.distance(s);
        if d <= last {
            return false;
        }
        last = d;
    }
    true
}

/// The number of rings among the members: distinct cycles of the graph of
/// each member's best successor (first live member in its list).
pub fn count_rings(sim: &Simulator) -> usize {
    Checker::default().check(sim).rings
}

/// Whether the members form one correct ring: one cycle, every member's
/// predecessor and successor list as in the ideal ring over the members, no
/// node still joining. Fingers are not required here: a split heals when the
/// successor lists are one ring again, and fingers follow by fix-fingers
/// ([`convergence`] counts them).
pub fn one_correct_ring(sim: &Simulator) -> bool {
    let c = convergence(sim);
    c.not_joined == 0 && c.wrong_predecessors == 0 && c.wrong_successor_lists == 0 && count_rings(sim) == 1
}

impl Checker {
    /// Checks every invariant over the simulator's current state.
    pub fn check(&mut self, sim: &Simulator) -> Outcome {
        let mut out = Outcome::default();
        let nodes = sim.nodes();
        let is_member = |h: usize| nodes[h].alive && nodes[h].node.status() == Status::Joined;
        // While split, a node in another group is as good as dead to its owner.
        let reachable = |from: usize, to: usize| !sim.is_split() || sim.group_of(from) == sim.group_of(to);
        let members: Vec<usize> = sim.members().to_vec();
        if members.is_empty() {
            return out;
        }
        // best[h] = Some(best successor handle) or None for a dead end (handles index every Vec here).
        const NONE: usize = usize::MAX;
        let mut best: Vec<usize> = vec![NONE; nodes.len()];
        let mut now_breached = HashSet::new();
        for &h in &members {
            let node = &nodes[h].node;
            let own = node.id();
            let list = node.successors();
            if !ordered_successor_list(&own, list) {
                out.violations.push(format!("OrderedSuccessorLists: {own:?} has {list:?}"));
            }
            let b = if list.is_empty() {
                Some(h)
            } else {
                list.iter().filter_map(|s| sim.handle_of(s)).find(|&s| is_member(s) && reachable(h, s))
            };
            match b {
                Some(b) => best[h] = b,
                None => {
                    now_breached.insert(own);
                    if !self.breached.contains(&own) {
                        out.new_breaches += 1;
                    }
                }
            }
        }
        self.breached = now_breached;
        let next = |c: usize| (best[c] != NONE).then(|| best[c]);

        // Find the cycles of the best-successor graph.
        let mut state: Vec<u8> = vec![0; nodes.len()]; // 1 = on the current path, 2 = done
        let mut on_cycle: Vec<bool> = vec![false; nodes.len()];
        let mut cycles: Vec<Vec<usize>> = Vec::new();
        for &start in &members {
            if state[start] != 0 {
                continue;
            }
            let mut path = Vec::new();
            let mut cur = Some(start);
            while let Some(c) = cur {
                match state[c] {
                    1 => {
                        let from = path.iter().position(|&p| p == c).unwrap_or(0);
                        let cycle: Vec<usize> = path[from..].to_vec();
                        for &x in &cycle {
                            on_cycle[x] = true;
                        }
                        cycles.push(cycle);
                        break;
                    }
                    2 => break,
                    _ => {
                        state[c] = 1;
                        path.push(c);
                        cur = next(c);
                    }
                }
            }
            for p in path {
                state[p] = 2;
            }
        }
        // A node that lost all its successors (a breach of the failure model)
        // can leave the others without a cycle; that is the breach, not a bug.
        // Two cycles are never explained by a breach.
        let breach_explains = cycles.is_empty() && !self.breached.is_empty();
        out.rings = cycles.len();
        if cycles.len() != 1 && !breach_explains && !(sim.many_rings_expected() && cycles.len() > 1) {
            out.violations.push(format!("OneRing: {} cycles among {} members", cycles.len(), members.len()));
        }
        for cycle in &cycles {
            let n = cycle.len();
            let wraps = (0..n).filter(|&i| nodes[cycle[(i + 1) % n]].node.id() <= nodes[cycle[i]].node.id()).count();
            // A cycle that forms while several rings are expected may run
            // through stale entries of other groups and wrap more than once.
            if wraps != 1 && !sim.many_rings_expected() {
                out.violations.push(format!("OrderedRing: a cycle of {n} nodes wraps {wraps} times"));
            }
        }
        // Appendages reach the ring in clockwise order. Not reported while
        // several rings are expected: after a split heals, members' lists
        // still hold nodes of other groups that were unreachable (as good as
        // dead) and are back, so a chain may wrap before it reaches a ring;
        // ring unification repairs that, and the check is reported again once
        // the members form one correct ring.
        out.appendages_ordered = true;
        for &a in &members {
            if on_cycle[a] {
                continue;
            }
            let own = nodes[a].node.id();
            let mut last = Id::ZERO;
            let mut cur = next(a);
            let mut steps = 0;
            while let Some(c) = cur {
                let d = own.distance(&nodes[c].node.id());
                if d <= last {
                    out.appendages_ordered = false;
                    if !sim.many_rings_expected() {
                        out.violations.push(format!("OrderedAppendages: chain from {own:?} turns back"));
                    }
                    break;
                }
                last = d;
                if on_cycle[c] || steps > members.len() {
                    break;
                }
                steps += 1;
                cur = next(c);
            }
        }
        out
    }
}

/// How far the members are from the ideal ring over themselves.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Convergence {
    /// Members checked.
    pub nodes: usize,
    /// Alive nodes that are not members (still joining, or rejoining).
    pub not_joined: usize,
    /// Members whose predecessor is wrong.
    pub wrong_predecessors: usize,
    /// Members whose successor list is not the next r members.
    pub wrong_successor_lists: usize,
    /// Finger entries (out of 160 per member) that are wrong.
    pub wrong_fingers: usize,
}

impl Convergence {
    /// Whether every pointer is correct.
    pub fn is_converged(&self) -> bool {
        self.not_joined == 0 && self.wrong_predecessors == 0 && self.wrong_successor_lists == 0 && self.wrong_fingers == 0
    }
}

/// Compares every member's pointers with the ideal ring over the members
/// (the rules of [`super::correct`]).
pub fn convergence(sim: &Simulator) -> Convergence {
    let nodes = sim.nodes();
    let ring = IdealRing::new(sim.members().iter().map(|&h| nodes[h].node.id()).collect());
    let alive = nodes.iter().filter(|n| n.alive).count();
    let mut c = Convergence { nodes: ring.len(), not_joined: alive - ring.len(), ..Default::default() };
    let mut found = Vec::new();
    for &h in sim.members() {
        member_problems(&ring, &View::of(&nodes[h].node), &mut found);
        for p in found.drain(..) {
            match p {
                Problem::NotJoined { .. } => c.not_joined += 1,
                Problem::Predecessor { .. } => c.wrong_predecessors += 1,
                Problem::Successors { .. } => c.wrong_successor_lists += 1,
                Problem::Fingers { wrong, .. } => c.wrong_fingers += wrong,
            }
        }
    }
    c
}

/// Where the acknowledged keys are.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeySafety {
    /// Keys checked.
    pub keys: usize,
    /// Keys no member holds.
    pub lost: usize,
    /// Keys not held by all of their R successors among the members.
    pub under_replicated: usize,
    /// Keys whose newest acknowledged version is not what their primary holds.
    pub stale_primary: usize,
}

/// Checks every acknowledged key (key → digest of the last acknowledged value).
pub fn key_safety(sim: &Simulator, keys: &HashMap<Id, Id>, replicas: usize) -> KeySafety {
    let nodes = sim.nodes();
    let ring = IdealRing::new(sim.members().iter().map(|&h| nodes[h].node.id()).collect());
    let mut s = KeySafety { keys: keys.len(), ..Default::default() };
    if ring.is_empty() {
        s.lost = keys.len();
        return s;
    }
    let mut holders: HashMap<Id, usize> = HashMap::new();
    for &h in sim.members() {
        for r in nodes[h].node.store().records() {
            if keys.contains_key(&r.key) {
                *holders.entry(r.key).or_default() += 1;
            }
        }
    }
    for (key, digest) in keys {
        if !holders.contains_key(key) {
            s.lost += 1;
            continue;
        }
        let pos = ring.successor_pos(key);
        let want = replicas.min(ring.len());
        let held = (0..want)
            .filter(|k| {
                let id = ring.ids()[(pos + k) % ring.len()];
                sim.handle_of(&id).is_some_and(|h| nodes[h].node.store().get(key).is_some())
            })
            .count();
        if held < want {
            s.under_replicated += 1;
        }
        let primary = sim.handle_of(&ring.ids()[pos]);
        if primary.is_some_and(|h| nodes[h].node.store().get(key).is_some_and(|r| r.digest != *digest)) {
            s.stale_primary += 1;
        }
    }
    s
}
