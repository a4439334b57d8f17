//! The values a node holds, with the versions that make replicas converge.
//!
//! Every record carries a [`Version`] and the SHA-1 digest of its value. A
//! record either holds its bytes (*inline*, small values that ride the lookup
//! path) or is a *blob manifest*: size and digest only, the bytes kept outside
//! the node (a tab's IndexedDB) and moved by [`crate::transfer`]. Two
//! records for one key are ordered by `(version.seq, version.writer, digest)`,
//! a total order, so every replica that has seen the same set of puts keeps the
//! same winner no matter in which order the puts and replica pushes arrived.

use crate::id::Id;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// An order-independent summary of the records in a key range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeSummary {
    /// Number of records.
    pub count: u64,
    /// XOR of a hash of each record's key, version and digest.
    pub hash: Id,
}

/// The version of a value: a per-key sequence number assigned by the key's
/// primary, and the id of the node whose put created it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// One more than the sequence number of the value the primary held before.
    pub seq: u64,
    /// The node that issued the put (tie-breaker between concurrent primaries).
    pub writer: Id,
}

/// Longest name a record may carry, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Largest value a blob manifest may describe (1 GiB).
pub const MAX_BLOB_BYTES: u64 = 1 << 30;

/// A stored value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The key (SHA-1 of the name).
    pub key: Id,
    /// The version.
    pub version: Version,
    /// SHA-1 of the content, checked by readers.
    pub digest: Id,
    /// Length of the content in bytes.
    pub size: u64,
    /// The name the key was derived from (empty when the writer gave only a key).
    pub name: String,
    /// The content when inline; empty for a blob manifest.
    pub value: Vec<u8>,
}

impl Record {
    /// An inline record without a name, digest computed.
    pub fn new(key: Id, value: Vec<u8>, version: Version) -> Record {
        Record { key, version, digest: Id::hash(&value), size: value.len() as u64, name: String::new(), value }
    }

    /// An inline record stored under the SHA-1 of `name`.
    pub fn named(name: String, value: Vec<u8>, version: Version) -> Record {
        let key = Id::key_of(&name);
        Record { name, ..Record::new(key, value, version) }
    }

    /// A blob manifest: the content's size and digest, its bytes held elsewhere.
    pub fn blob(blob: &Blob, version: Version) -> Record {
        Record { key: blob.key, version, digest: blob.digest, size: blob.size, name: blob.name.clone(), value: Vec::new() }
    }

    /// Whether the bytes are held outside the record.
    pub fn is_blob(&self) -> bool {
        self.value.is_empty() && self.size > 0
    }

    /// The blob this record describes, if it is a manifest.
    pub fn as_blob(&self) -> Option<Blob> {
        self.is_blob().then(|| Blob { key: self.key, name: self.name.clone(), size: self.size, digest: self.digest })
    }

    /// The total order that decides which of two records for one key wins.
    pub fn precedence(&self, other: &Record) -> Ordering {
        (self.version, self.digest).cmp(&(other.version, other.digest))
    }

    /// Whether the record is well formed: the name (if any) hashes to the
    /// key, and an inline value matches its size and digest. A manifest's
    /// digest is checked by whoever moves its bytes.
    pub fn is_intact(&self) -> bool {
        let name_ok = self.name.is_empty() || (self.name.len() <= MAX_NAME_BYTES && Id::key_of(&self.name) == self.key);
        let body_ok = if self.is_blob() {
            self.size <= MAX_BLOB_BYTES
        } else {
            self.value.len() as u64 == self.size && Id::hash(&self.value) == self.digest
        };
        name_ok && body_ok
    }
}

/// What identifies a blob: the key and name it is stored under, its size
/// and the SHA-1 of its content.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Blob {
    /// The key (SHA-1 of the name).
    pub key: Id,
    /// The name.
    pub name: String,
    /// Content length in bytes.
    pub size: u64,
    /// SHA-1 of the content.
    pub digest: Id,
}

/// What a stored record knows about where it has been replicated.
#[derive(Clone, Debug)]
struct Entry {
    record: Record,
    /// Successors that acknowledged holding this version (reset when the version changes).
    replicated_to: Vec<Id>,
}

/// A node's records, ordered by key so that ranges can be handed over.
#[derive(Clone, Debug, Default)]
pub struct Store {
    entries: BTreeMap<Id, Entry>,
    bytes: usize,
}

/// What [`Store::merge`] did with an incoming record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// The key was new here.
    Inserted,
    /// The incoming record won over the one held.
    Replaced,
    /// The record held wins (or is the same); nothing changed.
    Kept,
}

impl Store {
    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total value bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The record for `key`.
    pub fn get(&self, key: &Id) -> Option<&Record> {
        self.entries.get(key).map(|e| &e.record)
    }

