// The fake world of tests/peer_ring.rs and tests/peer_files.rs (see peer_ring.rs's
// docs), shared with `include!`: both are separate test crates.

use chord::id::Id;
use chord::link::frame::LINK_FRAME_TAG;
use chord::link::{Envelope, EnvelopeBody, LinkId, LinkState, MaxMessageSize, Via};
use chord::message::ReqId;
use chord::peer::{BlobCommand, Input, RtcInput, ServerId, ServerInput};
use chord::transfer::{PullId, Sink};
use chord::rng::SeededRng;
use chord::signal::{ClientMsg, IntroId, ServerMsg, SignalPayload};
use chord::sim::correct::{problems, Problem, View};
use chord::sim::ideal::IdealRing;
use chord::{Config, Event, Millis, Peer, PeerConfig, PeerEvent, PeerOutput, Record, RtcCommand};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

// ---------------------------------------------------------------- the world

/// Something that happens to one peer (or the server) at a point in virtual time.
#[derive(Debug)]
enum Ev {
    /// Peer, its server (the peer's `ServerId`).
    SocketOpened(usize, ServerId),
    SocketClosed(usize, ServerId),
    FromServer(usize, ServerId, ServerMsg),
    ToServer(usize, ServerId, ClientMsg),
    /// A server's grace period (by world index) is over.
    #[allow(dead_code)] // made by peer_ring.rs only
    GraceOver(usize),
    Described(usize, LinkId, String),
    /// A trickled local candidate (`None`: gathering is complete).
    LocalCandidate(usize, LinkId, Option<chord::ice::Candidate>),
    Opened(usize, LinkId),
    Received(usize, LinkId, Vec<u8>),
    Closed(usize, LinkId),
    /// The fake blob store finished a read or a write.
    BlobRead(usize, Id, PullId, u32, Option<Vec<u8>>),
    BlobWritten(usize, PullId, u32, Result<(), String>),
}

/// An ordered channel: events on one channel arrive in the order they were sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Chan {
    Down(usize, ServerId),
    Up(usize, ServerId),
    Link(usize, LinkId),
    Disk(usize),
}

struct Due {
    at: Millis,
    seq: u64,
    ev: Ev,
}
impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    // Reversed: BinaryHeap is a max-heap.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// One end of a fake `RTCPeerConnection`.
#[derive(Debug)]
struct End {
    /// The peer the link manager created it for.
    for_peer: Id,
    /// Answerers: the (peer, link) named in the offer, and whether it had a candidate.
    offer_of: Option<((usize, LinkId), bool)>,
    /// The other end, once paired.
    remote: Option<(usize, LinkId)>,
    open: bool,
    /// Trickle: a usable (loopback) candidate of the other side was added.
    got_remote: bool,
    /// Trickle: the opening is scheduled.
    opening: bool,
}

/// A fake signaling server (see `signaling/README.md`).
#[derive(Default)]
struct Server {
    dead: bool,
    sockets: BTreeSet<usize>,
    members: Vec<usize>,
    /// Until then (a grace period after a restart) a newcomer to a ring
    /// without members is held, not made first.
    grace_until: Option<Millis>,
    /// Newcomers held during the grace period.
    held: Vec<usize>,
    /// Hellos that said `member: true`.
    member_hellos: u64,
    /// Meetings opened (introductions of a member to a member).
    meetings: Vec<(usize, usize)>,
    /// Live introductions: newcomer, member.
    intros: BTreeMap<IntroId, (usize, usize)>,
    /// Every introduction ever made: newcomer, member.
    pairs: Vec<(usize, usize)>,
    next_intro: IntroId,
    /// Signal messages relayed.
    relayed: u64,
}

struct Tab {
    id: Id,
    peer: Peer,
    alive: bool,
    /// Should be a ring member (joined, neither crashed nor left).
    expected: bool,
    events: Vec<(Millis, PeerEvent)>,
    disk: Disk,
}

/// A tab's fake blob store (IndexedDB in a browser).
#[derive(Default)]
struct Disk {
    /// Chunks by digest and index.
    chunks: BTreeMap<Id, BTreeMap<u32, Vec<u8>>>,
    /// Blobs marked complete.
    complete: BTreeSet<Id>,
    /// What gets have received, by request.
    caller: BTreeMap<ReqId, BTreeMap<u32, Vec<u8>>>,
    /// Refuse writes (a full quota).
    full: bool,
    /// Chunks written into the store (not to callers).
    stored_chunks: u64,
    /// Records as the peer reported them (`Stored` / `Dropped`), as a tab persists them.
    records: BTreeMap<Id, Record>,
}

#[allow(dead_code)] // used by peer_files.rs only
impl Disk {
    /// The bytes of a complete blob.
    fn blob(&self, digest: &Id) -> Option<Vec<u8>> {
        self.complete.contains(digest).then(|| self.chunks.get(digest).map(|c| c.values().flatten().copied().collect()))?
    }
}

