//! The browser peer: thin glue that runs a [`Peer`](crate::peer::Peer) over
//! WebRTC data channels and a WebSocket to the signaling server, and the JS
//! API [`ChordPeer`]. Compiled only for `wasm32`.
//!
//! * [`peer`] — `ChordPeer`, the JS API (`join`, `put`, `get`, `state`, `leave`).
//! * [`driver`] — the one task that owns the peer: it waits for the next
//!   input or the peer's next wake-up, feeds it in, and carries out the
//!   outputs; its child `driver/blobs.rs` carries out the blob commands.
//! * [`files`] — the put pipeline (hash, store chunks), transfer options
//!   (progress, durability), cancel; it does not know the driver, so `src/web`
//!   has no import cycle (the driver uses it, never the reverse).
//! * [`blobstore`] — the tab's IndexedDB store of chunks and records (`blobstore.js`).
//! * [`rtc`] — one `RTCPeerConnection` with its data channel; owns its callbacks;
//!   `bufferedamountlow` tells the driver to send frames it held back.
//! * [`server`] — the signaling WebSocket; owns its callbacks.
//! * [`wake`] — the peer's timer, in a dedicated worker so hidden tabs keep pace.
//! * [`input`] — what the callbacks push into the driver's channel ([`input::Input`]) and the links' bounded intake.
//! * [`js`] — the clock, JavaScript error words, serialization to JS objects.
//! * [`options`] — reading `JoinOptions`.
//! * [`api_types`] — the TypeScript shapes of options, results and events.
//!
//! Every JavaScript callback does one thing: it pushes an [`input::Input`]
//! into the driver's channel — or, for a peer connection, its report into the
//! bounded [`input::RtcIntake`], which wakes the driver once per drain (a
//! data channel cannot be paused, so a link that sends more than the intake
//! takes is given up: see [`Intake`](crate::peer::Intake)). Callbacks live in the struct of the object they
//! belong to and are dropped with it; nothing is leaked with `forget()`.

pub mod api_types;
pub mod blobstore;
pub mod driver;
pub mod files;
pub mod input;
pub mod js;
pub mod options;
pub mod peer;
pub mod rtc;
pub mod server;
pub mod wake;

pub use peer::ChordPeer;
