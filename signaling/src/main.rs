//! `chord-signaling`: command-line flags and startup.

#![forbid(unsafe_code)]

use chord::ice::{IceUrl, IceUrlError};
use chord_signaling::config::{
    DEFAULT_GRACE_SECS, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MAX_PER_ADDRESS, DEFAULT_MAX_PER_RING, DEFAULT_MESSAGE_BURST,
    DEFAULT_MESSAGE_RATE, DEFAULT_TURN_TTL_SECS,
};
use chord_signaling::ice::{read_secret_file, IceConfigError, IceServers, TurnAuth, UnixClock, MIN_TURN_TTL};
use chord_signaling::Config;
use clap::builder::RangedU64ValueParser;
use clap::Parser;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest duration a flag accepts: one day, in milliseconds.
const MAX_MS: u64 = 24 * 3600 * 1000;
/// Longest TURN credential lifetime a flag accepts: 30 days, in seconds.
const MAX_TURN_TTL_SECS: u64 = 30 * 24 * 3600;
/// Longest grace period a flag accepts: one hour, in seconds.
const MAX_GRACE_SECS: u64 = 3600;

/// Bootstrap signaling server for the browser Chord ring.
///
/// Serves the peer page from --www at `/`, the signaling WebSocket at `/ws`
/// and counters at `/stats`. A newcomer is told it is the first member of its
/// ring, or is introduced to one live member; the server relays the WebRTC
/// offer/answer/ICE of that one introduction and nothing else.
///
/// A member that reconnects says so in its hello; if its ring has other
/// members, the server introduces it to one of them as well (a meeting), so
/// that rings of the same name formed apart can find each other. For --grace
/// seconds after it starts, the server does not let a newcomer found a ring it
/// knows no member of: it holds the newcomer unanswered until a member of that
/// ring reconnects (the newcomer is then introduced to it) or the grace period
/// ends (the first newcomer held then founds the ring, and the others are
/// introduced to it). A restart thus does not split the rings it serves.
///
/// Every welcome carries the STUN/TURN servers given with --ice-server. TURN
/// needs credentials: with --turn-secret-file (coturn use-auth-secret) the
/// server mints them per peer, `<expiry>:<peer id>` and
/// base64(HMAC-SHA1(secret, username)), valid for --turn-ttl seconds and
/// refreshed at half that while the peer stays connected; with
/// --turn-username and --turn-password-file everyone gets the same ones.
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
    /// Seconds after startup during which a newcomer to a ring the server knows no member of is held, unanswered,
    /// until a member of that ring reconnects (then it is introduced to it) or the period ends (then the first one
    /// held founds the ring and the others are introduced to it); 0 disables it: a ring's first newcomer founds it.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_GRACE_SECS,
          value_parser = clap::value_parser!(u64).range(0..=MAX_GRACE_SECS))]
    grace: u64,
    /// Milliseconds a new connection has to send its hello.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=MAX_MS))]
    hello_timeout_ms: u64,
    /// Milliseconds without any frame (pongs included) after which a connection is closed.
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..=MAX_MS))]
    idle_timeout_ms: u64,
    /// Most simultaneous WebSocket connections; further upgrades get 503.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Most open connections from one client address (IPv6: per /64), HTTP and WebSocket alike; further ones get 429.
    #[arg(long, default_value_t = DEFAULT_MAX_PER_ADDRESS, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    max_per_address: usize,
    /// Most peers in one ring; a further hello is closed with "ring ... is full".
    #[arg(long, default_value_t = DEFAULT_MAX_PER_RING, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    max_per_ring: usize,
    /// Milliseconds a client has to send its HTTP request head (new or kept-alive connection) before it is closed.
    #[arg(long, default_value_t = DEFAULT_HANDSHAKE_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..=MAX_MS))]
    handshake_timeout_ms: u64,
    /// Frames per second one WebSocket may send, sustained (pings and pongs count); a client over it is closed.
    #[arg(long, default_value_t = DEFAULT_MESSAGE_RATE.get(), value_parser = clap::value_parser!(u32).range(1..))]
    message_rate: u32,
    /// Frames one WebSocket may send in one burst; the allowance refills at --message-rate.
    #[arg(long, default_value_t = DEFAULT_MESSAGE_BURST.get(), value_parser = clap::value_parser!(u32).range(1..))]
    message_burst: u32,
    /// Origin (scheme://host[:port]) allowed to open the WebSocket; repeat for several. Without any, every
    /// origin is allowed; with some, an upgrade from another origin or without an Origin header gets 403.
    #[arg(long = "allowed-origin", value_name = "ORIGIN", value_parser = origin)]
    allowed_origins: Vec<String>,
    /// STUN or TURN server sent to every peer: stun:HOST[:PORT], stuns:..., turn:HOST[:PORT][?transport=udp|tcp]
    /// or turns:...; repeat for several. A turn:/turns: URL needs --turn-secret-file or --turn-username.
    #[arg(long = "ice-server", value_name = "URL", value_parser = ice_url)]
    ice_servers: Vec<String>,
    /// File holding the secret shared with the TURN server (coturn: use-auth-secret, static-auth-secret); a
    /// trailing newline is ignored. Credentials are then minted per peer. Keep the file mode 0600.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["turn_username", "turn_password_file"])]
    turn_secret_file: Option<PathBuf>,
    /// Seconds a minted TURN credential stays valid (with --turn-secret-file). Peers get fresh ones at half this
    /// while connected; a shorter lifetime narrows what a leaked credential is worth.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TURN_TTL_SECS, requires = "turn_secret_file",
          value_parser = clap::value_parser!(u64).range(MIN_TURN_TTL.as_secs()..=MAX_TURN_TTL_SECS))]
    turn_ttl: u64,
    /// Static TURN username given to every peer (with --turn-password-file), instead of --turn-secret-file.
    #[arg(long, value_name = "NAME", requires = "turn_password_file")]
    turn_username: Option<String>,
    /// File holding the static TURN password (with --turn-username); a trailing newline is ignored.
    #[arg(long, value_name = "PATH", requires = "turn_username")]
    turn_password_file: Option<PathBuf>,
    /// Seed for choosing introducers (default: from the clock), for reproducing a run.
    #[arg(long)]
    seed: Option<u64>,
}

