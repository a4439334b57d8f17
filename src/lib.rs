//! # chord — a Chord DHT whose nodes are browser tabs
//!
//! This crate is the protocol core: a Chord node written as a **sans-IO state
//! machine** ([`Node`]) and a **deterministic simulator** (`sim`, behind the `sim` feature) that drives
//! many nodes over a modelled network. The same node code runs in the
//! simulator, in the browser (over WebRTC data channels) and in the native
//! `chord-node` (crate `node/`, over str0m); it never reads a clock, never does IO and draws randomness only
//! from the seed it is given.
//!
//! * [`id`] — 160-bit ids and the ring arithmetic (intervals, distance, finger starts).
//! * [`message`] — the versioned wire protocol, with limits; decoding never panics.
//! * [`node`] — the node: routing, Zave-correct maintenance, replication.
//! * [`finger`], [`successors`], [`store`] — the node's tables.
//! * `sim` (feature `sim`: chord-sim, the tests and the fuzz targets enable it) — the
//!   discrete-event simulator and the ring invariants it checks.
//! * [`link`] — WebRTC links without IO: which links a peer keeps, and ring signaling.
//! * [`peer`] — a node, its links and the bootstrap: what a browser tab runs.
//! * [`ice`] — STUN/TURN servers, trickled candidates, link paths (shared with `chord-signaling`).
//! * [`signal`] — the bootstrap server's protocol, shared with `chord-signaling`.
//! * [`codes`] — the stable error codes of the JS API and of `chord-node`'s HTTP API.
//! * `web` (wasm32 only) — the browser glue and the JS API `ChordPeer`.
//!
//! The module docs of [`node`] describe the driver loop and the invariants.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codes;
pub mod config;
pub mod error;
pub mod finger;
pub mod ice;
pub mod id;
pub mod link;
pub mod message;
pub mod node;
pub mod peer;
pub mod rng;
pub mod signal;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
pub mod successors;
pub mod time;
pub mod transfer;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use config::Config;
pub use error::{CommandError, RequestError};
pub use id::Id;
pub use message::Message;
pub use node::{Event, Node, Output, Status};
pub use peer::{Peer, PeerConfig, PeerEvent, PeerOutput, RtcCommand};
pub use store::{Record, Version};
pub use time::Millis;
