//! Hostile and broken clients are turned away with a reason, and the server
//! keeps serving everybody else.

mod common;

use chord::rng::SeededRng;
use chord::signal::{ClientMsg, IntroId, ServerMsg, SignalPayload, MAX_FRAME_BYTES, MAX_SDP_BYTES, SIGNAL_VERSION};
use common::{assert_introduces, config, hello, id, start, stats, stats_until, Client, Ending, WAIT};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Instant;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

/// Size of the frame a hostile client announces and starts to send.
const HUGE_FRAME_BYTES: usize = 16 << 20;
/// Connections opened and dropped in the flood test, and how many at a time.
const FLOOD_CONNECTIONS: usize = 2_000;
const FLOOD_WAVE: usize = 100;
/// Garbage frames per hostile connection in the garbage test.
const GARBAGE_FRAMES: usize = 20;

/// Sends `frames` on a fresh connection and returns how the server ended it.
async fn refused(addr: SocketAddr, frames: Vec<Message>) -> Ending {
    let mut c = Client::connect(addr).await;
    for frame in frames {
        c.send_raw(frame).await;
    }
    c.ending().await
}

/// The connection got one `error` naming `needle`, then a close frame with `code`.
fn assert_refused(ending: &Ending, needle: &str, code: u16) {
    match &ending.messages[..] {
        [ServerMsg::Error { reason, .. }] => assert!(reason.contains(needle), "{reason:?} should mention {needle:?}"),
        other => panic!("expected one error mentioning {needle:?}, got {other:?}"),
    }
    assert_eq!(ending.close.as_ref().map(|c| u16::from(c.code)), Some(code), "{ending:?}");
}

fn json(msg: &ClientMsg) -> Message {
    Message::text(serde_json::to_string(msg).unwrap())
}

/// A fresh peer can still found a ring: the server survived.
async fn still_serving(addr: SocketAddr, n: u64) {
    let (_c, welcome) = Client::join(addr, &format!("survivor-{n}"), n).await;
    assert_eq!(welcome, ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers: vec![] });
}

