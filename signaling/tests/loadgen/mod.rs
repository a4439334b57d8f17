//! The load driver behind `tests/load.rs` and `examples/signaling-load.rs`.
//!
//! It starts the server binary as a child process on 127.0.0.1, so that the
//! resident memory read from `/proc/<pid>/status` is the server's alone; opens
//! [`Plan::clients`] idle WebSocket members in batches (each says hello, joins
//! a ring, reports member, then only answers the server's pings); holds them
//! for [`Plan::hold`]; and the whole time, one after the other, introduces
//! well-behaved newcomer pairs end to end. Every step is bounded by
//! [`STEP_TIMEOUT`] and the whole run by [`Plan::deadline`], so a stuck
//! server fails the run instead of hanging it; the server is killed when the
//! driver is done, however it ends.

#![allow(dead_code)] // The test and the example read different parts of the report.

use chord::signal::{ClientMsg, ServerMsg, SignalPayload, SIGNAL_VERSION};
use chord::Id;
use chord_signaling::Stats;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Longest any single step may take: one connection, one introduction, one
/// `/stats` request, the server's startup.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections the server must allow beyond the idle clients: the pair being
/// introduced, `/stats` requests, a margin for sockets still closing.
const SPARE_CONNECTIONS: usize = 64;
/// File descriptors this process needs beyond one per client.
const SPARE_FILES: u64 = 1024;
/// How often the server's memory is sampled while the clients are held.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(250);
/// Read buffer of each client's WebSocket: the clients only read pings and
/// small messages, and 10,000 of tungstenite's default 128 KiB would cost
/// this process more than a gigabyte.
const CLIENT_READ_BUFFER: usize = 4 * 1024;
/// Server log lines kept for an error report.
const LOG_LINES: usize = 50;

/// What to run.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// Idle WebSocket members held at once.
    pub clients: usize,
    /// Connections opened at a time while ramping up.
    pub batch: usize,
    /// Members per ring (the idle clients spread over `clients / ring_size` rings).
    pub ring_size: usize,
    /// How long all clients are held open once connected.
    pub hold: Duration,
    /// Pause between two pair introductions.
    pub pair_interval: Duration,
    /// The server's idle timeout; it pings every third of it, so the idle
    /// clients are pinged several times during the hold.
    pub idle_timeout: Duration,
    /// Bound on the whole run.
    pub deadline: Duration,
}

/// What a run measured. Memory in KiB as `/proc` reports it.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The plan that was run.
    pub plan: Plan,
    /// Time to open all clients (connect, upgrade, hello, welcome, member).
    pub open_seconds: f64,
    /// Server resident memory before the first client.
    pub baseline_rss_kib: u64,
    /// Highest resident memory sampled while all clients were held.
    pub held_rss_kib: u64,
    /// The server's peak resident memory over its whole life (VmHWM).
    pub peak_rss_kib: u64,
    /// (held - baseline) / clients, in bytes: what one idle connection costs.
    pub rss_per_connection_bytes: u64,
    /// Peak / clients, in bytes: the whole server's memory per connection.
    pub peak_per_connection_bytes: u64,
    /// Newcomer pairs introduced end to end during the run.
    pub pairs_introduced: usize,
    /// Of these, the ones introduced while all clients were connected.
    pub pairs_at_full_load: usize,
    /// Median time of one pair introduction (two connects, four relayed steps).
    pub intro_median_ms: f64,
    /// Slowest pair introduction.
    pub intro_max_ms: f64,
    /// Idle clients whose connection ended before the driver closed it.
    pub clients_dropped: usize,
    /// The server's counters at the end of the hold.
    pub stats: Stats,
    /// The server's last log lines.
    #[serde(skip)]
    pub log: String,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The server binary could not be started or did not report its address.
    #[error("starting the server: {0}")]
    Start(String),
    /// This process may not open enough files for the clients.
    #[error("need {needed} open files, the limit is {got}")]
    Files {
        /// Files needed.
        needed: u64,
        /// The soft limit reached.
        got: u64,
    },
    /// A client could not connect or was refused.
    #[error("client {client}: {error}")]
    Client {
        /// Which client.
        client: String,
        /// What went wrong.
        error: String,
    },
    /// A pair introduction did not go as the protocol says.
    #[error("pair {pair}: {error}")]
    Pair {
        /// Which pair.
        pair: usize,
        /// What went wrong.
        error: String,
    },
    /// Something took longer than allowed.
    #[error("{0} took too long")]
    Timeout(String),
    /// The server's memory could not be read.
    #[error("reading the server's memory: {0}")]
    Memory(String),
    /// `/stats` failed.
    #[error("reading /stats: {0}")]
    Stats(String),
}