struct World {
    seed: u64,
    rng: SeededRng,
    now: Millis,
    seq: u64,
    queue: BinaryHeap<Due>,
    fifo: BTreeMap<Chan, Millis>,
    cfg: PeerConfig,
    tabs: Vec<Tab>,
    rtc: BTreeMap<(usize, LinkId), End>,
    /// The signaling servers (`cfg.servers` names them).
    servers: Vec<Server>,
    /// The world's servers a tab was given, by its `ServerId`, for tabs not given all of them.
    given: BTreeMap<usize, Vec<usize>>,
    /// One-way latency of every hop, ms.
    latency: (u64, u64),
    /// How long ICE gathering takes before `RtcInput::Described`, ms.
    describe: (u64, u64),
    /// Trickle ICE: descriptions carry no candidate; each follows on its own,
    /// and a link opens once both sides added one of the other's.
    trickle: bool,
    /// Candidate lines inspected on their way to another party.
    candidates_seen: u64,
    /// Non-loopback candidates that crossed the network.
    leaked: Vec<String>,
    /// Offers made while the other side had its own offer to us unanswered.
    glares: u64,
    /// Offers that reached their target while it had an open link to the offerer.
    late_offers: u64,
    /// This peer's own offers take `SLOW_OFFER_MS` longer on their first hop.
    slow_offerer: Option<usize>,
    /// Messages lost on a link whose far end had closed.
    lost: u64,
    /// Driver-level protocol errors (should never happen).
    anomalies: Vec<String>,
    /// What every data channel's other end accepts (`RTCSctpTransport.maxMessageSize`);
    /// a larger message is an anomaly (a browser throws).
    max_message_size: MaxMessageSize,
    /// The largest message sent on any link.
    largest_sent: usize,
    /// Pairs of tabs (lower index first) between which no link ever opens
    /// (no network path: their connections time out).
    no_path: BTreeSet<(usize, usize)>,
}

/// Extra delay of a slow offerer's offers (see `World::slow_offerer`).
const SLOW_OFFER_MS: u64 = 1_000;

fn peer_config() -> PeerConfig {
    let mut cfg = PeerConfig::default();
    cfg.links.loopback_only = true;
    cfg
}

impl World {
    fn new(seed: u64, cfg: PeerConfig) -> World {
        let cfg_servers = cfg.servers.len().max(1);
        World {
            seed,
            rng: SeededRng::new(seed),
            now: Millis::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            fifo: BTreeMap::new(),
            cfg,
            tabs: Vec::new(),
            rtc: BTreeMap::new(),
            servers: (0..cfg_servers).map(|_| Server::default()).collect(),
            given: BTreeMap::new(),
            latency: env_range("PEER_RING_LATENCY").map_or((5, 30), |r| (r.start, r.end)),
            describe: (5, 30),
            trickle: false,
            candidates_seen: 0,
            leaked: Vec::new(),
            glares: 0,
            late_offers: 0,
            slow_offerer: None,
            lost: 0,
            anomalies: Vec::new(),
            max_message_size: MaxMessageSize::CHROMIUM,
            largest_sent: 0,
            no_path: BTreeSet::new(),
        }
    }

    fn id(&self, p: usize) -> Id {
        self.tabs[p].id
    }

    fn index_of(&self, id: &Id) -> Option<usize> {
        self.tabs.iter().position(|t| t.id == *id)
    }

    /// A new tab given every server, not connected yet.
    fn add_peer(&mut self) -> usize {
        let all: Vec<usize> = (0..self.servers.len()).collect();
        self.add_peer_with(&all)
    }

    #[allow(dead_code)] // used by peer_ring.rs only
    /// A new tab given these servers (world indices, in its order), not connected yet.
    fn add_peer_with(&mut self, servers: &[usize]) -> usize {
        let id = Id::from_words(|| self.rng.next_u64());
        let cfg = PeerConfig { servers: servers.iter().map(|s| format!("s{s}")).collect(), ..self.cfg.clone() };
        let peer = Peer::new(id, cfg, self.rng.next_u64());
        self.tabs.push(Tab { id, peer, alive: true, expected: false, events: Vec::new(), disk: Disk::default() });
        self.given.insert(self.tabs.len() - 1, servers.to_vec());
        self.tabs.len() - 1
    }

    /// The world's servers `p` was given, by its `ServerId`.
    fn servers_of(&self, p: usize) -> Vec<usize> {
        self.given.get(&p).cloned().unwrap_or_else(|| (0..self.servers.len()).collect())
    }

    /// Opens each of `p`'s signaling sockets (refused by a dead server).
    fn connect(&mut self, p: usize) {
        let given = self.servers_of(p);
        self.tabs[p].expected = given.iter().any(|&s| !self.servers[s].dead);
        for s in 0..given.len() {
            let s = ServerId(s as u8);
            self.input(p, |peer, now| peer.handle_input(now, Input::Server { server: s, input: ServerInput::Connecting }));
            self.open_socket(p, s);
        }
    }

    /// The world index of `p`'s server `s`.
    fn server_of(&self, p: usize, s: ServerId) -> usize {
        self.servers_of(p)[s.0 as usize]
    }

    /// `p`'s `ServerId` for world server `w`.
    fn sid(&self, p: usize, w: usize) -> Option<ServerId> {
        self.servers_of(p).iter().position(|&x| x == w).map(|i| ServerId(i as u8))
    }

    fn open_socket(&mut self, p: usize, s: ServerId) {
        let d = self.lat();
        let w = self.server_of(p, s);
        if self.servers[w].dead {
            self.schedule(Chan::Down(p, s), d, Ev::SocketClosed(p, s));
        } else {
            self.servers[w].sockets.insert(p);
            self.schedule(Chan::Down(p, s), d, Ev::SocketOpened(p, s));
        }
    }

    /// Adds and connects `n` tabs, `gap_ms` apart.
    fn join(&mut self, n: usize, gap_ms: u64) {
        for _ in 0..n {
            let p = self.add_peer();
            self.connect(p);
            self.run_for(gap_ms);
        }
    }

    fn lat(&mut self) -> u64 {
        let (lo, hi) = self.latency;
        lo + self.rng.below(hi - lo + 1)
    }

    fn schedule(&mut self, chan: Chan, delay: u64, ev: Ev) {
        let at = (self.now + delay).max(self.fifo.get(&chan).copied().unwrap_or(Millis::ZERO));
        self.fifo.insert(chan, at);
        self.seq += 1;
        self.queue.push(Due { at, seq: self.seq, ev });
    }

