//! The STUN/TURN servers handed to every peer, and their TURN credentials.
//!
//! A browser behind a NAT that STUN cannot open (symmetric NATs, networks that
//! block UDP) only reaches other tabs through a TURN relay, and a TURN server
//! relays for authenticated users only. The server hands each peer the ICE
//! servers in its `welcome`, in one of two credential modes:
//!
//! * **REST** (coturn's `use-auth-secret`, the "TURN REST API" draft): this
//!   server and the TURN server share a secret. For each peer this server
//!   mints the username `<expiry unix time>:<peer id in hex>` and the password
//!   `base64(HMAC-SHA1(secret, username))`; the TURN server recomputes the
//!   password from the username alone and refuses it after the expiry, so the
//!   two servers share no per-peer state and a leaked credential is worth
//!   little. The server sends fresh ones (`ice_servers`) at half their
//!   lifetime while the peer stays connected.
//! * **Static**: one username and password for everyone, passed through.
//!
//! The secret never leaves this process: [`Secret`]'s `Debug` is redacted, it
//! has no `Display`, and pages receive only the derived passwords.
//!
//! Sans-IO apart from the counters: [`IceServers::for_peer`] is given the Unix
//! time; the connection task (`ws.rs`) reads the [`UnixClock`] and runs the
//! refresh timer, since credentials belong to one connection alone.

use crate::config::Config;
use base64::Engine as _;
use chord::ice::{validate_ice_servers, IceServer, IceUrl, IceUrlError};
use chord::signal::ServerMsg;
use chord::Id;
use hmac::{Hmac, Mac};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Shortest REST credential lifetime: the expiry is counted in whole seconds
/// and refreshed at half the lifetime, so a shorter one would be refreshed
/// with the same expiry.
pub const MIN_TURN_TTL: Duration = Duration::from_secs(2);

/// A secret string (the REST shared secret or a static TURN password).
/// Its `Debug` prints `<redacted>` and it has no `Display`, so no log line or
/// error can show it by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret itself, for computing credentials and nothing else.
    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How the server gives peers credentials for its TURN URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TurnAuth {
    /// Credentials minted per peer from a secret shared with the TURN server
    /// (coturn `use-auth-secret` + `static-auth-secret`).
    Rest {
        /// The shared secret.
        secret: Secret,
        /// How long a minted credential is valid (at least [`MIN_TURN_TTL`]).
        ttl: Duration,
    },
    /// The same username and password for every peer.
    Static {
        /// The TURN username.
        username: String,
        /// The TURN password.
        password: Secret,
    },
}

impl std::fmt::Display for TurnAuth {
    /// The mode, without any secret: `REST, ttl 86400 s` or `static`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TurnAuth::Rest { ttl, .. } => write!(f, "REST, ttl {} s", ttl.as_secs()),
            TurnAuth::Static { .. } => f.write_str("static"),
        }
    }
}

/// The current time as seconds since the Unix epoch: the expiry written into
/// REST usernames is wall-clock time, which the TURN server compares with its
/// own clock. Injectable, so tests can fix it.
#[derive(Clone)]
pub struct UnixClock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl UnixClock {
    /// The system clock.
    pub fn system() -> UnixClock {
        // A clock before 1970 is a broken host; 0 makes every credential
        // expired, which the TURN server reports, rather than a panic.
        UnixClock(Arc::new(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())))
    }

    /// A clock read through `now`.
    pub fn new(now: impl Fn() -> u64 + Send + Sync + 'static) -> UnixClock {
        UnixClock(Arc::new(now))
    }

    /// A clock that always says `secs`.
    pub fn fixed(secs: u64) -> UnixClock {
        UnixClock::new(move || secs)
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        (self.0)()
    }
}

impl Default for UnixClock {
    fn default() -> Self {
        UnixClock::system()
    }
}

impl std::fmt::Debug for UnixClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnixClock")
    }
}

