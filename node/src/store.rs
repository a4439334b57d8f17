//! The node's durable store: the native twin of a tab's IndexedDB blob store
//! (`src/web/blobstore.js`). It holds the node id, the records this node
//! keeps, the chunks of the blobs it holds, and two kinds of scratch space:
//! chunks a get is fetching for an API caller, and chunks an API upload is
//! staging before its digest is known.
//!
//! # Why redb
//!
//! One embedded file, no server and no C toolchain (pure Rust); ACID
//! transactions over copy-on-write B-trees, so a commit either lands whole
//! or not at all and a `kill -9` or power cut never leaves a corrupt file; a
//! small API that is actively kept. The store adds no file format of its
//! own: every write is one redb write transaction with the default
//! (immediate, fsynced) durability, so whatever a method acknowledged is on
//! disk.
//!
//! # Tables (all in `DIR/chord.redb`)
//!
//! | table           | key                                | value                                  |
//! |-----------------|------------------------------------|----------------------------------------|
//! | `meta`          | `"node_id"`                        | the node id, 20 bytes                  |
//! |                 | `"bytes_used"`                     | the byte counter, u64 LE               |
//! | `chunks`        | (digest 20 B, index u32, piece u16) | a piece of a chunk of a held blob     |
//! | `complete`      | digest 20 B                        | size of a blob held whole              |
//! | `records`       | key 20 B                           | a postcard-encoded [`Record`]          |
//! | `get_chunks`    | (get u64, index u32, piece u16)    | a piece of a chunk fetched for a get   |
//! | `upload_chunks` | (upload u64, index u32, piece u16) | a piece of a chunk staged by an upload |
//!
//! A chunk (128 KiB on the wire) is kept as consecutive pieces of at most
//! [`PIECE_BYTES`], which fit redb's 64 KiB pages (see there); a chunk's
//! pieces are always written and removed together.
//!
//! # Quota
//!
//! `bytes_used` counts chunk payloads in `chunks`, `get_chunks` and
//! `upload_chunks` (records and metadata are small and not counted). It is
//! updated in the same transaction as the chunks it counts, so it is right
//! after any crash. A write that would take it past `--max-bytes` is refused
//! with [`StoreError::Full`] before anything is written. A full disk gives
//! the same error: redb aborts the transaction, and since redb then fails
//! every later operation of that handle, the store reopens the file, so the
//! node keeps serving what it has. Copy-on-write means every write, even a
//! delete, needs a few fresh pages, and redb reuses the pages a commit frees
//! only after later commits: on a disk full to the last byte even a delete
//! may be refused until space is freed outside the store.
//!
//! Scratch space (gets and uploads) belongs to requests of one process life:
//! [`Store::open`] clears what a killed process left there.

use chord::id::Id;
use chord::store::Record;
use redb::{Database, Key, ReadTransaction, ReadableDatabase, ReadableTable, Table, TableDefinition, Value, WriteTransaction};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

/// The file in the data directory.
pub const FILE_NAME: &str = "chord.redb";
/// The words of a refused write when `--max-bytes` is reached (the node's
/// counterpart of the browser's "this browser's storage quota is full").
pub const QUOTA_FULL: &str = "this node's storage quota is full";
/// The message of a write refused because the disk is full. Both messages
/// contain the words `chord::codes::storage_code` gives the code `quota`
/// (checked by `full_store_messages_have_the_quota_code`).
pub const DISK_FULL: &str = "the disk holding the node's data is full";

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const CHUNKS: TableDefinition<Row<[u8; 20]>, &[u8]> = TableDefinition::new("chunks");
const COMPLETE: TableDefinition<[u8; 20], u64> = TableDefinition::new("complete");
const RECORDS: TableDefinition<[u8; 20], &[u8]> = TableDefinition::new("records");
const GET_CHUNKS: TableDefinition<Row<u64>, &[u8]> = TableDefinition::new("get_chunks");
const UPLOAD_CHUNKS: TableDefinition<Row<u64>, &[u8]> = TableDefinition::new("upload_chunks");

/// Bytes of a chunk per row. redb keeps a large value alone in a leaf page
/// whose size is a power of two, so a whole 128 KiB chunk (plus the leaf's
/// few bytes of header and key) would take a 256 KiB page: half the disk
/// wasted. Rows of at most 64 KiB less this margin fill 64 KiB pages; a
/// chunk's short last piece shares small pages with other rows.
pub const PIECE_BYTES: usize = 64 * 1024 - 64;