    fn next_timer(&mut self) -> Option<Millis> {
        self.tabs.iter_mut().filter(|t| t.alive).filter_map(|t| t.peer.poll_timeout()).min()
    }

    fn next_time(&mut self) -> Option<Millis> {
        [self.queue.peek().map(|d| d.at), self.next_timer()].into_iter().flatten().min()
    }

    /// Runs the earliest event, or the timers due at the earliest wake-up.
    fn step(&mut self) -> bool {
        let ev_at = self.queue.peek().map(|d| d.at);
        let timer_at = self.next_timer();
        match (ev_at, timer_at) {
            (Some(e), t) if t.is_none_or(|t| e <= t) => {
                let due = self.queue.pop().expect("peeked");
                self.now = self.now.max(due.at);
                self.handle(due.ev);
            }
            (_, Some(t)) => {
                self.now = self.now.max(t);
                for p in 0..self.tabs.len() {
                    if self.tabs[p].alive && self.tabs[p].peer.poll_timeout().is_some_and(|w| w <= self.now) {
                        self.input(p, |peer, now| peer.handle_input(now, Input::Timeout));
                    }
                }
            }
            _ => return false,
        }
        true
    }

    /// Runs every event and timer up to `now + ms`.
    fn run_for(&mut self, ms: u64) {
        let end = self.now + ms;
        self.run_until(ms, |w| w.now >= end);
        self.now = self.now.max(end);
    }

    /// Runs until `cond` holds (checked every 10 ms of virtual time), at most
    /// `limit_ms`. Returns whether it held.
    fn run_until(&mut self, limit_ms: u64, mut cond: impl FnMut(&mut World) -> bool) -> bool {
        let deadline = self.now + limit_ms;
        let (mut checked, mut steps_now) = (self.now, 0);
        if cond(self) {
            return true;
        }
        loop {
            match self.next_time() {
                Some(t) if t <= deadline => {
                    let before = self.now;
                    self.step();
                    steps_now = if self.now == before { steps_now + 1 } else { 0 };
                    assert!(steps_now < 1_000_000, "seed {}: livelock at {} ms", self.seed, self.now.0);
                }
                _ => {
                    self.now = deadline;
                    return cond(self);
                }
            }
            if self.now.since(checked) >= 10 {
                checked = self.now;
                if cond(self) {
                    return true;
                }
            }
        }
    }

    /// Feeds one input to a live peer and carries out what it says.
    fn input<R>(&mut self, p: usize, f: impl FnOnce(&mut Peer, Millis) -> R) -> Option<R> {
        if !self.tabs[p].alive {
            return None;
        }
        let r = f(&mut self.tabs[p].peer, self.now);
        self.drain(p);
        Some(r)
    }

    /// A command from the test to a live peer.
    fn cmd<R>(&mut self, p: usize, f: impl FnOnce(&mut Peer, Millis) -> R) -> R {
        let seed = self.seed;
        self.input(p, f).unwrap_or_else(|| panic!("seed {seed}: peer {p} is not alive"))
    }

    fn drain(&mut self, p: usize) {
        while let Some(out) = self.tabs[p].peer.poll_output() {
            match out {
                PeerOutput::Rtc(cmd) => self.rtc_command(p, cmd),
                PeerOutput::Server(s, msg) => {
                    if let ClientMsg::Signal { payload, .. } = &msg {
                        match payload {
                            SignalPayload::Offer { sdp } | SignalPayload::Answer { sdp } => self.inspect(&sdp.clone()),
                            SignalPayload::Ice { candidate, .. } => self.inspect(&format!("a={candidate}")),
                        }
                    }
                    let d = self.lat();
                    self.schedule(Chan::Up(p, s), d, Ev::ToServer(p, s, msg));
                }
                PeerOutput::Event(e) => {
                    let disk = &mut self.tabs[p].disk;
                    match &e {
                        PeerEvent::Node(Event::Stored { record, .. }) => {
                            disk.records.insert(record.key, record.clone());
                        }
                        PeerEvent::Node(Event::Dropped { key, .. }) => {
                            disk.records.remove(key);
                        }
                        _ => {}
                    }
                    self.tabs[p].events.push((self.now, e))
                }
                PeerOutput::ReconnectServer(s) => {
                    let w = self.server_of(p, s);
                    self.server_forget(w, p);
                    self.tabs[p].peer.handle_input(self.now, Input::Server { server: s, input: ServerInput::Connecting });
                    self.open_socket(p, s);
                }
                PeerOutput::Blob(cmd) => self.disk_command(p, cmd),
            }
        }
    }

