//! The signaling servers of a peer, as the peer knows them.
//!
//! A tab keeps a connection to each server it was given, so that whichever
//! server a newcomer reaches knows a member to introduce it to. Each server is
//! a [`Slot`]: its connection state, what it answered to the current bootstrap,
//! and the reconnect timer. A member whose socket closes (the server was
//! killed, restarted, redeployed) opens it again after an exponential backoff
//! with jitter, for as long as it is in the ring, and says `hello{member:true}`
//! again. The backoff is sans-IO: the delay comes from the peer's seeded
//! generator and the wake-up is part of [`Peer::poll_timeout`](super::Peer::poll_timeout).

use crate::id::Id;
use crate::link::{ServerId, ServerIntro};
use crate::rng::SeededRng;
use crate::time::Millis;
use serde::Serialize;

/// Most signaling servers a peer keeps (the JS API accepts as many).
pub const MAX_SERVERS: usize = 16;
/// First reconnect delay, ms (before jitter).
pub const BACKOFF_BASE_MS: u64 = 500;
/// Longest reconnect delay, ms (before jitter): 500 ms doubled four times.
pub const BACKOFF_CAP_MS: u64 = 8_000;

/// The connection to one signaling server, as the peer knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    /// Not connected (never, or it closed). The ring works without it.
    Closed,
    /// The socket is opening.
    Connecting,
    /// Connected.
    Connected,
}

/// What one server answered to the current bootstrap (meaningful while idle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// Nothing yet (the socket is opening, or the server holds the hello).
    Waiting,
    /// "Your ring has no member here."
    First,
    /// An introduction to a member.
    Intro(ServerIntro, Id),
    /// The socket closed or the server refused: nothing will come.
    Failed,
}

/// One signaling server of a peer.
#[derive(Clone, Debug)]
pub(super) struct Slot {
    /// A label for `state()` (the driver gives the URL).
    pub name: String,
    pub state: ServerState,
    pub answer: Answer,
    /// Opens that did not end in a welcome since the last one (saturates).
    pub failures: u32,
    /// When to open the socket again.
    pub reconnect_at: Option<Millis>,
    /// Sockets opened again after a close.
    pub reconnects: u64,
    /// Meetings through this server whose link failed, in a row.
    pub meeting_failures: u32,
}

impl Slot {
    pub fn new(name: String) -> Slot {
        Slot {
            name,
            state: ServerState::Closed,
            answer: Answer::Waiting,
            failures: 0,
            reconnect_at: None,
            reconnects: 0,
            meeting_failures: 0,
        }
    }

    /// Arms the reconnect timer: 0.5 s doubling to 8 s per failure in a row,
    /// each drawn uniformly from its upper half, so members of a ring whose
    /// server restarted do not all knock at once.
    pub fn schedule_reconnect(&mut self, now: Millis, rng: &mut SeededRng) {
        if self.reconnect_at.is_none() {
            self.reconnect_at = Some(backoff(now, rng, &mut self.failures, BACKOFF_BASE_MS, BACKOFF_CAP_MS));
        }
    }

    /// Arms the reconnect timer after a failed meeting: 1 s doubling to 30 s
    /// per meeting that failed in a row, drawn from the upper half.
    pub fn schedule_meeting_retry(&mut self, now: Millis, rng: &mut SeededRng) {
        if self.reconnect_at.is_none() {
            self.reconnect_at = Some(backoff(now, rng, &mut self.meeting_failures, MEETING_RETRY_BASE_MS, MEETING_RETRY_CAP_MS));
        }
    }
}

/// When to try again after `count` failures in a row: `base` doubling up to
/// `cap`, drawn uniformly from the upper half of that wait; counts one more.
fn backoff(now: Millis, rng: &mut SeededRng, count: &mut u32, base: u64, cap: u64) -> Millis {
    let max = (base << (*count).min(5)).min(cap);
    *count = count.saturating_add(1).min(16);
    now + (max / 2 + rng.below(max / 2 + 1))
}

/// The first wait before a server is opened again for a new meeting.
pub const MEETING_RETRY_BASE_MS: u64 = 1_000;
/// The longest.
pub const MEETING_RETRY_CAP_MS: u64 = 30_000;

/// One server as `state().servers` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServerView {
    /// Its URL (as the driver named it).
    pub url: String,
    /// `connecting`, `connected` or `closed`.
    pub state: ServerState,
    /// Times the socket was opened again after it closed.
    pub reconnects: u64,
}

/// The connection to show as `state().server`: connected if any server is,
/// else connecting if any is, else closed.
pub(super) fn overall(slots: &[Slot]) -> ServerState {
    let any = |s: ServerState| slots.iter().any(|x| x.state == s);
    if any(ServerState::Connected) {
        ServerState::Connected
    } else if any(ServerState::Connecting) {
        ServerState::Connecting
    } else {
        ServerState::Closed
    }
}

/// `ServerId`s of `slots`, in order.
pub(super) fn ids(slots: &[Slot]) -> impl Iterator<Item = ServerId> {
    (0..slots.len()).map(|i| ServerId(i as u8))
}
