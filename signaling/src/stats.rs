//! What `GET /stats` reports.

use serde::{Deserialize, Serialize};

/// A snapshot of the server's gauges and counters, served as JSON at `/stats`.
///
/// Gauges (`connections`, `rings`, `members`) describe this instant; the other
/// fields count since the server started. `messages_relayed` grows only while
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
}