/// Starts the server at `bin`, runs `plan` against it, and stops it.
pub async fn measure(bin: &Path, plan: &Plan) -> Result<Report, LoadError> {
    raise_open_files(plan.clients as u64 + SPARE_FILES)?;
    let server = ServerProcess::start(bin, &server_args(plan))?;
    let run = tokio::time::timeout(plan.deadline, drive(&server, plan)).await;
    let result = run.unwrap_or_else(|_| Err(LoadError::Timeout(format!("the whole run ({:?})", plan.deadline))));
    if result.is_err() {
        eprintln!("last server log lines:\n{}", server.log());
    }
    result
}

/// The server's flags for `plan`: room for every client from one address,
/// and no grace period (each ring's founder is answered at once).
fn server_args(plan: &Plan) -> Vec<String> {
    let room = (plan.clients + SPARE_CONNECTIONS).to_string();
    let missing_www = std::env::temp_dir().join("chord-signaling-load-no-www");
    vec![
        "--addr".into(),
        "127.0.0.1:0".into(),
        "--www".into(),
        missing_www.display().to_string(),
        "--max-connections".into(),
        room.clone(),
        "--max-per-address".into(),
        room,
        "--max-per-ring".into(),
        plan.ring_size.to_string(),
        "--idle-timeout-ms".into(),
        plan.idle_timeout.as_millis().to_string(),
        "--seed".into(),
        "1".into(),
        "--grace".into(),
        "0".into(),
    ]
}

/// Opens the clients while introducing pairs, holds them, reports.
async fn drive(server: &ServerProcess, plan: &Plan) -> Result<Report, LoadError> {
    let addr = server.addr;
    let baseline = server.memory()?;
    let full = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let pairs = tokio::spawn(introduce_pairs(addr, plan.pair_interval, full.clone(), stop.clone()));

    let dropped = Arc::new(AtomicUsize::new(0));
    let mut readers = JoinSet::new();
    let started = Instant::now();
    for first in (0..plan.clients).step_by(plan.batch.max(1)) {
        let last = (first + plan.batch.max(1)).min(plan.clients);
        let batch = (first..last).map(|i| open_member(addr, i, plan.ring_size));
        for ws in futures_util::future::try_join_all(batch).await? {
            readers.spawn(idle(ws, dropped.clone()));
        }
        if pairs.is_finished() {
            break; // A failed pair ends the run; its error is reported below.
        }
    }
    let open_seconds = started.elapsed().as_secs_f64();
    full.store(true, Ordering::SeqCst);

    let mut held = server.memory()?;
    let hold_until = Instant::now() + plan.hold;
    while Instant::now() < hold_until && !pairs.is_finished() {
        tokio::time::sleep(SAMPLE_INTERVAL).await;
        held.rss_kib = held.rss_kib.max(server.memory()?.rss_kib);
    }
    let stats = stats(addr).await?;
    stop.store(true, Ordering::SeqCst);
    let latencies = pairs.await.map_err(|e| LoadError::Pair { pair: 0, error: e.to_string() })??;
    let peak = server.memory()?;
    readers.abort_all();

    let clients = plan.clients.max(1) as u64;
    let mut all: Vec<f64> = latencies.iter().map(|l| l.latency.as_secs_f64() * 1e3).collect();
    all.sort_by(f64::total_cmp);
    Ok(Report {
        plan: plan.clone(),
        open_seconds,
        baseline_rss_kib: baseline.rss_kib,
        held_rss_kib: held.rss_kib,
        peak_rss_kib: peak.hwm_kib,
        rss_per_connection_bytes: held.rss_kib.saturating_sub(baseline.rss_kib) * 1024 / clients,
        peak_per_connection_bytes: peak.hwm_kib * 1024 / clients,
        pairs_introduced: latencies.len(),
        pairs_at_full_load: latencies.iter().filter(|l| l.at_full_load).count(),
        intro_median_ms: all.get(all.len() / 2).copied().unwrap_or(0.0),
        intro_max_ms: all.last().copied().unwrap_or(0.0),
        clients_dropped: dropped.load(Ordering::SeqCst),
        stats,
        log: server.log(),
    })
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects one WebSocket to the server.
async fn connect(addr: SocketAddr) -> Result<Ws, String> {
    let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
    let connect = tokio_tungstenite::connect_async_with_config(format!("ws://{addr}/ws"), Some(config), false);
    match tokio::time::timeout(STEP_TIMEOUT, connect).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("connect timed out".into()),
    }
}

