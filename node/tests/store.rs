//! The node's durable store: round trips of every table, reopening, a
//! `kill -9` in the middle of writes, the `--max-bytes` quota, and a really
//! full disk (a tiny tmpfs in a private mount namespace).
//!
//! The crash and full-disk tests run this test binary again as a child
//! (`child_entry_point`, steered by environment variables): the crash child
//! must die by SIGKILL, and the full-disk child must live in its own mount
//! namespace so its tmpfs vanishes with it.

use chord::id::Id;
use chord::store::{Blob, Record, Version};
use chord::transfer::CHUNK_BYTES;
use chord_node::store::{Store, StoreError, DISK_FULL, FILE_NAME, PIECE_BYTES, QUOTA_FULL};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// Environment variable: run as the crash writer in this directory.
const CRASH_DIR: &str = "CHORD_STORE_TEST_CRASH_DIR";
/// Environment variable: the crash writer's first round number.
const CRASH_FROM: &str = "CHORD_STORE_TEST_CRASH_FROM";
/// Environment variable: run the full-disk check on a tmpfs mounted here.
const FULL_DIR: &str = "CHORD_STORE_TEST_FULL_DIR";
/// What the full-disk child prints when every check passed (so a child that
/// ran no test at all cannot pass).
const FULL_OK: &str = "full-disk checks passed";
/// Size of the full-disk test's tmpfs.
const TMPFS_SIZE: &str = "1m";

fn id(n: u64) -> Id {
    Id::hash(&n.to_be_bytes())
}

/// Bytes that differ per `(seed, len)`, so a chunk read from the wrong row is noticed.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn version(seq: u64) -> Version {
    Version { seq, writer: id(999) }
}

fn inline_record(n: u64) -> Record {
    Record::named(format!("name-{n}"), bytes(n, 100), version(n))
}

fn blob_record(n: u64) -> Record {
    let blob = Blob { key: Id::key_of(&format!("blob-{n}")), name: format!("blob-{n}"), size: 300_000, digest: id(n) };
    Record::blob(&blob, version(n))
}

/// Sorted for comparison.
fn sorted(mut records: Vec<Record>) -> Vec<Record> {
    records.sort_by_key(|r| r.key);
    records
}

/// What the file says, read without the store: the byte counter in `meta`
/// and the bytes really held in the three chunk tables.
fn counter_and_truth(dir: &Path) -> (u64, u64) {
    let db = Database::create(dir.join(FILE_NAME)).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(TableDefinition::<&str, &[u8]>::new("meta")).unwrap();
    let counter = meta.get("bytes_used").unwrap().map_or(0, |v| u64::from_le_bytes(v.value().try_into().unwrap()));
    let mut truth = 0;
    for row in txn.open_table(TableDefinition::<([u8; 20], u32, u16), &[u8]>::new("chunks")).unwrap().range(..).unwrap() {
        truth += row.unwrap().1.value().len() as u64;
    }
    for name in ["get_chunks", "upload_chunks"] {
        for row in txn.open_table(TableDefinition::<(u64, u32, u16), &[u8]>::new(name)).unwrap().range(..).unwrap() {
            truth += row.unwrap().1.value().len() as u64;
        }
    }
    (counter, truth)
}

