use super::*;
use crate::transfer::CHUNK_BYTES;

fn content(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt)).collect()
}

fn blob_of(bytes: &[u8]) -> Blob {
    Blob { key: Id::key_of("f"), name: "f".into(), size: bytes.len() as u64, digest: Id::hash(bytes) }
}

/// A world with holders (each with its own copy, possibly corrupt or absent)
/// and a driver that stores chunks; answers arrive in reverse order per batch.
struct World {
    pulls: Pulls,
    holders: Vec<(Id, Option<Vec<u8>>)>,
    stored: BTreeMap<u32, Vec<u8>>,
    events: Vec<PullOutput>,
    max_window: u32,
    fail_write_at: Option<u32>,
    /// Wants lost before this time (a link that is reopening).
    lost_until: Millis,
    /// The largest message the puller's end of the links accepts: holders
    /// answer with [`chunk_frames`](crate::transfer::chunk_frames).
    max_frame: usize,
    /// Frames the holders sent, and the largest.
    frames: usize,
    largest_frame: usize,
}

impl World {
    fn new(holders: Vec<(Id, Option<Vec<u8>>)>) -> World {
        World {
            pulls: Pulls::new(PullConfig::default()),
            holders,
            stored: BTreeMap::new(),
            events: vec![],
            max_window: 0,
            fail_write_at: None,
            lost_until: Millis(0),
            max_frame: usize::MAX,
            frames: 0,
            largest_frame: 0,
        }
    }

    /// Runs until quiet; holders that have `None` never answer (a timeout moves on).
    fn run(&mut self, now: &mut Millis) {
        for _ in 0..100_000 {
            let mut wants = Vec::new();
            let mut writes = Vec::new();
            while let Some(o) = self.pulls.poll_output() {
                match o {
                    PullOutput::Send { to, msg: XferMsg::Want { pull, index, .. } } => wants.push((to, pull, index)),
                    PullOutput::Write { pull, index, bytes, .. } => writes.push((pull, index, bytes)),
                    PullOutput::Discard { .. } => {
                        self.stored.clear();
                        self.events.push(o);
                    }
                    other => self.events.push(other),
                }
            }
            let outstanding: u32 = self.pulls.pulls.values().map(|p| (p.next_want - p.next_hash) + p.unwritten).sum();
            self.max_window = self.max_window.max(outstanding);
            if wants.is_empty() && writes.is_empty() {
                match self.pulls.poll_timeout() {
                    Some(t) => {
                        *now = t;
                        self.pulls.handle_timeout(*now);
                        continue;
                    }
                    None => return,
                }
            }
            for (pull, index, bytes) in writes {
                if self.fail_write_at == Some(index) {
                    self.pulls.written(pull, index, Err("quota exceeded".into()));
                } else {
                    self.stored.insert(index, bytes);
                    self.pulls.written(pull, index, Ok(()));
                }
            }
            for (to, pull, index) in wants.into_iter().rev().filter(|_| *now >= self.lost_until) {
                let Some((_, copy)) = self.holders.iter().find(|(h, _)| *h == to) else { continue };
                match copy {
                    Some(c) if c.is_empty() => self.pulls.on_missing(*now, to, pull),
                    Some(c) => {
                        let s = (index * CHUNK_BYTES) as usize;
                        let e = (s + CHUNK_BYTES as usize).min(c.len());
                        for frame in crate::transfer::chunk_frames(pull, index, c[s..e].to_vec(), self.max_frame) {
                            self.frames += 1;
                            self.largest_frame = self.largest_frame.max(frame.encode().len());
                            match frame {
                                XferMsg::Chunk { pull, index, bytes } => self.pulls.on_chunk(*now, to, pull, index, bytes),
                                XferMsg::Part { pull, index, offset, bytes } => self.pulls.on_part(*now, to, pull, index, offset, bytes),
                                other => panic!("not a chunk frame: {other:?}"),
                            };
                        }
                    }
                    None => {}
                }
            }
        }
        panic!("did not settle");
    }

    fn done(&self) -> Vec<&Result<Id, PullError>> {
        self.events.iter().filter_map(|e| if let PullOutput::Done { result, .. } = e { Some(result) } else { None }).collect()
    }

    fn assembled(&self) -> Vec<u8> {
        self.stored.values().flatten().copied().collect()
    }
}

#[test]
fn pulls_a_large_blob_within_the_window_and_out_of_order() {
    let data = content(3 * 1024 * 1024 + 17, 1);
    let h = Id::from_u64(5);
    let mut w = World::new(vec![(h, Some(data.clone()))]);
    let mut now = Millis(0);
    w.pulls.start(now, blob_of(&data), Sink::Store, vec![h]);
    w.run(&mut now);
    assert_eq!(w.done(), vec![&Ok(h)]);
    assert_eq!(w.assembled(), data);
    assert!(w.max_window <= WINDOW_CHUNKS, "window {} exceeded", w.max_window);
    let last =
        w.events.iter().rev().find_map(|e| if let PullOutput::Progress { done, total, .. } = e { Some((*done, *total)) } else { None });
    assert_eq!(last, Some((data.len() as u64, data.len() as u64)));
}

