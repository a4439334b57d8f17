//! Blobs between whole peers over the fake world of `peer_ring.rs`
//! (`peer_world.rs`), each tab with a fake blob store: large values are put,
//! replicated, fetched, verified, restored after a reload and survive crashes.

#![allow(dead_code)] // peer_world.rs has helpers only peer_ring.rs uses

include!("support/peer_world.rs");

use chord::peer::{Phase, PutHolders};
use chord::store::Blob;
use chord::transfer::CHUNK_BYTES;

/// Bytes that differ per `salt`.
fn content(len: usize, salt: u64) -> Vec<u8> {
    let mut rng = SeededRng::new(salt);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

impl World {
    /// Writes `bytes` into `p`'s store as a complete blob and puts it; returns the answer.
    fn put_blob(&mut self, p: usize, name: &str, bytes: &[u8]) -> Event {
        let blob = Blob { key: Id::key_of(name), name: name.into(), size: bytes.len() as u64, digest: Id::hash(bytes) };
        let disk = &mut self.tabs[p].disk;
        for (i, c) in bytes.chunks(CHUNK_BYTES as usize).enumerate() {
            disk.chunks.entry(blob.digest).or_default().insert(i as u32, c.to_vec());
        }
        disk.complete.insert(blob.digest);
        let seed = self.seed;
        let req = self.cmd(p, |peer, now| peer.put_blob(now, blob)).unwrap_or_else(|e| panic!("seed {seed}: put_blob: {e}"));
        self.answer(p, req, 60_000)
    }

    /// Puts `bytes` from `p`, answered once `holders` tabs hold them
    /// (`None`: the ring's R). Returns the answer, the holder count the put
    /// reported, and the tabs of the key's replica set whose stores held the
    /// bytes at the moment it was answered.
    fn put_blob_for(&mut self, p: usize, name: &str, bytes: &[u8], holders: Option<u8>) -> (Event, Option<PutHolders>, Vec<usize>) {
        let blob = Blob { key: Id::key_of(name), name: name.into(), size: bytes.len() as u64, digest: Id::hash(bytes) };
        let disk = &mut self.tabs[p].disk;
        for (i, c) in bytes.chunks(CHUNK_BYTES as usize).enumerate() {
            disk.chunks.entry(blob.digest).or_default().insert(i as u32, c.to_vec());
        }
        disk.complete.insert(blob.digest);
        let seed = self.seed;
        let req = self.cmd(p, |peer, now| peer.put_blob_for(now, blob, holders)).unwrap_or_else(|e| panic!("seed {seed}: put_blob: {e}"));
        let answered = |w: &World| {
            w.tabs[p].events.iter().any(
                |(_, e)| matches!(e, PeerEvent::Node(Event::PutDone { req: r, .. } | Event::RequestFailed { req: r, .. }) if *r == req),
            )
        };
        // Checked at every step: the stores as they were when the answer came.
        let mut at_answer = None;
        let limit = self.now + 120_000;
        while self.now < limit && !answered(self) && self.step() {}
        if answered(self) {
            let set = self.replica_set(name, 3);
            at_answer = Some(self.holders(bytes).into_iter().filter(|h| set.contains(h)).collect());
        }
        let ev = self.answer(p, req, 1);
        let counts = self.tabs[p].peer.take_put_holders(req);
        (ev, counts, at_answer.unwrap_or_default())
    }

    /// Gets `name` on `p`: the bytes (assembled from what the peer wrote for
    /// the caller, or inline), or the error.
    fn get_bytes(&mut self, p: usize, name: &str) -> Result<Option<Vec<u8>>, RequestError> {
        let seed = self.seed;
        let req = self.cmd(p, |peer, now| peer.get(now, Id::key_of(name))).unwrap_or_else(|e| panic!("seed {seed}: get: {e}"));
        match self.answer(p, req, 120_000) {
            Event::GetDone { record: None, .. } => Ok(None),
            Event::GetDone { record: Some(r), .. } if !r.is_blob() => Ok(Some(r.value)),
            Event::GetDone { record: Some(_), .. } => {
                let parts = self.tabs[p].disk.caller.remove(&req).unwrap_or_default();
                Ok(Some(parts.into_values().flatten().collect()))
            }
            Event::RequestFailed { error, .. } => Err(error),
            other => panic!("seed {seed}: get {name:?}: {other:?}"),
        }
    }

    /// Tabs whose store holds the complete, correct bytes.
    fn holders(&self, bytes: &[u8]) -> Vec<usize> {
        let digest = Id::hash(bytes);
        (0..self.tabs.len()).filter(|p| self.tabs[*p].alive && self.tabs[*p].disk.blob(&digest).as_deref() == Some(bytes)).collect()
    }

    /// The member responsible for `name`, and the next R−1.
    fn replica_set(&self, name: &str, r: usize) -> Vec<usize> {
        let ideal = self.ideal();
        let pos = ideal.successor_pos(&Id::key_of(name));
        let mut ids = vec![ideal.successor(&Id::key_of(name))];
        ids.extend(ideal.successors_of(pos, r - 1));
        let mut v: Vec<usize> = ids.iter().map(|id| self.index_of(id).expect("member")).collect();
        v.sort();
        v
    }
}

use chord::RequestError;

#[test]
fn a_blob_is_replicated_and_every_peer_reads_it_back() {
    for seed in seeds(&[5, 6]) {
        let mut w = ring(seed, 8, peer_config());
        let data = content(3 * 1024 * 1024 + 123, seed);
        // A writer that is not the primary: the primary copies from it.
        let primary = w.index_of(&w.ideal().successor(&Id::key_of("big file.bin"))).expect("member");
        let writer = (primary + 1) % 8;
        match w.put_blob(writer, "big file.bin", &data) {
            Event::PutDone { version, .. } => assert_eq!(version.seq, 1),
            other => panic!("seed {seed}: put: {other:?}"),
        }
        // The writer saw the primary copy everything.
        let sent: Vec<u64> = w.tabs[writer]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                PeerEvent::Progress { phase: Phase::Sending, done, .. } => Some(*done),
                _ => None,
            })
            .collect();
        assert!(sent.windows(2).all(|p| p[0] <= p[1]) && sent.last() == Some(&(data.len() as u64)), "seed {seed}: progress {sent:?}");
        // The three replicas fetch the bytes; after the grace period nobody else keeps them.
        w.run_for(70_000);
        assert_eq!(w.holders(&data), w.replica_set("big file.bin", 3), "seed {seed}: holders\n{}", w.dump());
        for p in 0..8 {
            assert_eq!(w.get_bytes(p, "big file.bin"), Ok(Some(data.clone())), "seed {seed}: get on {p}");
        }
        let got: Vec<u64> = w.tabs[0]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                PeerEvent::Progress { phase: Phase::Receiving, done, .. } => Some(*done),
                _ => None,
            })
            .collect();
        assert!(got.is_empty() || got.last() == Some(&(data.len() as u64)), "seed {seed}");
        w.assert_clean();
    }
}

