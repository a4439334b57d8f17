//! What the HTTP API (and anything else outside the driver) asks the driver
//! for, and what it answers: the one channel into the task that owns the
//! [`Peer`](chord::peer::Peer).
//!
//! Bytes never ride this channel except for small inline values: a blob put
//! is staged in the [`Store`](crate::store::Store) first and named here by its
//! [`Blob`]; a blob get is answered once its chunks are in the store's get
//! scratch space, from which the API streams them.

use chord::peer::PeerState;
use chord::store::Blob;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

/// Why a command failed: a stable code (the same words as the JS API's
/// `err.code`) and a sentence for a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// `not_joined`, `timeout`, `not_found`, `quota`, `too_large`, `invalid`, …
    pub code: &'static str,
    /// For the user.
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into() }
    }
}

/// The answer a command waits for.
pub type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// What a put resolves to: the JS API's put result (one shape, in the core).
pub type PutResult = chord::peer::PutReport;

/// What a get found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GetResult {
    /// A small value, carried in the record.
    Inline {
        /// The bytes.
        value: Vec<u8>,
        /// Their SHA-1.
        digest: chord::id::Id,
    },
    /// A blob whose chunks are now in the store's get scratch under `get`
    /// (`Store::get_get_chunk(get, index)` for `index` in `0..chunks`). The
    /// reader must call `Store::drop_get(get)` when done (or gone).
    Blob {
        /// The scratch space's number.
        get: u64,
        /// Bytes in all.
        size: u64,
        /// SHA-1 of the content.
        digest: chord::id::Id,
        /// Number of chunks.
        chunks: u32,
    },
}

/// Counters the driver keeps, beyond the peer's own state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriverStats {
    /// Puts asked for through the API, and those that failed.
    pub puts: u64,
    /// Of `puts`, those that failed.
    pub puts_failed: u64,
    /// Gets asked for through the API.
    pub gets: u64,
    /// Of `gets`, those that failed (not found is not a failure).
    pub gets_failed: u64,
    /// Bytes sent on data channels.
    pub bytes_sent: u64,
    /// Bytes received on data channels.
    pub bytes_received: u64,
    /// UDP datagrams no link accepted (stray, or for a closed link).
    pub stray_datagrams: u64,
    /// Bytes of blob chunks in the store.
    pub store_bytes: u64,
}

/// What `GET /state` shows: the peer's state (the shape of a tab's `state()`) and the driver's counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// The peer's state, as a tab's `state()` has it.
    #[serde(flatten)]
    pub state: PeerState,
    /// The driver's counters.
    pub driver: DriverStats,
}

/// A request to the driver.
#[derive(Debug)]
pub enum Command {
    /// Store a small value (at most 16 KiB) inline under SHA-1(`name`).
    PutInline {
        /// The name.
        name: String,
        /// The bytes.
        value: Vec<u8>,
        /// Answered when the primary stored it.
        reply: Reply<PutResult>,
    },
    /// Store a blob whose chunks are complete in the store under `blob.digest`.
    PutBlob {
        /// Key, name, size, digest.
        blob: Blob,
        /// Answered when the ring's holders have it.
        reply: Reply<PutResult>,
    },
    /// Fetch what is stored under SHA-1(`name`); `Ok(None)`: nothing is.
    Get {
        /// The name.
        name: String,
        /// The answer.
        reply: Reply<Option<GetResult>>,
    },
    /// The state and counters.
    State {
        /// The answer.
        reply: oneshot::Sender<Snapshot>,
    },
}

/// A cloneable handle to the driver.
#[derive(Clone, Debug)]
pub struct Handle {
    tx: mpsc::Sender<Command>,
}

/// Commands queued for the driver at most (the API waits beyond).
pub const COMMAND_QUEUE: usize = 64;

impl Handle {
    /// A handle and the receiver the driver reads.
    pub fn channel() -> (Handle, mpsc::Receiver<Command>) {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        (Handle { tx }, rx)
    }

    /// Sends `make(reply)` and waits for the answer.
    pub async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// The state and counters.
    pub async fn state(&self) -> Result<Snapshot, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::State { reply }).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }
}

fn stopped() -> ApiError {
    ApiError::new("left", "the node is shutting down")
}
