//! The ideal state of a ring: what every node's pointers should be.
//!
//! Used twice: to place nodes directly into a converged ring (`--init
//! converged`, which is how 2²⁰ nodes fit in a minute), and to check that a
//! ring built by real joins has converged to the same state.

use crate::finger::FingerTable;
use crate::id::{Id, ID_BITS};

/// The sorted ids of a ring, with the successor function over them.
#[derive(Clone, Debug)]
pub struct IdealRing {
    ids: Vec<Id>,
}

impl IdealRing {
    /// A ring of the given ids (sorted and deduplicated here).
    pub fn new(mut ids: Vec<Id>) -> IdealRing {
        ids.sort_unstable();
        ids.dedup();
        IdealRing { ids }
    }

    /// The ids, ascending.
    pub fn ids(&self) -> &[Id] {
        &self.ids
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Position of the first node at or after `key` (wrapping).
    pub fn successor_pos(&self, key: &Id) -> usize {
        let p = self.ids.partition_point(|id| id < key);
        if p == self.ids.len() {
            0
        } else {
            p
        }
    }

    /// The node responsible for `key`.
    pub fn successor(&self, key: &Id) -> Id {
        self.ids[self.successor_pos(key)]
    }

    /// Like [`IdealRing::successor_pos`], searching outwards from `guess` first
    /// (ids are uniform, so a guess from the key's distance is close).
    pub fn successor_pos_near(&self, key: &Id, guess: usize) -> usize {
        let n = self.ids.len();
        let g = guess.min(n - 1);
        let (mut lo, mut hi); // answer (partition point) lies in lo..=hi
        if self.ids[g] < *key {
            let mut step = 1;
            lo = g + 1;
            loop {
                let probe = g + step;
                if probe >= n {
                    hi = n;
                    break;
                }
                if self.ids[probe] >= *key {
                    hi = probe;
                    break;
                }
                lo = probe + 1;
                step *= 2;
            }
        } else {
            let mut step = 1;
            hi = g;
            loop {
                if step > g {
                    lo = 0;
                    break;
                }
                let probe = g - step;
                if self.ids[probe] < *key {
                    lo = probe + 1;
                    break;
                }
                hi = probe;
                step *= 2;
            }
        }
        let p = lo + self.ids[lo..hi].partition_point(|id| id < key);
        if p == n {
            0
        } else {
            p
        }
    }

    /// Predecessor of the node at `pos`.
    pub fn predecessor_of(&self, pos: usize) -> Id {
        self.ids[(pos + self.ids.len() - 1) % self.ids.len()]
    }

    /// The `r` nodes after the node at `pos` (fewer if the ring is smaller).
    pub fn successors_of(&self, pos: usize, r: usize) -> Vec<Id> {
        let n = self.ids.len();
        (1..=r.min(n - 1)).map(|k| self.ids[(pos + k) % n]).collect()
    }

    /// The correct finger `i` of the node at `pos`, or `None` when it would be the node itself.
    pub fn finger(&self, pos: usize, i: usize) -> Option<Id> {
        let own = self.ids[pos];
        let n = self.ids.len();
        // Expected number of nodes between own and own + 2^i: n · 2^(i−160).
        let ahead = (n as f64 * 2f64.powi(i as i32 - 160)) as usize;
        let f = self.ids[self.successor_pos_near(&own.finger_start(i), (pos + ahead) % n)];
        (f != own).then_some(f)
    }

    /// The whole ideal finger table of the node at `pos`, run-length encoded.
    pub fn fingers_of(&self, pos: usize) -> FingerTable {
        let n = self.ids.len();
        let own = self.ids[pos];
        let mut runs: Vec<(u8, Id)> = Vec::new();
        if n < 2 {
            return FingerTable::new();
        }
        // Fingers whose start lies before the first successor all point at it.
        let succ = self.ids[(pos + 1) % n];
        let mut i = own.distance(&succ).bit_len(); // first index whose start is beyond succ
        runs.push((0, succ));
        while i < ID_BITS {
            match self.finger(pos, i) {
                Some(f) => {
                    if runs.last().is_none_or(|(_, last)| *last != f) {
                        runs.push((i as u8, f));
                    }
                    // Skip the fingers f also succeeds.
                    i = own.distance(&f).bit_len().max(i + 1);
                }
                None => i += 1,
            }
        }
        let mut table = FingerTable::from_starts(&runs);
        // The last run reaches finger 159; fingers whose ideal is the node
        // itself (their start lies after its predecessor) stay unknown.
        if let Some(first_self) = (0..ID_BITS).rev().take_while(|&i| self.finger(pos, i).is_none()).last() {
            table.clear_from(first_self);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rle_fingers_match_the_definition() {
        let mut x = 7u64;
        let ids: Vec<Id> = (0..200)
            .map(|_| {
                Id::from_words(|| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    x
                })
            })
            .collect();
        let ring = IdealRing::new(ids);
        for k in 0..300u64 {
            let key = Id::from_words(|| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                x
            });
            let guess = (k as usize * 7) % 200;
            assert_eq!(ring.successor_pos_near(&key, guess), ring.successor_pos(&key));
            assert_eq!(ring.successor_pos_near(&ring.ids()[guess], (guess + 50) % 200), guess);
        }
        for pos in [0, 1, 57, 199] {
            let t = ring.fingers_of(pos);
            for i in 0..ID_BITS {
                assert_eq!(Some(t.get(i).unwrap()), ring.finger(pos, i), "pos {pos} finger {i}");
            }
        }
    }
}
