//! Why the server ends a connection, or refuses one.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chord::signal::{IntroId, SignalError};

/// Why the server closes a client's connection. The text goes to the client
/// in a `ServerMsg::Error` and, shortened, in the WebSocket close frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    /// The frame was not a valid signaling message or broke a limit.
    #[error("{0}")]
    Protocol(#[from] SignalError),
    /// The client sent a binary frame; the protocol is JSON text only.
    #[error("binary frames are not part of the signaling protocol")]
    Binary,
    /// The first message was not `hello`.
    #[error("the first message must be hello")]
    NoHello,
    /// A second `hello` on the same connection.
    #[error("hello was already sent on this connection; reconnect to start over")]
    HelloTwice,
    /// Another live connection already uses this id in this ring.
    #[error("id {0} is already connected to this ring")]
    DuplicateId(String),
    /// A `signal` for a live introduction the client is not part of.
    #[error("this peer is not a party to introduction {0}")]
    NotAParty(IntroId),
    /// The client sent more signals in one introduction than the protocol allows.
    #[error("too many signals in introduction {0}")]
    TooManySignals(IntroId),
    /// The client sent frames faster than the per-connection rate limit.
    #[error("more than {burst} frames at once or {per_second} per second; slow down and reconnect")]
    RateLimited {
        /// The sustained rate allowed, frames per second.
        per_second: u32,
        /// The burst allowed above it.
        burst: u32,
    },
    /// The ring already has as many peers as the server allows in one ring.
    #[error("ring {ring} is full ({max} peers)")]
    RingFull {
        /// The ring's name (validated, so safe to echo).
        ring: String,
        /// The limit.
        max: usize,
    },
    /// No `hello` arrived in time after the connection opened.
    #[error("no hello within the time allowed")]
    HelloTimeout,
    /// Nothing arrived from the client (not even a pong) for too long.
    #[error("connection idle for too long")]
    Idle,
    /// The client does not read what the server sends; its queue is full.
    #[error("the client does not read its messages")]
    SlowReader,
    /// The WebSocket layer failed (bad framing, oversized frame, I/O error).
    #[error("websocket error: {0}")]
    Transport(String),
}

impl CloseReason {
    /// The WebSocket close code (RFC 6455 §7.4.1) that fits this reason.
    pub fn close_code(&self) -> u16 {
        use axum::extract::ws::close_code;
        match self {
            CloseReason::Protocol(SignalError::FrameTooLarge(_)) => close_code::SIZE,
            CloseReason::Binary => close_code::UNSUPPORTED,
            CloseReason::Idle | CloseReason::HelloTimeout | CloseReason::SlowReader => close_code::AWAY,
            CloseReason::RingFull { .. } => close_code::AGAIN,
            CloseReason::Transport(_) => close_code::PROTOCOL,
            _ => close_code::POLICY,
        }
    }

    /// The `code` of the `error` message, for the refusals a client can act on.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            CloseReason::DuplicateId(_) => Some(chord::signal::ERROR_ID_TAKEN),
            CloseReason::RingFull { .. } => Some(chord::signal::ERROR_RING_FULL),
            _ => None,
        }
    }

    /// Whether the client broke the protocol (counted in the stats), as
    /// opposed to timing out, going quiet, or finding its ring full.
    pub fn is_protocol_error(&self) -> bool {
        !matches!(self, CloseReason::Idle | CloseReason::HelloTimeout | CloseReason::SlowReader | CloseReason::RingFull { .. })
    }
}

/// Why the server answers an HTTP request (a WebSocket upgrade, usually)
/// with an error instead of serving it. The text is the response body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The server already holds `--max-connections` WebSockets.
    #[error("too many connections to this server; retry later")]
    ServerFull,
    /// This address already holds `--max-per-address` connections.
    #[error("too many connections from this address")]
    AddressFull,
    /// The upgrade's `Origin` header is not in `--allowed-origin`.
    #[error("this origin is not allowed to connect")]
    OriginNotAllowed,
    /// The upgrade has no `Origin` header, and an allow-list is set.
    #[error("an Origin header is required")]
    NoOrigin,
}

impl Refusal {
    /// The HTTP status that fits this refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::ServerFull => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::AddressFull => StatusCode::TOO_MANY_REQUESTS,
            Refusal::OriginNotAllowed | Refusal::NoOrigin => StatusCode::FORBIDDEN,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status(), self.to_string()).into_response()
    }
}
