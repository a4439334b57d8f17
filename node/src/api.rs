//! The local HTTP API: `PUT`/`GET`/`HEAD /files/{name}`, `GET /state`,
//! `GET /metrics`.
//!
//! Bytes never pass through the driver's channel except small inline values
//! (see [`command`](crate::command)): a large upload is hashed and cut into
//! [`CHUNK_BYTES`] chunks as it arrives and staged in the [`Store`], and only
//! its [`Blob`] (size, digest) goes to the driver; a blob get is streamed to
//! the client chunk by chunk from the store's get scratch. So neither a put
//! nor a get ever holds a whole file in memory.
//!
//! Scratch space is released by drop guards ([`Upload`], [`Scratch`]), not by
//! the happy path, so a client that goes away mid-body (hyper then drops the
//! handler's future or the response body) leaves nothing behind.
//!
//! Errors are JSON `{"code", "error"}` with the codes a tab's `err.code` uses.

use crate::command::{ApiError, Command, GetResult, Handle, PutResult};
use crate::store::{Store, StoreError};
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use axum::{Json, Router};
use chord::id::Id;
use chord::store::{Blob, MAX_BLOB_BYTES, MAX_NAME_BYTES};
use chord::transfer::{chunk_count, CHUNK_BYTES};
use futures_util::StreamExt;
use serde::Serialize;
use sha1::{Digest, Sha1};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Values up to this size are stored inline (in the record), larger ones as
/// blobs: the same line a tab draws (`src/web/files.rs`).
pub const INLINE_MAX_BYTES: u64 = 16 * 1024;

/// Uploads received at once by default; one more is refused with `busy`.
/// Each holds up to a chunk in memory and writes to the store, so this bounds both.
pub const MAX_UPLOADS: usize = 8;

/// How long an upload may go without a byte by default before it is dropped
/// (with its slot and staged chunks). Long: `chord-node put` may be fed by a
/// slow pipe; the point is only that a stalled client cannot hold a slot forever.
pub const BODY_IDLE: Duration = Duration::from_secs(60);

/// The API's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Uploads received at once.
    pub uploads: usize,
    /// Longest wait for the next bytes of an upload.
    pub body_idle: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { uploads: MAX_UPLOADS, body_idle: BODY_IDLE }
    }
}

/// Seconds a client is asked to wait before retrying a `busy`, `timeout` or
/// `not_sure`: a hint, short because these are transient; a client backs off
/// further on its own if they persist.
const RETRY_AFTER_SECS: &str = "1";

const CHUNK: usize = CHUNK_BYTES as usize;

/// What every handler shares.
#[derive(Clone)]
struct Api {
    handle: Handle,
    store: Arc<Store>,
    uploads: Arc<Semaphore>,
    limits: Limits,
}

/// The API's routes, answering through `handle` and streaming bytes through
/// `store`, with the default [`Limits`].
pub fn router(handle: Handle, store: Arc<Store>) -> Router {
    router_with(handle, store, Limits::default())
}

/// [`router`] with other limits.
pub fn router_with(handle: Handle, store: Arc<Store>, limits: Limits) -> Router {
    let api = Api { handle, store, uploads: Arc::new(Semaphore::new(limits.uploads)), limits };
    Router::new()
        // `get` also answers HEAD (axum strips the body); `get_file` skips
        // the streaming for it.
        .route("/files/{name}", put(put_file).get(get_file))
        .route("/files/", any(async || invalid("a file needs a name")))
        .route("/state", get(state))
        .route("/metrics", get(metrics))
        .fallback(no_route)
        .with_state(api)
}

/// Serves the API on `listener` until `shutdown` completes (then lets the
/// requests under way finish).
pub async fn serve(
    listener: TcpListener,
    handle: Handle,
    store: Arc<Store>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(handle, store)).with_graceful_shutdown(shutdown).await
}

// ---------------------------------------------------------------- errors

