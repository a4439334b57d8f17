//! A restarted server does not split the rings it served: for its grace period
//! it holds newcomers to a ring it knows no member of until a member
//! reconnects, and it introduces reconnecting members to each other.
//!
//! Each server runs on a runtime of its own, so that shutting that runtime
//! down drops the listener and every connection at once, as a crash would,
//! and a new server can take the same port.

mod common;

use chord::signal::{ClientMsg, IntroId, ServerMsg, SignalPayload};
use chord_signaling::Config;
use common::{assert_introduces, config, hello, id, member_hello, stats, stats_until, Client, WAIT};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// A server on its own runtime; dropping it is a crash.
struct Server(Option<Runtime>);

impl Server {
    /// Starts a server on `addr` (port 0: any), retrying the bind while the
    /// previous server's socket is still being closed. Returns its address.
    async fn start(addr: SocketAddr, config: Config) -> (Server, SocketAddr) {
        let deadline = Instant::now() + WAIT;
        let listener = loop {
            match std::net::TcpListener::bind(addr) {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("bind {addr}: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot bind {addr} again: {e}"),
            }
        };
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("bound address");
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            chord_signaling::run(listener, config).await
        });
        (Server(Some(runtime)), addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

fn offer() -> SignalPayload {
    SignalPayload::Offer { sdp: "v=0".into() }
}

fn answer() -> SignalPayload {
    SignalPayload::Answer { sdp: "v=0".into() }
}

/// Relays an offer from `offering` (id `from`) and an answer from
/// `answering` (id `to`) through introduction `intro`.
async fn relay(intro: IntroId, offering: &mut Client, from: u64, answering: &mut Client, to: u64) {
    offering.send(&ClientMsg::Signal { intro, payload: offer() }).await;
    assert_eq!(answering.recv().await, ServerMsg::Signal { intro, from: id(from), payload: offer() });
    answering.send(&ClientMsg::Signal { intro, payload: answer() }).await;
    assert_eq!(offering.recv().await, ServerMsg::Signal { intro, from: id(to), payload: answer() });
}

#[tokio::test]
async fn a_restarted_server_introduces_newcomers_to_a_member_that_reconnects_within_grace() {
    // A ring of two members, 1 and 2, formed through the first server.
    let (first, addr) = Server::start("127.0.0.1:0".parse().unwrap(), config()).await;
    let (m1, m2) = assert_introduces(addr, "r", 1).await;
    stats_until(addr, |s| s.members == 2).await;

    // The server crashes: both members lose it.
    drop(first);
    for member in [m1, m2] {
        let ending = member.ending().await;
        assert!(ending.messages.is_empty(), "{ending:?}");
    }

    // It restarts on the same address, with a grace period.
    let grace = Duration::from_secs(3);
    let (_second, again) = Server::start(addr, Config { grace, ..config() }).await;
    assert_eq!(again, addr);

    // A newcomer arrives before any member is back: it is held, not made founder.
    let mut newcomer = Client::connect(addr).await;
    newcomer.send(&hello("r", 3)).await;
    let s = stats_until(addr, |s| s.held == 1).await;
    assert_eq!((s.held_newcomers, s.members, s.introductions), (1, 0, 0));
    assert!(s.grace_left_ms > 0 && s.grace_left_ms <= grace.as_millis() as u64, "{s:?}");
    newcomer.expect_silence(Duration::from_millis(200)).await;

    // Member 1 reconnects and says so: it has nobody to meet, and the held
    // newcomer is introduced to it.
    let mut m1 = Client::connect(addr).await;
    m1.send(&member_hello("r", 1)).await;
    let nobody = ServerMsg::Welcome { first: false, intro: None, introducer: None, ice_servers: vec![] };
    assert_eq!(m1.recv().await, nobody);
    let welcome = newcomer.recv().await;
    let ServerMsg::Welcome { first: false, intro: Some(intro), introducer: Some(by), .. } = welcome else {
        panic!("expected an introduction to the member, got {welcome:?}");
    };
    assert_eq!(by, id(1));
    assert_eq!(m1.recv().await, ServerMsg::Introduce { intro, newcomer: id(3) });
    relay(intro, &mut newcomer, 3, &mut m1, 1).await;
    newcomer.send(&ClientMsg::Member).await;
    let s = stats_until(addr, |s| s.members == 2).await;
    assert_eq!((s.held, s.member_hellos, s.introductions, s.introductions_completed), (0, 1, 1, 1));

    // Member 2 reconnects: it meets one of the two members, offering as a newcomer would.
    let mut m2 = Client::connect(addr).await;
    m2.send(&member_hello("r", 2)).await;
    let welcome = m2.recv().await;
    let ServerMsg::Welcome { first: false, intro: Some(meeting), introducer: Some(met), .. } = welcome else {
        panic!("expected a meeting, got {welcome:?}");
    };
    let (met_client, met_n) = if met == id(1) { (&mut m1, 1) } else { (&mut newcomer, 3) };
    assert_eq!(met, id(met_n));
    assert_eq!(met_client.recv().await, ServerMsg::Introduce { intro: meeting, newcomer: id(2) });
    relay(meeting, &mut m2, 2, met_client, met_n).await;
    // Its `member` does not end the meeting: candidates still pass.
    m2.send(&ClientMsg::Member).await;
    let ice = SignalPayload::Ice { candidate: String::new(), sdp_mid: None, sdp_m_line_index: None };
    m2.send(&ClientMsg::Signal { intro: meeting, payload: ice.clone() }).await;
    assert_eq!(met_client.recv().await, ServerMsg::Signal { intro: meeting, from: id(2), payload: ice });
    let s = stats(addr).await;
    assert_eq!((s.members, s.member_hellos, s.meetings, s.meetings_answered), (3, 2, 1, 1));
    assert_eq!((s.introductions, s.introductions_failed, s.meetings_unanswered), (1, 0, 0));
}

#[tokio::test]
async fn when_no_member_reconnects_the_first_held_newcomer_founds_the_ring_at_the_end_of_grace() {
    let grace = Duration::from_millis(600);
    let started = Instant::now();
    let (_server, addr) = Server::start("127.0.0.1:0".parse().unwrap(), Config { grace, ..config() }).await;
    let mut a = Client::connect(addr).await;
    a.send(&hello("r", 1)).await;
    stats_until(addr, |s| s.held == 1).await;
    let mut b = Client::connect(addr).await;
    b.send(&hello("r", 2)).await;
    stats_until(addr, |s| s.held == 2).await;

    assert_eq!(a.recv().await, ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers: vec![] });
    assert!(started.elapsed() >= grace, "answered before the grace period ended");
    let welcome = b.recv().await;
    let ServerMsg::Welcome { first: false, intro: Some(intro), introducer: Some(by), .. } = welcome else {
        panic!("expected an introduction to the founder, got {welcome:?}");
    };
    assert_eq!(by, id(1));
    assert_eq!(a.recv().await, ServerMsg::Introduce { intro, newcomer: id(2) });
    let s = stats(addr).await;
    assert_eq!((s.held, s.held_newcomers, s.grace_left_ms), (0, 2, 0));
}

#[test]
fn help_describes_the_grace_flag() {
    let bin = env!("CARGO_BIN_EXE_chord-signaling");
    let out = std::process::Command::new(bin).arg("--help").output().expect("run --help");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let flag = text.split("--grace <SECS>").nth(1).expect("--grace in --help");
    let flag = flag.split("\n      --").next().unwrap_or_default();
    for words in ["[default: 10]", "is held", "reconnects", "founds the ring", "0 disables it"] {
        assert!(flag.contains(words), "{words:?} missing from the --grace help: {flag}");
    }
    let out = std::process::Command::new(bin).args(["--grace", "-1"]).output().expect("run with a bad --grace");
    assert!(!out.status.success());
}
