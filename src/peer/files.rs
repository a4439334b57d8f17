//! Blobs at the peer: puts and gets of large values, replicas fetching the
//! bytes of manifests they were handed, serving chunks to others, and
//! forgetting bytes nobody references any more.
//!
//! A put is durable when it is answered: the key's primary commits the
//! manifest once it holds the bytes, pushes it to its replicas, and each
//! replica tells the primary ([`XferMsg::Holding`]) once it has copied the
//! bytes. The primary answers the writer ([`XferMsg::Copies`]) when the
//! put's holders hold them — the ring's replication factor R by default, or
//! fewer in a ring of fewer tabs, or what the writer asked for — or when no
//! copy made progress for [`COPY_STALL_MS`], with the count reached.
//!
//! The peer never touches bytes at rest: it tells the driver to read, write,
//! discard, complete and delete chunks ([`BlobCommand`]) and is told back.
//! It knows which blobs the driver's store holds completely (`held`).

use super::{Peer, PeerEvent, PeerOutput};
use crate::id::Id;
use crate::link::MaxMessageSize;
use crate::message::ReqId;
use crate::node::{Event, Status};
use crate::store::{Blob, Record, Version};
use crate::time::Millis;
use crate::transfer::{chunk_count, chunk_frames, PullError, PullId, PullOutput, Refusal, Sink, XferMsg, WINDOW_CHUNKS};
use crate::{CommandError, RequestError};
use std::collections::{BTreeMap, HashMap};

/// How long a put waits for the primary to ask for the next chunk or commit.
const PUT_STALL_MS: u64 = 20_000;
/// How long bytes nobody references are kept (a late reader may still be pulling them).
const GC_GRACE_MS: u64 = 60_000;
/// Pause between attempts to fetch the bytes of a manifest this peer holds.
const REFETCH_MS: u64 = 5_000;
/// Attempts to fetch the bytes of a held manifest before waiting for anti-entropy to hand it again.
const REFETCH_ATTEMPTS: u32 = 12;
/// Chunk reads one peer may have outstanding here (a puller keeps a window of 16).
const MAX_READS_PER_PEER: u32 = 2 * WINDOW_CHUNKS;
/// How long a primary waits for its replicas' copies to progress (a chunk
/// asked for, or a copy completed) before it answers a put with the holders
/// it has. On a heavily loaded machine (32 tabs on 2 cores) a replica took
/// more than 15 s to start copying.
pub const COPY_STALL_MS: u64 = 30_000;
/// The longest a primary waits for copies after the commit, plus 1 ms per KiB.
const COPY_MAX_MS: u64 = 120_000;
/// Least time between two progress reports of the copies to the writer.
const COPY_REPORT_MS: u64 = 5_000;
/// Puts a primary waits for copies of at once; beyond, it answers at the commit.
const MAX_COPYING: usize = 256;
/// Replicas followed per put, and peers told when one blob's bytes are complete here.
const MAX_CONFIRM_PEERS: usize = 8;
/// Peers waiting to be told that a blob's bytes are complete here, in all.
const MAX_CONFIRMS: usize = 4096;
/// Holder counts of finished puts kept for [`Peer::take_put_holders`].
const MAX_PUT_HOLDERS: usize = 256;
/// Times a get asks its holders when those that answer lack the bytes (they are copying them).
const GET_TRIES: u32 = 4;
/// Pause before a get asks such holders again.
const REGET_MS: u64 = 3_000;
/// Holders of a get linked to outside the budget of links to peers beyond the
/// Chord tables (`Links::expect`): the primary, its replicas at the default
/// replication, the writer.
const EXPECTED_HOLDERS: usize = 4;

/// What the driver does with blob bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobCommand {
    /// Read chunk `index` of `digest` from the store and answer with
    /// [`Input::BlobRead`](super::Input::BlobRead) (the chunk goes to `to`).
    Read {
        /// Who asked (possibly this peer).
        to: Id,
        /// Their pull.
        pull: PullId,
        /// The blob.
        digest: Id,
        /// Which chunk.
        index: u32,
    },
    /// Store chunk `index` for `sink`, then answer with [`Input::BlobWritten`](super::Input::BlobWritten).
    Write {
        /// The pull.
        pull: PullId,
        /// Into the store, or to a get's caller.
        sink: Sink,
        /// The blob.
        digest: Id,
        /// Which chunk.
        index: u32,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Forget the chunks written for `sink` so far (a corrupt copy, or cancelled).
    Discard {
        /// Whose.
        sink: Sink,
        /// The blob.
        digest: Id,
    },
    /// Every chunk of `digest` is stored and verified: mark it complete.
    Complete {
        /// The blob.
        digest: Id,
        /// Its size.
        size: u64,
    },
    /// Delete the blob's chunks: no record here references it any more.
    Delete {
        /// The blob.
        digest: Id,
    },
}

/// Transfer progress of a put or get, for the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The key's primary is copying the bytes from this tab.
    Sending,
    /// This tab is fetching the bytes from a holder.
    Receiving,
}