/// The HTTP status of an error code.
fn status_of(code: &str) -> StatusCode {
    match code {
        "invalid" => StatusCode::BAD_REQUEST,
        // The client stopped sending (a stalled upload).
        "cancelled" => StatusCode::REQUEST_TIMEOUT,
        "not_found" => StatusCode::NOT_FOUND,
        "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "quota" | "store_full" => StatusCode::INSUFFICIENT_STORAGE,
        "not_joined" | "left" | "timeout" | "not_sure" | "busy" => StatusCode::SERVICE_UNAVAILABLE,
        // The ring answered, but not with the bytes.
        "no_route" | "no_holder" | "refused" | "corrupt" | "bad_answer" | "primary_gone" => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Whether a retry soon may succeed (the tab's API says the same of these codes).
fn worth_retry(code: &str) -> bool {
    matches!(code, "timeout" | "not_sure" | "busy")
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    error: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.code);
        let mut res = (status, Json(ErrorBody { code: self.code, error: &self.message })).into_response();
        if worth_retry(self.code) {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
        }
        res
    }
}

fn store_error(e: StoreError) -> ApiError {
    ApiError::new(e.code(), e.to_string())
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("invalid", message)
}

fn too_large(name: &str, size: Option<u64>) -> ApiError {
    let what = match size {
        Some(n) => format!("{n} bytes"),
        None => "more than 1 GiB".into(),
    };
    ApiError::new("too_large", format!("\"{name}\" is {what}; files of up to 1 GiB can be stored"))
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new("not_found", format!("no such endpoint: {method} {}; try /files/{{name}}, /state or /metrics", uri.path()))
}

/// Runs a blocking store call off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, StoreError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::new("storage", format!("the store call failed: {e}")))?.map_err(store_error)
}

// ---------------------------------------------------------------- names