#[test]
fn a_corrupt_copy_is_reported_and_the_next_holder_serves() {
    let data = content(200_000, 2);
    let mut bad = data.clone();
    bad[150_000] ^= 1;
    let (b, g) = (Id::from_u64(1), Id::from_u64(2));
    let mut w = World::new(vec![(b, Some(bad)), (g, Some(data.clone()))]);
    let mut now = Millis(0);
    w.pulls.start(now, blob_of(&data), Sink::Caller(ReqId::new(7)), vec![b, g]);
    w.run(&mut now);
    assert!(w.events.iter().any(|e| matches!(e, PullOutput::BadHolder { peer, .. } if *peer == b)));
    assert!(w.events.iter().any(|e| matches!(e, PullOutput::Discard { .. })));
    assert_eq!(w.done(), vec![&Ok(g)]);
    assert_eq!(w.assembled(), data);
}

#[test]
fn silent_and_empty_holders_are_skipped_then_reported() {
    let data = content(100_000, 3);
    let (silent, empty) = (Id::from_u64(1), Id::from_u64(2));
    let mut w = World::new(vec![(silent, None), (empty, Some(vec![]))]);
    let mut now = Millis(0);
    w.pulls.start(now, blob_of(&data), Sink::Store, vec![silent, empty, silent]);
    w.run(&mut now);
    let cfg = PullConfig::default();
    assert_eq!(now, Millis(cfg.stall_ms * cfg.stall_tries as u64), "the silent holder is asked again, then given up");

    assert_eq!(w.done(), vec![&Err(PullError::NoHolder { bad: vec![], without: vec![silent], lacking: vec![empty] })]);
    let msg = w.done()[0].clone().unwrap_err().to_string();
    assert!(msg.starts_with("no tab holding it could be reached"), "{msg}");
    assert!(msg.contains(&format!("{} answered that they lack its bytes", empty.short())), "{msg}");
}

#[test]
fn a_holder_found_unreachable_is_left_at_once_for_the_next() {
    let data = content(100_000, 5);
    let (far, near) = (Id::from_u64(1), Id::from_u64(2));
    let mut w = World::new(vec![(far, None), (near, Some(data.clone()))]);
    let now = Millis(0);
    w.pulls.start(now, blob_of(&data), Sink::Caller(ReqId::new(3)), vec![far, near]);
    // Another holder being unreachable changes nothing.
    w.pulls.unreachable(now, Id::from_u64(9));
    assert!(w.pulls.poll_output().is_some_and(|o| matches!(o, PullOutput::Send { to, .. } if to == far)));
    while w.pulls.poll_output().is_some() {}
    w.pulls.unreachable(now, far);
    let mut at = now;
    // The last holder is kept: its link may come back.
    let mut alone = World::new(vec![(far, Some(data.clone()))]);
    alone.pulls.start(now, blob_of(&data), Sink::Caller(ReqId::new(4)), vec![far]);
    alone.pulls.unreachable(now, far);
    let mut t = now;
    alone.run(&mut t);
    assert_eq!(alone.done(), vec![&Ok(far)]);
    w.run(&mut at);
    assert_eq!(at, now, "no stall period was waited");
    assert_eq!(w.done(), vec![&Ok(near)]);
    assert_eq!(w.assembled(), data);
}

#[test]
fn wrong_length_chunks_and_strangers_are_not_taken() {
    let data = content(CHUNK_BYTES as usize + 5_000, 4);
    let (h, stranger) = (Id::from_u64(1), Id::from_u64(9));
    let mut p = Pulls::new(PullConfig::default());
    p.start(Millis(0), blob_of(&data), Sink::Store, vec![h]);
    let pull = match p.poll_output() {
        Some(PullOutput::Send { msg: XferMsg::Want { pull, .. }, .. }) => pull,
        other => panic!("{other:?}"),
    };
    assert!(!p.on_chunk(Millis(1), stranger, pull, 0, data[..CHUNK_BYTES as usize].to_vec()));
    assert!(!p.on_chunk(Millis(1), h, pull, 5, vec![0; 10]), "not asked for");
    assert!(!p.on_chunk(Millis(1), h, PullId(pull.0 + 100), 0, vec![0; 10]), "unknown pull");
    assert!(!p.on_chunk(Millis(1), h, pull, 0, vec![0; 10]), "wrong length");
    let outs: Vec<_> = std::iter::from_fn(|| p.poll_output()).collect();
    assert!(outs.iter().any(|o| matches!(o, PullOutput::BadHolder { peer, .. } if *peer == h)));
    assert!(matches!(outs.last(), Some(PullOutput::Done { result: Err(PullError::NoHolder { .. }), .. })));
}

