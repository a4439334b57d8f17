//! `chord-node`: a native member of the browser Chord ring. It runs the same
//! sans-IO [`Peer`](chord::peer::Peer) as a tab, over str0m WebRTC on one UDP
//! socket, keeps what it holds in a durable store, and serves a local HTTP API.
//!
//! * [`node`] — the CLI's options and start-up: id, socket, driver, API, SIGTERM.
//! * [`driver`] — the task that owns the peer and carries out its outputs.
//! * [`rtc`] — the WebRTC links (str0m), and why str0m.
//! * [`signal`] — the WebSocket to a signaling server.
//! * [`store`] — the durable store (redb): records, blob chunks, the node id.
//! * [`store_worker`] — the thread that runs the peer's store commands in order.
//! * [`command`] — what the HTTP API asks the driver, and the answers.
//! * [`api`] — the local HTTP API (`/files/{name}`, `/state`, `/metrics`).
//! * [`metrics`] — `/metrics` in Prometheus text, from the state.
//! * [`client`] — the CLI's side of the API (`chord-node put|get|state`).

pub mod api;
pub mod client;
pub mod command;
pub mod driver;
pub mod metrics;
pub mod node;
pub mod rtc;
pub mod signal;
pub mod store;
pub mod store_worker;
