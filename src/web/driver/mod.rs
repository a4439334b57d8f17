//! The driver: one task per peer that owns the sans-IO [`Peer`] and its IO.
//!
//! ```text
//! loop {
//!     wait for the next Input (callbacks, API calls) or the peer's next wake-up
//!     feed it to the peer with now = performance.now()
//!     carry out every output: create/close connections, send, tell the server,
//!     resolve the API's promises, call onEvent
//! }
//! ```
//!
//! The API object shares the [`Core`] through an `Rc<RefCell<_>>`; both only
//! borrow it synchronously (never across an `await`), and JavaScript runs one
//! thing at a time, so the borrows never overlap.

mod blobs;

use super::blobstore::BlobStore;
use super::files::{cancelled, AbortHook, TransferOptions};
use super::input::{rtc_intake, Input, RtcEvent, RtcIntake, RtcSink, ServerEvent, SocketTag};
use super::js::{js_message, now, to_js};
use super::rtc::RtcLink;
use super::server::ServerConn;
use super::wake::Wake;
use crate::codes::{command_code, join_code, request_code};
use crate::id::Id;
use crate::link::{LinkId, Via};
use crate::message::ReqId;
use crate::node::Event;
use crate::peer::{Input as PeerInput, Peer, PeerEvent, PeerOutput, PutReport, RtcCommand, RtcInput, ServerId, ServerInput};
use crate::time::Millis;
use crate::transfer::chunk_count;
use crate::{CommandError, RequestError};
use futures::channel::{mpsc, oneshot};
use futures::StreamExt;
use js_sys::{Function, Uint8Array};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// A data channel's send buffer above this holds further transfer frames
/// back until `bufferedamountlow` (flow control: a sender never queues
/// without bound). Chord and link frames never wait behind them: they are
/// small, and late pings and hop receipts make a busy live tab look dead.
pub const BUFFER_HIGH_BYTES: u32 = 1024 * 1024;

/// Why a call failed: words for the person using the page, and a stable
/// code for the program (`err.code` in JavaScript; the list is in `api_types.rs`).
#[derive(Debug)]
pub struct Failure {
    /// Machine-readable: `"not_sure"`, `"timeout"`, `"cancelled"`, …
    pub code: &'static str,
    /// For the user.
    pub message: String,
}

impl From<String> for Failure {
    /// A call the caller got wrong (a bad name, bad options).
    fn from(message: String) -> Failure {
        Failure { code: "invalid", message }
    }
}

/// The answer a promise waits for: a value, or why not.
pub type Reply = oneshot::Sender<Result<JsValue, Failure>>;
/// What a started request resolves to.
pub type Answer = oneshot::Receiver<Result<JsValue, Failure>>;

/// A put or get the API waits for.
struct Pending {
    /// What the user calls the request, for error messages: "store" or "fetch".
    verb: &'static str,
    name: String,
    reply: Reply,
    /// Progress callback and abort signal.
    opts: TransferOptions,
    /// Removes the abort listener when the request ends.
    _abort: Option<AbortHook>,
    /// Size and digest of what a put stores.
    meta: Option<(u64, Id)>,
}

/// An event as `onEvent` receives it (shape in `api_types.rs`).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum JsEvent {
    Joined { successor: String },
    Successor { successor: Option<String> },
    Predecessor { predecessor: Option<String> },
    LinkOpen { peer: String, via: Via },
    LinkClosed { peer: String },
    LinkRestarting { peer: String },
    LinkFailed { peer: String, reason: crate::link::LinkFailure },
    IceServers { servers: Vec<crate::ice::IceServer> },
    Server { state: &'static str, url: String },
    LostRing,
    Left,
    BadHolder { peer: String, key: String, name: String },
    Stored { key: String, name: String, size: u64 },
    Dropped { key: String },
}

/// The socket to one signaling server.
struct Socket {
    url: String,
    conn: Option<ServerConn>,
    /// Sockets opened to it so far.
    generation: u32,
    /// One of them opened once.
    ever_open: bool,
}