/// Why the ICE settings cannot be used; the server refuses to start. No
/// variant holds a secret or a file's content.
#[derive(Debug, thiserror::Error)]
pub enum IceConfigError {
    /// An `--ice-server` URL is malformed, or the list breaks a protocol limit.
    #[error("--ice-server: {0}")]
    Url(#[from] IceUrlError),
    /// A `turn:`/`turns:` URL is given without any credential source.
    #[error(
        "--ice-server {0}: a TURN server needs credentials: give --turn-secret-file PATH \
         (coturn use-auth-secret) or --turn-username NAME with --turn-password-file PATH"
    )]
    TurnWithoutCredentials(String),
    /// Credentials are given but no TURN URL would carry them.
    #[error("--{0} is given but no --ice-server turn: or turns: URL uses the credentials")]
    CredentialsWithoutTurn(&'static str),
    /// A secret or password file cannot be read.
    #[error("--{flag} {}: cannot read the file: {error}", path.display())]
    Unreadable {
        /// The flag that named the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// A secret or password file is empty (or holds only a newline).
    #[error("--{flag} {}: the file is empty", path.display())]
    EmptyFile {
        /// The flag that named the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// A secret or password file is not UTF-8 text.
    #[error("--{flag} {}: the file is not UTF-8 text", path.display())]
    NotText {
        /// The flag that named the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// The static TURN username is empty.
    #[error("--turn-username must not be empty")]
    EmptyUsername,
    /// The REST credential lifetime is below [`MIN_TURN_TTL`].
    #[error("--turn-ttl must be at least {} seconds", MIN_TURN_TTL.as_secs())]
    TtlTooShort,
}

/// Reads a secret or password file for `flag`: the whole file, less a
/// trailing newline (how `echo` and editors leave it). Refuses an empty file.
pub fn read_secret_file(flag: &'static str, path: PathBuf) -> Result<Secret, IceConfigError> {
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => return Err(IceConfigError::Unreadable { flag, path, error }),
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return Err(IceConfigError::NotText { flag, path });
    };
    let trimmed = text.trim_end_matches(['\n', '\r']);
    if trimmed.is_empty() {
        return Err(IceConfigError::EmptyFile { flag, path });
    }
    Ok(Secret::new(trimmed))
}

/// The checked ICE settings: STUN and TURN URLs and the credential mode.
#[derive(Clone, Debug)]
pub struct IceServers {
    stun: Vec<String>,
    turn: Vec<String>,
    auth: Option<TurnAuth>,
}

impl IceServers {
    /// Checks URLs and credentials together: every URL parses, TURN URLs
    /// have credentials, credentials have a TURN URL, and what a peer gets
    /// stays within the protocol's limits.
    pub fn new(urls: &[String], auth: Option<TurnAuth>) -> Result<IceServers, IceConfigError> {
        let (mut stun, mut turn) = (Vec::new(), Vec::new());
        for url in urls {
            if IceUrl::parse(url)?.scheme.is_turn() {
                turn.push(url.clone());
            } else {
                stun.push(url.clone());
            }
        }
        match (&auth, turn.first()) {
            (None, Some(url)) => return Err(IceConfigError::TurnWithoutCredentials(url.clone())),
            (Some(TurnAuth::Rest { .. }), None) => return Err(IceConfigError::CredentialsWithoutTurn("turn-secret-file")),
            (Some(TurnAuth::Static { .. }), None) => return Err(IceConfigError::CredentialsWithoutTurn("turn-username")),
            (Some(TurnAuth::Rest { ttl, .. }), _) if *ttl < MIN_TURN_TTL => return Err(IceConfigError::TtlTooShort),
            (Some(TurnAuth::Static { username, .. }), _) if username.is_empty() => return Err(IceConfigError::EmptyUsername),
            _ => {}
        }
        let servers = IceServers { stun, turn, auth };
        // The longest REST username a peer can get: a 20-digit expiry.
        validate_ice_servers(&servers.for_peer(&Id::MAX, u64::MAX))?;
        Ok(servers)
    }

    /// No ICE server at all: peers use host candidates only.
    pub fn none() -> IceServers {
        IceServers { stun: Vec::new(), turn: Vec::new(), auth: None }
    }

    /// The servers for peer `id` at Unix time `now`: one entry for all STUN
    /// URLs, one for all TURN URLs with their credentials (REST: minted for
    /// this peer, valid until `now` + ttl).
    pub fn for_peer(&self, id: &Id, now: u64) -> Vec<IceServer> {
        let mut servers = Vec::with_capacity(2);
        if !self.stun.is_empty() {
            servers.push(IceServer { urls: self.stun.clone(), username: None, credential: None });
        }
        let credentials = match &self.auth {
            _ if self.turn.is_empty() => None,
            None => None,
            Some(TurnAuth::Static { username, password }) => Some((username.clone(), password.expose().to_owned())),
            Some(TurnAuth::Rest { secret, ttl }) => {
                let username = format!("{}:{}", now.saturating_add(ttl.as_secs()), id.to_hex());
                let password = rest_password(secret, &username);
                Some((username, password))
            }
        };
        if let Some((username, password)) = credentials {
            servers.push(IceServer { urls: self.turn.clone(), username: Some(username), credential: Some(password) });
        }
        servers
    }

    /// When a peer's credentials should be replaced, counted from when it got
    /// them: half their lifetime, so a connected tab always holds credentials
    /// with at least half their life left. `None` when they never expire.
    pub fn refresh_after(&self) -> Option<Duration> {
        match &self.auth {
            Some(TurnAuth::Rest { ttl, .. }) if !self.turn.is_empty() => Some(*ttl / 2),
            _ => None,
        }
    }

    /// Every URL in use, STUN first.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        self.stun.iter().chain(&self.turn).map(String::as_str)
    }

    /// The credential mode, if any.
    pub fn auth(&self) -> Option<&TurnAuth> {
        self.auth.as_ref()
    }

    /// Whether peers get TURN credentials.
    fn has_credentials(&self) -> bool {
        self.auth.is_some() && !self.turn.is_empty()
    }
}

/// `base64(HMAC-SHA1(secret, username))`, the TURN REST password.
fn rest_password(secret: &Secret, username: &str) -> String {
    // HMAC takes a key of any length; the error type exists for fixed-size MACs only.
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// What the connection tasks share: the servers, the clock, and the counters
/// `/stats` reports.
#[derive(Debug)]
pub struct Issuer {
    servers: IceServers,
    clock: UnixClock,
    issued: AtomicU64,
    refreshes: AtomicU64,
}

impl Issuer {
    /// Checks the ICE settings of `config`.
    pub fn new(config: &Config) -> Result<Issuer, IceConfigError> {
        let servers = IceServers::new(&config.ice_servers, config.turn_auth.clone())?;
        let clock = config.unix_clock.clone();
        Ok(Issuer { servers, clock, issued: AtomicU64::new(0), refreshes: AtomicU64::new(0) })
    }

    /// The servers to put in a welcome to peer `id`, with fresh credentials.
    pub fn for_welcome(&self, id: &Id) -> Vec<IceServer> {
        if self.servers.has_credentials() {
            self.issued.fetch_add(1, Ordering::Relaxed);
        }
        self.servers.for_peer(id, self.clock.now())
    }

    /// The refresh message for peer `id`, with fresh credentials.
    pub fn refresh(&self, id: &Id) -> ServerMsg {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        ServerMsg::IceServers { ice_servers: self.for_welcome(id) }
    }

    /// See [`IceServers::refresh_after`].
    pub fn refresh_after(&self) -> Option<Duration> {
        self.servers.refresh_after()
    }

    /// TURN credential sets handed out so far (welcomes and refreshes).
    pub fn credentials_issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }

    /// `ice_servers` refreshes sent so far.
    pub fn refreshes_sent(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chord::signal::IntroId;

    fn rest(secret: &str, ttl: u64) -> Option<TurnAuth> {
        Some(TurnAuth::Rest { secret: Secret::new(secret), ttl: Duration::from_secs(ttl) })
    }

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|u| u.to_string()).collect()
    }

    #[test]
    fn the_rest_password_is_the_base64_hmac_sha1_of_the_username() {
        // RFC 2202, HMAC-SHA1 test case 2.
        let mac = rest_password(&Secret::new("Jefe"), "what do ya want for nothing?");
        assert_eq!(mac, "7/zfauXrL6LSdBbV8YTfnCWafHk=");
    }

    #[test]
    fn rest_credentials_are_minted_per_peer_and_expire_after_the_ttl() {
        let ice = IceServers::new(&urls(&["stun:s.example.org", "turn:t.example.org?transport=udp"]), rest("k", 600)).unwrap();
        let id = Id::from_u64(42);
        let servers = ice.for_peer(&id, 1_700_000_000);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0], IceServer { urls: urls(&["stun:s.example.org"]), username: None, credential: None });
        let username = format!("1700000600:{}", id.to_hex());
        assert_eq!(servers[1].urls, urls(&["turn:t.example.org?transport=udp"]));
        assert_eq!(servers[1].username.as_deref(), Some(username.as_str()));
        assert_eq!(servers[1].credential, Some(rest_password(&Secret::new("k"), &username)));
        let other = ice.for_peer(&Id::from_u64(43), 1_700_000_000);
        assert_ne!(other[1].credential, servers[1].credential);
        assert_eq!(ice.refresh_after(), Some(Duration::from_secs(300)));
    }

    #[test]
    fn the_readme_example_is_what_the_server_sends() {
        let urls =
            urls(&["stun:turn.example.org:3478", "turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"]);
        let ice = IceServers::new(&urls, rest("example-secret", 86_400)).unwrap();
        let newcomer = Id::from_hex("7fcb3a51b0848303ccd4112d90e32cd806ae4497").unwrap();
        let introducer = Id::from_hex("4891b74befc8326c269e21c636b6c61c99013873").unwrap();
        let welcome = ServerMsg::Welcome {
            first: false,
            intro: Some(IntroId(7)),
            introducer: Some(introducer),
            ice_servers: ice.for_peer(&newcomer, 1_796_273_163 - 86_400),
        };
        let readme = include_str!("../README.md");
        let json = serde_json::to_string(&welcome).unwrap();
        assert!(readme.contains(&json), "README.md should show {json}");
    }

    #[test]
    fn static_credentials_are_passed_through_and_never_refreshed() {
        let auth = Some(TurnAuth::Static { username: "u".into(), password: Secret::new("p") });
        let ice = IceServers::new(&urls(&["turns:t.example.org:5349"]), auth).unwrap();
        let servers = ice.for_peer(&Id::from_u64(1), 5);
        assert_eq!(servers.len(), 1);
        assert_eq!((servers[0].username.as_deref(), servers[0].credential.as_deref()), (Some("u"), Some("p")));
        assert_eq!(ice.refresh_after(), None);
    }

    #[test]
    fn inconsistent_settings_are_refused() {
        let turn = urls(&["turn:t.example.org"]);
        let stun = urls(&["stun:s.example.org"]);
        assert!(matches!(IceServers::new(&turn, None), Err(IceConfigError::TurnWithoutCredentials(_))));
        assert!(matches!(IceServers::new(&stun, rest("k", 60)), Err(IceConfigError::CredentialsWithoutTurn(_))));
        assert!(matches!(IceServers::new(&turn, rest("k", 1)), Err(IceConfigError::TtlTooShort)));
        assert!(matches!(IceServers::new(&urls(&["http://x"]), None), Err(IceConfigError::Url(_))));
        let nine: Vec<String> = (0..9).map(|i| format!("stun:s{i}.example.org")).collect();
        assert!(matches!(IceServers::new(&nine, None), Err(IceConfigError::Url(IceUrlError::TooMany(9)))));
        let long = Some(TurnAuth::Static { username: "u".repeat(600), password: Secret::new("p") });
        assert!(matches!(IceServers::new(&turn, long), Err(IceConfigError::Url(IceUrlError::CredentialTooLong(600)))));
    }

    #[test]
    fn no_server_means_an_empty_list() {
        let ice = IceServers::new(&[], None).unwrap();
        assert!(ice.for_peer(&Id::from_u64(1), 0).is_empty());
        assert_eq!(ice.refresh_after(), None);
    }

    #[test]
    fn debug_and_errors_never_show_a_secret() {
        let auth = rest("hunter2-shared", 60);
        let servers = IceServers::new(&urls(&["turn:t"]), auth.clone());
        let text = format!("{auth:?} {} {servers:?}", auth.as_ref().unwrap());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("REST, ttl 60 s"), "{text}");
    }
}