/// How many tabs held a blob's bytes when its put was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PutHolders {
    /// Tabs that held the bytes (the key's primary and the replicas that confirmed).
    pub holders: u32,
    /// Tabs that should hold them: the replication factor, or fewer in a ring of fewer tabs.
    pub target: u32,
}

/// What a finished put tells its caller: the JS API's put result and
/// `chord-node`'s HTTP answer (one shape, built in one place).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PutReport {
    /// Files over 16 KiB: members holding the bytes when the put was answered.
    pub holders: Option<u32>,
    /// Files over 16 KiB: whether every holder the ring keeps had them.
    pub durable: Option<bool>,
    /// The key, 40 hex digits.
    pub key: String,
    /// The primary that stored it.
    pub node: String,
    /// Lookup hops.
    pub hops: u16,
    /// Bytes, when the caller knows them.
    pub size: Option<u64>,
    /// SHA-1 of the content, 40 hex digits, when the caller knows it.
    pub digest: Option<String>,
    /// The version the primary gave it.
    pub version: super::VersionView,
}

impl PutReport {
    /// The report of put `key` answered by `node` after `hops` with
    /// `version`; `copies` from [`Peer::take_put_holders`], `meta` the size
    /// and digest of what was put.
    pub fn new(key: Id, node: Id, hops: u16, version: Version, copies: Option<PutHolders>, meta: Option<(u64, Id)>) -> PutReport {
        PutReport {
            holders: copies.map(|c| c.holders),
            durable: copies.map(|c| c.durable()),
            key: key.to_hex(),
            node: node.to_hex(),
            hops,
            size: meta.map(|m| m.0),
            digest: meta.map(|m| m.1.to_hex()),
            version: super::VersionView { seq: version.seq, writer: version.writer.to_hex() },
        }
    }
}

impl PutHolders {
    /// Whether every holder the ring keeps had the bytes: the put survives
    /// the loss of any `target - 1` of them.
    pub fn durable(&self) -> bool {
        self.holders >= self.target
    }
}

/// A blob put, at the writer.
#[derive(Debug)]
struct BlobPut {
    blob: Blob,
    /// Tabs that must hold the bytes before the put is answered; `None`: the ring's R.
    holders: Option<u8>,
    /// The primary, once the lookup found it.
    primary: Option<Id>,
    /// The version the primary gave it, once committed.
    version: Option<Version>,
    deadline: Millis,
    sent: u64,
}

/// An offer a primary is pulling.
#[derive(Clone, Debug)]
struct Offered {
    blob: Blob,
    /// Holders the writer asked for (`None`: R).
    holders: Option<u8>,
}

/// A committed put whose copies the primary waits for.
#[derive(Debug)]
struct Copying {
    writer: Id,
    put: ReqId,
    blob: Blob,
    /// Holders the writer asked for (`None`: R).
    wanted: Option<u8>,
    /// Replicas that said they hold the bytes (at most [`MAX_CONFIRM_PEERS`]).
    confirmed: Vec<Id>,
    /// The furthest chunk each replica asked for: a copy progresses when it
    /// asks further (one that starts over after a failure does not).
    asked: Vec<(Id, u32)>,
    /// Answer with what there is if no copy progressed by then…
    deadline: Millis,
    /// …or by then at the latest.
    until: Millis,
    /// When the writer was last told of progress, and the count it was told.
    told: (Millis, u32),
}

/// A get whose manifest arrived and whose bytes are being pulled.
#[derive(Debug)]
struct BlobGet {
    /// The answer to forward once the bytes are here.
    ev: Event,
    blob: Blob,
    /// The holders, in the order they are asked.
    sources: Vec<Id>,
    /// Pulls started.
    tries: u32,
    /// When to ask the holders again: every one that answered lacked the
    /// bytes (they are still copying them, say after churn moved the key).
    again: Option<Millis>,
}

/// Everything the peer tracks about blobs.
#[derive(Debug, Default)]
pub(super) struct Files {
    /// Blobs complete in the driver's store: digest → size.
    held: HashMap<Id, u64>,
    /// Blob puts this peer started, by request (the lookup's number).
    puts: BTreeMap<ReqId, BlobPut>,
    /// Offers this peer (as primary) is pulling: (writer, put) → blob.
    offers: BTreeMap<(Id, ReqId), Offered>,
    /// Puts this peer (as primary) committed and waits for copies of (small; a list).
    copying: Vec<Copying>,
    /// (digest, peer): `peer` handed this peer the manifest of a blob whose
    /// bytes it is copying, and is told once they are complete.
    confirm: Vec<(Id, Id)>,
    /// Holder counts of finished puts, for [`Peer::take_put_holders`] (oldest first).
    put_holders: Vec<(ReqId, PutHolders)>,
    /// Gets whose manifest arrived and whose bytes are being pulled.
    gets: BTreeMap<ReqId, BlobGet>,
    /// Chunk reads in progress for each peer.
    reading: HashMap<Id, u32>,
    /// Digests to delete at the given time unless referenced again.
    gc: BTreeMap<Id, Millis>,
    /// Manifests held without their bytes: when to try again, attempts made.
    refetch: BTreeMap<Id, (Blob, Millis, u32)>,
    /// Records kept across a reload, taken back once joined.
    restored: Vec<Record>,
    /// Peers a link attempt recently failed to reach, and when: asked last
    /// for a get's bytes until [`UNREACHABLE_MS`] has passed or a link opens.
    unreachable: BTreeMap<Id, Millis>,
}