/// redb's page cache. Its default (1 GiB) keeps every page written or read
/// in memory, so the node's resident memory grew with the bytes it stored
/// and served (~150 MiB after 5 × 16 MiB); chunks are written once and read
/// in order, so a small cache loses little.
const CACHE_BYTES: usize = 4 << 20;

const NODE_ID: &str = "node_id";
const BYTES_USED: &str = "bytes_used";

/// Why the store failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The quota (`--max-bytes`) or the disk is full; code `quota`.
    #[error("{0}")]
    Full(String),
    /// Anything else (I/O, a corrupt file); code `storage`.
    #[error("{0}")]
    Failed(String),
}

impl StoreError {
    /// The API code: `quota` or `storage`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Full(_) => "quota",
            StoreError::Failed(_) => "storage",
        }
    }
}

/// Why one attempt at an operation failed, before it becomes a [`StoreError`].
#[derive(Debug)]
enum Fail {
    /// The write would pass `--max-bytes`.
    Quota(u64),
    /// redb failed.
    Db(redb::Error),
    /// The file holds something this code cannot use, or a caller's request
    /// does not fit what is stored.
    Bad(String),
    /// An earlier I/O failure closed the file and reopening it failed.
    Closed(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Fail {
            fn from(e: $t) -> Fail {
                Fail::Db(e.into())
            }
        }
    )*};
}
from_redb!(redb::Error, redb::DatabaseError, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

impl Fail {
    /// Whether the handle is unusable after it (redb latches I/O failures
    /// until the file is closed and reopened).
    fn needs_reopen(&self) -> bool {
        matches!(self, Fail::Db(redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed | redb::Error::Backend(_)))
            || matches!(self, Fail::Closed(_))
    }

    /// Whether the same operation may succeed on a reopened handle (it
    /// failed for an earlier operation's I/O error, not its own).
    fn retry_after_reopen(&self) -> bool {
        matches!(self, Fail::Db(redb::Error::PreviousIo | redb::Error::DatabaseClosed))
    }
}

/// Whether `e` (or what it wraps) is the disk (or a disk quota) being full.
fn is_disk_full(e: &redb::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = match e {
        redb::Error::Io(io) => Some(io),
        redb::Error::Backend(b) => Some(&**b),
        _ => None,
    };
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded) {
                return true;
            }
        }
        next = err.source();
    }
    false
}

/// What a chunk table's rows are filed under: a blob's digest, or a get's
/// or an upload's number. Fixed-width, so a value is its own `SelfType`.
trait Prefix: Key + Copy + 'static + for<'a> Value<SelfType<'a> = Self> {}
impl<P> Prefix for P where P: Key + Copy + 'static + for<'a> Value<SelfType<'a> = P> {}

/// A chunk table's key: (prefix, chunk index, piece).
type Row<P> = (P, u32, u16);

/// The rows of chunk `index` under `prefix`.
fn chunk_rows<P: Prefix>(prefix: P, index: u32) -> RangeInclusive<Row<P>> {
    (prefix, index, 0)..=(prefix, index, u16::MAX)
}

/// The rows of every chunk under `prefix`.
fn all_rows<P: Prefix>(prefix: P) -> RangeInclusive<Row<P>> {
    (prefix, 0, 0)..=(prefix, u32::MAX, u16::MAX)
}

/// Chunk `index` under `prefix`: its pieces joined, `None` if it has none.
fn read_chunk<P: Prefix, T: ReadableTable<Row<P>, &'static [u8]>>(table: &T, prefix: P, index: u32) -> Result<Option<Vec<u8>>, Fail> {
    let mut out: Option<Vec<u8>> = None;
    for row in table.range(chunk_rows(prefix, index))? {
        out.get_or_insert_with(Vec::new).extend_from_slice(row?.1.value());
    }
    Ok(out)
}

