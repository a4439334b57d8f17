//! [`Peer`]: everything a browser tab runs, without IO — a Chord [`Node`], its
//! [`Links`] and the bootstrap through the signaling server.
//!
//! The driver (the wasm glue in a tab, or a test's fake network) feeds it
//! what happened — server messages, peer-connection events, store results,
//! timeouts — through one entry, [`Peer::handle_input`] with an [`Input`];
//! the application's commands (`put`, `get`, `leave`, …) are methods, because
//! they answer at once ([`input`] says why). After either, the driver drains
//! [`Peer::poll_output`] and carries out the [`PeerOutput`]s, then sleeps
//! until [`Peer::poll_timeout`]:
//!
//! ```no_run
//! # use chord::id::Id;
//! # use chord::peer::{Input, Peer, PeerConfig, PeerOutput};
//! # use chord::time::Millis;
//! # fn next_input_or_wake(_: Option<Millis>) -> (Millis, Input) { unimplemented!() }
//! # fn carry_out(_: PeerOutput) {}
//! let mut peer = Peer::new(Id::from_u64(1), PeerConfig::default(), 7);
//! loop {
//!     // An input, or `Input::Timeout` once `poll_timeout` is reached.
//!     let (now, input) = next_input_or_wake(peer.poll_timeout());
//!     peer.handle_input(now, input);
//!     while let Some(out) = peer.poll_output() {
//!         carry_out(out);
//!     }
//! }
//! ```
//! The peer connects the two state machines: the node's
//! messages go out through the link manager (which opens links through the
//! ring as needed), frames from links go into the node, and the node's
//! predecessor, successors and fingers become the links the manager keeps.
//!
//! Bootstrap: the server's `welcome` either says "you are first" (the node
//! creates the ring) or names an introducer; the peer links to it through
//! the server and joins through it. Once joined it reports `member` and the
//! server relays nothing more about it.
//!
//! Several servers ([`servers`]): the peer keeps a connection to each. While
//! idle it joins through the first introduction any of them makes, and founds
//! the ring on a `welcome{first:true}` only once every other server answered
//! or failed, so a newcomer never founds a second ring while another server
//! could still introduce it. A welcome with an introduction that arrives while
//! the peer is joining or joined is a *meeting*: the peer links to the
//! introducer through that server and then asks the node to unify with it
//! ([`Node::unify_with`]), which merges two rings of the same name that formed
//! apart (a restarted server, a partition).

mod files;
pub mod input;
mod intake;
mod servers;
mod snapshot;

pub use files::{BlobCommand, Phase, PutHolders, PutReport};
pub use input::{Input, RtcInput, ServerInput};
pub use intake::{Intake, IntakeLimits, Pushed};
pub use servers::{ServerState, ServerView, BACKOFF_BASE_MS, BACKOFF_CAP_MS, MAX_SERVERS};
pub use snapshot::{
    CandidatePair, FingerRunInfo, HeldRecord, IceRestartsView, IceView, LinkFailuresView, LinkView, PeerState, VersionView,
};

use crate::config::Config;
use crate::ice::{IceConfig, IcePolicy, IceServer};
use crate::id::Id;
pub use crate::link::RtcCommand;
pub use crate::link::ServerId;
use crate::link::{LinkConfig, LinkFailure, LinkId, LinkOutput, Links, ServerIntro, Via};
use crate::message::ReqId;
use crate::node::{Event, Node, Status};
use crate::rng::SeededRng;
use crate::signal::{ClientMsg, ServerMsg, SIGNAL_VERSION};
use crate::time::Millis;
use crate::transfer::{is_transfer_frame, PullConfig, Pulls, XferMsg};
use crate::{CommandError, RequestError};
use servers::{Answer, Slot};
use std::collections::{BTreeSet, VecDeque};

/// How a peer is set up.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerConfig {
    /// The Chord node's configuration.
    pub node: Config,
    /// The link manager's configuration.
    pub links: LinkConfig,
    /// The ring to join on the signaling server.
    pub ring: String,
    /// STUN/TURN servers chosen by the application; they override the ones
    /// the signaling server sends. `None`: use the server's.
    pub ice_servers: Option<Vec<IceServer>>,
    /// Which candidates ICE may use (`Relay`: every link through TURN).
    pub ice_policy: IcePolicy,
    /// The signaling servers, by [`ServerId`] (their URLs, shown by
    /// `state()`); at most [`MAX_SERVERS`], at least one.
    pub servers: Vec<String>,
}

