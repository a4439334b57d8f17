//! Introducers that never answer or leave, and newcomers that never say hello.

mod common;

use chord::signal::{ClientMsg, ServerMsg, SignalPayload};
use chord_signaling::Config;
use common::{config, id, start, stats_until, Client};
use std::time::Duration;

fn offer() -> SignalPayload {
    SignalPayload::Offer { sdp: "v=0".into() }
}

fn introduction(welcome: &ServerMsg) -> (chord::signal::IntroId, chord::Id) {
    match welcome {
        ServerMsg::Welcome { first: false, intro: Some(intro), introducer: Some(by), .. } => (*intro, *by),
        other => panic!("expected an introduction, got {other:?}"),
    }
}

#[tokio::test]
async fn a_silent_introducer_is_replaced_by_another_member() {
    let addr = start(config()).await;
    let mut members = vec![Client::found(addr, "t", 1).await];
    stats_until(addr, |s| s.members == 1).await;
    let (mut c, _) = Client::join(addr, "t", 2).await;
    c.send(&ClientMsg::Member).await;
    members.push(c);
    stats_until(addr, |s| s.members == 2).await;
    members[0].recv().await; // introduce of peer 2, already joined

    let (mut newcomer, welcome) = Client::join(addr, "t", 3).await;
    let (intro1, by1) = introduction(&welcome);
    newcomer.send(&ClientMsg::Signal { intro: intro1, payload: offer() }).await;
    let silent = if by1 == id(1) { 0 } else { 1 };
    assert!(matches!(members[silent].recv().await, ServerMsg::Introduce { intro, .. } if intro == intro1));
    assert!(matches!(members[silent].recv().await, ServerMsg::Signal { intro, .. } if intro == intro1));

    // The introducer stays silent: after the (300 ms) timeout, a fresh welcome.
    let welcome = newcomer.recv().await;
    let (intro2, by2) = introduction(&welcome);
    assert!(intro2 > intro1 && by2 != by1);
    let helper = &mut members[1 - silent];
    assert_eq!(helper.recv().await, ServerMsg::Introduce { intro: intro2, newcomer: id(3) });
    newcomer.send(&ClientMsg::Signal { intro: intro2, payload: offer() }).await;
    assert_eq!(helper.recv().await, ServerMsg::Signal { intro: intro2, from: id(3), payload: offer() });
    let answer = SignalPayload::Answer { sdp: "v=0".into() };
    helper.send(&ClientMsg::Signal { intro: intro2, payload: answer.clone() }).await;
    assert_eq!(newcomer.recv().await, ServerMsg::Signal { intro: intro2, from: by2, payload: answer });

    // The silent one answering late reaches nobody, and is told nothing.
    members[silent].send(&ClientMsg::Signal { intro: intro1, payload: offer() }).await;
    let s = stats_until(addr, |s| s.signals_refused == 1).await;
    newcomer.expect_silence(Duration::from_millis(100)).await;
    members[silent].expect_silence(Duration::from_millis(1)).await;
    assert_eq!((s.introductions, s.introductions_failed), (3, 1));
}

#[tokio::test]
async fn with_no_other_member_the_newcomer_is_told_the_introduction_failed() {
    let addr = start(config()).await;
    let mut member = Client::found(addr, "alone", 1).await;
    stats_until(addr, |s| s.members == 1).await;
    let (mut newcomer, welcome) = Client::join(addr, "alone", 2).await;
    let (intro, _) = introduction(&welcome);
    member.recv().await; // introduce, never answered
    let failed = newcomer.recv().await;
    assert!(matches!(failed, ServerMsg::IntroFailed { intro: i, .. } if i == intro), "{failed:?}");
    // The silent member is still the ring, so the newcomer is not told to found it.
    newcomer.expect_silence(Duration::from_millis(400)).await;
    let s = stats_until(addr, |s| s.introductions_failed == 1).await;
    assert_eq!((s.members, s.connections), (1, 2));
}

#[tokio::test]
async fn when_the_last_member_leaves_mid_introduction_the_newcomer_founds_the_ring() {
    let addr = start(config()).await;
    let mut member = Client::found(addr, "left", 1).await;
    stats_until(addr, |s| s.members == 1).await;
    let (mut newcomer, welcome) = Client::join(addr, "left", 2).await;
    let (intro, _) = introduction(&welcome);
    member.recv().await;
    member.send(&ClientMsg::Bye).await;
    let failed = newcomer.recv().await;
    assert!(matches!(failed, ServerMsg::IntroFailed { intro: i, .. } if i == intro), "{failed:?}");
    assert_eq!(newcomer.recv().await, ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers: vec![] });
    newcomer.send(&ClientMsg::Member).await;
    let s = stats_until(addr, |s| s.members == 1 && s.connections == 1).await;
    assert_eq!((s.introductions, s.introductions_failed), (1, 1));
}

#[tokio::test]
async fn a_leaving_newcomer_releases_its_introducer() {
    let addr = start(config()).await;
    let mut member = Client::found(addr, "release", 1).await;
    stats_until(addr, |s| s.members == 1).await;
    let (newcomer, welcome) = Client::join(addr, "release", 2).await;
    let (intro, _) = introduction(&welcome);
    member.recv().await;
    drop(newcomer);
    let failed = member.recv().await;
    assert!(matches!(failed, ServerMsg::IntroFailed { intro: i, .. } if i == intro), "{failed:?}");
}

#[tokio::test]
async fn a_connection_without_hello_is_closed() {
    let addr = start(Config { hello_timeout: Duration::from_millis(200), ..config() }).await;
    let quiet = Client::connect(addr).await;
    let ending = quiet.ending().await;
    assert!(matches!(&ending.messages[..], [ServerMsg::Error { reason, .. }] if reason.contains("hello")), "{ending:?}");
    assert_eq!(ending.close.map(|c| u16::from(c.code)), Some(1001));
    // Timing out is not a protocol error.
    stats_until(addr, |s| s.connections == 0 && s.protocol_errors == 0).await;
}

#[tokio::test]
async fn an_idle_connection_that_answers_pings_stays_open() {
    let addr = start(Config { idle_timeout: Duration::from_millis(300), ..config() }).await;
    let mut member = Client::found(addr, "idle", 1).await;
    // The client reads, so its WebSocket layer answers the server's pings.
    member.expect_silence(Duration::from_millis(800)).await;
    let s = stats_until(addr, |s| s.members == 1).await;
    assert_eq!(s.connections, 1);
}

#[tokio::test]
async fn a_connection_that_stops_reading_is_closed_as_idle() {
    let addr = start(Config { idle_timeout: Duration::from_millis(300), ..config() }).await;
    let member = Client::found(addr, "deaf", 1).await;
    stats_until(addr, |s| s.members == 1).await;
    // Not reading means not answering the server's pings.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let ending = member.ending().await;
    assert!(matches!(&ending.messages[..], [ServerMsg::Error { reason, .. }] if reason.contains("idle")), "{ending:?}");
    let s = stats_until(addr, |s| s.members == 0 && s.connections == 0).await;
    assert_eq!((s.rings, s.protocol_errors), (0, 0));
}
