//! The HTTP surface: `/ws`, `/stats`, and the static page at `/`.

use crate::config::Config;
use crate::error::Refusal;
use crate::hub::{self, Event};
use crate::ice::Issuer;
use crate::limits::{check_origin, Gauges, Slot};
use crate::stats::Stats;
use crate::ws;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use chord::signal::MAX_FRAME_BYTES;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tower_http::services::ServeDir;

/// Bytes the WebSocket layer reads at a time, and the buffer it keeps per
/// connection (tungstenite's default, 128 KiB, is zeroed on first use, so it
/// would be 1.25 GiB resident at 10,000 idle clients). Signaling frames are
/// small; a larger one is read in several steps.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    hub: mpsc::Sender<Event>,
    config: Arc<Config>,
    next_conn: Arc<AtomicU64>,
    gauges: Arc<Gauges>,
    issuer: Arc<Issuer>,
}

/// Builds the router and starts the hub task behind it. `gauges` are the live
/// counts it shares with the accept loop; `issuer` hands out the ICE servers.
pub fn router(config: Config, gauges: Arc<Gauges>, issuer: Arc<Issuer>) -> Router {
    let hub = hub::spawn(&config, gauges.clone());
    let www = ServeDir::new(&config.www);
    let state = AppState { hub, config: Arc::new(config), next_conn: Arc::new(AtomicU64::new(1)), gauges, issuer };
    Router::new().route("/ws", get(upgrade)).route("/stats", get(stats)).fallback_service(www).with_state(state)
}

/// Accepts a WebSocket unless its origin is not allowed or the server is full.
async fn upgrade(State(state): State<AppState>, headers: HeaderMap, ws: WebSocketUpgrade) -> Result<axum::response::Response, Refusal> {
    if let Err(refusal) = check_origin(&state.config.allowed_origins, headers.get(header::ORIGIN)) {
        return Err(state.gauges.refuse(refusal));
    }
    let Some(slot) = Slot::take(&state.gauges, state.config.max_connections) else {
        return Err(state.gauges.refuse(Refusal::ServerFull));
    };
    let conn = state.next_conn.fetch_add(1, Ordering::Relaxed);
    // The WebSocket layer enforces the frame limit before buffering a payload,
    // so an oversized frame costs its header only.
    let ws = ws.max_message_size(MAX_FRAME_BYTES).max_frame_size(MAX_FRAME_BYTES).read_buffer_size(READ_BUFFER_BYTES);
    Ok(ws.on_upgrade(move |socket| async move {
        ws::serve(socket, conn, state.hub, state.config, state.issuer).await;
        drop(slot);
    }))
}

/// `GET /stats`: the hub's snapshot, plus the connection tasks' ICE counters, as JSON.
async fn stats(State(state): State<AppState>) -> Result<Json<Stats>, StatusCode> {
    let (reply, answer) = oneshot::channel();
    state.hub.send(Event::Stats { reply }).await.map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    let snapshot = answer.await.map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    Ok(Json(Stats {
        turn_credentials_issued: state.issuer.credentials_issued(),
        ice_refreshes_sent: state.issuer.refreshes_sent(),
        ..snapshot
    }))
}
