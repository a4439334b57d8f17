//! Whole browser peers ([`Peer`]: node + links + bootstrap) over a fake
//! signaling server and a fake WebRTC, in virtual time.
//!
//! The harness is a small discrete-event simulator in the style of quinn's
//! `Pair`: every input a peer gets comes from one seeded event queue (5–30 ms
//! per hop, FIFO per data channel and per socket), and time always jumps to the
//! earliest of the next event and every peer's `poll_timeout()`. A failing seed
//! replays exactly; every assertion prints it. `PEER_RING_SEEDS=a..b` runs
//! every test over other seeds, `PEER_RING_LATENCY=50..300` over a slower network.
//!
//! * The fake server follows `signaling/README.md`: the first hello founds the
//!   ring, later ones are introduced to a random member, and only the two
//!   parties' offer and answer are relayed (and counted). It can be killed.
//! * The fake WebRTC makes up descriptions that name their (peer, link) and
//!   carry one loopback and several non-loopback candidates. `SetAnswer` pairs
//!   the offerer with the answerer named in the answer (only if that answer
//!   answers this very offer and both sides kept a candidate), then both ends
//!   open. Every description that crosses the network is inspected.

use chord::id::{Id, ID_BITS};
use chord::link::frame::LINK_FRAME_TAG;
use chord::link::{Envelope, EnvelopeBody, LinkId, LinkState, Via};
use chord::message::ReqId;
use chord::peer::ServerState;
use chord::rng::SeededRng;
use chord::signal::{ClientMsg, IntroId, ServerMsg, SignalPayload};
use chord::sim::ideal::IdealRing;
use chord::{Config, Event, Millis, Peer, PeerConfig, PeerEvent, PeerOutput, RtcCommand, Status};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

// ---------------------------------------------------------------- the world

/// Something that happens to one peer (or the server) at a point in virtual time.
#[derive(Debug)]
enum Ev {
    SocketOpened(usize),
    SocketClosed(usize),
    FromServer(usize, ServerMsg),
    ToServer(usize, ClientMsg),
    Described(usize, LinkId, String),
    Opened(usize, LinkId),
    Received(usize, LinkId, Vec<u8>),
    Closed(usize, LinkId),
}

/// An ordered channel: events on one channel arrive in the order they were sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Chan {
    Down(usize),
    Up(usize),
    Link(usize, LinkId),
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
}

