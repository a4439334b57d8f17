//! The largest message the other end of a link accepts, and what a link
//! does about it.
//!
//! Each side of a WebRTC data channel states in its SDP the largest message
//! it can receive (`a=max-message-size`); the browser turns that into
//! `RTCSctpTransport.maxMessageSize`, the largest message this side may send.
//! It differs by browser pair: Chromium↔Chromium and Firefox↔Chromium settle
//! at 262144, Firefox↔Firefox at 1073741823. The driver reads it when the
//! data channel opens and hands it to [`Links::opened`](super::Links::opened);
//! the core never reads it from the browser itself.
//!
//! What the link manager does with it:
//! * A limit below [`MIN_MAX_MESSAGE_SIZE`] fails the link at once
//!   ([`LinkFailure::MessageLimit`](super::LinkFailure::MessageLimit)): the
//!   protocol's control frames need that much, and a link that cannot carry
//!   them would look alive while every lookup through it failed.
//! * Any frame larger than the limit is not sent ([`SendError::TooLarge`],
//!   counted in [`LinkStats::too_large`](super::LinkStats::too_large)); the
//!   browser would throw and close the channel. The sender treats it as a lost
//!   message. File chunks never get there: the holder cuts them into parts
//!   that fit ([`crate::transfer::chunk_frames`]).

use serde::Serialize;

/// Smallest remote limit a link is kept with: 16 KiB, the message size every
/// WebRTC stack handled before SCTP message interleaving (the old interop
/// limit). Chord control messages stay far below it (a lookup with its full
/// path is ~2 KiB, a successor list ~0.7 KiB), and so do the offers and
/// answers of one data channel (a few KiB); file chunks are cut to fit.
pub const MIN_MAX_MESSAGE_SIZE: u64 = 16 * 1024;

/// The largest message the other end of a link accepts, in bytes.
///
/// As in SDP, `0` means "no limit"; the browser reports that as `Infinity`
/// (see [`MaxMessageSize::from_reported`]). Serialized as that number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct MaxMessageSize(u64);

impl MaxMessageSize {
    /// No limit.
    pub const UNLIMITED: MaxMessageSize = MaxMessageSize(0);
    /// What a peer that states no `a=max-message-size` accepts (RFC 8841 §6):
    /// 64 KiB. Also assumed when the browser does not report a limit.
    pub const SDP_DEFAULT: MaxMessageSize = MaxMessageSize(64 * 1024);
    /// Chromium's limit (both ends Chromium, or Firefox and Chromium).
    pub const CHROMIUM: MaxMessageSize = MaxMessageSize(256 * 1024);

    /// A limit of `bytes`; `0` means no limit, as in SDP.
    pub const fn bytes(bytes: u64) -> MaxMessageSize {
        MaxMessageSize(bytes)
    }

    /// From `RTCSctpTransport.maxMessageSize` as the browser reports it:
    /// `Infinity` (or `0`) is no limit; no value, `NaN` or a negative number
    /// is taken as [`MaxMessageSize::SDP_DEFAULT`], the spec's default.
    pub fn from_reported(reported: Option<f64>) -> MaxMessageSize {
        match reported {
            Some(v) if v.is_infinite() && v > 0.0 => MaxMessageSize::UNLIMITED,
            // `as` saturates at u64::MAX; the fraction (none in practice) is dropped.
            Some(v) if v >= 0.0 => MaxMessageSize(v as u64),
            _ => MaxMessageSize::SDP_DEFAULT,
        }
    }

    /// The limit in bytes; `None` when there is none.
    pub fn limit(self) -> Option<u64> {
        (self.0 != 0).then_some(self.0)
    }

    /// Whether a message of `len` bytes may be sent.
    pub fn fits(self, len: usize) -> bool {
        self.limit().is_none_or(|max| len as u64 <= max)
    }

    /// The largest message that may be sent, as a length (`usize::MAX` when
    /// there is no limit).
    pub fn max_len(self) -> usize {
        self.limit().map_or(usize::MAX, |max| usize::try_from(max).unwrap_or(usize::MAX))
    }

    /// Whether the protocol can run over a link with this limit (at least
    /// [`MIN_MAX_MESSAGE_SIZE`], or none).
    pub fn is_usable(self) -> bool {
        self.limit().is_none_or(|max| max >= MIN_MAX_MESSAGE_SIZE)
    }
}

impl std::fmt::Display for MaxMessageSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.limit() {
            Some(n) => write!(f, "{n} bytes"),
            None => f.write_str("no limit"),
        }
    }
}

/// Why the link manager did not send a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The frame is larger than the other end of the link accepts.
    #[error("frame of {len} bytes exceeds the {limit} the other end of the link accepts")]
    TooLarge {
        /// The frame's length.
        len: usize,
        /// What the other end accepts.
        limit: MaxMessageSize,
    },
    /// No link to the peer, and this tab already opened as many links to
    /// peers outside its Chord tables as it allows in a window (a remote
    /// peer cannot make it spend its connections).
    #[error("no link to that peer, and {budget} links to peers outside the Chord tables were opened in the last {window_ms} ms")]
    NoBudget {
        /// The window, in milliseconds.
        window_ms: u64,
        /// Links allowed per window.
        budget: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_values() {
        assert_eq!(MaxMessageSize::from_reported(Some(262_144.0)), MaxMessageSize::CHROMIUM);
        assert_eq!(MaxMessageSize::from_reported(Some(1_073_741_823.0)).limit(), Some(1_073_741_823));
        assert_eq!(MaxMessageSize::from_reported(Some(f64::INFINITY)), MaxMessageSize::UNLIMITED);
        assert_eq!(MaxMessageSize::from_reported(Some(0.0)), MaxMessageSize::UNLIMITED);
        for odd in [None, Some(f64::NAN), Some(-1.0), Some(f64::NEG_INFINITY)] {
            assert_eq!(MaxMessageSize::from_reported(odd), MaxMessageSize::SDP_DEFAULT, "{odd:?}");
        }
    }

    #[test]
    fn zero_is_no_limit() {
        let none = MaxMessageSize::bytes(0);
        assert_eq!(none.limit(), None);
        assert!(none.fits(usize::MAX));
        assert!(none.is_usable());
        assert_eq!(none.max_len(), usize::MAX);
        assert_eq!(none.to_string(), "no limit");
    }

    #[test]
    fn limits() {
        let m = MaxMessageSize::bytes(65_536);
        assert!(m.fits(65_536) && !m.fits(65_537));
        assert_eq!(m.max_len(), 65_536);
        assert!(MaxMessageSize::bytes(MIN_MAX_MESSAGE_SIZE).is_usable());
        assert!(!MaxMessageSize::bytes(MIN_MAX_MESSAGE_SIZE - 1).is_usable());
        assert_eq!(MaxMessageSize::bytes(1).to_string(), "1 bytes");
    }
}