/// How long a peer no link could be opened to is asked last for bytes.
const UNREACHABLE_MS: u64 = 60_000;
/// Most peers remembered as unreachable.
const MAX_UNREACHABLE: usize = 256;

impl Peer {
    /// Blob digests complete in this peer's store.
    pub fn held_blobs(&self) -> impl Iterator<Item = (&Id, &u64)> {
        self.files.held.iter()
    }

    /// Whether the bytes of `digest` are complete here.
    pub fn holds_blob(&self, digest: &Id) -> bool {
        self.files.held.contains_key(digest)
    }

    /// Records and complete blobs this tab kept across a reload ([`Input::Restored`](super::Input::Restored)).
    pub(super) fn restore(&mut self, now: Millis, records: Vec<Record>, blobs: Vec<(Id, u64)>) {
        for (digest, size) in blobs {
            self.files.held.insert(digest, size);
            self.files.gc.insert(digest, now + GC_GRACE_MS);
        }
        self.files.restored = records;
        if self.node.status() == Status::Joined {
            self.take_back_restored(now);
        }
    }

    pub(super) fn take_back_restored(&mut self, now: Millis) {
        let records = std::mem::take(&mut self.files.restored);
        if !records.is_empty() {
            self.node.restore(now, records);
        }
    }

    /// Stores a blob whose bytes the driver already holds complete under
    /// `blob.digest`: finds the key's primary, which pulls the bytes from
    /// this peer and commits them. Answered by [`Event::PutDone`] or
    /// [`Event::RequestFailed`]; [`PeerEvent::Progress`] reports the copy.
    pub fn put_blob(&mut self, now: Millis, blob: Blob) -> Result<ReqId, CommandError> {
        self.put_blob_for(now, blob, None)
    }

    /// [`Peer::put_blob`], answered once `holders` tabs hold the bytes
    /// (`Some(1)`: as soon as the primary committed them; `None`: the ring's
    /// replication factor). [`Peer::take_put_holders`] tells how many did.
    pub fn put_blob_for(&mut self, now: Millis, blob: Blob, holders: Option<u8>) -> Result<ReqId, CommandError> {
        if blob.size == 0 || blob.size > crate::store::MAX_BLOB_BYTES {
            return Err(CommandError::BlobSize(blob.size));
        }
        if blob.name.len() > crate::store::MAX_NAME_BYTES {
            return Err(CommandError::NameTooLong(blob.name.len()));
        }
        self.files.held.insert(blob.digest, blob.size);
        let req = self.node.lookup(now, blob.key)?;
        let holders = holders.map(|h| h.max(1));
        self.files.puts.insert(req, BlobPut { blob, holders, primary: None, version: None, deadline: now + PUT_STALL_MS, sent: 0 });
        self.pump(now);
        Ok(req)
    }

    /// How many tabs held the bytes of blob put `req` when it was answered
    /// ([`Event::PutDone`]); taken once. The last few hundred are kept.
    pub fn take_put_holders(&mut self, req: ReqId) -> Option<PutHolders> {
        let i = self.files.put_holders.iter().position(|(r, _)| *r == req)?;
        Some(self.files.put_holders.remove(i).1)
    }

    /// Stops a put or get. Returns whether it was running.
    pub fn cancel(&mut self, now: Millis, req: ReqId) -> bool {
        let mut had = false;
        if let Some(put) = self.files.puts.remove(&req) {
            had = true;
            if let Some(p) = put.primary {
                self.send_xfer(now, p, XferMsg::Withdraw { put: req });
            }
            self.files.gc.insert(put.blob.digest, now + GC_GRACE_MS);
        }
        if self.files.gets.remove(&req).is_some() {
            had = true;
            self.pulls.cancel(Sink::Caller(req), None);
        }
        self.pump(now);
        had
    }

    /// The driver read chunk `index` for `to`'s pull (or could not).
    pub(super) fn blob_read(&mut self, now: Millis, to: Id, pull: PullId, index: u32, bytes: Option<Vec<u8>>) {
        if let Some(n) = self.files.reading.get_mut(&to) {
            *n = n.saturating_sub(1);
        }
        if to == self.id() {
            match bytes {
                Some(bytes) => {
                    self.pulls.on_chunk(now, to, pull, index, bytes);
                }
                None => self.pulls.on_missing(now, to, pull),
            }
        } else {
            match bytes {
                Some(bytes) => {
                    // Cut to what the puller's end of the link accepts; with
                    // no link open (the frames wait for one) assume the SDP
                    // default, which any usable link carries.
                    let limit = self.links.max_message_size(&to).unwrap_or(MaxMessageSize::SDP_DEFAULT);
                    for msg in chunk_frames(pull, index, bytes, limit.max_len()) {
                        self.send_xfer(now, to, msg);
                    }
                }
                None => self.send_xfer(now, to, XferMsg::Missing { pull }),
            }
        }
    }

