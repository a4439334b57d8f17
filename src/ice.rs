//! ICE: the STUN/TURN servers a peer uses, the candidates it trickles, and
//! what kind of path a link ended on.
//!
//! Shared by the signaling server (which validates `--ice-server` flags and
//! sends [`IceServer`]s with its welcome), the sans-IO link manager (which
//! carries trickled [`Candidate`]s through the ring) and the browser glue
//! (which turns [`IceConfig`] into an `RTCConfiguration`). Nothing here does
//! IO, and every parser returns an error instead of panicking: URLs and
//! candidates arrive from flags, from the server and from other peers.
//!
//! # URLs (RFC 7064, RFC 7065)
//!
//! `stun:host[:port]`, `stuns:host[:port]`, `turn:host[:port][?transport=udp|tcp]`
//! and `turns:host[:port][?transport=udp|tcp]`. A host is a DNS name, an IPv4
//! address or a bracketed IPv6 address. Anything else is refused with an
//! [`IceUrlError`] that says which part is wrong.

use serde::{Deserialize, Serialize};

/// Most ICE servers a configuration may hold (the server's welcome, `iceServers`).
pub const MAX_ICE_SERVERS: usize = 8;
/// Most URLs one ICE server may list.
pub const MAX_ICE_URLS: usize = 8;
/// Longest ICE server URL, in bytes.
pub const MAX_ICE_URL_BYTES: usize = 512;
/// Longest TURN username or credential, in bytes (a REST username is
/// `<expiry>:<40 hex digits>`, its password 28 base64 characters).
pub const MAX_ICE_CREDENTIAL_BYTES: usize = 512;
/// Longest ICE candidate line, in bytes (`a=candidate:` lines are ~100 bytes).
pub const MAX_CANDIDATE_BYTES: usize = 2 * 1024;
/// Longest `sdpMid` (media stream identification tag), in bytes.
pub const MAX_SDP_MID_BYTES: usize = 256;
/// Most candidates one side of one negotiation may trickle; more are dropped
/// and counted. A browser with a few interfaces, STUN and TURN over UDP and
/// TCP gathers a dozen or two.
pub const MAX_CANDIDATES_PER_SESSION: usize = 64;

/// One STUN or TURN server, in the shape of WebRTC's `RTCIceServer`.
///
/// `Debug` hides the credential: configurations end up in logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// One or more URLs of the same server (e.g. TURN over UDP and over TCP).
    pub urls: Vec<String>,
    /// TURN username (absent for STUN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password (absent for STUN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field("credential", &self.credential.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl IceServer {
    /// Checks the URLs and the sizes; a TURN URL needs a username and a credential.
    pub fn validate(&self) -> Result<(), IceUrlError> {
        if self.urls.is_empty() {
            return Err(IceUrlError::NoUrls);
        }
        if self.urls.len() > MAX_ICE_URLS {
            return Err(IceUrlError::TooMany(self.urls.len()));
        }
        for url in &self.urls {
            let parsed = IceUrl::parse(url)?;
            if parsed.scheme.is_turn() && (self.username.is_none() || self.credential.is_none()) {
                return Err(IceUrlError::NoCredentials(url.clone()));
            }
        }
        for c in [&self.username, &self.credential].into_iter().flatten() {
            if c.len() > MAX_ICE_CREDENTIAL_BYTES {
                return Err(IceUrlError::CredentialTooLong(c.len()));
            }
        }
        Ok(())
    }

    /// The same server without username and credential, for display.
    pub fn without_credentials(&self) -> IceServer {
        IceServer { urls: self.urls.clone(), username: None, credential: None }
    }
}

/// Checks a whole list of ICE servers (count, then each).
pub fn validate_ice_servers(servers: &[IceServer]) -> Result<(), IceUrlError> {
    if servers.len() > MAX_ICE_SERVERS {
        return Err(IceUrlError::TooMany(servers.len()));
    }
    servers.iter().try_for_each(IceServer::validate)
}

/// Which candidates ICE may use (WebRTC's `RTCIceTransportPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IcePolicy {
    /// Every candidate: host, server-reflexive and relayed.
    #[default]
    All,
    /// Relayed (TURN) candidates only: every link goes through a TURN server.
    Relay,
}

