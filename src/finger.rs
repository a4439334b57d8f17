//! The finger table, stored run-length encoded.
//!
//! Finger `i` of node `n` is the first node that succeeds `n + 2^i`. In a ring
//! of N nodes only about log₂N of the 160 fingers differ, so the table keeps
//! runs `(first index, node)`: finger `i` is the node of the last run starting
//! at or below `i`. That keeps a node at a few hundred bytes, which is what lets
//! the simulator hold 2²⁰ of them.

use crate::id::{Id, ID_BITS};

/// Run-length encoded finger table of one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FingerTable {
    /// `(first index, node)`, strictly increasing in index.
    runs: Vec<(u8, Id)>,
}

impl FingerTable {
    /// An empty table.
    pub fn new() -> Self {
        FingerTable::default()
    }

    /// A table from runs already computed (the simulator's ideal ring). Runs
    /// must be strictly increasing in index.
    pub fn from_runs(runs: Vec<(u8, Id)>) -> Self {
        debug_assert!(runs.windows(2).all(|w| w[0].0 < w[1].0));
        FingerTable { runs }
    }

    /// The runs, lowest index first.
    pub fn runs(&self) -> &[(u8, Id)] {
        &self.runs
    }

    /// Finger `i`, if known.
    pub fn get(&self, i: usize) -> Option<Id> {
        let pos = self.runs.partition_point(|(start, _)| (*start as usize) <= i);
        pos.checked_sub(1).map(|p| self.runs[p].1)
    }

    /// Distinct nodes in the table.
    pub fn nodes(&self) -> impl Iterator<Item = &Id> {
        self.runs.iter().map(|(_, n)| n)
    }

    /// Sets finger `i` of node `own` to `node`, and with it every higher finger
    /// whose start `node` also succeeds (they share the answer). Returns the
    /// first index above the run just set: the next finger worth fixing.
    pub fn set(&mut self, own: &Id, i: usize, node: Id) -> usize {
        let d = own.distance(&node);
        // Fingers i..=last have starts own + 2^j ≤ node (clockwise), so node succeeds them.
        let last = d.bit_len().saturating_sub(1).max(i).min(ID_BITS - 1);
        let after = self.get(last + 1).filter(|_| last + 1 < ID_BITS);
        self.runs.retain(|(s, _)| (*s as usize) < i || (*s as usize) > last);
        let pos = self.runs.partition_point(|(s, _)| (*s as usize) < i);
        self.runs.insert(pos, (i as u8, node));
        if let Some(a) = after {
            if !self.runs.iter().any(|(s, _)| *s as usize == last + 1) {
                self.runs.insert(pos + 1, ((last + 1) as u8, a));
            }
        }
        self.coalesce();
        last + 1
    }

    /// Forgets a node (it is dead); its indices fall back to the run below.
    pub fn remove(&mut self, node: &Id) -> bool {
        let before = self.runs.len();
        self.runs.retain(|(_, n)| n != node);
        self.coalesce();
        before != self.runs.len()
    }

    fn coalesce(&mut self) {
        self.runs.dedup_by(|later, earlier| later.1 == earlier.1);
    }

    /// Bytes of heap this table uses.
    pub fn heap_bytes(&self) -> usize {
        self.runs.capacity() * std::mem::size_of::<(u8, Id)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(t.get(100), Some(m));
        // fixing finger 5 with a closer node splits the first run but keeps the rest.
        let k = Id::from_u64(40);
        t.set(&own, 5, k);
        assert_eq!(t.get(4), Some(n));
        assert_eq!(t.get(5), Some(k));
        assert_eq!(t.get(6), Some(n));
        assert_eq!(t.get(11), Some(m));
        assert!(t.remove(&k));
        assert_eq!(t.get(5), Some(n));
        assert_eq!(t.runs().len(), 2);
    }
}