#[test]
fn held_chunks_round_trip_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    let (a, b) = (id(1), id(2));
    assert_eq!(store.get_chunk(&a, 0).unwrap(), None);
    store.put_chunk(&a, 0, &bytes(10, CHUNK_BYTES as usize)).unwrap();
    store.put_chunk(&a, 1, &bytes(11, 1000)).unwrap();
    store.put_chunk(&b, 0, &bytes(20, 500)).unwrap();
    assert_eq!(store.get_chunk(&a, 0).unwrap(), Some(bytes(10, CHUNK_BYTES as usize)));
    assert_eq!(store.get_chunk(&a, 1).unwrap(), Some(bytes(11, 1000)));
    assert_eq!(store.get_chunk(&a, 2).unwrap(), None);
    assert_eq!(store.bytes_used(), CHUNK_BYTES as u64 + 1500);
    // Replacing a chunk counts only the new bytes.
    store.put_chunk(&a, 1, &bytes(12, 700)).unwrap();
    assert_eq!(store.get_chunk(&a, 1).unwrap(), Some(bytes(12, 700)));
    assert_eq!(store.bytes_used(), CHUNK_BYTES as u64 + 1200);

    assert_eq!(store.complete_blobs().unwrap(), vec![]);
    store.mark_complete(&a, CHUNK_BYTES as u64 + 700).unwrap();
    store.mark_complete(&b, 500).unwrap();
    let mut want = vec![(a, CHUNK_BYTES as u64 + 700), (b, 500)];
    want.sort();
    assert_eq!(store.complete_blobs().unwrap(), want);

    store.delete_blob(&a).unwrap();
    assert_eq!(store.get_chunk(&a, 0).unwrap(), None);
    assert_eq!(store.get_chunk(&a, 1).unwrap(), None);
    assert_eq!(store.get_chunk(&b, 0).unwrap(), Some(bytes(20, 500)));
    assert_eq!(store.complete_blobs().unwrap(), vec![(b, 500)]);
    assert_eq!(store.bytes_used(), 500);
    // Deleting what is not there is fine.
    store.delete_blob(&a).unwrap();
    // A chunk of several pieces replaced by a shorter one, and an empty chunk.
    let c = id(3);
    store.put_chunk(&c, 0, &bytes(30, 3 * PIECE_BYTES + 1)).unwrap();
    assert_eq!(store.get_chunk(&c, 0).unwrap(), Some(bytes(30, 3 * PIECE_BYTES + 1)));
    store.put_chunk(&c, 0, &bytes(31, 10)).unwrap();
    assert_eq!(store.get_chunk(&c, 0).unwrap(), Some(bytes(31, 10)));
    store.put_chunk(&c, 1, &[]).unwrap();
    assert_eq!(store.get_chunk(&c, 1).unwrap(), Some(vec![]));
    assert_eq!(store.bytes_used(), 510);
    store.delete_blob(&c).unwrap();
    assert_eq!(store.get_chunk(&c, 1).unwrap(), None);

    drop(store);
    let store = Store::open(dir.path(), None).unwrap();
    assert_eq!(store.get_chunk(&b, 0).unwrap(), Some(bytes(20, 500)));
    assert_eq!(store.complete_blobs().unwrap(), vec![(b, 500)]);
    assert_eq!(store.bytes_used(), 500);
    drop(store);
    assert_eq!(counter_and_truth(dir.path()), (500, 500));
}

#[test]
fn records_round_trip_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    assert_eq!(store.records().unwrap(), vec![]);
    let all = vec![inline_record(1), inline_record(2), blob_record(3)];
    for r in &all {
        store.put_record(r).unwrap();
    }
    assert_eq!(sorted(store.records().unwrap()), sorted(all.clone()));
    // A newer version replaces the old one under the same key.
    let newer = Record::named("name-1".into(), b"newer".to_vec(), version(50));
    store.put_record(&newer).unwrap();
    store.delete_record(&all[1].key).unwrap();
    let want = sorted(vec![newer.clone(), all[2].clone()]);
    assert_eq!(sorted(store.records().unwrap()), want);
    // Records are not chunk bytes.
    assert_eq!(store.bytes_used(), 0);

    drop(store);
    let store = Store::open(dir.path(), None).unwrap();
    assert_eq!(sorted(store.records().unwrap()), want);
}

#[test]
fn an_undecodable_record_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let good = inline_record(7);
    {
        let store = Store::open(dir.path(), None).unwrap();
        store.put_record(&good).unwrap();
    }
    {
        // Garbage under one key, and a good record filed under the wrong key.
        let db = Database::create(dir.path().join(FILE_NAME)).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(TableDefinition::<[u8; 20], &[u8]>::new("records")).unwrap();
            t.insert(id(100).0, &[0xff, 0xff, 0xff][..]).unwrap();
            t.insert(id(101).0, &postcard::to_allocvec(&inline_record(8)).unwrap()[..]).unwrap();
        }
        txn.commit().unwrap();
    }
    let store = Store::open(dir.path(), None).unwrap();
    assert_eq!(store.records().unwrap(), vec![good]);
}

#[test]
fn node_id_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("not/yet/there").as_path(), None).unwrap();
    assert_eq!(store.node_id().unwrap(), None);
    store.set_node_id(&id(42)).unwrap();
    assert_eq!(store.node_id().unwrap(), Some(id(42)));
    drop(store);
    let store = Store::open(dir.path().join("not/yet/there").as_path(), None).unwrap();
    assert_eq!(store.node_id().unwrap(), Some(id(42)));
}

