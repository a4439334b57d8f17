//! Whatever arrives from the network, a node drops what it must, counts why,
//! and keeps working.

use chord::message::{ReqId, RouteReply, RouteResult, PROTOCOL_VERSION};
use chord::node::DropReason;
use chord::{Config, Event, Id, Message, Millis, Node, Output};

fn joined_node() -> Node {
    let mut n = Node::new(Id::key_of("me"), Config::default(), 7);
    n.create(Millis(0)).unwrap();
    while n.poll_output().is_some() {}
    n
}

#[test]
fn hostile_input_is_dropped_and_counted() {
    let mut n = joined_node();
    let stranger = Id::key_of("stranger");
    let now = Millis(10);
    // Frames that do not decode.
    assert!(n.handle_bytes(now, stranger, &[]).is_err());
    assert!(n.handle_bytes(now, stranger, &[PROTOCOL_VERSION, 0xff, 0xff, 0xff]).is_err());
    assert!(n.handle_bytes(now, stranger, &[PROTOCOL_VERSION + 1, 0]).is_err());
    assert!(n.handle_bytes(now, stranger, &vec![PROTOCOL_VERSION; 300_000]).is_err());
    assert_eq!(n.stats().dropped(DropReason::Malformed), 2);
    assert_eq!(n.stats().dropped(DropReason::Version), 1);
    assert_eq!(n.stats().dropped(DropReason::Oversized), 1);
    // Replies to requests never sent.
    n.handle_message(now, stranger, Message::Pong { req: ReqId::new(99), predecessors: vec![] });
    n.handle_message(now, stranger, Message::Neighbors { req: ReqId::new(98), predecessor: None, successors: vec![stranger] });
    n.handle_message(now, stranger, Message::StoreAck { req: ReqId::new(97) });
    n.handle_message(now, stranger, Message::RouteAck { origin: stranger, req: ReqId::new(1) });
    let forged =
        RouteReply { origin: n.id(), req: ReqId::new(12345), path: vec![], hops: 1, result: RouteResult::Found { node: stranger } };
    n.handle_message(now, stranger, Message::RouteReply(forged));
    assert_eq!(n.stats().dropped(DropReason::Unsolicited), 5);
    // A forged neighbour list did not become our successor list.
    assert!(n.successors().is_empty());
    // A routed message whose path does not name its sender.
    let route = chord::message::Route {
        origin: stranger,
        req: ReqId::new(1),
        target: Id::ZERO,
        hops: 0,
        path: vec![Id::key_of("someone else")],
        last_hop: false,
        op: chord::message::Op::Get,
    };
    n.handle_message(now, stranger, Message::Route(route));
    assert_eq!(n.stats().dropped(DropReason::BadPath), 1);
    // Still healthy: a lookup is answered (alone, we own every key).
    let req = n.lookup(now, Id::key_of("k")).unwrap();
    let done = std::iter::from_fn(|| n.poll_output()).find_map(|o| match o {
        Output::Event(Event::LookupDone { req: r, node, .. }) if r == req => Some(node),
        _ => None,
    });
    assert_eq!(done, Some(n.id()));
}

#[test]
fn commands_are_refused_with_clear_errors() {
    let mut idle = Node::new(Id::key_of("idle"), Config::default(), 1);
    assert_eq!(idle.get(Millis(0), Id::ZERO), Err(chord::CommandError::NotJoined));
    assert_eq!(idle.join(Millis(0), idle.id()), Err(chord::CommandError::JoinViaSelf));
    let mut n = joined_node();
    let big = vec![0u8; chord::message::MAX_VALUE_BYTES + 1];
    let err = n.put(Millis(0), Id::ZERO, big).unwrap_err();
    assert!(err.to_string().contains("bytes"), "{err}");
    assert_eq!(n.create(Millis(0)), Err(chord::CommandError::AlreadyJoined));
}

