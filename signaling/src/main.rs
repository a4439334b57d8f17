//! `chord-signaling`: command-line flags and startup.

use chord_signaling::Config;
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest duration a flag accepts: one day, in milliseconds.
const MAX_MS: u64 = 24 * 3600 * 1000;

/// Bootstrap signaling server for the browser Chord ring.
///
/// Serves the peer page from --www at `/`, the signaling WebSocket at `/ws`
/// and counters at `/stats`. A newcomer is told it is the first member of its
/// ring, or is introduced to one live member; the server relays the WebRTC
/// offer/answer/ICE of that one introduction and nothing else.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Args {
    /// Address to listen on. Keep it on loopback unless a reverse proxy terminates TLS in front.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Directory served as static files at `/` (a missing directory only makes `/` answer 404).
    #[arg(long, default_value = "www")]
    www: PathBuf,
    /// Milliseconds an introducer may stay silent before the newcomer is introduced to another member.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=MAX_MS))]
    intro_timeout_ms: u64,
    /// Milliseconds an introduction may stay open at all before the server stops relaying for it.
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..=MAX_MS))]
    intro_lifetime_ms: u64,
    /// Introductions tried for one newcomer before it is told the attempt failed.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    intro_tries: u32,
    /// Milliseconds a new connection has to send its hello.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=MAX_MS))]
    hello_timeout_ms: u64,
    /// Milliseconds without any frame (pongs included) after which a connection is closed.
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..=MAX_MS))]
    idle_timeout_ms: u64,
    /// Most simultaneous WebSocket connections; further upgrades get 503.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Seed for choosing introducers (default: from the clock), for reproducing a run.
    #[arg(long)]
    seed: Option<u64>,
}

impl Args {
    fn config(&self) -> Config {
        let seed = self.seed.unwrap_or_else(|| {
            // Any varying value will do; the choice of introducer only needs to spread load.
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
            nanos ^ u64::from(std::process::id())
        });
        Config {
            www: self.www.clone(),
            intro_timeout: Duration::from_millis(self.intro_timeout_ms),
            intro_lifetime: Duration::from_millis(self.intro_lifetime_ms),
            intro_tries: self.intro_tries,
            hello_timeout: Duration::from_millis(self.hello_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            max_connections: self.max_connections,
            seed,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour).init();
    let config = args.config();
    if !config.www.is_dir() {
        tracing::warn!(www = %config.www.display(), "static directory not found; `/` will answer 404");
    }
    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("chord-signaling: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().map_or_else(|_| args.addr.to_string(), |a| a.to_string());
    tracing::info!("listening on http://{local} (WebSocket at /ws, counters at /stats)");
    tokio::select! {
        served = chord_signaling::run(listener, config) => {
            if let Err(e) = served {
                eprintln!("chord-signaling: server failed: {e}");
                return ExitCode::FAILURE;
            }
        }
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; shutting down"),
    }
    ExitCode::SUCCESS
}