#[test]
fn a_second_open_of_the_same_directory_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let _store = Store::open(dir.path(), None).unwrap();
    let err = Store::open(dir.path(), None).unwrap_err();
    assert_eq!(err.code(), "storage", "{err}");
}

#[test]
fn get_scratch_round_trips_and_drops() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    store.put_get_chunk(5, 0, &bytes(50, 1000)).unwrap();
    store.put_get_chunk(5, 1, &bytes(51, 10)).unwrap();
    store.put_get_chunk(6, 0, &bytes(60, 100)).unwrap();
    assert_eq!(store.get_get_chunk(5, 0).unwrap(), Some(bytes(50, 1000)));
    assert_eq!(store.get_get_chunk(5, 1).unwrap(), Some(bytes(51, 10)));
    assert_eq!(store.get_get_chunk(5, 2).unwrap(), None);
    assert_eq!(store.bytes_used(), 1110);
    store.drop_get(5).unwrap();
    assert_eq!(store.get_get_chunk(5, 0).unwrap(), None);
    assert_eq!(store.get_get_chunk(5, 1).unwrap(), None);
    assert_eq!(store.get_get_chunk(6, 0).unwrap(), Some(bytes(60, 100)));
    assert_eq!(store.bytes_used(), 100);
}

#[test]
fn finish_upload_moves_chunks_and_marks_complete() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    let (u, v) = (store.new_upload().unwrap(), store.new_upload().unwrap());
    assert_ne!(u, v);
    let content = bytes(70, CHUNK_BYTES as usize + 5000);
    let digest = Id::hash(&content);
    for (i, chunk) in content.chunks(CHUNK_BYTES as usize).enumerate() {
        store.put_upload_chunk(u, i as u32, chunk).unwrap();
    }
    store.put_upload_chunk(v, 0, &bytes(71, 300)).unwrap();
    assert_eq!(store.get_chunk(&digest, 0).unwrap(), None);
    assert_eq!(store.bytes_used(), content.len() as u64 + 300);

    store.finish_upload(u, &digest, content.len() as u64).unwrap();
    let held: Vec<u8> = (0..2).flat_map(|i| store.get_chunk(&digest, i).unwrap().unwrap()).collect();
    assert_eq!(held, content);
    assert_eq!(store.complete_blobs().unwrap(), vec![(digest, content.len() as u64)]);
    // Moving does not change what is used; the other upload is untouched.
    assert_eq!(store.bytes_used(), content.len() as u64 + 300);
    store.drop_upload(v).unwrap();
    assert_eq!(store.bytes_used(), content.len() as u64);

    // The same bytes uploaded again: the upload is dropped, the blob stays.
    let w = store.new_upload().unwrap();
    store.put_upload_chunk(w, 0, &content[..CHUNK_BYTES as usize]).unwrap();
    store.put_upload_chunk(w, 1, &bytes(72, 5000)).unwrap();
    store.finish_upload(w, &digest, content.len() as u64).unwrap();
    let held: Vec<u8> = (0..2).flat_map(|i| store.get_chunk(&digest, i).unwrap().unwrap()).collect();
    assert_eq!(held, content, "an already complete blob is not overwritten");
    assert_eq!(store.bytes_used(), content.len() as u64, "the second upload's bytes are freed");
    drop(store);
    assert_eq!(counter_and_truth(dir.path()), (content.len() as u64, content.len() as u64));
}

#[test]
fn finish_upload_that_does_not_add_up_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    let digest = id(80);
    // Wrong size.
    let u = store.new_upload().unwrap();
    store.put_upload_chunk(u, 0, &bytes(80, 1000)).unwrap();
    let err = store.finish_upload(u, &digest, 999).unwrap_err();
    assert_eq!(err.code(), "storage", "{err}");
    // A gap in the chunk numbers.
    let v = store.new_upload().unwrap();
    store.put_upload_chunk(v, 0, &bytes(81, 10)).unwrap();
    store.put_upload_chunk(v, 2, &bytes(82, 10)).unwrap();
    assert!(store.finish_upload(v, &digest, 20).is_err());
    // Nothing moved, nothing marked, nothing freed; the uploads can still be finished.
    assert_eq!(store.get_chunk(&digest, 0).unwrap(), None);
    assert_eq!(store.complete_blobs().unwrap(), vec![]);
    assert_eq!(store.bytes_used(), 1020);
    store.finish_upload(u, &digest, 1000).unwrap();
    assert_eq!(store.get_chunk(&digest, 0).unwrap(), Some(bytes(80, 1000)));
    assert_eq!(store.complete_blobs().unwrap(), vec![(digest, 1000)]);
}

