//! The other end's message size limit ([`crate::link::limit`]): frames above
//! it are refused and counted, queued ones are checked when the link opens,
//! a limit too small for the protocol fails the link, and 0 means no limit.

use super::*;
use crate::link::MIN_MAX_MESSAGE_SIZE;
use crate::transfer::{chunk_frames, PullId, CHUNK_BYTES};

const LIMIT: MaxMessageSize = MaxMessageSize::bytes(65_536);

/// A Chord-like frame (not a link frame) of `len` bytes.
fn frame(len: usize) -> Vec<u8> {
    vec![1; len]
}

#[test]
fn a_frame_above_the_remote_limit_is_refused_counted_and_not_sent() {
    let mut w = World::line_with(LinkConfig::default(), LIMIT);
    let b = w.id(B);
    assert_eq!(w.l[A].max_message_size(&b), Some(LIMIT));
    let view = w.l[A].snapshot().into_iter().find(|l| l.peer == b).expect("A's link to B");
    assert_eq!(view.max_message_size, Some(LIMIT), "the snapshot carries the limit");

    assert_eq!(w.l[A].send(w.now, b, frame(65_536)), Ok(()));
    assert_eq!(w.l[A].send(w.now, b, frame(65_537)), Err(SendError::TooLarge { len: 65_537, limit: LIMIT }));
    w.pump();
    assert_eq!(w.delivered, vec![(B, w.id(A))], "only the frame that fits arrived");
    assert_eq!(w.l[A].stats().too_large, 1);
    assert!(w.l[A].is_open(&b), "a refused frame leaves the link open");
}

#[test]
fn a_multi_chunk_file_crosses_a_64_kib_link_in_parts() {
    let mut w = World::line_with(LinkConfig::default(), LIMIT);
    let b = w.id(B);
    let chunk: Vec<u8> = (0..CHUNK_BYTES).map(|i| i as u8).collect();
    let mut frames = 0;
    for index in 0..3 {
        for msg in chunk_frames(PullId(u64::MAX), index, chunk.clone(), w.l[A].max_message_size(&b).expect("open").max_len()) {
            // The pump asserts each one fits the link.
            assert_eq!(w.l[A].send(w.now, b, msg.encode()), Ok(()));
            frames += 1;
        }
    }
    w.pump();
    assert!(frames > 3, "chunks went in parts");
    assert_eq!(w.delivered.len(), frames);
    assert_eq!(w.l[A].stats().too_large, 0);
}

#[test]
fn frames_queued_for_a_link_are_checked_when_it_opens() {
    let mut w = World::line_with(LinkConfig::default(), LIMIT);
    let c = w.id(C);
    let (la, lc) = w.ring_link(); // queues one small Chord frame for C
    assert_eq!(w.l[A].send(w.now, c, frame(70_000)), Ok(()), "the limit is not known before the link opens");
    assert_eq!(w.l[A].send(w.now, c, frame(1_000)), Ok(()));
    w.open(A, la, C, lc);
    let at_c = w.delivered.iter().filter(|(i, from)| *i == C && *from == w.id(A)).count();
    assert_eq!(at_c, 2, "the two frames that fit went out");
    assert_eq!(w.l[A].stats().too_large, 1);
}

#[test]
fn a_remote_limit_below_the_minimum_fails_the_link_and_pauses_retries() {
    let mut w = World::line(LinkConfig::default());
    let (a, c) = (w.id(A), w.id(C));
    let (la, lc) = w.ring_link();
    w.take_out(A);
    w.wire.insert((A, la), (C, lc));
    w.wire.insert((C, lc), (A, la));
    w.l[A].opened(w.now, la, MaxMessageSize::bytes(MIN_MAX_MESSAGE_SIZE - 1));
    w.pump();
    let out = w.take_out(A);
    assert!(out.contains(&LinkOutput::Failed { peer: c, via: Via::Ring, reason: LinkFailure::MessageLimit }), "{out:?}");
    assert!(!out.iter().any(|o| matches!(o, LinkOutput::Opened { .. })), "never reported open: {out:?}");
    assert!(w.take_cmds(A).contains(&RtcCommand::Close { link: la }));
    assert!(!w.l[A].snapshot().iter().any(|l| l.peer == c));
    assert_eq!((w.l[A].stats().message_limit, w.l[A].stats().opened), (1, 1), "its link to B opened, this one did not");
    assert!(!w.delivered.iter().any(|(i, from)| *i == C && *from == a), "nothing was sent over it");

    // The peer is not tried again for a minute, however much is sent to it.
    assert_eq!(w.l[A].send(w.now, c, CHORD.to_vec()), Ok(()));
    w.now = w.now + (MESSAGE_LIMIT_RETRY_MS - 1);
    w.l[A].handle_timeout(w.now);
    w.pump();
    assert!(!w.take_cmds(A).iter().any(|c| matches!(c, RtcCommand::Create { .. })), "no new attempt within the pause");
    w.now = w.now + 1_000;
    w.l[A].handle_timeout(w.now);
    w.pump();
    assert!(w.take_cmds(A).iter().any(|cmd| matches!(cmd, RtcCommand::Create { peer, .. } if *peer == c)), "tried again after it");
}

#[test]
fn a_remote_limit_of_zero_means_no_limit() {
    let mut w = World::line_with(LinkConfig::default(), MaxMessageSize::bytes(0));
    let b = w.id(B);
    assert_eq!(w.l[A].max_message_size(&b), Some(MaxMessageSize::UNLIMITED));
    assert_eq!(w.l[A].send(w.now, b, frame(4 << 20)), Ok(()));
    w.pump();
    assert_eq!(w.delivered, vec![(B, w.id(A))]);
}