/// The ICE setup of every `RTCPeerConnection` a peer creates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IceConfig {
    /// STUN and TURN servers; empty: host candidates only (LAN, loopback).
    pub servers: Vec<IceServer>,
    /// Which candidates may be used.
    pub policy: IcePolicy,
}

/// The scheme of an ICE server URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceScheme {
    /// `stun:`
    Stun,
    /// `stuns:` (STUN over TLS)
    Stuns,
    /// `turn:`
    Turn,
    /// `turns:` (TURN over TLS)
    Turns,
}

impl IceScheme {
    /// Whether the server is a TURN relay (needs credentials).
    pub fn is_turn(self) -> bool {
        matches!(self, IceScheme::Turn | IceScheme::Turns)
    }
}

/// The transport named by `?transport=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceTransport {
    /// `?transport=udp`
    Udp,
    /// `?transport=tcp`
    Tcp,
}

/// A parsed ICE server URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceUrl {
    /// `stun`, `stuns`, `turn` or `turns`.
    pub scheme: IceScheme,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port, when given.
    pub port: Option<u16>,
    /// Transport, when given (TURN only).
    pub transport: Option<IceTransport>,
}

/// Why an ICE server URL or configuration is not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IceUrlError {
    /// The scheme is not `stun:`, `stuns:`, `turn:` or `turns:`.
    #[error("\"{0}\" is not an ICE server URL: it must start with stun:, stuns:, turn: or turns:")]
    Scheme(String),
    /// The host part is empty or holds characters a host name cannot.
    #[error("\"{0}\" has no valid host name or address")]
    Host(String),
    /// The port is not a number from 1 to 65535.
    #[error("\"{0}\" has an invalid port (1 to 65535 expected)")]
    Port(String),
    /// The query is not `?transport=udp` or `?transport=tcp`, or is on a STUN URL.
    #[error("\"{0}\": only turn: and turns: URLs take a query, and only ?transport=udp or ?transport=tcp")]
    Query(String),
    /// The URL is longer than [`MAX_ICE_URL_BYTES`].
    #[error("an ICE server URL of {0} bytes exceeds the {MAX_ICE_URL_BYTES}-byte limit")]
    TooLong(usize),
    /// An ICE server lists no URL.
    #[error("an ICE server needs at least one URL")]
    NoUrls,
    /// More servers or URLs than allowed.
    #[error("{0} ICE servers or URLs exceed the limit of {MAX_ICE_SERVERS} servers of {MAX_ICE_URLS} URLs")]
    TooMany(usize),
    /// A TURN URL without a username and credential.
    #[error("the TURN server \"{0}\" needs a username and a credential")]
    NoCredentials(String),
    /// A username or credential longer than [`MAX_ICE_CREDENTIAL_BYTES`].
    #[error("a TURN username or credential of {0} bytes exceeds the {MAX_ICE_CREDENTIAL_BYTES}-byte limit")]
    CredentialTooLong(usize),
}

impl IceUrl {
    /// Parses and checks one URL.
    pub fn parse(url: &str) -> Result<IceUrl, IceUrlError> {
        if url.len() > MAX_ICE_URL_BYTES {
            return Err(IceUrlError::TooLong(url.len()));
        }
        let bad = |f: fn(String) -> IceUrlError| f(url.to_string());
        let (scheme, rest) = url.split_once(':').ok_or_else(|| bad(IceUrlError::Scheme))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "stun" => IceScheme::Stun,
            "stuns" => IceScheme::Stuns,
            "turn" => IceScheme::Turn,
            "turns" => IceScheme::Turns,
            _ => return Err(bad(IceUrlError::Scheme)),
        };
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let transport = match query {
            None => None,
            Some(_) if !scheme.is_turn() => return Err(bad(IceUrlError::Query)),
            Some(q) => match q.to_ascii_lowercase().as_str() {
                "transport=udp" => Some(IceTransport::Udp),
                "transport=tcp" => Some(IceTransport::Tcp),
                _ => return Err(bad(IceUrlError::Query)),
            },
        };
        let (host, port) = split_host_port(authority).ok_or_else(|| bad(IceUrlError::Host))?;
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => return Err(bad(IceUrlError::Port)),
            },
        };
        if !valid_host(host) {
            return Err(bad(IceUrlError::Host));
        }
        Ok(IceUrl { scheme, host: host.to_string(), port, transport })
    }
}

