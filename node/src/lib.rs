//! `chord-node`: a native member of the browser Chord ring.
//!
//! * [`command`] — what the HTTP API asks the driver, and the answers.
//! * [`store`] — the durable store (redb): records, blob chunks, the node id.
//! * [`api`] — the local HTTP API (`/files/{name}`, `/state`, `/metrics`).

pub mod api;
pub mod command;
pub mod store;
