//! Errors a local caller of the node can get back.
//!
//! The blob errors ([`PullError`], [`Refusal`]) live here too, not in
//! `transfer`: [`RequestError`] carries them, and the Chord core must not
//! import the layer above it (`transfer` re-exports them).

use crate::id::Id;
use crate::message::{RouteFailure, MAX_VALUE_BYTES};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a command was refused at once.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CommandError {
    /// The node has not joined a ring (or has left it).
    #[error("this node is not part of a ring yet")]
    NotJoined,
    /// `create` or `join` was called on a node that is already in a ring or joining.
    #[error("this node has already joined or is joining a ring")]
    AlreadyJoined,
    /// The value is larger than one record may be.
    #[error("the value is {0} bytes; at most {MAX_VALUE_BYTES} bytes fit in one record")]
    ValueTooLarge(usize),
    /// Too many requests are already outstanding.
    #[error("too many requests in flight ({0}); try again when some finish")]
    Busy(usize),
    /// The name is longer than a record may carry (or does not hash to the key).
    #[error("the name is {0} bytes; names are limited to 1024 bytes")]
    NameTooLong(usize),
    /// A blob's size is zero or above the limit.
    #[error("a blob of {0} bytes cannot be stored (1 byte to 1 GiB)")]
    BlobSize(u64),
    /// The node's store has no room for another record.
    #[error("this node's store is full")]
    StoreFull,
    /// A node cannot join through itself.
    #[error("a node cannot join the ring through itself")]
    JoinViaSelf,
}

/// Why a request that was accepted did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RequestError {
    /// No answer arrived after every retry.
    #[error("no answer after {attempts} attempts; the nodes on the way may have left")]
    Timeout {
        /// Attempts made.
        attempts: u32,
    },
    /// Routing gave up at some node.
    #[error("routing failed: {0}")]
    Route(RouteFailure),
    /// The node left the ring while the request was in flight.
    #[error("this node left the ring before the request finished")]
    Left,
    /// No holder of a blob's bytes could serve a good copy, or they could not be stored.
    #[error("{0}")]
    Fetch(PullError),
    /// The key's primary did not commit a blob.
    #[error("{0}")]
    Refused(Refusal),
    /// The key's primary and every replica asked answered with a copy that
    /// does not match its digest (or did not answer).
    #[error("every copy found ({copies}) was corrupt, and no other holder answered")]
    Corrupt {
        /// Corrupt copies received.
        copies: u32,
    },
    /// A node on the way answered with a result of the wrong kind (a lookup
    /// answered with a value, say), every time it was asked.
    #[error("the ring answered with something other than what was asked")]
    BadAnswer,
    /// The key's primary stopped copying a blob and did not answer.
    #[error("the tab responsible for it stopped answering while copying it")]
    PrimaryGone,
    /// The ring already has a node with this id.
    #[error("another node already uses this id")]
    IdTaken,
    /// The key's primary found no record but could not confirm the absence
    /// with the replicas it knows (the ring is still settling). Retry later:
    /// this is not "not found".
    #[error("the ring is still settling and could not confirm whether it holds this key; try again")]
    NotSure,
}

/// Why a pull failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PullError {
    /// Every holder tried was unreachable, lacked the bytes, or sent a corrupt copy.
    #[error("{}", no_holder_text(bad, without, lacking))]
    NoHolder {
        /// Holders whose bytes did not match the digest.
        bad: Vec<Id>,
        /// Holders that did not answer.
        without: Vec<Id>,
        /// Holders that answered that they lack the bytes (say a replica
        /// holding the manifest while it still copies them).
        lacking: Vec<Id>,
    },
    /// The driver could not store a chunk (say the storage quota is full).
    #[error("{0}")]
    Storage(String),
}

fn no_holder_text(bad: &[Id], without: &[Id], lacking: &[Id]) -> String {
    let short = |ids: &[Id]| ids.iter().map(|i| i.short()).collect::<Vec<_>>().join(", ");
    let text = no_holder_reached(bad, without, &short);
    match (lacking.is_empty(), bad.is_empty() && without.is_empty()) {
        (true, _) => text,
        (false, true) => format!("no tab asked had its bytes yet ({} answered that they lack them)", short(lacking)),
        (false, false) => format!("{text}; {} answered that they lack its bytes", short(lacking)),
    }
}

fn no_holder_reached(bad: &[Id], without: &[Id], short: &dyn Fn(&[Id]) -> String) -> String {
    match (bad.is_empty(), without.is_empty()) {
        (true, true) => "no tab is known to hold it".into(),
        (true, false) => format!("no tab holding it could be reached (tried {})", short(without)),
        (false, true) => format!("every copy found was corrupt (digest mismatch at {})", short(bad)),
        (false, false) => format!(
            "every copy found was corrupt (digest mismatch at {}) and the other holders could not be reached ({})",
            short(bad),
            short(without)
        ),
    }
}

/// Why a primary did not commit an offered blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum Refusal {
    /// The primary is not in the ring (left or rejoining).
    #[error("the tab responsible for it is not in the ring right now")]
    NotJoined,
    /// Its store is full.
    #[error("the tab responsible for it has no room left")]
    StoreFull,
    /// The bytes it pulled did not match the digest, or could not be read.
    #[error("the bytes could not be copied to the tab responsible for it")]
    PullFailed,
    /// The offer was malformed (size, name).
    #[error("the offer was malformed")]
    Malformed,
}