/// Finding F3: the answer to a routed request is accepted only from the peer
/// the request was handed to, even when a forger knows the request number;
/// request numbers are random, so a peer off the path cannot even guess it.
#[test]
fn a_forged_answer_to_a_pending_request_is_dropped() {
    use chord::finger::FingerTable;
    let me = Id::key_of("me");
    let s = Id::key_of("successor");
    let forger = Id::key_of("forger");
    let mut n = Node::with_ring_state(me, Config::default(), 3, Some(s), &[s], FingerTable::new(), Millis(0));
    while n.poll_output().is_some() {}
    let now = Millis(5);
    // A key our successor is responsible for: the get goes to it.
    let key = (1..).map(|i| Id::key_of(&format!("k{i}"))).find(|k| k.in_half_open(&me, &s)).unwrap();
    let get = n.get(now, key).unwrap();
    let sent = std::iter::from_fn(|| n.poll_output()).find_map(|o| match o {
        Output::Send { to, msg: Message::Route(r) } if to == s => Some(r),
        _ => None,
    });
    let route = sent.expect("the get is routed to the successor");
    // Request numbers are not a counter a stranger could follow.
    let (a, b) = (n.lookup(now, key).unwrap(), n.lookup(now, key).unwrap());
    assert!(a.get().abs_diff(b.get()) > 1 && a.get().abs_diff(route.req.get()) > 1, "request numbers {} {} {}", route.req, a, b);
    while n.poll_output().is_some() {}
    let record = chord::Record::new(key, b"forged".to_vec(), chord::store::Version { seq: 9, writer: forger });
    let forged = RouteReply {
        origin: me,
        req: route.req,
        path: vec![],
        hops: 1,
        result: RouteResult::Value { node: forger, record: Some(record), replicas: vec![] },
    };
    let before = n.stats().dropped(DropReason::Unsolicited);
    n.handle_message(now, forger, Message::RouteReply(forged));
    assert_eq!(n.stats().dropped(DropReason::Unsolicited), before + 1);
    assert!(std::iter::from_fn(|| n.poll_output()).all(|o| !matches!(o, Output::Event(Event::GetDone { .. }))));
    // The real answer, from the successor, still completes the get.
    let genuine = RouteReply {
        origin: me,
        req: route.req,
        path: vec![],
        hops: 1,
        result: RouteResult::Value { node: s, record: None, replicas: vec![] },
    };
    n.handle_message(now, s, Message::RouteReply(genuine));
    let done = std::iter::from_fn(|| n.poll_output()).find_map(|o| match o {
        Output::Event(Event::GetDone { req, node, record, .. }) if req == get => Some((node, record)),
        _ => None,
    });
    assert_eq!(done, Some((s, None)));
}

/// Issue 15, hole 1: an answer is passed back only along a hop this node took.
/// A linked peer that sends an answer naming a stranger as the next hop back
/// gets nothing sent to that stranger (which would start a new WebRTC link);
/// a genuine answer, from the peer the route was handed to, goes back to the
/// peer it came from, once.
#[test]
fn an_answer_goes_back_only_along_a_hop_this_node_took() {
    use chord::finger::FingerTable;
    use chord::message::{Op, Route};
    let me = Id::key_of("me");
    let s = Id::key_of("successor");
    let (a, stranger) = (Id::key_of("asker"), Id::key_of("stranger"));
    let mut n = Node::with_ring_state(me, Config::default(), 3, Some(a), &[s], FingerTable::new(), Millis(0));
    while n.poll_output().is_some() {}
    let sends = |n: &mut Node| -> Vec<(Id, Message)> {
        std::iter::from_fn(|| n.poll_output())
            .filter_map(|o| match o {
                Output::Send { to, msg: msg @ Message::RouteReply(_) } => Some((to, msg)),
                _ => None,
            })
            .collect()
    };
    // Out of nowhere: an answer to a route this node never saw, "back" to a stranger.
    let forged = RouteReply { origin: stranger, req: ReqId::new(5), path: vec![stranger], hops: 2, result: RouteResult::Found { node: s } };
    n.handle_message(Millis(1), s, Message::RouteReply(forged.clone()));
    assert_eq!(sends(&mut n), vec![], "an answer went to a peer this node never forwarded for");
    let unsolicited = n.stats().dropped(DropReason::Unsolicited);
    assert_eq!(unsolicited, 1);

    // A route from `a` for a key our successor holds: forwarded to it.
    let key = (1..).map(|i| Id::key_of(&format!("k{i}"))).find(|k| k.in_half_open(&me, &s)).unwrap();
    let route = Route { origin: a, req: ReqId::new(9), target: key, hops: 1, path: vec![a], last_hop: false, op: Op::Get };
    n.handle_message(Millis(2), a, Message::Route(route));
    while n.poll_output().is_some() {}
    let answer = |path: Vec<Id>| RouteReply { origin: a, req: ReqId::new(9), path, hops: 2, result: RouteResult::Found { node: s } };
    // Right route, but "back" to a stranger, or from a peer it was not handed to: dropped.
    n.handle_message(Millis(3), s, Message::RouteReply(answer(vec![stranger])));
    n.handle_message(Millis(3), stranger, Message::RouteReply(answer(vec![a])));
    assert_eq!(sends(&mut n), vec![]);
    assert_eq!(n.stats().dropped(DropReason::BadPath), 2);
    // The genuine answer goes back to `a`, once.
    n.handle_message(Millis(4), s, Message::RouteReply(answer(vec![a])));
    assert_eq!(sends(&mut n), vec![(a, Message::RouteReply(answer(vec![])))]);
    n.handle_message(Millis(5), s, Message::RouteReply(answer(vec![a])));
    assert_eq!(sends(&mut n), vec![], "a second answer to the same hop");
    assert_eq!(n.stats().dropped(DropReason::Unsolicited), unsolicited + 1);
}