/// Links whose other end accepts 64 KiB (half a chunk frame): every chunk
/// goes in parts that fit, the file is put, replicated and read back whole,
/// and `state().links` shows the limit. The world fails the test on any
/// message above the limit (`assert_clean`), as a browser would throw.
#[test]
fn a_file_crosses_links_that_accept_only_64_kib_messages() {
    for seed in seeds(&[12]) {
        let mut w = World::new(seed, peer_config());
        w.max_message_size = MaxMessageSize::bytes(65_536);
        w.join(5, JOIN_GAP_MS);
        w.converge(CONVERGE_MS, "after the joins");
        let data = content(5 * CHUNK_BYTES as usize + 4_321, seed);
        assert!(matches!(w.put_blob(1, "movie.webm", &data), Event::PutDone { .. }), "seed {seed}");
        w.run_for(30_000);
        assert_eq!(w.holders(&data), w.replica_set("movie.webm", 3), "seed {seed}: holders");
        let reader = (0..5).find(|p| !w.replica_set("movie.webm", 3).contains(p) && *p != 1).unwrap_or(0);
        assert_eq!(w.get_bytes(reader, "movie.webm"), Ok(Some(data.clone())), "seed {seed}");
        assert!(w.largest_sent <= 65_536 && w.largest_sent > 32 * 1024, "seed {seed}: largest message {}", w.largest_sent);
        for t in &w.tabs {
            let st = t.peer.state();
            assert_eq!(st.frames_too_large, 0, "seed {seed}: nothing had to be refused");
            let open: Vec<_> = st.links.iter().filter(|l| l.state == LinkState::Open).collect();
            assert!(!open.is_empty() && open.iter().all(|l| l.max_message_size == Some(MaxMessageSize::bytes(65_536))), "seed {seed}");
        }
        w.assert_clean();
    }
}