#[test]
fn open_clears_leftover_get_scratch_and_uploads() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), None).unwrap();
        store.put_chunk(&id(1), 0, &bytes(1, 400)).unwrap();
        store.put_get_chunk(3, 0, &bytes(3, 1000)).unwrap();
        let u = store.new_upload().unwrap();
        store.put_upload_chunk(u, 0, &bytes(4, 2000)).unwrap();
        assert_eq!(store.bytes_used(), 3400);
    }
    let store = Store::open(dir.path(), None).unwrap();
    assert_eq!(store.get_get_chunk(3, 0).unwrap(), None);
    assert_eq!(store.get_chunk(&id(1), 0).unwrap(), Some(bytes(1, 400)));
    assert_eq!(store.bytes_used(), 400);
    drop(store);
    assert_eq!(counter_and_truth(dir.path()), (400, 400), "the uploads' rows are gone too");
}

#[test]
fn the_quota_refuses_a_write_that_does_not_fit_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Some(3000)).unwrap();
    assert_eq!(store.max_bytes(), Some(3000));
    store.put_chunk(&id(1), 0, &bytes(1, 1000)).unwrap();
    store.put_get_chunk(2, 0, &bytes(2, 1000)).unwrap();
    let u = store.new_upload().unwrap();
    store.put_upload_chunk(u, 0, &bytes(3, 1000)).unwrap();
    assert_eq!(store.bytes_used(), 3000);

    let full = |e: StoreError| match e {
        StoreError::Full(m) => {
            assert!(m.contains(QUOTA_FULL) && m.contains("--max-bytes 3000"), "{m}");
        }
        other => panic!("not Full: {other:?}"),
    };
    full(store.put_chunk(&id(1), 1, &[0]).unwrap_err());
    full(store.put_get_chunk(2, 1, &[0]).unwrap_err());
    full(store.put_upload_chunk(u, 1, &[0]).unwrap_err());
    // Replacing a chunk with a longer one is growth too.
    full(store.put_chunk(&id(1), 0, &bytes(1, 1001)).unwrap_err());
    assert_eq!(store.get_chunk(&id(1), 0).unwrap(), Some(bytes(1, 1000)));
    assert_eq!(store.get_chunk(&id(1), 1).unwrap(), None);
    assert_eq!(store.get_get_chunk(2, 1).unwrap(), None);
    assert_eq!(store.bytes_used(), 3000);
    // Same size fits; records and marks are not counted.
    store.put_chunk(&id(1), 0, &bytes(9, 1000)).unwrap();
    store.put_record(&inline_record(1)).unwrap();
    store.mark_complete(&id(1), 1000).unwrap();
    assert_eq!(store.bytes_used(), 3000);

    // Freeing makes room, by each kind of delete.
    store.drop_get(2).unwrap();
    assert_eq!(store.bytes_used(), 2000);
    store.put_chunk(&id(5), 0, &bytes(5, 1000)).unwrap();
    full(store.put_chunk(&id(6), 0, &[0]).unwrap_err());
    store.delete_blob(&id(5)).unwrap();
    store.drop_upload(u).unwrap();
    assert_eq!(store.bytes_used(), 1000);
    store.put_chunk(&id(6), 0, &bytes(6, 2000)).unwrap();
    assert_eq!(store.bytes_used(), 3000);

    drop(store);
    assert_eq!(counter_and_truth(dir.path()), (3000, 3000));
    // A smaller quota after a restart: reading and shrinking work, growing does not.
    let store = Store::open(dir.path(), Some(2000)).unwrap();
    assert_eq!(store.bytes_used(), 3000);
    assert_eq!(store.get_chunk(&id(6), 0).unwrap(), Some(bytes(6, 2000)));
    assert!(matches!(store.put_chunk(&id(7), 0, &[0]), Err(StoreError::Full(_))));
    store.put_chunk(&id(6), 0, &bytes(6, 10)).unwrap();
    assert_eq!(store.bytes_used(), 1010);
}

