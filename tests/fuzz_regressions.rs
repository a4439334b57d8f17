//! Inputs the fuzz targets (fuzz/) found, kept as tests so `make test`
//! checks them without cargo-fuzz. Each is the fuzz input reduced to the
//! messages that matter, sent as a peer would: encoded, then fed to
//! `Node::handle_bytes`. Findings and fixes are listed in fuzz/README.md.

use chord::message::{DecodeError, Op, ReqId, Route, StoreReason};
use chord::{Config, Event, Id, Message, Millis, Node, Output, Record, Version};

/// A node alone in its own ring: responsible for every key, so a routed
/// request from any peer is executed at once.
fn alone() -> Node {
    let mut n = Node::new(Id::key_of("me"), Config::default(), 7);
    n.create(Millis(0)).unwrap();
    while n.poll_output().is_some() {}
    n
}

/// Feeds `msg` from `from` as bytes off the wire.
fn receive(n: &mut Node, from: Id, msg: &Message) {
    let bytes = msg.encode().unwrap();
    n.handle_bytes(Millis(10), from, &bytes).unwrap();
}

/// F1 (node_messages): a routed put whose name does not hash to its key.
/// The primary stored it, though it is a record the node itself rejects as
/// not intact (replicas drop it, a get filters it out): a peer could plant
/// junk at any key's primary. Now the message breaks a limit and is dropped.
#[test]
fn f1_routed_put_whose_name_does_not_hash_to_its_key_is_not_stored() {
    let mut n = alone();
    let peer = Id::key_of("stranger");
    let put = Message::Route(Route {
        origin: peer,
        req: ReqId::new(1),
        target: Id::from_u64(1),
        hops: 0,
        path: vec![peer],
        last_hop: false,
        op: Op::Put { name: "file".into(), value: vec![93] },
    });
    let bytes = put.encode().unwrap();
    assert_eq!(n.handle_bytes(Millis(10), peer, &bytes), Err(DecodeError::Limit("name does not hash to the key")));
    assert!(n.store().is_empty());
    // The same put under the name's own key is stored.
    let Message::Route(mut good) = put else { unreachable!() };
    good.target = Id::key_of("file");
    receive(&mut n, peer, &Message::Route(good));
    assert!(n.store().records().all(Record::is_intact) && n.store().len() == 1);
}

/// F2 (node_messages): a record whose version is `u64::MAX`, handed over by
/// any peer, then a put of the same key at that node. The next version
/// overflowed: a panic with overflow checks, and without them (the release
/// and wasm builds) version 0, which loses to the record held — the put was
/// reported done but nothing was stored. Now the put is refused.
#[test]
fn f2_put_over_a_record_with_the_last_version_is_not_lost() {
    let mut n = alone();
    let peer = Id::key_of("stranger");
    let key = Id::from_u64(2);
    let poison = Record::new(key, vec![1], Version { seq: u64::MAX, writer: peer });
    receive(&mut n, peer, &Message::Store { req: ReqId::new(1), reason: StoreReason::Replica, records: vec![poison] });
    while n.poll_output().is_some() {}
    let req = n.put(Millis(20), key, b"new".to_vec()).unwrap();
    let done = std::iter::from_fn(|| n.poll_output()).find_map(|o| match o {
        Output::Event(Event::PutDone { req: r, .. }) if r == req => Some(true),
        Output::Event(Event::RequestFailed { req: r, .. }) if r == req => Some(false),
        _ => None,
    });
    assert_eq!(done, Some(false), "a put over the last version was reported done");
    assert_eq!(n.store().get(&key).map(|r| r.version.seq), Some(u64::MAX));
}

/// F4 (sim_ring): a finger fix answered with a result of the wrong kind (a
/// Sybil on the path answering the lookup with a `JoinPoint`). The node
/// dropped the answer but kept its finger fix marked as running, so it never
/// fixed a finger again, and a finger the dead Sybil had held stayed empty for
/// good. Now the wrong answer fails the attempt, which is retried, and
/// finger fixing goes on.
#[test]
fn f4_a_wrong_kind_of_answer_does_not_stop_finger_fixing() {
    use chord::finger::FingerTable;
    use chord::message::{RouteReply, RouteResult};
    // Three nodes: most finger starts lie between the successor and the
    // predecessor, so their lookups go to the successor (which lies).
    let (me, s, p) = (Id::from_u64(1), Id::from_u64(1 << 20), Id::MAX);
    let cfg = Config {
        fix_fingers_ms: 100,
        stabilize_ms: 1_000_000,
        check_predecessor_ms: 1_000_000,
        replicate_ms: 1_000_000,
        ..Config::default()
    };
    let mut n = Node::with_ring_state(me, cfg, 3, Some(p), &[s, p], FingerTable::new(), Millis(0));
    let mut lookups = 0;
    let mut t = 0;
    while t <= 30_000 {
        n.handle_timeout(Millis(t));
        let outs: Vec<Output> = std::iter::from_fn(|| n.poll_output()).collect();
        for o in outs {
            if let Output::Send { to, msg: Message::Route(r) } = o {
                if r.origin == me && matches!(r.op, Op::FindSuccessor) {
                    lookups += 1;
                    receive(&mut n, to, &Message::RouteAck { origin: me, req: r.req });
                    let lie = RouteResult::JoinPoint { node: to, predecessor: Some(me), successors: vec![to] };
                    receive(&mut n, to, &Message::RouteReply(RouteReply { origin: me, req: r.req, path: vec![], hops: 1, result: lie }));
                }
            }
        }
        t += 10;
    }
    // One lie per attempt; every round asks again (3 attempts a fix, a fix every ~100 ms).
    assert!(lookups > 100, "finger fixing stopped after {lookups} lookups");
    assert!(n.fingers().runs().iter().all(|r| r.node == s || r.node == p), "{:?}", n.fingers().runs());
}
