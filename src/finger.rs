//! The finger table, stored run-length encoded.
//!
//! Finger `i` of node `n` is the first node that succeeds `n + 2^i`. In a ring
//! of N nodes only about log₂N of the 160 fingers differ, so the table keeps
//! runs `(first index, node)`: finger `i` is the node of the last run starting
//! at or below `i`. That keeps a node at a few hundred bytes, which is what lets
//! the simulator hold 2²⁰ of them.

use crate::id::{Id, ID_BITS};

/// A run of consecutive fingers that share one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Run {
    /// First finger index of the run.
    pub start: u8,
    /// Last finger index of the run (inclusive).
    pub end: u8,
    /// The node.
    pub node: Id,
}

/// Run-length encoded finger table of one node. Fingers not covered by any
/// run are unknown (never set, or their node died).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FingerTable {
    /// Disjoint runs in increasing index order.
    runs: Vec<Run>,
}

impl FingerTable {
    /// An empty table.
    pub fn new() -> Self {
        FingerTable::default()
    }

    /// A complete table from `(first index, node)` pairs, each run reaching up
    /// to the next one (the simulator's ideal ring). Starts must increase.
    pub fn from_starts(starts: &[(u8, Id)]) -> Self {
        let runs = starts
            .iter()
            .enumerate()
            .map(|(k, (start, node))| {
                let end = starts.get(k + 1).map_or((ID_BITS - 1) as u8, |(next, _)| next - 1);
                Run { start: *start, end, node: *node }
            })
            .collect();
        FingerTable { runs }
    }

    /// The runs, lowest index first.
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// Finger `i`, if known.
    pub fn get(&self, i: usize) -> Option<Id> {
        let pos = self.runs.partition_point(|r| (r.end as usize) < i);
        self.runs.get(pos).filter(|r| r.start as usize <= i).map(|r| r.node)
    }

    /// Distinct nodes in the table (adjacent runs never share a node).
    pub fn nodes(&self) -> impl Iterator<Item = &Id> {
        self.runs.iter().map(|r| &r.node)
    }

    /// Sets finger `i` of node `own` to `node`, and with it every higher finger
    /// whose start `node` also succeeds (they share the answer). Returns the
    /// first index above the run just set: the next finger worth fixing.
    pub fn set(&mut self, own: &Id, i: usize, node: Id) -> usize {
        let i = i.min(ID_BITS - 1);
        let d = own.distance(&node);
        // Fingers i..=last have starts own + 2^j ≤ node (clockwise), so node succeeds them.
        let last = d.bit_len().saturating_sub(1).max(i).min(ID_BITS - 1);
        let (lo, hi) = (i as u8, last as u8);
        let mut next = Vec::with_capacity(self.runs.len() + 2);
        for r in &self.runs {
            if r.end < lo || r.start > hi {
                next.push(*r);
                continue;
            }
            if r.start < lo {
                next.push(Run { start: r.start, end: lo - 1, node: r.node });
            }
            if r.end > hi {
                next.push(Run { start: hi + 1, end: r.end, node: r.node });
            }
        }
        next.push(Run { start: lo, end: hi, node });
        next.sort_unstable_by_key(|r| r.start);
        self.runs = next;
        self.coalesce();
        last + 1
    }

    /// Forgets fingers `i..` (a lookup found that finger `i`'s successor is the
    /// node itself, so every higher finger's is too: their starts lie between).
    pub fn clear_from(&mut self, i: usize) {
        let Ok(i) = u8::try_from(i) else { return };
        self.runs.retain(|r| r.start < i);
        if let Some(last) = self.runs.last_mut() {
            last.end = last.end.min(i.saturating_sub(1));
        }
    }

    /// Forgets a node (it is dead); its fingers become unknown.
    pub fn remove(&mut self, node: &Id) -> bool {
        let before = self.runs.len();
        self.runs.retain(|r| r.node != *node);
        before != self.runs.len()
    }

    fn coalesce(&mut self) {
        self.runs.dedup_by(|later, earlier| {
            if later.node == earlier.node && earlier.end as usize + 1 == later.start as usize {
                earlier.end = later.end;
                true
            } else {
                false
            }
        });
    }

    /// Bytes of heap this table uses.
    pub fn heap_bytes(&self) -> usize {
        self.runs.capacity() * std::mem::size_of::<Run>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_from_forgets_that_finger_and_every_higher_one() {
        let own = Id::ZERO;
        let mut t = FingerTable::new();
        t.set(&own, 0, Id::pow2(3)); // fingers 0..=3
        t.set(&own, 4, Id::pow2(100)); // fingers 4..=100
        t.set(&own, 101, Id::pow2(159)); // fingers 101..=159
        t.clear_from(50);
        assert_eq!(t.get(49), Some(Id::pow2(100)));
        assert_eq!(t.get(50), None);
        assert_eq!(t.get(159), None);
        assert_eq!(t.runs().len(), 2);
        t.clear_from(0);
        assert!(t.runs().is_empty());
    }

    #[test]
    fn set_covers_all_fingers_the_node_succeeds() {
        let own = Id::ZERO;
        let mut t = FingerTable::new();
        // node at 2^10 + 1 succeeds starts 2^0 .. 2^10.
        let n = Id::from_u64((1 << 10) + 1);
        assert_eq!(t.set(&own, 0, n), 11);
        for i in 0..=10 {
            assert_eq!(t.get(i), Some(n));
        }
        // a later node covers 11..=20.
        let m = Id::from_u64(1 << 20);
        assert_eq!(t.set(&own, 11, m), 21);
        assert_eq!(t.get(11), Some(m));
        assert_eq!(t.get(20), Some(m));
        assert_eq!(t.get(100), None);
        // fixing finger 5 with a closer node splits the first run but keeps the rest.
        let k = Id::from_u64(40);
        t.set(&own, 5, k);
        assert_eq!(t.get(4), Some(n));
        assert_eq!(t.get(5), Some(k));
        assert_eq!(t.get(6), Some(n));
        assert_eq!(t.get(11), Some(m));
        assert!(t.remove(&k));
        assert_eq!(t.get(5), None);
        assert_eq!(t.runs().len(), 3);
        t.set(&own, 5, n);
        assert_eq!(t.runs().len(), 2, "{:?}", t.runs());
    }

    proptest::proptest! {
        /// After any sequence of sets and removals the runs stay disjoint and
        /// ordered, and the last set of each index is what `get` returns.
        #[test]
        fn runs_stay_disjoint_and_exact(ops in proptest::collection::vec((0usize..160, proptest::prelude::any::<u64>(), proptest::prelude::any::<bool>()), 1..40)) {
            let own = Id::from_u64(12345);
            let mut t = FingerTable::new();
            let mut model: Vec<Option<Id>> = vec![None; ID_BITS];
            for (i, v, remove) in ops {
                let node = Id::from_u64(v % 64).wrapping_add(&Id::pow2(100 + (v % 50) as usize));
                if remove {
                    t.remove(&node);
                    for m in model.iter_mut() { if *m == Some(node) { *m = None; } }
                } else {
                    let next = t.set(&own, i, node);
                    for m in model.iter_mut().take(next).skip(i) { *m = Some(node); }
                }
                for w in t.runs().windows(2) {
                    proptest::prop_assert!(w[0].end < w[1].start);
                }
                for (k, m) in model.iter().enumerate() {
                    proptest::prop_assert_eq!(t.get(k), *m, "index {}", k);
                }
            }
        }
    }
}