/// The percent-decoded name: 1 to 1024 bytes of UTF-8, as a tab accepts
/// (the same words as its driver's `check_name`).
fn file_name(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(name) = path.map_err(|e| invalid(format!("the file name in the path is not valid UTF-8 once percent-decoded ({e})")))?;
    if name.is_empty() {
        return Err(invalid("a file needs a name"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(invalid("file names are limited to 1024 bytes"));
    }
    Ok(name)
}

// ---------------------------------------------------------------- put

async fn put_file(
    State(api): State<Api>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<PutResult>), ApiError> {
    let name = file_name(path)?;
    // Refused before a byte of the body is read (a client that sent
    // `Expect: 100-continue` sends none).
    if let Some(n) = declared_length(&headers) {
        if n > MAX_BLOB_BYTES {
            return Err(too_large(&name, Some(n)));
        }
    }
    let permit = api
        .uploads
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::new("busy", format!("{} uploads are already under way; try again in a moment", api.limits.uploads)))?;
    let received = receive(&api.store, &name, body, api.limits.body_idle).await?;
    // The body is in; waiting for the ring does not hold a slot.
    drop(permit);
    let result = match received {
        Received::Inline(value) => api.handle.ask(|reply| Command::PutInline { name, value, reply }).await?,
        Received::Blob(blob) => api.handle.ask(|reply| Command::PutBlob { blob, reply }).await?,
    };
    Ok((StatusCode::CREATED, Json(result)))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// A received body: small values in memory, larger ones staged in the store.
enum Received {
    Inline(Vec<u8>),
    Blob(Blob),
}

/// Reads the body, hashing as it goes. The first [`INLINE_MAX_BYTES`] + 1
/// bytes decide: a body that ends within them is an inline value (empty
/// included, as a tab stores an empty file inline); a longer one becomes an
/// upload, written chunk by chunk, at most one chunk (plus one frame) in memory.
async fn receive(store: &Arc<Store>, name: &str, body: Body, idle: Duration) -> Result<Received, ApiError> {
    let mut frames = body.into_data_stream();
    let mut hasher = Sha1::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut size: u64 = 0;
    let mut upload: Option<Upload> = None;
    let mut index: u32 = 0;
    loop {
        let frame = tokio::time::timeout(idle, frames.next())
            .await
            .map_err(|_| ApiError::new("cancelled", format!("the upload of \"{name}\" stalled: no bytes for {} s", idle.as_secs_f32())))?;
        let Some(frame) = frame else { break };
        // An error here is the client gone or a broken body; `upload` drops.
        let frame = frame.map_err(|e| ApiError::new("cancelled", format!("the upload of \"{name}\" broke off: {e}")))?;
        size += frame.len() as u64;
        if size > MAX_BLOB_BYTES {
            return Err(too_large(name, None));
        }
        hasher.update(&frame);
        pending.extend_from_slice(&frame);
        if upload.is_none() && pending.len() as u64 > INLINE_MAX_BYTES {
            upload = Some(Upload::start(store.clone()).await?);
        }
        if let Some(up) = upload.take() {
            let mut up = up;
            while pending.len() >= CHUNK {
                let rest = pending.split_off(CHUNK);
                up = up.put(index, std::mem::replace(&mut pending, rest)).await?;
                index += 1;
            }
            upload = Some(up);
        }
    }
    let digest = Id(hasher.finalize().into());
    let Some(mut up) = upload else {
        return Ok(Received::Inline(pending));
    };
    if !pending.is_empty() {
        up = up.put(index, pending).await?;
    }
    up.finish(digest, size).await?;
    Ok(Received::Blob(Blob { key: Id::key_of(name), name: name.to_string(), size, digest }))
}

/// An upload being staged in the store; dropped (with its chunks) unless
/// [`Upload::finish`] made it a blob.
struct Upload {
    store: Arc<Store>,
    id: u64,
    finished: bool,
}

impl Upload {
    async fn start(store: Arc<Store>) -> Result<Upload, ApiError> {
        let s = store.clone();
        let id = blocking(move || s.new_upload()).await?;
        Ok(Upload { store, id, finished: false })
    }

    /// Stores chunk `index`. The guard rides into the blocking call and back,
    /// so if the request is dropped meanwhile it drops (and discards the
    /// upload) only after the write, never racing it.
    async fn put(self, index: u32, bytes: Vec<u8>) -> Result<Upload, ApiError> {
        let (up, r) = tokio::task::spawn_blocking(move || {
            let r = self.store.put_upload_chunk(self.id, index, &bytes);
            (self, r)
        })
        .await
        .map_err(|e| ApiError::new("storage", format!("the store call failed: {e}")))?;
        r.map_err(store_error)?;
        Ok(up)
    }

    /// Makes the staged chunks the blob `digest`.
    async fn finish(self, digest: Id, size: u64) -> Result<(), ApiError> {
        let (mut up, r) = tokio::task::spawn_blocking(move || {
            let r = self.store.finish_upload(self.id, &digest, size);
            (self, r)
        })
        .await
        .map_err(|e| ApiError::new("storage", format!("the store call failed: {e}")))?;
        r.map_err(store_error)?;
        up.finished = true;
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (store, id) = (self.store.clone(), self.id);
        let discard = move || {
            if let Err(e) = store.drop_upload(id) {
                tracing::warn!(upload = id, error = %e, "could not drop an abandoned upload");
            }
        };
        off_the_runtime(discard);
    }
}

/// Runs `f` on the blocking pool when there is a runtime, else here (a
/// runtime shutting down; the store clears scratch space on its next open).
fn off_the_runtime(f: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => drop(rt.spawn_blocking(f)),
        Err(_) => f(),
    }
}

// ---------------------------------------------------------------- get

async fn get_file(
    State(api): State<Api>,
    method: Method,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = file_name(path)?;
    let found = api.handle.ask(|reply| Command::Get { name: name.clone(), reply }).await?;
    let Some(found) = found else {
        return Err(ApiError::new("not_found", format!("nothing is stored under \"{name}\"")));
    };
    let (size, digest) = match &found {
        GetResult::Inline { value, digest } => (value.len() as u64, *digest),
        GetResult::Blob { size, digest, .. } => (*size, *digest),
    };
    // From here on a blob's scratch space is released by this guard, whatever happens.
    let scratch = match &found {
        GetResult::Blob { get, .. } => Some(Scratch { store: api.store.clone(), get: *get }),
        GetResult::Inline { .. } => None,
    };
    let etag = format!("\"{}\"", digest.to_hex());
    let etag_value = HeaderValue::from_str(&etag).map_err(|_| ApiError::new("failed", "the digest made no header"))?;
    if if_none_match(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        match found {
            GetResult::Inline { value, .. } => Body::from(value),
            GetResult::Blob { chunks, size, get, .. } => {
                if chunks != chunk_count(size) {
                    return Err(ApiError::new("storage", format!("get {get} of \"{name}\" came with {chunks} chunks for {size} bytes")));
                }
                // `scratch` is `Some` for a blob (set above).
                Body::from_stream(chunk_stream(scratch, size, chunks))
            }
        }
    };
    let mut res = Response::new(body);
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(header::ETAG, etag_value);
    Ok(res)
}

/// Whether `If-None-Match` names `etag` (or is `*`); weak tags compare equal
/// to strong ones, as RFC 9110 §13.1.2 has it for this header.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// A blob get's scratch space in the store, dropped with this guard: after
/// the last chunk is sent, or when the client goes away.
struct Scratch {
    store: Arc<Store>,
    get: u64,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let (store, get) = (self.store.clone(), self.get);
        off_the_runtime(move || {
            if let Err(e) = store.drop_get(get) {
                tracing::warn!(get, error = %e, "could not drop a get's scratch space");
            }
        });
    }
}