#[test]
fn a_corrupt_copy_is_reported_and_another_replica_serves() {
    for seed in seeds(&[7]) {
        let mut w = ring(seed, 6, peer_config());
        let data = content(500_000, seed);
        w.put_blob(0, "photo.jpg", &data);
        w.run_for(10_000);
        let primary = w.index_of(&w.ideal().successor(&Id::key_of("photo.jpg"))).expect("member");
        let digest = Id::hash(&data);
        // Bit rot at the primary.
        w.tabs[primary].disk.chunks.get_mut(&digest).expect("held").get_mut(&3).expect("chunk")[10] ^= 0x40;
        // Not the writer either: it may still have its own copy.
        let reader = (1..6).find(|p| !w.replica_set("photo.jpg", 3).contains(p)).expect("a non-holder");
        assert_eq!(w.get_bytes(reader, "photo.jpg"), Ok(Some(data.clone())), "seed {seed}");
        let reported = w.tabs[reader]
            .events
            .iter()
            .any(|(_, e)| matches!(e, PeerEvent::BadHolder { peer, name, .. } if *peer == w.id(primary) && name == "photo.jpg"));
        assert!(reported, "seed {seed}: the corrupt holder was not reported");
        // Every copy corrupt: a readable error naming them.
        for p in w.replica_set("photo.jpg", 3) {
            if let Some(c) = w.tabs[p].disk.chunks.get_mut(&digest) {
                c.get_mut(&0).expect("chunk")[0] ^= 1;
            }
        }
        let err = w.get_bytes(reader, "photo.jpg").expect_err("all copies corrupt");
        assert!(err.to_string().starts_with("every copy found was corrupt"), "seed {seed}: {err}");
        w.assert_clean();
    }
}

#[test]
fn blobs_survive_two_crashes_and_are_copied_to_new_replicas() {
    for seed in seeds(&[9]) {
        let mut w = ring(seed, 8, peer_config());
        let files: Vec<(String, Vec<u8>)> = (0..4).map(|i| (format!("file {i}"), content(200_000 + i * 70_000, seed + i as u64))).collect();
        for (i, (name, data)) in files.iter().enumerate() {
            w.put_blob(i, name, data);
        }
        w.run_for(10_000);
        let victims = w.replica_set(&files[0].0, 3);
        for &v in &victims[..2] {
            w.crash(v);
        }
        w.converge(CONVERGE_MS, "after two crashes");
        w.run_for(30_000);
        for (name, data) in &files {
            let want = w.replica_set(name, 3);
            let have = w.holders(data);
            assert!(want.iter().all(|p| have.contains(p)), "seed {seed}: {name}: replicas {want:?} hold {have:?}");
            for p in w.expected() {
                assert_eq!(
                    w.get_bytes(p, name).as_ref().map(|b| b.as_ref().map(|b| b.len())),
                    Ok(Some(data.len())),
                    "seed {seed}: {name} on {p}"
                );
            }
        }
        w.assert_clean();
    }
}

