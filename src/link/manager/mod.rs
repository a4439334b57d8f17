//! [`Links`]: which WebRTC links a peer keeps, and how new ones are negotiated.
//!
//! Sans-IO like the node: the driver creates and closes the actual
//! `RTCPeerConnection`s when told to ([`LinkOutput`]) and reports what they do
//! (`described`, `opened`, `closed`, `received`). Every link has a
//! [`LinkId`] of its own, so a late callback of a link that was replaced
//! cannot touch its successor.
//!
//! Rules:
//! * Messages for a peer without an open link wait in a bounded queue while a
//!   link is negotiated through the ring; a failed attempt drops them (the
//!   node's own timeouts then treat the peer as dead, as with any lost
//!   message) and the peer is not tried again for `retry_after_ms`.
//! * Links to *wanted* peers (predecessor, successors, fingers) are opened
//!   eagerly, at most `max_connecting` at a time; links nobody wants and
//!   nobody used for `idle_close_ms` are closed. Chromium allows about 500
//!   `RTCPeerConnection`s per page lifetime, so links are kept and reused
//!   rather than opened per message, and `max_links` caps them.
//! * Links to any other peer (a candidate under check, a blob's holder, a
//!   peer of a ring being merged) come out of a budget: at most
//!   `open_budget` such opens in any `open_window_ms`. Those ids are named by
//!   other peers, so without it one hostile linked peer could make this tab
//!   open a connection to every id it makes up, and spend the page's ~500
//!   (issue 15, hole 1). A send that would open one beyond the budget is
//!   refused ([`SendError::NoBudget`], counted in [`LinkStats::budget`],
//!   reported as [`LinkFailure::Budget`]) and the message is lost like any
//!   other: the node's timeouts route around it, a pull asks the next holder.
//!   The Chord tables' links never wait for it, so the ring stays correct;
//!   nor do links to the peers answering a request of this tab's own user
//!   ([`Links::expect`]: a get's holders, a put's primary), which remote
//!   peers cannot name at will.
//! * Glare: when two peers offer to each other at once, the offer of the
//!   lower id wins; the higher id drops its own attempt and answers.
//! * ICE trickles ([`ice`]): a description goes out as soon as it is set, and
//!   each candidate follows as the browser gathers it, so a STUN or TURN
//!   server that never answers cannot delay a link. A link whose path fails
//!   is restarted (new candidates, same data channel) through the ring
//!   before it is given up.
//! * The driver reports with [`Links::opened`] the largest message the other
//!   end accepts ([`MaxMessageSize`], see [`limit`](super::limit)); no frame
//!   above it is sent, and a link whose limit is below
//!   [`MIN_MAX_MESSAGE_SIZE`](super::MIN_MAX_MESSAGE_SIZE) is failed at once.

mod ice;

pub use ice::Connectivity;

use super::frame::{is_link_frame, Envelope, EnvelopeBody, MAX_SIGNAL_HOPS};
use super::intro::ServerIntro;
use super::limit::{MaxMessageSize, SendError};
use super::sdp::{count_candidates, keep_loopback_candidates};
use crate::ice::{Candidate, IceConfig, PathInfo};
use crate::id::Id;
use crate::rng::SeededRng;
use crate::signal::SignalPayload;
use crate::time::Millis;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The driver's handle of one `RTCPeerConnection`; never reused. A type of
/// its own, so that it cannot be mixed up with a pull, an introduction or a
/// request id (it shows as the bare number in `state()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct LinkId(pub u64);

impl std::fmt::Display for LinkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How a link was negotiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Through the bootstrap server (a newcomer's first link).
    Server,
    /// Through the ring.
    Ring,
}

/// Where a link is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Negotiating.
    Connecting,
    /// The data channel is open.
    Open,
    /// The data channel is open but its network path failed: an ICE restart
    /// is under way; messages wait until it ends.
    Restarting,
}

/// Why a link attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkFailure {
    /// This side could not gather a single ICE candidate (no network
    /// interface the policy allows; `relay` without a TURN server).
    NoCandidates,
    /// Both sides described themselves, but ICE found no working pair of
    /// addresses (NATs or firewalls in the way; a TURN relay may be needed).
    NoPath,
    /// The other side never answered in time.
    Timeout,
    /// The other side refused (it is at its link limit).
    Refused,
    /// No ring member could carry the offer to the other side (it is not in
    /// this tab's ring, or not yet reachable through it).
    Unreachable,
    /// The data channel opened, but the other side accepts only messages
    /// smaller than [`MIN_MAX_MESSAGE_SIZE`](super::MIN_MAX_MESSAGE_SIZE): too small for the protocol.
    MessageLimit,
    /// Not tried: this tab opened as many links to peers outside its Chord
    /// tables as it allows in a while ([`LinkConfig::open_budget`]).
    Budget,
}

/// How long a peer whose link failed with [`LinkFailure::MessageLimit`] is
/// not tried again: its limit comes from its browser and will not change, and
/// every attempt costs a peer connection (Chromium allows ~500 per page).
pub const MESSAGE_LIMIT_RETRY_MS: u64 = 60_000;