async fn send(ws: &mut Ws, msg: &ClientMsg) -> Result<(), String> {
    let text = serde_json::to_string(msg).map_err(|e| e.to_string())?;
    ws.send(Message::text(text)).await.map_err(|e| e.to_string())
}

/// The next protocol message, skipping pings.
async fn recv(ws: &mut Ws) -> Result<ServerMsg, String> {
    let next = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).map_err(|e| e.to_string()),
                Some(Ok(Message::Close(frame))) => return Err(format!("closed by the server: {frame:?}")),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("connection ended".into()),
            }
        }
    };
    tokio::time::timeout(STEP_TIMEOUT, next).await.unwrap_or_else(|_| Err("no message in time".into()))
}

fn hello(ring: &str, id: u64) -> ClientMsg {
    ClientMsg::Hello { version: SIGNAL_VERSION, ring: ring.into(), id: Id::from_u64(id), member: false }
}

/// Idle client `i`: joins ring `idle-<i / ring_size>` and reports member.
async fn open_member(addr: SocketAddr, i: usize, ring_size: usize) -> Result<Ws, LoadError> {
    let fail = |error: String| LoadError::Client { client: format!("idle {i}"), error };
    let mut ws = connect(addr).await.map_err(fail)?;
    let ring = format!("idle-{}", i / ring_size.max(1));
    send(&mut ws, &hello(&ring, i as u64 + 1)).await.map_err(fail)?;
    match recv(&mut ws).await.map_err(fail)? {
        ServerMsg::Welcome { .. } => {}
        other => return Err(fail(format!("expected a welcome, got {other:?}"))),
    }
    send(&mut ws, &ClientMsg::Member).await.map_err(fail)?;
    Ok(ws)
}

/// Reads (and so answers pings) until the connection ends or the task is aborted.
async fn idle(mut ws: Ws, dropped: Arc<AtomicUsize>) {
    while let Some(Ok(_)) = ws.next().await {}
    dropped.fetch_add(1, Ordering::SeqCst);
}

/// One pair introduction's outcome.
struct PairTime {
    latency: Duration,
    at_full_load: bool,
}

/// Introduces pairs one after the other until `stop`.
async fn introduce_pairs(
    addr: SocketAddr,
    interval: Duration,
    full: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Result<Vec<PairTime>, LoadError> {
    let mut times = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let at_full_load = full.load(Ordering::SeqCst);
        let pair = times.len();
        let latency = introduce_pair(addr, pair).await.map_err(|error| LoadError::Pair { pair, error })?;
        times.push(PairTime { latency, at_full_load });
        tokio::time::sleep(interval).await;
    }
    Ok(times)
}

/// A founder and a newcomer in a fresh ring: welcome, introduce, offer,
/// answer, member. Returns the time from the founder's connect to the
/// newcomer's member.
async fn introduce_pair(addr: SocketAddr, pair: usize) -> Result<Duration, String> {
    let started = Instant::now();
    let ring = format!("pair-{pair}");
    let (a, b) = (1, 2);
    let mut founder = connect(addr).await?;
    send(&mut founder, &hello(&ring, a)).await?;
    match recv(&mut founder).await? {
        ServerMsg::Welcome { first: true, .. } => {}
        other => return Err(format!("founder: expected welcome first, got {other:?}")),
    }
    send(&mut founder, &ClientMsg::Member).await?;
    let mut newcomer = connect(addr).await?;
    send(&mut newcomer, &hello(&ring, b)).await?;
    let intro = match recv(&mut newcomer).await? {
        ServerMsg::Welcome { first: false, intro: Some(intro), introducer: Some(by), .. } if by == Id::from_u64(a) => intro,
        other => return Err(format!("newcomer: expected an introduction to the founder, got {other:?}")),
    };
    match recv(&mut founder).await? {
        ServerMsg::Introduce { intro: i, newcomer: n } if i == intro && n == Id::from_u64(b) => {}
        other => return Err(format!("founder: expected introduce, got {other:?}")),
    }
    let offer = SignalPayload::Offer { sdp: "v=0".into() };
    send(&mut newcomer, &ClientMsg::Signal { intro, payload: offer }).await?;
    match recv(&mut founder).await? {
        ServerMsg::Signal { intro: i, payload: SignalPayload::Offer { .. }, .. } if i == intro => {}
        other => return Err(format!("founder: expected the offer, got {other:?}")),
    }
    let answer = SignalPayload::Answer { sdp: "v=0".into() };
    send(&mut founder, &ClientMsg::Signal { intro, payload: answer }).await?;
    match recv(&mut newcomer).await? {
        ServerMsg::Signal { intro: i, payload: SignalPayload::Answer { .. }, .. } if i == intro => {}
        other => return Err(format!("newcomer: expected the answer, got {other:?}")),
    }
    send(&mut newcomer, &ClientMsg::Member).await?;
    let latency = started.elapsed();
    for ws in [&mut founder, &mut newcomer] {
        send(ws, &ClientMsg::Bye).await?;
    }
    Ok(latency)
}