/// Stores `bytes` as chunk `index` under `prefix`, in pieces of at most
/// [`PIECE_BYTES`] (at least one piece, so an empty chunk is there too).
/// The chunk's old rows must be gone.
fn insert_chunk<P: Prefix>(table: &mut Table<Row<P>, &[u8]>, prefix: P, index: u32, bytes: &[u8]) -> Result<(), Fail> {
    if bytes.len() > PIECE_BYTES * usize::from(u16::MAX) {
        return Err(Fail::Bad(format!("a chunk of {} bytes is too large", bytes.len())));
    }
    if bytes.is_empty() {
        table.insert((prefix, index, 0), &[][..])?;
    }
    for (piece, part) in bytes.chunks(PIECE_BYTES).enumerate() {
        // Cannot fail: the length check above bounds the number of pieces.
        let piece = u16::try_from(piece).map_err(|_| Fail::Bad("too many pieces".into()))?;
        table.insert((prefix, index, piece), part)?;
    }
    Ok(())
}

/// Removes the rows in `range` of a chunk table; the bytes they held.
fn remove_rows<P: Prefix>(table: &mut Table<Row<P>, &[u8]>, range: RangeInclusive<Row<P>>) -> Result<u64, Fail> {
    let mut freed = 0u64;
    table.retain_in(range, |_, v| {
        freed += v.len() as u64;
        false
    })?;
    Ok(freed)
}

/// The bytes of all rows of a chunk table.
fn table_bytes<P: Prefix, T: ReadableTable<Row<P>, &'static [u8]>>(table: &T) -> Result<u64, Fail> {
    let mut sum = 0u64;
    for row in table.range(..)? {
        sum += row?.1.value().len() as u64;
    }
    Ok(sum)
}