impl Default for PeerConfig {
    fn default() -> Self {
        PeerConfig {
            node: browser_node_config(),
            links: LinkConfig::default(),
            ring: crate::signal::DEFAULT_RING.to_string(),
            ice_servers: None,
            ice_policy: IcePolicy::All,
            servers: vec![String::new()],
        }
    }
}

/// The join failed because the ring already has a live node with this peer's id.
pub const ID_TAKEN_MESSAGE: &str = "another tab in this ring has the same id";

/// The join failed on the bootstrap link because ICE found no path.
pub const NO_PATH_MESSAGE: &str = "no network path to any ring member; a TURN server may be needed \
    (ICE found no working pair of addresses between this tab and the member the server introduced)";
/// Why a bootstrap failed when the member's browser accepts only tiny
/// data-channel messages (below `link::MIN_MAX_MESSAGE_SIZE`).
pub const MESSAGE_LIMIT_MESSAGE: &str = "the ring member's browser accepts only very small WebRTC messages, \
too small for this ring's frames; try another browser";

/// The join failed because this tab could not gather a single ICE candidate.
pub const NO_CANDIDATES_MESSAGE: &str = "this tab could not gather a single network address for WebRTC \
    (no usable network interface, or relay-only without a working TURN server)";

/// The node settings of a browser tab. A tab's peers are few (tens) and its
/// links are reliable, ordered data channels, so it can afford to look often
/// and to decide quickly: a query is sent three times, 1 s apart (a copy only
/// helps when the link was made again meanwhile), so a crashed, closed or
/// frozen tab is found dead ~3 s after it was first asked — unless it was
/// heard from meanwhile, or this tab itself was stalled; every successor,
/// finger and the predecessor is pinged each second, so several dead neighbours
/// are found at once; fingers are refreshed 4× a second. WebRTC itself notices
/// a dead peer only after ~5 s (ICE `disconnected`; `failed` after 15 s),
/// even when the tab was closed.
pub fn browser_node_config() -> Config {
    Config {
        rpc_timeout_ms: 1_000,
        rpc_timeout_max_ms: 5_000,
        rpc_attempts: 3,
        probe_ms: 1_000,
        check_predecessor_ms: 1_000,
        fix_fingers_ms: 250,
        // Ring unification (docs/unification.md): probe remembered lost peers
        // every 3 s and rescue through a finger. The core's defaults, stated
        // here because a split heals only with them.
        lost_probe_ms: 3_000,
        rescue: true,
        ..Config::default()
    }
}

/// What happened, for the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerEvent {
    /// From the node: joined, request results, neighbour changes, …
    Node(Event),
    /// A link opened.
    LinkOpened {
        /// The peer.
        peer: Id,
        /// How it was negotiated.
        via: Via,
    },
    /// An open link closed.
    LinkClosed {
        /// The peer.
        peer: Id,
    },
    /// The bootstrap failed: the server could not introduce this peer.
    BootstrapFailed {
        /// Why, in words for a user.
        reason: String,
    },
    /// Bytes of a blob put or get moved.
    Progress {
        /// The request.
        req: ReqId,
        /// Which way.
        phase: Phase,
        /// Bytes so far.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// An attempt to link to `peer` failed.
    LinkFailed {
        /// The peer.
        peer: Id,
        /// Why.
        reason: LinkFailure,
    },
    /// The open link to `peer` lost its network path; ICE is restarting.
    LinkRestarting {
        /// The peer.
        peer: Id,
    },
    /// The signaling server sent fresh ICE servers (TURN credentials); shown without credentials.
    IceServers {
        /// The servers, credentials removed.
        servers: Vec<IceServer>,
    },
    /// A holder served bytes that do not match a blob's digest.
    BadHolder {
        /// The holder.
        peer: Id,
        /// The blob's key.
        key: Id,
        /// Its name.
        name: String,
    },
}

/// Something the driver must do or know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerOutput {
    /// A peer-connection command.
    Rtc(RtcCommand),
    /// A message for one signaling server.
    Server(ServerId, ClientMsg),
    /// An event for the application.
    Event(PeerEvent),
    /// Something to do with blob bytes in the store.
    Blob(BlobCommand),
    /// Close the socket to this server (if open) and open a new one, then
    /// report it with [`ServerInput::Connecting`]: its reconnect delay is
    /// over, or the peer lost the ring and has no link left to rejoin
    /// through, so it is introduced again.
    ReconnectServer(ServerId),
}