    /// Keeps whichever of the held and the incoming record wins.
    pub fn merge(&mut self, record: Record) -> Merge {
        match self.entries.get_mut(&record.key) {
            None => {
                self.bytes += record.value.len();
                self.entries.insert(record.key, Entry { record, replicated_to: Vec::new() });
                Merge::Inserted
            }
            Some(e) => {
                if record.precedence(&e.record) == Ordering::Greater {
                    self.bytes = self.bytes - e.record.value.len() + record.value.len();
                    e.record = record;
                    e.replicated_to.clear();
                    Merge::Replaced
                } else {
                    Merge::Kept
                }
            }
        }
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &Id) -> Option<Record> {
        let e = self.entries.remove(key)?;
        self.bytes -= e.record.value.len();
        Some(e.record)
    }

    /// All records, in key order.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.entries.values().map(|e| &e.record)
    }

    /// Records whose key lies in the ring interval `(from, to]`.
    pub fn in_range<'a>(&'a self, from: &'a Id, to: &'a Id) -> impl Iterator<Item = &'a Record> + 'a {
        self.records().filter(move |r| r.key.in_half_open(from, to))
    }

    /// Records in `(from, to]` not yet acknowledged by `node`.
    pub fn unreplicated<'a>(&'a self, from: &'a Id, to: &'a Id, node: &'a Id) -> impl Iterator<Item = &'a Record> + 'a {
        self.entries.values().filter(move |e| e.record.key.in_half_open(from, to) && !e.replicated_to.contains(node)).map(|e| &e.record)
    }

    /// Notes that `node` acknowledged holding `version` of `key` (or newer),
    /// forgetting acknowledgements from nodes no longer in `replicas`.
    pub fn mark_replicated(&mut self, key: &Id, version: &Version, node: Id, replicas: &[Id]) {
        if let Some(e) = self.entries.get_mut(key) {
            e.replicated_to.retain(|n| replicas.contains(n));
            if e.record.version <= *version && !e.replicated_to.contains(&node) {
                e.replicated_to.push(node);
            }
        }
    }

    /// An order-independent summary of the records in `(lo, hi]`.
    pub fn summary(&self, lo: &Id, hi: &Id) -> RangeSummary {
        let mut s = RangeSummary::default();
        for r in self.in_range(lo, hi) {
            s.count += 1;
            let mut bytes = [0u8; 20 + 8 + 20 + 20];
            bytes[..20].copy_from_slice(&r.key.0);
            bytes[20..28].copy_from_slice(&r.version.seq.to_be_bytes());
            bytes[28..48].copy_from_slice(&r.version.writer.0);
            bytes[48..].copy_from_slice(&r.digest.0);
            let h = Id::hash(&bytes);
            for (a, b) in s.hash.0.iter_mut().zip(h.0) {
                *a ^= b;
            }
        }
        s
    }

    /// Forgets acknowledgements from `node` (it died or left the replica set).
    pub fn forget_replica(&mut self, node: &Id) {
        for e in self.entries.values_mut() {
            e.replicated_to.retain(|n| n != node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(key: u64, seq: u64, writer: u64, value: &[u8]) -> Record {
        Record::new(Id::from_u64(key), value.to_vec(), Version { seq, writer: Id::from_u64(writer) })
    }

    #[test]
    fn newer_version_wins_and_bytes_are_counted() {
        let mut s = Store::default();
        assert_eq!(s.merge(rec(1, 1, 1, b"aaa")), Merge::Inserted);
        assert_eq!(s.merge(rec(1, 2, 1, b"bb")), Merge::Replaced);
        assert_eq!(s.merge(rec(1, 1, 9, b"old")), Merge::Kept);
        assert_eq!(s.get(&Id::from_u64(1)).unwrap().value, b"bb");
        assert_eq!(s.bytes(), 2);
        s.remove(&Id::from_u64(1));
        assert_eq!(s.bytes(), 0);
    }

    #[test]
    fn replication_marks_reset_on_new_version() {
        let mut s = Store::default();
        let n = Id::from_u64(77);
        s.merge(rec(5, 1, 1, b"x"));
        s.mark_replicated(&Id::from_u64(5), &Version { seq: 1, writer: Id::from_u64(1) }, n, &[n]);
        assert_eq!(s.unreplicated(&Id::ZERO, &Id::MAX, &n).count(), 0);
        s.merge(rec(5, 2, 1, b"y"));
        assert_eq!(s.unreplicated(&Id::ZERO, &Id::MAX, &n).count(), 1);
    }

    proptest! {
        /// Any arrival order of the same puts leaves the same winner.
        #[test]
        fn merge_converges_in_any_order(puts in proptest::collection::vec((0u64..4, 0u64..4, any::<u8>()), 1..12), seed in any::<u64>()) {
            let records: Vec<Record> = puts.iter().map(|(seq, w, v)| rec(1, *seq, *w, &[*v])).collect();
            let mut a = Store::default();
            for r in &records { a.merge(r.clone()); }
            let mut shuffled = records.clone();
            let mut x = seed | 1;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut b = Store::default();
            for r in shuffled { b.merge(r); }
            prop_assert_eq!(a.get(&Id::from_u64(1)), b.get(&Id::from_u64(1)));
        }
    }
}