    /// Carries out a blob command on `p`'s fake store; reads and writes answer 1 ms later.
    fn disk_command(&mut self, p: usize, cmd: BlobCommand) {
        let disk = &mut self.tabs[p].disk;
        match cmd {
            BlobCommand::Read { to, pull, digest, index } => {
                let bytes = disk.chunks.get(&digest).and_then(|c| c.get(&index)).cloned();
                self.schedule(Chan::Disk(p), 1, Ev::BlobRead(p, to, pull, index, bytes));
            }
            BlobCommand::Write { pull, sink, digest, index, bytes } => {
                let result = if disk.full && sink == Sink::Store {
                    Err("the storage quota is full".to_string())
                } else {
                    match sink {
                        Sink::Store => {
                            disk.stored_chunks += 1;
                            disk.chunks.entry(digest).or_default().insert(index, bytes);
                        }
                        Sink::Caller(req) => {
                            disk.caller.entry(req).or_default().insert(index, bytes);
                        }
                    }
                    Ok(())
                };
                self.schedule(Chan::Disk(p), 1, Ev::BlobWritten(p, pull, index, result));
            }
            BlobCommand::Discard { sink: Sink::Store, digest } => {
                disk.chunks.remove(&digest);
                disk.complete.remove(&digest);
            }
            BlobCommand::Discard { sink: Sink::Caller(req), .. } => {
                disk.caller.remove(&req);
            }
            BlobCommand::Complete { digest, .. } => {
                disk.complete.insert(digest);
            }
            BlobCommand::Delete { digest } => {
                disk.chunks.remove(&digest);
                disk.complete.remove(&digest);
            }
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::ToServer(p, s, msg) => {
                let w = self.server_of(p, s);
                self.server_receive(w, p, msg)
            }
            Ev::GraceOver(w) => self.grace_over(w),
            Ev::SocketOpened(p, s) => {
                self.input(p, |peer, now| peer.handle_input(now, Input::Server { server: s, input: ServerInput::Opened }));
            }
            Ev::SocketClosed(p, s) => {
                self.input(p, |peer, now| peer.handle_input(now, Input::Server { server: s, input: ServerInput::Closed }));
            }
            Ev::FromServer(p, s, msg) => {
                self.input(p, |peer, now| peer.handle_input(now, Input::Server { server: s, input: ServerInput::Message(msg) }));
            }
            Ev::Described(p, link, sdp) => {
                if self.rtc.contains_key(&(p, link)) {
                    self.input(p, |peer, now| peer.handle_input(now, Input::Rtc { link, input: RtcInput::Described(sdp) }));
                }
            }
            Ev::LocalCandidate(p, link, c) => {
                if self.rtc.contains_key(&(p, link)) {
                    self.input(p, |peer, now| peer.handle_input(now, Input::Rtc { link, input: RtcInput::Candidate(c) }));
                }
            }
            Ev::Opened(p, link) => {
                if let Some(end) = self.rtc.get_mut(&(p, link)) {
                    end.open = true;
                    let max = self.max_message_size;
                    self.input(p, |peer, now| peer.handle_input(now, Input::Rtc { link, input: RtcInput::Opened(max) }));
                }
            }
            Ev::Received(p, link, bytes) => {
                self.lost += (!self.rtc.contains_key(&(p, link))) as u64;
                if self.rtc.get(&(p, link)).is_some_and(|e| e.open) {
                    if let Ok(Envelope { to, from, body: EnvelopeBody::Offer(_), .. }) = Envelope::decode(&bytes) {
                        self.late_offers += (to == self.id(p) && self.tabs[p].peer.links().is_open(&from)) as u64;
                    }
                    self.input(p, |peer, now| peer.handle_input(now, Input::Rtc { link, input: RtcInput::Message(bytes) }));
                }
            }
            Ev::Closed(p, link) => {
                if self.rtc.remove(&(p, link)).is_some() {
                    self.input(p, |peer, now| peer.handle_input(now, Input::Rtc { link, input: RtcInput::Closed }));
                }
            }
            Ev::BlobRead(p, to, pull, index, bytes) => {
                self.input(p, |peer, now| peer.handle_input(now, Input::BlobRead { to, pull, index, bytes }));
            }
            Ev::BlobWritten(p, pull, index, result) => {
                self.input(p, |peer, now| peer.handle_input(now, Input::BlobWritten { pull, index, result }));
            }
        }
    }

    // ------------------------------------------------------------ fake WebRTC

