//! The client side of the local HTTP API, for `chord-node put|get|state`:
//! one HTTP/1.1 connection per command to the node's API address.
//!
//! Files are streamed both ways (64 KiB reads up, the node's chunks down),
//! never held whole. A get checks what it received against the response's
//! `Content-Length` and `ETag` (the SHA-1 of the content), so a broken-off
//! or damaged transfer is an error, not a short file.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use sha1::{Digest, Sha1};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes read from a file per body frame.
const READ_BYTES: usize = 64 * 1024;

/// Bytes of an error answer read at most (they are one small JSON object).
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Why a client command failed. Displayed, it is the sentence to show.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered at the API address.
    #[error("could not reach the node's API at {addr}: {why} (is chord-node running?)")]
    Connect {
        /// The address tried.
        addr: SocketAddr,
        /// What the system said.
        why: String,
    },
    /// The node answered with an error: its `code` and sentence.
    #[error("{message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// `not_found`, `not_joined`, `too_large`, … (the JS API's words).
        code: String,
        /// The node's sentence.
        message: String,
    },
    /// A local file could not be read or written.
    #[error("{0}")]
    File(String),
    /// The exchange with the node broke off.
    #[error("{0}")]
    Http(String),
    /// The bytes received are not what the node announced (length or SHA-1).
    #[error("{0}")]
    Corrupt(String),
}

impl ClientError {
    /// A stable code: the node's for [`ClientError::Api`], else `unreachable`,
    /// `file`, `http` or `corrupt`.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Connect { .. } => "unreachable",
            ClientError::Api { code, .. } => code,
            ClientError::File(_) => "file",
            ClientError::Http(_) => "http",
            ClientError::Corrupt(_) => "corrupt",
        }
    }
}

/// A client command, as the CLI's subcommands give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCommand {
    /// Store a file (`None` or `-`: standard input) under `name`; prints the put's result as JSON.
    Put {
        /// The name.
        name: String,
        /// Where the bytes come from.
        file: Option<PathBuf>,
    },
    /// Fetch `name` into a file (`None` or `-`: standard output).
    Get {
        /// The name.
        name: String,
        /// Where the bytes go.
        out: Option<PathBuf>,
    },
    /// Print the node's state as JSON.
    State,
}

/// Runs `cmd` against the node's API at `api`.
pub async fn run(api: SocketAddr, cmd: ClientCommand) -> Result<(), ClientError> {
    let print = |v: &serde_json::Value| {
        // A `Value` always serializes.
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    };
    match cmd {
        ClientCommand::Put { name, file } => print(&put(api, &name, file.as_deref()).await?),
        ClientCommand::Get { name, out } => {
            get(api, &name, out.as_deref()).await?;
        }
        ClientCommand::State => print(&state(api).await?),
    }
    Ok(())
}

/// `-` names the standard stream, as usual for a CLI.
fn named(path: Option<&Path>) -> Option<&Path> {
    path.filter(|p| p.as_os_str() != "-")
}

/// Stores the file at `from` (standard input if `None`) under `name`;
/// returns the node's put result (`key`, `size`, `digest`, `holders`, …).
pub async fn put(api: SocketAddr, name: &str, from: Option<&Path>) -> Result<serde_json::Value, ClientError> {
    let mut req = Request::builder().method(Method::PUT).uri(files_uri(name));
    let body = match named(from) {
        Some(path) => {
            let file = tokio::fs::File::open(path).await.map_err(|e| file_error("read", path, e))?;
            let len = file.metadata().await.map_err(|e| file_error("read", path, e))?.len();
            if len > chord::store::MAX_BLOB_BYTES {
                return Err(ClientError::Api {
                    status: 413,
                    code: "too_large".into(),
                    message: format!("\"{name}\" is {len} bytes; files of up to 1 GiB can be stored"),
                });
            }
            // Known up front, so the node can refuse an oversize file before reading it.
            req = req.header(header::CONTENT_LENGTH, len);
            reader_body(file)
        }
        // Unknown length: sent chunked.
        None => reader_body(tokio::io::stdin()),
    };
    let res = send(api, req, body).await?;
    if res.status() != StatusCode::CREATED {
        return Err(api_error(res).await);
    }
    json(res).await
}

