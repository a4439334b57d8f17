//! Node configuration: list lengths, replication and the maintenance clock.

use serde::{Deserialize, Serialize};

/// How a node behaves. All durations are in milliseconds of the driver's clock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Successor-list length r. The ring survives as long as no node loses all
    /// r successors between two of its stabilizations.
    pub successors: usize,
    /// Replication factor R: each key is held by its successor and the next R−1.
    pub replicas: usize,
    /// Mean period of stabilize (each period is jittered by ±50 %).
    pub stabilize_ms: u64,
    /// Mean period of fix-fingers (one finger run per period).
    pub fix_fingers_ms: u64,
    /// Mean period of check-predecessor.
    pub check_predecessor_ms: u64,
    /// Mean period of the neighbour probe: every successor-list entry and
    /// finger is pinged, so dead ones are found together rather than one
    /// stabilize or lookup timeout after another. 0 turns it off (the
    /// simulator's large rings: it costs r + log N pings a period per node).
    pub probe_ms: u64,
    /// Mean period of the replication pass.
    pub replicate_ms: u64,
    /// Whether periodic maintenance runs at all (off only for a frozen ideal ring).
    pub maintenance: bool,
    /// How long to wait for a direct answer (neighbours, ping, hop receipt)
    /// from a peer that answers quickly: the least deadline.
    pub rpc_timeout_ms: u64,
    /// The most a direct answer is waited for. Between the two, each peer's
    /// deadline follows its measured answer time (RFC 6298's
    /// `srtt + 4·rttvar`, see `node/rtt.rs`), so an overloaded machine whose
    /// answers come late slows failure detection down rather than declaring
    /// live peers dead. At most `rpc_timeout_ms` (the default, 0): fixed
    /// deadlines, as the simulator's schedules were tuned with; the browser
    /// sets 5 s (`browser_node_config`).
    pub rpc_timeout_max_ms: u64,
    /// How long the origin waits for a routed request before retrying it.
    pub request_timeout_ms: u64,
    /// How often the origin retries a routed request before reporting failure.
    pub request_retries: u32,
    /// How often a node sends a direct request (a query, or a forwarded route
    /// awaiting its receipt) before it suspects the peer is dead. One lost
    /// message must not remove a live successor.
    pub rpc_attempts: u32,
    /// Most routed requests this node may have outstanding as origin.
    pub max_pending_requests: usize,
    /// Most records this node keeps; puts and hand-overs beyond are refused.
    pub max_records: usize,
    /// Most routed requests received from one peer that this node holds
    /// while waiting for the next hop's receipt. Beyond it, or beyond
    /// `max_forwarding_bytes_per_peer`, a route is answered
    /// [`RouteFailure::Busy`](crate::message::RouteFailure::Busy) at once: a
    /// neighbour cannot make this node hold requests without bound.
    pub max_forwarding_per_peer: usize,
    /// Most value bytes (puts) of routed requests from one peer held while
    /// waiting for receipts.
    pub max_forwarding_bytes_per_peer: usize,
    /// Whether to report every change of the records held
    /// ([`Event::Stored`](crate::Event::Stored), [`Event::Dropped`](crate::Event::Dropped)):
    /// a browser peer persists them and fetches blob bytes; the simulator does not need them.
    pub store_events: bool,
    /// How long a peer this node declared dead or lost (see ring unification
    /// in `node/unify.rs`) is remembered and probed now and then. Long enough
    /// for a network split of ten minutes to heal: if the peer answers again
    /// the two rings are merged.
    pub lost_keep_ms: u64,
    /// Mean period of the lost-peer probe: one remembered peer is pinged per
    /// period (never two at once). 0 turns ring unification's probing off
    /// (`Node::unify_with` still works). Default 3 s.
    pub lost_probe_ms: u64,
    /// Whether a node whose successors all died asks its nearest finger to be
    /// its successor before it gives the ring up (see `Node::rescue` in
    /// maintenance.rs); meanwhile it is out of the ring (`Status::Joining`).
    /// Needed for splits: without it a 3-way split cascades into most nodes
    /// rejoining. On by default.
    pub rescue: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            successors: 8,
            replicas: 3,
            stabilize_ms: 1_000,
            fix_fingers_ms: 500,
            check_predecessor_ms: 2_000,
            replicate_ms: 2_000,
            probe_ms: 0,
            maintenance: true,
            rpc_timeout_ms: 1_500,
            rpc_timeout_max_ms: 0,
            request_timeout_ms: 8_000,
            request_retries: 2,
            rpc_attempts: 3,
            max_pending_requests: 4096,
            max_records: 1 << 20,
            max_forwarding_per_peer: 1024,
            max_forwarding_bytes_per_peer: 8 << 20,
            store_events: false,
            lost_keep_ms: 30 * 60_000,
            lost_probe_ms: 3_000,
            rescue: true,
        }
    }
}