/// The chunks of a blob get, read one at a time (hyper asks for the next
/// when the socket has room), each checked for its expected length so a
/// short store never sends a body that disagrees with `Content-Length`.
fn chunk_stream(
    scratch: Option<Scratch>,
    size: u64,
    chunks: u32,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures_util::stream::unfold((scratch, 0u32), move |(scratch, index)| async move {
        let scratch = scratch?;
        if index >= chunks {
            return None; // `scratch` drops here: the get is done.
        }
        let read = tokio::task::spawn_blocking(move || {
            let r = scratch.store.get_get_chunk(scratch.get, index);
            (scratch, r)
        })
        .await;
        let (scratch, r) = match read {
            Ok(x) => x,
            Err(e) => return Some((Err(std::io::Error::other(format!("the store call failed: {e}"))), (None, index))),
        };
        let want = (size - u64::from(index) * u64::from(CHUNK_BYTES)).min(u64::from(CHUNK_BYTES));
        let item = match r {
            Ok(Some(bytes)) if bytes.len() as u64 == want => Ok(Bytes::from(bytes)),
            Ok(Some(bytes)) => Err(format!("chunk {index} of get {} is {} bytes, not {want}", scratch.get, bytes.len())),
            Ok(None) => Err(format!("chunk {index} of get {} is missing", scratch.get)),
            Err(e) => Err(e.to_string()),
        };
        match item {
            Ok(b) => Some((Ok(b), (Some(scratch), index + 1))),
            // Ends the body short: hyper closes the connection, the client
            // sees fewer bytes than `Content-Length`.
            Err(why) => {
                tracing::warn!(error = %why, "a blob get broke off");
                Some((Err(std::io::Error::other(why)), (None, index)))
            }
        }
    })
}

// ---------------------------------------------------------------- state

async fn state(State(api): State<Api>) -> Result<Response, ApiError> {
    Ok(Json(api.handle.state().await?).into_response())
}

async fn metrics(State(api): State<Api>) -> Result<Response, ApiError> {
    let snap = api.handle.state().await?;
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], crate::metrics::render(&snap)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_a_tab_uses_has_a_deliberate_status() {
        for code in ["not_sure", "timeout", "busy", "not_joined", "left"] {
            assert_eq!(status_of(code), StatusCode::SERVICE_UNAVAILABLE, "{code}");
        }
        assert_eq!(status_of("quota"), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(status_of("store_full"), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(status_of("too_large"), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(status_of("invalid"), StatusCode::BAD_REQUEST);
        assert_eq!(status_of("not_found"), StatusCode::NOT_FOUND);
        assert_eq!(status_of("no_holder"), StatusCode::BAD_GATEWAY);
        assert_eq!(status_of("storage"), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn retryable_errors_say_when() {
        let res = ApiError::new("timeout", "no node answered").into_response();
        assert_eq!(res.headers().get(header::RETRY_AFTER).map(|v| v.as_bytes()), Some(&b"1"[..]));
        let res = ApiError::new("invalid", "bad").into_response();
        assert!(res.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn if_none_match_reads_lists_weak_tags_and_star() {
        let tag = "\"ab\"";
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(if_none_match(&with("\"ab\""), tag));
        assert!(if_none_match(&with("\"x\", W/\"ab\""), tag));
        assert!(if_none_match(&with("*"), tag));
        assert!(!if_none_match(&with("\"abc\""), tag));
        assert!(!if_none_match(&HeaderMap::new(), tag));
    }
}
