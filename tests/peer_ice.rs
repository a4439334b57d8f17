//! A peer's ICE setup and its bootstrap through NATs, without a browser:
//! whose STUN/TURN servers a tab uses, fresh credentials, and a join whose
//! first link finds no network path.

use chord::ice::{IceConfig, IcePolicy, IceServer};
use chord::link::Connectivity;
use chord::peer::{Input, RtcInput, ServerId, ServerInput, NO_PATH_MESSAGE};
use chord::signal::{ClientMsg, IntroId, ServerMsg};
use chord::{Id, Millis, Peer, PeerConfig, PeerEvent, PeerOutput, RtcCommand};

fn turn(user: &str) -> IceServer {
    IceServer { urls: vec!["turn:203.0.113.10:3478?transport=udp".into()], username: Some(user.into()), credential: Some("pw".into()) }
}

/// The one signaling server of these peers.
const S: ServerId = ServerId(0);

fn drain(p: &mut Peer) -> Vec<PeerOutput> {
    std::iter::from_fn(|| p.poll_output()).collect()
}

/// Joins through the server: hello, then a welcome naming an introducer; returns the bootstrap link's Create.
fn introduced(p: &mut Peer, ice_servers: Vec<IceServer>) -> (chord::link::LinkId, IceConfig) {
    let now = Millis(10);
    p.handle_input(now, Input::Server { server: S, input: ServerInput::Connecting });
    p.handle_input(now, Input::Server { server: S, input: ServerInput::Opened });
    p.handle_input(
        now,
        Input::Server {
            server: S,
            input: ServerInput::Message(ServerMsg::Welcome {
                first: false,
                intro: Some(IntroId(1)),
                introducer: Some(Id::from_u64(7)),
                ice_servers,
            }),
        },
    );
    drain(p)
        .into_iter()
        .find_map(|o| match o {
            PeerOutput::Rtc(RtcCommand::Create { link, ice, .. }) => Some((link, ice)),
            _ => None,
        })
        .expect("the bootstrap link is created")
}

#[test]
fn a_tab_uses_the_servers_ice_servers_and_takes_fresh_credentials() {
    let mut p = Peer::new(Id::from_u64(1), PeerConfig::default(), 1);
    assert_eq!(p.state().ice.source, "none");
    let (_, ice) = introduced(&mut p, vec![turn("1:a")]);
    assert_eq!(ice, IceConfig { servers: vec![turn("1:a")], policy: IcePolicy::All });
    assert_eq!(p.state().ice.source, "server");
    p.handle_input(
        Millis(20),
        Input::Server { server: S, input: ServerInput::Message(ServerMsg::IceServers { ice_servers: vec![turn("2:a")] }) },
    );
    let out = drain(&mut p);
    let shown = out.iter().find_map(|o| match o {
        PeerOutput::Event(PeerEvent::IceServers { servers }) => Some(servers.clone()),
        _ => None,
    });
    assert_eq!(shown, Some(vec![turn("2:a").without_credentials()]), "the event never carries credentials");
    assert!(out.iter().any(|o| matches!(o, PeerOutput::Rtc(RtcCommand::UpdateIce { ice }) if ice.servers == vec![turn("2:a")])));
    let st = p.state();
    assert_eq!(st.ice.refreshes, 1);
    assert_eq!(st.ice.servers, vec![turn("2:a").without_credentials()]);
}

#[test]
fn the_applications_ice_servers_and_policy_win_over_the_servers() {
    let own = IceServer { urls: vec!["stun:stun.example.org".into()], username: None, credential: None };
    let cfg = PeerConfig { ice_servers: Some(vec![own.clone()]), ice_policy: IcePolicy::Relay, ..PeerConfig::default() };
    let mut p = Peer::new(Id::from_u64(1), cfg, 1);
    let (_, ice) = introduced(&mut p, vec![turn("1:a")]);
    assert_eq!(ice, IceConfig { servers: vec![own], policy: IcePolicy::Relay });
    assert_eq!(p.state().ice.source, "options");
}

#[test]
fn a_join_whose_first_link_finds_no_path_fails_naming_the_cause() {
    let mut p = Peer::new(Id::from_u64(1), PeerConfig::default(), 1);
    let (link, _) = introduced(&mut p, vec![]);
    let now = Millis(30);
    p.handle_input(now, Input::Rtc { link, input: RtcInput::Described("offer".into()) });
    let host =
        chord::ice::Candidate { candidate: "candidate:1 1 udp 1 10.0.1.2 5000 typ host".into(), sdp_mid: None, sdp_m_line_index: None };
    p.handle_input(now, Input::Rtc { link, input: RtcInput::Candidate(Some(host)) });
    p.handle_input(now, Input::Rtc { link, input: RtcInput::Candidate(None) });
    let out = drain(&mut p);
    assert!(out.iter().any(|o| matches!(o, PeerOutput::Server(S, ClientMsg::Signal { .. }))), "the offer went out");
    // The introducer answers; ICE then finds no pair that works.
    let answer = chord::signal::SignalPayload::Answer { sdp: "answer".into() };
    p.handle_input(
        now,
        Input::Server {
            server: S,
            input: ServerInput::Message(ServerMsg::Signal { intro: IntroId(1), from: Id::from_u64(7), payload: answer }),
        },
    );
    p.handle_input(now, Input::Rtc { link, input: RtcInput::Connectivity(Connectivity::Failed) });
    let out = drain(&mut p);
    let reason = out.iter().find_map(|o| match o {
        PeerOutput::Event(PeerEvent::BootstrapFailed { reason }) => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(reason.as_deref(), Some(NO_PATH_MESSAGE));
    assert!(NO_PATH_MESSAGE.starts_with("no network path to any ring member; a TURN server may be needed"));
    assert_eq!(p.state().link_failures.no_path, 1);
}

#[test]
fn a_join_that_cannot_gather_a_candidate_says_so() {
    let mut p = Peer::new(Id::from_u64(1), PeerConfig::default(), 1);
    let (link, _) = introduced(&mut p, vec![]);
    p.handle_input(Millis(30), Input::Rtc { link, input: RtcInput::Described("offer".into()) });
    p.handle_input(Millis(30), Input::Rtc { link, input: RtcInput::Candidate(None) });
    let reason = drain(&mut p).into_iter().find_map(|o| match o {
        PeerOutput::Event(PeerEvent::BootstrapFailed { reason }) => Some(reason),
        _ => None,
    });
    assert_eq!(reason.as_deref(), Some(chord::peer::NO_CANDIDATES_MESSAGE));
    assert_eq!(p.state().link_failures.no_candidates, 1);
}
