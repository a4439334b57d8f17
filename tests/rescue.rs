//! Rescue (`Config::rescue`): a node whose successors all died asks its
//! nearest finger to be its successor before it gives the ring up. Until the
//! finger answered for itself the node is out of the ring: with an empty
//! successor list it would otherwise be a ring of one (a second cycle, found
//! by churn schedules 204 and 473 in tests/churn_schedules.rs).

use chord::finger::FingerTable;
use chord::message::{Op, ReqId, Route};
use chord::node::Status;
use chord::{Config, Event, Id, Message, Millis, Node, Output};

fn id(x: u64) -> Id {
    Id::from_u64(x << 40)
}

const ME: u64 = 100;
const PRED: u64 = 50;
const SUCC: u64 = 150;
const FINGER: u64 = 300;

/// Node 100 with predecessor 50, successor 150 and a finger at 300.
fn node() -> Node {
    let cfg = Config {
        rescue: true,
        stabilize_ms: 200,
        fix_fingers_ms: 1_000_000,
        check_predecessor_ms: 1_000_000,
        replicate_ms: 1_000_000,
        rpc_timeout_ms: 100,
        rpc_attempts: 1,
        ..Config::default()
    };
    let me = id(ME);
    let mut fingers = FingerTable::new();
    // Finger i starts at me + 2^i: 2^47 lies between 100·2^40 and 300·2^40 ahead.
    fingers.set(&me, 47, id(FINGER));
    let mut n = Node::with_ring_state(me, cfg, 5, Some(id(PRED)), &[id(SUCC)], fingers, Millis(0));
    while n.poll_output().is_some() {}
    n
}

/// Runs the node's timers from `from` to `to` ms in 10 ms steps, answering
/// nothing; returns what it sent and emitted.
fn run(n: &mut Node, from: u64, to: u64) -> Vec<Output> {
    let mut out = Vec::new();
    let mut t = from;
    while t <= to {
        n.handle_timeout(Millis(t));
        out.extend(std::iter::from_fn(|| n.poll_output()));
        t += 10;
    }
    out
}

/// The `GetNeighbors` requests sent to `to`.
fn asked(out: &[Output], to: u64) -> Vec<ReqId> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { to: t, msg: Message::GetNeighbors { req } } if *t == id(to) => Some(*req),
            _ => None,
        })
        .collect()
}

/// The successor goes silent: the node declares it dead and asks its finger.
/// Returns the node, the finger's request number and the time it was asked.
fn rescuing() -> (Node, ReqId, u64) {
    let mut n = node();
    let mut out = Vec::new();
    for t in (0..=1_000).step_by(10) {
        out.extend(run(&mut n, t, t));
        if let Some(req) = asked(&out, FINGER).first() {
            assert!(!asked(&out, SUCC).is_empty(), "the successor was never asked");
            assert!(n.successors().is_empty(), "the silent successor is still listed");
            return (n, *req, t);
        }
    }
    panic!("the finger was never asked: {out:?}");
}

#[test]
fn a_rescuing_node_is_out_of_the_ring_until_its_finger_answers() {
    let (mut n, _, t) = rescuing();
    assert_eq!(n.status(), Status::Joining, "a node with no successor must not count as a member");
    let now = Millis(t + 1);
    // It does not answer as a ring of one: no route is answered or stored.
    let route = Route {
        origin: id(PRED),
        req: ReqId::new(3),
        target: id(ME + 70),
        hops: 1,
        path: vec![id(PRED)],
        last_hop: false,
        op: Op::Put { name: String::new(), value: b"v".to_vec() },
    };
    n.handle_message(now, id(PRED), Message::Route(route));
    // Nor does a would-be predecessor make it stabilize through that node.
    n.handle_message(now, id(PRED + 10), Message::Rectify);
    let out: Vec<Output> = std::iter::from_fn(|| n.poll_output()).collect();
    assert!(out.is_empty(), "a rescuing node answered as a ring of one: {out:?}");
    assert!(n.store().is_empty(), "a rescuing node stored a put");
    // It is alive, though: it answers a ping, and its (empty) neighbours, so
    // that its predecessor does not declare it dead and lose its ring in turn.
    n.handle_message(now, id(PRED), Message::Ping { req: ReqId::new(1) });
    n.handle_message(now, id(PRED), Message::GetNeighbors { req: ReqId::new(2) });
    let out: Vec<Output> = std::iter::from_fn(|| n.poll_output()).collect();
    assert!(out.iter().any(|o| matches!(o, Output::Send { msg: Message::Pong { req, .. }, .. } if *req == ReqId::new(1))), "{out:?}");
    assert!(
        out.iter().any(|o| matches!(o, Output::Send { msg: Message::Neighbors { req, successors, .. }, .. } if *req == ReqId::new(2) && successors.is_empty())),
        "{out:?}"
    );
    // While the finger is silent (but not yet timed out) nothing else is asked.
    let out = run(&mut n, t + 10, t + 50);
    assert!(out.iter().all(|o| !matches!(o, Output::Send { msg: Message::GetNeighbors { .. }, .. })), "{out:?}");
}

