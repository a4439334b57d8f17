//! What a native node (`chord-node`) takes from the network before the peer
//! sees it: a signaling server's frame (`chord_node::signal::parse`), a remote
//! offer, answer or trickled candidate (str0m's SDP and candidate parsers,
//! through `RtcLinks`), and UDP datagrams to a link (STUN, DTLS, SCTP inside).
//! The peer's own receive path is `peer_frames`.
//!
//! Asserts: nothing panics; a link that could not be created is not kept.
#![no_main]

use arbitrary::Arbitrary;
use chord::ice::Candidate;
use chord::link::LinkId;
use chord_node::rtc::{Reports, RtcLinks};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[derive(Arbitrary, Debug)]
enum Step {
    /// A frame from the signaling server.
    Server(String),
    /// A remote offer to answer.
    Offer(String),
    /// This node offers; the remote answers with this.
    Answer(String),
    /// A trickled candidate line.
    Candidate(String),
    /// A datagram from the remote (the link that accepts it takes it).
    Datagram(Vec<u8>),
    /// Time passes.
    Wait(u16),
}

fuzz_target!(|steps: Vec<Step>| {
    let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let remote: SocketAddr = "127.0.0.1:50000".parse().unwrap();
    let mut links = RtcLinks::new(vec![local]);
    let mut now = Instant::now();
    let mut next = 0u64;
    for step in steps.into_iter().take(64) {
        let mut out = Reports::default();
        match step {
            Step::Server(text) => {
                let _ = chord_node::signal::parse(&text);
            }
            Step::Offer(sdp) => {
                next += 1;
                let before = links.len();
                if links.create(now, LinkId(next), Some(sdp), &mut out).is_err() {
                    assert_eq!(links.len(), before, "a refused offer leaves no link behind");
                }
            }
            Step::Answer(sdp) => {
                next += 1;
                if links.create(now, LinkId(next), None, &mut out).is_ok() {
                    let _ = links.set_answer(LinkId(next), &sdp);
                }
            }
            Step::Candidate(line) => {
                links.add_candidate(LinkId(next), &Candidate { candidate: line, sdp_mid: Some("0".into()), sdp_m_line_index: Some(0) });
            }
            Step::Datagram(bytes) => {
                let _ = links.receive(now, remote, local, &bytes);
            }
            Step::Wait(ms) => {
                now += Duration::from_millis(u64::from(ms));
                links.timeout(now);
            }
        }
        let _ = links.poll(&mut out);
    }
});