/// A neighbour cannot make a node hold routed requests without bound: beyond
/// `max_forwarding_per_peer` (or its byte budget) held for one peer, a route
/// is acknowledged and answered `Busy` at once; other peers are still served.
#[test]
fn routes_held_for_one_peer_are_bounded() {
    use chord::finger::FingerTable;
    use chord::message::{Op, Route, RouteFailure};
    let me = Id::key_of("me");
    let s = Id::key_of("successor");
    let (flood, honest) = (Id::key_of("flooder"), Id::key_of("honest"));
    let cfg = Config { max_forwarding_per_peer: 8, max_forwarding_bytes_per_peer: 10_000, ..Config::default() };
    let mut n = Node::with_ring_state(me, cfg, 3, Some(honest), &[s], FingerTable::new(), Millis(0));
    while n.poll_output().is_some() {}
    // Keys our successor is responsible for: we forward them and wait for its receipt (it never sends one).
    let keys: Vec<Id> = (1..).map(|i| Id::key_of(&format!("k{i}"))).filter(|k| k.in_half_open(&me, &s)).take(12).collect();
    let route = |origin: Id, req: u64, key: Id, op: Op| {
        Message::Route(Route { origin, req: ReqId::new(req), target: key, hops: 1, path: vec![origin], last_hop: false, op })
    };
    // (forwarded to the successor, answered busy)
    let mut c = (0, 0);
    let step = |n: &mut Node, c: &mut (u32, u32), from: Id, msg: Message| {
        n.handle_message(Millis(10), from, msg);
        for o in std::iter::from_fn(|| n.poll_output()) {
            match o {
                Output::Send { to, msg: Message::RouteReply(r) } if to == from => {
                    assert!(matches!(r.result, RouteResult::Failed { reason: RouteFailure::Busy, .. }));
                    c.1 += 1;
                }
                Output::Send { to, msg: Message::Route(_) } if to == s => c.0 += 1,
                _ => {}
            }
        }
    };
    for (i, k) in keys.iter().enumerate() {
        step(&mut n, &mut c, flood, route(flood, i as u64 + 1, *k, Op::Get));
    }
    assert_eq!(c, (8, 4));
    // Another peer is not affected by the flooder's share.
    step(&mut n, &mut c, honest, route(honest, 1, keys[0], Op::Get));
    assert_eq!(c, (9, 4));
    // The byte budget: two 6,000-byte puts do not fit in 10,000 bytes.
    let put = |v: usize| Op::Put { name: String::new(), value: vec![7; v] };
    step(&mut n, &mut c, honest, route(honest, 2, keys[1], put(6_000)));
    step(&mut n, &mut c, honest, route(honest, 3, keys[2], put(6_000)));
    assert_eq!(c, (10, 5));
    assert_eq!(n.stats().dropped(DropReason::Limit), 5);
    // Once the receipts arrive the flooder is served again.
    for i in 0..8u64 {
        n.handle_message(Millis(20), s, Message::RouteAck { origin: flood, req: ReqId::new(i + 1) });
    }
    step(&mut n, &mut c, flood, route(flood, 100, keys[3], Op::Get));
    assert_eq!(c, (11, 5));
}