/// The peer and everything the driver owns for it.
pub struct Core {
    /// The sans-IO peer.
    pub peer: Peer,
    rtc: BTreeMap<LinkId, RtcLink>,
    /// What the peer connections reported, bounded (see `peer::Intake`).
    intake: RtcIntake,
    /// The signaling servers, by `ServerId`: a socket to each.
    servers: Vec<Socket>,
    tx: mpsc::UnboundedSender<Input>,
    requests: HashMap<ReqId, Pending>,
    /// The tab's IndexedDB store (None where the browser gives no storage).
    store: Option<BlobStore>,
    /// Transfer frames held back while a channel's buffer is full.
    backlog: HashMap<LinkId, VecDeque<Vec<u8>>>,
    join: Option<Reply>,
    on_event: Option<Function>,
    wake: Wake,
    /// The wake-up the timer is set for.
    armed_for: Option<Millis>,
    stopped: bool,
}

impl Core {
    /// The tab's blob store, if the browser gives one.
    pub(super) fn store(&self) -> Option<BlobStore> {
        self.store.clone()
    }

    /// A core for `peer`; `join` is answered once the peer joined or failed to.
    pub fn new(peer: Peer, tx: mpsc::UnboundedSender<Input>, on_event: Option<Function>, join: Reply, store: Option<BlobStore>) -> Core {
        Core {
            peer,
            rtc: BTreeMap::new(),
            intake: rtc_intake(),
            servers: Vec::new(),
            tx: tx.clone(),
            requests: HashMap::new(),
            store,
            backlog: HashMap::new(),
            join: Some(join),
            on_event,
            wake: Wake::new(tx.clone()),
            armed_for: None,
            stopped: false,
        }
    }

    /// Opens a socket to each of `urls` (the peer was configured with them,
    /// in this order). Fails only if not one could even be opened.
    pub fn connect_servers(&mut self, urls: Vec<String>) -> Result<(), String> {
        if urls.is_empty() {
            return Err("no signaling server was given".into());
        }
        self.servers = urls.into_iter().map(|url| Socket { url, conn: None, generation: 0, ever_open: false }).collect();
        let now = now();
        let (mut opened, mut error) = (false, String::new());
        for i in 0..self.servers.len() {
            match self.open_server(now, ServerId(i as u8)) {
                Ok(()) => opened = true,
                Err(e) => error = e,
            }
        }
        if opened {
            Ok(())
        } else {
            Err(error)
        }
    }

    /// Opens a fresh socket to `server` (replacing any), and tells the peer.
    fn open_server(&mut self, now: Millis, server: ServerId) -> Result<(), String> {
        let Some(sock) = self.servers.get_mut(server.0 as usize) else { return Ok(()) };
        sock.conn = None;
        sock.generation = sock.generation.wrapping_add(1);
        let tag = SocketTag { server, generation: sock.generation };
        match ServerConn::open(&sock.url, self.tx.clone(), tag) {
            Ok(c) => {
                sock.conn = Some(c);
                self.peer.handle_input(now, PeerInput::Server { server, input: ServerInput::Connecting });
                Ok(())
            }
            Err(e) => {
                self.peer.handle_input(now, PeerInput::Server { server, input: ServerInput::Closed });
                Err(e)
            }
        }
    }

    /// Stores a small `value` (it rides the lookup path) under the SHA-1 of `name`.
    pub fn put(&mut self, name: String, value: Vec<u8>, opts: TransferOptions) -> Result<Answer, Failure> {
        check_name(&name)?;
        let now = now();
        let meta = Some((value.len() as u64, Id::hash(&value)));
        let started = self.peer.put(now, name.clone(), value);
        self.track(now, "store", name, started, opts, meta)
    }

    /// Fetches the value stored under the SHA-1 of `name`.
    pub fn get(&mut self, name: String, opts: TransferOptions) -> Result<Answer, Failure> {
        check_name(&name)?;
        let now = now();
        let started = self.peer.get(now, Id::key_of(&name));
        self.track(now, "fetch", name, started, opts, None)
    }

    /// Remembers a started request until its answer; sends what it produced.
    fn track(
        &mut self,
        now: Millis,
        verb: &'static str,
        name: String,
        started: Result<ReqId, CommandError>,
        opts: TransferOptions,
        meta: Option<(u64, Id)>,
    ) -> Result<Answer, Failure> {
        let req = started.map_err(|e| Failure { code: command_code(&e), message: command_error(&name, e) })?;
        let (reply, rx) = oneshot::channel();
        let abort = opts.signal.as_ref().and_then(|s| AbortHook::new(s, req, self.tx.clone()));
        if opts.aborted() {
            // Aborted before the call: no `abort` event will come.
            let _ = self.tx.unbounded_send(Input::Cancel(req));
        }
        self.requests.insert(req, Pending { verb, name, reply, opts, _abort: abort, meta });
        self.flush(now);
        Ok(rx)
    }