#[test]
fn concurrent_puts_converge_and_a_later_put_wins() {
    for seed in seeds(&[11]) {
        let mut w = ring(seed, 6, peer_config());
        let (a, b, c) = (content(100_000, 1), content(120_000, 2), content(90_000, 3));
        // Two writers at once: start both before running the world.
        let mut reqs = Vec::new();
        for (p, data) in [(1usize, &a), (4usize, &b)] {
            let blob = Blob { key: Id::key_of("same"), name: "same".into(), size: data.len() as u64, digest: Id::hash(data) };
            let disk = &mut w.tabs[p].disk;
            for (i, ch) in data.chunks(CHUNK_BYTES as usize).enumerate() {
                disk.chunks.entry(blob.digest).or_default().insert(i as u32, ch.to_vec());
            }
            disk.complete.insert(blob.digest);
            reqs.push((p, w.cmd(p, |peer, now| peer.put_blob(now, blob)).expect("put")));
        }
        let mut last_seq = 0;
        for (p, req) in reqs {
            match w.answer(p, req, 60_000) {
                Event::PutDone { version, .. } => last_seq = last_seq.max(version.seq),
                other => panic!("seed {seed}: {other:?}"),
            }
        }
        w.run_for(10_000);
        let first = w.get_bytes(0, "same").expect("get").expect("stored");
        assert!(first == a || first == b);
        for p in w.expected() {
            assert_eq!(w.get_bytes(p, "same").as_ref(), Ok(&Some(first.clone())), "seed {seed}: peer {p} sees another winner");
        }
        let winners: BTreeSet<Id> = w.replica_set("same", 3).iter().map(|p| w.tabs[*p].disk.records[&Id::key_of("same")].digest).collect();
        assert_eq!(winners.len(), 1, "seed {seed}: replicas disagree");
        // A re-put is an update.
        match w.put_blob(2, "same", &c) {
            Event::PutDone { version, .. } => assert_eq!(version.seq, last_seq + 1, "seed {seed}"),
            other => panic!("seed {seed}: {other:?}"),
        }
        w.run_for(5_000);
        for p in w.expected() {
            assert_eq!(w.get_bytes(p, "same"), Ok(Some(c.clone())), "seed {seed}: peer {p}");
        }
        w.assert_clean();
    }
}

#[test]
fn a_reloaded_tab_takes_its_records_back_and_nothing_is_lost() {
    for seed in seeds(&[13]) {
        // One copy per key: only the reloaded tab can bring its records back.
        let mut cfg = peer_config();
        cfg.node = Config { replicas: 1, ..Config::default() };
        let mut w = ring(seed, 6, cfg);
        let files: Vec<(String, Vec<u8>)> =
            (0..6).map(|i| (format!("doc {i}"), content(70_000 + i * 1000, seed * 10 + i as u64))).collect();
        for (i, (name, data)) in files.iter().enumerate() {
            w.put_blob(i % 6, name, data);
        }
        w.put(0, "note", b"small and inline");
        w.run_for(70_000);
        let tab = w.index_of(&w.ideal().successor(&Id::key_of("doc 0"))).expect("member");
        let held_before = w.tabs[tab].disk.records.len();
        assert!(held_before > 0);
        // Reload: the tab's process dies; a new peer with its id opens its store again.
        w.crash(tab);
        let disk = std::mem::take(&mut w.tabs[tab].disk);
        let id = w.id(tab);
        let peer = Peer::new(id, w.cfg.clone(), 4242);
        let records: Vec<Record> = disk.records.values().cloned().collect();
        let blobs: Vec<(Id, u64)> = disk.complete.iter().map(|d| (*d, disk.chunks[d].values().map(|c| c.len() as u64).sum())).collect();
        w.tabs.push(Tab { id, peer, alive: true, expected: false, events: Vec::new(), disk });
        let again = w.tabs.len() - 1;
        w.cmd(again, |peer, now| peer.handle_input(now, Input::Restored { records, blobs }));
        w.converge(CONVERGE_MS, "after the crash"); // the others notice the old one is gone
        w.connect(again);
        w.tabs[tab].expected = false;
        w.converge(CONVERGE_MS, "after the reload");
        w.run_for(10_000);
        assert_eq!(w.tabs[again].disk.records.len(), held_before, "seed {seed}: the reloaded tab holds its records again");
        for (name, data) in &files {
            for p in w.expected() {
                assert_eq!(w.get_bytes(p, name), Ok(Some(data.clone())), "seed {seed}: {name} on {p}");
            }
        }
        assert_eq!(w.get_bytes(again, "note"), Ok(Some(b"small and inline".to_vec())));
        w.assert_clean();
    }
}