/// The fake signaling server (see `signaling/README.md`).
#[derive(Default)]
struct Server {
    dead: bool,
    sockets: BTreeSet<usize>,
    members: Vec<usize>,
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
    server: Server,
    /// One-way latency of every hop, ms.
    latency: (u64, u64),
    /// How long ICE gathering takes before `rtc_described`, ms.
    describe: (u64, u64),
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
            server: Server::default(),
            latency: env_range("PEER_RING_LATENCY").map_or((5, 30), |r| (r.start, r.end)),
            describe: (5, 30),
            candidates_seen: 0,
            leaked: Vec::new(),
            glares: 0,
            late_offers: 0,
            slow_offerer: None,
            lost: 0,
            anomalies: Vec::new(),
        }
    }

    fn id(&self, p: usize) -> Id {
        self.tabs[p].id
    }

    fn index_of(&self, id: &Id) -> Option<usize> {
        self.tabs.iter().position(|t| t.id == *id)
    }

    /// A new tab, not connected yet.
    fn add_peer(&mut self) -> usize {
        let id = Id::from_words(|| self.rng.next_u64());
        let peer = Peer::new(id, self.cfg.clone(), self.rng.next_u64());
        self.tabs.push(Tab { id, peer, alive: true, expected: false, events: Vec::new() });
        self.tabs.len() - 1
    }

    /// Opens `p`'s signaling socket (refused when the server is dead).
    fn connect(&mut self, p: usize) {
        self.tabs[p].expected = !self.server.dead;
        self.input(p, |peer, _| peer.server_connecting());
        self.open_socket(p);
    }

    fn open_socket(&mut self, p: usize) {
        let d = self.lat();
        if self.server.dead {
            self.schedule(Chan::Down(p), d, Ev::SocketClosed(p));
        } else {
            self.server.sockets.insert(p);
            self.schedule(Chan::Down(p), d, Ev::SocketOpened(p));
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
                        self.input(p, |peer, now| peer.handle_timeout(now));
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
                PeerOutput::Server(msg) => {
                    if let ClientMsg::Signal { payload, .. } = &msg {
                        match payload {
                            SignalPayload::Offer { sdp } | SignalPayload::Answer { sdp } => self.inspect(&sdp.clone()),
                            SignalPayload::Ice { candidate, .. } => self.inspect(&format!("a={candidate}")),
                        }
                    }
                    let d = self.lat();
                    self.schedule(Chan::Up(p), d, Ev::ToServer(p, msg));
                }
                PeerOutput::Event(e) => self.tabs[p].events.push((self.now, e)),
                PeerOutput::ReconnectServer => {
                    self.server_forget(p);
                    self.open_socket(p);
                }
            }
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::ToServer(p, msg) => self.server_receive(p, msg),
            Ev::SocketOpened(p) => {
                self.input(p, |peer, now| peer.server_opened(now));
            }
            Ev::SocketClosed(p) => {
                self.input(p, |peer, now| peer.server_closed(now));
            }
            Ev::FromServer(p, msg) => {
                self.input(p, |peer, now| peer.server_message(now, msg));
            }
            Ev::Described(p, link, sdp) => {
                if self.rtc.contains_key(&(p, link)) {
                    self.input(p, |peer, now| peer.rtc_described(now, link, sdp));
                }
            }
            Ev::Opened(p, link) => {
                if let Some(end) = self.rtc.get_mut(&(p, link)) {
                    end.open = true;
                    self.input(p, |peer, now| peer.rtc_opened(now, link));
                }
            }
            Ev::Received(p, link, bytes) => {
                self.lost += (!self.rtc.contains_key(&(p, link))) as u64;
                if self.rtc.get(&(p, link)).is_some_and(|e| e.open) {
                    if let Ok(Envelope { to, from, body: EnvelopeBody::Offer(_), .. }) = Envelope::decode(&bytes) {
                        self.late_offers += (to == self.id(p) && self.tabs[p].peer.links().is_open(&from)) as u64;
                    }
                    self.input(p, |peer, now| peer.rtc_received(now, link, bytes));
                }
            }
            Ev::Closed(p, link) => {
                if self.rtc.remove(&(p, link)).is_some() {
                    self.input(p, |peer, now| peer.rtc_closed(now, link));
                }
            }
        }
    }

    // ------------------------------------------------------------ fake WebRTC

    fn rtc_command(&mut self, p: usize, cmd: RtcCommand) {
        match cmd {
            RtcCommand::Create { link, peer, remote_offer } => {
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
                self.rtc.insert((p, link), End { for_peer: peer, offer_of, remote: None, open: false });
                let sdp = fake_sdp(p, link, offer_of.map(|(o, _)| o));
                let (lo, hi) = self.describe;
                let d = lo + self.rng.below(hi - lo + 1);
                self.schedule(Chan::Link(p, link), d, Ev::Described(p, link, sdp));
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
                let connectable = has_candidate(&sdp)
                    && self.rtc.get(&a).is_some_and(|e| e.offer_of.is_some_and(|(o, had)| o == (p, link) && had));
                if connectable {
                    self.rtc.get_mut(&(p, link)).expect("checked").remote = Some(a);
                    self.rtc.get_mut(&a).expect("checked").remote = Some((p, link));
                    let (d1, d2) = (self.lat(), self.lat());
                    self.schedule(Chan::Link(p, link), d1, Ev::Opened(p, link));
                    self.schedule(Chan::Link(a.0, a.1), d2, Ev::Opened(a.0, a.1));
                }
            }
            RtcCommand::Send { link, bytes } => {
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

    fn server_send(&mut self, to: usize, msg: ServerMsg) {
        if self.server.sockets.contains(&to) {
            let d = self.lat();
            self.schedule(Chan::Down(to), d, Ev::FromServer(to, msg));
        }
    }

    fn server_receive(&mut self, p: usize, msg: ClientMsg) {
        if self.server.dead || !self.server.sockets.contains(&p) {
            return;
        }
        match msg {
            ClientMsg::Hello { id, .. } => {
                if id != self.id(p) {
                    self.anomalies.push(format!("peer {p} said hello as {}", id.short()));
                }
                let others: Vec<usize> = self.server.members.iter().copied().filter(|&m| m != p).collect();
                if others.is_empty() {
                    // The founder counts as a member at once.
                    self.server.members.push(p);
                    self.server_send(p, ServerMsg::Welcome { first: true, intro: None, introducer: None });
                } else {
                    let m = others[self.rng.below(others.len() as u64) as usize];
                    self.server.next_intro += 1;
                    let intro = self.server.next_intro;
                    self.server.intros.insert(intro, (p, m));
                    self.server.pairs.push((p, m));
                    let (newcomer, introducer) = (self.id(p), self.id(m));
                    self.server_send(p, ServerMsg::Welcome { first: false, intro: Some(intro), introducer: Some(introducer) });
                    self.server_send(m, ServerMsg::Introduce { intro, newcomer });
                }
            }
            ClientMsg::Member => {
                if !self.server.members.contains(&p) {
                    self.server.members.push(p);
                }
                self.server.intros.retain(|_, (n, _)| *n != p);
            }
            ClientMsg::Signal { intro, payload } => {
                if let Some(&(n, m)) = self.server.intros.get(&intro) {
                    if p == n || p == m {
                        let to = if p == n { m } else { n };
                        self.server.relayed += 1;
                        let from = self.id(p);
                        self.server_send(to, ServerMsg::Signal { intro, from, payload });
                    }
                }
            }
            ClientMsg::Bye => {
                self.server.members.retain(|&m| m != p);
                self.server.sockets.remove(&p);
                let d = self.lat();
                self.schedule(Chan::Down(p), d, Ev::SocketClosed(p));
            }
        }
    }

    /// Every socket closes; no hello gets through any more.
    fn kill_server(&mut self) {
        self.server.dead = true;
        for p in std::mem::take(&mut self.server.sockets) {
            let d = self.lat();
            self.schedule(Chan::Down(p), d, Ev::SocketClosed(p));
        }
        self.server.members.clear();
        self.server.intros.clear();
    }

    // ------------------------------------------------------------ failures

    /// The server drops `p`'s socket and everything about it.
    fn server_forget(&mut self, p: usize) {
        self.server.sockets.remove(&p);
        self.server.members.retain(|&m| m != p);
        self.server.intros.retain(|_, (n, m)| *n != p && *m != p);
    }

    /// The tab dies: every connection it had closes at the other end.
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
        self.server_forget(p);
    }

    // ------------------------------------------------------------ checks

    fn expected(&self) -> Vec<usize> {
        (0..self.tabs.len()).filter(|&p| self.tabs[p].expected).collect()
    }

    fn ideal(&self) -> IdealRing {
        IdealRing::new(self.expected().iter().map(|&p| self.id(p)).collect())
    }

    /// How every expected member's predecessor, successor list and fingers
    /// differ from the ideal ring over the expected members.
    fn ring_errors(&self) -> Vec<String> {
        let ring = self.ideal();
        let ix = |ids: &[Id]| ids.iter().map(|id| self.index_of(id).map_or("?".to_string(), |i| i.to_string())).collect::<Vec<_>>();
        let mut errs = Vec::new();
        for p in self.expected() {
            let node = self.tabs[p].peer.node();
            if node.status() != Status::Joined {
                errs.push(format!("peer {p}: {:?}", node.status()));
                continue;
            }
            let own = node.id();
            let pos = ring.successor_pos(&own);
            if ring.len() > 1 && node.predecessor() != Some(ring.predecessor_of(pos)) {
                errs.push(format!("peer {p}: predecessor {:?}", ix(node.predecessor().as_slice())));
            }
            let want = ring.successors_of(pos, node.config().successors);
            if node.successors() != want.as_slice() {
                errs.push(format!("peer {p}: successors {:?}, not {:?}", ix(node.successors()), ix(&want)));
            }
            if ring.len() < 2 {
                continue;
            }
            let first_beyond = own.distance(&want[0]).bit_len();
            let wrong = (0..ID_BITS)
                .filter(|&i| {
                    let e = if i < first_beyond { Some(want[0]) } else { ring.finger(pos, i) };
                    e.is_some() && node.fingers().get(i) != e
                })
                .count();
            if wrong > 0 {
                errs.push(format!("peer {p}: {wrong} wrong fingers"));
            }
        }
        errs
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
            .cmd(p, |peer, now| peer.put(now, Id::key_of(name), value.to_vec()))
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
    let port = 5000 + 4 * (p as u64 * 1000 + link);
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
    Some((p.parse().ok()?, l.parse().ok()?))
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

/// Twelve joins, a few hundred ms apart: the ring becomes correct and stays so.
fn twelve_join(seed: u64, latency: Option<(u64, u64)>) {
    let mut w = World::new(seed, peer_config());
    w.latency = latency.unwrap_or(w.latency);
    w.join(12, JOIN_GAP_MS);
    let took = w.converge(CONVERGE_MS, "after 12 joins");
    eprintln!("seed {seed}: ring correct {took} ms after the last join");
    for (p, t) in w.tabs.iter().enumerate() {
        let joined = t.events.iter().any(|(_, e)| matches!(e, PeerEvent::Node(Event::Joined { .. })));
        assert!(joined, "seed {seed}: peer {p} never reported Joined");
        let failed = t.events.iter().any(|(_, e)| matches!(e, PeerEvent::BootstrapFailed { .. }));
        assert!(!failed, "seed {seed}: peer {p} failed its bootstrap");
    }
    // And it stays correct.
    w.run_for(20_000);
    assert_eq!(w.ring_errors(), Vec::<String>::new(), "seed {seed}: ring broke again\n{}", w.dump());
    w.assert_clean();
}

#[test]
fn twelve_peers_join_and_the_ring_becomes_correct() {
    for seed in seeds(&[1, 2, 3]) {
        twelve_join(seed, None);
    }
}

/// 50–300 ms per hop. Seed 3133 once trapped every offer in newcomers that
/// had only their bootstrap link; seed 3037 left a newcomer idle after its
/// join timed out.
#[test]
fn twelve_peers_join_over_a_slow_network() {
    let latency = std::env::var("PEER_RING_LATENCY").is_err().then_some((50, 300));
    for seed in seeds(&[3037, 3133]) {
        twelve_join(seed, latency);
    }
}

#[test]
fn the_server_relays_only_introductions() {
    let n = 12;
    for seed in seeds(&[21, 22]) {
        let mut w = ring(seed, n, peer_config());
        // Each newcomer needs one introduction, and each introduction one offer and one answer.
        assert_eq!(w.server.pairs.len(), n - 1, "seed {seed}: introductions {:?}", w.server.pairs);
        assert_eq!(w.server.relayed, 2 * (n as u64 - 1), "seed {seed}: signals relayed");
        w.run_for(30_000);
        w.put(3, "after the joins", b"x");
        assert_eq!(w.server.relayed, 2 * (n as u64 - 1), "seed {seed}: the server relayed ring traffic");
        let bootstrap: BTreeSet<(Id, Id)> =
            w.server.pairs.iter().flat_map(|&(a, b)| [(w.id(a), w.id(b)), (w.id(b), w.id(a))]).collect();
        let mut ring_links = 0;
        for p in 0..n {
            for l in w.tabs[p].peer.links().snapshot() {
                if l.state != LinkState::Open {
                    continue;
                }
                match l.via {
                    Via::Ring => ring_links += 1,
                    Via::Server => assert!(
                        bootstrap.contains(&(w.id(p), l.peer)),
                        "seed {seed}: peer {p} has a server link to {} that no introduction made",
                        l.peer.short()
                    ),
                }
            }
        }
        // The ring's own links carry it, at least one per peer.
        assert!(ring_links >= n, "seed {seed}: only {ring_links} ring links\n{}", w.dump());
        w.assert_clean();
    }
}

#[test]
fn no_non_loopback_candidate_crosses_the_network() {
    for seed in seeds(&[31]) {
        let mut w = ring(seed, 12, peer_config());
        w.put(0, "k", b"v");
        w.run_for(10_000);
        let opened: u64 = w.tabs.iter().map(|t| t.peer.links().stats().opened).sum();
        assert!(opened >= 22, "seed {seed}: only {opened} links opened");
        // Both descriptions of every link went through the inspection, with their loopback candidate.
        assert!(w.candidates_seen >= opened, "seed {seed}: {} candidates for {opened} links", w.candidates_seen);
        assert!(w.leaked.is_empty(), "seed {seed}: leaked {:?}", w.leaked);
        w.assert_clean();
    }
}

#[test]
fn a_value_put_on_one_peer_is_read_on_every_other() {
    for seed in seeds(&[41]) {
        let mut w = ring(seed, 12, peer_config());
        w.put(5, "greeting", b"hello, ring");
        for p in (0..12).filter(|&p| p != 5) {
            assert_eq!(w.get(p, "greeting").as_deref(), Some(&b"hello, ring"[..]), "seed {seed}: peer {p}");
        }
        assert_eq!(w.get(2, "never stored"), None, "seed {seed}");
        w.assert_clean();
    }
}

#[test]
fn without_the_server_the_ring_serves_and_relinks_but_newcomers_fail() {
    for seed in seeds(&[51]) {
        serverless(seed, None);
    }
}

/// 50–300 ms per hop. With seed 7147 a reopening offer overtakes the close
/// of the link it replaces; with seed 8206 a relayed offer is lost.
#[test]
fn without_the_server_over_a_slow_network() {
    let latency = std::env::var("PEER_RING_LATENCY").is_err().then_some((50, 300));
    for seed in seeds(&[7147, 8206]) {
        serverless(seed, latency);
    }
}

fn serverless(seed: u64, latency: Option<(u64, u64)>) {
    let mut w = ring_with(seed, 12, peer_config(), latency);
    w.kill_server();
    w.run_for(1_000);
    assert!(w.tabs.iter().all(|t| t.peer.server() == ServerState::Closed), "seed {seed}");
    let relayed = w.server.relayed;

    let vals = values("offline", 4);
    for (i, (name, value)) in vals.iter().enumerate() {
        w.put(i * 3, name, value);
    }
    w.assert_readable(&vals, "server dead");

    // Close a link the ring needs; it comes back through the ring: within
    // 5 s, or if a message was lost meanwhile (a relay's link closing under
    // it), after one failed attempt (10 s timeout, 3 s pause).
    for a in [0, 7] {
        let b = w.index_of(&w.tabs[a].peer.node().successors()[0]).expect("a known peer");
        let (a_id, b_id) = (w.id(a), w.id(b));
        assert!(w.tabs[a].peer.links().is_open(&b_id), "seed {seed}: peer {a} has no open link to its successor");
        assert!(w.cmd(a, |peer, now| peer.close_link(now, &b_id)), "seed {seed}");
        assert!(!w.tabs[a].peer.links().is_open(&b_id), "seed {seed}");
        let (start, lost) = (w.now, w.lost);
        let back = w.run_until(20_000, |w| w.tabs[a].peer.links().is_open(&b_id) && w.tabs[b].peer.links().is_open(&a_id));
        assert!(back, "seed {seed}: link {a}→{b} not reopened\n{}", w.dump());
        let took = w.now.since(start);
        assert!(took <= 5_000 || w.lost > lost, "seed {seed}: link {a}→{b} took {took} ms without a loss\n{}", w.dump());
        let via = w.tabs[a].peer.links().snapshot().into_iter().find(|l| l.peer == b_id).map(|l| l.via);
        assert_eq!(via, Some(Via::Ring), "seed {seed}: link {a}→{b}");
    }
    w.converge(CONVERGE_MS, "after relinking");
    assert_eq!(w.server.relayed, relayed, "seed {seed}");

    // Newcomers: the socket never opens; or it opens and the hello goes nowhere.
    let refused = w.add_peer();
    w.connect(refused);
    let lost_hello = w.add_peer();
    w.cmd(lost_hello, |peer, now| {
        peer.server_connecting();
        peer.server_opened(now);
    });
    w.run_for(500);
    w.cmd(lost_hello, |peer, now| peer.server_closed(now));
    w.run_for(500);
    for p in [refused, lost_hello] {
        let reasons: Vec<&String> = w.tabs[p]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                PeerEvent::BootstrapFailed { reason } => Some(reason),
                _ => None,
            })
            .collect();
        assert_eq!(reasons.len(), 1, "seed {seed}: peer {p}: {:?}", w.tabs[p].events);
        assert!(reasons[0].contains("signaling server"), "seed {seed}: reason {:?}", reasons[0]);
        assert_eq!(w.tabs[p].peer.node().status(), Status::Idle, "seed {seed}");
        assert!(w.tabs[p].peer.links().snapshot().is_empty(), "seed {seed}: peer {p} has links");
    }
    w.assert_readable(&vals, "after the newcomers failed");
    w.assert_clean();
}

#[test]
fn two_crashes_keep_the_ring_and_the_values() {
    for seed in seeds(&[61, 62]) {
        let mut w = ring(seed, 12, peer_config());
        let vals = values("durable", 6);
        for (i, (name, value)) in vals.iter().enumerate() {
            w.put(i, name, value);
        }
        w.run_for(5_000);
        // Crash the primary of the first key and its first replica: one copy of three is left.
        let ideal = w.ideal();
        let pos = ideal.successor_pos(&Id::key_of(&vals[0].0));
        let victims = [ideal.ids()[pos], ideal.ids()[(pos + 1) % ideal.len()]].map(|id| w.index_of(&id).expect("member"));
        for v in victims {
            w.crash(v);
        }
        let took = w.converge(CONVERGE_MS, "after two crashes");
        eprintln!("seed {seed}: ring correct {took} ms after crashing {victims:?}");
        w.assert_readable(&vals, "after two crashes");
        w.assert_clean();
    }
}

#[test]
fn glare_ends_with_exactly_one_link() {
    let (mut glares, mut late_offers) = (0, 0);
    for seed in seeds(&[71]) {
        let mut w = ring(seed, 12, peer_config());
        // Every peer and its successor, twice: once in each of two ways.
        for (a, slow_net) in (0..12).flat_map(|a| [(a, a % 2 == 0), (a, a % 2 == 1)]) {
            let b = w.index_of(&w.tabs[a].peer.node().successors()[0]).expect("a known peer");
            let (a_id, b_id) = (w.id(a), w.id(b));
            if !slow_net {
                // ICE gathering slower than the 1 s housekeeping period that
                // reopens wanted links: both sides offer before either offer arrives.
                (w.describe, w.slow_offerer) = ((1_500, 2_000), None);
            } else {
                // The higher id's offer (the one that loses a glare) travels
                // slowly, so it may arrive after the winning link opened.
                (w.describe, w.slow_offerer) = ((5, 30), Some(if a_id < b_id { b } else { a }));
            }
            w.cmd(a, |peer, now| peer.close_link(now, &b_id));
            w.cmd(b, |peer, now| peer.close_link(now, &a_id));
            let back = w.run_until(30_000, |w| w.tabs[a].peer.links().is_open(&b_id) && w.tabs[b].peer.links().is_open(&a_id));
            assert!(back, "seed {seed}: {a}↔{b} not relinked\n{}", w.dump());
            let (ea, eb) = (w.open_ends(a, b), w.open_ends(b, a));
            assert_eq!((ea.len(), eb.len()), (1, 1), "seed {seed}: {a}↔{b}: {ea:?} {eb:?}");
            assert_eq!(ea[0].1, Some((b, eb[0].0)), "seed {seed}: {a}↔{b} not paired with each other");
            // The link stays: a late offer of the losing attempt does not replace it.
            w.run_for(10_000);
            assert_eq!((w.open_ends(a, b), w.open_ends(b, a)), (ea, eb), "seed {seed}: {a}↔{b} was replaced");
        }
        (glares, late_offers) = (glares + w.glares, late_offers + w.late_offers);
        (w.describe, w.slow_offerer) = ((5, 30), None);
        w.converge(CONVERGE_MS, "after glare");
        w.assert_clean();
    }
    eprintln!("{glares} glares, {late_offers} late offers");
    assert!(glares > 0 && late_offers > 0, "glare or late offers not exercised");
}

#[test]
fn a_leaving_peer_hands_its_records_over() {
    for seed in seeds(&[81]) {
        // One copy per key: only the hand-over can save the leaver's records.
        let mut cfg = peer_config();
        cfg.node = Config { replicas: 1, ..Config::default() };
        let mut w = ring(seed, 12, cfg);
        let vals = values("handed", 8);
        for (i, (name, value)) in vals.iter().enumerate() {
            w.put(i, name, value);
        }
        w.run_for(3_000);
        let leaver = w.index_of(&w.ideal().successor(&Id::key_of(&vals[0].0))).expect("member");
        assert!(!w.tabs[leaver].peer.node().store().is_empty(), "seed {seed}: the leaver holds nothing");
        w.cmd(leaver, |peer, now| peer.leave(now)).unwrap_or_else(|e| panic!("seed {seed}: leave: {e}"));
        w.tabs[leaver].expected = false;
        w.run_for(200);
        w.cmd(leaver, |peer, now| peer.shutdown(now));
        w.converge(CONVERGE_MS, "after a leave");
        assert!(w.tabs[leaver].peer.links().snapshot().is_empty(), "seed {seed}: the leaver kept links");
        w.assert_readable(&vals, "after a leave");
        w.assert_clean();
    }
}