    /// Closes the link to `peer`.
    pub fn close_link(&mut self, peer: &Id) -> bool {
        let now = now();
        let had = self.peer.close_link(now, peer);
        self.flush(now);
        had
    }

    /// Starts a graceful leave: the hand-over goes out on the open links.
    /// A peer that is not in a ring (still joining, or lost it) just stops.
    pub fn leave(&mut self) {
        let now = now();
        let _ = self.peer.leave(now);
        self.flush(now);
    }

    /// Bytes still queued in data channels.
    pub fn buffered(&self) -> u64 {
        self.rtc.values().map(|r| r.buffered() as u64).sum()
    }

    /// Closes everything and ends the driver task.
    pub fn stop(&mut self) {
        let now = now();
        self.peer.shutdown(now);
        self.flush(now);
        self.rtc.clear();
        for s in &mut self.servers {
            s.conn = None;
        }
        self.stopped = true;
        for (_, p) in self.requests.drain() {
            let _ = p.reply.send(Err(Failure { code: "left", message: "this peer has left the ring".into() }));
        }
        let _ = self.tx.unbounded_send(Input::Wake);
    }

    /// Sets the timer for the peer's next wake-up, if that changed.
    fn arm_wake(&mut self, now: Millis) {
        let next = self.peer.poll_timeout();
        if next != self.armed_for {
            self.armed_for = next;
            if let Some(t) = next {
                self.wake.arm(t.since(now));
            }
        }
    }

    /// Whether the peer's timer runs in a worker (unthrottled in hidden tabs).
    pub fn timer_in_worker(&self) -> bool {
        self.wake.in_worker()
    }

    fn handle(&mut self, now: Millis, input: Input) {
        match input {
            Input::Rtc => self.drain_intake(now),
            Input::Server(tag, ev) => self.on_server(now, tag, ev),
            Input::Wake => {}
            Input::BlobRead { to, pull, index, bytes } => self.peer.handle_input(now, PeerInput::BlobRead { to, pull, index, bytes }),
            Input::BlobWritten { pull, index, result } => self.peer.handle_input(now, PeerInput::BlobWritten { pull, index, result }),
            Input::Cancel(req) => {
                self.peer.cancel(now, req);
                self.drop_get(req);
                if let Some(p) = self.requests.remove(&req) {
                    let verb = if p.verb == "store" { "put" } else { "get" };
                    let _ = p.reply.send(Err(Failure { code: "cancelled", message: cancelled(verb, &p.name) }));
                }
            }
        }
    }

    /// Feeds the peer everything the peer connections reported, in order;
    /// then gives up each link that sent more than the intake takes.
    fn drain_intake(&mut self, now: Millis) {
        // One pop per borrow: feeding the peer may create links whose sinks share the intake.
        loop {
            let next = self.intake.borrow_mut().pop();
            let Some((link, ev)) = next else { break };
            self.on_rtc(now, link, ev);
        }
        let overflowed: Vec<(LinkId, u64)> = self.intake.borrow().overflowed().collect();
        for (link, refused) in overflowed {
            web_sys::console::warn_1(
                &format!("chord: link {link} sent more than this tab could take in; {refused} messages refused, link closed").into(),
            );
            // Dropped first, so nothing it still sends (after the hole) is taken.
            self.rtc.remove(&link);
            self.backlog.remove(&link);
            self.intake.borrow_mut().forget(link);
            self.rtc_input(now, link, RtcInput::Overflowed(refused));
        }
        self.intake.borrow_mut().drained();
    }