#[test]
fn a_full_store_refuses_the_put_with_a_reason_and_a_cancelled_get_stops() {
    for seed in seeds(&[15]) {
        let mut w = ring(seed, 5, peer_config());
        let data = content(3_000_000, seed);
        let primary = w.index_of(&w.ideal().successor(&Id::key_of("too big"))).expect("member");
        let writer = (primary + 1) % 5;
        w.tabs[primary].disk.full = true;
        match w.put_blob(writer, "too big", &data) {
            Event::RequestFailed { error, .. } => {
                assert_eq!(error.to_string(), "the bytes could not be copied to the tab responsible for it", "seed {seed}")
            }
            other => panic!("seed {seed}: {other:?}"),
        }
        w.tabs[primary].disk.full = false;
        assert!(matches!(w.put_blob(writer, "too big", &data), Event::PutDone { .. }));
        w.run_for(5_000);
        // Cancel a get after its first chunk arrived: no answer comes, its bytes are dropped.
        let reader = (0..5).find(|p| !w.replica_set("too big", 3).contains(p) && *p != writer).expect("a non-holder");
        let req = w.cmd(reader, |peer, now| peer.get(now, Id::key_of("too big"))).expect("get");
        w.run_until(30_000, |w| w.tabs[reader].disk.caller.contains_key(&req));
        assert!(w.cmd(reader, |peer, now| peer.cancel(now, req)));
        w.run_for(20_000);
        let answered = w.tabs[reader]
            .events
            .iter()
            .any(|(_, e)| matches!(e, PeerEvent::Node(Event::GetDone { req: r, .. } | Event::RequestFailed { req: r, .. }) if *r == req));
        assert!(!answered, "seed {seed}: a cancelled get was answered");
        assert!(!w.tabs[reader].disk.caller.contains_key(&req), "seed {seed}: a cancelled get's bytes were kept");
        assert_eq!(w.get_bytes(reader, "too big"), Ok(Some(data)));
        w.assert_clean();
    }
}

#[test]
fn a_put_is_answered_once_three_holders_have_the_bytes() {
    for seed in seeds(&[21, 22]) {
        let mut w = ring(seed, 8, peer_config());
        let data = content(3 * 1024 * 1024 + 5, seed);
        // A writer outside the replica set: only the copies count.
        let writer = (0..8).find(|p| !w.replica_set("durable.bin", 3).contains(p)).expect("a non-holder");
        let (ev, counts, held) = w.put_blob_for(writer, "durable.bin", &data, None);
        assert!(matches!(ev, Event::PutDone { .. }), "seed {seed}: {ev:?}");
        assert_eq!(counts, Some(PutHolders { holders: 3, target: 3 }), "seed {seed}");
        assert!(counts.is_some_and(|c| c.durable()));
        assert_eq!(
            held,
            w.replica_set("durable.bin", 3),
            "seed {seed}: the replica set held the bytes when the put was answered\n{}",
            w.dump()
        );
        w.assert_clean();
    }
    // A ring of two keeps two copies: the put waits for both, and is durable.
    for seed in seeds(&[23]) {
        let mut w = ring(seed, 2, peer_config());
        let data = content(400_000, seed);
        let (ev, counts, _) = w.put_blob_for(0, "pair.bin", &data, None);
        assert!(matches!(ev, Event::PutDone { .. }), "seed {seed}: {ev:?}");
        assert_eq!(counts, Some(PutHolders { holders: 2, target: 2 }), "seed {seed}");
        assert_eq!(w.holders(&data), vec![0, 1], "seed {seed}");
    }
}

