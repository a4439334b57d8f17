//! Which signaling server an introduction belongs to.
//!
//! A tab keeps a connection to each signaling server it was given, and each
//! server numbers its introductions on its own: the same number from two
//! servers names two different introductions. Links negotiated through a
//! server are therefore keyed by both.

use crate::signal::IntroId;

/// A signaling server of this peer: its index in the list the peer was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ServerId(pub u8);

/// One introduction of one signaling server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerIntro {
    /// The server that made it.
    pub server: ServerId,
    /// Its number on that server.
    pub intro: IntroId,
}
