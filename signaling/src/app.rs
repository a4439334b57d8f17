//! The HTTP surface: `/ws`, `/stats`, and the static page at `/`.

use crate::config::Config;
use crate::hub::{self, Event};
use crate::stats::Stats;
use crate::ws;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chord::signal::MAX_FRAME_BYTES;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tower_http::services::ServeDir;

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    hub: mpsc::Sender<Event>,
    config: Arc<Config>,
    next_conn: Arc<AtomicU64>,
    open: Arc<AtomicUsize>,
}

/// Builds the router and starts the hub task behind it.
pub fn router(config: Config) -> Router {
    let open = Arc::new(AtomicUsize::new(0));
    let hub = hub::spawn(&config, open.clone());
    let www = ServeDir::new(&config.www);
    let state = AppState { hub, config: Arc::new(config), next_conn: Arc::new(AtomicU64::new(1)), open };
    Router::new().route("/ws", get(upgrade)).route("/stats", get(stats)).fallback_service(www).with_state(state)
}

/// Accepts a WebSocket unless the server is full.
async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let Some(slot) = Slot::take(&state.open, state.config.max_connections) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    };
    let conn = state.next_conn.fetch_add(1, Ordering::Relaxed);
    // The WebSocket layer enforces the frame limit before buffering a payload,
    // so an oversized frame costs its header only.
    ws.max_message_size(MAX_FRAME_BYTES).max_frame_size(MAX_FRAME_BYTES).on_upgrade(move |socket| async move {
        ws::serve(socket, conn, state.hub, state.config).await;
        drop(slot);
    })
}

/// `GET /stats`: the hub's snapshot as JSON.
async fn stats(State(state): State<AppState>) -> Result<Json<Stats>, StatusCode> {
    let (reply, answer) = oneshot::channel();
    state.hub.send(Event::Stats { reply }).await.map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    answer.await.map(Json).map_err(|_| StatusCode::SERVICE_UNAVAILABLE)
}

/// One counted WebSocket. Released on drop, so a connection is uncounted
/// however it ends, including an upgrade that never completes.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        let before = open.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(open.clone());
        (before < max).then_some(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
