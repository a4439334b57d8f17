//! What the driver task waits for: every JavaScript callback pushes one
//! [`Input`] into the driver's channel, except a peer connection's, which
//! queue in the bounded [`RtcIntake`] (a data channel cannot be paused; see
//! [`Intake`] for what happens when a link sends more than it may). Shared by the modules that own the
//! callbacks ([`rtc`](super::rtc), [`server`](super::server),
//! [`wake`](super::wake), [`files`](super::files)) and the driver that reads
//! them, so none of those imports the driver.

use crate::id::Id;
use crate::link::LinkId;
use crate::message::ReqId;
use crate::peer::{Intake, IntakeLimits, Pushed, ServerId};
use crate::signal::ServerMsg;
use futures::channel::mpsc::UnboundedSender;
use std::cell::RefCell;
use std::rc::Rc;

/// What a peer connection reports.
pub enum RtcEvent {
    /// The local description is set (candidates follow as `Candidate`).
    Described(String),
    /// A local candidate; `None` when gathering is complete.
    Candidate(Option<crate::ice::Candidate>),
    /// The connection's network path changed state.
    Connectivity(crate::link::Connectivity),
    /// The selected candidate pair, read from `getStats()`.
    Path(crate::ice::PathInfo),
    /// The data channel opened.
    Opened,
    /// The channel or the connection closed or failed.
    Closed,
    /// A binary message.
    Message(Vec<u8>),
    /// A negotiation step failed.
    Failed(String),
    /// The channel's send buffer fell below its low-water mark.
    Drained,
}

/// Which socket a [`ServerEvent`] comes from: the server, and which of the
/// sockets opened to it (events of a socket already replaced are dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketTag {
    /// The server.
    pub server: ServerId,
    /// Sockets opened to it before this one.
    pub generation: u32,
}

/// What a signaling socket reports.
pub enum ServerEvent {
    /// The socket opened.
    Opened,
    /// A message, or why a frame was rejected.
    Message(Result<ServerMsg, String>),
    /// The socket closed, with the server's reason.
    Closed(String),
}

/// What peer connections reported, waiting for the driver: bounded in bytes
/// per link and in all, in the order it happened (see [`Intake`]).
pub type RtcIntake = Rc<RefCell<Intake<LinkId, RtcEvent>>>;

/// A new, empty [`RtcIntake`] with the default limits.
pub fn rtc_intake() -> RtcIntake {
    Rc::new(RefCell::new(Intake::new(IntakeLimits::default())))
}

/// Where one link's callbacks put what they see: its [`RtcIntake`], and one
/// [`Input::Rtc`] notice into the driver's channel when the intake was idle.
#[derive(Clone)]
pub struct RtcSink {
    /// The link.
    pub link: LinkId,
    /// The intake shared by every link and the driver.
    pub intake: RtcIntake,
    /// The driver's channel.
    pub tx: UnboundedSender<Input>,
}

impl RtcSink {
    /// Queues `ev` (refused if the link's share is full: the driver then
    /// gives the link up) and wakes the driver if it is not woken yet.
    pub fn send(&self, ev: RtcEvent) {
        let len = match &ev {
            RtcEvent::Message(bytes) => bytes.len(),
            _ => 0,
        };
        let (Pushed::Queued { wake } | Pushed::Refused { wake }) = self.intake.borrow_mut().push(self.link, ev, len);
        if wake {
            // The driver is gone only when the peer was dropped; nothing to tell then.
            let _ = self.tx.unbounded_send(Input::Rtc);
        }
    }
}

/// Everything the driver task waits for.
pub enum Input {
    /// Peer connections reported something: it waits in the [`RtcIntake`].
    Rtc,
    /// From a signaling socket.
    Server(SocketTag, ServerEvent),
    /// The timer fired, or an API call changed the peer: handle what is due
    /// and recompute the next wake-up.
    Wake,
    /// The blob store read a chunk for `to` (`None`: it is not there).
    BlobRead {
        /// Who asked.
        to: Id,
        /// Their pull.
        pull: crate::transfer::PullId,
        /// Which chunk.
        index: u32,
        /// The bytes.
        bytes: Option<Vec<u8>>,
    },
    /// The blob store stored a chunk (or could not, and why).
    BlobWritten {
        /// The pull.
        pull: crate::transfer::PullId,
        /// Which chunk.
        index: u32,
        /// The outcome.
        result: Result<(), String>,
    },
    /// The caller aborted request `ReqId`.
    Cancel(ReqId),
}