    /// A transfer frame from `from`.
    pub(super) fn on_xfer(&mut self, now: Millis, from: Id, msg: XferMsg) {
        match msg {
            XferMsg::Want { pull, digest, index } => self.on_want(now, from, pull, digest, index),
            XferMsg::Chunk { pull, index, bytes } => {
                self.pulls.on_chunk(now, from, pull, index, bytes);
            }
            XferMsg::Part { pull, index, offset, bytes } => {
                self.pulls.on_part(now, from, pull, index, offset, bytes);
            }
            XferMsg::Missing { pull } => self.pulls.on_missing(now, from, pull),
            XferMsg::Offer { put, blob } => self.on_offer(now, from, put, Offered { blob, holders: None }),
            XferMsg::OfferFor { put, blob, holders } => self.on_offer(now, from, put, Offered { blob, holders: Some(holders) }),
            XferMsg::Withdraw { put } => {
                self.files.copying.retain(|c| (c.writer, c.put) != (from, put));
                if let Some(o) = self.files.offers.remove(&(from, put)) {
                    let digest = o.blob.digest;
                    if !self.files.offers.values().any(|b| b.blob.digest == digest) && !self.node_references(&digest) {
                        self.pulls.cancel(Sink::Store, Some(&digest));
                    }
                }
            }
            XferMsg::Committed { put, version } => {
                if let Some(p) = self.files.puts.get_mut(&put).filter(|p| p.primary == Some(from)) {
                    // The primary answers within its copy wait; past that and ours it is gone.
                    p.version = Some(version);
                    p.deadline = now + COPY_STALL_MS + PUT_STALL_MS;
                }
            }
            XferMsg::Copies { put, holders, target, done } => {
                let Some(p) = self.files.puts.get_mut(&put).filter(|p| p.primary == Some(from)) else { return };
                let Some(version) = p.version else { return };
                p.deadline = now + COPY_STALL_MS + PUT_STALL_MS;
                if done {
                    let counts = PutHolders { holders: holders.into(), target: target.into() };
                    self.finish_put(now, put, Ok((from, version, counts)));
                }
            }
            XferMsg::Holding { key, digest } => self.on_holding(now, from, key, digest),
            XferMsg::Refused { put, reason } => {
                if self.files.puts.get(&put).is_some_and(|p| p.primary == Some(from)) {
                    self.finish_put(now, put, Err(RequestError::Refused(reason)));
                }
            }
        }
    }

    fn on_want(&mut self, now: Millis, from: Id, pull: PullId, digest: Id, index: u32) {
        let size = self.files.held.get(&digest).copied();
        let reading = self.files.reading.entry(from).or_default();
        match size {
            Some(size) if index < chunk_count(size) && *reading < MAX_READS_PER_PEER => {
                *reading += 1;
                self.out.push_back(PeerOutput::Blob(BlobCommand::Read { to: from, pull, digest, index }));
                self.copy_progressed(now, from, &digest, index);
                // The writer of a put sees the primary copying its bytes.
                for (req, put) in self.files.puts.iter_mut() {
                    if put.blob.digest == digest && put.primary == Some(from) {
                        put.deadline = now + PUT_STALL_MS;
                        put.sent = put.sent.max(((index as u64 + 1) * crate::transfer::CHUNK_BYTES as u64).min(size));
                        let ev = PeerEvent::Progress { req: *req, phase: Phase::Sending, done: put.sent, total: size };
                        self.out.push_back(PeerOutput::Event(ev));
                    }
                }
            }
            Some(size) if index < chunk_count(size) => {
                // Beyond the reads a well-behaved puller keeps: dropped; it asks again after a stall.
            }
            _ => {
                if from == self.id() {
                    self.pulls.on_missing(now, from, pull);
                } else {
                    self.send_xfer(now, from, XferMsg::Missing { pull });
                }
            }
        }
    }

    fn on_offer(&mut self, now: Millis, from: Id, put: ReqId, offer: Offered) {
        if self.node.status() != Status::Joined {
            return self.send_xfer(now, from, XferMsg::Refused { put, reason: Refusal::NotJoined });
        }
        let blob = &offer.blob;
        if !blob.name.is_empty() && Id::key_of(&blob.name) != blob.key {
            return self.send_xfer(now, from, XferMsg::Refused { put, reason: Refusal::Malformed });
        }
        if self.files.held.contains_key(&blob.digest) {
            return self.commit_offer(now, from, put, offer);
        }
        let pulling = self.pulls.is_pulling(Sink::Store, &blob.digest);
        let blob = blob.clone();
        self.files.offers.insert((from, put), offer);
        if !pulling {
            self.pulls.start(now, blob, Sink::Store, vec![from]);
        }
    }

