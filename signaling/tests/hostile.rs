//! Hostile and broken clients are turned away with a reason, and the server
//! keeps serving everybody else.

mod common;

use chord::signal::{ClientMsg, ServerMsg, SignalPayload, MAX_SDP_BYTES, SIGNAL_VERSION};
use common::{config, hello, id, start, stats, stats_until, Client, Ending};
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::Message;

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
        [ServerMsg::Error { reason }] => assert!(reason.contains(needle), "{reason:?} should mention {needle:?}"),
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
    assert_eq!(welcome, ServerMsg::Welcome { first: true, intro: None, introducer: None });
}

#[tokio::test]
async fn malformed_frames_are_refused_with_a_reason() {
    let addr = start(config()).await;
    let cases: Vec<(Vec<Message>, &str, u16)> = vec![
        (vec![Message::text("{not json")], "malformed", 1008),
        (vec![Message::text(r#"{"type":"launch_missiles"}"#)], "unknown variant", 1008),
        (
            vec![Message::text(format!(r#"{{"type":"hello","version":1,"id":"{}"}}"#, "zz".repeat(20)))],
            "malformed",
            1008,
        ),
        (vec![Message::binary(vec![0xff, 0x00, 0x13, 0x37])], "binary", 1003),
        (vec![json(&ClientMsg::Hello { version: SIGNAL_VERSION + 1, ring: "r".into(), id: id(1) })], "version", 1008),
        (vec![json(&hello("bad name!", 1))], "ring name", 1008),
        (vec![json(&hello(&"r".repeat(65), 1))], "ring name", 1008),
        (vec![json(&ClientMsg::Member)], "hello", 1008),
        (vec![json(&hello("r", 1)), json(&hello("r", 1))], "hello was already sent", 1008),
        (
            vec![
                json(&hello("sdp", 1)),
                json(&ClientMsg::Signal {
                    intro: 1,
                    payload: SignalPayload::Offer { sdp: "x".repeat(MAX_SDP_BYTES + 1) },
                }),
            ],
            "sdp",
            1008,
        ),
    ];
    let count = cases.len() as u64;
    for (n, (frames, needle, code)) in cases.into_iter().enumerate() {
        let ending = refused(addr, frames).await;
        // The two-hello case gets its welcome before the error.
        let ending = Ending {
            messages: ending.messages.into_iter().filter(|m| !matches!(m, ServerMsg::Welcome { .. })).collect(),
            ..ending
        };
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

    let (mut newcomer, welcome) = Client::join(addr, "r", 2).await;
    let ServerMsg::Welcome { intro: Some(intro), .. } = welcome else { panic!("{welcome:?}") };
    member.recv().await;
    // A third peer of another ring tries to answer in their place.
    let intruder = vec![
        json(&hello("elsewhere", 3)),
        json(&ClientMsg::Signal { intro, payload: SignalPayload::Answer { sdp: "v=0".into() } }),
    ];
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