/// Limits and clocks of the link manager. Durations in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// Most links (connecting or open) at once.
    pub max_links: usize,
    /// Most links negotiating at once.
    pub max_connecting: usize,
    /// A link not open this long after it was started is given up.
    pub connect_timeout_ms: u64,
    /// After a failed attempt, how long a peer is not tried again.
    pub retry_after_ms: u64,
    /// An open link nobody wants and nobody used this long is closed.
    pub idle_close_ms: u64,
    /// Most messages waiting for one peer's link; older ones are dropped.
    pub max_queued: usize,
    /// Period of the housekeeping pass (idle links, wanted links, retries).
    pub housekeeping_ms: u64,
    /// Keep only loopback ICE candidates in the descriptions this peer sends.
    pub loopback_only: bool,
    /// An open link whose ICE state stays `disconnected` this long is
    /// restarted (browsers go `disconnected` for a moment on a lost packet
    /// burst, and recover by themselves).
    pub disconnect_grace_ms: u64,
    /// An ICE restart not connected within this time closes the link (it is
    /// opened again through the ring when wanted).
    pub restart_timeout_ms: u64,
    /// Most links opened in any `open_window_ms` to peers the Chord tables do
    /// not want (see the module docs).
    pub open_budget: usize,
    /// The window of `open_budget`.
    pub open_window_ms: u64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            max_links: 64,
            max_connecting: 8,
            connect_timeout_ms: 10_000,
            retry_after_ms: 3_000,
            idle_close_ms: 30_000,
            max_queued: 256,
            housekeeping_ms: 1_000,
            loopback_only: false,
            disconnect_grace_ms: 3_000,
            restart_timeout_ms: 10_000,
            // 12 a minute at most: a get asks up to 3 holders, a changed
            // neighbour brings a candidate or two, and links are reused for
            // 30 s; a hostile peer would need 40 minutes for the page's 500.
            open_budget: 6,
            open_window_ms: 30_000,
        }
    }
}

/// What the driver must do with a peer connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RtcCommand {
    /// Create a peer connection with one data channel for `peer`. With
    /// `remote_offer` it answers that offer, else it makes an offer. Either
    /// way the driver reports the local description as soon as it is set
    /// (`Links::described`), then each gathered candidate and the end of
    /// gathering (`Links::local_candidate`). A driver that waits for
    /// gathering to complete may instead report one description holding
    /// every candidate.
    Create {
        /// The new link.
        link: LinkId,
        /// The peer at the other end.
        peer: Id,
        /// The offer to answer, when this side answers.
        remote_offer: Option<String>,
        /// STUN/TURN servers and transport policy for the connection.
        ice: IceConfig,
    },
    /// Add a candidate the other side trickled (an empty line: it has no more).
    AddCandidate {
        /// The link.
        link: LinkId,
        /// The candidate.
        candidate: Candidate,
    },
    /// Restart ICE on an existing link: without `remote_offer`, make an
    /// ICE-restart offer; with one, apply it and answer. The new local
    /// description and candidates are reported as for `Create`.
    Restart {
        /// The link.
        link: LinkId,
        /// The other side's restart offer, when this side answers.
        remote_offer: Option<String>,
    },
    /// Use these ICE servers from now on, also for restarts of existing
    /// connections (fresh TURN credentials).
    UpdateIce {
        /// The new configuration.
        ice: IceConfig,
    },
    /// Apply the remote answer to an offering link.
    SetAnswer {
        /// The link.
        link: LinkId,
        /// The answer SDP.
        sdp: String,
    },
    /// Send bytes on the link's data channel.
    Send {
        /// The link.
        link: LinkId,
        /// One message.
        bytes: Vec<u8>,
    },
    /// Close the link and free everything it holds.
    Close {
        /// The link.
        link: LinkId,
    },
}

/// Something the driver must do or know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkOutput {
    /// A peer-connection command.
    Rtc(RtcCommand),
    /// A Chord frame from `from`, for the node.
    Deliver {
        /// The peer it came from.
        from: Id,
        /// The frame.
        bytes: Vec<u8>,
    },
    /// Send this to the signaling server (bootstrap introductions only).
    ToServer {
        /// The introduction (and so the server to send it to).
        intro: ServerIntro,
        /// The offer or answer.
        payload: SignalPayload,
    },
    /// A link to `peer` opened.
    Opened {
        /// The peer.
        peer: Id,
        /// How it was negotiated.
        via: Via,
    },
    /// The open link to `peer` closed.
    Closed {
        /// The peer.
        peer: Id,
        /// It ended by itself (closed by the remote or the network, or an
        /// ICE restart gave up), not because this side closed it: a hint
        /// that the peer may be gone (see `node/transport.rs`).
        lost: bool,
    },
    /// An attempt to link to `peer` failed.
    Failed {
        /// The peer.
        peer: Id,
        /// How the attempt was negotiated.
        via: Via,
        /// Why it failed.
        reason: LinkFailure,
    },
    /// The open link to `peer` lost its network path; ICE is restarting.
    Restarting {
        /// The peer.
        peer: Id,
    },
}

/// One link as the application sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinkInfo {
    /// The peer at the other end.
    pub peer: Id,
    /// Connecting or open.
    pub state: LinkState,
    /// How it was negotiated.
    pub via: Via,
    /// Whether the Chord tables need it.
    pub wanted: bool,
    /// The network path, once connected and measured.
    pub path: Option<PathInfo>,
    /// The largest message the other end accepts, once the channel is open.
    pub max_message_size: Option<MaxMessageSize>,
}