    fn rtc_command(&mut self, p: usize, cmd: RtcCommand) {
        match cmd {
            RtcCommand::Create { link, peer, remote_offer, .. } => {
                let offer_of = match &remote_offer {
                    Some(offer) => match endpoint(offer, "a=x-endpoint:") {
                        Some(o) => {
                            if self.id(o.0) != peer {
                                self.anomalies.push(format!("peer {p} answers an offer of peer {} as if from {}", o.0, peer.short()));
                            }
                            Some((o, has_candidate(offer)))
                        }
                        None => {
                            self.anomalies.push(format!("peer {p} was handed an offer that is not one: {offer:?}"));
                            None
                        }
                    },
                    None => None,
                };
                if remote_offer.is_none() {
                    if let Some(q) = self.index_of(&peer) {
                        let me = self.id(p);
                        let q_offers_too = self
                            .rtc
                            .iter()
                            .any(|((o, _), e)| *o == q && e.for_peer == me && e.offer_of.is_none() && e.remote.is_none());
                        self.glares += q_offers_too as u64;
                    }
                }
                self.rtc.insert((p, link), End { for_peer: peer, offer_of, remote: None, open: false, got_remote: false, opening: false });
                let sdp = fake_sdp(p, link, offer_of.map(|(o, _)| o));
                let (lo, hi) = self.describe;
                let d = lo + self.rng.below(hi - lo + 1);
                if self.trickle {
                    // The description first, at once; candidates as they are "gathered".
                    let (head, cands) = split_candidates(&sdp);
                    self.schedule(Chan::Link(p, link), 1, Ev::Described(p, link, head));
                    for c in cands.into_iter().map(Some).chain([None]) {
                        self.schedule(Chan::Link(p, link), d, Ev::LocalCandidate(p, link, c));
                    }
                } else {
                    self.schedule(Chan::Link(p, link), d, Ev::Described(p, link, sdp));
                }
            }
            RtcCommand::SetAnswer { link, sdp } => {
                let Some(offerer) = self.rtc.get(&(p, link)) else {
                    self.anomalies.push(format!("peer {p}: answer for unknown link {link}"));
                    return;
                };
                let for_peer = offerer.for_peer;
                let (Some(a), Some(answers)) = (endpoint(&sdp, "a=x-endpoint:"), endpoint(&sdp, "a=x-answers:")) else {
                    self.anomalies.push(format!("peer {p}: not an answer: {sdp:?}"));
                    return;
                };
                if answers != (p, link) || self.id(a.0) != for_peer {
                    // A real connection would fail its DTLS handshake.
                    self.anomalies.push(format!("peer {p} link {link} (for {}) got the answer {a:?} to {answers:?}", for_peer.short()));
                    return;
                }
                if self.trickle {
                    if self.rtc.get(&a).is_some_and(|e| e.offer_of.is_some_and(|(o, _)| o == (p, link))) {
                        self.rtc.get_mut(&(p, link)).expect("checked").remote = Some(a);
                        self.rtc.get_mut(&a).expect("checked").remote = Some((p, link));
                        self.try_open(p, link);
                    }
                    return;
                }
                let connectable = has_candidate(&sdp)
                    && self.rtc.get(&a).is_some_and(|e| e.offer_of.is_some_and(|(o, had)| o == (p, link) && had));
                if connectable && !self.cut_off(p, a.0) {
                    self.rtc.get_mut(&(p, link)).expect("checked").remote = Some(a);
                    self.rtc.get_mut(&a).expect("checked").remote = Some((p, link));
                    let (d1, d2) = (self.lat(), self.lat());
                    self.schedule(Chan::Link(p, link), d1, Ev::Opened(p, link));
                    self.schedule(Chan::Link(a.0, a.1), d2, Ev::Opened(a.0, a.1));
                }
            }
            RtcCommand::Send { link, bytes } => {
                self.largest_sent = self.largest_sent.max(bytes.len());
                if !self.max_message_size.fits(bytes.len()) {
                    self.anomalies.push(format!("peer {p} sent {} bytes over a link accepting {}", bytes.len(), self.max_message_size));
                }
                let mut extra = 0;
                if bytes.first() == Some(&LINK_FRAME_TAG) {
                    match Envelope::decode(&bytes) {
                        Ok(Envelope { from, body: EnvelopeBody::Offer(sdp), .. }) => {
                            self.inspect(&sdp);
                            if self.slow_offerer == Some(p) && from == self.id(p) {
                                extra = SLOW_OFFER_MS;
                            }
                        }
                        Ok(Envelope { body: EnvelopeBody::Answer(sdp), .. }) => self.inspect(&sdp),
                        Ok(Envelope { body: EnvelopeBody::OfferCandidate(c) | EnvelopeBody::AnswerCandidate(c), .. }) => {
                            self.inspect(&format!("a={}", c.candidate))
                        }
                        Ok(_) => {}
                        Err(e) => self.anomalies.push(format!("peer {p} sent an undecodable link frame: {e}")),
                    }
                }
                match self.rtc.get(&(p, link)) {
                    Some(End { open: true, remote: Some(r), .. }) => {
                        let r = *r;
                        let d = self.lat() + extra;
                        self.schedule(Chan::Link(r.0, r.1), d, Ev::Received(r.0, r.1, bytes));
                    }
                    // Closed under it (the close is on its way to the link manager).
                    None => {}
                    Some(_) => self.anomalies.push(format!("peer {p} sent on link {link}, which is not open")),
                }
            }
            RtcCommand::AddCandidate { link, candidate } => {
                if !self.trickle {
                    self.anomalies.push(format!("peer {p}: a trickled candidate in a world without trickle"));
                    return;
                }
                if let Some(e) = self.rtc.get_mut(&(p, link)) {
                    // Only the loopback candidate "works" here.
                    if candidate.is_loopback() {
                        e.got_remote = true;
                        self.try_open(p, link);
                    }
                }
            }
            // This world never loses a path, nor changes its ICE servers.
            RtcCommand::Restart { .. } | RtcCommand::UpdateIce { .. } => {
                self.anomalies.push(format!("peer {p}: unexpected ICE command in a world without path failures"))
            }
            RtcCommand::Close { link } => {
                if let Some(End { remote: Some(r), .. }) = self.rtc.remove(&(p, link)) {
                    if self.rtc.contains_key(&r) {
                        let d = self.lat();
                        self.schedule(Chan::Link(r.0, r.1), d, Ev::Closed(r.0, r.1));
                    }
                }
            }
        }
    }

    /// Trickle: opens both ends once they are paired and each added a usable candidate of the other.
    /// Whether tabs `p` and `q` have no network path (`no_path`).
    fn cut_off(&self, p: usize, q: usize) -> bool {
        self.no_path.contains(&(p.min(q), p.max(q)))
    }

    fn try_open(&mut self, p: usize, link: LinkId) {
        let Some(e) = self.rtc.get(&(p, link)) else { return };
        let Some(r) = e.remote else { return };
        let ready = e.got_remote
            && !e.opening
            && !self.cut_off(p, r.0)
            && self.rtc.get(&r).is_some_and(|o| o.got_remote && o.remote == Some((p, link)));
        if ready {
            self.rtc.get_mut(&(p, link)).expect("checked").opening = true;
            self.rtc.get_mut(&r).expect("checked").opening = true;
            let (d1, d2) = (self.lat(), self.lat());
            self.schedule(Chan::Link(p, link), d1, Ev::Opened(p, link));
            self.schedule(Chan::Link(r.0, r.1), d2, Ev::Opened(r.0, r.1));
        }
    }

    /// Counts the candidates of a description on its way to another party.
    fn inspect(&mut self, sdp: &str) {
        for line in sdp.lines() {
            if let Some(rest) = line.trim_end().strip_prefix("a=candidate:") {
                self.candidates_seen += 1;
                let addr = rest.split_ascii_whitespace().nth(4).unwrap_or("");
                if !(addr.starts_with("127.") || addr == "::1") {
                    self.leaked.push(line.to_string());
                }
            }
        }
    }

    // ------------------------------------------------------------ fake server

    fn server_send(&mut self, w: usize, to: usize, msg: ServerMsg) {
        if let (true, Some(s)) = (self.servers[w].sockets.contains(&to), self.sid(to, w)) {
            let d = self.lat();
            self.schedule(Chan::Down(to, s), d, Ev::FromServer(to, s, msg));
        }
    }

