//! Counters a node keeps about what it received and refused.

use serde::Serialize;

/// Why a received message was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum DropReason {
    /// The frame did not decode.
    Malformed,
    /// The frame exceeded the size limit.
    Oversized,
    /// The frame carried another protocol version.
    Version,
    /// The message decoded but broke a limit (list length, value size, …).
    Limit,
    /// A reply to a request this node never sent (or already finished), or from the wrong peer.
    Unsolicited,
    /// A message that needs a joined node arrived while this node was not in a ring.
    NotJoined,
    /// A routed message whose path does not match its sender.
    BadPath,
    /// Records refused because the store is full.
    StoreFull,
    /// A record whose bytes do not match its digest (in a store, or in an answer to a get).
    Corrupt,
}

impl DropReason {
    /// Every reason, for reports.
    pub const ALL: [DropReason; 9] = [
        DropReason::Malformed,
        DropReason::Oversized,
        DropReason::Version,
        DropReason::Limit,
        DropReason::Unsolicited,
        DropReason::NotJoined,
        DropReason::BadPath,
        DropReason::StoreFull,
        DropReason::Corrupt,
    ];
}

/// Message counters of one node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Messages handed to the driver to send.
    pub sent: u64,
    /// Messages accepted.
    pub received: u64,
    /// Peers found silent and dropped from the tables.
    pub declared_dead: u64,
    /// Links to ring neighbours the transport reported closed (each probed at once).
    pub links_lost: u64,
    /// Of `declared_dead`: peers the ring reported unreachable after their link closed.
    pub dead_by_transport: u64,
    /// Reply deadlines that fired late (this node was stalled) and were set again.
    pub late_timeouts: u64,
    /// Ring unification: merges this node started (`unify_with`, or a lost peer that answered).
    pub merges_started: u64,
    /// Ring unification: lost peers that answered a probe.
    pub lost_found: u64,
    /// Ring unification: merge candidates checked and adopted as successor.
    pub merges_adopted: u64,
    /// Ring unification: merge steps that found the node already in place (same ring).
    pub merges_same_ring: u64,
    /// Ring unification: merge steps dropped (hop limit, full queue, silent candidate).
    pub merge_dropped: u64,
    dropped: [u64; DropReason::ALL.len()],
}

impl Stats {
    /// How many messages were dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize]
    }

    /// All drops.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        self.dropped[reason as usize] += 1;
    }
}
