//! Link frames: ring signaling carried over the data channels themselves.
//!
//! A data channel carries two kinds of frame. Chord messages start with
//! [`PROTOCOL_VERSION`](crate::message::PROTOCOL_VERSION); link frames start
//! with [`LINK_FRAME_TAG`], then postcard. The tag costs Chord messages
//! nothing, so they keep the whole `maxMessageSize` (262144 bytes).
//!
//! The one link frame is an [`Envelope`]: an offer, answer, trickled ICE
//! candidate, ICE-restart offer or refusal for a WebRTC link, travelling
//! through the ring to the peer it is for. Offers (and the offerer's
//! candidates) go greedily towards their target over open links and record
//! the path; answers (and the answerer's candidates) walk that path back, so
//! they need no routing state and reach a newcomer that nobody but its
//! introducer knows yet.

use crate::ice::Candidate;
use crate::id::Id;
use serde::{Deserialize, Serialize};

/// First byte of every link frame (a Chord frame starts with its version, 1).
pub const LINK_FRAME_TAG: u8 = 0xF0;
/// Most relays an envelope may pass; ring paths are O(log N), so this is generous.
pub const MAX_SIGNAL_HOPS: usize = 32;
/// Longest SDP an envelope may carry, in bytes.
pub const MAX_ENVELOPE_SDP_BYTES: usize = crate::signal::MAX_SDP_BYTES;
/// Largest link frame, in bytes.
pub const MAX_LINK_FRAME_BYTES: usize = MAX_ENVELOPE_SDP_BYTES + 2 * 1024;

/// One step of negotiating a link between `from` and `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The peer it is for.
    pub to: Id,
    /// The peer that wrote it.
    pub from: Id,
    /// The offerer's number for this attempt; answers echo it.
    pub session: u64,
    /// Offers: the relays passed so far, in order. Answers and refusals: the
    /// relays still to pass, the next one last.
    pub path: Vec<Id>,
    /// What it carries.
    pub body: EnvelopeBody,
}

/// What an [`Envelope`] carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnvelopeBody {
    /// A session description offer (its candidates trickle after it).
    Offer(String),
    /// The answer to an offer or to a restart.
    Answer(String),
    /// The target will not link now (it is at its link limit).
    Refuse,
    /// One ICE candidate the offerer trickled (routed like its offer); an
    /// empty candidate line marks the end of its candidates.
    OfferCandidate(Candidate),
    /// One ICE candidate the answerer trickled (walks the offer's path back).
    AnswerCandidate(Candidate),
    /// An ICE-restart offer for the session's existing link, whose path
    /// failed: same data channel, new candidates.
    Restart(String),
    /// The ring could not carry the offer to its target: the relay that
    /// writes it has no open link the offer has not visited, or the path is
    /// at [`MAX_SIGNAL_HOPS`]. The target is often in another ring (while two
    /// rings merge). The relay writes it in the target's name (`from` is the
    /// offer's target) and it walks the offer's path back, so the offerer
    /// gives the attempt up at once instead of waiting out its connect
    /// timeout. It can do no more than a relay that drops the offer.
    Unreachable,
}

impl EnvelopeBody {
    /// Whether it travels from the offerer towards the answerer (greedily,
    /// recording its path) rather than back along a recorded path.
    pub fn is_forward(&self) -> bool {
        matches!(self, EnvelopeBody::Offer(_) | EnvelopeBody::Restart(_) | EnvelopeBody::OfferCandidate(_))
    }
}

/// Why a link frame was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame does not start with [`LINK_FRAME_TAG`].
    #[error("not a link frame")]
    NotLink,
    /// The frame is longer than [`MAX_LINK_FRAME_BYTES`].
    #[error("link frame of {0} bytes exceeds the {MAX_LINK_FRAME_BYTES}-byte limit")]
    Oversized(usize),
    /// The body does not decode.
    #[error("malformed link frame: {0}")]
    Malformed(String),
    /// A path or SDP is beyond its limit.
    #[error("link frame beyond its limits: {0}")]
    Limit(&'static str),
}

