//! The WebSocket to one signaling server: a task that connects, reads JSON
//! frames into [`ServerInput`]s for the driver and writes what the peer sends.
//! The same protocol and limits as a tab's (`src/web/server.rs`).

use chord::link::ServerId;
use chord::peer::ServerInput;
use chord::signal::{ClientMsg, ServerMsg, MAX_FRAME_BYTES};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// What a socket reports to the driver: which server, which connection of
/// it (a replaced connection's late reports are ignored), and what happened.
#[derive(Debug)]
pub struct ServerReport {
    /// The server.
    pub server: ServerId,
    /// The connection's number.
    pub generation: u32,
    /// What happened.
    pub input: ServerInput,
}

/// An open (or opening) connection: dropping it closes the socket.
pub struct ServerConn {
    tx: mpsc::UnboundedSender<ClientMsg>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ServerConn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ServerConn {
    /// Starts connecting to `url`; reports go to `reports`.
    pub fn open(url: String, server: ServerId, generation: u32, reports: mpsc::UnboundedSender<ServerReport>) -> ServerConn {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(url, rx, move |input| {
            let _ = reports.send(ServerReport { server, generation, input });
        }));
        ServerConn { tx, task }
    }

    /// Sends `msg` (dropped if the socket is not open).
    pub fn send(&self, msg: ClientMsg) {
        let _ = self.tx.send(msg);
    }
}

async fn run(url: String, mut rx: mpsc::UnboundedReceiver<ClientMsg>, report: impl Fn(ServerInput)) {
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(MAX_FRAME_BYTES);
    config.max_frame_size = Some(MAX_FRAME_BYTES);
    let ws = match tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), false).await {
        Ok((ws, _)) => ws,
        Err(e) => {
            tracing::warn!(%url, error = %e, "cannot reach the signaling server");
            report(ServerInput::Closed);
            return;
        }
    };
    tracing::info!(%url, "signaling server connected");
    report(ServerInput::Opened);
    let (mut write, mut read) = ws.split();
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                let Ok(text) = serde_json::to_string(&msg) else { continue };
                if write.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
            frame = read.next() => match frame {
                Some(Ok(Message::Text(text))) => match parse(text.as_str()) {
                    Ok(msg) => report(ServerInput::Message(msg)),
                    Err(why) => tracing::warn!(%url, %why, "ignored a signaling message"),
                },
                Some(Ok(Message::Binary(_))) => tracing::warn!(%url, "the server sent a binary frame"),
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::info!(%url, error = %e, "signaling connection failed");
                    break;
                }
            }
        }
    }
    report(ServerInput::Closed);
}

/// A server frame, checked as a tab checks it.
pub fn parse(text: &str) -> Result<ServerMsg, String> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(format!("the server sent a frame of {} bytes", text.len()));
    }
    let msg: ServerMsg = serde_json::from_str(text).map_err(|e| format!("the server sent an unknown message: {e}"))?;
    msg.validate().map_err(|e| e.to_string())?;
    Ok(msg)
}