    /// Commits an offered blob whose bytes are held here, then waits for
    /// the replicas' copies before answering the writer (see the module docs).
    fn commit_offer(&mut self, now: Millis, writer: Id, put: ReqId, offer: Offered) {
        let Offered { blob, holders: wanted } = offer;
        let refused = match self.node.commit_blob(now, &blob, writer) {
            Ok(version) => {
                if writer != self.id() {
                    self.send_xfer(now, writer, XferMsg::Committed { put, version });
                } else if let Some(p) = self.files.puts.get_mut(&put) {
                    p.version = Some(version);
                }
                if self.files.copying.len() >= MAX_COPYING {
                    // Too many puts at once to follow them all: answer this one now.
                    let counts = self.copy_counts(&[]);
                    return self.answer_copies(now, writer, put, counts, true);
                }
                let until = now + COPY_MAX_MS + blob.size / 1024;
                let deadline = now + COPY_STALL_MS;
                let c = Copying { writer, put, blob, wanted, confirmed: Vec::new(), asked: Vec::new(), deadline, until, told: (now, 1) };
                self.files.copying.push(c);
                // The replicas may hold the bytes already; they say so when the manifest reaches them.
                return self.check_copies(now, false);
            }
            Err(CommandError::NotJoined) => Refusal::NotJoined,
            Err(CommandError::StoreFull) => Refusal::StoreFull,
            Err(_) => Refusal::Malformed,
        };
        if writer == self.id() {
            self.finish_put(now, put, Err(RequestError::Refused(refused)));
        } else {
            self.send_xfer(now, writer, XferMsg::Refused { put, reason: refused });
        }
    }

    /// The peers that should hold copies of this peer's primary records:
    /// its first R−1 successors.
    fn replica_peers(&self) -> Vec<Id> {
        let me = self.id();
        let r = self.node.config().replicas.saturating_sub(1);
        let mut v: Vec<Id> = Vec::with_capacity(r);
        for s in self.node.successors() {
            if v.len() < r && *s != me && !v.contains(s) {
                v.push(*s);
            }
        }
        v
    }

    /// Holders of a committed blob (this primary and the replicas among
    /// `confirmed`) and how many the ring should keep: R, or every tab of a
    /// smaller ring. The ring's size is told from every node this peer
    /// knows, not from its successor list alone, which churn can shorten.
    fn copy_counts(&self, confirmed: &[Id]) -> PutHolders {
        let replicas = self.replica_peers();
        let holders = 1 + replicas.iter().filter(|r| confirmed.contains(r)).count();
        let r = self.node.config().replicas.max(1);
        let mut known: Vec<Id> = vec![self.id()];
        let fingers = self.node.fingers().runs().iter().map(|f| f.node);
        for p in self.node.successors().iter().copied().chain(self.node.predecessor()).chain(fingers) {
            if known.len() < r && !known.contains(&p) {
                known.push(p);
            }
        }
        PutHolders { holders: holders as u32, target: known.len() as u32 }
    }

    /// Answers the puts whose holders are enough, or whose wait is over
    /// (`timers`: check the deadlines at `now`); tells the writers of the
    /// others of new holders, now and then.
    fn check_copies(&mut self, now: Millis, timers: bool) {
        let mut i = 0;
        while let Some(c) = self.files.copying.get(i) {
            let counts = self.copy_counts(&c.confirmed);
            let enough = counts.holders >= counts.target.min(c.wanted.map_or(u32::MAX, u32::from));
            let over = timers && (c.deadline <= now || c.until <= now);
            let (writer, put) = (c.writer, c.put);
            if enough || over {
                self.files.copying.swap_remove(i);
                self.answer_copies(now, writer, put, counts, true);
                continue;
            }
            if counts.holders > c.told.1 && now.since(c.told.0) >= COPY_REPORT_MS {
                self.files.copying[i].told = (now, counts.holders);
                self.answer_copies(now, writer, put, counts, false);
            }
            i += 1;
        }
    }

    /// Tells `writer` how many tabs hold the bytes of its put (`done`: the answer).
    fn answer_copies(&mut self, now: Millis, writer: Id, put: ReqId, counts: PutHolders, done: bool) {
        if writer == self.id() {
            let version = self.files.puts.get(&put).and_then(|p| p.version);
            if let (true, Some(version)) = (done, version) {
                self.finish_put(now, put, Ok((writer, version, counts)));
            }
            return;
        }
        let byte = |n: u32| u8::try_from(n).unwrap_or(u8::MAX);
        let msg = XferMsg::Copies { put, holders: byte(counts.holders), target: byte(counts.target), done };
        self.send_xfer(now, writer, msg);
    }

