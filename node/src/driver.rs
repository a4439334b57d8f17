//! The driver: one task that owns the sans-IO [`Peer`], its WebRTC links
//! ([`RtcLinks`], one UDP socket) and its signaling sockets, as a tab's driver
//! does (`src/web/driver`):
//!
//! ```text
//! loop {
//!     wait for a datagram, a server frame, a store answer, an API command,
//!     or the next wake-up (the peer's or a link's)
//!     feed it in; then carry out every output until both are quiet
//! }
//! ```
//!
//! Blob bytes go through the store thread ([`StoreWorker`]); the API names
//! them by digest or get number ([`crate::command`]). On shutdown (SIGTERM,
//! Ctrl-C) the node leaves gracefully: its keys are handed to its successor
//! before it stops, as a closing tab's are.

use crate::command::{ApiError, Command, DriverStats, GetResult, PutResult, Reply, Snapshot};
use crate::rtc::{Reports, RtcLinks};
use crate::signal::{ServerConn, ServerReport};
use crate::store::Store;
use crate::store_worker::{Job, StoreWorker};
use chord::codes::{command_code, request_code};
use chord::id::Id;
use chord::link::{LinkId, ServerId};
use chord::message::ReqId;
use chord::node::Event;
use chord::peer::{Input, Peer, PeerEvent, PeerOutput, RtcCommand, RtcInput, ServerInput};
use chord::time::Millis;
use chord::transfer::{chunk_count, is_transfer_frame};
use chord::CommandError;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

/// How long a graceful leave may take before the node stops anyway.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(3);

/// What the driver is given.
pub struct DriverSetup {
    /// The peer, restored from the store.
    pub peer: Peer,
    /// The signaling servers' URLs, in the peer's order.
    pub servers: Vec<String>,
    /// The UDP socket every link uses.
    pub socket: UdpSocket,
    /// The addresses written as host candidates.
    pub local: Vec<SocketAddr>,
    /// The durable store.
    pub store: Arc<Store>,
    /// Commands from the API.
    pub commands: mpsc::Receiver<Command>,
    /// Set to `true` once the peer joined (for readiness checks and logs).
    pub joined: watch::Sender<bool>,
}

/// A put the API waits for.
struct PendingPut {
    reply: Reply<PutResult>,
    size: u64,
    digest: Id,
}

/// A signaling server's socket.
struct Socket {
    url: String,
    conn: Option<ServerConn>,
    generation: u32,
}

struct Driver {
    start: Instant,
    peer: Peer,
    rtc: RtcLinks,
    socket: UdpSocket,
    /// The socket's address: the destination of every datagram it receives.
    local_addr: SocketAddr,
    servers: Vec<Socket>,
    reports: mpsc::UnboundedSender<ServerReport>,
    store: Arc<Store>,
    worker: StoreWorker,
    puts: HashMap<ReqId, PendingPut>,
    gets: HashMap<ReqId, Reply<Option<GetResult>>>,
    stats: DriverStats,
    joined: watch::Sender<bool>,
    /// The earliest time a link wants to be woken.
    rtc_wake: Option<Instant>,
    /// Set once the peer said it left.
    left: bool,
}