/// Splits `host[:port]` or `[v6][:port]`; None if brackets are unbalanced.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        }
    } else {
        match authority.rsplit_once(':') {
            // An IPv6 address must be bracketed.
            Some((host, _)) if host.contains(':') => None,
            Some((host, port)) => Some((host, Some(port))),
            None => Some((authority, None)),
        }
    }
}

fn valid_host(host: &str) -> bool {
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    if host.contains(':') {
        // An IPv6 literal (the browser parses it exactly; this keeps out
        // anything that is not one, without linking a full address parser).
        return host.len() <= 45
            && host.matches("::").count() <= 1
            && host.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') && !host.starts_with('.') && !host.starts_with('-')
}

/// One trickled ICE candidate (the fields of `RTCIceCandidateInit`).
///
/// An empty `candidate` is the end-of-candidates mark.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The `candidate:` line (without `a=`), or empty for end-of-candidates.
    pub candidate: String,
    /// The media stream identification tag.
    #[serde(default)]
    pub sdp_mid: Option<String>,
    /// The index of the m-line the candidate belongs to.
    #[serde(default)]
    pub sdp_m_line_index: Option<u16>,
}

/// Why a trickled candidate is not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CandidateError {
    /// The candidate line is longer than [`MAX_CANDIDATE_BYTES`].
    #[error("ice candidate of {0} bytes exceeds the {MAX_CANDIDATE_BYTES}-byte limit")]
    TooLong(usize),
    /// The `sdp_mid` is longer than [`MAX_SDP_MID_BYTES`].
    #[error("sdp_mid of {0} bytes exceeds the {MAX_SDP_MID_BYTES}-byte limit")]
    MidTooLong(usize),
}

impl Candidate {
    /// The end-of-candidates mark.
    pub fn end() -> Candidate {
        Candidate { candidate: String::new(), sdp_mid: None, sdp_m_line_index: None }
    }

    /// Whether this is the end-of-candidates mark.
    pub fn is_end(&self) -> bool {
        self.candidate.is_empty()
    }

    /// Checks the size limits.
    pub fn validate(&self) -> Result<(), CandidateError> {
        if self.candidate.len() > MAX_CANDIDATE_BYTES {
            return Err(CandidateError::TooLong(self.candidate.len()));
        }
        match &self.sdp_mid {
            Some(mid) if mid.len() > MAX_SDP_MID_BYTES => Err(CandidateError::MidTooLong(mid.len())),
            _ => Ok(()),
        }
    }

    /// The connection address (the fifth field of `candidate:<foundation>
    /// <component> <transport> <priority> <address> <port> typ <type> …`).
    pub fn address(&self) -> Option<&str> {
        candidate_fields(&self.candidate).nth(4)
    }

    /// The candidate type (`typ host|srflx|prflx|relay`).
    pub fn kind(&self) -> Option<CandidateKind> {
        let mut fields = candidate_fields(&self.candidate).skip(6);
        match (fields.next(), fields.next()) {
            (Some("typ"), Some(t)) => CandidateKind::parse(t),
            _ => None,
        }
    }

    /// Whether the address is loopback (127.0.0.0/8 or `::1`).
    pub fn is_loopback(&self) -> bool {
        self.address().is_some_and(is_loopback_address)
    }
}

/// The fields of a candidate line, with or without its `a=candidate:` / `candidate:` prefix.
fn candidate_fields(line: &str) -> std::str::SplitAsciiWhitespace<'_> {
    let line = line.trim();
    let line = line.strip_prefix("a=").unwrap_or(line);
    line.strip_prefix("candidate:").unwrap_or(line).split_ascii_whitespace()
}

/// Whether an address is loopback (127.0.0.0/8 or `::1`).
pub fn is_loopback_address(addr: &str) -> bool {
    addr == "::1" || addr.starts_with("127.")
}

