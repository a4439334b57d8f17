//! The node's timer table: a min-heap of deadlines over a slab of timers.
//!
//! A timer is cancelled by emptying its slab slot; its heap entry stays until
//! it reaches the top, where [`Timers::next_deadline`] discards it, so the
//! driver is never woken for a timer that no longer exists. Slots are reused,
//! with a generation number so that a stale heap entry never fires a newer
//! timer that took its slot.

use crate::id::Id;
use crate::message::ReqId;
use crate::time::Millis;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What a timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    Stabilize,
    FixFingers,
    CheckPredecessor,
    Replicate,
    Probe,
    /// Ring unification: probe one lost peer.
    Unify,
    /// The deadline of request `req` in flight (a routed request's answer,
    /// a query's answer, a `StoreAck`; see `request.rs`): what it means is
    /// up to the request.
    Deadline(ReqId),
    /// Deadline for the receipt of a forwarded request `(origin, req)`.
    Hop(Id, ReqId),
}

impl Timer {
    /// Whether it is one of the node's periodic maintenance timers.
    fn is_periodic(self) -> bool {
        matches!(self, Timer::Stabilize | Timer::FixFingers | Timer::CheckPredecessor | Timer::Replicate | Timer::Probe | Timer::Unify)
    }
}

/// Identifies one scheduled timer: slab slot and generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Token {
    slot: u32,
    generation: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Millis, Token)>>,
    slots: Vec<(u32, Option<Timer>)>,
    free: Vec<u32>,
    live: usize,
}

impl Timers {
    pub(crate) fn schedule(&mut self, at: Millis, timer: Timer) -> Token {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push((0, None));
                (self.slots.len() - 1) as u32
            }
        };
        let entry = &mut self.slots[slot as usize];
        entry.0 = entry.0.wrapping_add(1);
        entry.1 = Some(timer);
        self.live += 1;
        let token = Token { slot, generation: entry.0 };
        self.heap.push(Reverse((at, token)));
        token
    }

    fn is_live(&self, t: Token) -> bool {
        self.slots.get(t.slot as usize).is_some_and(|(g, timer)| *g == t.generation && timer.is_some())
    }

    /// Cancels a timer; cancelling one that already fired or was cancelled does nothing.
    pub(crate) fn cancel(&mut self, t: Token) {
        if self.is_live(t) {
            self.slots[t.slot as usize].1 = None;
            self.free.push(t.slot);
            self.live -= 1;
        }
    }

    /// The earliest live deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Millis> {
        while let Some(Reverse((at, token))) = self.heap.peek().copied() {
            if self.is_live(token) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes and returns one timer due at or before `now`, with its deadline.
    pub(crate) fn pop_due(&mut self, now: Millis) -> Option<(Millis, Timer)> {
        while let Some(Reverse((at, token))) = self.heap.peek().copied() {
            if at > now {
                return None;
            }
            self.heap.pop();
            if self.is_live(token) {
                let timer = self.slots[token.slot as usize].1.take();
                self.free.push(token.slot);
                self.live -= 1;
                return timer.map(|t| (at, t));
            }
        }
        None
    }

    /// Cancels the periodic maintenance timers (stabilize, fix fingers,
    /// check predecessor, replicate, probe, unify), keeping deadlines of
    /// requests, hops, queries and stores.
    pub(crate) fn cancel_periodic(&mut self) {
        for (slot, entry) in self.slots.iter_mut().enumerate() {
            if entry.1.is_some_and(|t| t.is_periodic()) {
                entry.1 = None;
                self.free.push(slot as u32);
                self.live -= 1;
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.heap.clear();
        self.slots.clear();
        self.free.clear();
        self.live = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_and_reused_slots_never_fire_stale_entries() {
        let mut t = Timers::default();
        let a = t.schedule(Millis(10), Timer::Stabilize);
        t.cancel(a);
        // The slot is reused by a later timer; the old heap entry at 10 must not fire it.
        let _b = t.schedule(Millis(50), Timer::Replicate);
        assert_eq!(t.next_deadline(), Some(Millis(50)));
        assert_eq!(t.pop_due(Millis(20)), None);
        assert_eq!(t.pop_due(Millis(50)), Some((Millis(50), Timer::Replicate)));
        assert_eq!(t.len(), 0);
        t.cancel(a);
        assert_eq!(t.len(), 0);
    }
}