    /// Server `w` introduces `newcomer` to `member` (a meeting if the newcomer is a member too).
    fn server_introduce(&mut self, w: usize, newcomer: usize, member: usize) {
        let srv = &mut self.servers[w];
        srv.next_intro = IntroId(srv.next_intro.0 + 1);
        let intro = srv.next_intro;
        srv.intros.insert(intro, (newcomer, member));
        srv.pairs.push((newcomer, member));
        let (n, m) = (self.id(newcomer), self.id(member));
        self.server_send(w, newcomer, ServerMsg::Welcome { first: false, intro: Some(intro), introducer: Some(m), ice_servers: vec![] });
        self.server_send(w, member, ServerMsg::Introduce { intro, newcomer: n });
    }

    fn server_receive(&mut self, w: usize, p: usize, msg: ClientMsg) {
        if self.servers[w].dead || !self.servers[w].sockets.contains(&p) {
            return;
        }
        match msg {
            ClientMsg::Hello { id, member, .. } => {
                if id != self.id(p) {
                    self.anomalies.push(format!("peer {p} said hello as {}", id.short()));
                }
                let others: Vec<usize> = self.servers[w].members.iter().copied().filter(|&m| m != p).collect();
                let pick = |world: &mut World| others[world.rng.below(others.len() as u64) as usize];
                if member {
                    // A member reconnects: registered at once; a meeting with another member.
                    let srv = &mut self.servers[w];
                    srv.member_hellos += 1;
                    if !srv.members.contains(&p) {
                        srv.members.push(p);
                    }
                    for n in std::mem::take(&mut srv.held) {
                        self.server_introduce(w, n, p);
                    }
                    if others.is_empty() {
                        self.server_send(w, p, ServerMsg::Welcome { first: false, intro: None, introducer: None, ice_servers: vec![] });
                    } else {
                        let m = pick(self);
                        self.servers[w].meetings.push((p, m));
                        self.server_introduce(w, p, m);
                    }
                } else if others.is_empty() && self.servers[w].grace_until.is_some_and(|t| self.now < t) {
                    self.servers[w].held.push(p);
                } else if others.is_empty() {
                    // The founder counts as a member at once.
                    self.servers[w].members.push(p);
                    self.server_send(w, p, ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers: vec![] });
                } else {
                    let m = pick(self);
                    self.server_introduce(w, p, m);
                }
            }
            ClientMsg::Member => {
                let srv = &mut self.servers[w];
                if !srv.members.contains(&p) {
                    srv.members.push(p);
                }
                srv.intros.retain(|_, (n, _)| *n != p);
            }
            ClientMsg::Signal { intro, payload } => {
                if let Some(&(n, m)) = self.servers[w].intros.get(&intro) {
                    if p == n || p == m {
                        let to = if p == n { m } else { n };
                        self.servers[w].relayed += 1;
                        let from = self.id(p);
                        self.server_send(w, to, ServerMsg::Signal { intro, from, payload });
                    }
                }
            }
            ClientMsg::Bye => {
                let s = self.sid(p, w).expect("a server of p");
                self.server_forget(w, p);
                let d = self.lat();
                self.schedule(Chan::Down(p, s), d, Ev::SocketClosed(p, s));
            }
        }
    }

    /// The grace period of server `w` is over: the first held newcomer founds, the others are introduced to it.
    fn grace_over(&mut self, w: usize) {
        self.servers[w].grace_until = None;
        let held = std::mem::take(&mut self.servers[w].held);
        let live: Vec<usize> = held.into_iter().filter(|p| self.servers[w].sockets.contains(p)).collect();
        let Some((&founder, rest)) = live.split_first() else { return };
        if self.servers[w].members.is_empty() {
            self.servers[w].members.push(founder);
            self.server_send(w, founder, ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers: vec![] });
            for &n in rest {
                self.server_introduce(w, n, founder);
            }
        } else {
            for &n in &live {
                let m = self.servers[w].members[0];
                self.server_introduce(w, n, m);
            }
        }
    }

    /// Server `w` dies: every socket closes; no hello gets through any more.
    fn kill_server_n(&mut self, w: usize) {
        self.servers[w].dead = true;
        for p in std::mem::take(&mut self.servers[w].sockets) {
            if let Some(s) = self.sid(p, w) {
                let d = self.lat();
                self.schedule(Chan::Down(p, s), d, Ev::SocketClosed(p, s));
            }
        }
        self.servers[w].members.clear();
        self.servers[w].intros.clear();
        self.servers[w].held.clear();
    }

    /// The only server dies.
    fn kill_server(&mut self) {
        self.kill_server_n(0);
    }

    #[allow(dead_code)] // used by peer_ring.rs only
    /// Server `w` starts again with nothing, holding newcomers for `grace_ms`.
    fn restart_server(&mut self, w: usize, grace_ms: u64) {
        self.kill_server_n(w);
        self.servers[w] = Server { grace_until: Some(self.now + grace_ms), ..Server::default() };
        self.seq += 1;
        self.queue.push(Due { at: self.now + grace_ms, seq: self.seq, ev: Ev::GraceOver(w) });
    }

    // ------------------------------------------------------------ failures

    /// Server `w` drops `p`'s socket and everything about it.
    fn server_forget(&mut self, w: usize, p: usize) {
        let srv = &mut self.servers[w];
        srv.sockets.remove(&p);
        srv.members.retain(|&m| m != p);
        srv.held.retain(|&m| m != p);
        srv.intros.retain(|_, (n, m)| *n != p && *m != p);
    }

    /// The tab dies: every connection it had closes at the other end.
    /// Tab `p` vanishes and nothing tells its peers: its links stay open at
    /// their ends (what a native node's str0m link does until ICE gives up,
    /// seconds later, when a browser process is killed), and what they send
    /// on them is lost.
    #[allow(dead_code)]
    fn vanish(&mut self, p: usize) {
        self.tabs[p].alive = false;
        self.tabs[p].expected = false;
        self.rtc.retain(|(o, _), _| *o != p);
        for w in 0..self.servers.len() {
            self.server_forget(w, p);
        }
    }

    fn crash(&mut self, p: usize) {
        self.tabs[p].alive = false;
        self.tabs[p].expected = false;
        let ends: Vec<(usize, LinkId)> = self.rtc.keys().filter(|(o, _)| *o == p).copied().collect();
        for k in ends {
            if let Some(End { remote: Some(r), .. }) = self.rtc.remove(&k) {
                let d = self.lat();
                self.schedule(Chan::Link(r.0, r.1), d, Ev::Closed(r.0, r.1));
            }
        }
        for w in 0..self.servers.len() {
            self.server_forget(w, p);
        }
    }

    // ------------------------------------------------------------ checks

    fn expected(&self) -> Vec<usize> {
        (0..self.tabs.len()).filter(|&p| self.tabs[p].expected).collect()
    }

    fn ideal(&self) -> IdealRing {
        IdealRing::new(self.expected().iter().map(|&p| self.id(p)).collect())
    }

    /// How every expected member's predecessor, successor list and fingers
    /// differ from the ideal ring over the expected members (the one
    /// definition in `chord::sim::correct`).
    fn ring_problems(&self) -> Vec<Problem> {
        let views: Vec<View> = self.expected().iter().map(|&p| View::of(self.tabs[p].peer.node())).collect();
        problems(&views)
    }

    /// [`World::ring_problems`] in words, with peer indices.
    fn ring_errors(&self) -> Vec<String> {
        let ix = |ids: &[Id]| ids.iter().map(|id| self.index_of(id).map_or("?".to_string(), |i| i.to_string())).collect::<Vec<_>>();
        self.ring_problems()
            .into_iter()
            .map(|e| {
                let p = ix(&[e.node()])[0].clone();
                match e {
                    Problem::NotJoined { .. } => format!("peer {p}: not joined"),
                    Problem::Predecessor { has, .. } => format!("peer {p}: predecessor {:?}", ix(has.as_slice())),
                    Problem::Successors { has, want, .. } => format!("peer {p}: successors {:?}, not {:?}", ix(&has), ix(&want)),
                    Problem::Fingers { wrong, first, .. } => format!("peer {p}: {wrong} wrong fingers (first {first})"),
                }
            })
            .collect()
    }

    /// Runs until the ring is correct; panics with the seed and the errors otherwise.
    fn converge(&mut self, limit_ms: u64, what: &str) -> u64 {
        let start = self.now;
        let ok = self.run_until(limit_ms, |w| w.ring_errors().is_empty());
        assert!(ok, "seed {}: {what}: ring not correct {limit_ms} ms later: {:?}\n{}", self.seed, self.ring_errors(), self.dump());
        self.now.since(start)
    }

    /// Every peer's tables and links, by peer index, for failure messages.
    fn dump(&self) -> String {
        let ix = |id: &Id| self.index_of(id).map_or("?".to_string(), |i| i.to_string());
        let order: Vec<String> = self.ideal().ids().iter().map(ix).collect();
        let mut s = format!("t={} ms, ring order {}\n", self.now.0, order.join(" "));
        for (p, t) in self.tabs.iter().enumerate() {
            let n = t.peer.node();
            let list = |ids: &mut dyn Iterator<Item = &Id>| ids.map(ix).collect::<Vec<_>>().join(" ");
            let links: Vec<String> = t
                .peer
                .links()
                .snapshot()
                .iter()
                .map(|l| {
                    let state = if l.state == LinkState::Open { "" } else { "~" };
                    let via = if l.via == Via::Server { "S" } else { "" };
                    format!("{}{state}{via}", ix(&l.peer))
                })
                .collect();
            s += &format!(
                "{p:2} {}{:?} pred {} succ [{}] fingers [{}] links [{}] {:?}\n",
                if t.alive { "" } else { "crashed " },
                n.status(),
                n.predecessor().map_or("-".to_string(), |x| ix(&x)),
                list(&mut n.successors().iter()),
                list(&mut n.fingers().nodes()),
                links.join(" "),
                t.peer.links().stats(),
            );
        }
        s
    }

    fn assert_clean(&self) {
        assert!(self.anomalies.is_empty(), "seed {}: driver anomalies: {:#?}", self.seed, self.anomalies);
        assert!(self.leaked.is_empty(), "seed {}: non-loopback candidates crossed the network: {:?}", self.seed, self.leaked);
    }

    /// The open link ends of `p` that lead to `q`, as the fake WebRTC sees them.
    fn open_ends(&self, p: usize, q: usize) -> Vec<(LinkId, Option<(usize, LinkId)>)> {
        let q_id = self.id(q);
        self.rtc
            .iter()
            .filter(|((o, _), e)| *o == p && e.open && e.for_peer == q_id)
            .map(|((_, l), e)| (*l, e.remote))
            .collect()
    }

    // ------------------------------------------------------------ requests

    /// Waits for the answer to request `req` of peer `p`.
    fn answer(&mut self, p: usize, req: ReqId, limit_ms: u64) -> Event {
        let find = |w: &World| {
            w.tabs[p].events.iter().find_map(|(_, e)| match e {
                PeerEvent::Node(
                    ev @ (Event::PutDone { req: r, .. }
                    | Event::GetDone { req: r, .. }
                    | Event::LookupDone { req: r, .. }
                    | Event::RequestFailed { req: r, .. }),
                ) if *r == req => Some(ev.clone()),
                _ => None,
            })
        };
        self.run_until(limit_ms, |w| find(w).is_some());
        find(self).unwrap_or_else(|| panic!("seed {}: request {req} of peer {p} not answered in {limit_ms} ms", self.seed))
    }

    fn put(&mut self, p: usize, name: &str, value: &[u8]) {
        let seed = self.seed;
        let req = self
            .cmd(p, |peer, now| peer.put(now, name.to_string(), value.to_vec()))
            .unwrap_or_else(|e| panic!("seed {seed}: put on peer {p}: {e}"));
        match self.answer(p, req, 30_000) {
            Event::PutDone { .. } => {}
            other => panic!("seed {seed}: put {name:?} on peer {p}: {other:?}"),
        }
    }

    fn get(&mut self, p: usize, name: &str) -> Option<Vec<u8>> {
        let seed = self.seed;
        let req =
            self.cmd(p, |peer, now| peer.get(now, Id::key_of(name))).unwrap_or_else(|e| panic!("seed {seed}: get on peer {p}: {e}"));
        match self.answer(p, req, 30_000) {
            Event::GetDone { record, .. } => record.map(|r| r.value),
            other => panic!("seed {seed}: get {name:?} on peer {p}: {other:?}"),
        }
    }

    /// Every expected member reads every value back.
    fn assert_readable(&mut self, values: &[(String, Vec<u8>)], what: &str) {
        for p in self.expected() {
            for (name, value) in values {
                let got = self.get(p, name);
                assert_eq!(got.as_deref(), Some(value.as_slice()), "seed {}: {what}: get {name:?} on peer {p}", self.seed);
            }
        }
    }
}