/// Counters of the link manager.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LinkStats {
    /// Peer connections created.
    pub created: u64,
    /// Links that opened.
    pub opened: u64,
    /// Attempts that failed (timeout, refusal, or closed before opening).
    pub failed: u64,
    /// Envelopes this peer relayed for others.
    pub forwarded: u64,
    /// Envelopes dropped: undecodable, no way on, stale, or over the hop limit.
    pub signals_dropped: u64,
    /// Messages dropped because no link to their peer could be had.
    pub messages_dropped: u64,
    /// Offers refused at the link limit.
    pub refused: u64,
    /// Attempts that failed because this side gathered no ICE candidate.
    pub no_candidates: u64,
    /// Attempts that failed because ICE found no working path.
    pub no_path: u64,
    /// Attempts the other side never answered in time.
    pub timeouts: u64,
    /// Attempts the other side refused.
    pub refused_by_peer: u64,
    /// Attempts whose offer the ring could not carry to the other side.
    pub unreachable: u64,
    /// ICE restarts begun.
    pub restarts_started: u64,
    /// ICE restarts that connected again.
    pub restarts_succeeded: u64,
    /// ICE restarts given up (the link was closed).
    pub restarts_failed: u64,
    /// Candidates dropped: beyond [`crate::ice::MAX_CANDIDATES_PER_SESSION`] or malformed.
    pub candidates_dropped: u64,
    /// Links failed because the other side accepts too small messages.
    pub message_limit: u64,
    /// Frames not sent because they were larger than the other end of
    /// their link accepts ([`SendError::TooLarge`]).
    pub too_large: u64,
    /// Frames not sent because they needed a link to a peer outside the
    /// Chord tables beyond [`LinkConfig::open_budget`] ([`SendError::NoBudget`]).
    pub budget: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Offerer { answered: bool },
    Answerer,
}

#[derive(Clone, Debug)]
struct Link {
    peer: Id,
    via: Via,
    state: LinkState,
    role: Role,
    /// The offerer's session number.
    session: u64,
    /// The server introduction, for links negotiated through the server.
    intro: Option<ServerIntro>,
    /// Answerers of ring offers: the relays back to the offerer, next one last.
    reply_path: Vec<Id>,
    /// Connecting links are given up at this time.
    deadline: Millis,
    last_used: Millis,
    /// This session's local description went out (candidates wait for it).
    described: bool,
    /// The remote description is known (offer received or answer applied):
    /// a failure from here on is ICE finding no path, not a silent peer.
    remote_described: bool,
    /// Local candidates gathered before the description went out.
    pending_local: Vec<Candidate>,
    /// Local candidates sent this session (the description's included).
    local_candidates: usize,
    /// Remote candidates applied this session.
    remote_candidates: usize,
    /// Local gathering is complete.
    gathered: bool,
    /// Since when ICE reports `disconnected` (open links).
    disconnected_at: Option<Millis>,
    /// A restart not connected by then closes the link.
    restart_deadline: Option<Millis>,
    /// The measured path.
    path: Option<PathInfo>,
    /// The largest message the other end accepts (known once open).
    max_message_size: Option<MaxMessageSize>,
}

/// The link manager of one peer. See the [module docs](self).
#[derive(Debug)]
pub struct Links {
    me: Id,
    cfg: LinkConfig,
    rng: SeededRng,
    next_link: LinkId,
    links: BTreeMap<LinkId, Link>,
    by_peer: BTreeMap<Id, LinkId>,
    queues: BTreeMap<Id, VecDeque<Vec<u8>>>,
    retry_at: BTreeMap<Id, Millis>,
    wanted: BTreeSet<Id>,
    next_housekeeping: Option<Millis>,
    out: VecDeque<LinkOutput>,
    stats: LinkStats,
    ice: IceConfig,
    /// Candidates that arrived through the ring before their offer: offerer,
    /// session, arrival time, candidates (bounded; see `ice`). A short list,
    /// searched in order.
    early: Vec<(Id, u64, Millis, Vec<Candidate>)>,
    /// When the links to peers outside the tables in the last
    /// `open_window_ms` were opened, oldest first (at most `open_budget`).
    opens: VecDeque<Millis>,
    /// Peers answering this tab's own requests, and since when ([`Links::expect`]).
    expected: BTreeMap<Id, Millis>,
}

/// Peers remembered by [`Links::expect`] at most; beyond, links to new ones
/// come out of the budget.
pub const MAX_EXPECTED: usize = 64;

