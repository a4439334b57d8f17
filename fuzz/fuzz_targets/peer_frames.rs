//! A browser tab's whole receive path without a browser: a `Peer` (node,
//! link manager, blob transfers, bootstrap) fed arbitrary data-channel
//! frames (Chord, link and transfer frames, raw bytes) on links to arbitrary
//! peers, signaling-server messages, peer-connection events, blob-store
//! answers, timers and local commands. A frame can also be an answer, as
//! its addressee would give it, to a Chord message the peer sent, or a
//! replay of a frame it sent.
//!
//! Asserts, after every input: no panic; the node's invariants
//! (`check_node`); at most `max_links` links. ICE reports (trickled
//! candidates, connectivity changes, selected paths) and ICE servers from the
//! server arrive in any order, for any link. Then two simulated minutes in
//! which nothing answers: no panic, the node's invariants still hold.
#![no_main]

use arbitrary::Arbitrary;
use chord::link::{LinkId, MaxMessageSize};
use chord::peer::{BlobCommand, Input as PeerInput, RtcInput, ServerId, ServerInput};
use chord::signal::{IntroId, ServerMsg, SignalPayload};
use chord::transfer::{PullId, XferMsg};
use chord::{Id, Message, Millis, Peer, PeerConfig, PeerOutput, RtcCommand};
use chord_fuzz::{check_node, Ctx, FAnswer, FBlob, FEnvelope, FId, FMsg, FName, FRecord, FReq, FXfer};
use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;

#[derive(Debug, Arbitrary)]
enum Frame {
    Chord(FMsg),
    Link(FEnvelope),
    Xfer(FXfer),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Server {
    Welcome {
        first: bool,
        intro: Option<u8>,
        introducer: Option<FId>,
        ice: Vec<FIce>,
    },
    /// Fresh ICE servers (TURN credentials).
    IceServers(Vec<FIce>),
    Introduce {
        intro: u8,
        newcomer: FId,
    },
    Signal {
        intro: u8,
        from: FId,
        kind: u8,
        text: String,
    },
    IntroFailed {
        intro: u8,
        reason: String,
    },
    Error(String),
}

/// An ICE server as the signaling server may send it.
#[derive(Debug, Arbitrary)]
struct FIce {
    urls: Vec<String>,
    username: Option<String>,
    credential: Option<String>,
}

impl FIce {
    fn get(&self) -> chord::ice::IceServer {
        chord::ice::IceServer { urls: self.urls.clone(), username: self.username.clone(), credential: self.credential.clone() }
    }
}

/// What ICE reports for a link.
#[derive(Debug, Arbitrary)]
enum FRtc {
    /// A local candidate was gathered (`None`: gathering is complete).
    Candidate(Option<String>),
    /// Connected, disconnected or failed.
    Connectivity(u8),
    /// The selected pair.
    Path { local: u8, remote: u8, rtt: Option<u32> },
}

#[derive(Debug, Arbitrary)]
enum Action {
    /// ICE reports something for a link.
    Ice {
        link: u8,
        what: FRtc,
    },
    /// The server relays an offer from `from` (a newcomer this peer introduces).
    OfferFrom(FId),
    /// The local description of a link is complete.
    Describe(u8),
    /// A link's data channel opened; its other end accepts `max` bytes
    /// (`RTCSctpTransport.maxMessageSize`; 0 no limit, tiny ones fail the link).
    Open {
        link: u8,
        max: u32,
    },
    /// A link closed.
    Closed(u8),
    /// A frame arrives on a link.
    Frame {
        link: u8,
        frame: Frame,
    },
    /// The answer to a Chord message the peer sent, on the same link.
    Answer(FAnswer),
    /// The answer to a chunk request the peer sent: the chunk (or `Missing`).
    Chunk {
        pick: u8,
        bytes: Option<Vec<u8>>,
    },
    /// A frame the peer sent comes back on some link.
    Replay {
        pick: u8,
        link: u8,
    },
    Server(Server),
    ServerOpened,
    ServerClosed,
    /// The blob store answers a read.
    BlobRead {
        pick: u8,
        bytes: Option<Vec<u8>>,
    },
    /// The blob store answers a write.
    BlobWritten {
        pick: u8,
        ok: bool,
    },
    Wait(u16),
    Put {
        name: FName,
        value: Vec<u8>,
    },
    Get(FId),
    PutBlob(FBlob),
    Cancel(FReq),
    /// Records and complete blobs kept across a reload.
    Restore {
        records: Vec<FRecord>,
        blobs: Vec<(FId, u32)>,
    },
    CloseLink(FId),
    Leave,
    Shutdown,
}

#[derive(Debug, Arbitrary)]
struct Input {
    first: bool,
    /// Links open at the start: to this many ring members (0–4), which the
    /// peer answered as newcomers introduced by the server.
    links: u8,
    /// Open every link the peer answers at once (a fast browser); else
    /// only when an action says so.
    auto_open: bool,
    actions: Vec<Action>,
}

struct Harness {
    ctx: Ctx,
    peer: Peer,
    now: Millis,
    /// Links the peer created, with their peer, newest last.
    links: Vec<(LinkId, Id)>,
    /// The last frames the peer sent, with their link.
    sent: VecDeque<(LinkId, Vec<u8>)>,
    reads: VecDeque<(Id, PullId, u32)>,
    writes: VecDeque<(PullId, u32)>,
    intro: u64,
    auto_open: bool,
}

fn pick<T>(v: &[T], i: u8) -> Option<&T> {
    (!v.is_empty()).then(|| &v[usize::from(i) % v.len()])
}

impl Harness {
    fn drain(&mut self) {
        while let Some(out) = self.peer.poll_output() {
            match out {
                PeerOutput::Rtc(RtcCommand::Create { link, peer, remote_offer, .. }) => {
                    if self.links.len() == 128 {
                        self.links.remove(0);
                    }
                    self.links.push((link, peer));
                    if self.auto_open && remote_offer.is_some() {
                        self.peer.handle_input(self.now, PeerInput::Rtc { link, input: RtcInput::Described("v=0".into()) });
                        self.peer.handle_input(self.now, PeerInput::Rtc { link, input: RtcInput::Opened(MaxMessageSize::CHROMIUM) });
                    }
                }
                PeerOutput::Rtc(RtcCommand::Send { link, bytes }) => {
                    if self.sent.len() == 32 {
                        self.sent.pop_front();
                    }
                    self.sent.push_back((link, bytes));
                }
                PeerOutput::Rtc(RtcCommand::Close { link }) => self.links.retain(|(l, _)| *l != link),
                PeerOutput::Blob(BlobCommand::Read { to, pull, index, .. }) if self.reads.len() < 64 => {
                    self.reads.push_back((to, pull, index))
                }
                PeerOutput::Blob(BlobCommand::Write { pull, index, .. }) if self.writes.len() < 64 => self.writes.push_back((pull, index)),
                _ => {}
            }
        }
        if self.peer.poll_timeout().is_some_and(|t| t <= self.now) {
            self.peer.handle_input(self.now, PeerInput::Timeout);
            self.drain();
        }
    }

