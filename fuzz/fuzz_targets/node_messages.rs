//! One node, fed an arbitrary sequence of messages from arbitrary senders,
//! interleaved with timer firings and local commands.
//!
//! The node starts joined to a converged ring of six, alone in its own ring,
//! or joining. Besides forged messages, an input can answer what the node
//! sent as the addressee would (with true or lying content) and replay what
//! it sent from someone else, so the paths behind a matching request number
//! are reached too.
//!
//! Asserts, after every input: no panic; `check_node` (ordered successor
//! list without the node itself, well-formed finger table, store within its
//! limit and holding only intact records); at most `MAX_SENDS_PER_INPUT`
//! messages sent in answer to one message received. At the end, after two
//! minutes in which no peer answers: no request, forwarded route or store
//! receipt is still held (nothing received leaks state).
#![no_main]

use arbitrary::Arbitrary;
use chord::sim::ideal::IdealRing;
use chord::{Config, Id, Message, Millis, Node, Output};
use chord_fuzz::{check_node, Ctx, FAnswer, FId, FMsg, FName, FRecord};
use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;

/// Messages one received message may make the node send (amplification bound).
const MAX_SENDS_PER_INPUT: usize = 64;
/// What a node that nobody answers may still hold: its five maintenance
/// timers and one query of each kind with its timer.
const MAX_PENDING_IDLE: usize = 14;

#[derive(Debug, Arbitrary)]
enum Start {
    Joined,
    Alone,
    Joining,
}

#[derive(Debug, Arbitrary)]
enum Action {
    Deliver { from: FId, msg: FMsg },
    Raw { from: FId, bytes: Vec<u8> },
    Answer(FAnswer),
    Replay { pick: u8, from: FId },
    Wait(u16),
    Lookup(FId),
    Put { key: FId, value: Vec<u8> },
    PutNamed { name: FName, value: Vec<u8> },
    Get(FId),
    Leave,
    Join(FId),
    Create,
    Restore(Vec<FRecord>),
}

#[derive(Debug, Arbitrary)]
struct Input {
    start: Start,
    one_replica: bool,
    small_store: bool,
    probes: bool,
    actions: Vec<Action>,
}

struct Harness {
    ctx: Ctx,
    node: Node,
    now: Millis,
    /// The last messages the node sent, with their addressee.
    sent: VecDeque<(Id, Message)>,
}

impl Harness {
    fn new(input: &Input) -> Harness {
        let me = Id::key_of("me");
        let mut ids: Vec<Id> = (0..5).map(|i| Id::key_of(&format!("ring {i}"))).collect();
        ids.push(me);
        let ctx = Ctx::new(ids, 4);
        let cfg = Config {
            successors: 4,
            replicas: if input.one_replica { 1 } else { 3 },
            max_records: if input.small_store { 8 } else { Config::default().max_records },
            max_pending_requests: 32,
            probe_ms: if input.probes { 1_000 } else { 0 },
            store_events: true,
            ..Config::default()
        };
        let now = Millis(1_000);
        let node = match input.start {
            Start::Joined => {
                let ring = IdealRing::new(ctx.ring.clone());
                let pos = ring.successor_pos(&me);
                let succs = ring.successors_of(pos, cfg.successors);
                Node::with_ring_state(me, cfg, 7, Some(ring.predecessor_of(pos)), &succs, ring.fingers_of(pos), now)
            }
            Start::Alone => {
                let mut n = Node::new(me, cfg, 7);
                n.create(now).expect("a new node creates a ring");
                n
            }
            Start::Joining => {
                let mut n = Node::new(me, cfg, 7);
                n.join(now, ctx.ring[0]).expect("a new node joins");
                n
            }
        };
        let mut h = Harness { ctx, node, now, sent: VecDeque::new() };
        h.drain();
        h
    }

    /// Drains the node's output; returns how many messages it sent.
    fn drain(&mut self) -> usize {
        let mut sends = 0;
        while let Some(out) = self.node.poll_output() {
            if let Output::Send { to, msg } = out {
                assert!(msg.encode().is_ok(), "the node sent a message it cannot encode: {msg:?}");
                sends += 1;
                if self.sent.len() == 32 {
                    self.sent.pop_front();
                }
                self.sent.push_back((to, msg));
            }
        }
        // Keep the driver's side of the contract: fire timers that are due.
        if self.node.poll_timeout().is_some_and(|t| t <= self.now) {
            self.node.handle_timeout(self.now);
            sends += self.drain();
        }
        sends
    }

    fn received(&mut self, from: Id, msg: Message) {
        self.node.handle_message(self.now, from, msg);
        let sends = self.drain();
        assert!(sends <= MAX_SENDS_PER_INPUT, "one message made the node send {sends}");
    }

    fn act(&mut self, a: &Action) {
        let me = self.node.id();
        let now = self.now;
        match a {
            Action::Deliver { from, msg } => {
                let from = self.ctx.id(from, me);
                let msg = msg.get(&self.ctx, me, from);
                self.received(from, msg);
            }
            Action::Raw { from, bytes } => {
                let from = self.ctx.id(from, me);
                let _ = self.node.handle_bytes(now, from, bytes);
                let sends = self.drain();
                assert!(sends <= MAX_SENDS_PER_INPUT, "one frame made the node send {sends}");
            }
            Action::Answer(ans) => {
                if self.sent.is_empty() {
                    return;
                }
                let (to, msg) = self.sent[ans.pick as usize % self.sent.len()].clone();
                for reply in ans.get(&self.ctx, me, &msg) {
                    self.received(to, reply);
                }
            }
            Action::Replay { pick, from } => {
                if self.sent.is_empty() {
                    return;
                }
                let (_, msg) = self.sent[*pick as usize % self.sent.len()].clone();
                let from = self.ctx.id(from, me);
                self.received(from, msg);
            }
            Action::Wait(ms) => {
                self.now = self.now + u64::from(*ms);
                self.node.handle_timeout(self.now);
                self.drain();
            }
            Action::Lookup(t) => {
                let _ = self.node.lookup(now, self.ctx.id(t, me));
                self.drain();
            }
            Action::Put { key, value } => {
                let _ = self.node.put(now, self.ctx.id(key, me), value.clone());
                self.drain();
            }
            Action::PutNamed { name, value } => {
                let _ = self.node.put_named(now, name.get(), value.clone());
                self.drain();
            }
            Action::Get(k) => {
                let _ = self.node.get(now, self.ctx.id(k, me));
                self.drain();
            }
            Action::Leave => {
                let _ = self.node.leave(now);
                self.drain();
            }
            Action::Join(via) => {
                let _ = self.node.join(now, self.ctx.id(via, me));
                self.drain();
            }
            Action::Create => {
                let _ = self.node.create(now);
                self.drain();
            }
            Action::Restore(records) => {
                let records = records.iter().map(|r| r.get(&self.ctx, me)).collect();
                self.node.restore(now, records);
                self.drain();
            }
        }
        check_node(&self.node);
    }
}

fuzz_target!(|input: Input| {
    let mut h = Harness::new(&input);
    for a in input.actions.iter().take(256) {
        h.act(a);
    }
    // Nobody answers any more: every request, forwarded route and store
    // receipt must time out and be forgotten.
    for _ in 0..480 {
        h.now = h.now + 250;
        h.node.handle_timeout(h.now);
        h.drain();
    }
    check_node(&h.node);
    let pending = h.node.pending();
    assert!(pending <= MAX_PENDING_IDLE, "{pending} timers and requests held by a node nobody answers");
});
