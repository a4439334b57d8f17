//! [`Input`]: everything the driver reports to a [`Peer`](super::Peer), fed
//! through its one entry [`Peer::handle_input`](super::Peer::handle_input).
//!
//! The split follows str0m and quinn-proto. What *happened* — time passed, a
//! socket or a peer connection reported something, the store finished a read
//! or a write, or the store was found holding records from a previous life of
//! this tab — is an [`Input`]: the driver observed it, the peer only reacts,
//! and nothing is answered. What the *application asks for* (`put`, `get`,
//! `lookup`, `put_blob`, `cancel`, `close_link`, `leave`, `shutdown`) stays a
//! method of `Peer`, as `Rtc::sdp_api`/`disconnect` do in str0m and
//! `Connection::open_uni`/`close` in quinn-proto: most of them answer at
//! once (a [`ReqId`](crate::message::ReqId) to wait for, a refusal, whether
//! there was something to close), and an enum would make every caller match
//! an answer enum for the one variant it sent. After either, the driver
//! drains [`Peer::poll_output`](super::Peer::poll_output) and sleeps until
//! [`Peer::poll_timeout`](super::Peer::poll_timeout).

use crate::ice::{Candidate, PathInfo};
use crate::id::Id;
use crate::link::{Connectivity, LinkId, MaxMessageSize};
use crate::signal::ServerMsg;
use crate::store::Record;
use crate::transfer::PullId;

/// Something that happened, for [`Peer::handle_input`](super::Peer::handle_input).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Time passed: fire every timer due at `now` (the driver calls this at
    /// [`Peer::poll_timeout`](super::Peer::poll_timeout), or earlier; early is harmless).
    Timeout,
    /// The socket to one signaling server reported something (ids the peer
    /// was not configured with are ignored).
    Server {
        /// Which server.
        server: crate::link::ServerId,
        /// What happened.
        input: ServerInput,
    },
    /// A peer connection reported something.
    Rtc {
        /// Which link (as the peer named it in [`RtcCommand::Create`](crate::link::RtcCommand::Create)).
        link: LinkId,
        /// What happened.
        input: RtcInput,
    },
    /// The store read chunk `index` for `to`'s pull, as asked by
    /// [`BlobCommand::Read`](super::BlobCommand::Read); `None`: it is not there.
    BlobRead {
        /// Who asked (this peer's own id for its own reads).
        to: Id,
        /// Their pull.
        pull: PullId,
        /// Which chunk.
        index: u32,
        /// The bytes.
        bytes: Option<Vec<u8>>,
    },
    /// The store wrote chunk `index` of `pull` (or could not, and why).
    BlobWritten {
        /// The pull.
        pull: PullId,
        /// Which chunk.
        index: u32,
        /// The outcome.
        result: Result<(), String>,
    },
    /// The store holds these from a previous life of this tab (a reload):
    /// the records are taken back (merged, newer versions win) once the peer
    /// has joined; complete blobs no record references are deleted after a
    /// grace period.
    Restored {
        /// The records kept.
        records: Vec<Record>,
        /// The complete blobs kept: digest and size.
        blobs: Vec<(Id, u64)>,
    },
}

/// What the driver reports about one server's socket ([`Input::Server`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerInput {
    /// The driver is opening the socket.
    Connecting,
    /// The socket opened.
    Opened,
    /// The socket closed, or could not be opened.
    Closed,
    /// A message (already validated by the driver).
    Message(ServerMsg),
}

/// What a peer connection reports ([`Input::Rtc`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RtcInput {
    /// The local description is set (its candidates may follow one by one).
    Described(String),
    /// A local candidate was gathered; `None` when gathering is complete.
    Candidate(Option<Candidate>),
    /// The data channel opened; its other end accepts messages up to this
    /// size (`RTCSctpTransport.maxMessageSize`).
    Opened(MaxMessageSize),
    /// The data channel or the connection closed (or the driver gave up on
    /// it: a send failed, its receive queue overflowed).
    Closed,
    /// A message arrived on the data channel.
    Message(Vec<u8>),
    /// The driver's receive queue for this link overflowed
    /// ([`Intake`](super::Intake)): it refused this many messages and
    /// gives the link up. Counted as rejected input; the link closes.
    Overflowed(u64),
    /// The connection's network path changed state.
    Connectivity(Connectivity),
    /// The selected candidate pair and its round-trip time.
    Path(PathInfo),
}
