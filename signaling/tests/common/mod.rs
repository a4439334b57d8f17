//! A server on a random loopback port and a scripted WebSocket client.

#![allow(dead_code)] // Each test binary uses a different part of this.

use chord::signal::{ClientMsg, ServerMsg, SignalPayload, SIGNAL_VERSION};
use chord::Id;
use chord_signaling::{Config, Stats};
use futures_util::{SinkExt, StreamExt};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Upper bound on any single wait in the tests.
pub const WAIT: Duration = Duration::from_secs(5);

/// Short timeouts, so the timeout tests take a fraction of a second, and no
/// grace period: a ring's first peer founds it at once.
pub fn config() -> Config {
    Config {
        www: "does-not-exist".into(),
        intro_timeout: Duration::from_millis(300),
        intro_lifetime: Duration::from_secs(10),
        intro_tries: 3,
        grace: Duration::ZERO,
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
    ClientMsg::Hello { version: SIGNAL_VERSION, ring: ring.into(), id: id(n), member: false }
}

/// A hello for `ring` with id `n` from a peer that is already a member (a reconnect).
pub fn member_hello(ring: &str, n: u64) -> ClientMsg {
    ClientMsg::Hello { version: SIGNAL_VERSION, ring: ring.into(), id: id(n), member: true }
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

/// The upgrade request for the server at `addr`.
pub fn ws_request(addr: SocketAddr) -> Request {
    format!("ws://{addr}/ws").into_client_request().expect("a valid URL")
}

/// How the server answered an upgrade it refused: status and body.
pub fn refusal(result: Result<Client, tokio_tungstenite::tungstenite::Error>) -> (u16, String) {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
            (response.status().as_u16(), body)
        }
        Err(other) => panic!("expected an HTTP refusal, got {other:?}"),
        Ok(_) => panic!("expected an HTTP refusal, got a WebSocket"),
    }
}

impl Client {
    /// Sends `request` from `source` (any 127.0.0.0/8 address is loopback),
    /// so tests can act as several client addresses.
    pub async fn try_connect_from(
        source: IpAddr,
        addr: SocketAddr,
        request: Request,
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        let connect = async {
            let socket = TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(source, 0))?;
            let tcp = socket.connect(addr).await?;
            let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp)).await?;
            Ok(Client { ws })
        };
        tokio::time::timeout(WAIT, connect).await.expect("connect in time")
    }

    /// Sends `request` from 127.0.0.1.
    pub async fn try_connect(addr: SocketAddr, request: Request) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        Client::try_connect_from(addr.ip(), addr, request).await
    }

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
        assert_eq!(welcome, ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers: vec![] });
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

    /// Writes `bytes` on the TCP connection itself, bypassing WebSocket framing.
    pub async fn send_raw_bytes(&mut self, bytes: &[u8]) {
        match self.ws.get_mut() {
            MaybeTlsStream::Plain(tcp) => tcp.write_all(bytes).await.expect("write"),
            _ => panic!("the tests use plain TCP"),
        }
    }

    /// The WebSocket itself, for tests that split it.
    pub fn into_inner(self) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        self.ws
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

/// Founds ring `ring` as peer `n`, introduces peer `n + 1` to it, relays an
/// offer and an answer between them, and sees the newcomer join: the whole
/// service of the server, checked end to end. Returns both clients.
pub async fn assert_introduces(addr: SocketAddr, ring: &str, n: u64) -> (Client, Client) {
    let mut member = Client::found(addr, ring, n).await;
    let (mut newcomer, welcome) = Client::join(addr, ring, n + 1).await;
    let ServerMsg::Welcome { first: false, intro: Some(intro), introducer: Some(by), .. } = welcome else {
        panic!("expected an introduction to peer {n}, got {welcome:?}");
    };
    assert_eq!(by, id(n));
    assert_eq!(member.recv().await, ServerMsg::Introduce { intro, newcomer: id(n + 1) });
    let offer = SignalPayload::Offer { sdp: "v=0".into() };
    newcomer.send(&ClientMsg::Signal { intro, payload: offer.clone() }).await;
    assert_eq!(member.recv().await, ServerMsg::Signal { intro, from: id(n + 1), payload: offer });
    let answer = SignalPayload::Answer { sdp: "v=0".into() };
    member.send(&ClientMsg::Signal { intro, payload: answer.clone() }).await;
    assert_eq!(newcomer.recv().await, ServerMsg::Signal { intro, from: id(n), payload: answer });
    newcomer.send(&ClientMsg::Member).await;
    (member, newcomer)
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
