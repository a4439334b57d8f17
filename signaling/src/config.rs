//! Server settings: the knobs the command line sets and the tests shorten.

use crate::ice::{TurnAuth, UnixClock};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Default of [`Config::max_per_address`].
pub const DEFAULT_MAX_PER_ADDRESS: usize = 256;
/// Default of [`Config::max_per_ring`].
pub const DEFAULT_MAX_PER_RING: usize = 1_000;
/// Default of [`Config::handshake_timeout`], in milliseconds.
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
/// Default of [`Config::message_rate`], frames per second.
pub const DEFAULT_MESSAGE_RATE: NonZeroU32 = NonZeroU32::new(50).unwrap(); // Evaluated at compile time.
/// Default of [`Config::message_burst`], frames.
pub const DEFAULT_MESSAGE_BURST: NonZeroU32 = NonZeroU32::new(500).unwrap(); // Evaluated at compile time.

/// Default of [`Config::grace`], in seconds.
pub const DEFAULT_GRACE_SECS: u64 = 10;

/// Default lifetime of minted TURN REST credentials, in seconds: one day, the
/// customary value of the TURN REST API draft coturn implements. The server
/// sends fresh credentials at half their lifetime, so a connected tab never
/// holds expired ones however long the TTL; a shorter one narrows what a
/// leaked credential is worth (it names its peer and carries its expiry), at
/// the cost of more refresh messages.
pub const DEFAULT_TURN_TTL_SECS: u64 = 86_400;

/// How the server behaves. [`Config::default`] is what the binary uses
/// without flags; tests shorten the timeouts.
#[derive(Clone, Debug)]
pub struct Config {
    /// Directory served as static files at `/` (the page that starts a peer).
    /// A missing directory is not an error: `/` then answers 404.
    pub www: PathBuf,
    /// How long an introducer may stay silent after the newcomer's first
    /// signal (or after the introduction started, if the newcomer sends none)
    /// before the newcomer is handed to another member.
    pub intro_timeout: Duration,
    /// How long an introduction may stay open at all. After it, the server
    /// stops relaying for it even if the two parties are still talking.
    pub intro_lifetime: Duration,
    /// Most introductions tried for one newcomer before it gets `intro_failed`.
    pub intro_tries: u32,
    /// How long after the server starts a newcomer to a ring the server knows
    /// no member of is held (no answer yet), in case that ring's members are
    /// about to reconnect (the server was restarted under them). A member
    /// announcing itself releases the ring's held newcomers to it; at the end
    /// the first one held founds the ring. Zero: newcomers found at once.
    pub grace: Duration,
    /// A connection that has not said hello within this time is closed.
    pub hello_timeout: Duration,
    /// A connection from which nothing (not even a pong) arrived within this
    /// time is closed; the server pings at a third of it.
    pub idle_timeout: Duration,
    /// Most simultaneous WebSocket connections; more are refused with 503.
    pub max_connections: usize,
    /// Most open TCP connections from one address (an IPv6 client counts by
    /// its /64), HTTP and WebSocket alike; more are answered 429 and closed.
    /// One browser tab holds one WebSocket plus a few short page loads, and a
    /// NAT may put many users behind one address, hence a generous default.
    pub max_per_address: usize,
    /// Most peers in one ring (counted from their hello); more are closed
    /// with a reason, so one ring cannot take the whole server.
    pub max_per_ring: usize,
    /// How long a client has to send its HTTP request head, on a new
    /// connection and between requests on a kept-alive one. Bounds slow and
    /// half-open clients before they reach the WebSocket limits.
    pub handshake_timeout: Duration,
    /// Sustained frames per second allowed from one WebSocket (any frame,
    /// pings and pongs included); a client over it is closed with a reason.
    pub message_rate: NonZeroU32,
    /// Most frames one WebSocket may send in one burst; the allowance refills
    /// at [`Config::message_rate`]. A join sends a hello, an offer and a few
    /// dozen ICE candidates in a moment, an introducer the same for several
    /// newcomers at once.
    pub message_burst: NonZeroU32,
    /// Origins (`scheme://host[:port]`) allowed to open the WebSocket. Empty:
    /// any origin, and requests without an `Origin` header. Otherwise an
    /// upgrade whose `Origin` is missing or not listed gets 403.
    pub allowed_origins: Vec<String>,
    /// STUN/TURN server URLs sent to every peer (`stun:`, `stuns:`, `turn:`,
    /// `turns:`). Empty: peers use host candidates only (LAN, loopback).
    pub ice_servers: Vec<String>,
    /// Credentials for the `turn:`/`turns:` URLs; required if there is one.
    /// Its `Debug` hides the secret.
    pub turn_auth: Option<TurnAuth>,
    /// The wall clock that REST credential expiries are written with; fixed in tests.
    pub unix_clock: UnixClock,
    /// Seed for choosing introducers; fixed in tests, random in the binary.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            www: PathBuf::from("www"),
            intro_timeout: Duration::from_secs(5),
            intro_lifetime: Duration::from_secs(60),
            intro_tries: 3,
            grace: Duration::from_secs(DEFAULT_GRACE_SECS),
            hello_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            max_per_address: DEFAULT_MAX_PER_ADDRESS,
            max_per_ring: DEFAULT_MAX_PER_RING,
            handshake_timeout: Duration::from_millis(DEFAULT_HANDSHAKE_TIMEOUT_MS),
            message_rate: DEFAULT_MESSAGE_RATE,
            message_burst: DEFAULT_MESSAGE_BURST,
            allowed_origins: Vec::new(),
            ice_servers: Vec::new(),
            turn_auth: None,
            unix_clock: UnixClock::system(),
            seed: 0,
        }
    }
}

/// `now + after`, capped at a year from now: durations come from flags and a
/// huge one must not overflow the clock and panic.
pub fn deadline(now: Instant, after: Duration) -> Instant {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
    now + after.min(YEAR)
}
