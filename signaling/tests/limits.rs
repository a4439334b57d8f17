//! The connection limits: per address, per ring, origins, message rate, and
//! the HTTP handshake's timeout. Each test ends by checking that the server
//! still introduces a fresh pair of well-behaved clients.

mod common;

use chord::signal::{ClientMsg, ServerMsg};
use chord_signaling::Config;
use common::{assert_introduces, config, hello, refusal, start, stats, stats_until, ws_request, Client, WAIT};
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Two loopback addresses standing for two different clients.
const CROWDED: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
/// Short handshake timeout for the tests that wait it out.
const HANDSHAKE: Duration = Duration::from_millis(300);

/// A TCP connection from `source` that sends nothing.
async fn silent_from(source: IpAddr, addr: std::net::SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind((source, 0).into()).expect("bind a loopback source address");
    socket.connect(addr).await.expect("connect")
}

/// Reads until the server closes `tcp`; returns how long that took.
async fn closed_after(mut tcp: TcpStream, since: Instant) -> Duration {
    let mut sink = Vec::new();
    let read = tcp.read_to_end(&mut sink);
    // A reset is a close too.
    let _ = tokio::time::timeout(WAIT, read).await.expect("the server closes the connection in time");
    since.elapsed()
}

#[tokio::test]
async fn an_address_over_its_limit_is_refused_while_others_are_served() {
    let max = 3;
    let addr = start(Config { max_per_address: max, ..config() }).await;
    // The limit counts every socket of the address: WebSockets and a
    // connection still in its HTTP phase alike.
    let mut held = Vec::new();
    for _ in 0..max - 1 {
        held.push(Client::try_connect_from(CROWDED, addr, ws_request(addr)).await.expect("within the limit"));
    }
    let pending = silent_from(CROWDED, addr).await;
    let (status, body) = refusal(Client::try_connect_from(CROWDED, addr, ws_request(addr)).await);
    assert_eq!(status, 429);
    assert!(body.contains("too many connections from this address"), "{body:?}");
    assert_eq!(stats(addr).await.connections_refused, 1);

    // Another address is not affected.
    let c = Client::try_connect_from(OTHER, addr, ws_request(addr)).await.expect("another address");
    drop(c);
    // A place freed is a place taken.
    drop(pending);
    let deadline = Instant::now() + WAIT;
    let again = loop {
        // The server notices the hang-up on its own time.
        match Client::try_connect_from(CROWDED, addr, ws_request(addr)).await {
            Ok(c) => break c,
            Err(e) => {
                assert!(Instant::now() < deadline, "the freed place was never given back: {e:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    drop((held, again));
    assert_introduces(addr, "after-crowd", 1).await;
}

#[tokio::test]
async fn a_full_ring_turns_newcomers_away_and_other_rings_go_on() {
    let max = 2;
    let addr = start(Config { max_per_ring: max, ..config() }).await;
    let (_member, _newcomer) = assert_introduces(addr, "small", 1).await;
    let mut late = Client::connect(addr).await;
    late.send(&hello("small", 3)).await;
    let ending = late.ending().await;
    let expected = format!("ring small is full ({max} peers)");
    assert!(matches!(&ending.messages[..], [ServerMsg::Error { reason, .. }] if *reason == expected), "{ending:?}");
    assert_eq!(ending.close.map(|c| u16::from(c.code)), Some(1013), "try again later");
    // A full ring is not the client's fault.
    let s = stats_until(addr, |s| s.connections == 2).await;
    assert_eq!(s.protocol_errors, 0);
    assert_introduces(addr, "elsewhere", 10).await;
}

#[tokio::test]
async fn an_origin_not_listed_is_refused() {
    let page = "http://ring.example:8080";
    let addr = start(Config { allowed_origins: vec![page.into()], ..config() }).await;
    let mut from_elsewhere = ws_request(addr);
    from_elsewhere.headers_mut().insert("origin", "http://evil.example".parse().unwrap());
    let (status, body) = refusal(Client::try_connect(addr, from_elsewhere).await);
    assert_eq!(status, 403);
    assert!(body.contains("origin is not allowed"), "{body:?}");
    let (status, body) = refusal(Client::try_connect(addr, ws_request(addr)).await);
    assert_eq!(status, 403);
    assert!(body.contains("Origin header is required"), "{body:?}");
    assert_eq!(stats(addr).await.connections_refused, 2);

    let mut from_the_page = ws_request(addr);
    from_the_page.headers_mut().insert("origin", page.parse().unwrap());
    let mut c = Client::try_connect(addr, from_the_page).await.expect("a listed origin");
    c.send(&hello("origins", 1)).await;
    assert_eq!(c.recv().await, ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers: vec![] });
}

#[tokio::test]
async fn a_client_over_the_message_rate_is_cut_off() {
    let burst = NonZeroU32::new(40).unwrap();
    let rate = NonZeroU32::new(10).unwrap();
    let addr = start(Config { message_rate: rate, message_burst: burst, ..config() }).await;
    // A client that spends its whole burst (hello and member included) stays.
    let mut calm = Client::found(addr, "rate", 1).await;
    for _ in 2..burst.get() {
        calm.send(&ClientMsg::Member).await;
    }
    // One sending twice its burst at once is closed.
    let mut noisy = Client::found(addr, "noisy", 2).await;
    for _ in 0..2 * burst.get() {
        if noisy.try_send_raw(tokio_tungstenite::tungstenite::Message::text(r#"{"type":"member"}"#)).await.is_err() {
            break;
        }
    }
    let ending = noisy.ending().await;
    let expected = format!("more than {burst} frames at once or {rate} per second");
    let reason = ending.messages.iter().find_map(|m| match m {
        ServerMsg::Error { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert!(reason.as_ref().is_some_and(|r| r.contains(&expected)), "{ending:?}");
    assert_eq!(ending.close.map(|c| u16::from(c.code)), Some(1008));
    // The calm one is still a member and introduces a newcomer.
    let (_newcomer, welcome) = Client::join(addr, "rate", 3).await;
    assert!(matches!(welcome, ServerMsg::Welcome { first: false, .. }), "{welcome:?}");
    assert!(matches!(calm.recv().await, ServerMsg::Introduce { .. }));
    let s = stats_until(addr, |s| s.connections == 2).await;
    assert_eq!(s.protocol_errors, 1);
    assert_introduces(addr, "after-noise", 10).await;
}

#[tokio::test]
async fn silent_and_trickling_http_clients_are_closed_after_the_handshake_timeout() {
    let addr = start(Config { handshake_timeout: HANDSHAKE, max_per_address: 2, ..config() }).await;
    let started = Instant::now();
    // Says nothing at all.
    let silent = silent_from(CROWDED, addr).await;
    // Sends its request head one byte at a time, never finishing it.
    let mut slow = silent_from(CROWDED, addr).await;
    slow.write_all(format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\n").as_bytes()).await.expect("write");
    let trickle = tokio::spawn(async move {
        let tick = HANDSHAKE / 10;
        while slow.write_all(b"X").await.is_ok() && started.elapsed() < WAIT {
            tokio::time::sleep(tick).await;
        }
    });
    // The two hold the address's places meanwhile.
    let (status, _) = refusal(Client::try_connect_from(CROWDED, addr, ws_request(addr)).await);
    assert_eq!(status, 429);
    let waited = closed_after(silent, started).await;
    assert!(waited >= HANDSHAKE, "closed after {waited:?}, before the timeout");
    trickle.await.expect("the trickling client ends");
    let trickled = started.elapsed();
    assert!(trickled < WAIT, "the trickling client was never closed");
    // Both places are free again.
    let deadline = Instant::now() + WAIT;
    while Client::try_connect_from(CROWDED, addr, ws_request(addr)).await.is_err() {
        assert!(Instant::now() < deadline, "the address's places were never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("silent client closed after {waited:?}, trickling one after {trickled:?}");
    assert_introduces(addr, "after-slowloris", 1).await;
}