    fn act(&mut self, a: &Action) {
        let me = self.peer.id();
        let now = self.now;
        let link = |h: &Harness, i: u8| pick(&h.links, i).copied();
        match a {
            Action::OfferFrom(from) => {
                self.intro += 1;
                let from = self.ctx.id(from, me);
                let msg = ServerMsg::Signal { intro: IntroId(self.intro), from, payload: SignalPayload::Offer { sdp: "v=0".into() } };
                self.peer.handle_input(now, PeerInput::Server { server: ServerId(0), input: ServerInput::Message(msg) });
            }
            Action::Ice { link: i, what } => {
                use chord::ice::{Candidate, CandidateKind, PathInfo};
                use chord::link::Connectivity;
                let Some((l, _)) = link(self, *i) else { return };
                let kinds = [CandidateKind::Host, CandidateKind::Srflx, CandidateKind::Prflx, CandidateKind::Relay];
                let input = match what {
                    FRtc::Candidate(c) => {
                        RtcInput::Candidate(c.as_ref().map(|c| Candidate { candidate: c.clone(), sdp_mid: None, sdp_m_line_index: None }))
                    }
                    FRtc::Connectivity(k) => RtcInput::Connectivity(match k % 3 {
                        0 => Connectivity::Connected,
                        1 => Connectivity::Disconnected,
                        _ => Connectivity::Failed,
                    }),
                    FRtc::Path { local, remote, rtt } => RtcInput::Path(PathInfo {
                        local: kinds[usize::from(*local) % 4],
                        remote: kinds[usize::from(*remote) % 4],
                        rtt_ms: *rtt,
                    }),
                };
                self.peer.handle_input(now, PeerInput::Rtc { link: l, input });
            }
            Action::Describe(i) => {
                if let Some((l, _)) = link(self, *i) {
                    self.peer.handle_input(now, PeerInput::Rtc { link: l, input: RtcInput::Described("v=0".into()) });
                }
            }
            Action::Open { link: i, max } => {
                if let Some((l, _)) = link(self, *i) {
                    self.peer
                        .handle_input(now, PeerInput::Rtc { link: l, input: RtcInput::Opened(MaxMessageSize::bytes(u64::from(*max))) });
                }
            }
            Action::Closed(i) => {
                if let Some((l, _)) = link(self, *i) {
                    self.peer.handle_input(now, PeerInput::Rtc { link: l, input: RtcInput::Closed });
                }
            }
            Action::Frame { link: i, frame } => {
                let Some((l, from)) = link(self, *i) else { return };
                let bytes = match frame {
                    Frame::Chord(m) => match m.get(&self.ctx, me, from).encode() {
                        Ok(b) => b,
                        Err(_) => return,
                    },
                    Frame::Link(e) => e.get(&self.ctx, me).encode(),
                    Frame::Xfer(x) => x.get(&self.ctx, me).encode(),
                    Frame::Raw(b) => b.clone(),
                };
                self.peer.handle_input(now, PeerInput::Rtc { link: l, input: RtcInput::Message(bytes) });
            }
            Action::Answer(ans) => {
                let Some((l, bytes)) = pick(self.sent.make_contiguous(), ans.pick).cloned() else { return };
                let Ok(msg) = Message::decode(&bytes) else { return };
                for reply in ans.get(&self.ctx, me, &msg) {
                    if let Ok(b) = reply.encode() {
                        self.peer.handle_input(now, PeerInput::Rtc { link: l, input: RtcInput::Message(b) });
                    }
                }
            }
            Action::Chunk { pick: p, bytes } => {
                let wants: Vec<(LinkId, XferMsg)> = self
                    .sent
                    .iter()
                    .filter_map(|(l, b)| XferMsg::decode(b).ok().map(|m| (*l, m)))
                    .filter(|(_, m)| matches!(m, XferMsg::Want { .. }))
                    .collect();
                let Some((l, XferMsg::Want { pull, index, .. })) = pick(&wants, *p).cloned() else { return };
                let reply = match bytes {
                    Some(bytes) => XferMsg::Chunk { pull, index, bytes: bytes.clone() },
                    None => XferMsg::Missing { pull },
                };
                self.peer.handle_input(now, PeerInput::Rtc { link: l, input: RtcInput::Message(reply.encode()) });
            }
            Action::Replay { pick: p, link: i } => {
                let Some((_, bytes)) = pick(self.sent.make_contiguous(), *p).cloned() else { return };
                let Some((l, _)) = link(self, *i) else { return };
                self.peer.handle_input(now, PeerInput::Rtc { link: l, input: RtcInput::Message(bytes) });
            }
            Action::Server(s) => {
                let msg = match s {
                    Server::Welcome { first, intro, introducer, ice } => ServerMsg::Welcome {
                        first: *first,
                        intro: intro.map(|i| IntroId(u64::from(i))),
                        introducer: introducer.as_ref().map(|f| self.ctx.id(f, me)),
                        ice_servers: ice.iter().map(FIce::get).collect(),
                    },
                    Server::IceServers(ice) => ServerMsg::IceServers { ice_servers: ice.iter().map(FIce::get).collect() },
                    Server::Introduce { intro, newcomer } => {
                        ServerMsg::Introduce { intro: IntroId(u64::from(*intro)), newcomer: self.ctx.id(newcomer, me) }
                    }
                    Server::Signal { intro, from, kind, text } => ServerMsg::Signal {
                        intro: IntroId(u64::from(*intro)),
                        from: self.ctx.id(from, me),
                        payload: match kind % 3 {
                            0 => SignalPayload::Offer { sdp: text.clone() },
                            1 => SignalPayload::Answer { sdp: text.clone() },
                            _ => SignalPayload::Ice { candidate: text.clone(), sdp_mid: None, sdp_m_line_index: None },
                        },
                    },
                    Server::IntroFailed { intro, reason } => {
                        ServerMsg::IntroFailed { intro: IntroId(u64::from(*intro)), reason: reason.clone() }
                    }
                    Server::Error(reason) => ServerMsg::Error { reason: reason.clone(), code: (reason.len() % 2 == 0).then(|| chord::signal::ERROR_ID_TAKEN.to_string()) },
                };
                // The driver validates what the server sends before the peer sees it.
                if msg.validate().is_ok() {
                    self.peer.handle_input(now, PeerInput::Server { server: ServerId(0), input: ServerInput::Message(msg) });
                }
            }
            Action::ServerOpened => {
                self.peer.handle_input(now, PeerInput::Server { server: ServerId(0), input: ServerInput::Connecting });
                self.peer.handle_input(now, PeerInput::Server { server: ServerId(0), input: ServerInput::Opened });
            }
            Action::ServerClosed => self.peer.handle_input(now, PeerInput::Server { server: ServerId(0), input: ServerInput::Closed }),
            Action::BlobRead { pick: p, bytes } => {
                if self.reads.is_empty() {
                    return;
                }
                let i = usize::from(*p) % self.reads.len();
                let Some((to, pull, index)) = self.reads.remove(i) else { return };
                self.peer.handle_input(now, PeerInput::BlobRead { to, pull, index, bytes: bytes.clone() });
            }
            Action::BlobWritten { pick: p, ok } => {
                if self.writes.is_empty() {
                    return;
                }
                let i = usize::from(*p) % self.writes.len();
                let Some((pull, index)) = self.writes.remove(i) else { return };
                let result = if *ok { Ok(()) } else { Err("disk full".to_string()) };
                self.peer.handle_input(now, PeerInput::BlobWritten { pull, index, result });
            }
            Action::Wait(ms) => {
                self.now = self.now + u64::from(*ms);
                self.peer.handle_input(self.now, PeerInput::Timeout);
            }
            Action::Put { name, value } => {
                let _ = self.peer.put(now, name.get(), value.clone());
            }
            Action::Get(k) => {
                let _ = self.peer.get(now, self.ctx.id(k, me));
            }
            Action::PutBlob(b) => {
                let _ = self.peer.put_blob(now, b.get(&self.ctx, me));
            }
            Action::Cancel(r) => {
                self.peer.cancel(now, r.req());
            }
            Action::Restore { records, blobs } => {
                let records = records.iter().map(|r| r.get(&self.ctx, me)).collect();
                let blobs = blobs.iter().map(|(d, size)| (self.ctx.id(d, me), u64::from(*size))).collect();
                self.peer.handle_input(now, PeerInput::Restored { records, blobs });
            }
            Action::CloseLink(p) => {
                self.peer.close_link(now, &self.ctx.id(p, me));
            }
            Action::Leave => {
                let _ = self.peer.leave(now);
            }
            Action::Shutdown => self.peer.shutdown(now),
        }
        self.drain();
        check_node(self.peer.node());
        let links = self.peer.links();
        assert!(links.snapshot().len() <= links.config().max_links, "{} links", links.snapshot().len());
    }
}

fuzz_target!(|input: Input| {
    let me = Id::key_of("me");
    let mut ids: Vec<Id> = (0..5).map(|i| Id::key_of(&format!("ring {i}"))).collect();
    ids.push(me);
    let ctx = Ctx::new(ids, 4);
    let now = Millis(1_000);
    let mut peer = Peer::new(me, PeerConfig::default(), 7);
    peer.handle_input(now, PeerInput::Server { server: ServerId(0), input: ServerInput::Connecting });
    peer.handle_input(now, PeerInput::Server { server: ServerId(0), input: ServerInput::Opened });
    let welcome = if input.first {
        ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers: vec![] }
    } else {
        ServerMsg::Welcome { first: false, intro: Some(IntroId(1)), introducer: Some(ctx.ring[0]), ice_servers: vec![] }
    };
    peer.handle_input(now, PeerInput::Server { server: ServerId(0), input: ServerInput::Message(welcome) });
    let mut h = Harness {
        ctx,
        peer,
        now,
        links: Vec::new(),
        sent: VecDeque::new(),
        reads: VecDeque::new(),
        writes: VecDeque::new(),
        intro: 100,
        auto_open: true,
    };
    h.drain();
    for i in 0..input.links % 5 {
        h.act(&Action::OfferFrom(FId::Ring(i + 1)));
    }
    h.auto_open = input.auto_open;
    for a in input.actions.iter().take(256) {
        h.act(a);
    }
    if std::env::var_os("PEER_FRAMES_STATS").is_some() {
        let s = h.peer.node().stats();
        eprintln!(
            "STATS received={} sent={} open={} status={:?} reads={} writes={}",
            s.received,
            s.sent,
            h.peer.links().open_peers().count(),
            h.peer.node().status(),
            h.reads.len(),
            h.writes.len()
        );
    }
    for _ in 0..480 {
        h.now = h.now + 250;
        h.peer.handle_input(h.now, PeerInput::Timeout);
        h.drain();
    }
    check_node(h.peer.node());
});