#[test]
fn the_store_is_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Store>();
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path(), None).unwrap());
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..20u32 {
                    store.put_get_chunk(t, i, &bytes(t * 100 + u64::from(i), 100)).unwrap();
                    assert_eq!(store.get_get_chunk(t, i).unwrap(), Some(bytes(t * 100 + u64::from(i), 100)));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.bytes_used(), 4 * 20 * 100);
}

// ---- crash ------------------------------------------------------------------------------------

/// Chunk `i` of the crash writer's held blobs.
fn crash_chunk(i: u64) -> Vec<u8> {
    bytes(1_000_000 + i, CHUNK_BYTES as usize - (i as usize % 3) * 1000)
}

/// Upload `i` of the crash writer: two chunks, the last one short.
fn crash_upload(i: u64) -> Vec<u8> {
    bytes(2_000_000 + i, CHUNK_BYTES as usize + 777 + i as usize)
}

/// The crash child: for round `i = from, from+1, …` writes a held chunk, a
/// record and a whole upload, printing `ack KIND i` after each returned.
fn crash_writer(dir: &Path, from: u64) {
    let store = Store::open(dir, None).unwrap();
    store.set_node_id(&id(4242)).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "ack node_id 0").unwrap();
    out.flush().unwrap();
    for i in from.. {
        store.put_chunk(&id(i), 0, &crash_chunk(i)).unwrap();
        writeln!(out, "ack chunk {i}").unwrap();
        out.flush().unwrap();
        store.put_record(&inline_record(i)).unwrap();
        writeln!(out, "ack record {i}").unwrap();
        out.flush().unwrap();
        let content = crash_upload(i);
        let u = store.new_upload().unwrap();
        for (n, chunk) in content.chunks(CHUNK_BYTES as usize).enumerate() {
            store.put_upload_chunk(u, n as u32, chunk).unwrap();
        }
        store.finish_upload(u, &Id::hash(&content), content.len() as u64).unwrap();
        writeln!(out, "ack upload {i}").unwrap();
        out.flush().unwrap();
    }
}

/// Every acknowledged write of rounds `0..` up to the acks in `acked` is in the store.
fn check_after_crash(dir: &Path, acked: &[(String, u64)]) {
    let store = Store::open(dir, None).expect("the store opens after kill -9");
    assert_eq!(store.node_id().unwrap(), Some(id(4242)));
    let records = store.records().unwrap();
    let complete = store.complete_blobs().unwrap();
    for (kind, i) in acked {
        match kind.as_str() {
            "node_id" => {}
            "chunk" => assert_eq!(store.get_chunk(&id(*i), 0).unwrap(), Some(crash_chunk(*i)), "chunk {i}"),
            "record" => assert!(records.contains(&inline_record(*i)), "record {i}"),
            "upload" => {
                let content = crash_upload(*i);
                assert!(complete.contains(&(Id::hash(&content), content.len() as u64)), "upload {i} complete");
            }
            other => panic!("unknown ack {other}"),
        }
    }
    // Every complete blob (acknowledged or not) has all its chunks: finishing an upload is atomic.
    for (digest, size) in &complete {
        let mut held = Vec::new();
        let mut n = 0;
        while let Some(chunk) = store.get_chunk(digest, n).unwrap() {
            held.extend(chunk);
            n += 1;
        }
        assert_eq!(held.len() as u64, *size, "complete blob {digest} has all its bytes");
        assert_eq!(Id::hash(&held), *digest, "complete blob {digest} has the right bytes");
    }
    drop(store);
    let (counter, truth) = counter_and_truth(dir);
    assert_eq!(counter, truth, "the byte counter matches the chunks after the crash");
}