    /// A peer asked for chunk `index` of `digest`: a replica copying a
    /// committed put? Then its copy progressed: the wait goes on, and the
    /// writer hears of it now and then (so that it waits for the answer).
    fn copy_progressed(&mut self, now: Millis, from: Id, digest: &Id, index: u32) {
        if !self.files.copying.iter().any(|c| c.blob.digest == *digest) || !self.replica_peers().contains(&from) {
            return;
        }
        let target = self.copy_counts(&[]).target;
        let mut reports = Vec::new();
        for c in self.files.copying.iter_mut().filter(|c| c.blob.digest == *digest) {
            let seen = c.asked.iter().position(|(p, _)| *p == from);
            match seen {
                Some(k) if c.asked[k].1 >= index => continue,
                Some(k) => c.asked[k].1 = index,
                None if c.asked.len() < MAX_CONFIRM_PEERS => c.asked.push((from, index)),
                None => continue,
            }
            c.deadline = (now + COPY_STALL_MS).min(c.until);
            if now.since(c.told.0) >= COPY_REPORT_MS {
                c.told.0 = now;
                reports.push((c.writer, c.put, PutHolders { holders: c.told.1, target }));
            }
        }
        for (writer, put, counts) in reports {
            self.answer_copies(now, writer, put, counts, false);
        }
    }

    /// A replica says it holds the bytes of `digest`.
    fn on_holding(&mut self, now: Millis, from: Id, key: Id, digest: Id) {
        let mut any = false;
        for c in self.files.copying.iter_mut().filter(|c| c.blob.digest == digest && c.blob.key == key) {
            if !c.confirmed.contains(&from) && c.confirmed.len() < MAX_CONFIRM_PEERS {
                c.confirmed.push(from);
                c.deadline = (now + COPY_STALL_MS).min(c.until);
                any = true;
            }
        }
        if any {
            self.check_copies(now, false);
        }
    }

    /// The bytes of `blob` are complete here: tell the peers that handed us its manifest.
    fn confirm_holding(&mut self, now: Millis, blob: &Blob) {
        let told: Vec<Id> = self.files.confirm.iter().filter(|(d, _)| *d == blob.digest).map(|(_, p)| *p).collect();
        self.forget_confirms(&blob.digest);
        for to in told {
            self.send_xfer(now, to, XferMsg::Holding { key: blob.key, digest: blob.digest });
        }
    }

    /// Nobody waits to hear that the bytes of `digest` are complete here (no attempt is left).
    fn forget_confirms(&mut self, digest: &Id) {
        self.files.confirm.retain(|(d, _)| d != digest);
    }

    fn finish_put(&mut self, now: Millis, req: ReqId, result: Result<(Id, Version, PutHolders), RequestError>) {
        let Some(put) = self.files.puts.remove(&req) else { return };
        // The writer keeps its copy only if it is also a holder.
        self.files.gc.insert(put.blob.digest, now + GC_GRACE_MS);
        let key = put.blob.key;
        let ev = match result {
            Ok((node, version, counts)) => {
                if self.files.put_holders.len() >= MAX_PUT_HOLDERS {
                    self.files.put_holders.remove(0);
                }
                self.files.put_holders.push((req, counts));
                Event::PutDone { req, key, node, version, hops: 0 }
            }
            Err(error) => Event::RequestFailed { req, target: key, error },
        };
        self.out.push_back(PeerOutput::Event(PeerEvent::Node(ev)));
    }

    /// Node events about blobs. Returns the event if it is to be forwarded now.
    pub(super) fn on_blob_event(&mut self, now: Millis, ev: Event) -> Option<Event> {
        match ev {
            Event::LookupDone { req, node, .. } if self.files.puts.contains_key(&req) => {
                let put = self.files.puts.get_mut(&req)?;
                put.primary = Some(node);
                put.deadline = now + PUT_STALL_MS;
                let offer = Offered { blob: put.blob.clone(), holders: put.holders };
                if node == self.id() {
                    self.commit_offer(now, node, req, offer);
                } else if let Some(holders) = offer.holders {
                    // The user's own put: its primary's link is not one a remote peer asked for.
                    self.links.expect(now, node);
                    self.send_xfer(now, node, XferMsg::OfferFor { put: req, blob: offer.blob, holders });
                } else {
                    self.links.expect(now, node);
                    self.send_xfer(now, node, XferMsg::Offer { put: req, blob: offer.blob });
                }
                None
            }
            Event::RequestFailed { req, .. } if self.files.puts.contains_key(&req) => {
                if let Some(put) = self.files.puts.remove(&req) {
                    self.files.gc.insert(put.blob.digest, now + GC_GRACE_MS);
                }
                Some(ev)
            }
            Event::GetDone { req, record: Some(ref record), node, ref replicas, .. } if record.is_blob() => {
                let blob = record.as_blob().expect("is_blob checked");
                let mut sources = Vec::new();
                if self.files.held.contains_key(&blob.digest) {
                    sources.push(self.id());
                }
                sources.push(node);
                sources.extend(replicas.iter().copied());
                // The writer keeps its copy for a while after the put.
                sources.push(record.version.writer);
                // Holders no link could be opened to just now, or whose path
                // is being restarted, go last (each group keeps its order).
                let (unreachable, links) = (&self.files.unreachable, &self.links);
                let (last, mut sources): (Vec<Id>, Vec<Id>) = sources
                    .into_iter()
                    .partition(|p| links.is_restarting(p) || unreachable.get(p).is_some_and(|t| now.since(*t) < UNREACHABLE_MS));
                sources.extend(last);
                // The user's own get: links to its first holders do not spend
                // the budget of links remote peers can make this tab open
                // (the primary names them, a few per get the user makes).
                for p in sources.iter().take(EXPECTED_HOLDERS) {
                    self.links.expect(now, *p);
                }
                self.pulls.start(now, blob.clone(), Sink::Caller(req), sources.clone());
                self.files.gets.insert(req, BlobGet { ev, blob, sources, tries: 1, again: None });
                None
            }
            Event::Stored { ref record, from } => {
                if let Some(blob) = record.as_blob() {
                    self.files.gc.remove(&blob.digest);
                    let held = self.files.held.contains_key(&blob.digest);
                    // Whoever handed us the manifest (the primary, when it
                    // pushed a new version) learns when we hold the bytes.
                    if let Some(f) = from.filter(|f| *f != self.id()) {
                        if held {
                            self.send_xfer(now, f, XferMsg::Holding { key: blob.key, digest: blob.digest });
                        } else if self.files.confirm.len() < MAX_CONFIRMS && !self.files.confirm.contains(&(blob.digest, f)) {
                            self.files.confirm.push((blob.digest, f));
                        }
                    }
                    if !held && !self.pulls.is_pulling(Sink::Store, &blob.digest) {
                        let mut sources: Vec<Id> = from.into_iter().collect();
                        sources.extend(self.blob_sources(record.version.writer));
                        self.pulls.start(now, blob, Sink::Store, sources);
                    }
                }
                Some(ev)
            }
            Event::Dropped { digest, .. } => {
                self.files.gc.insert(digest, now + GC_GRACE_MS);
                Some(ev)
            }
            other => Some(other),
        }
    }