/// What kind of address an ICE candidate is (RFC 8445 §5.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateKind {
    /// An address of the machine itself.
    Host,
    /// The address a NAT gave it, learned from a STUN server.
    Srflx,
    /// The address a NAT gave it, learned from the other side's checks.
    Prflx,
    /// An address on a TURN relay.
    Relay,
}

impl CandidateKind {
    /// Parses `host`, `srflx`, `prflx` or `relay`.
    pub fn parse(text: &str) -> Option<CandidateKind> {
        match text {
            "host" => Some(CandidateKind::Host),
            "srflx" => Some(CandidateKind::Srflx),
            "prflx" => Some(CandidateKind::Prflx),
            "relay" => Some(CandidateKind::Relay),
            _ => None,
        }
    }
}

/// The path a connected link uses: the types of the selected candidate pair
/// and its round-trip time, as `getStats()` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PathInfo {
    /// This side's candidate.
    pub local: CandidateKind,
    /// The other side's candidate.
    pub remote: CandidateKind,
    /// The pair's current round-trip time in whole ms (rounded), once measured.
    pub rtt_ms: Option<u32>,
}

impl PathInfo {
    /// Whether either side goes through a TURN relay.
    pub fn relayed(&self) -> bool {
        self.local == CandidateKind::Relay || self.remote == CandidateKind::Relay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_url_forms_of_rfc_7064_and_7065() {
        let u = IceUrl::parse("stun:stun.example.org").unwrap();
        assert_eq!((u.scheme, u.host.as_str(), u.port, u.transport), (IceScheme::Stun, "stun.example.org", None, None));
        let u = IceUrl::parse("turn:203.0.113.1:3478?transport=udp").unwrap();
        assert_eq!((u.scheme, u.host.as_str(), u.port, u.transport), (IceScheme::Turn, "203.0.113.1", Some(3478), Some(IceTransport::Udp)));
        let u = IceUrl::parse("turns:[2001:db8::1]:5349?transport=tcp").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.transport),
            (IceScheme::Turns, "2001:db8::1", Some(5349), Some(IceTransport::Tcp))
        );
        assert_eq!(IceUrl::parse("stuns:[::1]").unwrap().host, "::1");
    }

    #[test]
    fn refuses_bad_urls_with_the_part_that_is_wrong() {
        type Expect = fn(String) -> IceUrlError;
        let cases: [(&str, Expect); 12] = [
            ("http://example.org", IceUrlError::Scheme),
            ("example.org", IceUrlError::Scheme),
            ("stun:", IceUrlError::Host),
            ("stun:exa mple.org", IceUrlError::Host),
            ("turn:[::1", IceUrlError::Host),
            ("turn:[1::2::3]", IceUrlError::Host),
            ("turn:host:0", IceUrlError::Port),
            ("turn:host:70000", IceUrlError::Port),
            ("turn:host:+1", IceUrlError::Port),
            ("stun:host?transport=udp", IceUrlError::Query),
            ("turn:host?transport=sctp", IceUrlError::Query),
            ("stun:2001:db8::1", IceUrlError::Host),
        ];
        for (url, err) in cases {
            assert_eq!(IceUrl::parse(url), Err(err(url.to_string())), "{url}");
        }
        let long = format!("stun:{}", "a".repeat(MAX_ICE_URL_BYTES));
        assert_eq!(IceUrl::parse(&long), Err(IceUrlError::TooLong(long.len())));
    }

    #[test]
    fn servers_are_checked_whole_and_credentials_never_printed() {
        let turn = IceServer { urls: vec!["turn:h:3478".into()], username: Some("1:ab".into()), credential: Some("s3cret".into()) };
        assert_eq!(turn.validate(), Ok(()));
        assert!(!format!("{turn:?}").contains("s3cret"));
        assert_eq!(turn.without_credentials().credential, None);
        let bare = IceServer { credential: None, ..turn.clone() };
        assert_eq!(bare.validate(), Err(IceUrlError::NoCredentials("turn:h:3478".into())));
        assert_eq!(IceServer { urls: vec![], username: None, credential: None }.validate(), Err(IceUrlError::NoUrls));
        let stun = IceServer { urls: vec!["stun:h".into()], username: None, credential: None };
        assert_eq!(validate_ice_servers(&vec![stun.clone(); MAX_ICE_SERVERS]), Ok(()));
        assert_eq!(validate_ice_servers(&vec![stun; MAX_ICE_SERVERS + 1]), Err(IceUrlError::TooMany(MAX_ICE_SERVERS + 1)));
    }

    #[test]
    fn reads_address_and_type_of_candidate_lines() {
        let c = |line: &str| Candidate { candidate: line.into(), sdp_mid: Some("0".into()), sdp_m_line_index: Some(0) };
        let relay = c("candidate:3 1 udp 41885439 203.0.113.1 50000 typ relay raddr 10.0.1.2 rport 40000 generation 0");
        assert_eq!((relay.address(), relay.kind(), relay.is_loopback()), (Some("203.0.113.1"), Some(CandidateKind::Relay), false));
        let host = c("a=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host");
        assert_eq!((host.kind(), host.is_loopback()), (Some(CandidateKind::Host), true));
        let mdns = c("candidate:1 1 udp 2113937151 4f2b.local 50000 typ host");
        assert!(!mdns.is_loopback());
        assert_eq!(c("candidate:1 1 tcp").kind(), None);
        assert!(Candidate::end().is_end());
        assert_eq!(c(&"x".repeat(MAX_CANDIDATE_BYTES + 1)).validate(), Err(CandidateError::TooLong(MAX_CANDIDATE_BYTES + 1)));
    }

    #[test]
    fn reads_the_candidate_forms_firefox_and_chromium_send() {
        let c = |line: &str| Candidate { candidate: line.into(), sdp_mid: Some("0".into()), sdp_m_line_index: Some(0) };
        // Firefox: upper-case transports, an mDNS host name, TCP active candidates on port 9,
        // srflx with raddr 0.0.0.0 when host addresses are hidden.
        let ff_mdns = c("candidate:0 1 UDP 2122252543 3c1a5cf4-7f3e-4d9e-9a4b-0d3c2c0b8f7e.local 49729 typ host");
        let ff_tcp = c("candidate:2 1 TCP 2105524479 3c1a5cf4-7f3e-4d9e-9a4b-0d3c2c0b8f7e.local 9 typ host tcptype active");
        let ff_srflx = c("candidate:1 1 UDP 1686052863 203.0.113.7 49729 typ srflx raddr 0.0.0.0 rport 0");
        let ff_loop = c("candidate:0 1 UDP 2122252543 127.0.0.1 38615 typ host");
        // Chromium: lower case, with generation/ufrag/network fields after the type.
        let cr_tcp = c("candidate:3081342245 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0 ufrag Ab12 network-id 1");
        let cr_relay = c("candidate:842163049 1 udp 41885439 198.51.100.2 53017 typ relay raddr 203.0.113.9 rport 61000 generation 0 ufrag Ab12 network-id 1");
        let kinds = [&ff_mdns, &ff_tcp, &ff_srflx, &ff_loop, &cr_tcp, &cr_relay].map(|c| c.kind());
        use CandidateKind::*;
        assert_eq!(kinds, [Some(Host), Some(Host), Some(Srflx), Some(Host), Some(Host), Some(Relay)]);
        let loopback = [&ff_mdns, &ff_tcp, &ff_srflx, &ff_loop, &cr_tcp, &cr_relay].map(|c| c.is_loopback());
        assert_eq!(loopback, [false, false, false, true, true, false]);
        for x in [&ff_mdns, &ff_tcp, &ff_srflx, &ff_loop, &cr_tcp, &cr_relay] {
            assert_eq!(x.validate(), Ok(()), "{}", x.candidate);
        }
        // The loopback-only filter keeps the same lines in an SDP, whichever browser wrote it.
        let sdp: String = [&ff_mdns, &ff_tcp, &ff_srflx, &ff_loop, &cr_tcp, &cr_relay].map(|c| format!("a={}\r\n", c.candidate)).concat();
        let kept = crate::link::sdp::keep_loopback_candidates(&sdp);
        assert_eq!(kept, format!("a={}\r\na={}\r\n", ff_loop.candidate, cr_tcp.candidate));
    }
}
