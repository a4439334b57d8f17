//! The receiving side of a transfer: [`Pulls`], one [`Pull`] per blob being fetched.

use super::{chunk_count, chunk_len, XferMsg, CHUNK_BYTES, WINDOW_CHUNKS};
use crate::error::PullError;
use crate::id::Id;
use crate::message::ReqId;
use crate::store::Blob;
use crate::time::Millis;
use sha1::{Digest, Sha1};
use std::collections::{BTreeMap, VecDeque};

pub use super::frame::PullId;

/// Where the driver puts the bytes of a pull.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sink {
    /// Into this peer's blob store (it will hold the blob).
    Store,
    /// To the caller of a `get` (request `ReqId`), not kept.
    Caller(ReqId),
}

/// How pulls behave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullConfig {
    /// Chunks requested or received but not yet stored, at most.
    pub window: u32,
    /// A holder that sends nothing for this long is asked again for what is
    /// outstanding (its link may have been reopening: a reloaded tab), and
    /// after `stall_tries` such periods given up for the next one. A period
    /// covers opening a link through the ring (its connect timeout is 10 s).
    pub stall_ms: u64,
    /// Stall periods before a holder is given up.
    pub stall_tries: u32,
}

impl Default for PullConfig {
    fn default() -> Self {
        PullConfig { window: WINDOW_CHUNKS, stall_ms: 10_000, stall_tries: 2 }
    }
}

/// What the pulls want the driver (the peer) to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullOutput {
    /// Send `msg` to holder `to` (possibly this peer itself).
    Send {
        /// The holder.
        to: Id,
        /// The request.
        msg: XferMsg,
    },
    /// Store chunk `index` (in order per pull), then call [`Pulls::written`].
    Write {
        /// The pull.
        pull: PullId,
        /// Where to.
        sink: Sink,
        /// The blob.
        digest: Id,
        /// Which chunk.
        index: u32,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// Bytes stored so far for `sink`.
    Progress {
        /// Whose.
        sink: Sink,
        /// The blob.
        digest: Id,
        /// Bytes stored.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// Forget every chunk written for `sink` so far: they came from a corrupt copy.
    Discard {
        /// Whose.
        sink: Sink,
        /// The blob.
        digest: Id,
    },
    /// `peer` sent bytes that do not match the blob's digest.
    BadHolder {
        /// Whose pull found it.
        sink: Sink,
        /// The holder.
        peer: Id,
        /// The blob.
        blob: Blob,
    },
    /// The pull ended: every chunk is stored and the digest matched (the
    /// holder it came from), or it failed.
    Done {
        /// Whose.
        sink: Sink,
        /// The blob.
        blob: Blob,
        /// The holder that served it, or why it failed.
        result: Result<Id, PullError>,
    },
}

/// Why a holder was given up.
#[derive(Clone, Copy)]
enum Rejection {
    /// Its bytes did not match the digest.
    Corrupt,
    /// It did not answer (or no link to it could be had).
    Silent,
    /// It answered that it lacks the bytes.
    Lacking,
}

struct Pull {
    blob: Blob,
    sink: Sink,
    /// Holders to try, in order; `at` is the one being asked.
    sources: Vec<Id>,
    at: usize,
    chunks: u32,
    /// Next chunk to ask for.
    next_want: u32,
    /// Chunks received ahead of `next_hash` (the data channel is ordered,
    /// but a holder's reads may finish out of order).
    ahead: BTreeMap<u32, Vec<u8>>,
    /// Chunks arriving in [`XferMsg::Part`]s: the bytes so far (at most a
    /// window of chunks).
    parts: BTreeMap<u32, Vec<u8>>,
    /// Next chunk to hash and hand to the driver.
    next_hash: u32,
    hasher: Sha1,
    /// Chunks handed to the driver and not yet confirmed stored.
    unwritten: u32,
    written: u32,
    /// Whether every chunk arrived and the digest matched.
    verified: bool,
    deadline: Millis,
    /// Stall periods passed without a chunk from the current holder.
    stalls: u32,
    bad: Vec<Id>,
    without: Vec<Id>,
    lacking: Vec<Id>,
}

/// Every pull of one peer. See the [module docs](super).
#[derive(Default)]
pub struct Pulls {
    cfg: PullConfig,
    pulls: BTreeMap<PullId, Pull>,
    next_id: PullId,
    out: VecDeque<PullOutput>,
}

impl std::fmt::Debug for Pulls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pulls").field("active", &self.pulls.len()).finish()
    }
}