    /// What `link`'s peer connection reported.
    fn on_rtc(&mut self, now: Millis, link: LinkId, ev: RtcEvent) {
        match ev {
            RtcEvent::Described(sdp) => self.rtc_input(now, link, RtcInput::Described(sdp)),
            RtcEvent::Candidate(c) => self.rtc_input(now, link, RtcInput::Candidate(c)),
            RtcEvent::Connectivity(c) => self.rtc_input(now, link, RtcInput::Connectivity(c)),
            RtcEvent::Path(p) => self.rtc_input(now, link, RtcInput::Path(p)),
            RtcEvent::Opened => {
                // The core decides what the limit means (parts, refusals).
                let reported = self.rtc.get(&link).and_then(|r| r.max_message_size());
                self.rtc_input(now, link, RtcInput::Opened(crate::link::MaxMessageSize::from_reported(reported)))
            }
            RtcEvent::Closed => self.rtc_closed(now, link),
            RtcEvent::Failed(why) => {
                web_sys::console::warn_1(&format!("chord: link {link} failed: {why}").into());
                self.rtc_closed(now, link)
            }
            RtcEvent::Message(bytes) => self.rtc_input(now, link, RtcInput::Message(bytes)),
            RtcEvent::Drained => self.drain_backlog(now, link),
        }
    }

    fn on_server(&mut self, now: Millis, tag: SocketTag, ev: ServerEvent) {
        let s = tag.server;
        let Some(sock) = self.servers.get_mut(s.0 as usize) else { return };
        if sock.generation != tag.generation || sock.conn.is_none() {
            return; // a socket already replaced or closed
        }
        let url = sock.url.clone();
        match ev {
            ServerEvent::Opened => {
                sock.ever_open = true;
                self.emit(JsEvent::Server { state: "connected", url });
                self.peer.handle_input(now, PeerInput::Server { server: s, input: ServerInput::Opened });
            }
            ServerEvent::Message(Ok(msg)) => self.peer.handle_input(now, PeerInput::Server { server: s, input: ServerInput::Message(msg) }),
            ServerEvent::Message(Err(why)) => web_sys::console::warn_1(&format!("chord: signaling {url}: {why}").into()),
            ServerEvent::Closed(reason) => {
                sock.conn = None;
                let unreachable = self.servers.iter().all(|x| x.conn.is_none() && !x.ever_open);
                if unreachable {
                    let mut msg = String::from(if self.servers.len() > 1 {
                        "cannot reach any of the signaling servers"
                    } else {
                        "cannot reach the signaling server at"
                    });
                    for (i, x) in self.servers.iter().enumerate() {
                        msg.push_str(if i == 0 { " " } else { ", " });
                        msg.push_str(&x.url);
                    }
                    msg.push_str("; is it running?");
                    self.fail_join(msg);
                } else if !reason.is_empty() {
                    web_sys::console::info_1(&format!("chord: signaling server {url} closed the connection: {reason}").into());
                }
                self.emit(JsEvent::Server { state: "closed", url });
                self.peer.handle_input(now, PeerInput::Server { server: s, input: ServerInput::Closed });
            }
        }
    }

    /// Where `link`'s callbacks report.
    fn sink(&self, link: LinkId) -> RtcSink {
        RtcSink { link, intake: self.intake.clone(), tx: self.tx.clone() }
    }

    /// Feeds what `link`'s peer connection reported to the peer.
    fn rtc_input(&mut self, now: Millis, link: LinkId, input: RtcInput) {
        self.peer.handle_input(now, PeerInput::Rtc { link, input });
    }

    /// `link` closed, failed, or the driver gave up on it.
    fn rtc_closed(&mut self, now: Millis, link: LinkId) {
        self.rtc_input(now, link, RtcInput::Closed);
    }

    /// Sends frames held back for `link` while its buffer allows.
    fn drain_backlog(&mut self, now: Millis, link: LinkId) {
        let Some(r) = self.rtc.get(&link) else {
            self.backlog.remove(&link);
            return;
        };
        let Some(q) = self.backlog.get_mut(&link) else { return };
        while r.buffered() <= BUFFER_HIGH_BYTES {
            let Some(bytes) = q.pop_front() else { break };
            if r.send(&bytes).is_err() {
                self.backlog.remove(&link);
                self.rtc_closed(now, link);
                return;
            }
        }
        if q.is_empty() {
            self.backlog.remove(&link);
        }
    }