    /// A link attempt to `peer` failed: ask it last for bytes for a while.
    pub(super) fn files_unreachable(&mut self, now: Millis, peer: Id) {
        let u = &mut self.files.unreachable;
        u.retain(|_, t| now.since(*t) < UNREACHABLE_MS);
        if u.len() < MAX_UNREACHABLE || u.contains_key(&peer) {
            u.insert(peer, now);
        }
    }

    /// A link to `peer` opened: it is reachable again.
    pub(super) fn files_reachable(&mut self, peer: &Id) {
        self.files.unreachable.remove(peer);
    }

    /// Where the bytes of a manifest this peer holds may be: its writer and neighbours.
    fn blob_sources(&self, writer: Id) -> Vec<Id> {
        let me = self.id();
        let mut v = vec![writer];
        v.extend(self.node.predecessor());
        v.extend(self.node.successors().iter().copied());
        v.retain(|p| *p != me);
        v
    }

    /// Whether a record this node holds has this digest.
    fn node_references(&self, digest: &Id) -> bool {
        self.node.store().records().any(|r| r.is_blob() && r.digest == *digest)
    }

    /// Outputs of the pulls.
    pub(super) fn on_pull_output(&mut self, now: Millis, o: PullOutput) {
        match o {
            PullOutput::Send { to, msg } => {
                if to == self.id() {
                    if let XferMsg::Want { pull, digest, index } = msg {
                        self.on_want(now, to, pull, digest, index);
                    }
                } else {
                    self.send_xfer(now, to, msg);
                }
            }
            PullOutput::Write { pull, sink, digest, index, bytes } => {
                self.out.push_back(PeerOutput::Blob(BlobCommand::Write { pull, sink, digest, index, bytes }))
            }
            PullOutput::Progress { sink: Sink::Caller(req), done, total, .. } => {
                self.out.push_back(PeerOutput::Event(PeerEvent::Progress { req, phase: Phase::Receiving, done, total }))
            }
            PullOutput::Progress { .. } => {}
            PullOutput::Discard { sink, digest } => self.out.push_back(PeerOutput::Blob(BlobCommand::Discard { sink, digest })),
            PullOutput::BadHolder { peer, blob, .. } => {
                self.out.push_back(PeerOutput::Event(PeerEvent::BadHolder { peer, key: blob.key, name: blob.name }))
            }
            PullOutput::Done { sink: Sink::Caller(req), result, .. } => {
                let copying = matches!(&result, Err(PullError::NoHolder { bad, lacking, .. }) if bad.is_empty() && !lacking.is_empty());
                if let Some(g) = self.files.gets.get_mut(&req).filter(|g| copying && g.tries < GET_TRIES) {
                    // A delay, not a loss: ask the same holders again shortly.
                    g.again = Some(now + REGET_MS);
                    return;
                }
                let Some(BlobGet { ev, .. }) = self.files.gets.remove(&req) else { return };
                let ev = match (result, ev) {
                    (Ok(_), ev) => ev,
                    (Err(e), Event::GetDone { key, .. }) => Event::RequestFailed { req, target: key, error: RequestError::Fetch(e) },
                    (Err(_), ev) => ev,
                };
                self.out.push_back(PeerOutput::Event(PeerEvent::Node(ev)));
            }
            PullOutput::Done { sink: Sink::Store, blob, result } => self.on_stored_pull(now, blob, result),
        }
    }

