//! One task per WebSocket: frames in, hub events out, and the other way round.
//!
//! The task checks everything about a frame that needs no shared state (size,
//! rate, JSON, limits, hello deadline, liveness) so a hostile client is turned
//! away without ever reaching the hub. It owns the socket alone, so it never
//! buffers more than one frame each way plus its bounded outbox.
//!
//! It also owns what belongs to its peer alone: the ICE servers. The ring
//! state decides who is introduced to whom and leaves a welcome's
//! `ice_servers` empty; this task fills them in with TURN credentials minted
//! for the id of its hello, and, for credentials that expire (REST), sends an
//! `ice_servers` refresh half their lifetime after the last ones it sent, for
//! as long as the socket stays open.

use crate::config::{deadline, Config};
use crate::error::CloseReason;
use crate::frame;
use crate::hub::{Event, Outbound};
use crate::ice::Issuer;
use crate::intro::ConnId;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use chord::signal::{ClientMsg, ServerMsg, SignalError, MAX_REASON_BYTES};
use chord::Id;
use governor::{Quota, RateLimiter};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{interval, sleep_until, Instant, MissedTickBehavior};

/// Messages the hub may queue for one connection before it is considered not
/// to be reading. A join needs a welcome, a few dozen ICE candidates and an
/// answer; a busy introducer a few of those at once.
const OUTBOX_CAPACITY: usize = 256;
/// Longest close-frame reason allowed by RFC 6455 (the frame payload is at
/// most 125 bytes, two of which are the code).
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// How a connection ended.
enum Ended {
    /// The client closed, said bye, or the socket went away.
    Normally,
    /// The server closes it for this reason.
    Closed(CloseReason),
    /// The hub closes it for this reason and has already forgotten it.
    ByHub(CloseReason),
    /// The WebSocket layer failed mid-frame (oversized or broken framing).
    /// Reading on could buffer the rest of the bad frame, so the server
    /// stops reading; a client still sending may see a reset instead of the error.
    Broken(CloseReason),
}

/// How long the server keeps reading (and discarding) after its close frame,
/// waiting for the client's, so that closing does not reset the TCP connection
/// under data the client already sent.
const LINGER: Duration = Duration::from_millis(500);
/// How long a broken connection is held, unread, after the close frame: unread
/// data makes the kernel answer the close with a reset, which can destroy the
/// error before the client reads it, so the client is given a moment first.
const GRACE: Duration = Duration::from_millis(250);

