//! The happy path: founding, introducing, relaying, and what the server forgets.

mod common;

use chord::signal::{ClientMsg, ServerMsg, SignalPayload};
use common::{config, id, start, stats, stats_until, Client};
use std::time::Duration;

fn offer() -> SignalPayload {
    SignalPayload::Offer { sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".into() }
}

fn answer() -> SignalPayload {
    SignalPayload::Answer { sdp: "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\n".into() }
}

fn ice(n: u16) -> SignalPayload {
    SignalPayload::Ice {
        candidate: format!("candidate:{n} 1 udp 1 127.0.0.1 9 typ host"),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
    }
}

#[tokio::test]
async fn a_newcomer_is_introduced_and_its_signals_relayed_both_ways() {
    let addr = start(config()).await;
    let mut member = Client::found(addr, "default", 1).await;
    stats_until(addr, |s| s.members == 1).await;

    let (mut newcomer, welcome) = Client::join(addr, "default", 2).await;
    let ServerMsg::Welcome { first: false, intro: Some(intro), introducer: Some(introducer), .. } = welcome else {
        panic!("expected an introduction, got {welcome:?}");
    };
    assert_eq!(introducer, id(1));
    assert_eq!(member.recv().await, ServerMsg::Introduce { intro, newcomer: id(2) });

    newcomer.send(&ClientMsg::Signal { intro, payload: offer() }).await;
    assert_eq!(member.recv().await, ServerMsg::Signal { intro, from: id(2), payload: offer() });
    member.send(&ClientMsg::Signal { intro, payload: answer() }).await;
    assert_eq!(newcomer.recv().await, ServerMsg::Signal { intro, from: id(1), payload: answer() });
    newcomer.send(&ClientMsg::Signal { intro, payload: ice(1) }).await;
    assert_eq!(member.recv().await, ServerMsg::Signal { intro, from: id(2), payload: ice(1) });
    member.send(&ClientMsg::Signal { intro, payload: ice(2) }).await;
    assert_eq!(newcomer.recv().await, ServerMsg::Signal { intro, from: id(1), payload: ice(2) });

    newcomer.send(&ClientMsg::Member).await;
    let s = stats_until(addr, |s| s.members == 2).await;
    assert_eq!((s.connections, s.rings), (2, 1));
    assert_eq!((s.introductions, s.introductions_completed, s.introductions_failed), (1, 1, 0));
    assert_eq!(s.messages_relayed, 4);
    assert_eq!(s.protocol_errors, 0);
}

#[tokio::test]
async fn after_the_newcomer_joins_nothing_more_is_relayed() {
    let addr = start(config()).await;
    let mut member = Client::found(addr, "late", 1).await;
    stats_until(addr, |s| s.members == 1).await;
    let (mut newcomer, welcome) = Client::join(addr, "late", 2).await;
    let ServerMsg::Welcome { intro: Some(intro), .. } = welcome else { panic!("{welcome:?}") };
    member.recv().await; // introduce
    newcomer.send(&ClientMsg::Signal { intro, payload: offer() }).await;
    member.recv().await;
    newcomer.send(&ClientMsg::Member).await;
    let before = stats_until(addr, |s| s.members == 2).await;
    assert_eq!(before.messages_relayed, 1);

    // Late trickled candidates, both ways: refused, counted, not relayed.
    newcomer.send(&ClientMsg::Signal { intro, payload: ice(1) }).await;
    member.send(&ClientMsg::Signal { intro, payload: ice(2) }).await;
    let after = stats_until(addr, |s| s.signals_refused == before.signals_refused + 2).await;
    assert_eq!(after.messages_relayed, before.messages_relayed);
    member.expect_silence(Duration::from_millis(200)).await;
    newcomer.expect_silence(Duration::from_millis(1)).await;
    // Refusing a late signal is not a protocol error: both stay connected.
    assert_eq!((after.connections, after.protocol_errors), (2, 0));
}

#[tokio::test]
async fn rings_are_isolated() {
    let addr = start(config()).await;
    let mut in_a = Client::found(addr, "a", 1).await;
    stats_until(addr, |s| s.members == 1).await;
    // Ring "b" has no member, whatever ring "a" holds.
    let mut in_b = Client::found(addr, "b", 2).await;
    stats_until(addr, |s| s.members == 2 && s.rings == 2).await;
    // A newcomer of "b" is introduced to the member of "b" only.
    let (_newcomer, welcome) = Client::join(addr, "b", 3).await;
    assert!(matches!(welcome, ServerMsg::Welcome { first: false, introducer: Some(i), .. } if i == id(2)));
    assert!(matches!(in_b.recv().await, ServerMsg::Introduce { newcomer, .. } if newcomer == id(3)));
    in_a.expect_silence(Duration::from_millis(200)).await;
    // The same id may live in two rings.
    let (_same_id, welcome) = Client::join(addr, "c", 1).await;
    assert_eq!(welcome, ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers: vec![] });
}

#[tokio::test]
async fn a_disconnected_member_is_forgotten() {
    let addr = start(config()).await;
    let first = Client::found(addr, "gone", 1).await;
    let mut second = Client::found(addr, "gone-too", 2).await;
    stats_until(addr, |s| s.members == 2 && s.connections == 2).await;
    drop(first);
    let s = stats_until(addr, |s| s.members == 1).await;
    assert_eq!(s.rings, 1);
    second.send(&ClientMsg::Bye).await;
    let ending = second.ending().await;
    assert!(ending.messages.is_empty(), "{ending:?}");
    let s = stats_until(addr, |s| s.members == 0 && s.connections == 0).await;
    assert_eq!((s.rings, s.protocol_errors), (0, 0));
    // The ring can be founded again.
    Client::found(addr, "gone", 3).await;
}

#[tokio::test]
async fn a_new_member_introduces_the_next_newcomer_too() {
    let addr = start(config()).await;
    let _a = Client::found(addr, "grow", 1).await;
    stats_until(addr, |s| s.members == 1).await;
    let (mut b, _) = Client::join(addr, "grow", 2).await;
    b.send(&ClientMsg::Member).await;
    stats_until(addr, |s| s.members == 2).await;
    // With two members, newcomers are spread over both.
    let mut introducers = std::collections::HashSet::new();
    for n in 10..30 {
        let (c, welcome) = Client::join(addr, "grow", n).await;
        let ServerMsg::Welcome { introducer: Some(by), .. } = welcome else { panic!("{welcome:?}") };
        introducers.insert(by);
        drop(c);
    }
    assert_eq!(introducers, [id(1), id(2)].into_iter().collect());
}

#[tokio::test]
async fn static_files_are_served_and_a_missing_directory_is_a_404() {
    let addr = start(config()).await;
    assert_eq!(common::http_get(addr, "/").await.0, 404);
    let dir = std::env::temp_dir().join(format!("chord-signaling-www-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>chord</h1>").unwrap();
    let addr = start(chord_signaling::Config { www: dir.clone(), ..config() }).await;
    let (status, body) = common::http_get(addr, "/").await;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("<h1>chord</h1>"));
    let s = stats(addr).await;
    assert_eq!(s, chord_signaling::Stats::default());
}