#[test]
fn a_storage_error_ends_the_pull_with_its_reason() {
    let data = content(500_000, 5);
    let h = Id::from_u64(1);
    let mut w = World::new(vec![(h, Some(data.clone()))]);
    w.fail_write_at = Some(3);
    let mut now = Millis(0);
    w.pulls.start(now, blob_of(&data), Sink::Store, vec![h]);
    w.run(&mut now);
    assert_eq!(w.done(), vec![&Err(PullError::Storage("quota exceeded".into()))]);
    assert!(w.pulls.pulls.is_empty());
}

#[test]
fn cancel_discards_and_late_chunks_are_ignored() {
    let data = content(3 * CHUNK_BYTES as usize, 6);
    let h = Id::from_u64(1);
    let mut p = Pulls::new(PullConfig::default());
    p.start(Millis(0), blob_of(&data), Sink::Caller(ReqId::new(3)), vec![h]);
    let pull = match p.poll_output() {
        Some(PullOutput::Send { msg: XferMsg::Want { pull, .. }, .. }) => pull,
        other => panic!("{other:?}"),
    };
    assert!(!p.cancel(Sink::Store, None));
    assert!(p.cancel(Sink::Caller(ReqId::new(3)), None));
    assert!(!p.on_chunk(Millis(1), h, pull, 0, data[..CHUNK_BYTES as usize].to_vec()));
    assert!(p.poll_timeout().is_none());
}

#[test]
fn wants_lost_while_a_link_reopens_are_asked_again() {
    let data = content(5 * CHUNK_BYTES as usize, 9);
    let h = Id::from_u64(1);
    let mut w = World::new(vec![(h, Some(data.clone()))]);
    w.lost_until = Millis(1);
    let mut now = Millis(0);
    w.pulls.start(now, blob_of(&data), Sink::Store, vec![h]);
    w.run(&mut now);
    assert_eq!(w.done(), vec![&Ok(h)], "the holder answers the second time it is asked");
    assert_eq!(w.assembled(), data);
    assert_eq!(now, Millis(PullConfig::default().stall_ms));
}

#[test]
fn a_link_with_a_64_kib_limit_carries_every_chunk_in_parts() {
    let data = content(3 * CHUNK_BYTES as usize + 1_000, 10);
    let h = Id::from_u64(1);
    let mut w = World::new(vec![(h, Some(data.clone()))]);
    w.max_frame = 65_536;
    let mut now = Millis(0);
    w.pulls.start(now, blob_of(&data), Sink::Store, vec![h]);
    w.run(&mut now);
    assert_eq!(w.done(), vec![&Ok(h)]);
    assert_eq!(w.assembled(), data);
    assert!(w.largest_frame <= 65_536, "a frame of {} bytes", w.largest_frame);
    assert!(w.frames > crate::transfer::chunk_count(data.len() as u64) as usize, "chunks went in parts");
    // Chunks are stored whole, whatever the link.
    assert!(w.stored.values().rev().skip(1).all(|c| c.len() == CHUNK_BYTES as usize));
    assert_eq!(now, Millis(0), "no stall");
}

#[test]
fn parts_out_of_place_are_ignored_a_repeat_starts_afresh_and_too_many_bytes_are_corrupt() {
    let data = content(CHUNK_BYTES as usize + 5_000, 11);
    let h = Id::from_u64(1);
    let mut p = Pulls::new(PullConfig::default());
    p.start(Millis(0), blob_of(&data), Sink::Store, vec![h]);
    let pull = match p.poll_output() {
        Some(PullOutput::Send { msg: XferMsg::Want { pull, .. }, .. }) => pull,
        other => panic!("{other:?}"),
    };
    while p.poll_output().is_some() {}
    let chunk0 = &data[..CHUNK_BYTES as usize];
    assert!(!p.on_part(Millis(1), h, pull, 0, 100, chunk0[100..200].to_vec()), "no part 0 yet");
    assert!(p.on_part(Millis(1), h, pull, 0, 0, chunk0[..100].to_vec()));
    assert!(!p.on_part(Millis(1), h, pull, 0, 150, chunk0[150..200].to_vec()), "a gap");
    // The holder answers the want again: its parts start over.
    assert!(p.on_part(Millis(2), h, pull, 0, 0, chunk0[..1000].to_vec()));
    assert!(p.on_part(Millis(2), h, pull, 0, 1000, chunk0[1000..].to_vec()));
    let writes: Vec<_> = std::iter::from_fn(|| p.poll_output()).filter(|o| matches!(o, PullOutput::Write { index: 0, .. })).collect();
    assert!(matches!(&writes[..], [PullOutput::Write { bytes, .. }] if bytes == chunk0));
    // The last chunk is 5,000 bytes: 6,000 are a bad copy.
    assert!(p.on_part(Millis(3), h, pull, 1, 0, vec![0; 4_000]));
    assert!(!p.on_part(Millis(3), h, pull, 1, 4_000, vec![0; 2_000]));
    let outs: Vec<_> = std::iter::from_fn(|| p.poll_output()).collect();
    assert!(outs.iter().any(|o| matches!(o, PullOutput::BadHolder { peer, .. } if *peer == h)));
}