impl Envelope {
    /// Encodes as one link frame.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain structs into a Vec cannot fail.
        postcard::to_extend(self, vec![LINK_FRAME_TAG]).unwrap_or_else(|_| vec![LINK_FRAME_TAG])
    }

    /// Decodes one link frame, enforcing the limits. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, FrameError> {
        let (&tag, body) = bytes.split_first().ok_or(FrameError::NotLink)?;
        if tag != LINK_FRAME_TAG {
            return Err(FrameError::NotLink);
        }
        if bytes.len() > MAX_LINK_FRAME_BYTES {
            return Err(FrameError::Oversized(bytes.len()));
        }
        let (env, rest): (Envelope, &[u8]) = postcard::take_from_bytes(body).map_err(|e| FrameError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(FrameError::Malformed(format!("{} trailing bytes", rest.len())));
        }
        if env.path.len() > MAX_SIGNAL_HOPS {
            return Err(FrameError::Limit("path too long"));
        }
        match &env.body {
            EnvelopeBody::Offer(sdp) | EnvelopeBody::Answer(sdp) | EnvelopeBody::Restart(sdp) if sdp.len() > MAX_ENVELOPE_SDP_BYTES => {
                Err(FrameError::Limit("sdp too long"))
            }
            EnvelopeBody::OfferCandidate(c) | EnvelopeBody::AnswerCandidate(c) if c.validate().is_err() => {
                Err(FrameError::Limit("candidate too long"))
            }
            _ => Ok(env),
        }
    }
}

/// Whether `bytes` is a link frame (else it is for the Chord node).
pub fn is_link_frame(bytes: &[u8]) -> bool {
    bytes.first() == Some(&LINK_FRAME_TAG)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(body: EnvelopeBody, hops: usize) -> Envelope {
        Envelope { to: Id::key_of("to"), from: Id::key_of("from"), session: 7, path: vec![Id::key_of("x"); hops], body }
    }

    #[test]
    fn round_trips() {
        let cand =
            Candidate { candidate: "candidate:1 1 udp 1 10.0.0.1 9 typ host".into(), sdp_mid: Some("0".into()), sdp_m_line_index: Some(0) };
        for e in [
            env(EnvelopeBody::Offer("v=0".into()), 3),
            env(EnvelopeBody::Answer(String::new()), 0),
            env(EnvelopeBody::Refuse, 1),
            env(EnvelopeBody::Unreachable, 3),
            env(EnvelopeBody::OfferCandidate(cand.clone()), 2),
            env(EnvelopeBody::AnswerCandidate(cand), 2),
            env(EnvelopeBody::OfferCandidate(Candidate::end()), 0),
            env(EnvelopeBody::Restart("v=0".into()), 1),
        ] {
            let bytes = e.encode();
            assert!(is_link_frame(&bytes));
            assert_eq!(Envelope::decode(&bytes), Ok(e));
        }
    }

    #[test]
    fn chord_frames_are_not_link_frames() {
        let chord = crate::message::Message::Rectify.encode().unwrap();
        assert!(!is_link_frame(&chord));
        assert_eq!(Envelope::decode(&chord), Err(FrameError::NotLink));
        // And the node rejects link frames as a foreign version.
        let link = env(EnvelopeBody::Refuse, 0).encode();
        assert!(crate::message::Message::decode(&link).is_err());
    }

    #[test]
    fn limits_are_enforced() {
        let long_path = env(EnvelopeBody::Refuse, MAX_SIGNAL_HOPS + 1).encode();
        assert_eq!(Envelope::decode(&long_path), Err(FrameError::Limit("path too long")));
        let long_sdp = env(EnvelopeBody::Offer("a".repeat(MAX_ENVELOPE_SDP_BYTES + 1)), 0).encode();
        assert_eq!(Envelope::decode(&long_sdp), Err(FrameError::Limit("sdp too long")));
        let long_restart = env(EnvelopeBody::Restart("a".repeat(MAX_ENVELOPE_SDP_BYTES + 1)), 0).encode();
        assert_eq!(Envelope::decode(&long_restart), Err(FrameError::Limit("sdp too long")));
        let long_cand = Candidate { candidate: "c".repeat(crate::ice::MAX_CANDIDATE_BYTES + 1), sdp_mid: None, sdp_m_line_index: None };
        assert_eq!(
            Envelope::decode(&env(EnvelopeBody::AnswerCandidate(long_cand), 0).encode()),
            Err(FrameError::Limit("candidate too long"))
        );
        let mut huge = vec![LINK_FRAME_TAG];
        huge.resize(MAX_LINK_FRAME_BYTES + 1, 0);
        assert_eq!(Envelope::decode(&huge), Err(FrameError::Oversized(MAX_LINK_FRAME_BYTES + 1)));
        let mut trailing = env(EnvelopeBody::Refuse, 0).encode();
        trailing.push(0);
        assert!(matches!(Envelope::decode(&trailing), Err(FrameError::Malformed(_))));
    }

    proptest! {
        #[test]
        fn decoding_random_bytes_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Some(b) = bytes.first_mut() { *b = LINK_FRAME_TAG; }
            let _ = Envelope::decode(&bytes);
        }
    }
}
