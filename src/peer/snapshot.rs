//! [`PeerState`]: the snapshot behind `peer.state()` in JavaScript.
//!
//! Ids are 40 hex digits and fields are camelCase, because the reader is
//! JavaScript (the TypeScript shape is in `src/web/api_types.rs`).

use super::{Peer, ServerState, ServerView};
use crate::ice::{CandidateKind, IcePolicy, IceServer};
use crate::link::{LinkState, MaxMessageSize, Via};
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
    /// The candidate types of the selected pair, `None` until connected.
    pub candidates: Option<CandidatePair>,
    /// The pair's round-trip time in ms, once measured.
    #[serde(rename = "rttMs")]
    pub rtt_ms: Option<u32>,
    /// The largest message the other end accepts, in bytes (`0`: no
    /// limit), once the link is open.
    #[serde(rename = "maxMessageSize")]
    pub max_message_size: Option<MaxMessageSize>,
}

/// The candidate types of a link's selected pair: `relay` on either side
/// means the link goes through a TURN server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CandidatePair {
    /// This side's.
    pub local: CandidateKind,
    /// The other side's.
    pub remote: CandidateKind,
}

/// The ICE servers in use (never their credentials).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IceView {
    /// The servers' URLs.
    pub servers: Vec<IceServer>,
    /// `all` or `relay`.
    pub policy: IcePolicy,
    /// `options` (the application chose them), `server` (the signaling
    /// server sent them) or `none` (host candidates only).
    pub source: &'static str,
    /// Fresh credentials received from the server since its welcome.
    pub refreshes: u64,
}

/// The version of a held record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionView {
    /// Sequence number given by the primary.
    pub seq: u64,
    /// The writer's id.
    pub writer: String,
}

/// A record this peer holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeldRecord {
    /// The key.
    pub key: String,
    /// The name (empty if the writer gave only a key).
    pub name: String,
    /// Content bytes.
    pub size: u64,
    /// SHA-1 of the content.
    pub digest: String,
    /// Its version.
    pub version: VersionView,
    /// `primary` (the key is in (predecessor, us]), `replica` (within the R−1
    /// predecessors' ranges) or `other` (in transit after churn).
    pub role: &'static str,
    /// Whether the bytes ride in the record (small values).
    pub inline: bool,
    /// Whether the bytes are in this tab (always for inline values).
    pub complete: bool,
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
    /// The records, in key order.
    pub records: Vec<HeldRecord>,
    /// Links by peer.
    pub links: Vec<LinkView>,
    /// The signaling connection: connected if any server is.
    pub server: ServerState,
    /// Each signaling server: URL, state, reconnects.
    pub servers: Vec<ServerView>,
    /// The first signaling server connected.
    pub signaling_url: Option<String>,
    /// Peer connections created so far.
    pub connections_created: u64,
    /// Envelopes relayed for others.
    pub signals_forwarded: u64,
    /// Peers this node found silent and dropped from its tables.
    pub peers_declared_dead: u64,
    /// Links to ring neighbours that closed under this tab (each neighbour probed at once).
    pub neighbour_links_lost: u64,
    /// Of `peers_declared_dead`: neighbours whose link closed and that no member could reach.
    pub dead_by_transport: u64,
    /// Reply deadlines that fired while this tab was stalled and were given more time.
    pub late_timeouts: u64,
    /// Frames this tab did not send because they were larger than the other
    /// end of their link accepts (its `maxMessageSize`).
    pub frames_too_large: u64,
    /// What this tab received and refused, by reason (counts since it started):
    /// Chord frames by [`DropReason`](crate::node::DropReason) (`malformed`,
    /// `oversized`, `version`, `limit`, `unsolicited`, `notJoined`, `badPath`,
    /// `storeFull`, `corrupt`), `transferMalformed` (file frames that did not
    /// decode), `signalsDropped` (ring-signaling envelopes dropped) and
    /// `queueFull` (data-channel messages refused by the driver's full receive
    /// queue, [`RtcInput::Overflowed`](super::RtcInput::Overflowed)).
    pub rejected: Rejected,
    /// The ICE servers and policy in use.
    pub ice: IceView,
    /// Link attempts that failed, by reason.
    pub link_failures: LinkFailuresView,
    /// ICE restarts of links whose path failed.
    pub ice_restarts: IceRestartsView,
}

/// Link attempts that failed, by [`LinkFailure`](crate::link::LinkFailure).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkFailuresView {
    /// This side gathered no ICE candidate.
    pub no_candidates: u64,
    /// ICE found no working path.
    pub no_path: u64,
    /// The other side never answered in time.
    pub timeout: u64,
    /// The other side refused.
    pub refused: u64,
    /// The ring could not carry the offer to the other side.
    pub unreachable: u64,
    /// The other side accepts too small messages.
    pub message_limit: u64,
    /// Not tried: beyond the budget of links to peers outside the tables.
    pub budget: u64,
}