#[test]
fn every_acknowledged_write_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked: Vec<(String, u64)> = Vec::new();
    let mut from = 0;
    // Three lives, each killed after a different number of acks, so the kill
    // lands at different points of the write sequence.
    for stop_after in [7, 20, 41] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_entry_point", "--nocapture", "--test-threads=1"])
            .env(CRASH_DIR, dir.path())
            .env(CRASH_FROM, from.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        let mut last = from;
        while seen < stop_after {
            let line = lines.next().expect("the writer died before it was killed").unwrap();
            let Some(ack) = line.strip_prefix("ack ") else { continue };
            let (kind, i) = ack.split_once(' ').unwrap();
            let i: u64 = i.parse().unwrap();
            acked.push((kind.to_string(), i));
            last = i;
            seen += 1;
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(!status.success(), "the writer was killed, it did not finish");
        check_after_crash(dir.path(), &acked);
        // The next life writes new rounds (round `last` may be half written).
        from = last + 1;
    }
    assert!(acked.iter().filter(|(k, _)| k == "upload").count() >= 10);
}

// ---- full disk --------------------------------------------------------------------------------

/// The full-disk child, in its own mount namespace: mounts a tiny tmpfs on
/// `dir` with a ballast file on it, fills it through the store, checks the
/// store is still readable, then frees the ballast (as an operator would
/// free disk space) and checks it is writable again.
fn full_disk_child(dir: &Path) {
    let status = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={TMPFS_SIZE}"), "tmpfs"]).arg(dir).status().unwrap();
    assert!(status.success(), "mount tmpfs");
    let ballast = dir.join("ballast");
    std::fs::write(&ballast, bytes(0, 256 * 1024)).unwrap();
    let data = dir.join("data");
    let store = Store::open(&data, None).unwrap();
    store.set_node_id(&id(1)).unwrap();
    store.put_record(&inline_record(1)).unwrap();
    let chunk = |i: u64| bytes(i, CHUNK_BYTES as usize);
    let mut written = 0u64;
    let err = loop {
        match store.put_chunk(&id(written), 0, &chunk(written)) {
            Ok(()) => written += 1,
            Err(e) => break e,
        }
        assert!(written < 1000, "the tmpfs never filled");
    };
    assert_eq!(err, StoreError::Full(DISK_FULL.to_string()));
    assert_eq!(err.code(), "quota");
    assert!(written >= 2, "some chunks fit before the disk was full ({written})");
    // Still readable, with everything acknowledged and nothing of the refused write.
    let check = |store: &Store, upto: u64| {
        for i in 0..upto {
            assert_eq!(store.get_chunk(&id(i), 0).unwrap(), Some(chunk(i)), "chunk {i}");
        }
        assert_eq!(store.get_chunk(&id(upto), 0).unwrap(), None);
        assert_eq!(store.records().unwrap(), vec![inline_record(1)]);
        assert_eq!(store.node_id().unwrap(), Some(id(1)));
        assert_eq!(store.bytes_used(), upto * u64::from(CHUNK_BYTES));
    };
    check(&store, written);
    // Writable again once the disk has room.
    std::fs::remove_file(&ballast).unwrap();
    store.put_chunk(&id(written), 0, &chunk(written)).unwrap();
    store.put_record(&inline_record(2)).unwrap();
    store.delete_record(&inline_record(2).key).unwrap();
    check(&store, written + 1);
    drop(store);
    let store = Store::open(&data, None).unwrap();
    check(&store, written + 1);
    drop(store);
    let (counter, truth) = counter_and_truth(&data);
    assert_eq!(counter, truth);
    println!("{FULL_OK} ({written} chunks of 128 KiB fitted)");
}

#[test]
fn a_full_disk_is_reported_as_full_and_the_store_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry_point", "--nocapture", "--test-threads=1"])
        .env(FULL_DIR, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains(FULL_OK), "child: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{}", stdout.lines().find(|l| l.contains(FULL_OK)).unwrap_or_default());
    // The tmpfs lived in the child's namespace only.
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(dir.path().to_str().unwrap()), "no mount left behind");
    assert!(!dir.path().join("data").exists(), "the child wrote to the tmpfs, not the directory under it");
}

/// The children of the crash and full-disk tests; run directly, it does nothing.
#[test]
fn child_entry_point() {
    if let Some(dir) = std::env::var_os(CRASH_DIR) {
        let from = std::env::var(CRASH_FROM).unwrap().parse().unwrap();
        crash_writer(Path::new(&dir), from);
    } else if let Some(dir) = std::env::var_os(FULL_DIR) {
        full_disk_child(Path::new(&dir));
    }
}