/// Fetches `name` into the file `to` (standard output if `None`); returns
/// the bytes written. A file left incomplete by an error is removed.
pub async fn get(api: SocketAddr, name: &str, to: Option<&Path>) -> Result<u64, ClientError> {
    let req = Request::builder().method(Method::GET).uri(files_uri(name));
    let res = send(api, req, empty()).await?;
    if res.status() != StatusCode::OK {
        return Err(api_error(res).await);
    }
    let length: Option<u64> = header_str(&res, header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    let digest = header_str(&res, header::ETAG).map(|v| v.trim_start_matches("W/").trim_matches('"').to_ascii_lowercase());
    match named(to) {
        Some(path) => {
            let file = tokio::fs::File::create(path).await.map_err(|e| file_error("write", path, e))?;
            let r = receive(res.into_body(), file, name, length, digest.as_deref()).await;
            if r.is_err() {
                // Best effort: the error says what went wrong.
                let _ = tokio::fs::remove_file(path).await;
            }
            r
        }
        None => receive(res.into_body(), tokio::io::stdout(), name, length, digest.as_deref()).await,
    }
}

/// The node's state and counters (`GET /state`).
pub async fn state(api: SocketAddr) -> Result<serde_json::Value, ClientError> {
    let req = Request::builder().method(Method::GET).uri("/state");
    let res = send(api, req, empty()).await?;
    if res.status() != StatusCode::OK {
        return Err(api_error(res).await);
    }
    json(res).await
}

type ReqBody = BoxBody<Bytes, io::Error>;

fn empty() -> ReqBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A body streamed from `reader`, one read per frame.
fn reader_body(reader: impl AsyncRead + Send + Sync + Unpin + 'static) -> ReqBody {
    let frames = futures_util::stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        let mut buf = vec![0; READ_BYTES];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), Some(reader)))
            }
            // Ends the body after the error: hyper aborts the request.
            Err(e) => Some((Err(e), None)),
        }
    });
    BodyExt::boxed(StreamBody::new(frames))
}

/// `/files/{name}` with the name percent-encoded (everything but RFC 3986's
/// unreserved characters), so `/`, `?`, `%` and non-ASCII survive as one segment.
fn files_uri(name: &str) -> String {
    let mut uri = String::from("/files/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

/// Sends one request on a fresh connection and returns the response head;
/// the connection lives on (in a task) while the body is read.
async fn send(api: SocketAddr, req: hyper::http::request::Builder, body: ReqBody) -> Result<Response<Incoming>, ClientError> {
    let req =
        req.header(header::HOST, api.to_string()).body(body).map_err(|e| ClientError::Http(format!("could not build the request: {e}")))?;
    let tcp = TcpStream::connect(api).await.map_err(|e| ClientError::Connect { addr: api, why: e.to_string() })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| ClientError::Http(format!("could not talk to the node's API at {api}: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "the API connection ended with an error");
        }
    });
    sender.send_request(req).await.map_err(|e| ClientError::Http(format!("the node's API at {api} did not answer: {e}")))
}

/// The error a non-success response carries (`{"code", "error"}`).
async fn api_error(res: Response<Incoming>) -> ClientError {
    #[derive(Deserialize)]
    struct Body {
        code: String,
        error: String,
    }
    let status = res.status();
    let bytes = Limited::new(res.into_body(), MAX_ERROR_BYTES).collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    match serde_json::from_slice::<Body>(&bytes) {
        Ok(b) => ClientError::Api { status: status.as_u16(), code: b.code, message: b.error },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            code: "failed".into(),
            message: format!("the node answered {status}: {}", String::from_utf8_lossy(&bytes).trim()),
        },
    }
}

async fn json(res: Response<Incoming>) -> Result<serde_json::Value, ClientError> {
    let bytes = res.into_body().collect().await.map_err(|e| ClientError::Http(format!("the node's answer broke off: {e}")))?.to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Http(format!("the node's answer is not JSON: {e}")))
}

fn header_str(res: &Response<Incoming>, name: header::HeaderName) -> Option<&str> {
    res.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok())
}

fn file_error(verb: &str, path: &Path, e: io::Error) -> ClientError {
    ClientError::File(format!("could not {verb} {}: {e}", path.display()))
}

/// Writes the body to `out`, hashing and counting, then checks both against
/// what the node announced.
async fn receive(
    mut body: Incoming,
    mut out: impl AsyncWrite + Unpin,
    name: &str,
    length: Option<u64>,
    digest: Option<&str>,
) -> Result<u64, ClientError> {
    let mut hasher = Sha1::new();
    let mut got: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ClientError::Http(format!("the transfer of \"{name}\" broke off after {got} bytes: {e}")))?;
        if let Ok(data) = frame.into_data() {
            hasher.update(&data);
            got += data.len() as u64;
            out.write_all(&data).await.map_err(|e| ClientError::File(format!("could not write \"{name}\": {e}")))?;
        }
    }
    out.flush().await.map_err(|e| ClientError::File(format!("could not write \"{name}\": {e}")))?;
    if let Some(n) = length.filter(|n| *n != got) {
        return Err(ClientError::Corrupt(format!("\"{name}\" came with {got} bytes, not the {n} announced")));
    }
    let sha1 = hex::encode(hasher.finalize());
    if let Some(d) = digest.filter(|d| *d != sha1) {
        return Err(ClientError::Corrupt(format!("\"{name}\" came with SHA-1 {sha1}, not the {d} announced")));
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_percent_encoded_segment() {
        assert_eq!(files_uri("notes.txt"), "/files/notes.txt");
        assert_eq!(files_uri("a/b c?%"), "/files/a%2Fb%20c%3F%25");
        assert_eq!(files_uri("é"), "/files/%C3%A9");
    }
}
