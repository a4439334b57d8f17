//! Inputs the fuzz targets (fuzz/) found, kept as tests so `make test`
//! checks them without cargo-fuzz. Each is the fuzz input reduced to the
//! messages that matter, sent as a peer would: encoded, then fed to
//! `Node::handle_bytes`. Findings and fixes are listed in fuzz/README.md.

use chord::message::{DecodeError, Op, Route};
use chord::{Config, Id, Message, Millis, Node, Record};

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
        req: 1,
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
