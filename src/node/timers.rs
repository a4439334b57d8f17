//! The node's timer table: a min-heap of deadlines with cancellable tokens.
//!
//! Cancelled timers stay in the heap until they reach the top, where
//! [`Timers::next_deadline`] discards them, so the driver is never woken for a
//! timer that no longer exists.

use crate::message::ReqId;
use crate::id::Id;
use crate::time::Millis;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// What a timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    Stabilize,
    FixFingers,
    CheckPredecessor,
    Replicate,
    /// The origin's deadline for a routed request.
    Request(ReqId),
    /// Deadline for the receipt of a forwarded request `(origin, req)`.
    Hop(Id, ReqId),
    /// Deadline for the answer to a direct query.
    Query(ReqId),
    /// Deadline for a `StoreAck`.
    Store(ReqId),
}

/// Token identifying one scheduled timer.
pub(crate) type Token = u64;

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Millis, Token)>>,
    live: HashMap<Token, Timer>,
    next: Token,
}

impl Timers {
    pub(crate) fn schedule(&mut self, at: Millis, timer: Timer) -> Token {
        let token = self.next;
        self.next += 1;
        self.heap.push(Reverse((at, token)));
        self.live.insert(token, timer);
        token
    }

    pub(crate) fn cancel(&mut self, token: Token) {
        self.live.remove(&token);
    }

    /// The earliest live deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Millis> {
        while let Some(Reverse((at, token))) = self.heap.peek().copied() {
            if self.live.contains_key(&token) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes and returns one timer due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Millis) -> Option<Timer> {
        while let Some(Reverse((at, token))) = self.heap.peek().copied() {
            if at > now {
                return None;
            }
            self.heap.pop();
            if let Some(t) = self.live.remove(&token) {
                return Some(t);
            }
        }
        None
    }

    pub(crate) fn clear(&mut self) {
        self.heap.clear();
        self.live.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }
}
