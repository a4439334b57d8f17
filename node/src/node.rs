//! Starting a node: its options, its id (kept in the store), its socket and
//! candidates, the driver and the HTTP API, and a graceful stop on SIGTERM.

use crate::command::Handle;
use crate::driver::{run as run_driver, DriverSetup};
use crate::store::Store;
use chord::ice::IcePolicy;
use chord::id::Id;
use chord::link::LinkConfig;
use chord::peer::{Input, Peer, PeerConfig};
use chord::time::Millis;
use clap::{Args, ValueEnum};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// How a node is run (the CLI's options).
#[derive(Args, Debug, Clone)]
pub struct NodeArgs {
    /// Signaling server(s) to join through, e.g. ws://127.0.0.1:8080/ws (comma-separated, at most 4).
    #[arg(long, value_delimiter = ',', required = true, value_name = "URL[,URL…]")]
    pub signal: Vec<String>,
    /// The ring to join.
    #[arg(long, default_value = chord::signal::DEFAULT_RING)]
    pub ring: String,
    /// Directory of the node's store (records, file chunks, its id); created if missing.
    #[arg(long, value_name = "DIR", required = true)]
    pub data: Option<PathBuf>,
    /// UDP address every WebRTC link uses. With an unspecified IP (0.0.0.0)
    /// the node announces the address of its default route.
    #[arg(long, default_value = "0.0.0.0:0", value_name = "IP:PORT")]
    pub listen: SocketAddr,
    /// Address of the HTTP API (keep it on loopback: it has no authentication).
    #[arg(long, default_value = "127.0.0.1:7700", value_name = "IP:PORT")]
    pub api: SocketAddr,
    /// Most bytes of file chunks the store holds; beyond, writes are refused with `quota`.
    #[arg(long, value_name = "BYTES")]
    pub max_bytes: Option<u64>,
    /// Keep only loopback ICE candidates (tests on one machine).
    #[arg(long)]
    pub loopback_only: bool,
}

/// Log output.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logs to stderr; `RUST_LOG` filters (default `info`, str0m at `warn`).
pub fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,str0m=warn,dimpl=warn,sctp_proto=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The node's id: the one in the store, or a fresh random one (then stored).
fn node_id(store: &Store) -> Result<Id, String> {
    if let Some(id) = store.node_id().map_err(|e| e.to_string())? {
        return Ok(id);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a node id: {e}"))?;
    let id = Id::hash(&bytes);
    store.set_node_id(&id).map_err(|e| e.to_string())?;
    Ok(id)
}

/// The address to announce for a socket bound to `bound`: itself, or for an
/// unspecified IP the source address of the default route (found by
/// connecting a UDP socket, which sends nothing).
fn announced(bound: SocketAddr) -> SocketAddr {
    if !bound.ip().is_unspecified() {
        return bound;
    }
    let probe = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).and_then(|s| {
        s.connect((Ipv4Addr::new(192, 0, 2, 1), 9))?;
        s.local_addr()
    });
    let ip = probe.map(|a| a.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    SocketAddr::new(ip, bound.port())
}

/// Runs a node until SIGTERM or Ctrl-C, then leaves gracefully.
pub async fn run_node(args: NodeArgs) -> Result<(), String> {
    let data = args.data.clone().ok_or("--data DIR is required")?;
    if args.signal.is_empty() {
        return Err("--signal URL is required".into());
    }
    let store = Arc::new(Store::open(&data, args.max_bytes).map_err(|e| format!("cannot open the store in {}: {e}", data.display()))?);
    let id = node_id(&store)?;
    let socket = UdpSocket::bind(args.listen).await.map_err(|e| format!("cannot bind UDP {}: {e}", args.listen))?;
    let local = announced(socket.local_addr().map_err(|e| e.to_string())?);
    let api = tokio::net::TcpListener::bind(args.api).await.map_err(|e| format!("cannot listen for the API on {}: {e}", args.api))?;
    let api_addr = api.local_addr().map_err(|e| e.to_string())?;

    let config = PeerConfig {
        ring: args.ring.clone(),
        servers: args.signal.clone(),
        ice_policy: IcePolicy::All,
        ice_servers: None,
        links: LinkConfig { loopback_only: args.loopback_only, ..LinkConfig::default() },
        ..PeerConfig::default()
    };
    let seed = u64::from_le_bytes(id.0[..8].try_into().unwrap_or_default()) ^ std::process::id() as u64;
    let mut peer = Peer::new(id, config, seed);
    let records = store.records().map_err(|e| e.to_string())?;
    let blobs = store.complete_blobs().map_err(|e| e.to_string())?;
    tracing::info!(id = %id.to_hex(), records = records.len(), blobs = blobs.len(), "store opened");
    peer.handle_input(Millis(0), Input::Restored { records, blobs });

    let (handle, commands) = Handle::channel();
    let (joined, _) = watch::channel(false);
    // One line on stdout for scripts: where the node listens.
    println!("{}", serde_json::json!({ "event": "ready", "id": id.to_hex(), "api": api_addr.to_string(), "udp": local.to_string() }));
    tracing::info!(api = %api_addr, udp = %local, ring = %args.ring, "chord-node started");

    let (stop_tx, stop_rx) = watch::channel(false);
    let api_task = tokio::spawn(crate::api::serve(api, handle, store.clone(), wait_true(stop_rx)));
    let setup = DriverSetup { peer, servers: args.signal, socket, local: vec![local], store, commands, joined };
    let result = run_driver(setup, shutdown_signal()).await;
    let _ = stop_tx.send(true);
    let _ = api_task.await;
    result
}

async fn wait_true(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
