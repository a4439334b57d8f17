//! [`PeerState`]: the snapshot behind `peer.state()` in JavaScript.
//!
//! Ids are 40 hex digits and fields are camelCase, because the reader is
//! JavaScript (the TypeScript shape is in `src/web/api_types.rs`).

use super::{Peer, ServerState};
use crate::link::{LinkState, Via};
use crate::node::Status;
use serde::Serialize;

/// A run of fingers pointing at one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FingerRunInfo {
    /// First finger index.
    pub from: u8,
    /// Last finger index, inclusive.
    pub to: u8,
    /// The node.
    pub node: String,
}

/// One link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinkView {
    /// The peer.
    pub peer: String,
    /// Connecting or open.
    pub state: LinkState,
    /// Negotiated through the server or the ring.
    pub via: Via,
    /// Whether the Chord tables point at it.
    pub wanted: bool,
}

/// The routing state of a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerState {
    /// The peer's id.
    pub id: String,
    /// The ring's name.
    pub ring: String,
    /// `idle`, `joining`, `joined` or `left`.
    pub status: &'static str,
    /// The predecessor.
    pub predecessor: Option<String>,
    /// The successor list, nearest first.
    pub successors: Vec<String>,
    /// The finger table as runs.
    pub fingers: Vec<FingerRunInfo>,
    /// Records held.
    pub keys: usize,
    /// Links by peer.
    pub links: Vec<LinkView>,
    /// The signaling connection.
    pub server: ServerState,
    /// Peer connections created so far.
    pub connections_created: u64,
    /// Envelopes relayed for others.
    pub signals_forwarded: u64,
}

impl PeerState {
    pub(super) fn of(peer: &Peer, ring: &str) -> PeerState {
        let node = peer.node();
        PeerState {
            id: node.id().to_hex(),
            ring: ring.to_string(),
            status: match node.status() {
                Status::Idle => "idle",
                Status::Joining => "joining",
                Status::Joined => "joined",
                Status::Left => "left",
            },
            predecessor: node.predecessor().map(|p| p.to_hex()),
            successors: node.successors().iter().map(|s| s.to_hex()).collect(),
            fingers: node.fingers().runs().iter().map(|r| FingerRunInfo { from: r.start, to: r.end, node: r.node.to_hex() }).collect(),
            keys: node.store().len(),
            links: peer
                .links()
                .snapshot()
                .into_iter()
                .map(|l| LinkView { peer: l.peer.to_hex(), state: l.state, via: l.via, wanted: l.wanted })
                .collect(),
            server: peer.server(),
            connections_created: peer.links().stats().created,
            signals_forwarded: peer.links().stats().forwarded,
        }
    }
}