impl Links {
    /// The link manager of peer `me`; `seed` picks its session numbers.
    pub fn new(me: Id, cfg: LinkConfig, seed: u64) -> Links {
        Links {
            me,
            cfg,
            rng: SeededRng::new(seed),
            next_link: LinkId(1),
            links: BTreeMap::new(),
            by_peer: BTreeMap::new(),
            queues: BTreeMap::new(),
            retry_at: BTreeMap::new(),
            wanted: BTreeSet::new(),
            next_housekeeping: None,
            out: VecDeque::new(),
            stats: LinkStats::default(),
            ice: IceConfig::default(),
            early: Vec::new(),
            opens: VecDeque::new(),
            expected: BTreeMap::new(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// The configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.cfg
    }

    /// Every link, by peer.
    pub fn snapshot(&self) -> Vec<LinkInfo> {
        self.by_peer
            .iter()
            .filter_map(|(peer, id)| self.links.get(id).map(|l| (peer, l)))
            .map(|(peer, l)| LinkInfo {
                peer: *peer,
                state: l.state,
                via: l.via,
                wanted: self.wanted.contains(peer),
                path: l.path,
                max_message_size: l.max_message_size,
            })
            .collect()
    }

    /// The largest message the other end of the open link to `peer`
    /// accepts; `None` when no link to it is open.
    pub fn max_message_size(&self, peer: &Id) -> Option<MaxMessageSize> {
        self.link_of(peer).filter(|l| l.state == LinkState::Open).and_then(|l| l.max_message_size)
    }

    /// Whether an open link to `peer` exists.
    pub fn is_open(&self, peer: &Id) -> bool {
        self.link_of(peer).is_some_and(|l| l.state == LinkState::Open)
    }

    /// Whether ring signaling may go over the link to `peer`: open, and its
    /// path not reported `disconnected` (when every link of a tab fails at
    /// once, ICE says so on each within seconds; a restart offer sent into
    /// one of them would be lost with it).
    fn carries(&self, peer: &Id) -> bool {
        self.link_of(peer).is_some_and(|l| l.state == LinkState::Open && l.disconnected_at.is_none())
    }

    /// Whether the link to `peer` is restarting ICE after its path failed.
    pub fn is_restarting(&self, peer: &Id) -> bool {
        self.link_of(peer).is_some_and(|l| l.state == LinkState::Restarting)
    }

    /// Peers with an open link.
    pub fn open_peers(&self) -> impl Iterator<Item = Id> + '_ {
        self.by_peer.iter().filter(|(_, id)| self.links.get(id).is_some_and(|l| l.state == LinkState::Open)).map(|(p, _)| *p)
    }

    /// Next output, if any. Drain after every input.
    pub fn poll_output(&mut self) -> Option<LinkOutput> {
        self.out.pop_front()
    }

    /// When [`Links::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let grace = self.cfg.disconnect_grace_ms;
        let deadlines = self.links.values().filter_map(|l| match l.state {
            LinkState::Connecting => Some(l.deadline),
            LinkState::Open => l.disconnected_at.map(|t| t + grace),
            LinkState::Restarting => l.restart_deadline,
        });
        deadlines.chain(self.next_housekeeping).min()
    }

    /// Sends a frame (Chord or transfer) to `to`, opening a link through the
    /// ring if none is open. A frame larger than the open link's other end
    /// accepts is not sent ([`SendError::TooLarge`], counted in
    /// [`LinkStats::too_large`]); one queued for a link still to open is
    /// checked when it opens, and dropped and counted the same way.
    pub fn send(&mut self, now: Millis, to: Id, bytes: Vec<u8>) -> Result<(), SendError> {
        if to == self.me {
            return Ok(());
        }
        self.arm(now);
        if let Some(id) = self.by_peer.get(&to).copied() {
            if let Some(l) = self.links.get_mut(&id) {
                if l.state == LinkState::Open {
                    l.last_used = now;
                    if let Some(limit) = l.max_message_size.filter(|m| !m.fits(bytes.len())) {
                        self.stats.too_large += 1;
                        return Err(SendError::TooLarge { len: bytes.len(), limit });
                    }
                    self.out.push_back(LinkOutput::Rtc(RtcCommand::Send { link: id, bytes }));
                    return Ok(());
                }
            }
        }
        if !self.by_peer.contains_key(&to) && !self.queues.contains_key(&to) && !self.spend_open(now, &to) {
            self.stats.budget += 1;
            self.stats.messages_dropped += 1;
            self.out.push_back(LinkOutput::Failed { peer: to, via: Via::Ring, reason: LinkFailure::Budget });
            return Err(SendError::NoBudget { window_ms: self.cfg.open_window_ms, budget: self.cfg.open_budget });
        }
        let q = self.queues.entry(to).or_default();
        if q.len() >= self.cfg.max_queued {
            q.pop_front();
            self.stats.messages_dropped += 1;
        }
        q.push_back(bytes);
        if !self.by_peer.contains_key(&to) {
            self.try_connect(now, to);
        }
        Ok(())
    }

    /// Whether a link to `peer`, which has none, may be opened now: free for
    /// the peers the tables want, else one of the window's budget (taken).
    /// A peer whose messages wait in a queue already had its turn.
    fn spend_open(&mut self, now: Millis, peer: &Id) -> bool {
        let window = self.cfg.open_window_ms;
        if self.wanted.contains(peer) || self.expected.get(peer).is_some_and(|t| now.since(*t) < window) {
            return true;
        }
        while self.opens.front().is_some_and(|t| now.since(*t) >= window) {
            self.opens.pop_front();
        }
        if self.opens.len() >= self.cfg.open_budget {
            return false;
        }
        self.opens.push_back(now);
        true
    }

    /// `peer` answers a request of this tab's user (a get's holder, a put's
    /// primary): for `open_window_ms`, a link to it does not spend the budget
    /// of links to peers outside the tables. The caller bounds how many one
    /// request names; at most [`MAX_EXPECTED`] are remembered.
    pub fn expect(&mut self, now: Millis, peer: Id) {
        let window = self.cfg.open_window_ms;
        if self.expected.len() >= MAX_EXPECTED && !self.expected.contains_key(&peer) {
            self.expected.retain(|_, t| now.since(*t) < window);
            if self.expected.len() >= MAX_EXPECTED {
                return;
            }
        }
        self.expected.insert(peer, now);
    }

    /// The peers the Chord tables need links to (predecessor, successors,
    /// fingers). Returns whether the set changed.
    pub fn want(&mut self, now: Millis, peers: impl IntoIterator<Item = Id>) -> bool {
        let wanted: BTreeSet<Id> = peers.into_iter().filter(|p| *p != self.me).collect();
        if wanted == self.wanted {
            return false;
        }
        self.wanted = wanted;
        self.arm(now);
        self.connect_wanted(now);
        true
    }