/// A get whose primary answers with a corrupt record asks the replicas the
/// primary named, one after the other, and reports the first intact copy;
/// each corrupt copy is dropped and counted; a copy only counts from the
/// replica asked, and only as a `Fetched`.
#[test]
fn a_corrupt_answer_falls_back_to_a_replica() {
    use chord::finger::FingerTable;
    use chord::store::Version;
    let me = Id::key_of("me");
    let s = Id::key_of("successor");
    let (r1, r2) = (Id::key_of("replica 1"), Id::key_of("replica 2"));
    let key = (1..).map(|i| Id::key_of(&format!("k{i}"))).find(|k| k.in_half_open(&me, &s)).unwrap();
    let good = chord::Record::new(key, b"the value".to_vec(), Version { seq: 3, writer: s });
    let mut bad = good.clone();
    bad.value[0] ^= 1;
    assert!(!bad.is_intact());

    let run = |copies: [Option<&chord::Record>; 2]| -> Vec<Event> {
        let mut n = Node::with_ring_state(me, Config::default(), 3, Some(s), &[s], FingerTable::new(), Millis(0));
        while n.poll_output().is_some() {}
        let get = n.get(Millis(1), key).unwrap();
        let route = std::iter::from_fn(|| n.poll_output())
            .find_map(|o| match o {
                Output::Send { msg: Message::Route(r), .. } => Some(r),
                _ => None,
            })
            .unwrap();
        let reply = RouteReply {
            origin: me,
            req: route.req,
            path: vec![],
            hops: 1,
            result: RouteResult::Value { node: s, record: Some(bad.clone()), replicas: vec![s, r1, r2] },
        };
        n.handle_message(Millis(2), s, Message::RouteReply(reply));
        let mut events = vec![];
        for (replica, copy) in [r1, r2].into_iter().zip(copies) {
            let fetch = std::iter::from_fn(|| n.poll_output()).find_map(|o| match o {
                Output::Send { to, msg: Message::Fetch { req, key: k } } if k == key => Some((to, req)),
                Output::Event(e) => {
                    events.push(e);
                    None
                }
                _ => None,
            });
            let (to, req) = fetch.expect("a replica is asked");
            assert_eq!(to, replica);
            // Answers of the wrong kind or from the wrong peer do not count.
            n.handle_message(Millis(3), replica, Message::Pong { req, predecessors: vec![] });
            n.handle_message(Millis(3), s, Message::Fetched { req, record: Some(good.clone()) });
            n.handle_message(Millis(3), replica, Message::Fetched { req, record: copy.cloned() });
        }
        events.extend(std::iter::from_fn(|| n.poll_output()).filter_map(|o| match o {
            Output::Event(e) => Some(e),
            _ => None,
        }));
        assert_eq!(n.stats().dropped(DropReason::Unsolicited), 4);
        let corrupt = 1 + copies.iter().filter(|c| c.is_some_and(|c| !c.is_intact())).count() as u64;
        assert_eq!(n.stats().dropped(DropReason::Corrupt), corrupt);
        events.retain(|e| matches!(e, Event::GetDone { req, .. } | Event::RequestFailed { req, .. } if *req == get));
        events
    };
    // The first replica's copy is corrupt too, the second's is good.
    let events = run([Some(&bad), Some(&good)]);
    assert!(matches!(&events[..], [Event::GetDone { record: Some(r), node, .. }] if r == &good && *node == r2), "{events:?}");
    // No good copy anywhere: the get fails and says why.
    let events = run([None, Some(&bad)]);
    assert!(matches!(&events[..], [Event::RequestFailed { error: chord::RequestError::Corrupt { copies: 2 }, .. }]), "{events:?}");
}