/// The node's durable store. `Send + Sync`: share it as `Arc<Store>`. Every
/// method blocks on disk I/O, so call it from a blocking context.
pub struct Store {
    path: PathBuf,
    max_bytes: Option<u64>,
    /// `None` only after an I/O failure closed the file and reopening failed.
    db: RwLock<Option<Database>>,
    /// The byte counter as committed. Held across every write transaction,
    /// so writes are serialised (redb allows one writer anyway) and the
    /// counter each computes starts from the last one committed.
    used: Mutex<u64>,
    /// A copy of `used` for readers that must not wait for a write.
    used_seen: AtomicU64,
    /// The next upload id. In memory only: uploads never outlive the process
    /// ([`Store::open`] clears them), so ids need not be unique across lives.
    next_upload: AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).field("max_bytes", &self.max_bytes).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating `dir` and the file if needed) the store in `dir`,
    /// with at most `max_bytes` of chunks. Clears a previous life's get
    /// scratch and uploads.
    pub fn open(dir: &Path, max_bytes: Option<u64>) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            let full = matches!(e.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded);
            if full {
                StoreError::Full(DISK_FULL.to_string())
            } else {
                StoreError::Failed(format!("cannot create the data directory {}: {e}", dir.display()))
            }
        })?;
        let path = dir.join(FILE_NAME);
        let db = Database::builder().set_cache_size(CACHE_BYTES).create(&path).map_err(|e| Self::describe(&path, Fail::from(e)))?;
        let store = Store {
            path,
            max_bytes,
            db: RwLock::new(Some(db)),
            used: Mutex::new(0),
            used_seen: AtomicU64::new(0),
            next_upload: AtomicU64::new(1),
        };
        store.write(|txn, used| {
            // Creates every table, so readers never meet a missing one.
            let meta = txn.open_table(META)?;
            txn.open_table(CHUNKS)?;
            txn.open_table(COMPLETE)?;
            txn.open_table(RECORDS)?;
            let mut gets = txn.open_table(GET_CHUNKS)?;
            let mut uploads = txn.open_table(UPLOAD_CHUNKS)?;
            *used = match stored_counter(&meta)? {
                Some(n) => n,
                None => table_bytes(&txn.open_table(CHUNKS)?)? + table_bytes(&gets)? + table_bytes(&uploads)?,
            };
            let freed = remove_rows(&mut gets, (0, 0, 0)..=(u64::MAX, u32::MAX, u16::MAX))?
                + remove_rows(&mut uploads, (0, 0, 0)..=(u64::MAX, u32::MAX, u16::MAX))?;
            if freed > 0 {
                tracing::info!(bytes = freed, "cleared the get scratch and uploads a previous run left");
            }
            *used = used.saturating_sub(freed);
            Ok(())
        })?;
        Ok(store)
    }

    /// The node id kept from an earlier run.
    pub fn node_id(&self) -> Result<Option<Id>, StoreError> {
        self.read(|txn| {
            let meta = txn.open_table(META)?;
            let Some(v) = meta.get(NODE_ID)? else { return Ok(None) };
            let bytes: [u8; 20] =
                v.value().try_into().map_err(|_| Fail::Bad(format!("the stored node id has {} bytes, not 20", v.value().len())))?;
            Ok(Some(Id(bytes)))
        })
    }

    /// Keeps the node id for later runs.
    pub fn set_node_id(&self, id: &Id) -> Result<(), StoreError> {
        self.write(|txn, _| {
            txn.open_table(META)?.insert(NODE_ID, &id.0[..])?;
            Ok(())
        })
    }

    /// Stores chunk `index` of the held blob `digest` (replacing one there).
    pub fn put_chunk(&self, digest: &Id, index: u32, bytes: &[u8]) -> Result<(), StoreError> {
        self.write(|txn, used| self.put_in(&mut txn.open_table(CHUNKS)?, digest.0, index, bytes, used))
    }

    /// Chunk `index` of the held blob `digest`, if stored.
    pub fn get_chunk(&self, digest: &Id, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|txn| read_chunk(&txn.open_table(CHUNKS)?, digest.0, index))
    }

    /// Records that every chunk of `digest` (`size` bytes) is stored.
    pub fn mark_complete(&self, digest: &Id, size: u64) -> Result<(), StoreError> {
        self.write(|txn, _| {
            txn.open_table(COMPLETE)?.insert(digest.0, size)?;
            Ok(())
        })
    }

    /// Forgets the blob `digest`: its chunks and its complete mark.
    pub fn delete_blob(&self, digest: &Id) -> Result<(), StoreError> {
        self.write(|txn, used| {
            let freed = remove_rows(&mut txn.open_table(CHUNKS)?, all_rows(digest.0))?;
            txn.open_table(COMPLETE)?.remove(digest.0)?;
            *used = used.saturating_sub(freed);
            Ok(())
        })
    }

    /// The blobs held whole, with their sizes, in digest order.
    pub fn complete_blobs(&self) -> Result<Vec<(Id, u64)>, StoreError> {
        self.read(|txn| {
            let mut out = Vec::new();
            for row in txn.open_table(COMPLETE)?.range(..)? {
                let (k, v) = row?;
                out.push((Id(k.value()), v.value()));
            }
            Ok(out)
        })
    }

    /// Stores `record` under its key (replacing one there).
    pub fn put_record(&self, record: &Record) -> Result<(), StoreError> {
        let bytes = postcard::to_allocvec(record).map_err(|e| StoreError::Failed(format!("cannot encode a record: {e}")))?;
        self.write(|txn, _| {
            txn.open_table(RECORDS)?.insert(record.key.0, &bytes[..])?;
            Ok(())
        })
    }

    /// Forgets the record under `key`.
    pub fn delete_record(&self, key: &Id) -> Result<(), StoreError> {
        self.write(|txn, _| {
            txn.open_table(RECORDS)?.remove(key.0)?;
            Ok(())
        })
    }

    /// Every stored record. A row that does not decode (or is filed under
    /// another key) is skipped with a warning: one bad row must not cost
    /// the node all the others.
    pub fn records(&self) -> Result<Vec<Record>, StoreError> {
        self.read(|txn| {
            let mut out = Vec::new();
            for row in txn.open_table(RECORDS)?.range(..)? {
                let (k, v) = row?;
                let key = Id(k.value());
                match postcard::from_bytes::<Record>(v.value()) {
                    Ok(record) if record.key == key => out.push(record),
                    Ok(record) => tracing::warn!(%key, found = %record.key, "skipping a stored record filed under another key"),
                    Err(e) => tracing::warn!(%key, error = %e, "skipping a stored record that does not decode"),
                }
            }
            Ok(out)
        })
    }

    /// Stores chunk `index` of the blob fetched for get `get`.
    pub fn put_get_chunk(&self, get: u64, index: u32, bytes: &[u8]) -> Result<(), StoreError> {
        self.write(|txn, used| self.put_in(&mut txn.open_table(GET_CHUNKS)?, get, index, bytes, used))
    }

    /// Chunk `index` fetched for get `get`, if stored.
    pub fn get_get_chunk(&self, get: u64, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|txn| read_chunk(&txn.open_table(GET_CHUNKS)?, get, index))
    }

    /// Forgets every chunk fetched for get `get`.
    pub fn drop_get(&self, get: u64) -> Result<(), StoreError> {
        self.write(|txn, used| {
            let freed = remove_rows(&mut txn.open_table(GET_CHUNKS)?, all_rows(get))?;
            *used = used.saturating_sub(freed);
            Ok(())
        })
    }

    /// A fresh upload id (unique within this process's life).
    pub fn new_upload(&self) -> Result<u64, StoreError> {
        Ok(self.next_upload.fetch_add(1, Ordering::Relaxed))
    }

    /// Stages chunk `index` of upload `upload`.
    pub fn put_upload_chunk(&self, upload: u64, index: u32, bytes: &[u8]) -> Result<(), StoreError> {
        self.write(|txn, used| self.put_in(&mut txn.open_table(UPLOAD_CHUNKS)?, upload, index, bytes, used))
    }

    /// Makes upload `upload` the held blob `digest` of `size` bytes: moves
    /// its chunks to the held chunks and marks the blob complete, in one
    /// transaction, so a crash leaves either the upload or the whole blob.
    /// If `digest` is already complete the upload is just dropped. Fails,
    /// changing nothing, unless the upload's chunks are numbered `0..n`
    /// without a gap and hold exactly `size` bytes.
    pub fn finish_upload(&self, upload: u64, digest: &Id, size: u64) -> Result<(), StoreError> {
        self.write(|txn, used| {
            let mut uploads = txn.open_table(UPLOAD_CHUNKS)?;
            let mut complete = txn.open_table(COMPLETE)?;
            if complete.get(digest.0)?.is_some() {
                let freed = remove_rows(&mut uploads, all_rows(upload))?;
                *used = used.saturating_sub(freed);
                return Ok(());
            }
            let mut chunks = txn.open_table(CHUNKS)?;
            // Whatever part of this blob was here (a pull's partial copy) is
            // replaced by the upload's chunks: the same digest, the same bytes.
            let replaced = remove_rows(&mut chunks, all_rows(digest.0))?;
            let (mut next, mut moved) = (0u32, 0u64);
            for row in uploads.extract_if(all_rows(upload), |_, _| true)? {
                let (k, v) = row?;
                let (_, index, piece) = k.value();
                // Rows come in key order: each chunk's pieces, chunk after chunk.
                if piece == 0 {
                    if index != next {
                        return Err(Fail::Bad(format!("upload {upload} has no chunk {next}")));
                    }
                    next += 1;
                }
                chunks.insert((digest.0, index, piece), v.value())?;
                moved += v.value().len() as u64;
            }
            if moved != size {
                return Err(Fail::Bad(format!("upload {upload} holds {moved} bytes, not the {size} it was finished with")));
            }
            complete.insert(digest.0, size)?;
            *used = used.saturating_sub(replaced);
            Ok(())
        })
    }

    /// Forgets upload `upload` and its chunks.
    pub fn drop_upload(&self, upload: u64) -> Result<(), StoreError> {
        self.write(|txn, used| {
            let freed = remove_rows(&mut txn.open_table(UPLOAD_CHUNKS)?, all_rows(upload))?;
            *used = used.saturating_sub(freed);
            Ok(())
        })
    }

    /// Bytes of chunks stored (held blobs, get scratch, uploads).
    pub fn bytes_used(&self) -> u64 {
        self.used_seen.load(Ordering::Acquire)
    }

    /// The quota, if any.
    pub fn max_bytes(&self) -> Option<u64> {
        self.max_bytes
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `bytes` as chunk `index` under `prefix` in a chunk table
    /// (replacing one there), within the quota.
    fn put_in<P: Prefix>(&self, table: &mut Table<Row<P>, &[u8]>, prefix: P, index: u32, bytes: &[u8], used: &mut u64) -> Result<(), Fail> {
        let mut old = 0u64;
        for row in table.range(chunk_rows(prefix, index))? {
            old += row?.1.value().len() as u64;
        }
        let after = used.saturating_sub(old).saturating_add(bytes.len() as u64);
        if let Some(max) = self.max_bytes {
            // A write that does not grow the store is allowed even over a
            // quota lowered since it was filled.
            if after > max && after > *used {
                return Err(Fail::Quota(max));
            }
        }
        remove_rows(table, chunk_rows(prefix, index))?;
        insert_chunk(table, prefix, index, bytes)?;
        *used = after;
        Ok(())
    }

    /// Runs `f` in a write transaction and commits it with the byte counter
    /// `f` left (starting from the committed one). Nothing is written if `f`
    /// fails.
    fn write<T>(&self, f: impl Fn(&WriteTransaction, &mut u64) -> Result<T, Fail>) -> Result<T, StoreError> {
        self.run(|db| {
            let mut committed = self.used.lock().unwrap_or_else(PoisonError::into_inner);
            let txn = db.begin_write()?;
            let mut used = *committed;
            let out = f(&txn, &mut used)?;
            if used != *committed {
                txn.open_table(META)?.insert(BYTES_USED, &used.to_le_bytes()[..])?;
            }
            txn.commit()?;
            *committed = used;
            self.used_seen.store(used, Ordering::Release);
            Ok(out)
        })
    }

    /// Runs `f` in a read transaction.
    fn read<T>(&self, f: impl Fn(&ReadTransaction) -> Result<T, Fail>) -> Result<T, StoreError> {
        self.run(|db| f(&db.begin_read()?))
    }

    /// Runs `attempt` on the open handle; after an I/O failure reopens the
    /// file, and tries once more if the failure was an earlier operation's.
    fn run<T>(&self, attempt: impl Fn(&Database) -> Result<T, Fail>) -> Result<T, StoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let result = {
                let db = self.db.read().unwrap_or_else(PoisonError::into_inner);
                match db.as_ref() {
                    Some(db) => attempt(db),
                    None => Err(Fail::Closed("the store is closed after an I/O error".into())),
                }
            };
            let fail = match result {
                Ok(v) => return Ok(v),
                Err(fail) => fail,
            };
            if !fail.needs_reopen() {
                return Err(Self::describe(&self.path, fail));
            }
            let retry = fail.retry_after_reopen() || matches!(fail, Fail::Closed(_));
            let reopened = self.reopen();
            if tries >= 2 || !retry {
                return Err(Self::describe(&self.path, fail));
            }
            reopened?;
        }
    }

    /// Closes the handle redb has failed after an I/O error and opens the
    /// file again (redb recovers it to the last commit); reloads the counter.
    fn reopen(&self) -> Result<(), StoreError> {
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        // Dropped first: the file is locked while a handle is open.
        *db = None;
        let fresh =
            Database::builder().set_cache_size(CACHE_BYTES).create(&self.path).map_err(|e| Self::describe(&self.path, Fail::from(e)))?;
        let counter = fresh.begin_read().map_err(Fail::from).and_then(|txn| stored_counter(&txn.open_table(META)?));
        match counter {
            Ok(Some(n)) => {
                *self.used.lock().unwrap_or_else(PoisonError::into_inner) = n;
                self.used_seen.store(n, Ordering::Release);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = ?e, "cannot read the byte counter after reopening the store"),
        }
        *db = Some(fresh);
        tracing::warn!(path = %self.path.display(), "reopened the store after an I/O error");
        Ok(())
    }

    /// The error a caller sees for `fail`.
    fn describe(path: &Path, fail: Fail) -> StoreError {
        match fail {
            Fail::Quota(max) => StoreError::Full(format!("{QUOTA_FULL} (--max-bytes {max})")),
            Fail::Db(e) if is_disk_full(&e) => StoreError::Full(DISK_FULL.to_string()),
            Fail::Db(e) => StoreError::Failed(format!("the node's store {} failed: {e}", path.display())),
            Fail::Bad(why) => StoreError::Failed(format!("the node's store {}: {why}", path.display())),
            Fail::Closed(why) => StoreError::Failed(format!("the node's store {}: {why}", path.display())),
        }
    }
}

/// The byte counter in `meta`, if there is a well-formed one.
fn stored_counter<T: ReadableTable<&'static str, &'static [u8]>>(meta: &T) -> Result<Option<u64>, Fail> {
    let Some(v) = meta.get(BYTES_USED)? else { return Ok(None) };
    match <[u8; 8]>::try_from(v.value()) {
        Ok(b) => Ok(Some(u64::from_le_bytes(b))),
        Err(_) => {
            tracing::warn!(len = v.value().len(), "the stored byte counter is malformed; recounting");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod codes_tests {
    use super::*;

    #[test]
    fn full_store_messages_have_the_quota_code() {
        assert_eq!(chord::codes::storage_code(&format!("{QUOTA_FULL} (--max-bytes 9)")), "quota");
        assert_eq!(chord::codes::storage_code(DISK_FULL), "quota");
        assert_eq!(StoreError::Full(DISK_FULL.into()).code(), "quota");
        assert_eq!(chord::codes::storage_code("the store failed: I/O error"), "storage");
    }
}