/// Most meetings waiting for their link at once (older ones are forgotten;
/// the server opens another on the next reconnect).
const MAX_MEETINGS: usize = 8;

/// A Chord node with its links and bootstrap. See the [module docs](self).
#[derive(Debug)]
pub struct Peer {
    node: Node,
    links: Links,
    ring: String,
    /// The signaling servers, by [`ServerId`].
    servers: Vec<Slot>,
    /// The member a server introduced us to, while joining through it.
    introducer: Option<(ServerId, Id)>,
    /// Meetings whose link is being made: the introduction and the member met.
    meetings: Vec<(ServerIntro, Id)>,
    /// This peer was in the ring once: a server that closes is opened again.
    joined_once: bool,
    /// Reconnect jitter.
    rng: SeededRng,
    /// Join attempts that failed in a row since the last join or introduction.
    join_failures: u32,
    pulls: Pulls,
    files: files::Files,
    out: VecDeque<PeerOutput>,
    /// Transfer frames that did not decode.
    bad_transfer_frames: u64,
    /// Data-channel messages the driver refused because a link's receive
    /// queue was full ([`RtcInput::Overflowed`]).
    queue_full: u64,
    /// ICE servers the application chose (override the server's).
    ice_override: Option<Vec<IceServer>>,
    /// Fresh ICE server sets received from the signaling server after its welcome.
    ice_refreshes: u64,
    /// Ring neighbours whose open link closed and that the node is probing
    /// (see `node/transport.rs`): if the ring cannot reach them either, they
    /// are gone. At most one successor list and a predecessor long.
    suspects: BTreeSet<Id>,
}

impl Peer {
    /// A peer with id `id`; `seed` fixes all of its randomness.
    pub fn new(id: Id, cfg: PeerConfig, seed: u64) -> Peer {
        let node_cfg = Config { store_events: true, ..cfg.node };
        Peer {
            node: Node::new(id, node_cfg, seed),
            links: Links::new(id, cfg.links, seed.rotate_left(17) ^ 0x6c69_6e6b),
            ring: cfg.ring,
            servers: cfg.servers.into_iter().take(MAX_SERVERS).map(Slot::new).collect(),
            introducer: None,
            meetings: Vec::new(),
            joined_once: false,
            rng: SeededRng::new(seed.rotate_left(29) ^ 0x7365_7276),
            pulls: Pulls::new(PullConfig::default()),
            files: files::Files::default(),
            out: VecDeque::new(),
            bad_transfer_frames: 0,
            queue_full: 0,
            join_failures: 0,
            ice_override: cfg.ice_servers.clone(),
            ice_refreshes: 0,
            suspects: BTreeSet::new(),
        }
        .with_ice(cfg.ice_servers.unwrap_or_default(), cfg.ice_policy)
        .with_a_server()
    }

    fn with_a_server(mut self) -> Peer {
        if self.servers.is_empty() {
            self.servers.push(Slot::new(String::new()));
        }
        self
    }

    fn with_ice(mut self, servers: Vec<IceServer>, policy: IcePolicy) -> Peer {
        self.links.set_ice(IceConfig { servers, policy });
        self
    }

