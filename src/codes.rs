//! The stable `code` of every error a peer's API reports: `err.code` in the
//! JS API (the TypeScript union `ErrorCode` in `src/web/api_types.rs` lists the
//! same words) and the `code` of `chord-node`'s HTTP API. Set here, once, from the Rust error types, so a program — the
//! page among them — decides by code and never by the wording of a message,
//! which stays free to change.

use crate::message::RouteFailure;
use crate::peer::{ID_TAKEN_MESSAGE, NO_CANDIDATES_MESSAGE, NO_PATH_MESSAGE};
use crate::transfer::{PullError, Refusal};
use crate::{CommandError, RequestError};

/// The code of a command refused at once.
pub fn command_code(e: &CommandError) -> &'static str {
    match e {
        CommandError::NotJoined => "not_joined",
        CommandError::ValueTooLarge(_) | CommandError::BlobSize(_) | CommandError::NameTooLong(_) => "too_large",
        CommandError::Busy(_) => "busy",
        CommandError::StoreFull => "store_full",
        CommandError::AlreadyJoined | CommandError::JoinViaSelf => "invalid",
    }
}

/// The code of a request that failed; `not_sure`, `timeout` and `busy` are worth a retry.
pub fn request_code(e: &RequestError) -> &'static str {
    match e {
        RequestError::NotSure | RequestError::Route(RouteFailure::NotSure) => "not_sure",
        RequestError::Timeout { .. } => "timeout",
        RequestError::Route(RouteFailure::Busy) => "busy",
        RequestError::Route(RouteFailure::StoreFull) | RequestError::Refused(Refusal::StoreFull) => "store_full",
        RequestError::Route(_) => "no_route",
        RequestError::Left => "left",
        RequestError::Fetch(PullError::NoHolder { .. }) => "no_holder",
        RequestError::Fetch(PullError::Storage(why)) => storage_code(why),
        RequestError::Refused(_) => "refused",
        RequestError::Corrupt { .. } => "corrupt",
        RequestError::BadAnswer => "bad_answer",
        RequestError::PrimaryGone => "primary_gone",
        RequestError::IdTaken => "id_taken",
    }
}

/// The code of a failed join, from the bootstrap's reason (the peer layer's
/// constants for the cases a program can act on).
pub fn join_code(reason: &str) -> &'static str {
    match reason {
        ID_TAKEN_MESSAGE => "id_taken",
        NO_PATH_MESSAGE | NO_CANDIDATES_MESSAGE => "no_path",
        _ => "join_failed",
    }
}

/// The words every "storage is full" message of a store contains (a tab's
/// IndexedDB quota, a native node's `--max-bytes` or its disk), so that a
/// failure relayed as a sentence keeps the code `quota`.
pub const QUOTA_FULL: &str = "storage quota is full";
/// The words of a native node's "its disk is full" (`chord-node`'s store).
pub const DISK_FULL: &str = "disk holding the node's data is full";

/// `quota` when a store reported it is full ([`QUOTA_FULL`], [`DISK_FULL`]), else `storage`.
pub fn storage_code(why: &str) -> &'static str {
    if why.contains(QUOTA_FULL) || why.contains(DISK_FULL) {
        "quota"
    } else {
        "storage"
    }
}