/// Runs one connection until it ends, then tells the hub.
pub async fn serve(mut socket: WebSocket, conn: ConnId, hub: mpsc::Sender<Event>, config: Arc<Config>, issuer: Arc<Issuer>) {
    let (outbox, mut inbox) = mpsc::channel(OUTBOX_CAPACITY);
    if hub.send(Event::Open { conn, outbox }).await.is_err() {
        return;
    }
    let ended = drive(&mut socket, conn, &hub, &mut inbox, &config, &issuer).await;
    let by_hub = matches!(ended, Ended::ByHub(_));
    let (reason, linger) = match ended {
        Ended::Normally => (None, false),
        Ended::Closed(reason) | Ended::ByHub(reason) => (Some(reason), true),
        Ended::Broken(reason) => (Some(reason), false),
    };
    if !by_hub {
        let protocol_error = reason.as_ref().is_some_and(CloseReason::is_protocol_error);
        // The hub is only gone when the server shuts down.
        let _ = hub.send(Event::Gone { conn, protocol_error }).await;
    }
    if let Some(reason) = reason {
        tracing::debug!(conn, %reason, "closing connection");
        close(&mut socket, &reason).await;
        if !linger {
            tokio::time::sleep(GRACE).await;
        } else {
            let drain = async {
                while let Some(Ok(frame)) = socket.recv().await {
                    if matches!(frame, Message::Close(_)) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(LINGER, drain).await;
        }
    }
}

/// The connection's event loop.
async fn drive(
    socket: &mut WebSocket,
    conn: ConnId,
    hub: &mpsc::Sender<Event>,
    inbox: &mut mpsc::Receiver<Outbound>,
    config: &Config,
    issuer: &Issuer,
) -> Ended {
    let hello_deadline = Instant::from_std(deadline(std::time::Instant::now(), config.hello_timeout));
    let mut said_hello = false;
    // The id of the hello, once said: the ICE servers are minted for it.
    let mut peer: Option<Id> = None;
    // When to send fresh credentials; set by each welcome and refresh.
    let mut refresh_at: Option<Instant> = None;
    let mut last_heard = Instant::now();
    let mut ping = interval((config.idle_timeout / 3).max(Duration::from_millis(10)));
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ping.tick().await; // The first tick is immediate.
    let rate = RateLimiter::direct(Quota::per_second(config.message_rate).allow_burst(config.message_burst));
    loop {
        tokio::select! {
            frame = socket.recv() => {
                let msg = match frame {
                    None | Some(Ok(Message::Close(_))) => return Ended::Normally,
                    Some(Err(e)) => return transport_ended(e),
                    Some(Ok(msg)) => msg,
                };
                if rate.check().is_err() {
                    let (per_second, burst) = (config.message_rate.get(), config.message_burst.get());
                    return Ended::Closed(CloseReason::RateLimited { per_second, burst });
                }
                last_heard = Instant::now();
                let text = match msg {
                    Message::Text(text) => text,
                    Message::Binary(_) => return Ended::Closed(CloseReason::Binary),
                    // Pings are answered by the WebSocket layer; pongs only prove liveness.
                    Message::Ping(_) | Message::Pong(_) | Message::Close(_) => continue,
                };
                let msg = match frame::decode(text.as_str()) {
                    Ok(msg) => msg,
                    Err(e) => return Ended::Closed(e.into()),
                };
                match &msg {
                    ClientMsg::Bye => return Ended::Normally,
                    ClientMsg::Hello { id, .. } => {
                        said_hello = true;
                        peer = Some(*id);
                    }
                    _ if !said_hello => return Ended::Closed(CloseReason::NoHello),
                    _ => {}
                }
                if hub.send(Event::Msg { conn, msg }).await.is_err() {
                    return Ended::Normally;
                }
            }
            out = inbox.recv() => match out {
                Some(Outbound::Msg(mut msg)) => {
                    if let (ServerMsg::Welcome { ice_servers, .. }, Some(id)) = (&mut *msg, &peer) {
                        *ice_servers = issuer.for_welcome(id);
                        refresh_at = next_refresh(issuer);
                    }
                    let Some(text) = frame::encode(&msg) else {
                        tracing::warn!(conn, "dropping an outgoing message larger than a frame");
                        continue;
                    };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return Ended::Normally;
                    }
                }
                Some(Outbound::Close(reason)) => return Ended::ByHub(*reason),
                // The hub dropped the outbox because it was full.
                None => return Ended::Closed(CloseReason::SlowReader),
            },
            () = sleep_until(hello_deadline), if !said_hello => return Ended::Closed(CloseReason::HelloTimeout),
            () = sleep_until(refresh_at.unwrap_or(hello_deadline)), if refresh_at.is_some() => {
                // Set only after a welcome, which only follows a hello.
                let Some(id) = &peer else { continue };
                refresh_at = next_refresh(issuer);
                let Some(text) = frame::encode(&issuer.refresh(id)) else { continue };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return Ended::Normally;
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= config.idle_timeout {
                    return Ended::Closed(CloseReason::Idle);
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return Ended::Normally;
                }
            }
        }
    }
}

/// When to send the next credentials, counted from now (`None`: they never expire).
fn next_refresh(issuer: &Issuer) -> Option<Instant> {
    issuer.refresh_after().map(|after| Instant::from_std(deadline(std::time::Instant::now(), after)))
}

/// Sorts an error of the WebSocket layer: a client that went away ends the
/// connection normally; an oversized frame or broken framing is the client's fault.
fn transport_ended(error: axum::Error) -> Ended {
    use tungstenite::error::{CapacityError, Error, ProtocolError};
    let inner = error.into_inner();
    let Some(error) = inner.downcast_ref::<Error>() else {
        return Ended::Broken(CloseReason::Transport(inner.to_string()));
    };
    match error {
        Error::ConnectionClosed | Error::AlreadyClosed | Error::Io(_) | Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            Ended::Normally
        }
        Error::Capacity(CapacityError::MessageTooLong { size, .. }) => Ended::Broken(SignalError::FrameTooLarge(*size).into()),
        other => Ended::Broken(CloseReason::Transport(other.to_string())),
    }
}

/// Sends `error{reason}` and a close frame, ignoring failures: the peer may
/// already be gone, and the connection ends either way.
async fn close(socket: &mut WebSocket, reason: &CloseReason) {
    // The reason may quote client input (serde names an unknown variant), so it is bounded.
    let full = reason.to_string();
    let text = truncate(&full, MAX_REASON_BYTES);
    if let Some(json) = frame::encode(&ServerMsg::Error { reason: text.to_owned(), code: reason.code().map(str::to_owned) }) {
        let _ = socket.send(Message::Text(json.into())).await;
    }
    let frame = CloseFrame { code: reason.close_code(), reason: truncate(text, MAX_CLOSE_REASON_BYTES).into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("aé", 2), "a");
    }
}
