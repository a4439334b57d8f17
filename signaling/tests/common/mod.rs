//! A server on a random loopback port and a scripted WebSocket client.

#![allow(dead_code)] // Each test binary uses a different part of this.

use chord::signal::{ClientMsg, ServerMsg, SIGNAL_VERSION};
use chord::Id;
use chord_signaling::{Config, Stats};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Upper bound on any single wait in the tests.
pub const WAIT: Duration = Duration::from_secs(5);

/// Short timeouts, so the timeout tests take a fraction of a second.
pub fn config() -> Config {
    Config {
        www: "does-not-exist".into(),
        intro_timeout: Duration::from_millis(300),
        intro_lifetime: Duration::from_secs(10),
        intro_tries: 3,
        seed: 1,
        ..Config::default()
    }
}

/// Starts a server on 127.0.0.1 with a port of the system's choosing.
pub async fn start(config: Config) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(chord_signaling::run(listener, config));
    addr
}

/// A distinct id per test peer.
pub fn id(n: u64) -> Id {
    Id::from_u64(n)
}

/// A hello for `ring` with id `n`.
pub fn hello(ring: &str, n: u64) -> ClientMsg {
    ClientMsg::Hello { version: SIGNAL_VERSION, ring: ring.into(), id: id(n) }
}

/// A scripted client.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What a connection showed before it ended.
#[derive(Debug)]
pub struct Ending {
    /// The messages received until the end.
    pub messages: Vec<ServerMsg>,
    /// The close frame, if one arrived.
    pub close: Option<CloseFrame>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(format!("ws://{addr}/ws")))
            .await
            .expect("connect in time")
            .expect("websocket handshake");
        Client { ws }
    }

    /// Connects, says hello, and returns the welcome.
    pub async fn join(addr: SocketAddr, ring: &str, n: u64) -> (Client, ServerMsg) {
        let mut c = Client::connect(addr).await;
        c.send(&hello(ring, n)).await;
        let welcome = c.recv().await;
        assert!(matches!(welcome, ServerMsg::Welcome { .. }), "expected a welcome, got {welcome:?}");
        (c, welcome)
    }

    /// Founds ring `ring` as peer `n` and reports member.
    pub async fn found(addr: SocketAddr, ring: &str, n: u64) -> Client {
        let (mut c, welcome) = Client::join(addr, ring, n).await;
        assert_eq!(welcome, ServerMsg::Welcome { first: true, intro: None, introducer: None });
        c.send(&ClientMsg::Member).await;
        c
    }

    pub async fn send(&mut self, msg: &ClientMsg) {
        let text = serde_json::to_string(msg).expect("encode");
        self.send_raw(Message::text(text)).await;
    }

    pub async fn send_raw(&mut self, msg: Message) {
        self.try_send_raw(msg).await.expect("send");
    }

    pub async fn try_send_raw(&mut self, msg: Message) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.ws.send(msg).await
    }

    /// The next server message; fails the test after [`WAIT`].
    pub async fn recv(&mut self) -> ServerMsg {
        let next = tokio::time::timeout(WAIT, self.next_text()).await.expect("a message in time");
        next.unwrap_or_else(|| panic!("connection ended while a message was expected"))
    }

    /// Asserts that no message arrives for `quiet`.
    pub async fn expect_silence(&mut self, quiet: Duration) {
        if let Ok(msg) = tokio::time::timeout(quiet, self.next_text()).await {
            panic!("expected silence, got {msg:?}");
        }
    }

    /// Reads until the server closes; fails the test after [`WAIT`].
    pub async fn ending(mut self) -> Ending {
        let mut messages = Vec::new();
        let mut close = None;
        let read = async {
            while let Some(frame) = self.ws.next().await {
                match frame {
                    Ok(Message::Text(t)) => messages.push(serde_json::from_str(t.as_str()).expect("server JSON")),
                    Ok(Message::Close(frame)) => close = frame,
                    Ok(_) => {}
                    // A reset after the close frame is an ending too.
                    Err(_) => break,
                }
            }
        };
        tokio::time::timeout(WAIT, read).await.expect("the server closes in time");
        Ending { messages, close }
    }

    async fn next_text(&mut self) -> Option<ServerMsg> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(t)) => {
                    let msg: ServerMsg = serde_json::from_str(t.as_str()).expect("server sends valid JSON");
                    msg.validate().expect("server respects the limits");
                    return Some(msg);
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}

/// `GET path` over a plain TCP connection: status code and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let fetch = async {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.expect("write request");
        let mut raw = Vec::new();
        tcp.read_to_end(&mut raw).await.expect("read response");
        let raw = String::from_utf8(raw).expect("utf-8 response");
        let status = raw.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
        let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (status, body)
    };
    tokio::time::timeout(WAIT, fetch).await.expect("HTTP answer in time")
}

/// The server's counters.
pub async fn stats(addr: SocketAddr) -> Stats {
    let (status, body) = http_get(addr, "/stats").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("stats JSON")
}

/// Polls `/stats` until `done` holds (the hub handles other connections'
/// messages in its own time); fails the test after [`WAIT`].
pub async fn stats_until(addr: SocketAddr, done: impl Fn(&Stats) -> bool) -> Stats {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = stats(addr).await;
        if done(&s) {
            return s;
        }
        assert!(tokio::time::Instant::now() < deadline, "stats never reached the expected state: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