/// `GET /stats`.
async fn stats(addr: SocketAddr) -> Result<Stats, LoadError> {
    let fetch = async {
        let mut tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let request = format!("GET /stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut raw = String::new();
        tcp.read_to_string(&mut raw).await.map_err(|e| e.to_string())?;
        let (_, body) = raw.split_once("\r\n\r\n").ok_or("no body")?;
        serde_json::from_str(body).map_err(|e| format!("{e}: {raw}"))
    };
    match tokio::time::timeout(STEP_TIMEOUT, fetch).await {
        Ok(result) => result.map_err(LoadError::Stats),
        Err(_) => Err(LoadError::Timeout("GET /stats".into())),
    }
}

/// Raises this process's soft open-files limit to at least `needed`.
fn raise_open_files(needed: u64) -> Result<(), LoadError> {
    match rlimit::increase_nofile_limit(needed) {
        Ok(got) if got >= needed => Ok(()),
        Ok(got) => Err(LoadError::Files { needed, got }),
        Err(e) => Err(LoadError::Start(format!("cannot raise the open-files limit: {e}"))),
    }
}

/// Resident memory of a process, in KiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_kib: u64,
    /// VmHWM: the most it was ever resident.
    pub hwm_kib: u64,
}

/// The server binary running as a child process; killed on drop.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl ServerProcess {
    /// Starts `bin` with `args` and waits for its "listening on" line.
    pub fn start(bin: &Path, args: &[String]) -> Result<ServerProcess, LoadError> {
        let mut child = Command::new(bin)
            .args(args)
            .env("RUST_LOG", std::env::var("LOAD_SERVER_LOG").unwrap_or_else(|_| "info".into()))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| LoadError::Start(format!("{}: {e}", bin.display())))?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (found, address) = mpsc::channel();
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            // Drains the log for the server's whole life, so it never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(addr) = listening_address(&line) {
                        let _ = found.send(addr);
                    }
                    let mut log = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    log.push_back(line);
                    if log.len() > LOG_LINES {
                        log.pop_front();
                    }
                }
            });
        }
        let mut server = ServerProcess { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), log };
        server.addr = address
            .recv_timeout(STEP_TIMEOUT)
            .map_err(|_| LoadError::Start(format!("no \"listening on\" line within {STEP_TIMEOUT:?}:\n{}", server.log())))?;
        Ok(server)
    }

    /// The server's resident memory now and at its peak.
    pub fn memory(&self) -> Result<Memory, LoadError> {
        let path = PathBuf::from(format!("/proc/{}/status", self.child.id()));
        let status = std::fs::read_to_string(&path).map_err(|e| LoadError::Memory(format!("{}: {e}", path.display())))?;
        let field = |name: &str| -> Result<u64, LoadError> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| LoadError::Memory(format!("no {name} in {}", path.display())))
        };
        Ok(Memory { rss_kib: field("VmRSS:")?, hwm_kib: field("VmHWM:")? })
    }

    /// The last lines the server logged.
    pub fn log(&self) -> String {
        let log = self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        log.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in the server's "listening on http://ADDR ..." line.
fn listening_address(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once("listening on http://")?;
    rest.split_whitespace().next()?.parse().ok()
}