impl Pulls {
    /// No pulls yet.
    pub fn new(cfg: PullConfig) -> Pulls {
        Pulls { cfg, pulls: BTreeMap::new(), next_id: PullId(1), out: VecDeque::new() }
    }

    /// Next output, if any.
    pub fn poll_output(&mut self) -> Option<PullOutput> {
        self.out.pop_front()
    }

    /// When [`Pulls::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.pulls.values().map(|p| p.deadline).min()
    }

    /// Whether a pull for `sink` and `digest` is running.
    pub fn is_pulling(&self, sink: Sink, digest: &Id) -> bool {
        self.pulls.values().any(|p| p.sink == sink && p.blob.digest == *digest)
    }

    /// Digests being pulled into the store.
    pub fn storing(&self) -> impl Iterator<Item = &Id> {
        self.pulls.values().filter(|p| p.sink == Sink::Store).map(|p| &p.blob.digest)
    }

    /// Starts fetching `blob` from `sources`, tried in order (duplicates skipped).
    pub fn start(&mut self, now: Millis, blob: Blob, sink: Sink, sources: Vec<Id>) {
        let mut uniq: Vec<Id> = Vec::new();
        for s in sources {
            if !uniq.contains(&s) {
                uniq.push(s);
            }
        }
        let pull = Pull {
            chunks: chunk_count(blob.size),
            blob,
            sink,
            sources: uniq,
            at: 0,
            next_want: 0,
            ahead: BTreeMap::new(),
            parts: BTreeMap::new(),
            next_hash: 0,
            hasher: Sha1::new(),
            unwritten: 0,
            written: 0,
            verified: false,
            deadline: now + self.cfg.stall_ms,
            stalls: 0,
            bad: Vec::new(),
            without: Vec::new(),
            lacking: Vec::new(),
        };
        self.begin(now, pull);
    }

    /// Stops the pulls for `sink` (of `digest` only, if given); their chunks
    /// are discarded. Returns whether one ran.
    pub fn cancel(&mut self, sink: Sink, digest: Option<&Id>) -> bool {
        let ids: Vec<PullId> =
            self.pulls.iter().filter(|(_, p)| p.sink == sink && digest.is_none_or(|d| *d == p.blob.digest)).map(|(id, _)| *id).collect();
        for id in &ids {
            if let Some(p) = self.pulls.remove(id) {
                self.out.push_back(PullOutput::Discard { sink, digest: p.blob.digest });
            }
        }
        !ids.is_empty()
    }

    /// A chunk from `from`. Answers from anyone but the holder being asked,
    /// for chunks not asked for, or of the wrong length are ignored; returns
    /// whether the chunk was taken.
    pub fn on_chunk(&mut self, now: Millis, from: Id, pull: PullId, index: u32, bytes: Vec<u8>) -> bool {
        let stall = self.cfg.stall_ms;
        let Some(p) = self.pulls.get_mut(&pull) else { return false };
        if p.sources.get(p.at) != Some(&from) || index >= p.next_want || index < p.next_hash || p.ahead.contains_key(&index) {
            return false;
        }
        if bytes.len() != chunk_len(p.blob.size, index) as usize {
            // A holder that sends a chunk of the wrong length has a bad copy.
            self.reject_source(now, pull, Rejection::Corrupt);
            return false;
        }
        p.deadline = now + stall;
        p.stalls = 0;
        p.parts.remove(&index);
        p.ahead.insert(index, bytes);
        while let Some(bytes) = p.ahead.remove(&p.next_hash) {
            p.hasher.update(&bytes);
            let index = p.next_hash;
            p.next_hash += 1;
            p.unwritten += 1;
            self.out.push_back(PullOutput::Write { pull, sink: p.sink, digest: p.blob.digest, index, bytes });
        }
        if p.next_hash == p.chunks {
            let digest = Id(p.hasher.clone().finalize().into());
            if digest != p.blob.digest {
                self.reject_source(now, pull, Rejection::Corrupt);
                return true;
            }
            p.verified = true;
        }
        self.advance(pull);
        true
    }

    /// Part of a chunk from `from` ([`XferMsg::Part`]): bytes from `offset`
    /// on. A holder sends a chunk's parts in order over an ordered channel, so
    /// a part goes on where the chunk's bytes so far end; one at offset 0
    /// starts the chunk afresh (the holder answers a repeated want), and any
    /// other is ignored (the chunk is asked for again after a stall). The
    /// complete chunk is taken as by [`Pulls::on_chunk`]. Returns whether the
    /// part was taken.
    pub fn on_part(&mut self, now: Millis, from: Id, pull: PullId, index: u32, offset: u32, bytes: Vec<u8>) -> bool {
        let stall = self.cfg.stall_ms;
        let Some(p) = self.pulls.get_mut(&pull) else { return false };
        if p.sources.get(p.at) != Some(&from) || index >= p.next_want || index < p.next_hash || p.ahead.contains_key(&index) {
            return false;
        }
        if offset == 0 {
            p.parts.insert(index, Vec::new());
        }
        let Some(so_far) = p.parts.get_mut(&index).filter(|b| b.len() == offset as usize) else { return false };
        so_far.extend_from_slice(&bytes);
        let (len, want) = (so_far.len(), chunk_len(p.blob.size, index) as usize);
        if len > want {
            // More bytes than the chunk has: a bad copy.
            self.reject_source(now, pull, Rejection::Corrupt);
            return false;
        }
        p.deadline = now + stall;
        p.stalls = 0;
        if len == want {
            let chunk = p.parts.remove(&index).unwrap_or_default();
            return self.on_chunk(now, from, pull, index, chunk);
        }
        true
    }

    /// The holder being asked does not have the blob.
    pub fn on_missing(&mut self, now: Millis, from: Id, pull: PullId) {
        if self.pulls.get(&pull).is_some_and(|p| p.sources.get(p.at) == Some(&from)) {
            self.reject_source(now, pull, Rejection::Lacking);
        }
    }

    /// No link to `peer` can be had now (an attempt found no network path,
    /// or its path failed and is being restarted): every pull asking it
    /// that has another holder left moves on to it at once instead of
    /// waiting out its stall periods. A pull with no other holder keeps
    /// waiting: the link may come back.
    pub fn unreachable(&mut self, now: Millis, peer: Id) {
        let asking: Vec<PullId> = self
            .pulls
            .iter()
            .filter(|(_, p)| p.sources.get(p.at) == Some(&peer) && p.at + 1 < p.sources.len())
            .map(|(id, _)| *id)
            .collect();
        for id in asking {
            self.reject_source(now, id, Rejection::Silent);
        }
    }

    /// The driver stored chunk `index` of `pull` (or could not).
    pub fn written(&mut self, pull: PullId, index: u32, result: Result<(), String>) {
        let Some(p) = self.pulls.get_mut(&pull) else { return };
        if index >= p.next_hash || p.unwritten == 0 {
            return;
        }
        if let Err(e) = result {
            let p = self.pulls.remove(&pull).expect("present: looked up above");
            self.out.push_back(PullOutput::Discard { sink: p.sink, digest: p.blob.digest });
            self.out.push_back(PullOutput::Done { sink: p.sink, blob: p.blob, result: Err(PullError::Storage(e)) });
            return;
        }
        p.unwritten -= 1;
        p.written += 1;
        let done = (p.written as u64 * CHUNK_BYTES as u64).min(p.blob.size);
        self.out.push_back(PullOutput::Progress { sink: p.sink, digest: p.blob.digest, done, total: p.blob.size });
        self.advance(pull);
    }

    /// Asks silent holders again; gives up on those silent for too long.
    pub fn handle_timeout(&mut self, now: Millis) {
        let due: Vec<PullId> = self.pulls.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| *id).collect();
        for id in due {
            let Some(p) = self.pulls.get_mut(&id) else { continue };
            p.stalls += 1;
            if p.stalls >= self.cfg.stall_tries {
                self.reject_source(now, id, Rejection::Silent);
                continue;
            }
            p.deadline = now + self.cfg.stall_ms;
            // Ask again for every chunk requested and not received.
            let to = p.sources[p.at];
            for index in p.next_hash..p.next_want {
                if !p.ahead.contains_key(&index) {
                    self.out.push_back(PullOutput::Send { to, msg: XferMsg::Want { pull: id, digest: p.blob.digest, index } });
                }
            }
        }
    }

    /// Asks for more chunks while the window allows; finishes a verified pull.
    fn advance(&mut self, pull: PullId) {
        let window = self.cfg.window;
        let Some(p) = self.pulls.get_mut(&pull) else { return };
        if p.verified {
            if p.unwritten == 0 {
                let p = self.pulls.remove(&pull).expect("present: looked up above");
                let source = p.sources[p.at];
                self.out.push_back(PullOutput::Done { sink: p.sink, blob: p.blob, result: Ok(source) });
            }
            return;
        }
        let Some(&to) = p.sources.get(p.at) else { return };
        while p.next_want < p.chunks && (p.next_want - p.next_hash) + p.unwritten < window {
            let msg = XferMsg::Want { pull, digest: p.blob.digest, index: p.next_want };
            p.next_want += 1;
            self.out.push_back(PullOutput::Send { to, msg });
        }
    }

    /// Drops the holder being asked and starts over with the next one,
    /// under a new pull number.
    fn reject_source(&mut self, now: Millis, pull: PullId, why: Rejection) {
        let Some(mut p) = self.pulls.remove(&pull) else { return };
        let source = p.sources[p.at];
        match why {
            Rejection::Corrupt => {
                p.bad.push(source);
                self.out.push_back(PullOutput::BadHolder { sink: p.sink, peer: source, blob: p.blob.clone() });
            }
            Rejection::Silent => p.without.push(source),
            Rejection::Lacking => p.lacking.push(source),
        }
        if p.next_hash > 0 {
            self.out.push_back(PullOutput::Discard { sink: p.sink, digest: p.blob.digest });
        }
        p.at += 1;
        p.next_want = 0;
        p.next_hash = 0;
        p.ahead.clear();
        p.parts.clear();
        p.hasher = Sha1::new();
        p.unwritten = 0;
        p.written = 0;
        p.stalls = 0;
        p.deadline = now + self.cfg.stall_ms;
        self.begin(now, p);
    }

    /// Registers `p` under a fresh number and asks its current holder.
    fn begin(&mut self, _now: Millis, p: Pull) {
        if p.at >= p.sources.len() {
            let result = Err(PullError::NoHolder { bad: p.bad, without: p.without, lacking: p.lacking });
            self.out.push_back(PullOutput::Done { sink: p.sink, blob: p.blob, result });
            return;
        }
        let id = self.next_id;
        self.next_id = PullId(id.0 + 1);
        self.pulls.insert(id, p);
        self.advance(id);
    }
}

#[cfg(test)]
mod tests;