// ------------------------------------------------------------ fake SDP

/// A description naming its (peer, link), the offer it answers, and
/// candidates of which only the first is loopback.
fn fake_sdp(p: usize, link: LinkId, answers: Option<(usize, LinkId)>) -> String {
    let port = 5000 + 4 * (p as u64 * 1000 + link.0);
    let mut s = format!(
        "v=0\r\no=- {p} {link} IN IP4 0.0.0.0\r\ns=-\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=x-endpoint:{p}:{link}\r\n"
    );
    if let Some((q, l)) = answers {
        s.push_str(&format!("a=x-answers:{q}:{l}\r\n"));
    }
    s.push_str(&format!(
        "a=candidate:1 1 udp 2113937151 127.0.0.1 {port} typ host\r\n\
         a=candidate:2 1 udp 2113937151 10.1.2.3 {} typ host\r\n\
         a=candidate:3 1 udp 2113937151 2001:db8::7 {} typ host\r\n\
         a=candidate:4 1 udp 2113937151 4f1e2d3c-0a0b.local {} typ host\r\n\
         a=end-of-candidates\r\n",
        port + 1,
        port + 2,
        port + 3
    ));
    s
}

fn endpoint(sdp: &str, tag: &str) -> Option<(usize, LinkId)> {
    let line = sdp.lines().find_map(|l| l.strip_prefix(tag))?;
    let (p, l) = line.trim_end().split_once(':')?;
    Some((p.parse().ok()?, LinkId(l.parse().ok()?)))
}