#[tokio::test]
async fn malformed_frames_are_refused_with_a_reason() {
    let addr = start(config()).await;
    let cases: Vec<(Vec<Message>, &str, u16)> = vec![
        (vec![Message::text("{not json")], "malformed", 1008),
        (vec![Message::text(r#"{"type":"launch_missiles"}"#)], "unknown variant", 1008),
        (vec![Message::text(format!(r#"{{"type":"hello","version":1,"id":"{}"}}"#, "zz".repeat(20)))], "malformed", 1008),
        (vec![Message::binary(vec![0xff, 0x00, 0x13, 0x37])], "binary", 1003),
        (vec![json(&ClientMsg::Hello { version: SIGNAL_VERSION + 1, ring: "r".into(), id: id(1), member: false })], "version", 1008),
        (vec![json(&hello("bad name!", 1))], "ring name", 1008),
        (vec![json(&hello(&"r".repeat(65), 1))], "ring name", 1008),
        (vec![json(&ClientMsg::Member)], "hello", 1008),
        (vec![json(&hello("r", 1)), json(&hello("r", 1))], "hello was already sent", 1008),
        (
            vec![
                json(&hello("sdp", 1)),
                json(&ClientMsg::Signal { intro: IntroId(1), payload: SignalPayload::Offer { sdp: "x".repeat(MAX_SDP_BYTES + 1) } }),
            ],
            "sdp",
            1008,
        ),
    ];
    let count = cases.len() as u64;
    for (n, (frames, needle, code)) in cases.into_iter().enumerate() {
        let ending = refused(addr, frames).await;
        // The two-hello case gets its welcome before the error.
        let ending =
            Ending { messages: ending.messages.into_iter().filter(|m| !matches!(m, ServerMsg::Welcome { .. })).collect(), ..ending };
        assert_refused(&ending, needle, code);
        still_serving(addr, 100 + n as u64).await;
    }
    stats_until(addr, |s| s.protocol_errors == count).await;
}

#[tokio::test]
async fn an_oversized_frame_is_refused_without_being_buffered() {
    let addr = start(config()).await;
    let mut c = Client::connect(addr).await;
    let big = format!(r#"{{"type":"member","pad":"{}"}}"#, "x".repeat(1 << 20));
    // The server may close while the frame is still being written.
    let _ = c.try_send_raw(Message::text(big)).await;
    // The server stops reading at the frame header and closes after a short
    // grace period, so the error arrives before the kernel resets the
    // connection under the unread rest of the frame.
    let ending = c.ending().await;
    assert_refused(&ending, "exceeds", 1009);
    stats_until(addr, |s| s.protocol_errors == 1 && s.connections == 0).await;
    still_serving(addr, 1).await;
}

#[tokio::test]
async fn a_frame_just_over_the_limit_gets_the_error() {
    let addr = start(config()).await;
    let big = format!(r#"{{"type":"member","pad":"{}"}}"#, "x".repeat(chord::signal::MAX_FRAME_BYTES));
    let ending = refused(addr, vec![Message::text(big)]).await;
    assert_refused(&ending, "exceeds", 1009);
    still_serving(addr, 1).await;
}

#[tokio::test]
async fn peers_cannot_take_ids_or_introductions_of_others() {
    let addr = start(config()).await;
    let mut member = Client::found(addr, "r", 1).await;
    stats_until(addr, |s| s.members == 1).await;
    // The same id again in the same ring.
    let ending = refused(addr, vec![json(&hello("r", 1))]).await;
    assert_refused(&ending, "already connected", 1008);
    // With the code a client acts on: the peer fails its join as "id taken", and the page picks another id.
    assert!(matches!(&ending.messages[..], [ServerMsg::Error { code: Some(c), .. }] if c == chord::signal::ERROR_ID_TAKEN), "{ending:?}");

    let (mut newcomer, welcome) = Client::join(addr, "r", 2).await;
    let ServerMsg::Welcome { intro: Some(intro), .. } = welcome else { panic!("{welcome:?}") };
    member.recv().await;
    // A third peer of another ring tries to answer in their place.
    let intruder =
        vec![json(&hello("elsewhere", 3)), json(&ClientMsg::Signal { intro, payload: SignalPayload::Answer { sdp: "v=0".into() } })];
    let ending = refused(addr, intruder).await;
    let ending = Ending { messages: ending.messages.into_iter().skip(1).collect(), ..ending };
    assert_refused(&ending, "not a party", 1008);

    // The real introduction is unharmed.
    newcomer.send(&ClientMsg::Signal { intro, payload: SignalPayload::Offer { sdp: "v=0".into() } }).await;
    assert!(matches!(member.recv().await, ServerMsg::Signal { from, .. } if from == id(2)));
    let s = stats(addr).await;
    assert_eq!(s.members, 1);
}

#[tokio::test]
async fn a_flood_of_signals_is_cut_off() {
    let addr = start(config()).await;
    let mut member = Client::found(addr, "flood", 1).await;
    stats_until(addr, |s| s.members == 1).await;
    let (mut newcomer, welcome) = Client::join(addr, "flood", 2).await;
    let ServerMsg::Welcome { intro: Some(intro), .. } = welcome else { panic!("{welcome:?}") };
    member.recv().await;
    let cap = chord::signal::MAX_SIGNALS_PER_INTRO;
    let ice = SignalPayload::Ice { candidate: "candidate:x".into(), sdp_mid: None, sdp_m_line_index: None };
    for _ in 0..=cap {
        newcomer.send(&ClientMsg::Signal { intro, payload: ice.clone() }).await;
    }
    let ending = newcomer.ending().await;
    assert_refused(&ending, "too many signals", 1008);
    for _ in 0..cap {
        assert!(matches!(member.recv().await, ServerMsg::Signal { .. }));
    }
    assert!(matches!(member.recv().await, ServerMsg::IntroFailed { intro: i, .. } if i == intro));
    let s = stats_until(addr, |s| s.connections == 1).await;
    assert_eq!(s.messages_relayed, u64::from(cap));
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let addr = start(chord_signaling::Config { max_connections: 1, ..config() }).await;
    let _first = Client::connect(addr).await;
    stats_until(addr, |s| s.connections == 1).await;
    let second = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await;
    match second {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("expected 503, got {other:?}"),
    }
    drop(_first);
    stats_until(addr, |s| s.connections == 0).await;
    still_serving(addr, 1).await;
}

#[tokio::test]
async fn garbage_binary_frames_and_broken_framing_are_refused() {
    let addr = start(config()).await;
    let mut dice = SeededRng::new(6);
    let garbage = |dice: &mut SeededRng| -> Vec<u8> {
        let len = 1 + dice.below(MAX_FRAME_BYTES as u64) as usize;
        (0..len).map(|_| dice.below(256) as u8).collect()
    };
    // A burst of random binary frames: the first one ends the connection.
    let frames = (0..GARBAGE_FRAMES).map(|_| Message::binary(garbage(&mut dice))).collect();
    assert_refused(&refused(addr, frames).await, "binary", 1003);
    // A text frame that is not UTF-8.
    let not_utf8 = Frame::message(vec![0xc3, 0x28, 0xff], OpCode::Data(Data::Text), true);
    let ending = refused(addr, vec![Message::Frame(not_utf8)]).await;
    assert_eq!(ending.close.map(|c| u16::from(c.code)), Some(1002), "a broken frame is a protocol error");
    // Random bytes in place of WebSocket framing, right after the upgrade.
    let mut c = Client::connect(addr).await;
    c.send_raw_bytes(&garbage(&mut dice)).await;
    let ending = c.ending().await;
    assert!(ending.close.as_ref().is_none_or(|c| u16::from(c.code) == 1002), "{ending:?}");
    stats_until(addr, |s| s.protocol_errors == 3 && s.connections == 0).await;
    assert_introduces(addr, "after-garbage", 1).await;
}

#[tokio::test]
async fn a_16_mib_frame_is_refused_at_its_header() {
    let addr = start(config()).await;
    let (mut sink, mut stream) = Client::connect(addr).await.into_inner().split();
    // Written by one task while another reads: the server answers as soon as
    // it has the frame header and stops reading, so the writer stalls.
    let writer = tokio::spawn(async move {
        let big = format!(r#"{{"type":"member","pad":"{}"}}"#, "x".repeat(HUGE_FRAME_BYTES));
        let _ = sink.send(Message::text(big)).await;
    });
    let started = Instant::now();
    let mut error = None;
    let mut code = None;
    let read = async {
        while let Some(Ok(frame)) = stream.next().await {
            match frame {
                Message::Text(t) => error = Some(serde_json::from_str::<ServerMsg>(t.as_str()).expect("server JSON")),
                Message::Close(frame) => code = frame.map(|f| u16::from(f.code)),
                _ => {}
            }
        }
    };
    tokio::time::timeout(WAIT, read).await.expect("the server closes in time");
    assert!(matches!(&error, Some(ServerMsg::Error { reason, .. }) if reason.contains("exceeds")), "{error:?}");
    assert_eq!(code, Some(1009));
    assert!(started.elapsed() < WAIT);
    writer.abort();
    stats_until(addr, |s| s.protocol_errors == 1 && s.connections == 0).await;
    assert_introduces(addr, "after-16mib", 1).await;
}

#[tokio::test]
async fn a_connect_disconnect_flood_leaves_the_server_serving() {
    let addr = start(config()).await;
    // A member that stays through the flood.
    let mut member = Client::found(addr, "steady", 1).await;
    let started = Instant::now();
    for wave in 0..FLOOD_CONNECTIONS / FLOOD_WAVE {
        let hits = (0..FLOOD_WAVE).map(|i| {
            let n = (wave * FLOOD_WAVE + i) as u64;
            async move {
                match n % 3 {
                    // TCP only: connect and hang up before any HTTP.
                    0 => drop(TcpStream::connect(addr).await.expect("connect")),
                    // A WebSocket dropped right after the upgrade.
                    1 => drop(Client::connect(addr).await),
                    // A hello, then gone without a goodbye.
                    _ => {
                        let mut c = Client::connect(addr).await;
                        c.send(&hello("flood", 1_000 + n)).await;
                    }
                }
            }
        });
        futures_util::future::join_all(hits).await;
    }
    let flood = started.elapsed();
    let s = stats_until(addr, |s| s.connections == 1).await;
    assert_eq!((s.members, s.rings), (1, 1), "only the steady member is left: {s:?}");
    println!("{FLOOD_CONNECTIONS} connects and disconnects in {flood:?}");
    // The steady member still introduces newcomers, and new rings start.
    let (mut newcomer, welcome) = Client::join(addr, "steady", 2).await;
    assert!(matches!(welcome, ServerMsg::Welcome { introducer: Some(by), .. } if by == id(1)), "{welcome:?}");
    assert!(matches!(member.recv().await, ServerMsg::Introduce { .. }));
    newcomer.send(&ClientMsg::Member).await;
    assert_introduces(addr, "after-flood", 10).await;
}

#[tokio::test]
async fn a_request_that_is_not_http_gets_400() {
    let addr = start(config()).await;
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    // A TLS ClientHello's first bytes, then line ends.
    tcp.write_all(b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n").await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut answer);
    tokio::time::timeout(WAIT, read).await.expect("the server closes in time").expect("read");
    assert!(answer.starts_with(b"HTTP/1.1 400"), "{:?}", String::from_utf8_lossy(&answer));
    assert_introduces(addr, "after-junk", 1).await;
}