impl Args {
    /// The TURN credentials the flags ask for; reads the secret or password file.
    fn turn_auth(&self) -> Result<Option<TurnAuth>, IceConfigError> {
        if let Some(path) = &self.turn_secret_file {
            let secret = read_secret_file("turn-secret-file", path.clone())?;
            return Ok(Some(TurnAuth::Rest { secret, ttl: Duration::from_secs(self.turn_ttl) }));
        }
        match (&self.turn_username, &self.turn_password_file) {
            (Some(username), Some(path)) => {
                let password = read_secret_file("turn-password-file", path.clone())?;
                Ok(Some(TurnAuth::Static { username: username.clone(), password }))
            }
            // clap's `requires` makes the two flags go together.
            _ => Ok(None),
        }
    }

    fn config(&self) -> Result<Config, IceConfigError> {
        let seed = self.seed.unwrap_or_else(|| {
            // Any varying value will do; the choice of introducer only needs to spread load.
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
            nanos ^ u64::from(std::process::id())
        });
        Ok(Config {
            www: self.www.clone(),
            intro_timeout: Duration::from_millis(self.intro_timeout_ms),
            intro_lifetime: Duration::from_millis(self.intro_lifetime_ms),
            intro_tries: self.intro_tries,
            grace: Duration::from_secs(self.grace),
            hello_timeout: Duration::from_millis(self.hello_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            max_connections: self.max_connections,
            max_per_address: self.max_per_address,
            max_per_ring: self.max_per_ring,
            handshake_timeout: Duration::from_millis(self.handshake_timeout_ms),
            // clap's ranges rule out 0.
            message_rate: NonZeroU32::new(self.message_rate).unwrap_or(NonZeroU32::MIN),
            message_burst: NonZeroU32::new(self.message_burst).unwrap_or(NonZeroU32::MIN),
            allowed_origins: self.allowed_origins.clone(),
            ice_servers: self.ice_servers.clone(),
            turn_auth: self.turn_auth()?,
            unix_clock: UnixClock::system(),
            seed,
        })
    }
}

/// An ICE server URL, checked as peers will check it.
fn ice_url(text: &str) -> Result<String, IceUrlError> {
    IceUrl::parse(text).map(|_| text.to_owned())
}

/// Checks the ICE settings as the server will, and logs them (never a secret).
fn check_ice(config: &Config) -> Result<(), IceConfigError> {
    let ice = IceServers::new(&config.ice_servers, config.turn_auth.clone())?;
    let urls: Vec<&str> = ice.urls().collect();
    if urls.is_empty() {
        tracing::info!("no ICE servers (--ice-server): peers use host candidates only (LAN, loopback)");
    } else {
        tracing::info!("ice servers: {}", urls.join(" "));
    }
    if let Some(auth) = ice.auth() {
        tracing::info!("turn credentials: {auth}");
    }
    Ok(())
}

/// An origin as browsers send it: `scheme://host[:port]`, no path, no trailing slash.
fn origin(text: &str) -> Result<String, String> {
    let (scheme, rest) = text.split_once("://").ok_or("expected scheme://host[:port]")?;
    if scheme.is_empty() || rest.is_empty() || rest.contains('/') {
        return Err("expected scheme://host[:port], without a path or trailing slash".into());
    }
    Ok(text.to_owned())
}

/// File descriptors the server needs beyond one per WebSocket: the listener,
/// page loads and `/stats` requests, handshakes under way, the log.
const SPARE_FILES: u64 = 1024;

/// Raises the soft open-files limit as far as the hard limit allows (the
/// usual soft default, 1024, would refuse most of --max-connections) and warns
/// if that is still short.
#[cfg(unix)]
fn raise_open_files_limit(config: &Config) {
    let wanted = (config.max_connections as u64).saturating_add(SPARE_FILES);
    match rlimit::increase_nofile_limit(wanted) {
        Ok(got) if got < wanted => {
            tracing::warn!(got, wanted, "the open-files limit is below --max-connections plus spare; connections beyond it will be refused")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-files limit"),
    }
}

#[cfg(not(unix))]
fn raise_open_files_limit(_: &Config) {}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour).init();
    let config = match args.config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("chord-signaling: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = check_ice(&config) {
        eprintln!("chord-signaling: {e}");
        return ExitCode::FAILURE;
    }
    raise_open_files_limit(&config);
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
