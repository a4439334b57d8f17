//! The HTTP API end to end: the real router and store, a fake driver (a task
//! answering the command channel from a map), clients over real sockets
//! (hyper, raw TCP, `curl`, and `chord_node::client`).

use bytes::Bytes;
use chord::id::Id;
use chord::peer::PutHolders;
use chord::peer::{Peer, PeerConfig};
use chord::store::Blob;
use chord::store::Version;
use chord::transfer::{chunk_count, CHUNK_BYTES};
use chord_node::api::{self, Limits, INLINE_MAX_BYTES, MAX_UPLOADS};
use chord_node::client::{self, ClientError};
use chord_node::command::{ApiError, Command, DriverStats, GetResult, Handle, PutResult, Snapshot};
use chord_node::store::Store;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderMap};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const MIB: usize = 1024 * 1024;

/// What the fake driver holds under a name.
enum Held {
    Inline(Vec<u8>),
    Blob(Blob),
}

/// A running API with a fake driver behind it.
struct Node {
    addr: SocketAddr,
    store: Arc<Store>,
    /// The commands the driver received: `inline`, `blob`, `get`, `state`.
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Node {
    async fn start() -> Node {
        Node::start_with(Limits::default()).await
    }

    async fn start_with(limits: Limits) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), None).unwrap());
        let (handle, rx) = Handle::channel();
        let store2 = store.clone();
        let log = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(fake_driver(rx, store.clone(), log.clone()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, api::router_with(handle, store2, limits)).await });
        Node { addr, store, log, _dir: dir }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the store holds `bytes` (scratch space is freed by a task).
    async fn await_bytes_used(&self, bytes: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.store.bytes_used() != bytes {
            assert!(Instant::now() < deadline, "store holds {} bytes, expected {bytes}", self.store.bytes_used());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn result(name: &str, size: u64, digest: Id, blob: bool) -> PutResult {
    let copies = blob.then_some(PutHolders { holders: 1, target: 3 });
    let version = Version { seq: 1, writer: Id::from_u64(7) };
    PutResult::new(Id::key_of(name), Id::from_u64(7), 0, version, copies, Some((size, digest)))
}

/// Answers like a one-member ring that stores everything, with a few names
/// that fail on purpose: `full` (quota), `slow` (timeout), `liar` (an
/// inline value whose digest is wrong).
async fn fake_driver(mut rx: mpsc::Receiver<Command>, store: Arc<Store>, log: Arc<Mutex<Vec<String>>>) {
    let mut held: HashMap<String, Held> = HashMap::new();
    let mut next_get = 1;
    let note = |s: &str| log.lock().unwrap().push(s.to_string());
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Command::PutInline { name, value, reply } => {
                note("inline");
                let r = match name.as_str() {
                    "full" => Err(ApiError::new("quota", "the store is full")),
                    "slow" => Err(ApiError::new("timeout", "no node answered after 3 attempts")),
                    _ => Ok(result(&name, value.len() as u64, Id::hash(&value), false)),
                };
                if r.is_ok() {
                    held.insert(name, Held::Inline(value));
                }
                let _ = reply.send(r);
            }
            Command::PutBlob { blob, reply } => {
                note("blob");
                assert_eq!(blob.key, Id::key_of(&blob.name));
                // The upload must have become the blob, every chunk full but the last.
                for i in 0..chunk_count(blob.size) {
                    let c = store.get_chunk(&blob.digest, i).unwrap().unwrap_or_else(|| panic!("chunk {i} missing"));
                    let want = (blob.size - u64::from(i) * u64::from(CHUNK_BYTES)).min(u64::from(CHUNK_BYTES));
                    assert_eq!(c.len() as u64, want, "chunk {i}");
                }
                let _ = reply.send(Ok(result(&blob.name, blob.size, blob.digest, true)));
                held.insert(blob.name.clone(), Held::Blob(blob));
            }
            Command::Get { name, reply } => {
                note("get");
                let r = match (name.as_str(), held.get(&name)) {
                    ("liar", _) => Some(GetResult::Inline { value: b"abc".to_vec(), digest: Id::hash(b"abd") }),
                    (_, None) => None,
                    (_, Some(Held::Inline(v))) => Some(GetResult::Inline { value: v.clone(), digest: Id::hash(v) }),
                    (_, Some(Held::Blob(b))) => {
                        let get = next_get;
                        next_get += 1;
                        let chunks = chunk_count(b.size);
                        for i in 0..chunks {
                            let c = store.get_chunk(&b.digest, i).unwrap().unwrap();
                            store.put_get_chunk(get, i, &c).unwrap();
                        }
                        Some(GetResult::Blob { get, size: b.size, digest: b.digest, chunks })
                    }
                };
                let _ = reply.send(Ok(r));
            }
            Command::State { reply } => {
                note("state");
                let mut state = Peer::new(Id::from_u64(7), PeerConfig::default(), 1).state();
                state.status = "joined";
                let driver = DriverStats { store_bytes: store.bytes_used(), puts: 3, ..DriverStats::default() };
                let _ = reply.send(Snapshot { state, driver });
            }
        }
    }
}

