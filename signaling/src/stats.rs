//! What `GET /stats` reports.

use serde::{Deserialize, Serialize};

/// A snapshot of the server's gauges and counters, served as JSON at `/stats`.
///
/// Gauges (`connections`, `rings`, `members`, `held`, `grace_left_ms`)
/// describe this instant; the other fields count since the server started. `messages_relayed` grows only while
/// introductions are open: once a newcomer has joined, nothing about it passes
/// through the server any more.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Open WebSocket connections.
    pub connections: u64,
    /// Connections and WebSocket upgrades refused over a limit (server full,
    /// address full, origin not allowed), since the start.
    pub connections_refused: u64,
    /// Rings with at least one connected peer.
    pub rings: u64,
    /// Peers that reported `member`, over all rings.
    pub members: u64,
    /// Introductions started (one per `welcome` carrying an `intro`).
    pub introductions: u64,
    /// Introductions that ended with the newcomer reporting `member`.
    pub introductions_completed: u64,
    /// Introductions that ended otherwise (introducer silent or gone,
    /// newcomer gone, lifetime over).
    pub introductions_failed: u64,
    /// `signal` messages delivered to the other party of an introduction.
    pub messages_relayed: u64,
    /// `signal` messages dropped because the receiver's queue was full.
    pub messages_dropped: u64,
    /// `signal` messages refused because their introduction is over or unknown.
    pub signals_refused: u64,
    /// Connections closed because the client broke the protocol.
    pub protocol_errors: u64,
    /// TURN credential sets handed to peers (in welcomes and refreshes;
    /// minted per peer in REST mode). Never the credentials themselves.
    #[serde(default)]
    pub turn_credentials_issued: u64,
    /// `ice_servers` messages sent to refresh REST credentials before they expire.
    #[serde(default)]
    pub ice_refreshes_sent: u64,
    /// Hellos that said `member: true`: members reconnecting. (A held
    /// newcomer that reports `member`, a reconnecting tab whose hello did not
    /// say so, is treated alike but not counted here.)
    #[serde(default)]
    pub member_hellos: u64,
    /// Meetings opened: a member that announced itself was introduced to
    /// another member of its ring (not counted in `introductions`).
    #[serde(default)]
    pub meetings: u64,
    /// Meetings in which the member met answered (sent at least one signal).
    /// The peers never tell the server whether their link formed, so this is
    /// as close to "succeeded" as the server can see.
    #[serde(default)]
    pub meetings_answered: u64,
    /// Meetings that ended before the member met answered (it stayed silent,
    /// or a party left first).
    #[serde(default)]
    pub meetings_unanswered: u64,
    /// Newcomers held since the start: they said hello during the grace period
    /// to a ring the server knew no member of, and waited for one to announce
    /// itself or for the grace period to end.
    #[serde(default)]
    pub held_newcomers: u64,
    /// Newcomers held right now (a gauge).
    #[serde(default)]
    pub held: u64,
    /// Milliseconds of the grace period left; 0 once it is over (or with `--grace 0`).
    #[serde(default)]
    pub grace_left_ms: u64,
}

/// The counters kept by the ring state ([`crate::rings::Rings`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingCounters {
    /// See [`Stats::introductions`].
    pub introductions: u64,
    /// See [`Stats::introductions_completed`].
    pub introductions_completed: u64,
    /// See [`Stats::introductions_failed`].
    pub introductions_failed: u64,
    /// See [`Stats::signals_refused`].
    pub signals_refused: u64,
    /// See [`Stats::member_hellos`].
    pub member_hellos: u64,
    /// See [`Stats::meetings`].
    pub meetings: u64,
    /// See [`Stats::meetings_answered`].
    pub meetings_answered: u64,
    /// See [`Stats::meetings_unanswered`].
    pub meetings_unanswered: u64,
    /// See [`Stats::held_newcomers`].
    pub held_newcomers: u64,
}
