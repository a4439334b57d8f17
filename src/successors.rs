//! The successor list: the r nearest nodes clockwise, nearest first.
//!
//! Invariant kept by every method (Zave's *OrderedSuccessorLists*): entries are
//! distinct, never the owner, and strictly increasing in clockwise distance
//! from the owner. A list received from a neighbour is therefore never copied
//! blindly: it is cut where it stops increasing (it has wrapped past us).

use crate::id::Id;

/// The successor list of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuccessorList {
    own: Id,
    capacity: usize,
    entries: Vec<Id>,
}

impl SuccessorList {
    /// An empty list of at most `capacity` entries for node `own`.
    pub fn new(own: Id, capacity: usize) -> Self {
        SuccessorList { own, capacity: capacity.max(1), entries: Vec::new() }
    }

    /// The entries, nearest first.
    pub fn as_slice(&self) -> &[Id] {
        &self.entries
    }

    /// The first successor.
    pub fn first(&self) -> Option<Id> {
        self.entries.first().copied()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The configured length r.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether `id` is in the list.
    pub fn contains(&self, id: &Id) -> bool {
        self.entries.contains(id)
    }

    /// Replaces the list with `head` followed by `tail`, keeping only the
    /// prefix that stays ordered from the owner. Returns whether it changed.
    pub fn adopt(&mut self, head: Id, tail: &[Id]) -> bool {
        let mut next = Vec::with_capacity(self.capacity);
        let mut last = Id::ZERO;
        for id in std::iter::once(&head).chain(tail) {
            let d = self.own.distance(id);
            if d <= last {
                // Zero distance is ourselves; a smaller one means the list wrapped.
                break;
            }
            next.push(*id);
            last = d;
            if next.len() == self.capacity {
                break;
            }
        }
        let changed = next != self.entries;
        self.entries = next;
        changed
    }

    /// Removes a node (dead or leaving). Returns whether it was present.
    pub fn remove(&mut self, id: &Id) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e != id);
        before != self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn adopt_cuts_where_the_list_wraps_past_the_owner() {
        let own = Id::from_u64(50);
        let mut l = SuccessorList::new(own, 4);
        let ids: Vec<Id> = [60, 70, 10, 20].iter().map(|v| Id::from_u64(*v)).collect();
        // 10 and 20 come after 70 clockwise from 50 (wrapping), so they are kept.
        l.adopt(ids[0], &ids[1..]);
        assert_eq!(l.as_slice(), &ids[..]);
        // a list that comes back around to 55 after 20 is cut there.
        l.adopt(ids[0], &[ids[1], Id::from_u64(55)]);
        assert_eq!(l.as_slice(), &ids[..2]);
        // ourselves ends the list.
        l.adopt(ids[0], &[own, ids[1]]);
        assert_eq!(l.as_slice(), &ids[..1]);
    }

    proptest! {
        #[test]
        fn adopted_lists_are_always_ordered(own in any::<u64>(), head in any::<u64>(), tail in proptest::collection::vec(any::<u64>(), 0..12), cap in 1usize..8) {
            let own = Id::from_u64(own);
            let mut l = SuccessorList::new(own, cap);
            let tail: Vec<Id> = tail.into_iter().map(Id::from_u64).collect();
            l.adopt(Id::from_u64(head), &tail);
            prop_assert!(l.as_slice().len() <= cap);
            prop_assert!(!l.contains(&own));
            for w in l.as_slice().windows(2) {
                prop_assert!(own.distance(&w[0]) < own.distance(&w[1]));
            }
        }
    }
}
