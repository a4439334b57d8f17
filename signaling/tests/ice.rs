//! ICE servers and TURN credentials: what every welcome carries, the refresh
//! before expiry, static credentials, the secret kept in, and the flags.

mod common;

use base64::Engine as _;
use chord::ice::IceServer;
use chord::signal::{ClientMsg, ServerMsg};
use chord_signaling::ice::{Secret, TurnAuth, UnixClock};
use chord_signaling::Config;
use common::{config, hello, id, start, stats, stats_until, Client, WAIT};
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "s3cret-shared-with-coturn-7f1c9a";
const STUN: &str = "stun:stun.example.org:3478";
const TURN_UDP: &str = "turn:turn.example.org:3478?transport=udp";
const TURNS_TCP: &str = "turns:turn.example.org:5349?transport=tcp";

fn urls() -> Vec<String> {
    vec![STUN.into(), TURN_UDP.into(), TURNS_TCP.into()]
}

/// A server handing out REST credentials valid for `ttl` seconds.
fn rest_config(ttl: u64) -> Config {
    Config {
        ice_servers: urls(),
        turn_auth: Some(TurnAuth::Rest { secret: Secret::new(SECRET), ttl: Duration::from_secs(ttl) }),
        ..config()
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs_f64()
}

/// base64(HMAC-SHA1(secret, username)), computed here rather than by the server.
fn expected_password(username: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn ice_servers(msg: &ServerMsg) -> &[IceServer] {
    match msg {
        ServerMsg::Welcome { ice_servers, .. } | ServerMsg::IceServers { ice_servers } => ice_servers,
        other => panic!("expected a message with ice servers, got {other:?}"),
    }
}

/// Checks the shape of what a peer got (one STUN entry without credentials,
/// one TURN entry with both URLs) and the REST credential minted for peer
/// `n`; returns its expiry.
fn check_rest(msg: &ServerMsg, n: u64) -> u64 {
    let servers = ice_servers(msg);
    assert_eq!(servers.len(), 2, "{servers:?}");
    assert_eq!(servers[0], IceServer { urls: vec![STUN.into()], username: None, credential: None });
    assert_eq!(servers[1].urls, vec![TURN_UDP.to_owned(), TURNS_TCP.to_owned()]);
    let username = servers[1].username.as_deref().expect("a TURN username");
    let (expiry, peer) = username.split_once(':').expect("<expiry>:<id>");
    assert_eq!(peer, id(n).to_hex());
    assert_eq!(peer.len(), 40);
    assert!(peer.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{peer}");
    assert_eq!(servers[1].credential.as_deref(), Some(expected_password(username).as_str()));
    expiry.parse().expect("a Unix time")
}

#[tokio::test]
async fn every_welcome_carries_the_servers_with_credentials_minted_for_its_peer() {
    let ttl = 600;
    let addr = start(rest_config(ttl)).await;
    let before = unix_now() as u64;
    let (mut founder, welcome) = Client::join(addr, "ice", 1).await;
    assert!(matches!(welcome, ServerMsg::Welcome { first: true, .. }), "{welcome:?}");
    let expiry = check_rest(&welcome, 1);
    let after = unix_now() as u64;
    assert!((before + ttl..=after + ttl).contains(&expiry), "expiry {expiry} not now+ttl ({before}..{after} + {ttl})");
    founder.send(&ClientMsg::Member).await;
    stats_until(addr, |s| s.members == 1).await;

    let (_newcomer, welcome) = Client::join(addr, "ice", 2).await;
    assert!(matches!(welcome, ServerMsg::Welcome { first: false, intro: Some(_), .. }), "{welcome:?}");
    let expiry = check_rest(&welcome, 2);
    assert!((before + ttl..=unix_now() as u64 + ttl).contains(&expiry), "expiry {expiry}");
    let s = stats(addr).await;
    assert_eq!((s.turn_credentials_issued, s.ice_refreshes_sent), (2, 0));
}

#[tokio::test]
async fn the_expiry_is_the_injected_clock_plus_the_ttl_and_a_new_introduction_gets_fresh_credentials() {
    let clock = Arc::new(AtomicU64::new(1_700_000_000));
    let read = clock.clone();
    let unix_clock = UnixClock::new(move || read.load(Ordering::SeqCst));
    let addr = start(Config { unix_clock, ..rest_config(3600) }).await;
    let (mut founder, welcome) = Client::join(addr, "clock", 1).await;
    assert_eq!(check_rest(&welcome, 1), 1_700_003_600);
    founder.send(&ClientMsg::Member).await;
    let mut members = vec![founder];
    stats_until(addr, |s| s.members == 1).await;
    let (mut second, welcome) = Client::join(addr, "clock", 2).await;
    assert_eq!(check_rest(&welcome, 2), 1_700_003_600);
    let username = format!("1700003600:{}", id(2).to_hex());
    assert_eq!(ice_servers(&welcome)[1].username.as_deref(), Some(username.as_str()));
    second.send(&ClientMsg::Member).await;
    members.push(second);
    stats_until(addr, |s| s.members == 2).await;

    // Peer 3's first introducer stays silent; the welcome that hands it to
    // the other member carries credentials minted at that later time.
    let (mut third, first) = Client::join(addr, "clock", 3).await;
    assert_eq!(check_rest(&first, 3), 1_700_003_600);
    clock.store(1_700_000_100, Ordering::SeqCst);
    let again = third.recv().await;
    assert!(matches!(again, ServerMsg::Welcome { first: false, intro: Some(_), .. }), "{again:?}");
    assert_eq!(check_rest(&again, 3), 1_700_003_700);
}

#[tokio::test]
async fn credentials_are_refreshed_before_they_expire_for_as_long_as_the_peer_is_connected() {
    let addr = start(rest_config(2)).await;
    let (mut c, welcome) = Client::join(addr, "refresh", 1).await;
    let mut expiry = check_rest(&welcome, 1);
    for _ in 0..3 {
        let refresh = c.recv().await;
        let arrived = unix_now();
        assert!(matches!(refresh, ServerMsg::IceServers { .. }), "{refresh:?}");
        // The username's time is the last second in which the TURN server
        // (coturn: refused once the time is past it) still accepts it.
        assert!(arrived as u64 <= expiry, "refresh at {arrived}, after the credentials expired at {expiry}");
        let next = check_rest(&refresh, 1);
        assert!(next > expiry, "refreshed expiry {next} not later than {expiry}");
        expiry = next;
    }
    let s = stats(addr).await;
    assert_eq!((s.turn_credentials_issued, s.ice_refreshes_sent), (4, 3));

    // Once the peer is gone nothing more is sent for it.
    drop(c);
    stats_until(addr, |s| s.connections == 0).await;
    let sent = stats(addr).await.ice_refreshes_sent;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stats(addr).await.ice_refreshes_sent, sent);
}

#[tokio::test]
async fn static_credentials_are_passed_through_unchanged_and_not_refreshed() {
    let auth = TurnAuth::Static { username: "chord-user".into(), password: Secret::new("static-pass-9") };
    let addr = start(Config { ice_servers: urls(), turn_auth: Some(auth), ..config() }).await;
    let (mut c, welcome) = Client::join(addr, "static", 1).await;
    let turn = IceServer {
        urls: vec![TURN_UDP.into(), TURNS_TCP.into()],
        username: Some("chord-user".into()),
        credential: Some("static-pass-9".into()),
    };
    let stun = IceServer { urls: vec![STUN.into()], username: None, credential: None };
    let ice_servers = vec![stun, turn];
    assert_eq!(welcome, ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers });
    c.expect_silence(Duration::from_millis(1500)).await;
    assert_eq!(stats(addr).await.ice_refreshes_sent, 0);
}

#[tokio::test]
async fn stun_only_servers_carry_no_credentials() {
    let addr = start(Config { ice_servers: vec![STUN.into()], ..config() }).await;
    let (_c, welcome) = Client::join(addr, "stun", 1).await;
    assert_eq!(ice_servers(&welcome), [IceServer { urls: vec![STUN.into()], username: None, credential: None }]);
    assert_eq!(stats(addr).await.turn_credentials_issued, 0);
}

#[tokio::test]
async fn an_inconsistent_config_is_refused_by_run() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let bad = Config { ice_servers: vec![TURN_UDP.into()], ..config() };
    let err = chord_signaling::run(listener, bad).await.expect_err("a TURN URL without credentials");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("needs credentials"), "{err}");
}