#[test]
fn the_finger_that_answers_becomes_the_successor_and_maintenance_resumes() {
    let (mut n, req, t0) = rescuing();
    let now = Millis(t0 + 1);
    n.handle_message(now, id(FINGER), Message::Neighbors { req, predecessor: Some(id(250)), successors: vec![id(350), id(400)] });
    assert_eq!(n.status(), Status::Joined);
    assert_eq!(n.successors(), &[id(FINGER), id(350), id(400)]);
    let out: Vec<Output> = std::iter::from_fn(|| n.poll_output()).collect();
    assert!(out.iter().any(|o| matches!(o, Output::Send { to, msg: Message::Rectify } if *to == id(FINGER))), "{out:?}");
    // Stabilize runs again, and only once per period (its timer was restarted, not doubled).
    let mut rounds = 0;
    let mut out = out;
    for t in (t0 + 10..=t0 + 10_010).step_by(10) {
        for req in asked(&out, FINGER) {
            rounds += 1;
            n.handle_message(
                Millis(t),
                id(FINGER),
                Message::Neighbors { req, predecessor: Some(id(ME)), successors: vec![id(350), id(400)] },
            );
        }
        n.handle_timeout(Millis(t));
        out = std::iter::from_fn(|| n.poll_output()).collect();
    }
    assert_eq!(n.successors().first(), Some(&id(FINGER)));
    // 50 periods of 200 ms on average (jittered by ±50 %); twice as many if
    // the periodic timers of before the rescue were still running.
    assert!((35..=70).contains(&rounds), "{rounds} stabilize rounds in 10 s with a 200 ms period");
    // The node answers again.
    n.handle_message(Millis(t0 + 10_020), id(PRED), Message::Ping { req: ReqId::new(9) });
    let out: Vec<Output> = std::iter::from_fn(|| n.poll_output()).collect();
    assert!(out.iter().any(|o| matches!(o, Output::Send { msg: Message::Pong { req, .. }, .. } if *req == ReqId::new(9))), "{out:?}");
}

/// A finger whose list comes back round to us (a small ring, or a split
/// group whose other nodes all lie between the finger and us) is adopted, its
/// list cut where it reaches us: we are out of the ring while we rescue, so
/// the chain that led from it to us ended at a non-member, and closing it
/// through us is how such a group forms its ring again.
#[test]
fn a_finger_that_lists_us_is_adopted_up_to_us() {
    let (mut n, req, t) = rescuing();
    n.handle_message(
        Millis(t + 1),
        id(FINGER),
        Message::Neighbors { req, predecessor: Some(id(250)), successors: vec![id(20), id(ME), id(120)] },
    );
    assert_eq!(n.status(), Status::Joined);
    assert_eq!(n.successors(), &[id(FINGER), id(20)]);
}

#[test]
fn with_no_finger_answering_the_ring_is_lost() {
    let (mut n, _, t) = rescuing();
    let out = run(&mut n, t + 10, t + 1_000);
    assert_eq!(n.status(), Status::Idle);
    assert!(out.contains(&Output::Event(Event::LostRing)), "{out:?}");
}
