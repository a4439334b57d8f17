//! WebRTC links without IO: which links a peer keeps, and how they are
//! negotiated through the ring.
//!
//! * [`manager`] — [`Links`], the link manager state machine.
//! * [`frame`] — the envelope that carries offers and answers through the ring.
//! * [`sdp`] — keeping only loopback ICE candidates.
//! * [`intro`] — [`ServerId`] and [`ServerIntro`]: introductions of several servers.
//! * [`limit`] — [`MaxMessageSize`]: the largest message the other end of a link accepts.
//!
//! Only a newcomer's first link is negotiated through the bootstrap server.
//! Every later one travels as an [`Envelope`] over links that are already
//! open, so the ring grows its own links while the server is down.

pub mod frame;
pub mod intro;
pub mod limit;
pub mod manager;
pub mod sdp;

pub use frame::{Envelope, EnvelopeBody, FrameError};
pub use intro::{ServerId, ServerIntro};
pub use limit::{MaxMessageSize, SendError, MIN_MAX_MESSAGE_SIZE};
pub use manager::{
    Connectivity, LinkConfig, LinkFailure, LinkId, LinkInfo, LinkOutput, LinkState, LinkStats, Links, RtcCommand, Via, MAX_EXPECTED,
    MESSAGE_LIMIT_RETRY_MS,
};