/// ICE restarts of links whose path failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IceRestartsView {
    /// Begun.
    pub started: u64,
    /// Connected again.
    pub succeeded: u64,
    /// Given up (the link was closed).
    pub failed: u64,
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
            records: held_records(peer),
            links: peer
                .links()
                .snapshot()
                .into_iter()
                .map(|l| LinkView {
                    peer: l.peer.to_hex(),
                    state: l.state,
                    via: l.via,
                    wanted: l.wanted,
                    candidates: l.path.map(|p| CandidatePair { local: p.local, remote: p.remote }),
                    rtt_ms: l.path.and_then(|p| p.rtt_ms),
                    max_message_size: l.max_message_size,
                })
                .collect(),
            server: peer.server(),
            servers: peer.servers(),
            signaling_url: peer.servers.iter().find(|s| s.state == ServerState::Connected).map(|s| s.name.clone()),
            connections_created: peer.links().stats().created,
            signals_forwarded: peer.links().stats().forwarded,
            peers_declared_dead: node.stats().declared_dead,
            neighbour_links_lost: node.stats().links_lost,
            dead_by_transport: node.stats().dead_by_transport,
            late_timeouts: node.stats().late_timeouts,
            frames_too_large: peer.links().stats().too_large,
            rejected: rejected(peer),
            ice: IceView {
                servers: peer.links().ice().servers.iter().map(IceServer::without_credentials).collect(),
                policy: peer.links().ice().policy,
                source: peer.ice_source(),
                refreshes: peer.ice_refreshes(),
            },
            link_failures: {
                let s = peer.links().stats();
                LinkFailuresView {
                    no_candidates: s.no_candidates,
                    no_path: s.no_path,
                    timeout: s.timeouts,
                    refused: s.refused_by_peer,
                    unreachable: s.unreachable,
                    message_limit: s.message_limit,
                    budget: s.budget,
                }
            },
            ice_restarts: {
                let s = peer.links().stats();
                IceRestartsView { started: s.restarts_started, succeeded: s.restarts_succeeded, failed: s.restarts_failed }
            },
        }
    }
}

fn held_records(peer: &Peer) -> Vec<HeldRecord> {
    let node = peer.node();
    let me = node.id();
    let preds = node.predecessor_list();
    node.store()
        .records()
        .map(|r| {
            // A ring smaller than R has every key on every member.
            let small_ring = preds.len() < node.config().replicas || preds.contains(&me);
            let role = match (node.predecessor(), preds.last()) {
                (None, _) => "primary",
                (Some(p), _) if r.key.in_half_open(&p, &me) => "primary",
                _ if small_ring => "replica",
                (Some(_), Some(far)) if r.key.in_half_open(far, &me) => "replica",
                _ => "other",
            };
            HeldRecord {
                key: r.key.to_hex(),
                name: r.name.clone(),
                size: r.size,
                digest: r.digest.to_hex(),
                version: VersionView { seq: r.version.seq, writer: r.version.writer.to_hex() },
                role,
                inline: !r.is_blob(),
                complete: !r.is_blob() || peer.holds_blob(&r.digest),
            }
        })
        .collect()
}

fn rejected(peer: &Peer) -> Rejected {
    use crate::node::DropReason;
    let stats = peer.node().stats();
    let mut m: Vec<(&'static str, u64)> = DropReason::ALL
        .iter()
        .map(|r| {
            let name = match r {
                DropReason::Malformed => "malformed",
                DropReason::Oversized => "oversized",
                DropReason::Version => "version",
                DropReason::Limit => "limit",
                DropReason::Unsolicited => "unsolicited",
                DropReason::NotJoined => "notJoined",
                DropReason::BadPath => "badPath",
                DropReason::StoreFull => "storeFull",
                DropReason::Corrupt => "corrupt",
            };
            (name, stats.dropped(*r))
        })
        .collect();
    m.push(("transferMalformed", peer.bad_transfer_frames()));
    m.push(("signalsDropped", peer.links().stats().signals_dropped));
    m.push(("queueFull", peer.queue_full()));
    Rejected(m)
}

/// Refused input by reason (`state().rejected`), serialized as an object.
/// A list, not a map: a dozen fixed names, and one `BTreeMap` type fewer in
/// the wasm bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected(Vec<(&'static str, u64)>);

impl Rejected {
    /// The count for one reason, if it is one.
    pub fn get(&self, reason: &str) -> Option<&u64> {
        self.0.iter().find(|(r, _)| *r == reason).map(|(_, n)| n)
    }
}

impl Serialize for Rejected {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(r, n)| (r, n)))
    }
}