    /// A pull into the store ended: commit waiting offers, or plan another attempt.
    fn on_stored_pull(&mut self, now: Millis, blob: Blob, result: Result<Id, PullError>) {
        let waiting: Vec<(Id, ReqId)> = self.files.offers.iter().filter(|(_, o)| o.blob.digest == blob.digest).map(|(k, _)| *k).collect();
        match result {
            Ok(_) => {
                self.files.held.insert(blob.digest, blob.size);
                self.files.refetch.remove(&blob.digest);
                self.out.push_back(PeerOutput::Blob(BlobCommand::Complete { digest: blob.digest, size: blob.size }));
                self.confirm_holding(now, &blob);
                for (writer, put) in waiting {
                    if let Some(o) = self.files.offers.remove(&(writer, put)) {
                        self.commit_offer(now, writer, put, o);
                    }
                }
                if !self.node_references(&blob.digest) && !self.files.puts.values().any(|p| p.blob.digest == blob.digest) {
                    self.files.gc.insert(blob.digest, now + GC_GRACE_MS);
                }
            }
            Err(_) => {
                for (writer, put) in waiting {
                    self.files.offers.remove(&(writer, put));
                    self.send_xfer(now, writer, XferMsg::Refused { put, reason: Refusal::PullFailed });
                }
                if self.node_references(&blob.digest) {
                    let attempts = self.files.refetch.get(&blob.digest).map_or(0, |r| r.2) + 1;
                    if attempts <= REFETCH_ATTEMPTS {
                        self.files.refetch.insert(blob.digest, (blob, now + REFETCH_MS, attempts));
                    } else {
                        self.files.refetch.remove(&blob.digest);
                        self.forget_confirms(&blob.digest);
                    }
                } else {
                    self.forget_confirms(&blob.digest);
                }
            }
        }
    }

    /// The earliest blob timer.
    pub(super) fn files_timeout(&self) -> Option<Millis> {
        let f = &self.files;
        [
            f.puts.values().filter(|p| p.primary.is_some()).map(|p| p.deadline).min(),
            f.copying.iter().map(|c| c.deadline.min(c.until)).min(),
            f.gets.values().filter_map(|g| g.again).min(),
            f.gc.values().min().copied(),
            f.refetch.values().map(|r| r.1).min(),
            self.pulls.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires due blob timers.
    pub(super) fn files_handle_timeout(&mut self, now: Millis) {
        self.pulls.handle_timeout(now);
        let stalled: Vec<ReqId> =
            self.files.puts.iter().filter(|(_, p)| p.primary.is_some() && p.deadline <= now).map(|(r, _)| *r).collect();
        for req in stalled {
            self.finish_put(now, req, Err(RequestError::PrimaryGone));
        }
        // Also answers puts whose replica set shrank to the holders there are.
        self.check_copies(now, true);
        for (req, g) in self.files.gets.iter_mut().filter(|(_, g)| g.again.is_some_and(|t| t <= now)) {
            g.again = None;
            g.tries += 1;
            self.pulls.start(now, g.blob.clone(), Sink::Caller(*req), g.sources.clone());
        }
        let due: Vec<Id> = self.files.gc.iter().filter(|(_, t)| **t <= now).map(|(d, _)| *d).collect();
        for digest in due {
            self.files.gc.remove(&digest);
            let in_use = self.node_references(&digest)
                || self.files.puts.values().any(|p| p.blob.digest == digest)
                || self.files.offers.values().any(|o| o.blob.digest == digest)
                || self.files.restored.iter().any(|r| r.digest == digest);
            if !in_use && self.files.held.remove(&digest).is_some() {
                self.out.push_back(PeerOutput::Blob(BlobCommand::Delete { digest }));
            }
        }
        let retry: Vec<Id> = self.files.refetch.iter().filter(|(_, r)| r.1 <= now).map(|(d, _)| *d).collect();
        for digest in retry {
            let Some((blob, _, attempts)) = self.files.refetch.get(&digest).cloned() else { continue };
            let writer = self.node.store().get(&blob.key).filter(|r| r.digest == digest).map(|r| r.version.writer);
            match writer {
                Some(w) if !self.files.held.contains_key(&digest) && !self.pulls.is_pulling(Sink::Store, &digest) => {
                    self.files.refetch.insert(digest, (blob.clone(), now + REFETCH_MS * 1000, attempts));
                    let sources = self.blob_sources(w);
                    self.pulls.start(now, blob, Sink::Store, sources);
                }
                _ => {
                    self.files.refetch.remove(&digest);
                    if !self.files.held.contains_key(&digest) && !self.pulls.is_pulling(Sink::Store, &digest) {
                        self.forget_confirms(&digest);
                    }
                }
            }
        }
    }

    /// Sends a transfer frame. One larger than the link accepts is refused
    /// and counted by the link manager; chunk frames are cut to fit, and the
    /// others are far smaller than any usable link's limit.
    fn send_xfer(&mut self, now: Millis, to: Id, msg: XferMsg) {
        let _ = self.links.send(now, to, msg.encode());
    }
}