#[test]
fn the_config_debug_hides_the_secret_and_the_static_password() {
    let text = format!("{:?}", rest_config(60));
    assert!(text.contains("turn_auth") && !text.contains(SECRET), "{text}");
    let auth = TurnAuth::Static { username: "u".into(), password: Secret::new("static-pass-9") };
    let text = format!("{:?}", Config { turn_auth: Some(auth), ..config() });
    assert!(text.contains("turn_auth") && !text.contains("static-pass-9"), "{text}");
}

// ---- The binary -------------------------------------------------------------

/// A file of this test run holding `content`.
fn temp_file(name: &str, content: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("chord-signaling-ice-{}-{name}", std::process::id()));
    std::fs::write(&path, content).expect("write a temp file");
    path
}

/// Runs the binary with `args` until it exits (at most [`WAIT`]): its exit
/// code and everything it printed.
fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chord-signaling"))
        .args(["--addr", "127.0.0.1:0", "--www", "does-not-exist"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > WAIT {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("{args:?}: still running after {WAIT:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// Asserts that the binary refuses `args` with a message holding every one of `expected`.
fn assert_refused(args: &[&str], expected: &[&str]) -> String {
    let (code, text) = run_to_exit(args);
    assert!(matches!(code, Some(c) if c != 0), "{args:?}: exit code {code:?}, output: {text}");
    for e in expected {
        assert!(text.contains(e), "{args:?}: {e:?} missing from: {text}");
    }
    text
}

#[test]
fn the_binary_refuses_to_start_with_bad_ice_settings() {
    assert_refused(&["--ice-server", "http://turn.example.org"], &["--ice-server", "is not an ICE server URL"]);
    assert_refused(&["--ice-server", "stun:host?transport=udp"], &["--ice-server", "only turn: and turns: URLs take"]);
    assert_refused(&["--ice-server", TURN_UDP], &["--ice-server", TURN_UDP, "needs credentials", "--turn-secret-file"]);

    let missing = std::env::temp_dir().join("chord-signaling-ice-no-such-secret");
    let missing = missing.to_str().expect("a UTF-8 temp dir");
    assert_refused(
        &["--ice-server", TURN_UDP, "--turn-secret-file", missing],
        &["--turn-secret-file", missing, "cannot read", "os error 2"],
    );
    let empty = temp_file("empty", "\n");
    let empty = empty.to_str().expect("UTF-8");
    assert_refused(&["--ice-server", TURN_UDP, "--turn-secret-file", empty], &["--turn-secret-file", empty, "empty"]);
    let no_password = temp_file("no-password", "");
    let no_password = no_password.to_str().expect("UTF-8");
    assert_refused(
        &["--ice-server", TURN_UDP, "--turn-username", "u", "--turn-password-file", no_password],
        &["--turn-password-file", no_password, "empty"],
    );

    // Credentials no TURN URL uses; the message names the flag, never the content.
    let secret = temp_file("unused-secret", &format!("{SECRET}\n"));
    let text = assert_refused(
        &["--ice-server", STUN, "--turn-secret-file", secret.to_str().expect("UTF-8")],
        &["--turn-secret-file", "no --ice-server turn:"],
    );
    assert!(!text.contains(SECRET), "{text}");
    assert_refused(&["--turn-secret-file", secret.to_str().expect("UTF-8")], &["--turn-secret-file"]);
    // Both credential forms at once, and a TTL below the minimum.
    assert_refused(
        &["--ice-server", TURN_UDP, "--turn-secret-file", "x", "--turn-username", "u", "--turn-password-file", "y"],
        &["cannot be used with"],
    );
    assert_refused(&["--turn-secret-file", "x", "--turn-ttl", "1"], &["--turn-ttl"]);
}

#[test]
fn help_lists_the_ice_flags() {
    let (code, text) = run_to_exit(&["--help"]);
    assert_eq!(code, Some(0), "{text}");
    for flag in ["--ice-server <URL>", "--turn-secret-file <PATH>", "--turn-ttl <SECONDS>", "--turn-username <NAME>"] {
        assert!(text.contains(flag), "{flag} missing from --help: {text}");
    }
    assert!(text.contains("--turn-password-file <PATH>") && text.contains("[default: 86400]"), "{text}");
}

/// A client that keeps every text frame as it arrived.
async fn raw_frames(addr: SocketAddr, hello: ClientMsg, until: impl Fn(&[String]) -> bool) -> Vec<String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.expect("connect");
    ws.send(Message::text(serde_json::to_string(&hello).expect("encode"))).await.expect("send");
    let mut frames = Vec::new();
    let read = async {
        while !until(&frames) {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => frames.push(t.as_str().to_owned()),
                Some(Ok(_)) => {}
                other => panic!("connection ended: {other:?}"),
            }
        }
    };
    tokio::time::timeout(WAIT, read).await.expect("the frames in time");
    frames
}

#[tokio::test]
async fn the_secret_never_leaves_the_server() {
    let secret = temp_file("secret", &format!("{SECRET}\n"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_chord-signaling"))
        .args(["--addr", "127.0.0.1:0", "--www", "does-not-exist", "--ice-server", STUN, "--ice-server", TURN_UDP])
        .args(["--ice-server", TURNS_TCP, "--turn-ttl", "2", "--turn-secret-file", secret.to_str().expect("UTF-8")])
        .args(["--grace", "0"]) // the founder is answered at once
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let stderr = child.stderr.take().expect("piped stderr");
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let addr: SocketAddr = loop {
        let line = lines.recv_timeout(WAIT).expect("the server says where it listens");
        let found = line.split("http://").nth(1).and_then(|rest| rest.split_whitespace().next()?.parse().ok());
        log.push(line);
        if let Some(addr) = found {
            break addr;
        }
    };

    // A founder that stays for two refreshes, and a newcomer it introduces.
    let is_refresh = |f: &String| f.contains(r#""type":"ice_servers""#);
    let two_refreshes = move |f: &[String]| f.iter().filter(|f| is_refresh(f)).count() >= 2;
    let founder = tokio::spawn(raw_frames(addr, hello("secret", 1), two_refreshes));
    stats_until(addr, |s| s.rings == 1).await;
    let mut frames = raw_frames(addr, hello("secret", 2), |f| !f.is_empty()).await;
    frames.extend(founder.await.expect("the founder's task"));
    let (status, stats_body) = common::http_get(addr, "/stats").await;
    assert_eq!(status, 200);

    child.kill().expect("stop the server");
    child.wait().expect("reap the server");
    reader.join().expect("the log reader");
    log.extend(lines.try_iter());
    let log = log.join("\n");

    // The capture is real: the log has the settings, the frames the derived passwords.
    assert!(log.contains("turn credentials: REST, ttl 2 s"), "{log}");
    assert!(log.contains(&format!("ice servers: {STUN} {TURN_UDP} {TURNS_TCP}")), "{log}");
    let welcome: ServerMsg = serde_json::from_str(&frames[0]).expect("JSON");
    check_rest(&welcome, 2);
    assert!(frames.iter().filter(|f| is_refresh(f)).count() >= 2, "{frames:?}");
    assert!(stats_body.contains("\"ice_refreshes_sent\":"), "{stats_body}");
    // And the secret is nowhere.
    assert!(!log.contains(SECRET), "the secret is in the log");
    assert!(!stats_body.contains(SECRET), "the secret is in /stats: {stats_body}");
    for frame in &frames {
        assert!(!frame.contains(SECRET), "the secret was sent to a peer: {frame}");
    }
}
