//! Every decoder of bytes that arrive over a data channel, on the same input:
//! Chord frames (`Message::decode`), link frames (`Envelope::decode`) and
//! transfer frames (`XferMsg::decode`).
//!
//! Asserts: no decoder panics; at most one accepts a frame (they are told
//! apart by the first byte); whatever decodes re-encodes, within the frame
//! limit, to bytes that decode to the same value; and a node fed the frame
//! through `handle_bytes` agrees with the decoder on whether it was accepted.
#![no_main]

use chord::link::{frame::is_link_frame, Envelope};
use chord::message::MAX_MESSAGE_BYTES;
use chord::transfer::{is_transfer_frame, XferMsg};
use chord::{Config, Id, Message, Millis, Node};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let msg = Message::decode(data);
    let env = Envelope::decode(data);
    let xfer = XferMsg::decode(data);
    let accepted = [msg.is_ok(), env.is_ok(), xfer.is_ok()].iter().filter(|ok| **ok).count();
    assert!(accepted <= 1, "one frame decoded as two kinds: {msg:?} {env:?} {xfer:?}");

    if let Ok(m) = &msg {
        let bytes = m.encode().expect("a decoded message re-encodes");
        assert!(bytes.len() <= MAX_MESSAGE_BYTES);
        assert!(bytes.len() <= data.len(), "re-encoding grew: {} > {}", bytes.len(), data.len());
        assert_eq!(Message::decode(&bytes).as_ref(), Ok(m));
        assert!(!is_link_frame(&bytes) && !is_transfer_frame(&bytes));
    }
    if let Ok(e) = &env {
        let bytes = e.encode();
        assert!(is_link_frame(&bytes));
        assert!(bytes.len() <= data.len(), "re-encoding grew: {} > {}", bytes.len(), data.len());
        assert_eq!(Envelope::decode(&bytes).as_ref(), Ok(e));
    }
    if let Ok(x) = &xfer {
        let bytes = x.encode();
        assert!(is_transfer_frame(&bytes));
        assert!(bytes.len() <= data.len(), "re-encoding grew: {} > {}", bytes.len(), data.len());
        assert_eq!(XferMsg::decode(&bytes).as_ref(), Ok(x));
    }

    // The node's entry point for raw frames agrees with the decoder.
    let mut node = Node::new(Id::key_of("me"), Config::default(), 1);
    let _ = node.create(Millis(0));
    while node.poll_output().is_some() {}
    assert_eq!(node.handle_bytes(Millis(1), Id::key_of("peer"), data).is_ok(), msg.is_ok());
    while node.poll_output().is_some() {}
    chord_fuzz::check_node(&node);
});