    /// Carries out every output of the peer.
    fn flush(&mut self, now: Millis) {
        while let Some(o) = self.peer.poll_output() {
            match o {
                PeerOutput::Rtc(cmd) => self.rtc_command(now, cmd),
                PeerOutput::Server(s, msg) => {
                    if let Some(c) = self.servers.get(s.0 as usize).and_then(|x| x.conn.as_ref()) {
                        c.send(&msg);
                    }
                }
                PeerOutput::Event(ev) => self.on_peer_event(ev),
                PeerOutput::Blob(cmd) => self.blob_command(cmd),
                PeerOutput::ReconnectServer(s) => {
                    if let Err(e) = self.open_server(now, s) {
                        web_sys::console::warn_1(&format!("chord: {e}").into());
                    }
                }
            }
        }
    }

    fn rtc_command(&mut self, now: Millis, cmd: RtcCommand) {
        match cmd {
            RtcCommand::Create { link, remote_offer, ice, .. } => match RtcLink::new(self.sink(link), remote_offer, &ice) {
                Ok(r) => {
                    self.rtc.insert(link, r);
                }
                Err(e) => {
                    web_sys::console::warn_1(&format!("chord: cannot create a peer connection: {}", js_message(&e)).into());
                    self.rtc_closed(now, link);
                }
            },
            RtcCommand::SetAnswer { link, sdp } => {
                if let Some(r) = self.rtc.get(&link) {
                    r.set_answer(sdp);
                }
            }
            RtcCommand::AddCandidate { link, candidate } => {
                if let Some(r) = self.rtc.get(&link) {
                    r.add_candidate(candidate);
                }
            }
            RtcCommand::Restart { link, remote_offer } => {
                if let Some(r) = self.rtc.get(&link) {
                    r.restart(remote_offer);
                }
            }
            RtcCommand::UpdateIce { ice } => {
                for r in self.rtc.values() {
                    r.configure(ice.clone());
                }
            }
            RtcCommand::Send { link, bytes } => {
                let Some(r) = self.rtc.get(&link) else { return };
                let bulk = crate::transfer::is_transfer_frame(&bytes);
                if bulk && (self.backlog.contains_key(&link) || r.buffered() > BUFFER_HIGH_BYTES) {
                    // Bounded: transfers keep a window of chunks per pull.
                    self.backlog.entry(link).or_default().push_back(bytes);
                } else if r.send(&bytes).is_err() {
                    self.rtc_closed(now, link);
                }
            }
            RtcCommand::Close { link } => {
                self.rtc.remove(&link);
                self.backlog.remove(&link);
                self.intake.borrow_mut().forget(link);
            }
        }
    }

    fn on_peer_event(&mut self, ev: PeerEvent) {
        match ev {
            PeerEvent::Node(ev) => self.on_node_event(ev),
            PeerEvent::LinkOpened { peer, via } => self.emit(JsEvent::LinkOpen { peer: peer.to_hex(), via }),
            PeerEvent::LinkClosed { peer } => self.emit(JsEvent::LinkClosed { peer: peer.to_hex() }),
            PeerEvent::LinkRestarting { peer } => self.emit(JsEvent::LinkRestarting { peer: peer.to_hex() }),
            PeerEvent::LinkFailed { peer, reason } => self.emit(JsEvent::LinkFailed { peer: peer.to_hex(), reason }),
            PeerEvent::IceServers { servers } => self.emit(JsEvent::IceServers { servers }),
            PeerEvent::BootstrapFailed { reason } => self.fail_join(reason),
            PeerEvent::Progress { req, phase, done, total } => self.on_progress(req, phase, done, total),
            PeerEvent::BadHolder { peer, key, name } => self.emit(JsEvent::BadHolder { peer: peer.to_hex(), key: key.to_hex(), name }),
        }
    }

