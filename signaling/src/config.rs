//! Server settings: the knobs the command line sets and the tests shorten.

use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    /// A connection that has not said hello within this time is closed.
    pub hello_timeout: Duration,
    /// A connection from which nothing (not even a pong) arrived within this
    /// time is closed; the server pings at a third of it.
    pub idle_timeout: Duration,
    /// Most simultaneous WebSocket connections; more are refused with 503.
    pub max_connections: usize,
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
            hello_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
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
