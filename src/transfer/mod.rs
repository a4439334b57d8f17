//! Moving a blob's bytes between two tabs, without IO.
//!
//! Large values are blobs: the Chord core keeps only their manifest
//! ([`Blob`]: key, name, size, SHA-1), and the bytes live in each holder's
//! blob store (IndexedDB in a tab) in chunks of [`CHUNK_BYTES`]. Every
//! movement of bytes — put, get, replication, hand-over, restore after a
//! reload — is one primitive, a **pull**: the receiver asks one holder at a
//! time for chunks ([`XferMsg::Want`]) over a direct link, keeps at most
//! [`WINDOW_CHUNKS`] chunks requested-but-unstored, and asks for the next
//! only when its driver reports a chunk stored. So neither side buffers more
//! than a window per transfer, whatever the file size. The receiver hashes
//! the chunks in order as they arrive and compares the digest at the end; a
//! holder whose bytes do not match is reported and the next holder is asked.
//!
//! Transfer frames share the data channel with Chord and link frames; they
//! start with [`TRANSFER_FRAME_TAG`]. A chunk travels in one
//! [`XferMsg::Chunk`] frame when the puller's end of the link accepts it,
//! else in [`XferMsg::Part`]s that do ([`chunk_frames`]; the browser reports
//! the limit, `RTCSctpTransport.maxMessageSize`); the puller puts the parts
//! together before it hashes and stores the chunk, so chunks in the store keep
//! their size whatever the link.

mod frame;
mod pull;

pub use frame::{chunk_frames, is_transfer_frame, XferMsg, CHUNK_FRAME_OVERHEAD, TRANSFER_FRAME_TAG};
pub use pull::{PullConfig, PullId, PullOutput, Pulls, Sink};

pub use crate::error::{PullError, Refusal};
pub use crate::store::Blob;

/// Bytes per chunk: half of Chromium's 256 KiB data-channel message limit.
/// One IndexedDB value per chunk; in Chromium 128 KiB values wrote and read
/// 2× faster than 64 KiB ones on this machine (values just over 64 KiB are
/// moved out to blob files, and smaller ones cost more transactions).
pub const CHUNK_BYTES: u32 = 128 * 1024;
/// Chunks a pull keeps requested or received-but-unstored: 2 MiB per transfer.
pub const WINDOW_CHUNKS: u32 = 16;

/// Number of chunks of a blob of `size` bytes.
pub fn chunk_count(size: u64) -> u32 {
    size.div_ceil(CHUNK_BYTES as u64).min(u32::MAX as u64) as u32
}

/// Length of chunk `index` of a blob of `size` bytes (0 past the end).
pub fn chunk_len(size: u64, index: u32) -> u32 {
    let start = index as u64 * CHUNK_BYTES as u64;
    size.saturating_sub(start).min(CHUNK_BYTES as u64) as u32
}