    /// Starts the bootstrap link to `introducer`, negotiated through the server
    /// under introduction `intro`. Any other link still negotiated through the
    /// same server (an earlier introduction it replaced) is given up; those of
    /// other servers go on.
    pub fn connect_via_server(&mut self, now: Millis, introducer: Id, intro: ServerIntro) {
        self.arm(now);
        let stale: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| l.via == Via::Server && l.state == LinkState::Connecting)
            .filter(|(_, l)| l.intro.is_some_and(|i| i.server == intro.server && i != intro))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.end(now, id, false);
        }
        if let Some(id) = self.by_peer.get(&introducer).copied() {
            self.end(now, id, false);
        }
        self.retry_at.remove(&introducer);
        self.start(now, introducer, Via::Server, Some(intro), Role::Offerer { answered: false }, 0, Vec::new(), None);
    }

    /// A payload the server relayed from `from` within introduction `intro`.
    pub fn server_signal(&mut self, now: Millis, intro: ServerIntro, from: Id, payload: SignalPayload) {
        self.arm(now);
        match payload {
            SignalPayload::Offer { sdp } => {
                // We introduce `from`: whatever link we had with it is stale.
                if let Some(id) = self.by_peer.get(&from).copied() {
                    self.end(now, id, false);
                }
                if self.links.len() >= self.cfg.max_links && !self.evict_one() {
                    self.stats.refused += 1;
                    return;
                }
                self.start(now, from, Via::Server, Some(intro), Role::Answerer, 0, Vec::new(), Some(sdp));
            }
            SignalPayload::Answer { sdp } => match self.by_peer.get(&from).copied() {
                Some(id) if self.links.get(&id).is_some_and(|l| l.intro == Some(intro)) => self.apply_answer(id, sdp),
                _ => self.stats.signals_dropped += 1,
            },
            SignalPayload::Ice { candidate, sdp_mid, sdp_m_line_index } => match self.by_peer.get(&from).copied() {
                Some(id) if self.links.get(&id).is_some_and(|l| l.intro == Some(intro)) => {
                    self.remote_candidate(id, Candidate { candidate, sdp_mid, sdp_m_line_index })
                }
                _ => self.stats.signals_dropped += 1,
            },
        }
    }

    /// The driver set the local description of `link` (with or without
    /// candidates; trickled ones follow through [`Links::local_candidate`]).
    pub fn described(&mut self, now: Millis, link: LinkId, sdp: String) {
        let loopback_only = self.cfg.loopback_only;
        let Some(l) = self.links.get_mut(&link) else { return };
        if l.described {
            return;
        }
        let sdp = if loopback_only { keep_loopback_candidates(&sdp) } else { sdp };
        l.described = true;
        l.local_candidates += count_candidates(&sdp);
        let pending = std::mem::take(&mut l.pending_local);
        let l = &self.links[&link];
        if l.state == LinkState::Restarting {
            self.describe_restart(now, link, sdp);
        } else {
            self.describe(now, link, sdp);
        }
        for c in pending {
            self.send_candidate(now, link, c);
        }
    }

    fn describe(&mut self, now: Millis, link: LinkId, sdp: String) {
        let Some(l) = self.links.get(&link) else { return };
        match (l.via, l.role, l.intro) {
            (Via::Server, Role::Offerer { .. }, Some(intro)) => {
                self.out.push_back(LinkOutput::ToServer { intro, payload: SignalPayload::Offer { sdp } })
            }
            (Via::Server, Role::Answerer, Some(intro)) => {
                self.out.push_back(LinkOutput::ToServer { intro, payload: SignalPayload::Answer { sdp } })
            }
            (Via::Server, _, None) => {}
            (Via::Ring, Role::Offerer { .. }, _) => {
                let env = Envelope { to: l.peer, from: self.me, session: l.session, path: Vec::new(), body: EnvelopeBody::Offer(sdp) };
                self.route_offer(now, env, None);
            }
            (Via::Ring, Role::Answerer, _) => {
                let env =
                    Envelope { to: l.peer, from: self.me, session: l.session, path: l.reply_path.clone(), body: EnvelopeBody::Answer(sdp) };
                self.route_reply(env, false);
            }
        }
    }

    /// The data channel of `link` opened; its other end accepts messages of
    /// up to `max_message_size` (`RTCSctpTransport.maxMessageSize`). Below
    /// [`MIN_MAX_MESSAGE_SIZE`](super::MIN_MAX_MESSAGE_SIZE) the link fails at once with
    /// [`LinkFailure::MessageLimit`], and the peer is not tried again for
    /// [`MESSAGE_LIMIT_RETRY_MS`].
    pub fn opened(&mut self, now: Millis, link: LinkId, max_message_size: MaxMessageSize) {
        let Some(l) = self.links.get_mut(&link) else { return };
        if l.state != LinkState::Connecting {
            return;
        }
        if !max_message_size.is_usable() {
            let peer = l.peer;
            self.fail(now, link, LinkFailure::MessageLimit);
            self.retry_at.insert(peer, now + self.cfg.retry_after_ms.max(MESSAGE_LIMIT_RETRY_MS));
            return;
        }
        l.state = LinkState::Open;
        l.last_used = now;
        l.max_message_size = Some(max_message_size);
        let (peer, via) = (l.peer, l.via);
        self.stats.opened += 1;
        self.retry_at.remove(&peer);
        self.out.push_back(LinkOutput::Opened { peer, via });
        self.flush_queue(link, peer);
        self.connect_wanted(now);
    }

    /// Sends what waited for `peer`'s link over `link`, now open; frames
    /// larger than its other end accepts are dropped and counted.
    fn flush_queue(&mut self, link: LinkId, peer: Id) {
        let limit = self.links.get(&link).and_then(|l| l.max_message_size).unwrap_or(MaxMessageSize::UNLIMITED);
        for bytes in self.queues.remove(&peer).unwrap_or_default() {
            if limit.fits(bytes.len()) {
                self.out.push_back(LinkOutput::Rtc(RtcCommand::Send { link, bytes }));
            } else {
                self.stats.too_large += 1;
            }
        }
    }

    /// `link` closed or failed (data channel closed, connection failed).
    pub fn closed(&mut self, now: Millis, link: LinkId) {
        self.end(now, link, true);
    }

    /// Closes the link to `peer`, if any (it is opened again through the ring
    /// when wanted or used). Returns whether there was one.
    pub fn close_peer(&mut self, now: Millis, peer: &Id) -> bool {
        match self.by_peer.get(peer).copied() {
            Some(id) => {
                self.end(now, id, false);
                true
            }
            None => false,
        }
    }

    /// Closes every link (the peer leaves).
    pub fn close_all(&mut self, now: Millis) {
        let ids: Vec<LinkId> = self.links.keys().copied().collect();
        for id in ids {
            self.end(now, id, false);
        }
        self.wanted.clear();
        self.queues.clear();
        self.next_housekeeping = None;
    }

    /// A message arrived on `link`.
    pub fn received(&mut self, now: Millis, link: LinkId, bytes: Vec<u8>) {
        let Some(l) = self.links.get_mut(&link) else { return };
        l.last_used = now;
        let peer = l.peer;
        if !is_link_frame(&bytes) {
            self.out.push_back(LinkOutput::Deliver { from: peer, bytes });
            return;
        }
        match Envelope::decode(&bytes) {
            Ok(env) if env.to == self.me => self.on_envelope(now, env),
            Ok(env) if env.body.is_forward() => self.route_offer(now, env, Some(peer)),
            Ok(env) => self.route_reply(env, true),
            Err(_) => self.stats.signals_dropped += 1,
        }
    }

    /// Gives up links that took too long and runs housekeeping when due.
    pub fn handle_timeout(&mut self, now: Millis) {
        let late: Vec<LinkId> =
            self.links.iter().filter(|(_, l)| l.state == LinkState::Connecting && l.deadline <= now).map(|(id, _)| *id).collect();
        for id in late {
            let silent = self.links.get(&id).is_some_and(|l| !l.remote_described);
            self.fail(now, id, if silent { LinkFailure::Timeout } else { LinkFailure::NoPath });
        }
        self.ice_timeouts(now);
        if self.next_housekeeping.is_some_and(|t| t <= now) {
            self.next_housekeeping = Some(now + self.cfg.housekeeping_ms);
            self.housekeeping(now);
        }
    }

    fn housekeeping(&mut self, now: Millis) {
        let idle: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| {
                l.state == LinkState::Open && !self.wanted.contains(&l.peer) && now.since(l.last_used) >= self.cfg.idle_close_ms
            })
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            self.end(now, id, false);
        }
        self.retry_at.retain(|_, t| *t > now);
        let stale = self.cfg.connect_timeout_ms;
        self.early.retain(|(_, _, at, _)| now.since(*at) < stale);
        // Messages that waited for a free negotiation slot.
        let waiting: Vec<Id> = self.queues.keys().filter(|p| !self.by_peer.contains_key(p)).copied().collect();
        for p in waiting {
            self.try_connect(now, p);
        }
        self.connect_wanted(now);
    }

    /// Starts the housekeeping clock on first use.
    fn arm(&mut self, now: Millis) {
        if self.next_housekeeping.is_none() {
            self.next_housekeeping = Some(now + self.cfg.housekeeping_ms);
        }
    }

    fn link_of(&self, peer: &Id) -> Option<&Link> {
        self.by_peer.get(peer).and_then(|id| self.links.get(id))
    }

    fn connecting(&self) -> usize {
        self.links.values().filter(|l| l.state == LinkState::Connecting).count()
    }

    fn connect_wanted(&mut self, now: Millis) {
        let missing: Vec<Id> = self
            .wanted
            .iter()
            .filter(|p| !self.by_peer.contains_key(p) && self.retry_at.get(p).is_none_or(|t| *t <= now))
            .copied()
            .collect();
        for p in missing {
            if self.connecting() >= self.cfg.max_connecting {
                break;
            }
            self.try_connect(now, p);
        }
    }

    /// Opens a link to `peer` through the ring if limits allow; drops its
    /// queue when the peer is in its retry pause or no slot can be had.
    fn try_connect(&mut self, now: Millis, peer: Id) {
        if self.retry_at.get(&peer).is_some_and(|t| *t > now) {
            // Its last attempt failed just now: the messages wait (bounded)
            // for the next one, which housekeeping makes once the pause is
            // over — a peer that reloads comes back within seconds.
            return;
        }
        if self.connecting() >= self.cfg.max_connecting {
            return; // stays queued; housekeeping tries again
        }
        if self.links.len() >= self.cfg.max_links && !self.evict_one() {
            self.drop_queue(&peer);
            return;
        }
        let session = self.rng.next_u64();
        self.start(now, peer, Via::Ring, None, Role::Offerer { answered: false }, session, Vec::new(), None);
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        now: Millis,
        peer: Id,
        via: Via,
        intro: Option<ServerIntro>,
        role: Role,
        session: u64,
        reply_path: Vec<Id>,
        remote_offer: Option<String>,
    ) {
        let link = self.next_link;
        self.next_link = LinkId(link.0 + 1);
        let deadline = now + self.cfg.connect_timeout_ms;
        let remote_described = remote_offer.is_some();
        self.links.insert(
            link,
            Link {
                peer,
                via,
                state: LinkState::Connecting,
                role,
                session,
                intro,
                reply_path,
                deadline,
                last_used: now,
                described: false,
                remote_described,
                pending_local: Vec::new(),
                local_candidates: 0,
                remote_candidates: 0,
                gathered: false,
                disconnected_at: None,
                restart_deadline: None,
                path: None,
                max_message_size: None,
            },
        );
        self.by_peer.insert(peer, link);
        self.stats.created += 1;
        self.out.push_back(LinkOutput::Rtc(RtcCommand::Create { link, peer, remote_offer, ice: self.ice.clone() }));
        if role == Role::Answerer {
            // Candidates that overtook their offer.
            if let Some(i) = self.early.iter().position(|(p, s, _, _)| *p == peer && *s == session) {
                for c in self.early.swap_remove(i).3 {
                    self.remote_candidate(link, c);
                }
            }
        }
    }

    fn apply_answer(&mut self, link: LinkId, sdp: String) {
        match self.links.get_mut(&link) {
            Some(l) if l.role == (Role::Offerer { answered: false }) => {
                l.role = Role::Offerer { answered: true };
                l.remote_described = true;
                self.out.push_back(LinkOutput::Rtc(RtcCommand::SetAnswer { link, sdp }));
            }
            _ => self.stats.signals_dropped += 1,
        }
    }

    /// Removes a link. `failed`: it ended by itself (closed, timed out), so an
    /// attempt that never opened pauses retries and drops its queue.
    fn end(&mut self, now: Millis, link: LinkId, failed: bool) {
        let Some(l) = self.links.remove(&link) else { return };
        if self.by_peer.get(&l.peer) == Some(&link) {
            self.by_peer.remove(&l.peer);
        }
        self.out.push_back(LinkOutput::Rtc(RtcCommand::Close { link }));
        match l.state {
            LinkState::Open => self.out.push_back(LinkOutput::Closed { peer: l.peer, lost: failed }),
            LinkState::Restarting => {
                self.out.push_back(LinkOutput::Closed { peer: l.peer, lost: failed });
                if failed {
                    self.retry_at.insert(l.peer, now + self.cfg.retry_after_ms);
                    self.drop_queue(&l.peer);
                }
            }
            LinkState::Connecting if failed => {
                self.stats.failed += 1;
                self.retry_at.insert(l.peer, now + self.cfg.retry_after_ms);
                self.drop_queue(&l.peer);
            }
            LinkState::Connecting => {}
        }
    }

    fn drop_queue(&mut self, peer: &Id) {
        if let Some(q) = self.queues.remove(peer) {
            self.stats.messages_dropped += q.len() as u64;
        }
    }

    /// Closes the least recently used open link nobody wants; false if none.
    fn evict_one(&mut self) -> bool {
        let victim = self
            .links
            .iter()
            .filter(|(_, l)| l.state == LinkState::Open && !self.wanted.contains(&l.peer))
            .min_by_key(|(_, l)| l.last_used)
            .map(|(id, _)| *id);
        match victim {
            Some(id) => {
                self.end(Millis::ZERO, id, false);
                true
            }
            None => false,
        }
    }

    fn on_envelope(&mut self, now: Millis, env: Envelope) {
        if env.from == self.me {
            self.stats.signals_dropped += 1;
            return;
        }
        let existing = self.by_peer.get(&env.from).copied();
        match env.body {
            EnvelopeBody::Offer(sdp) => {
                if let Some(id) = existing {
                    let l = &self.links[&id];
                    match l.role {
                        // Glare: the lower id's offer wins, also over a losing
                        // offer that arrives after our link opened (it was made
                        // before its author saw ours): answering it would end a
                        // working link for one that can never open.
                        Role::Offerer { .. } if self.me < env.from => return,
                        Role::Answerer if l.session == env.session => return, // duplicate
                        // Its side of our link is gone (or it lost the glare): renegotiate.
                        _ => self.end(now, id, false),
                    }
                }
                if self.links.len() >= self.cfg.max_links && !self.evict_one() {
                    self.stats.refused += 1;
                    let refuse = Envelope { to: env.from, from: self.me, session: env.session, path: env.path, body: EnvelopeBody::Refuse };
                    self.route_reply(refuse, false);
                    return;
                }
                self.retry_at.remove(&env.from);
                self.start(now, env.from, Via::Ring, None, Role::Answerer, env.session, env.path, Some(sdp));
            }
            EnvelopeBody::Answer(sdp) => match existing {
                // A ring answer, or the answer to a restart of a link first
                // negotiated through the server (`apply_answer` takes only
                // an answer the link waits for).
                Some(id)
                    if self.links.get(&id).is_some_and(|l| {
                        l.session == env.session
                            && (l.via == Via::Ring || l.role == (Role::Offerer { answered: false }) && l.state != LinkState::Connecting)
                    }) =>
                {
                    self.apply_answer(id, sdp)
                }
                _ => self.stats.signals_dropped += 1,
            },
            EnvelopeBody::Refuse => match existing {
                Some(id) if self.links.get(&id).is_some_and(|l| l.session == env.session && l.state == LinkState::Connecting) => {
                    self.fail(now, id, LinkFailure::Refused)
                }
                _ => self.stats.signals_dropped += 1,
            },
            EnvelopeBody::Unreachable => match existing {
                Some(id)
                    if self.links.get(&id).is_some_and(|l| {
                        l.session == env.session
                            && l.via == Via::Ring
                            && l.state == LinkState::Connecting
                            && l.role == (Role::Offerer { answered: false })
                    }) =>
                {
                    self.fail(now, id, LinkFailure::Unreachable)
                }
                _ => self.stats.signals_dropped += 1,
            },
            EnvelopeBody::OfferCandidate(c) => self.ring_candidate(now, env.from, env.session, c, true),
            EnvelopeBody::AnswerCandidate(c) => self.ring_candidate(now, env.from, env.session, c, false),
            EnvelopeBody::Restart(sdp) => self.restart_offered(now, env.from, env.session, env.path, sdp),
        }
    }

    /// Offers go greedily towards their target over open links: to the target
    /// itself when linked, else to the linked peer closest before it that the
    /// offer has not visited. That peer need not be closer than this one:
    /// links are needed most while the ring is wrong, and then a relay (say
    /// the node an appendage points at) may have no link closer to the
    /// target although its other links reach it. The offer never visits a
    /// peer twice (the offerer and the path are excluded), so it cannot loop,
    /// and `MAX_SIGNAL_HOPS` bounds it. Wanted peers go first: the Chord
    /// tables hold ring members, which have links of their own, while a link
    /// no table points at is often a joining newcomer's only one, a dead end
    /// that would swallow every retry. Every relay appends itself, so the
    /// answer can walk the path back.
    ///
    /// An offer that can go no further is answered with
    /// [`EnvelopeBody::Unreachable`], so its offerer fails the attempt at
    /// once ([`LinkFailure::Unreachable`]) rather than after
    /// `connect_timeout_ms`: while two rings merge, a node links to nodes of
    /// the other ring, and until the rings share links its own ring has no way
    /// there. The retry after `retry_after_ms` finds the links the merge made
    /// meanwhile.
    fn route_offer(&mut self, now: Millis, mut env: Envelope, came_from: Option<Id>) {
        let next = if self.carries(&env.to) {
            Some(env.to)
        } else {
            self.open_peers()
                .filter(|p| self.carries(p) && Some(*p) != came_from && *p != env.from && !env.path.contains(p))
                .map(|p| (!self.wanted.contains(&p), p.distance(&env.to), p))
                .min()
                .map(|(_, _, p)| p)
        };
        let back = env.path.clone();
        if came_from.is_some() {
            env.path.push(self.me);
            self.stats.forwarded += 1;
        }
        match next {
            Some(p) if env.path.len() <= MAX_SIGNAL_HOPS => self.send_envelope(p, &env),
            _ => {
                self.stats.signals_dropped += 1;
                if matches!(env.body, EnvelopeBody::Offer(_)) {
                    self.offer_stuck(now, env, back, came_from.is_none());
                }
            }
        }
    }

    /// Tells the offerer of an offer that can go no further: itself
    /// (`own`), or through the relays it passed (`back`).
    fn offer_stuck(&mut self, now: Millis, env: Envelope, back: Vec<Id>, own: bool) {
        if own {
            let link = self.by_peer.get(&env.to).copied().filter(|id| self.links.get(id).is_some_and(|l| l.session == env.session));
            if let Some(id) = link {
                self.fail(now, id, LinkFailure::Unreachable);
            }
            return;
        }
        let reply = Envelope { to: env.from, from: env.to, session: env.session, path: back, body: EnvelopeBody::Unreachable };
        self.route_reply(reply, false);
    }

    /// Answers and refusals walk the offer's path back (or jump straight to
    /// the target when linked to it).
    fn route_reply(&mut self, mut env: Envelope, relayed: bool) {
        let next = if self.carries(&env.to) { Some(env.to) } else { env.path.pop().filter(|p| self.carries(p)) };
        match next {
            Some(p) => {
                if relayed {
                    self.stats.forwarded += 1;
                }
                self.send_envelope(p, &env)
            }
            None => self.stats.signals_dropped += 1,
        }
    }

    /// Sends an envelope over the open link to `peer`. One larger than its
    /// other end accepts (an SDP of tens of KiB over a link near
    /// [`MIN_MAX_MESSAGE_SIZE`](super::MIN_MAX_MESSAGE_SIZE)) is dropped and counted like any frame: the
    /// attempt it belongs to then times out.
    fn send_envelope(&mut self, peer: Id, env: &Envelope) {
        let Some(id) = self.by_peer.get(&peer).copied() else { return };
        let bytes = env.encode();
        if self.links.get(&id).and_then(|l| l.max_message_size).is_some_and(|m| !m.fits(bytes.len())) {
            self.stats.too_large += 1;
            return;
        }
        self.out.push_back(LinkOutput::Rtc(RtcCommand::Send { link: id, bytes }));
    }
}

#[cfg(test)]
mod tests;