    /// Where the ICE servers in use come from: `"options"`, `"server"` or `"none"`.
    pub fn ice_source(&self) -> &'static str {
        match (&self.ice_override, self.links.ice().servers.is_empty()) {
            (Some(_), _) => "options",
            (None, false) => "server",
            (None, true) => "none",
        }
    }

    /// Fresh ICE server sets received from the signaling server after its welcome.
    pub fn ice_refreshes(&self) -> u64 {
        self.ice_refreshes
    }

    /// Takes the signaling server's ICE servers, unless the application chose its own.
    fn server_ice(&mut self, servers: Vec<IceServer>) {
        if self.ice_override.is_none() {
            let policy = self.links.ice().policy;
            self.links.set_ice(IceConfig { servers, policy });
        }
    }

    /// The peer's id.
    pub fn id(&self) -> Id {
        self.node.id()
    }

    /// Transfer frames received that did not decode.
    pub fn bad_transfer_frames(&self) -> u64 {
        self.bad_transfer_frames
    }

    /// Data-channel messages refused because a link's receive queue was full.
    pub fn queue_full(&self) -> u64 {
        self.queue_full
    }

    /// The Chord node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The link manager.
    pub fn links(&self) -> &Links {
        &self.links
    }

    /// The signaling connection: connected if any server is, else
    /// connecting if any is, else closed.
    pub fn server(&self) -> ServerState {
        servers::overall(&self.servers)
    }

    /// Each signaling server's state, by [`ServerId`].
    pub fn servers(&self) -> Vec<ServerView> {
        self.servers.iter().map(|s| ServerView { url: s.name.clone(), state: s.state, reconnects: s.reconnects }).collect()
    }

    /// A snapshot for the application (`peer.state()` in JavaScript).
    pub fn state(&self) -> PeerState {
        PeerState::of(self, &self.ring)
    }

    /// Next output, if any. Drain after every input.
    pub fn poll_output(&mut self) -> Option<PeerOutput> {
        self.out.pop_front()
    }

    /// When [`Input::Timeout`] must be fed next.
    pub fn poll_timeout(&mut self) -> Option<Millis> {
        let reconnect = self.servers.iter().filter_map(|s| s.reconnect_at).min();
        [self.node.poll_timeout(), self.links.poll_timeout(), self.files_timeout(), reconnect].into_iter().flatten().min()
    }

    /// The one entry for what happened ([`Input`]; commands are methods, see
    /// [`input`](self::input) for why). Drain [`Peer::poll_output`] after it.
    pub fn handle_input(&mut self, now: Millis, input: Input) {
        match input {
            Input::Timeout => {
                self.node.handle_timeout(now);
                self.links.handle_timeout(now);
                self.files_handle_timeout(now);
                self.reconnect_due(now);
            }
            Input::Server { server, input } => self.server_input(now, server, input),
            Input::Rtc { link, input } => self.rtc_input(now, link, input),
            Input::BlobRead { to, pull, index, bytes } => self.blob_read(now, to, pull, index, bytes),
            Input::BlobWritten { pull, index, result } => self.pulls.written(pull, index, result),
            Input::Restored { records, blobs } => self.restore(now, records, blobs),
        }
        self.pump(now);
    }

    /// What the driver reports about the socket to `server`.
    fn server_input(&mut self, now: Millis, server: ServerId, input: ServerInput) {
        let Some(slot) = self.servers.get_mut(server.0 as usize) else { return };
        match input {
            ServerInput::Connecting => {
                slot.state = ServerState::Connecting;
                slot.reconnect_at = None;
            }
            ServerInput::Opened => {
                slot.state = ServerState::Connected;
                // A member says so at once: the server registers it and may
                // open a meeting with another member.
                let member = self.node.status() == Status::Joined;
                let hello = ClientMsg::Hello { version: SIGNAL_VERSION, ring: self.ring.clone(), id: self.node.id(), member };
                self.out.push_back(PeerOutput::Server(server, hello));
            }
            ServerInput::Closed => self.server_closed(now, server),
            ServerInput::Message(msg) => self.server_message(now, server, msg),
        }
    }

    /// A socket closed. The ring keeps working; a member opens it again
    /// after a backoff; a peer that has not joined counts it as failed.
    fn server_closed(&mut self, now: Millis, server: ServerId) {
        let i = server.0 as usize;
        let was = self.servers[i].state;
        self.servers[i].state = ServerState::Closed;
        if self.in_ring() {
            self.servers[i].schedule_reconnect(now, &mut self.rng);
        }
        if was == ServerState::Closed || self.node.status() != Status::Idle {
            return;
        }
        self.servers[i].answer = Answer::Failed;
        if self.introducer.is_some_and(|(s, _)| s == server) && !self.joining_through_link() {
            self.introducer = None;
        }
        self.bootstrap_next(now, "the signaling server closed the connection before this tab joined the ring");
    }

    /// A message from `server` (already validated by the driver).
    fn server_message(&mut self, now: Millis, server: ServerId, msg: ServerMsg) {
        let i = server.0 as usize;
        let idle = self.node.status() == Status::Idle;
        if matches!(msg, ServerMsg::Welcome { .. }) {
            self.servers[i].failures = 0;
        }
        match msg {
            ServerMsg::Welcome { first: true, ice_servers, .. } => {
                self.server_ice(ice_servers);
                if idle {
                    self.servers[i].answer = Answer::First;
                    self.bootstrap_next(now, "");
                }
                // A member: its hello said so; nothing to do.
            }
            ServerMsg::Welcome { first: false, intro: Some(intro), introducer: Some(via), ice_servers } if via != self.id() => {
                self.server_ice(ice_servers);
                let intro = ServerIntro { server, intro };
                if idle {
                    self.servers[i].answer = Answer::Intro(intro, via);
                    // The first introduction is used (or a server's later one
                    // that replaces its own); others wait as fallbacks.
                    if self.introducer.is_none_or(|(s, _)| s == server) {
                        self.introducer = Some((server, via));
                        self.links.connect_via_server(now, via, intro);
                    }
                } else if self.node.status() != Status::Left {
                    self.meet(now, intro, via);
                }
            }
            ServerMsg::Welcome { ice_servers, .. } => {
                // No introduction: for a member, nobody to meet.
                self.server_ice(ice_servers);
                if idle {
                    self.servers[i].answer = Answer::Failed;
                    self.bootstrap_next(now, "the signaling server introduced this tab to nobody");
                }
            }
            ServerMsg::IceServers { ice_servers } => {
                self.ice_refreshes += 1;
                let servers = ice_servers.iter().map(IceServer::without_credentials).collect();
                self.server_ice(ice_servers);
                self.out.push_back(PeerOutput::Event(PeerEvent::IceServers { servers }));
            }
            ServerMsg::Introduce { .. } => {} // the newcomer's offer follows
            ServerMsg::Signal { intro, from, payload } => self.links.server_signal(now, ServerIntro { server, intro }, from, payload),
            ServerMsg::IntroFailed { intro, reason } => {
                let failed = ServerIntro { server, intro };
                if let Some(k) = self.meetings.iter().position(|&(x, _)| x == failed) {
                    self.meetings.remove(k);
                    self.meeting_failed(now, failed);
                }
                if idle && matches!(self.servers[i].answer, Answer::Intro(x, _) if x == failed) {
                    self.servers[i].answer = Answer::Failed;
                    if self.introducer.is_some_and(|(s, _)| s == server) && !self.joining_through_link() {
                        self.introducer = None;
                    }
                    self.bootstrap_next(now, &format!("no member of the ring answered the introduction ({reason})"));
                }
            }
            // The id is in use in this ring (the same tab id open twice): no
            // server would let it in, so the join fails as when the ring
            // itself says so, and the page picks another id.
            ServerMsg::Error { code: Some(code), .. } if idle && code == crate::signal::ERROR_ID_TAKEN => {
                self.servers[i].answer = Answer::Failed;
                self.fail_bootstrap(ID_TAKEN_MESSAGE);
            }
            ServerMsg::Error { reason, .. } if idle => {
                self.servers[i].answer = Answer::Failed;
                self.bootstrap_next(now, &format!("the signaling server refused this tab: {reason}"))
            }
            ServerMsg::Error { .. } => {}
        }
    }

    /// The bootstrap goes on after a server answered or failed: through
    /// another server's introduction if the one in use is gone; founding the
    /// ring once no server can introduce this peer any more and one said
    /// `first`; failing once every server failed.
    fn bootstrap_next(&mut self, now: Millis, reason: &str) {
        if self.node.status() != Status::Idle || self.introducer.is_some() {
            return;
        }
        let offered = servers::ids(&self.servers).zip(&self.servers).find_map(|(s, x)| match x.answer {
            Answer::Intro(intro, via) => Some((s, intro, via)),
            _ => None,
        });
        if let Some((s, intro, via)) = offered {
            self.introducer = Some((s, via));
            self.links.connect_via_server(now, via, intro);
        } else if self.servers.iter().any(|x| x.answer == Answer::Waiting) {
            // Another server may still introduce this peer (say it holds the
            // hello during its grace period): founding now could split the ring.
        } else if self.servers.iter().any(|x| x.answer == Answer::First) {
            // Cannot fail: the node is idle.
            let _ = self.node.create(now);
        } else {
            self.fail_bootstrap(reason);
        }
    }

    /// A server introduced this peer, already joining or joined, to `via`:
    /// link to it through that server (unless linked already), then ask the
    /// node to unify with it — it may be in another ring of the same name.
    fn meet(&mut self, now: Millis, intro: ServerIntro, via: Id) {
        if self.links.is_open(&via) {
            self.node.unify_with(now, via);
            return;
        }
        self.forget_meeting(&via);
        if self.meetings.len() >= MAX_MEETINGS {
            self.meetings.remove(0);
        }
        self.meetings.push((intro, via));
        self.links.connect_via_server(now, via, intro);
    }

    /// Forgets the meeting with `peer`; the introduction it came with, if there was one.
    fn forget_meeting(&mut self, peer: &Id) -> Option<ServerIntro> {
        let k = self.meetings.iter().position(|(_, p)| p == peer);
        k.map(|k| self.meetings.remove(k).0)
    }

    /// A meeting's link could not be made (say it timed out): the rings it
    /// was to join may still be apart, and nothing else would ever meet them
    /// again. Open that server again after a delay (1 s, doubling to 30 s per
    /// meeting that failed in a row): it opens a new meeting.
    fn meeting_failed(&mut self, now: Millis, intro: ServerIntro) {
        if let Some(slot) = self.servers.get_mut(intro.server.0 as usize) {
            slot.schedule_meeting_retry(now, &mut self.rng);
        }
    }

    /// Whether a server that closes should be opened again: this peer is in
    /// the ring, or was and is finding its way back.
    fn in_ring(&self) -> bool {
        match self.node.status() {
            Status::Joined | Status::Joining => true,
            Status::Idle => self.joined_once,
            Status::Left => false,
        }
    }

    /// Opens the sockets whose reconnect delay is over.
    fn reconnect_due(&mut self, now: Millis) {
        let in_ring = self.in_ring();
        for (s, slot) in servers::ids(&self.servers).zip(self.servers.iter_mut()) {
            if slot.reconnect_at.is_some_and(|t| t <= now) {
                slot.reconnect_at = None;
                if in_ring {
                    slot.reconnects += 1;
                    slot.state = ServerState::Connecting;
                    self.out.push_back(PeerOutput::ReconnectServer(s));
                }
            }
        }
    }

    /// Starts a new bootstrap: every connected server is opened afresh and
    /// introduces this peer again. False when none is connected.
    fn rebootstrap(&mut self) -> bool {
        let mut asked = false;
        for (s, slot) in servers::ids(&self.servers).zip(self.servers.iter_mut()) {
            if slot.state == ServerState::Connected {
                slot.state = ServerState::Connecting;
                slot.answer = Answer::Waiting;
                self.out.push_back(PeerOutput::ReconnectServer(s));
                asked = true;
            } else if slot.state == ServerState::Closed {
                slot.answer = Answer::Failed;
            }
        }
        asked
    }

    /// What a peer connection reported.
    fn rtc_input(&mut self, now: Millis, link: LinkId, input: RtcInput) {
        match input {
            RtcInput::Described(sdp) => self.links.described(now, link, sdp),
            RtcInput::Candidate(c) => self.links.local_candidate(now, link, c),
            RtcInput::Opened(max) => self.links.opened(now, link, max),
            RtcInput::Closed => self.links.closed(now, link),
            RtcInput::Overflowed(refused) => {
                self.queue_full = self.queue_full.saturating_add(refused);
                self.links.closed(now, link);
            }
            RtcInput::Message(bytes) => self.links.received(now, link, bytes),
            RtcInput::Connectivity(c) => self.links.connectivity(now, link, c),
            RtcInput::Path(p) => self.links.path(link, p),
        }
    }

    /// Stores `value` (small: it rides the lookup path) under the SHA-1 of
    /// `name`; answered by a [`Event::PutDone`] event. Large values go
    /// through [`Peer::put_blob`].
    pub fn put(&mut self, now: Millis, name: String, value: Vec<u8>) -> Result<ReqId, CommandError> {
        let r = self.node.put_named(now, name, value);
        self.pump(now);
        r
    }

    /// Fetches the value under `key`; answered by a [`Event::GetDone`] event.
    pub fn get(&mut self, now: Millis, key: Id) -> Result<ReqId, CommandError> {
        let r = self.node.get(now, key);
        self.pump(now);
        r
    }

    /// Looks up the successor of `target`; answered by [`Event::LookupDone`].
    pub fn lookup(&mut self, now: Millis, target: Id) -> Result<ReqId, CommandError> {
        let r = self.node.lookup(now, target);
        self.pump(now);
        r
    }

    /// Closes the link to `peer`; it is opened again through the ring when needed.
    pub fn close_link(&mut self, now: Millis, peer: &Id) -> bool {
        let had = self.links.close_peer(now, peer);
        self.pump(now);
        had
    }

    /// Leaves gracefully: hands the records over and says goodbye to the
    /// server. The links stay open so the hand-over can be sent; call
    /// [`Peer::shutdown`] once the driver has flushed them.
    pub fn leave(&mut self, now: Millis) -> Result<(), CommandError> {
        let r = self.node.leave(now);
        self.pump(now);
        for (s, slot) in servers::ids(&self.servers).zip(self.servers.iter_mut()) {
            slot.reconnect_at = None;
            if slot.state == ServerState::Connected {
                self.out.push_back(PeerOutput::Server(s, ClientMsg::Bye));
            }
        }
        r
    }

    /// Closes every link.
    pub fn shutdown(&mut self, now: Millis) {
        self.links.close_all(now);
        self.pump(now);
    }

    fn joining_through_link(&self) -> bool {
        self.introducer.is_some_and(|(_, p)| self.links.is_open(&p))
    }

    fn fail_bootstrap(&mut self, reason: &str) {
        self.introducer = None;
        self.out.push_back(PeerOutput::Event(PeerEvent::BootstrapFailed { reason: reason.to_string() }));
    }

    /// Moves outputs between node and links until both are quiet, then
    /// brings the wanted links in line with the node's tables.
    fn pump(&mut self, now: Millis) {
        loop {
            // The tables first: a message to a new neighbour then finds it
            // wanted, and does not spend the budget of other links.
            let mut busy = self.sync_wanted(now);
            while let Some(o) = self.node.poll_output() {
                busy = true;
                match o {
                    crate::Output::Send { to, msg } => match msg.encode() {
                        // Refused when larger than the link accepts: counted, and lost like any message.
                        Ok(bytes) => {
                            let _ = self.links.send(now, to, bytes);
                        }
                        // The node only builds messages within the limits.
                        Err(_) => continue,
                    },
                    crate::Output::Event(ev) => self.on_node_event(now, ev),
                }
            }
            while let Some(o) = self.links.poll_output() {
                busy = true;
                self.on_link_output(now, o);
            }
            while let Some(o) = self.pulls.poll_output() {
                busy = true;
                self.on_pull_output(now, o);
            }
            if !busy {
                break;
            }
        }
    }

    fn on_node_event(&mut self, now: Millis, ev: Event) {
        let Some(ev) = self.on_blob_event(now, ev) else { return };
        match &ev {
            Event::Joined { .. } => {
                let through = self.introducer.take().map(|(s, _)| s);
                self.join_failures = 0;
                self.joined_once = true;
                self.take_back_restored(now);
                for (s, slot) in servers::ids(&self.servers).zip(self.servers.iter_mut()) {
                    let fallback = matches!(slot.answer, Answer::Intro(..)) && Some(s) != through;
                    slot.answer = Answer::Waiting;
                    match slot.state {
                        // A server whose introduction was not used may know
                        // members of another ring of this name: open it again
                        // as a member, and it opens a meeting.
                        ServerState::Connected if fallback => {
                            slot.state = ServerState::Connecting;
                            self.out.push_back(PeerOutput::ReconnectServer(s));
                        }
                        ServerState::Connected => self.out.push_back(PeerOutput::Server(s, ClientMsg::Member)),
                        ServerState::Connecting => {}
                        // It failed while this peer joined: try it again.
                        ServerState::Closed => slot.schedule_reconnect(now, &mut self.rng),
                    }
                }
            }
            Event::LostRing => {
                // Rejoin through any member still linked (records are kept)
                // that the node did not just find silent (a link to a dead
                // peer stays open until ICE gives up on it); else be
                // introduced again; with no server either, this tab is alone
                // and carries on as a ring of one.
                let linked = self.links.open_peers().find(|p| !self.node.is_gone(p));
                if let Some(via) = linked {
                    let _ = self.node.join(now, via);
                } else if !self.rebootstrap() {
                    let _ = self.node.create(now);
                }
            }
            Event::JoinFailed { error: RequestError::IdTaken } => {
                self.fail_bootstrap(ID_TAKEN_MESSAGE);
            }
            Event::JoinFailed { .. } => {
                // The successor the lookup found did not answer (say its link
                // could not be opened yet): the node is idle again and nothing
                // else would ever retry. Join again through the introducer or
                // any other linked peer; else be introduced again.
                // After two failures in a row the linked peers are not a way in
                // (say two tabs cut off together, each joining through the
                // other): be introduced again by the server.
                self.join_failures += 1;
                let stuck = self.join_failures >= 2 && self.server() == ServerState::Connected;
                let via = self.introducer.map(|(_, p)| p).filter(|p| self.links.is_open(p)).or_else(|| self.links.open_peers().next());
                if let Some(via) = via.filter(|_| !stuck) {
                    let _ = self.node.join(now, via);
                } else if self.rebootstrap() {
                    self.join_failures = 0;
                    self.introducer = None;
                } else {
                    self.fail_bootstrap("no member of the ring could be reached to join through");
                }
            }
            _ => {}
        }
        self.out.push_back(PeerOutput::Event(PeerEvent::Node(ev)));
    }

    fn on_link_output(&mut self, now: Millis, o: LinkOutput) {
        let out = match o {
            LinkOutput::Deliver { from, bytes } if is_transfer_frame(&bytes) => {
                // Undecodable transfer frames are counted and dropped; the puller's stall timer covers them.
                match XferMsg::decode(&bytes) {
                    Ok(msg) => {
                        // A peer busy sending chunks is alive even if its Chord answers queue behind them.
                        self.node.heard_from(now, from);
                        self.on_xfer(now, from, msg);
                    }
                    Err(_) => self.bad_transfer_frames += 1,
                }
                return;
            }
            LinkOutput::Deliver { from, bytes } => {
                // Undecodable frames are counted by the node and dropped.
                let _ = self.node.handle_bytes(now, from, &bytes);
                return;
            }
            LinkOutput::Opened { peer, via } => {
                self.suspects.remove(&peer);
                self.files_reachable(&peer);
                if self.introducer.is_some_and(|(_, p)| p == peer) && self.node.status() == Status::Idle {
                    let _ = self.node.join(now, peer);
                }
                if let Some(intro) = self.forget_meeting(&peer) {
                    if let Some(slot) = self.servers.get_mut(intro.server.0 as usize) {
                        slot.meeting_failures = 0;
                    }
                    self.node.unify_with(now, peer);
                }
                PeerOutput::Event(PeerEvent::LinkOpened { peer, via })
            }
            LinkOutput::Closed { peer, lost } => {
                // A closed or crashed tab closes its channels at once: probe a
                // neighbour now rather than wait for its pings to go unanswered.
                // (A link this side closed says nothing about the peer.)
                if lost && self.node.link_lost(now, peer) && self.suspects.len() <= self.node.config().successors {
                    self.suspects.insert(peer);
                }
                PeerOutput::Event(PeerEvent::LinkClosed { peer })
            }
            LinkOutput::Restarting { peer } => {
                // Another holder serves a get's bytes sooner than a restart that may fail.
                self.pulls.unreachable(now, peer);
                PeerOutput::Event(PeerEvent::LinkRestarting { peer })
            }
            LinkOutput::Failed { peer, via, reason } => {
                self.out.push_back(PeerOutput::Event(PeerEvent::LinkFailed { peer, reason }));
                // A neighbour whose link closed, and that no member of the ring
                // can reach any more, is gone (other failures leave it to the probe).
                if self.suspects.remove(&peer) && reason == LinkFailure::Unreachable {
                    self.node.unreachable(now, peer);
                }
                // Bytes are pulled over a direct link: a holder that cannot
                // be linked now is left for the next one, and put last in
                // later gets for a while (Chord messages still reach it
                // through other peers).
                self.pulls.unreachable(now, peer);
                self.files_unreachable(now, peer);
                if let Some(intro) = self.forget_meeting(&peer) {
                    self.meeting_failed(now, intro);
                }
                // The bootstrap link failed on the network, not on the member:
                // every member is as far away, so say so now rather than wait.
                let bootstrap = via == Via::Server && self.introducer.is_some_and(|(_, p)| p == peer) && self.node.status() == Status::Idle;
                match reason {
                    LinkFailure::NoPath if bootstrap => self.fail_bootstrap(NO_PATH_MESSAGE),
                    LinkFailure::NoCandidates if bootstrap => self.fail_bootstrap(NO_CANDIDATES_MESSAGE),
                    LinkFailure::MessageLimit if bootstrap => self.fail_bootstrap(MESSAGE_LIMIT_MESSAGE),
                    _ => {}
                }
                return;
            }
            LinkOutput::ToServer { intro, payload } => PeerOutput::Server(intro.server, ClientMsg::Signal { intro: intro.intro, payload }),
            LinkOutput::Rtc(cmd) => PeerOutput::Rtc(cmd),
        };
        self.out.push_back(out);
    }

    /// Tells the link manager which peers the Chord tables point at. Returns
    /// whether that changed anything (its output is drained by `pump`).
    fn sync_wanted(&mut self, now: Millis) -> bool {
        if self.node.status() != Status::Joined {
            return false;
        }
        let mut wanted: BTreeSet<Id> = self.node.successors().iter().copied().collect();
        wanted.extend(self.node.predecessor());
        wanted.extend(self.node.fingers().runs().iter().map(|r| r.node));
        self.links.want(now, wanted)
    }
}