#[test]
fn with_durability_one_a_put_is_answered_at_the_commit_and_says_so() {
    for seed in seeds(&[25]) {
        let mut w = ring(seed, 8, peer_config());
        let data = content(3 * 1024 * 1024 + 5, seed);
        let primary = w.index_of(&w.ideal().successor(&Id::key_of("quick.bin"))).expect("member");
        // A writer outside the replica set: only the copies count.
        let writer = (0..8).find(|p| !w.replica_set("quick.bin", 3).contains(p)).expect("a non-holder");
        let (ev, counts, held) = w.put_blob_for(writer, "quick.bin", &data, Some(1));
        assert!(matches!(ev, Event::PutDone { node, .. } if node == w.id(primary)), "seed {seed}: {ev:?}");
        let counts = counts.expect("a blob put reports its holders");
        assert_eq!(counts.target, 3, "seed {seed}");
        assert!(!counts.durable(), "seed {seed}: {counts:?}");
        assert!(held.len() < 3 && held.contains(&primary), "seed {seed}: holders at the answer {held:?}");
        assert_eq!(counts.holders as usize, held.len(), "seed {seed}: the count is the holders there were");
        // The replicas still copy the bytes.
        w.run_for(20_000);
        assert_eq!(w.holders(&data).into_iter().filter(|p| *p != writer).collect::<Vec<_>>(), w.replica_set("quick.bin", 3));
        w.assert_clean();
    }
}

#[test]
fn a_replica_with_only_the_manifest_is_not_a_holder_and_the_put_still_ends() {
    for seed in seeds(&[27]) {
        let mut w = ring(seed, 6, peer_config());
        let data = content(1_000_000, seed);
        let set = w.replica_set("half.bin", 3);
        let primary = w.index_of(&w.ideal().successor(&Id::key_of("half.bin"))).expect("member");
        let stuck = *set.iter().find(|p| **p != primary).expect("a replica");
        let writer = (0..6).find(|p| !set.contains(p)).expect("a non-holder");
        // This replica takes the manifest but cannot store the bytes.
        w.tabs[stuck].disk.full = true;
        let start = w.now;
        let (ev, counts, held) = w.put_blob_for(writer, "half.bin", &data, None);
        assert!(matches!(ev, Event::PutDone { .. }), "seed {seed}: {ev:?}");
        assert_eq!(counts, Some(PutHolders { holders: 2, target: 3 }), "seed {seed}: the full replica is not counted");
        assert!(!held.contains(&stuck), "seed {seed}");
        // Answered within the bounded wait for copies, not at the writer's give-up.
        assert!(w.now.since(start) < 60_000, "seed {seed}: answered after {} ms", w.now.since(start));
        let st = w.tabs[stuck].peer.state();
        let rec = st.records.iter().find(|r| r.key == Id::key_of("half.bin").to_hex()).expect("the replica holds the manifest");
        assert!(!rec.complete, "seed {seed}: a replica without the bytes lists itself as complete");
        assert!(!w.tabs[stuck].peer.holds_blob(&Id::hash(&data)));
        // A reader that asks it first is sent on to a holder; the error names it as lacking when none has them.
        let reader = (0..6).find(|p| !set.contains(p) && *p != writer).expect("a reader");
        assert_eq!(w.get_bytes(reader, "half.bin"), Ok(Some(data.clone())), "seed {seed}");
        w.assert_clean();
    }
}