/// Runs the node until `shutdown` resolves (then leaves gracefully) or the peer stops.
pub async fn run(setup: DriverSetup, shutdown: impl Future<Output = ()>) -> Result<(), String> {
    let (report_tx, mut report_rx) = mpsc::unbounded_channel();
    let (store_tx, mut store_rx) = mpsc::unbounded_channel();
    let local_addr = setup.socket.local_addr().map_err(|e| e.to_string())?;
    let worker = StoreWorker::start(setup.store.clone(), store_tx);
    let mut commands = setup.commands;
    let mut d = Driver {
        start: Instant::now(),
        peer: setup.peer,
        rtc: RtcLinks::new(setup.local),
        socket: setup.socket,
        local_addr,
        servers: setup.servers.into_iter().map(|url| Socket { url, conn: None, generation: 0 }).collect(),
        reports: report_tx,
        store: setup.store,
        worker,
        puts: HashMap::new(),
        gets: HashMap::new(),
        stats: DriverStats::default(),
        joined: setup.joined,
        rtc_wake: None,
        left: false,
    };
    for i in 0..d.servers.len() {
        d.open_server(ServerId(i as u8));
    }
    let mut buf = vec![0u8; 65536];
    tokio::pin!(shutdown);
    let mut stopping: Option<Instant> = None;
    loop {
        d.pump();
        if d.left || stopping.is_some_and(|t| t.elapsed() > LEAVE_TIMEOUT) {
            break;
        }
        let wake = d.next_wake();
        tokio::select! {
            _ = &mut shutdown, if stopping.is_none() => {
                tracing::info!("leaving the ring (handing keys to the successor)");
                stopping = Some(Instant::now());
                let now = d.now();
                if d.peer.leave(now).is_err() {
                    break; // not in a ring: nothing to hand over
                }
            }
            r = d.socket.recv_from(&mut buf) => match r {
                Ok((n, source)) => {
                    if !d.rtc.receive(Instant::now(), source, d.local_addr, &buf[..n]) {
                        d.stats.stray_datagrams += 1;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "udp receive failed"),
            },
            Some(rep) = report_rx.recv() => d.on_server(rep),
            Some(input) = store_rx.recv() => {
                let now = d.now();
                d.peer.handle_input(now, input);
            }
            Some(cmd) = commands.recv(), if stopping.is_none() => d.on_command(cmd),
            _ = tokio::time::sleep_until(wake.into()) => {}
        }
        d.fire_timers();
    }
    let now = d.now();
    d.peer.shutdown(now);
    d.pump();
    for (_, p) in d.puts.drain() {
        let _ = p.reply.send(Err(ApiError::new("left", "the node left the ring")));
    }
    for (_, r) in d.gets.drain() {
        let _ = r.send(Err(ApiError::new("left", "the node left the ring")));
    }
    d.servers.clear();
    d.worker.finish();
    Ok(())
}

impl Driver {
    /// The peer's clock: ms since the driver started.
    fn now(&self) -> Millis {
        Millis(self.start.elapsed().as_millis() as u64)
    }

    fn next_wake(&mut self) -> Instant {
        let peer = self.peer.poll_timeout().map(|t| self.start + Duration::from_millis(t.0));
        let cap = Instant::now() + Duration::from_secs(1);
        [peer, self.rtc_wake].into_iter().flatten().fold(cap, Instant::min)
    }

    /// Fires the timers that are due.
    fn fire_timers(&mut self) {
        let now = Instant::now();
        if self.rtc_wake.is_some_and(|t| t <= now) {
            self.rtc.timeout(now);
        }
        let ms = self.now();
        if self.peer.poll_timeout().is_some_and(|t| t <= ms) {
            self.peer.handle_input(ms, Input::Timeout);
        }
    }

    /// Carries out outputs until the peer and the links are quiet.
    fn pump(&mut self) {
        loop {
            let mut reports = Reports::default();
            self.rtc_wake = self.rtc.poll(&mut reports);
            self.stats.bytes_received += reports.received;
            for (from, to, bytes) in reports.transmits.drain(..) {
                let _ = from;
                if let Err(e) = self.socket.try_send_to(&bytes, to) {
                    tracing::trace!(error = %e, %to, "udp send failed");
                }
            }
            let mut busy = !reports.inputs.is_empty();
            let now = self.now();
            for (link, input) in reports.inputs {
                self.peer.handle_input(now, Input::Rtc { link, input });
            }
            while let Some(out) = self.peer.poll_output() {
                busy = true;
                self.carry_out(out);
            }
            self.stats.bytes_sent = self.rtc.sent;
            if !busy {
                return;
            }
        }
    }

    fn carry_out(&mut self, out: PeerOutput) {
        match out {
            PeerOutput::Rtc(cmd) => self.rtc_command(cmd),
            PeerOutput::Server(s, msg) => {
                if let Some(c) = self.servers.get(s.0 as usize).and_then(|x| x.conn.as_ref()) {
                    c.send(msg);
                }
            }
            PeerOutput::Event(ev) => self.on_event(ev),
            PeerOutput::Blob(cmd) => self.worker.push(Job::Blob(cmd)),
            PeerOutput::ReconnectServer(s) => self.open_server(s),
        }
    }

    fn rtc_failed(&mut self, link: LinkId, why: String) {
        tracing::info!(%link, %why, "link failed");
        self.rtc.close(link);
        let now = self.now();
        self.peer.handle_input(now, Input::Rtc { link, input: RtcInput::Closed });
    }

    fn rtc_command(&mut self, cmd: RtcCommand) {
        let mut reports = Reports::default();
        let result = match cmd {
            RtcCommand::Create { link, remote_offer, .. } => {
                self.rtc.create(Instant::now(), link, remote_offer, &mut reports).map_err(|e| (link, e))
            }
            RtcCommand::SetAnswer { link, sdp } => self.rtc.set_answer(link, &sdp).map_err(|e| (link, e)),
            RtcCommand::AddCandidate { link, candidate } => {
                self.rtc.add_candidate(link, &candidate);
                Ok(())
            }
            RtcCommand::Restart { link, remote_offer } => self.rtc.restart(link, remote_offer, &mut reports).map_err(|e| (link, e)),
            // The node has no STUN/TURN client (src/rtc.rs): its candidates are its own addresses.
            RtcCommand::UpdateIce { .. } => Ok(()),
            RtcCommand::Send { link, bytes } => {
                let bulk = is_transfer_frame(&bytes);
                self.rtc.send(link, bytes, bulk).map_err(|e| (link, e))
            }
            RtcCommand::Close { link } => {
                self.rtc.close(link);
                Ok(())
            }
        };
        let now = self.now();
        for (link, input) in reports.inputs {
            self.peer.handle_input(now, Input::Rtc { link, input });
        }
        if let Err((link, why)) = result {
            self.rtc_failed(link, why);
        }
    }

    fn open_server(&mut self, server: ServerId) {
        let Some(sock) = self.servers.get_mut(server.0 as usize) else { return };
        sock.generation = sock.generation.wrapping_add(1);
        sock.conn = Some(ServerConn::open(sock.url.clone(), server, sock.generation, self.reports.clone()));
        let now = self.now();
        self.peer.handle_input(now, Input::Server { server, input: ServerInput::Connecting });
    }

    fn on_server(&mut self, rep: ServerReport) {
        let Some(sock) = self.servers.get_mut(rep.server.0 as usize) else { return };
        if sock.generation != rep.generation || sock.conn.is_none() {
            return; // a replaced connection
        }
        if rep.input == ServerInput::Closed {
            sock.conn = None;
        }
        let now = self.now();
        self.peer.handle_input(now, Input::Server { server: rep.server, input: rep.input });
    }

    fn on_command(&mut self, cmd: Command) {
        let now = self.now();
        match cmd {
            Command::PutInline { name, value, reply } => {
                self.stats.puts += 1;
                let (size, digest) = (value.len() as u64, Id::hash(&value));
                match self.peer.put(now, name, value) {
                    Ok(req) => {
                        self.puts.insert(req, PendingPut { reply, size, digest });
                    }
                    Err(e) => self.refuse_put(reply, e),
                }
            }
            Command::PutBlob { blob, reply } => {
                self.stats.puts += 1;
                let (size, digest) = (blob.size, blob.digest);
                match self.peer.put_blob_for(now, blob, None) {
                    Ok(req) => {
                        self.puts.insert(req, PendingPut { reply, size, digest });
                    }
                    Err(e) => self.refuse_put(reply, e),
                }
            }
            Command::Get { name, reply } => {
                self.stats.gets += 1;
                match self.peer.get(now, Id::key_of(&name)) {
                    Ok(req) => {
                        self.gets.insert(req, reply);
                    }
                    Err(e) => {
                        self.stats.gets_failed += 1;
                        let _ = reply.send(Err(ApiError::new(command_code(&e), command_words(e))));
                    }
                }
            }
            Command::State { reply } => {
                let mut driver = self.stats.clone();
                driver.store_bytes = self.store.bytes_used();
                let _ = reply.send(Snapshot { state: self.peer.state(), driver });
            }
        }
    }

    fn refuse_put(&mut self, reply: Reply<PutResult>, e: CommandError) {
        self.stats.puts_failed += 1;
        let _ = reply.send(Err(ApiError::new(command_code(&e), command_words(e))));
    }

    fn on_event(&mut self, ev: PeerEvent) {
        match ev {
            PeerEvent::Node(ev) => self.on_node_event(ev),
            PeerEvent::LinkOpened { peer, via } => tracing::info!(peer = %peer.to_hex(), ?via, "link open"),
            PeerEvent::LinkClosed { peer } => tracing::info!(peer = %peer.to_hex(), "link closed"),
            PeerEvent::LinkFailed { peer, reason } => tracing::info!(peer = %peer.to_hex(), ?reason, "link failed"),
            PeerEvent::LinkRestarting { peer } => tracing::info!(peer = %peer.to_hex(), "link restarting ICE"),
            PeerEvent::BootstrapFailed { reason } => tracing::warn!(%reason, "bootstrap failed; retrying"),
            PeerEvent::BadHolder { peer, name, .. } => tracing::warn!(peer = %peer.to_hex(), %name, "a holder sent corrupt bytes"),
            PeerEvent::IceServers { .. } | PeerEvent::Progress { .. } => {}
        }
    }

    fn on_node_event(&mut self, ev: Event) {
        match ev {
            Event::Joined { successor } => {
                tracing::info!(id = %self.peer.id().to_hex(), successor = %successor.to_hex(), "joined the ring");
                let _ = self.joined.send(true);
            }
            Event::JoinFailed { error } => tracing::info!(%error, "join attempt failed; retrying"),
            Event::PutDone { req, key, node, hops, version } => {
                let copies = self.peer.take_put_holders(req);
                if let Some(p) = self.puts.remove(&req) {
                    let result = PutResult::new(key, node, hops, version, copies, Some((p.size, p.digest)));
                    let _ = p.reply.send(Ok(result));
                }
            }
            Event::GetDone { req, record, .. } => {
                let blob = record.as_ref().is_some_and(|r| r.is_blob());
                match self.gets.remove(&req) {
                    Some(reply) => {
                        let found = record.map(|r| match r.as_blob() {
                            Some(b) => GetResult::Blob { get: req.get(), size: b.size, digest: b.digest, chunks: chunk_count(b.size) },
                            None => GetResult::Inline { digest: Id::hash(&r.value), value: r.value },
                        });
                        if reply.send(Ok(found)).is_err() && blob {
                            self.worker.push(Job::DropGet(req.get()));
                        }
                    }
                    None if blob => self.worker.push(Job::DropGet(req.get())),
                    None => {}
                }
            }
            Event::Stored { record, .. } => {
                tracing::debug!(name = %record.name, size = record.size, "holding");
                self.worker.push(Job::Persist(record.key, Some(record)));
            }
            Event::Dropped { key, .. } => self.worker.push(Job::Persist(key, None)),
            Event::RequestFailed { req, error, .. } => {
                self.worker.push(Job::DropGet(req.get()));
                let (code, message) = (request_code(&error), error.to_string());
                if let Some(p) = self.puts.remove(&req) {
                    self.stats.puts_failed += 1;
                    let _ = p.reply.send(Err(ApiError::new(code, format!("could not store it: {message}"))));
                } else if let Some(r) = self.gets.remove(&req) {
                    self.stats.gets_failed += 1;
                    let _ = r.send(Err(ApiError::new(code, format!("could not fetch it: {message}"))));
                }
            }
            Event::LostRing => tracing::warn!("lost every neighbour; rejoining"),
            Event::Left => {
                tracing::info!("left the ring");
                self.left = true;
            }
            Event::LookupDone { .. } | Event::SuccessorChanged { .. } | Event::PredecessorChanged { .. } => {}
        }
    }
}

/// A refused command in words for the user.
fn command_words(e: CommandError) -> String {
    match e {
        CommandError::NotJoined => "this node is not part of a ring yet (joining, or it lost every neighbour)".into(),
        CommandError::Busy(n) => format!("{n} requests are already in flight; try again in a moment"),
        other => other.to_string(),
    }
}
