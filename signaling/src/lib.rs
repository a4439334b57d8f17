//! # chord-signaling — the bootstrap server of the browser Chord ring
//!
//! A tab joins a ring by opening the page this server hosts. The server's only
//! job is the first step: tell the newcomer it is the first member of its ring,
//! or pair it with one live member and relay the WebRTC offer, answer and ICE
//! candidates of that *introduction*. It stores no DHT data and routes no
//! lookups; once the newcomer reports `member` the server relays nothing more
//! about it, and every later link is signaled through the ring itself. The
//! protocol is [`chord::signal`] (JSON text frames over WebSocket).
//!
//! Rings are namespaced by name, so independent rings (and parallel tests)
//! share one server.
//!
//! ## Architecture
//!
//! * [`rings`] — all state and rules, sans-IO: fed client messages and the
//!   time, it answers with messages to send and its next deadline
//!   ([`intro`] holds one introduction and its timers).
//! * [`hub`] — the single task owning that state, fed by connection tasks
//!   through a bounded inbox; it runs the timers.
//! * [`ws`] — one task per WebSocket: validation ([`frame`]), liveness, its
//!   bounded outbox, and the peer's ICE servers: TURN credentials minted for
//!   it ([`ice`]) in every welcome, refreshed at half their lifetime.
//! * [`app`] — the router: `/ws`, `/stats` ([`stats`]), static files at `/`.
//! * [`serve`] — the accept loop in front of it: a bounded HTTP handshake
//!   and the per-address count; [`limits`] holds the connection limits.
//!
//! Every limit is a field of [`Config`] (and a flag of the binary); the
//! crate's README has them in one table.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! chord_signaling::run(listener, chord_signaling::Config::default()).await
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod config;
pub mod error;
pub mod frame;
pub mod hub;
pub mod ice;
pub mod intro;
pub mod limits;
pub mod rings;
pub mod serve;
pub mod stats;
pub mod ws;

pub use config::Config;
pub use error::{CloseReason, Refusal};
pub use stats::Stats;

/// Serves the signaling server on `listener` until the process ends.
/// Fails at once, with `InvalidInput`, if the ICE settings are inconsistent
/// (see [`ice::IceServers::new`]).
pub async fn run(listener: tokio::net::TcpListener, config: Config) -> std::io::Result<()> {
    let issuer = ice::Issuer::new(&config).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let gauges = std::sync::Arc::new(limits::Gauges::default());
    let router = app::router(config.clone(), gauges.clone(), std::sync::Arc::new(issuer));
    serve::serve(listener, router, &config, gauges).await
}