/// A response, read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn call(addr: SocketAddr, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder().method(method).uri(path).header(header::HOST, addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = sender.send_request(req.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    Answer { status: parts.status, headers: parts.headers, body }
}

/// Deterministic bytes that differ from chunk to chunk (a misplaced chunk shows).
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8).collect()
}

fn sha1_hex(bytes: &[u8]) -> String {
    Id::hash(bytes).to_hex()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_then_get_is_byte_identical_at_every_size_edge() {
    let node = Node::start().await;
    let inline = INLINE_MAX_BYTES as usize;
    let chunk = CHUNK_BYTES as usize;
    let sizes = [0, 1, inline, inline + 1, chunk, chunk + 1, 5 * MIB, 5 * MIB + 7];
    for size in sizes {
        let name = format!("file-{size}");
        let data = content(size);
        let put = call(node.addr, Method::PUT, &format!("/files/{name}"), &[], data.clone()).await;
        assert_eq!(put.status, StatusCode::CREATED, "put {size}: {:?}", String::from_utf8_lossy(&put.body));
        let r = put.json();
        assert_eq!(r["size"], size as u64, "{size}");
        assert_eq!(r["digest"], sha1_hex(&data), "{size}");
        assert_eq!(r["key"], Id::key_of(&name).to_hex());
        let kind = node.log().into_iter().last().unwrap();
        assert_eq!(kind, if size as u64 <= INLINE_MAX_BYTES { "inline" } else { "blob" }, "{size}");

        let get = call(node.addr, Method::GET, &format!("/files/{name}"), &[], Vec::new()).await;
        assert_eq!(get.status, StatusCode::OK, "{size}");
        assert_eq!(get.body.len(), size, "{size}");
        assert!(get.body == data, "{size}: the bytes differ");
        assert_eq!(get.header(header::ETAG), Some(format!("\"{}\"", sha1_hex(&data)).as_str()));
        assert_eq!(get.header(header::CONTENT_LENGTH), Some(size.to_string().as_str()));
        assert_eq!(get.header(header::CONTENT_TYPE), Some("application/octet-stream"));
    }
    // Every get's scratch space is gone; the blobs (once each) remain.
    let blobs: u64 = sizes.iter().map(|s| *s as u64).filter(|s| *s > INLINE_MAX_BYTES).sum();
    node.await_bytes_used(blobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_unknown_length_is_taken_chunked() {
    // What `chord-node put` sends from standard input: no Content-Length.
    let node = Node::start().await;
    let data = content(400_000);
    let frames: Vec<Result<Frame<Bytes>, std::io::Error>> =
        data.chunks(50_001).map(|c| Ok(Frame::data(Bytes::copy_from_slice(c)))).collect();
    let tcp = TcpStream::connect(node.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let req = Request::put("/files/piped")
        .header(header::HOST, node.addr.to_string())
        .body(StreamBody::new(futures_util::stream::iter(frames)))
        .unwrap();
    assert!(req.headers().get(header::CONTENT_LENGTH).is_none());
    let res = sender.send_request(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let get = call(node.addr, Method::GET, "/files/piped", &[], Vec::new()).await;
    assert!(get.body == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_gives_the_length_and_etag_without_a_body() {
    let node = Node::start().await;
    let data = content(300_000);
    assert_eq!(call(node.addr, Method::PUT, "/files/h", &[], data.clone()).await.status, StatusCode::CREATED);
    let head = call(node.addr, Method::HEAD, "/files/h", &[], Vec::new()).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header(header::CONTENT_LENGTH), Some("300000"));
    assert_eq!(head.header(header::ETAG), Some(format!("\"{}\"", sha1_hex(&data)).as_str()));
    assert!(head.body.is_empty());
    node.await_bytes_used(300_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_are_404_not_found() {
    let node = Node::start().await;
    let a = call(node.addr, Method::GET, "/files/nothing-here", &[], Vec::new()).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["code"], "not_found");
    assert!(a.json()["error"].as_str().unwrap().contains("nothing-here"));
    let a = call(node.addr, Method::GET, "/nope", &[], Vec::new()).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_none_match_with_the_etag_is_304_and_frees_the_get() {
    let node = Node::start().await;
    for (name, size) in [("small", 10), ("large", 200_000)] {
        let data = content(size);
        assert_eq!(call(node.addr, Method::PUT, &format!("/files/{name}"), &[], data.clone()).await.status, StatusCode::CREATED);
        let etag = format!("\"{}\"", sha1_hex(&data));
        let a = call(node.addr, Method::GET, &format!("/files/{name}"), &[("if-none-match", &etag)], Vec::new()).await;
        assert_eq!(a.status, StatusCode::NOT_MODIFIED, "{name}");
        assert!(a.body.is_empty());
        assert_eq!(a.header(header::ETAG), Some(etag.as_str()));
        let stale = call(node.addr, Method::GET, &format!("/files/{name}"), &[("if-none-match", "\"0000\"")], Vec::new()).await;
        assert_eq!(stale.status, StatusCode::OK, "{name}");
        assert!(stale.body == data);
    }
    node.await_bytes_used(200_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_percent_decoded_and_limited_to_1024_bytes() {
    let node = Node::start().await;
    let long = "n".repeat(1025);
    let a = call(node.addr, Method::PUT, &format!("/files/{long}"), &[], b"x".to_vec()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["code"], "invalid");
    assert_eq!(a.json()["error"], "file names are limited to 1024 bytes");
    let a = call(node.addr, Method::PUT, "/files/", &[], b"x".to_vec()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["error"], "a file needs a name");
    let a = call(node.addr, Method::GET, "/files/%FF", &[], Vec::new()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["code"], "invalid");
    // Nothing reached the driver.
    assert!(node.log().is_empty(), "{:?}", node.log());

    let max = "m".repeat(1024);
    assert_eq!(call(node.addr, Method::PUT, &format!("/files/{max}"), &[], b"x".to_vec()).await.status, StatusCode::CREATED);
    // `%2F` stays inside the name: the key is that of "dir/a b".
    let a = call(node.addr, Method::PUT, "/files/dir%2Fa%20b", &[], b"y".to_vec()).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.json()["key"], Id::key_of("dir/a b").to_hex());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_errors_carry_their_code_status_and_retry_after() {
    let node = Node::start().await;
    let a = call(node.addr, Method::PUT, "/files/full", &[], b"x".to_vec()).await;
    assert_eq!(a.status, StatusCode::INSUFFICIENT_STORAGE);
    assert_eq!(a.json(), serde_json::json!({"code": "quota", "error": "the store is full"}));
    let a = call(node.addr, Method::PUT, "/files/slow", &[], b"x".to_vec()).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.json()["code"], "timeout");
    assert_eq!(a.header(header::RETRY_AFTER), Some("1"));
}

/// Sends a request head by hand and returns the socket.
async fn raw_head(addr: SocketAddr, head: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

/// Reads until the end of the response head.
async fn read_head(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut byte)).await.expect("no answer").unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&buf));
        buf.push(byte[0]);
    }
    String::from_utf8(buf).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_declared_length_is_refused_before_the_body() {
    let node = Node::start().await;
    let too_big = chord::store::MAX_BLOB_BYTES + 1;
    // No body is sent at all: the answer must come from the head alone.
    let mut s = raw_head(node.addr, &format!("PUT /files/big HTTP/1.1\r\nHost: x\r\nContent-Length: {too_big}\r\n\r\n")).await;
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(node.log().is_empty());
    assert_eq!(node.store.bytes_used(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_mid_upload_leaves_no_upload_behind() {
    let node = Node::start().await;
    let mut s = raw_head(node.addr, &format!("PUT /files/cut HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", 5 * MIB)).await;
    s.write_all(&content(MIB)).await.unwrap();
    // Wait until chunks are staged, so there is something to leave behind.
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.store.bytes_used() < 4 * u64::from(CHUNK_BYTES) {
        assert!(Instant::now() < deadline, "no chunk staged: {}", node.store.bytes_used());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(s);
    node.await_bytes_used(0).await;
    assert!(!node.log().contains(&"blob".to_string()), "{:?}", node.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_mid_get_frees_the_get() {
    let node = Node::start().await;
    let size = 5 * MIB as u64;
    assert_eq!(call(node.addr, Method::PUT, "/files/g", &[], content(5 * MIB)).await.status, StatusCode::CREATED);
    node.await_bytes_used(size).await;
    let mut s = raw_head(node.addr, "GET /files/g HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut some = vec![0u8; 1000];
    s.read_exact(&mut some).await.unwrap();
    // The scratch copy exists while the body is being sent.
    assert_eq!(node.store.bytes_used(), 2 * size);
    drop(s);
    node.await_bytes_used(size).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_beyond_the_limit_are_busy_and_slots_come_back() {
    let node = Node::start().await;
    let head = "PUT /files/wait HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..MAX_UPLOADS {
        let mut s = raw_head(node.addr, head).await;
        s.write_all(&content(300_000)).await.unwrap();
        held.push(s);
    }
    // Each has staged a chunk: all slots are taken.
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.store.bytes_used() < (MAX_UPLOADS as u64) * u64::from(CHUNK_BYTES) {
        assert!(Instant::now() < deadline, "uploads not under way: {}", node.store.bytes_used());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let a = call(node.addr, Method::PUT, "/files/one-more", &[], b"x".to_vec()).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.json()["code"], "busy");
    assert_eq!(a.header(header::RETRY_AFTER), Some("1"));
    drop(held);
    node.await_bytes_used(0).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = call(node.addr, Method::PUT, "/files/one-more", &[], b"x".to_vec()).await;
        if a.status == StatusCode::CREATED {
            break;
        }
        assert!(Instant::now() < deadline, "slots never came back: {}", a.status);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_is_dropped_and_gives_its_slot_back() {
    let node = Node::start_with(Limits { uploads: 1, body_idle: Duration::from_millis(300) }).await;
    let mut s = raw_head(node.addr, "PUT /files/stall HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n").await;
    s.write_all(&content(300_000)).await.unwrap();
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    node.await_bytes_used(0).await;
    let a = call(node.addr, Method::PUT, "/files/next", &[], content(100_000)).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(node.log(), ["blob"], "only the second upload reached the driver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_and_metrics_show_the_snapshot() {
    let node = Node::start().await;
    let s = call(node.addr, Method::GET, "/state", &[], Vec::new()).await;
    assert_eq!(s.status, StatusCode::OK);
    let s = s.json();
    assert_eq!(s["id"], Id::from_u64(7).to_hex());
    assert_eq!(s["status"], "joined");
    assert_eq!(s["driver"]["puts"], 3);
    assert!(s["rejected"].is_object());

    let m = call(node.addr, Method::GET, "/metrics", &[], Vec::new()).await;
    assert_eq!(m.status, StatusCode::OK);
    assert_eq!(m.header(header::CONTENT_TYPE), Some("text/plain; version=0.0.4; charset=utf-8"));
    let text = String::from_utf8(m.body).unwrap();
    let mut samples = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        value.parse::<f64>().unwrap_or_else(|_| panic!("value of {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let (name, labels) = series.split_at(name_end);
        assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
        assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}') && labels.contains("=\"")), "{line}");
        samples += 1;
    }
    assert!(samples > 20, "{text}");
    assert!(text.contains("chord_joined 1\n"), "{text}");
    assert!(text.contains("chord_puts_total 3\n"), "{text}");
    assert!(text.contains("chord_rejected_total{reason=\"malformed\"} 0\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_client_puts_gets_and_reads_state() {
    let node = Node::start().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.bin");
    let data = content(3 * MIB + 5);
    std::fs::write(&src, &data).unwrap();

    let r = client::put(node.addr, "cli/file", Some(&src)).await.unwrap();
    assert_eq!(r["size"], data.len() as u64);
    assert_eq!(r["digest"], sha1_hex(&data));
    let out = dir.path().join("out.bin");
    assert_eq!(client::get(node.addr, "cli/file", Some(&out)).await.unwrap(), data.len() as u64);
    assert!(std::fs::read(&out).unwrap() == data);

    let small = dir.path().join("small.txt");
    std::fs::write(&small, b"hello").unwrap();
    client::put(node.addr, "hello", Some(&small)).await.unwrap();
    client::get(node.addr, "hello", Some(&out)).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"hello");

    match client::get(node.addr, "absent", Some(&dir.path().join("absent"))).await {
        Err(e @ ClientError::Api { .. }) => {
            assert_eq!(e.code(), "not_found");
            assert_eq!(e.to_string(), "nothing is stored under \"absent\"");
        }
        other => panic!("{other:?}"),
    }
    assert!(!dir.path().join("absent").exists(), "no file for a failed get");

    // The node announces a digest the bytes do not have: an error, and no file.
    let liar = dir.path().join("liar");
    let e = client::get(node.addr, "liar", Some(&liar)).await.unwrap_err();
    assert_eq!(e.code(), "corrupt", "{e}");
    assert!(!liar.exists());

    let s = client::state(node.addr).await.unwrap();
    assert_eq!(s["status"], "joined");

    // Over 1 GiB (a sparse file): refused before anything is sent.
    let huge = dir.path().join("huge");
    std::fs::File::create(&huge).unwrap().set_len(chord::store::MAX_BLOB_BYTES + 1).unwrap();
    let before = node.log().len();
    assert_eq!(client::put(node.addr, "huge", Some(&huge)).await.unwrap_err().code(), "too_large");
    assert_eq!(node.log().len(), before);

    // Nothing listening: a sentence that says so.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let e = client::state(closed).await.unwrap_err();
    assert_eq!(e.code(), "unreachable");
    assert!(e.to_string().contains("is chord-node running?"), "{e}");
}

/// Runs curl off the async workers (the server shares them).
async fn curl(args: &[&str]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || std::process::Command::new("curl").args(&args).output().expect("curl runs")).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_can_put_and_get() {
    let node = Node::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    // Over 1 MiB: curl sends `Expect: 100-continue` and waits for it.
    let data = content(2 * MIB + 3);
    std::fs::write(&file, &data).unwrap();
    let url = format!("http://{}/files/notes.txt", node.addr);
    let out = curl(&["-sS", "--fail-with-body", "-T", file.to_str().unwrap(), &url]).await;
    assert!(out.status.success(), "curl: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["digest"], sha1_hex(&data));
    assert_eq!(r["size"], data.len() as u64);

    let back = dir.path().join("back.txt");
    let out = curl(&["-sS", "--fail", "-o", back.to_str().unwrap(), &url]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&back).unwrap() == data);
}