#[test]
fn killing_the_primary_right_after_the_put_was_answered_loses_nothing() {
    for seed in seeds(&[29, 30]) {
        let mut w = ring(seed, 8, peer_config());
        let data = content(8 * 1024 * 1024 + 77, seed);
        let primary = w.index_of(&w.ideal().successor(&Id::key_of("kept.bin"))).expect("member");
        let writer = (0..8).find(|p| !w.replica_set("kept.bin", 3).contains(p)).expect("a non-holder");
        let (ev, counts, _) = w.put_blob_for(writer, "kept.bin", &data, None);
        assert!(matches!(ev, Event::PutDone { node, .. } if node == w.id(primary)), "seed {seed}: {ev:?}");
        assert!(counts.is_some_and(|c| c.durable()), "seed {seed}: {counts:?}");
        w.crash(primary);
        // The writer drops its own copy too, so only the replicas have the bytes.
        w.tabs[writer].disk.chunks.remove(&Id::hash(&data));
        w.tabs[writer].disk.complete.remove(&Id::hash(&data));
        let reader = (0..8).find(|p| *p != primary && *p != writer && !w.replica_set("kept.bin", 3).contains(p)).expect("a reader");
        assert_eq!(w.get_bytes(reader, "kept.bin"), Ok(Some(data.clone())), "seed {seed}: right after the crash");
        w.converge(CONVERGE_MS, "after the primary crashed");
        for p in w.expected() {
            assert_eq!(w.get_bytes(p, "kept.bin").map(|b| b.map(|b| b.len())), Ok(Some(data.len())), "seed {seed}: on {p}");
        }
        w.assert_clean();
    }
}

#[test]
fn a_get_whose_holders_are_still_copying_the_bytes_waits_for_them() {
    for seed in seeds(&[31]) {
        let mut w = ring(seed, 8, peer_config());
        let data = content(1_500_000, seed);
        let (digest, name) = (Id::hash(&data), "late.bin");
        let ideal = w.ideal();
        let pos = ideal.successor_pos(&Id::key_of(name));
        // Ring order from the key: primary, two replicas, then `spare`, the only other holder.
        let order: Vec<usize> = ideal.successors_of(pos, 4).iter().map(|id| w.index_of(id).expect("member")).collect();
        let (primary, replicas, spare) = (w.index_of(&ideal.successor(&Id::key_of(name))).expect("member"), [order[0], order[1]], order[2]);
        let writer = (0..8).find(|p| *p != primary && !order.contains(p)).expect("a writer");
        let reader = (0..8).find(|p| *p != primary && *p != writer && !order.contains(p)).expect("a reader");
        // The replicas cannot store the bytes at first: they hold only the manifest.
        for r in replicas {
            w.tabs[r].disk.full = true;
        }
        let (ev, _, _) = w.put_blob_for(writer, name, &data, Some(1));
        assert!(matches!(ev, Event::PutDone { .. }), "seed {seed}: {ev:?}");
        // Only `spare` holds the bytes now (the primary and the writer lost theirs).
        for p in [primary, writer] {
            w.tabs[p].disk.chunks.remove(&digest);
            w.tabs[p].disk.complete.remove(&digest);
        }
        for (i, c) in data.chunks(CHUNK_BYTES as usize).enumerate() {
            w.tabs[spare].disk.chunks.entry(digest).or_default().insert(i as u32, c.to_vec());
        }
        w.tabs[spare].disk.complete.insert(digest);
        w.cmd(spare, |peer, now| peer.handle_input(now, Input::Restored { records: Vec::new(), blobs: vec![(digest, data.len() as u64)] }));
        // Every holder the reader is told of lacks the bytes; the replicas copy them from `spare`
        // at their next attempt, seconds later, and the get waits for that rather than failing.
        let start = w.now;
        let req = w.cmd(reader, |peer, now| peer.get(now, Id::key_of(name))).expect("get");
        w.run_for(1_000);
        for r in replicas {
            w.tabs[r].disk.full = false;
        }
        match w.answer(reader, req, 60_000) {
            Event::GetDone { record: Some(_), .. } => {
                let parts = w.tabs[reader].disk.caller.remove(&req).unwrap_or_default();
                assert!(parts.into_values().flatten().eq(data.iter().copied()), "seed {seed}: the bytes differ");
            }
            other => panic!("seed {seed}: {other:?}\n{}", w.dump()),
        }
        assert!(w.now.since(start) >= 3_000, "seed {seed}: the holders were not asked again ({} ms)", w.now.since(start));
        w.assert_clean();
    }
}