/// A description without its candidate lines, and those candidates.
fn split_candidates(sdp: &str) -> (String, Vec<chord::ice::Candidate>) {
    let mut head = String::new();
    let mut cands = Vec::new();
    for line in sdp.split_inclusive('\n') {
        match line.trim_end().strip_prefix("a=") {
            Some(c) if c.starts_with("candidate:") => {
                cands.push(chord::ice::Candidate { candidate: c.to_string(), sdp_mid: Some("0".into()), sdp_m_line_index: Some(0) })
            }
            Some("end-of-candidates") => {}
            _ => head.push_str(line),
        }
    }
    (head, cands)
}

fn has_candidate(sdp: &str) -> bool {
    sdp.lines().any(|l| l.starts_with("a=candidate:"))
}

// ------------------------------------------------------------ scenarios

const JOIN_GAP_MS: u64 = 300;
/// Virtual time a 12-peer ring gets to become correct after its last join,
/// crash or leave (of 200 seeds, the slowest join takes 18 s at 5–30 ms per
/// hop and 29 s at 50–300 ms).
const CONVERGE_MS: u64 = 60_000;

/// The seeds a test runs: its own, or `PEER_RING_SEEDS=a..b` to search for
/// failures (with `PEER_RING_LATENCY=50..300` for a slower network).
fn seeds(default: &[u64]) -> Vec<u64> {
    env_range("PEER_RING_SEEDS").map_or(default.to_vec(), |r| r.collect())
}

fn env_range(name: &str) -> Option<std::ops::Range<u64>> {
    let text = std::env::var(name).ok()?;
    let (a, b) = text.split_once("..").unwrap_or_else(|| panic!("{name}=a..b"));
    Some(a.parse().expect("a number")..b.parse().expect("a number"))
}

/// A ring of `n` peers that joined one after another, checked correct.
fn ring(seed: u64, n: usize, cfg: PeerConfig) -> World {
    ring_with(seed, n, cfg, None)
}

/// [`ring`] with another one-way latency per hop.
fn ring_with(seed: u64, n: usize, cfg: PeerConfig, latency: Option<(u64, u64)>) -> World {
    let mut w = World::new(seed, cfg);
    w.latency = latency.unwrap_or(w.latency);
    w.join(n, JOIN_GAP_MS);
    w.converge(CONVERGE_MS, "after the joins");
    w.assert_clean();
    w
}

fn values(prefix: &str, n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n).map(|i| (format!("{prefix} {i}"), format!("value of {prefix} {i}").into_bytes())).collect()
}

