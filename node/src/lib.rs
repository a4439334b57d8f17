//! `chord-node`: a native member of the browser Chord ring.
//!
//! * [`command`] — what the HTTP API asks the driver, and the answers.
//! * [`store`] — the durable store (redb): records, blob chunks, the node id.
//! * [`api`] — the local HTTP API (`/files/{name}`, `/state`, `/metrics`).
//! * [`metrics`] — `/metrics`: the state in the Prometheus text format.
//! * [`client`] — the CLI's client side of the API (`chord-node put|get|state`).

pub mod api;
pub mod client;
pub mod command;
pub mod metrics;
pub mod store;