/// A successor that claims a predecessor which is not alive does not get that
/// node adopted: stabilize asks the claimed node itself first (Zave: never
/// adopt an unchecked pointer), and only a node that answers for itself
/// becomes the successor.
#[test]
fn a_claimed_successor_that_is_not_alive_is_never_adopted() {
    use chord::finger::FingerTable;
    let me = Id::key_of("me");
    let s = Id::key_of("successor");
    // A node between us and our successor, which the successor claims as its predecessor.
    let ghost = (1..).map(|i| Id::key_of(&format!("ghost {i}"))).find(|g| g.in_open(&me, &s)).unwrap();
    let cfg = Config {
        stabilize_ms: 200,
        fix_fingers_ms: 1_000_000,
        check_predecessor_ms: 1_000_000,
        replicate_ms: 1_000_000,
        ..Config::default()
    };
    let run = |ghost_answers: bool| {
        let mut n = Node::with_ring_state(me, cfg.clone(), 3, Some(s), &[s], FingerTable::new(), Millis(0));
        let mut asked_ghost = 0;
        let mut t = 0;
        while t <= 20_000 {
            n.handle_timeout(Millis(t));
            let outs: Vec<Output> = std::iter::from_fn(|| n.poll_output()).collect();
            for o in outs {
                match o {
                    // The successor lies (or is right) about its predecessor.
                    Output::Send { to, msg: Message::GetNeighbors { req } } if to == s => {
                        n.handle_message(Millis(t), s, Message::Neighbors { req, predecessor: Some(ghost), successors: vec![me] })
                    }
                    Output::Send { to, msg: Message::GetNeighbors { req } } if to == ghost => {
                        asked_ghost += 1;
                        if ghost_answers {
                            n.handle_message(Millis(t), ghost, Message::Neighbors { req, predecessor: Some(me), successors: vec![s, me] });
                        }
                    }
                    _ => {}
                }
            }
            t += 10;
        }
        (n.successors().first().copied(), n.successors().contains(&ghost), asked_ghost)
    };
    let (first, listed, asked) = run(false);
    assert_eq!(first, Some(s), "a silent claimed node replaced a live successor");
    assert!(!listed, "the silent claimed node entered the successor list");
    assert!(asked >= 1, "the claim was never checked");
    // Control: a claimed node that answers for itself is adopted.
    let (first, _, _) = run(true);
    assert_eq!(first, Some(ghost));
}