    fn on_node_event(&mut self, ev: Event) {
        match ev {
            Event::Joined { successor } => {
                if let Some(j) = self.join.take() {
                    let _ = j.send(Ok(JsValue::UNDEFINED));
                }
                self.emit(JsEvent::Joined { successor: successor.to_hex() });
            }
            // The peer tries again by itself (see `Peer`); the join promise
            // is settled by a later `Joined`, a `BootstrapFailed` or its timeout.
            Event::JoinFailed { error } => web_sys::console::info_1(&format!("chord: join attempt failed: {error}; retrying").into()),
            Event::PutDone { req, key, node, hops, version } => {
                let copies = self.peer.take_put_holders(req);
                if let Some(Pending { reply, meta, .. }) = self.requests.remove(&req) {
                    let result = PutReport::new(key, node, hops, version, copies, meta);
                    let _ = reply.send(to_js(&result).map_err(Failure::from));
                }
            }
            Event::GetDone { req, record, .. } => {
                if let Some(Pending { reply, .. }) = self.requests.remove(&req) {
                    let value = match record {
                        None => Ok(JsValue::UNDEFINED),
                        Some(r) if r.is_blob() => return self.answer_get(req, chunk_count(r.size), reply),
                        Some(r) => web_sys::Blob::new_with_u8_array_sequence(&js_sys::Array::of1(&Uint8Array::from(r.value.as_slice())))
                            .map(JsValue::from)
                            .map_err(|_| Failure::from("the browser could not assemble the file".to_string())),
                    };
                    let _ = reply.send(value);
                } else if record.as_ref().is_some_and(|r| r.is_blob()) {
                    self.drop_get(req);
                }
            }
            Event::Stored { record, .. } => {
                self.persist(Some(&record), record.key);
                self.emit(JsEvent::Stored { key: record.key.to_hex(), name: record.name.clone(), size: record.size });
            }
            Event::Dropped { key, .. } => {
                self.persist(None, key);
                self.emit(JsEvent::Dropped { key: key.to_hex() });
            }
            Event::RequestFailed { req, error, .. } => {
                self.drop_get(req);
                if let Some(Pending { verb, name, reply, .. }) = self.requests.remove(&req) {
                    let message = format!("could not {verb} \"{name}\": {}", request_error(&error));
                    let _ = reply.send(Err(Failure { code: request_code(&error), message }));
                }
            }
            Event::LookupDone { .. } => {}
            Event::SuccessorChanged { successor } => self.emit(JsEvent::Successor { successor: successor.map(|s| s.to_hex()) }),
            Event::PredecessorChanged { predecessor } => self.emit(JsEvent::Predecessor { predecessor: predecessor.map(|p| p.to_hex()) }),
            Event::LostRing => self.emit(JsEvent::LostRing),
            Event::Left => self.emit(JsEvent::Left),
        }
    }

    fn fail_join(&mut self, reason: String) {
        if let Some(j) = self.join.take() {
            let _ = j.send(Err(Failure { code: join_code(&reason), message: reason }));
        }
    }

    /// Calls `onEvent` from a fresh task, after the core is released, so the
    /// callback may call back into the peer (`state()`, `put()`, …).
    fn emit(&self, ev: JsEvent) {
        if let (Some(f), Ok(v)) = (self.on_event.clone(), to_js(&ev)) {
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = f.call1(&JsValue::NULL, &v) {
                    web_sys::console::error_2(&"chord: onEvent threw".into(), &e);
                }
            });
        }
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a file needs a name".into());
    }
    if name.len() > 1024 {
        return Err("file names are limited to 1024 bytes".into());
    }
    Ok(())
}

fn command_error(name: &str, e: CommandError) -> String {
    match e {
        CommandError::NotJoined => "this tab is not part of a ring (it left, or lost every neighbour)".into(),
        CommandError::ValueTooLarge(n) => format!("\"{name}\" is {n} bytes, too large to send inline"),
        CommandError::BlobSize(n) => format!("\"{name}\" is {n} bytes; files of 1 byte to 1 GiB can be stored"),
        CommandError::Busy(n) => format!("{n} requests are already in flight; try again in a moment"),
        other => other.to_string(),
    }
}

fn request_error(e: &RequestError) -> String {
    match e {
        RequestError::Timeout { attempts } => {
            format!("no node answered after {attempts} attempts; the peers responsible may have just left, try again")
        }
        RequestError::Refused(crate::transfer::Refusal::PullFailed) => {
            "the tab responsible for it could not copy it (its storage may be full, or this tab's link to it failed)".into()
        }
        other => other.to_string(),
    }
}

/// The driver task: runs until the core is stopped.
pub async fn run(core: Rc<RefCell<Core>>, mut rx: mpsc::UnboundedReceiver<Input>) {
    loop {
        {
            let mut c = core.borrow_mut();
            if c.stopped {
                return;
            }
            let now = now();
            c.peer.handle_input(now, PeerInput::Timeout);
            c.flush(now);
            c.arm_wake(now);
        }
        let Some(input) = rx.next().await else { return };
        let mut c = core.borrow_mut();
        if c.stopped {
            return;
        }
        c.handle(now(), input);
    }
}
