//! Whatever arrives from the network, a node drops what it must, counts why,
//! and keeps working.

use chord::message::{RouteReply, RouteResult, PROTOCOL_VERSION};
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
    n.handle_message(now, stranger, Message::Pong { req: 99, predecessors: vec![] });
    n.handle_message(now, stranger, Message::Neighbors { req: 98, predecessor: None, successors: vec![stranger] });
    n.handle_message(now, stranger, Message::StoreAck { req: 97 });
    n.handle_message(now, stranger, Message::RouteAck { origin: stranger, req: 1 });
    let forged = RouteReply { origin: n.id(), req: 12345, path: vec![], hops: 1, result: RouteResult::Found { node: stranger } };
    n.handle_message(now, stranger, Message::RouteReply(forged));
    assert_eq!(n.stats().dropped(DropReason::Unsolicited), 5);
    // A forged neighbour list did not become our successor list.
    assert!(n.successors().is_empty());
    // A routed message whose path does not name its sender.
    let route = chord::message::Route {
        origin: stranger,
        req: 1,
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