/// What the transport says about a peer (`node/transport.rs`): a lost link
/// to a stranger changes nothing; a neighbour is probed at once; one the ring
/// cannot reach is dropped, and a stabilize round's check of it fails at once
/// rather than after three deadlines, until it is heard from again.
#[test]
fn a_neighbour_whose_link_closed_is_probed_and_dropped_when_unreachable() {
    use chord::finger::FingerTable;
    let me = Id::key_of("me");
    let s2 = Id::key_of("successor 2");
    let s1 = (1..).map(|i| Id::key_of(&format!("s1 {i}"))).find(|g| g.in_open(&me, &s2)).unwrap();
    let stranger = (1..).map(|i| Id::key_of(&format!("x {i}"))).find(|g| g.in_open(&s2, &me)).unwrap();
    let cfg = Config {
        stabilize_ms: 1_000_000,
        fix_fingers_ms: 1_000_000,
        check_predecessor_ms: 1_000_000,
        replicate_ms: 1_000_000,
        ..Config::default()
    };
    let mut n = Node::with_ring_state(me, cfg, 3, Some(s2), &[s1, s2], FingerTable::new(), Millis(0));
    while n.poll_output().is_some() {}
    let now = Millis(100);
    let sent = |n: &mut Node| {
        std::iter::from_fn(|| n.poll_output())
            .filter_map(|o| match o {
                Output::Send { to, msg } => Some((to, msg)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };

    assert!(!n.link_lost(now, stranger), "a stranger is no neighbour");
    assert!(sent(&mut n).is_empty());
    assert!(n.link_lost(now, s1));
    assert!(sent(&mut n).iter().any(|(to, m)| *to == s1 && matches!(m, Message::Ping { .. })), "the neighbour was not probed at once");
    assert_eq!(n.stats().links_lost, 1);

    // The ring cannot reach s1: dropped now, and s2 is asked at once.
    assert!(n.unreachable(now, s1));
    assert_eq!(n.successors(), &[s2]);
    assert_eq!(n.stats().dead_by_transport, 1);
    let req = sent(&mut n)
        .into_iter()
        .find_map(|(to, m)| match m {
            Message::GetNeighbors { req } if to == s2 => Some(req),
            _ => None,
        })
        .expect("a stabilize round with the next successor");
    // s2 still names s1 as its predecessor: the check of that claim fails at
    // once (nothing is sent to s1), and s1 is not adopted.
    n.handle_message(now, s2, Message::Neighbors { req, predecessor: Some(s1), successors: vec![me] });
    assert!(sent(&mut n).iter().all(|(to, _)| *to != s1), "a question went to a peer the ring cannot reach");
    n.handle_timeout(now);
    let out = sent(&mut n);
    assert!(out.iter().any(|(to, m)| *to == s2 && matches!(m, Message::Rectify)), "the round did not end at once: {out:?}");
    assert_eq!(n.successors(), &[s2]);

    // One more round follows at once (the neighbours repair their lists too).
    let req = out
        .into_iter()
        .find_map(|(to, m)| match m {
            Message::GetNeighbors { req } if to == s2 => Some(req),
            _ => None,
        })
        .expect("a second stabilize round");
    // s1 speaks again: it is reachable after all, and the next claim is checked with it.
    n.handle_message(now, s1, Message::SuccessorsChanged);
    n.handle_message(now, s2, Message::Neighbors { req, predecessor: Some(s1), successors: vec![me] });
    assert!(
        sent(&mut n).iter().any(|(to, m)| *to == s1 && matches!(m, Message::GetNeighbors { .. })),
        "a peer heard from again was not asked"
    );
}

/// A neighbour whose link closed gets one confirming probe: silent for one
/// deadline, it is declared dead (three deadlines for a peer merely silent).
#[test]
fn a_neighbour_whose_link_closed_is_dead_after_one_silent_deadline() {
    use chord::finger::FingerTable;
    let me = Id::key_of("me");
    let s2 = Id::key_of("successor 2");
    let s1 = (1..).map(|i| Id::key_of(&format!("s1 {i}"))).find(|g| g.in_open(&me, &s2)).unwrap();
    let cfg = Config {
        stabilize_ms: 1_000_000,
        fix_fingers_ms: 1_000_000,
        check_predecessor_ms: 1_000_000,
        replicate_ms: 1_000_000,
        lost_probe_ms: 0,
        ..Config::default()
    };
    let deadline = cfg.rpc_timeout_ms;
    let mut n = Node::with_ring_state(me, cfg, 3, Some(s2), &[s1, s2], FingerTable::new(), Millis(0));
    while n.poll_output().is_some() {}
    assert!(n.link_lost(Millis(100), s1));
    let mut t = 100;
    while n.successors().contains(&s1) && t < 100 + 4 * deadline {
        t += 10;
        n.handle_timeout(Millis(t));
        while n.poll_output().is_some() {}
    }
    assert!(!n.successors().contains(&s1), "a silent neighbour whose link closed was kept");
    assert!(t - 100 <= deadline + 10, "it took {} ms, more than one deadline ({deadline} ms)", t - 100);
    assert_eq!(n.stats().declared_dead, 1);
}

/// No false "not found" (issue 13): a primary confirms an absence with its
/// successor list before it answers a get.
mod confirm {
    use chord::finger::FingerTable;
    use chord::message::{Op, ReqId, Route, RouteFailure, RouteReply, RouteResult};
    use chord::{Config, Event, Id, Message, Millis, Node, Output, Record, RequestError, Version};

    fn id(x: u64) -> Id {
        Id::from_u64(x << 40)
    }

    /// Primary P = 100 with predecessor Q = 50 and successors 150, 200, 250.
    fn primary(replicas: usize) -> Node {
        let cfg = Config { replicas, ..Config::default() };
        let mut n = Node::with_ring_state(id(100), cfg, 9, Some(id(50)), &[id(150), id(200), id(250)], FingerTable::new(), Millis(0));
        while n.poll_output().is_some() {}
        n
    }

    /// Q hands P a get for a key in P's range.
    fn get_from_q(n: &mut Node, now: u64) -> Vec<Output> {
        let route = Route { origin: id(50), req: ReqId::new(77), target: id(90), hops: 1, path: vec![id(50)], last_hop: true, op: Op::Get };
        n.handle_message(Millis(now), id(50), Message::Route(route));
        std::iter::from_fn(|| n.poll_output()).collect()
    }

    /// The fetches P sent, as (to, req).
    fn fetches(out: &[Output]) -> Vec<(Id, ReqId)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send { to, msg: Message::Fetch { req, key } } if *key == id(90) => Some((*to, *req)),
                _ => None,
            })
            .collect()
    }

    /// The answer P sent back to Q.
    fn answer(out: &[Output]) -> Option<RouteResult> {
        out.iter().find_map(|o| match o {
            Output::Send { to, msg: Message::RouteReply(r) } if *to == id(50) && r.req == ReqId::new(77) => Some(r.result.clone()),
            _ => None,
        })
    }

    fn record(seq: u64, v: &[u8]) -> Record {
        Record::new(id(90), v.to_vec(), Version { seq, writer: id(1) })
    }

    fn drain(n: &mut Node) -> Vec<Output> {
        std::iter::from_fn(|| n.poll_output()).collect()
    }

    /// Lets the clock run (up to 20 s) until P answers Q.
    fn answer_once_timed_out(n: &mut Node) -> Option<RouteResult> {
        (100..20_000).step_by(100).find_map(|t| {
            n.handle_timeout(Millis(t));
            answer(&drain(n))
        })
    }

    #[test]
    fn absent_only_when_every_successor_agrees() {
        let mut n = primary(3);
        let out = get_from_q(&mut n, 10);
        assert!(answer(&out).is_none(), "answered before asking the successors");
        let asked = fetches(&out);
        assert_eq!(asked.iter().map(|a| a.0).collect::<Vec<_>>(), vec![id(150), id(200), id(250)], "asks its whole successor list");
        n.handle_message(Millis(20), id(150), Message::Fetched { req: asked[0].1, record: None });
        n.handle_message(Millis(25), id(200), Message::Fetched { req: asked[1].1, record: None });
        assert!(answer(&drain(&mut n)).is_none(), "answered before the last successor");
        n.handle_message(Millis(30), id(250), Message::Fetched { req: asked[2].1, record: None });
        assert!(matches!(answer(&drain(&mut n)), Some(RouteResult::Value { record: None, .. })));
    }

    /// After a merge the other ring's copies can lie past the new primary's
    /// R−1 replicas (here on its third successor, with R = 3) until they are
    /// handed back: the get still finds them.
    #[test]
    fn a_copy_past_the_replicas_is_found() {
        let mut n = primary(3);
        let asked = fetches(&get_from_q(&mut n, 10));
        let theirs = record(5, b"from the other ring");
        n.handle_message(Millis(20), id(150), Message::Fetched { req: asked[0].1, record: None });
        n.handle_message(Millis(25), id(200), Message::Fetched { req: asked[1].1, record: None });
        n.handle_message(Millis(30), id(250), Message::Fetched { req: asked[2].1, record: Some(theirs.clone()) });
        match answer(&drain(&mut n)) {
            Some(RouteResult::Value { record: Some(r), .. }) => assert_eq!(r, theirs),
            other => panic!("{other:?}"),
        }
        assert_eq!(n.store().get(&id(90)), Some(&theirs), "the primary keeps it");
    }

    #[test]
    fn a_replica_s_copy_is_answered_and_the_newest_wins() {
        let mut n = primary(3);
        let asked = fetches(&get_from_q(&mut n, 10));
        let (old, new) = (record(1, b"old"), record(2, b"new"));
        n.handle_message(Millis(20), id(150), Message::Fetched { req: asked[0].1, record: Some(new.clone()) });
        n.handle_message(Millis(30), id(200), Message::Fetched { req: asked[1].1, record: Some(old) });
        n.handle_message(Millis(35), id(250), Message::Fetched { req: asked[2].1, record: None });
        match answer(&drain(&mut n)) {
            Some(RouteResult::Value { record: Some(r), .. }) => assert_eq!(r, new),
            other => panic!("{other:?}"),
        }
        assert_eq!(n.store().get(&id(90)), Some(&new), "the primary keeps the copy it found");
    }

    /// A silent member past the replicas (a dead node still listed) does not
    /// make an absence unsure: it was asked as a best effort.
    #[test]
    fn a_silent_member_past_the_replicas_does_not_make_it_not_sure() {
        let mut n = primary(3);
        let asked = fetches(&get_from_q(&mut n, 10));
        n.handle_message(Millis(20), id(150), Message::Fetched { req: asked[0].1, record: None });
        n.handle_message(Millis(25), id(200), Message::Fetched { req: asked[1].1, record: None });
        let result = answer_once_timed_out(&mut n);
        assert!(matches!(result, Some(RouteResult::Value { record: None, .. })), "{result:?}");
    }

    #[test]
    fn a_silent_replica_makes_it_not_sure() {
        let mut n = primary(3);
        let asked = fetches(&get_from_q(&mut n, 10));
        n.handle_message(Millis(20), id(150), Message::Fetched { req: asked[0].1, record: None });
        let result = answer_once_timed_out(&mut n);
        assert!(matches!(result, Some(RouteResult::Failed { reason: RouteFailure::NotSure, .. })), "{result:?}");
    }

    #[test]
    fn a_sure_primary_with_the_record_answers_at_once() {
        let mut n = primary(3);
        n.handle_message(
            Millis(5),
            id(50),
            Message::Store { req: ReqId::new(1), reason: chord::message::StoreReason::Replica, records: vec![record(3, b"x")] },
        );
        drain(&mut n);
        let out = get_from_q(&mut n, 10);
        assert!(fetches(&out).is_empty());
        assert!(matches!(answer(&out), Some(RouteResult::Value { record: Some(_), .. })));
    }

    #[test]
    fn a_primary_whose_predecessor_just_changed_asks_even_with_a_record() {
        let mut n = primary(3);
        n.handle_message(
            Millis(5),
            id(50),
            Message::Store { req: ReqId::new(1), reason: chord::message::StoreReason::Replica, records: vec![record(3, b"x")] },
        );
        // A node between Q and P rectifies P: P's range just changed.
        n.handle_message(Millis(6), id(60), Message::Rectify);
        assert_eq!(n.predecessor(), Some(id(60)));
        drain(&mut n);
        let route = Route { origin: id(60), req: ReqId::new(78), target: id(90), hops: 1, path: vec![id(60)], last_hop: true, op: Op::Get };
        n.handle_message(Millis(10), id(60), Message::Route(route));
        let asked = fetches(&drain(&mut n));
        assert_eq!(asked.len(), 2, "an unsure primary with a record asks its R−1 replicas");
        let newer = record(4, b"newer");
        n.handle_message(Millis(20), id(150), Message::Fetched { req: asked[0].1, record: Some(newer.clone()) });
        n.handle_message(Millis(30), id(200), Message::Fetched { req: asked[1].1, record: None });
        let out = drain(&mut n);
        let got = out.iter().find_map(|o| match o {
            Output::Send { msg: Message::RouteReply(RouteReply { req, result: RouteResult::Value { record, .. }, .. }), .. }
                if *req == ReqId::new(78) =>
            {
                Some(record.clone())
            }
            _ => None,
        });
        assert_eq!(got, Some(Some(newer)));
        // Two stabilize periods later it is sure again: no more fetches.
        let route = Route { origin: id(60), req: ReqId::new(79), target: id(90), hops: 1, path: vec![id(60)], last_hop: true, op: Op::Get };
        n.handle_message(Millis(5_000), id(60), Message::Route(route));
        assert!(fetches(&drain(&mut n)).is_empty());
    }

    #[test]
    fn with_one_replica_the_successors_are_still_asked() {
        let mut n = primary(1);
        let asked = fetches(&get_from_q(&mut n, 10));
        assert_eq!(asked.iter().map(|a| a.0).collect::<Vec<_>>(), vec![id(150), id(200), id(250)]);
    }

    #[test]
    fn the_origin_reports_not_sure_not_absent() {
        let cfg = Config { request_retries: 0, ..Config::default() };
        let me = id(10);
        let mut n = Node::with_ring_state(me, cfg, 4, Some(id(250)), &[id(50), id(100)], FingerTable::new(), Millis(0));
        drain(&mut n);
        let get = n.get(Millis(1), id(90)).unwrap();
        let route = drain(&mut n).into_iter().find_map(|o| match o {
            Output::Send { to, msg: Message::Route(r) } => Some((to, r)),
            _ => None,
        });
        let (hop, route) = route.expect("the get left");
        n.handle_message(Millis(2), hop, Message::RouteAck { origin: me, req: route.req });
        let reply = RouteReply {
            origin: me,
            req: route.req,
            path: vec![],
            hops: 1,
            result: RouteResult::Failed { node: id(100), reason: RouteFailure::NotSure },
        };
        n.handle_message(Millis(3), hop, Message::RouteReply(reply));
        let failed = drain(&mut n).into_iter().find_map(|o| match o {
            Output::Event(Event::RequestFailed { req, error, .. }) if req == get => Some(error),
            _ => None,
        });
        assert_eq!(failed, Some(RequestError::NotSure));
    }
}
