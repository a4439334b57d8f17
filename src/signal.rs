//! The signaling protocol: how a tab gets into a ring through the bootstrap server.
//!
//! Shared by the signaling server (`chord-signaling`) and the browser peer. The
//! server only *introduces*: it tells a newcomer whether it is the first member
//! of its ring, and otherwise pairs it with one live member and relays the
//! WebRTC offer, answer and ICE candidates of that one introduction. Every later
//! link is signaled through the ring itself, so the server never sees the ring's
//! traffic.
//!
//! # Framing
//!
//! One JSON object per WebSocket **text** frame, at most [`MAX_FRAME_BYTES`].
//! Every object carries a `"type"` tag in snake_case, for example
//! `{"type":"hello","version":1,"ring":"default","id":"<40 hex digits>"}`.
//! Ids travel as 40 lower- or upper-case hex digits ([`Id::to_hex`]) rather than
//! the derived 20-number array, because the other end of the socket is
//! JavaScript and the server logs: a hex string is what both read. Unknown
//! fields are ignored, so optional fields can be added without bumping
//! [`SIGNAL_VERSION`]; anything else is a new version. Introduction numbers are
//! small counters (well below 2⁵³), so they survive a JavaScript `Number`.
//!
//! # Exchange
//!
//! ```text
//! newcomer                    server                        member
//!    | hello{version,ring,id} ->  |                             |
//!    | <- welcome{first:false,    | -> introduce{intro,newcomer}|
//!    |      intro, introducer}    |                             |
//!    | signal{intro, offer} ----> | -> signal{intro,from,offer} |
//!    | <- signal{intro,from,ans.} | <--- signal{intro, answer}  |
//!    |   … ice both ways …        |                             |
//!    | member ------------------> |   (introduction over: the   |
//!    |                            |    server relays no more)   |
//! ```
//!
//! A peer that is already in the ring and reconnects (the server restarted, or
//! its socket dropped) says so with `hello{…, member: true}`. The server
//! registers it as a member at once. If the ring has other members, it opens a
//! *meeting*: an introduction in which the announcer is the offering party,
//! exactly as a newcomer would be, so that two rings of the same name formed
//! apart (a restarted server, a partition) get a link between them:
//!
//! ```text
//! announcer                   server                        member
//!    | hello{…, member:true} -> |                             |
//!    | <- welcome{first:false,    | -> introduce{intro,         |
//!    |      intro, introducer}    |      newcomer: announcer}   |
//!    | signal{intro, offer} ----> | -> signal{intro,from,offer} |
//!    |   … as above …             |                             |
//! ```
//!
//! A peer that gets a welcome with an introduction while it is already joining
//! or joined treats it as a meeting: it links to the introducer (unless already
//! linked) and checks whether the two are in the same ring. A meeting never
//! moves on to another introducer and never makes anyone first. It ends
//! silently when its lifetime is over (the server cannot see whether the link
//! formed, so this is no failure), or with `intro_failed` to the other party
//! when the member stays silent or a party leaves. A `member` message from the
//! announcer does not end its meeting. With no other member in the ring the
//! server answers `welcome{first:false, intro:null, introducer:null}`: nothing
//! to do.
//!
//! For a short *grace* period after the server starts, a newcomer (no
//! `member`) to a ring the server knows no member of gets no welcome at once:
//! the server waits for a member to reconnect and then introduces the newcomer
//! to it; only when the grace period ends does the first waiting newcomer get
//! `first: true`.
//!
//! A `welcome` with `first: true` means the ring has no member: the peer
//! creates the ring and should send `member` at once. A later `welcome` with a
//! new `intro` replaces the previous one (the introducer did not answer and the
//! server picked another). `intro_failed` ends the attempt; the peer may retry
//! by reconnecting. `error` is followed by the server closing the socket.
//!
//! This module holds only types, limits and validation: it has to build for
//! `wasm32-unknown-unknown` with the core's dependencies, so JSON encoding is
//! left to each side (`serde_json` on the server).

use crate::ice::{validate_ice_servers, IceServer, IceUrlError};
use crate::id::Id;
use serde::{Deserialize, Serialize};

/// Version number sent in [`ClientMsg::Hello`]. Bump on any incompatible change.
pub const SIGNAL_VERSION: u32 = 1;
/// Largest text frame either side accepts, in bytes.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Longest ring name, in characters (ASCII letters, digits, `_` and `-`).
pub const MAX_RING_NAME_LEN: usize = 64;
/// Longest SDP (offer or answer), in bytes. Browser offers with one data
/// channel are a few KiB; the limit leaves room for many ICE candidates
/// gathered before the offer is sent.
pub const MAX_SDP_BYTES: usize = 32 * 1024;
pub use crate::ice::{MAX_CANDIDATE_BYTES, MAX_SDP_MID_BYTES};
/// Longest human-readable reason in a server message, in bytes.
pub const MAX_REASON_BYTES: usize = 1024;
/// Most [`ClientMsg::Signal`] messages one party may send in one introduction.
/// Trickle ICE needs a few dozen at most; the cap keeps a misbehaving peer
/// from using the server as a relay.
pub const MAX_SIGNALS_PER_INTRO: u32 = 100;
/// The ring a client joins when it does not name one.
pub const DEFAULT_RING: &str = "default";

/// An introduction number, allocated by the server; unique per server run.
/// A type of its own so it cannot be mixed up with a link, a pull or a
/// request id; on the wire it is the bare JSON number, as before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IntroId(pub u64);

impl IntroId {
    /// The largest (for size limits).
    pub const MAX: IntroId = IntroId(u64::MAX);
}

impl std::fmt::Display for IntroId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Everything a client says to the signaling server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// The first message on a connection: who the peer is and which ring it wants.
    Hello {
        /// Must equal [`SIGNAL_VERSION`].
        version: u32,
        /// The ring's name; [`DEFAULT_RING`] when absent.
        #[serde(default = "default_ring")]
        ring: String,
        /// The peer's Chord id; unique within the ring.
        #[serde(with = "hex_id")]
        id: Id,
        /// The peer is already a member of this ring: it is reconnecting (the
        /// server restarted or its socket dropped), not joining. The server
        /// registers it as a member at once and may open a *meeting* (see the
        /// module docs). Absent means `false`.
        #[serde(default)]
        member: bool,
    },
    /// The peer is now part of the ring: it may introduce newcomers, and its
    /// own introduction (if any) is over.
    Member,
    /// An offer, answer or ICE candidate for the other party of an introduction.
    Signal {
        /// The introduction this belongs to.
        intro: IntroId,
        /// What to relay.
        payload: SignalPayload,
    },
    /// The peer leaves; the server forgets it and closes the connection.
    Bye,
}

/// Everything the signaling server says to a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// Answer to [`ClientMsg::Hello`], and again for each new introduction attempt.
    Welcome {
        /// The ring has no member: create it, then send [`ClientMsg::Member`].
        first: bool,
        /// When not first: the introduction to use in [`ClientMsg::Signal`].
        intro: Option<IntroId>,
        /// When not first: the member that expects this peer's offer.
        #[serde(with = "opt_hex_id", default)]
        introducer: Option<Id>,
        /// The STUN/TURN servers to use for every link (TURN credentials
        /// minted for this peer); empty: host candidates only.
        #[serde(default)]
        ice_servers: Vec<IceServer>,
    },
    /// Fresh TURN credentials, sent before the previous ones expire while the
    /// peer stays connected. Replaces the welcome's `ice_servers`.
    IceServers {
        /// The servers, as in [`ServerMsg::Welcome`].
        ice_servers: Vec<IceServer>,
    },
    /// Sent to a member: `newcomer` will send an offer for `intro`; answer it.
    Introduce {
        /// The introduction to use in [`ClientMsg::Signal`].
        intro: IntroId,
        /// The newcomer's id.
        #[serde(with = "hex_id")]
        newcomer: Id,
    },
    /// A payload relayed from the other party of an introduction.
    Signal {
        /// The introduction it belongs to.
        intro: IntroId,
        /// The sender.
        #[serde(with = "hex_id")]
        from: Id,
        /// What was relayed.
        payload: SignalPayload,
    },
    /// The introduction ended without the newcomer joining; nothing more will be
    /// relayed for it.
    IntroFailed {
        /// The introduction that failed.
        intro: IntroId,
        /// Why, for logs.
        reason: String,
    },
    /// The client broke the protocol, or cannot be served; the server closes
    /// the connection next.
    Error {
        /// Why, for logs.
        reason: String,
        /// What a client can act on, when there is something: [`ERROR_ID_TAKEN`]
        /// or [`ERROR_RING_FULL`] (other words may come from newer servers).
        /// Absent from older servers' messages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
}

/// `ServerMsg::Error` code: another live connection uses this id in this ring
/// (the same tab id open twice, say a duplicated tab); another id would be let in.
pub const ERROR_ID_TAKEN: &str = "id_taken";
/// `ServerMsg::Error` code: the ring has as many peers as this server allows.
pub const ERROR_RING_FULL: &str = "ring_full";

/// The WebRTC negotiation data relayed within one introduction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SignalPayload {
    /// The newcomer's session description offer.
    Offer {
        /// The SDP text.
        sdp: String,
    },
    /// The member's session description answer.
    Answer {
        /// The SDP text.
        sdp: String,
    },
    /// One trickled ICE candidate (the fields of `RTCIceCandidateInit`).
    Ice {
        /// The `candidate:` line; empty marks the end of candidates.
        candidate: String,
        /// The media stream identification tag.
        #[serde(default)]
        sdp_mid: Option<String>,
        /// The index of the m-line the candidate belongs to.
        #[serde(default)]
        sdp_m_line_index: Option<u16>,
    },
}

/// Why a signaling frame or message was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// The frame is larger than [`MAX_FRAME_BYTES`].
    #[error("frame of {0} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")]
    FrameTooLarge(usize),
    /// The frame is not a text frame holding one JSON message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The hello names a version other than [`SIGNAL_VERSION`].
    #[error("signaling version {0} is not supported (this server speaks {SIGNAL_VERSION})")]
    Version(u32),
    /// The ring name is empty, too long or uses characters outside `[A-Za-z0-9_-]`.
    #[error("invalid ring name: 1 to {MAX_RING_NAME_LEN} characters of [A-Za-z0-9_-] expected")]
    RingName,
    /// An offer or answer is longer than [`MAX_SDP_BYTES`].
    #[error("sdp of {0} bytes exceeds the {MAX_SDP_BYTES}-byte limit")]
    SdpTooLong(usize),
    /// An ICE candidate is longer than [`MAX_CANDIDATE_BYTES`].
    #[error("ice candidate of {0} bytes exceeds the {MAX_CANDIDATE_BYTES}-byte limit")]
    CandidateTooLong(usize),
    /// An `sdp_mid` is longer than [`MAX_SDP_MID_BYTES`].
    #[error("sdp_mid of {0} bytes exceeds the {MAX_SDP_MID_BYTES}-byte limit")]
    SdpMidTooLong(usize),
    /// A reason text is longer than [`MAX_REASON_BYTES`].
    #[error("reason of {0} bytes exceeds the {MAX_REASON_BYTES}-byte limit")]
    ReasonTooLong(usize),
    /// The ICE servers sent are beyond the limits or malformed.
    #[error("ice servers: {0}")]
    Ice(#[from] IceUrlError),
}

impl ClientMsg {
    /// Checks every limit of a decoded client message.
    pub fn validate(&self) -> Result<(), SignalError> {
        match self {
            ClientMsg::Hello { version, ring, .. } => {
                if *version != SIGNAL_VERSION {
                    return Err(SignalError::Version(*version));
                }
                if !is_valid_ring_name(ring) {
                    return Err(SignalError::RingName);
                }
                Ok(())
            }
            ClientMsg::Signal { payload, .. } => payload.validate(),
            ClientMsg::Member | ClientMsg::Bye => Ok(()),
        }
    }

    /// A short name for counters and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMsg::Hello { .. } => "hello",
            ClientMsg::Member => "member",
            ClientMsg::Signal { .. } => "signal",
            ClientMsg::Bye => "bye",
        }
    }
}

impl ServerMsg {
    /// Checks every limit of a decoded server message (the browser side calls
    /// this: nothing received from the network may be trusted, not even the server).
    pub fn validate(&self) -> Result<(), SignalError> {
        match self {
            ServerMsg::Signal { payload, .. } => payload.validate(),
            ServerMsg::Welcome { ice_servers, .. } | ServerMsg::IceServers { ice_servers } => Ok(validate_ice_servers(ice_servers)?),
            ServerMsg::IntroFailed { reason, .. } | ServerMsg::Error { reason, .. } if reason.len() > MAX_REASON_BYTES => {
                Err(SignalError::ReasonTooLong(reason.len()))
            }
            _ => Ok(()),
        }
    }
}

impl SignalPayload {
    /// Checks the size limits of the relayed data.
    pub fn validate(&self) -> Result<(), SignalError> {
        match self {
            SignalPayload::Offer { sdp } | SignalPayload::Answer { sdp } if sdp.len() > MAX_SDP_BYTES => {
                Err(SignalError::SdpTooLong(sdp.len()))
            }
            SignalPayload::Ice { candidate, .. } if candidate.len() > MAX_CANDIDATE_BYTES => {
                Err(SignalError::CandidateTooLong(candidate.len()))
            }
            SignalPayload::Ice { sdp_mid: Some(mid), .. } if mid.len() > MAX_SDP_MID_BYTES => Err(SignalError::SdpMidTooLong(mid.len())),
            _ => Ok(()),
        }
    }
}

/// Checks a frame's length before it is parsed, so an oversized frame costs no parsing.
pub fn check_frame_len(len: usize) -> Result<(), SignalError> {
    if len > MAX_FRAME_BYTES {
        return Err(SignalError::FrameTooLarge(len));
    }
    Ok(())
}

/// Whether `name` is 1 to [`MAX_RING_NAME_LEN`] characters of `[A-Za-z0-9_-]`.
pub fn is_valid_ring_name(name: &str) -> bool {
    // ASCII only, so the byte length is the character count.
    !name.is_empty() && name.len() <= MAX_RING_NAME_LEN && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn default_ring() -> String {
    DEFAULT_RING.to_owned()
}

/// Serializes an [`Id`] as 40 hex digits.
mod hex_id {
    use crate::id::Id;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &Id, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&id.to_hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        let text = String::deserialize(d)?;
        Id::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// Serializes an `Option<Id>` as 40 hex digits or `null`.
mod opt_hex_id {
    use crate::id::Id;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &Option<Id>, s: S) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.serialize_some(&id.to_hex()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Id>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => Id::from_hex(&text).map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

// serde_json is a native-only dependency of the core, so these run natively.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn id() -> Id {
        Id::key_of("tab")
    }

    fn round_trip<T>(value: &T) -> T
    where
        T: Serialize + for<'de> Deserialize<'de>,
    {
        let text = serde_json::to_string(value).expect("encodes");
        serde_json::from_str(&text).expect("decodes")
    }

    fn payloads() -> Vec<SignalPayload> {
        vec![
            SignalPayload::Offer { sdp: "v=0\r\n".into() },
            SignalPayload::Answer { sdp: "v=0\r\n".into() },
            SignalPayload::Ice {
                candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
            },
            SignalPayload::Ice { candidate: String::new(), sdp_mid: None, sdp_m_line_index: None },
        ]
    }

    #[test]
    fn client_messages_round_trip() {
        let mut msgs = vec![
            ClientMsg::Hello { version: SIGNAL_VERSION, ring: "r-1".into(), id: id(), member: false },
            ClientMsg::Hello { version: SIGNAL_VERSION, ring: "r-1".into(), id: id(), member: true },
            ClientMsg::Member,
            ClientMsg::Bye,
        ];
        msgs.extend(payloads().into_iter().map(|payload| ClientMsg::Signal { intro: IntroId(7), payload }));
        for m in msgs {
            assert_eq!(round_trip(&m), m);
            assert_eq!(m.validate(), Ok(()));
        }
    }

    #[test]
    fn server_messages_round_trip() {
        let mut msgs = vec![
            ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers: vec![] },
            ServerMsg::Welcome { first: false, intro: Some(IntroId(3)), introducer: Some(id()), ice_servers: vec![] },
            ServerMsg::IceServers {
                ice_servers: vec![IceServer {
                    urls: vec!["turn:203.0.113.1:3478?transport=udp".into()],
                    username: Some("1700000000:ab".into()),
                    credential: Some("c2VjcmV0".into()),
                }],
            },
            ServerMsg::Introduce { intro: IntroId(3), newcomer: id() },
            ServerMsg::IntroFailed { intro: IntroId(3), reason: "gone".into() },
            ServerMsg::Error { reason: "bad".into(), code: None },
            ServerMsg::Error { reason: "taken".into(), code: Some(ERROR_ID_TAKEN.into()) },
        ];
        msgs.extend(payloads().into_iter().map(|payload| ServerMsg::Signal { intro: IntroId(3), from: id(), payload }));
        for m in msgs {
            assert_eq!(round_trip(&m), m);
            assert_eq!(m.validate(), Ok(()));
        }
    }

    #[test]
    fn wire_format_is_tagged_snake_case_with_hex_ids() {
        let hello = ClientMsg::Hello { version: 1, ring: "default".into(), id: id(), member: true };
        let text = serde_json::to_string(&hello).unwrap();
        assert_eq!(text, format!(r#"{{"type":"hello","version":1,"ring":"default","id":"{}","member":true}}"#, id().to_hex()));
        let ice = ClientMsg::Signal {
            intro: IntroId(1),
            payload: SignalPayload::Ice { candidate: "c".into(), sdp_mid: None, sdp_m_line_index: Some(2) },
        };
        assert_eq!(
            serde_json::to_string(&ice).unwrap(),
            r#"{"type":"signal","intro":1,"payload":{"type":"ice","candidate":"c","sdp_mid":null,"sdp_m_line_index":2}}"#
        );
        let welcome = ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers: vec![] };
        assert_eq!(
            serde_json::to_string(&welcome).unwrap(),
            r#"{"type":"welcome","first":true,"intro":null,"introducer":null,"ice_servers":[]}"#
        );
    }

    #[test]
    fn ring_defaults_and_unknown_fields_are_ignored() {
        let text = format!(r#"{{"type":"hello","version":1,"id":"{}","extra":[1,2]}}"#, id().to_hex());
        let m: ClientMsg = serde_json::from_str(&text).unwrap();
        assert_eq!(m, ClientMsg::Hello { version: 1, ring: DEFAULT_RING.into(), id: id(), member: false });
        let m: ClientMsg = serde_json::from_str(r#"{"type":"signal","intro":1,"payload":{"type":"ice","candidate":""}}"#).unwrap();
        assert_eq!(
            m,
            ClientMsg::Signal {
                intro: IntroId(1),
                payload: SignalPayload::Ice { candidate: String::new(), sdp_mid: None, sdp_m_line_index: None }
            }
        );
    }

    #[test]
    fn malformed_json_is_an_error_not_a_panic() {
        for text in [
            "",
            "{",
            "null",
            "[]",
            r#"{"type":"nope"}"#,
            r#"{"type":"hello","version":1,"id":"xyz"}"#,
            r#"{"type":"hello","version":-1,"id":"0000000000000000000000000000000000000000"}"#,
            r#"{"type":"signal","intro":1.5,"payload":{"type":"offer","sdp":""}}"#,
            r#"{"type":"signal","intro":1,"payload":{"type":"ice","candidate":"","sdp_m_line_index":70000}}"#,
        ] {
            assert!(serde_json::from_str::<ClientMsg>(text).is_err(), "{text:?} should not decode");
        }
    }

    #[test]
    fn limits_are_enforced() {
        let hello = |version: u32, ring: &str| ClientMsg::Hello { version, ring: ring.into(), id: id(), member: false };
        assert_eq!(hello(2, "default").validate(), Err(SignalError::Version(2)));
        assert_eq!(hello(1, "").validate(), Err(SignalError::RingName));
        assert_eq!(hello(1, "a b").validate(), Err(SignalError::RingName));
        assert_eq!(hello(1, "é").validate(), Err(SignalError::RingName));
        assert_eq!(hello(1, &"r".repeat(MAX_RING_NAME_LEN + 1)).validate(), Err(SignalError::RingName));
        assert_eq!(hello(1, &"r".repeat(MAX_RING_NAME_LEN)).validate(), Ok(()));
        assert_eq!(hello(1, "Az09_-").validate(), Ok(()));

        let signal = |payload| ClientMsg::Signal { intro: IntroId(1), payload };
        let long_sdp = "x".repeat(MAX_SDP_BYTES + 1);
        assert_eq!(signal(SignalPayload::Offer { sdp: long_sdp.clone() }).validate(), Err(SignalError::SdpTooLong(MAX_SDP_BYTES + 1)));
        assert_eq!(signal(SignalPayload::Answer { sdp: long_sdp }).validate(), Err(SignalError::SdpTooLong(MAX_SDP_BYTES + 1)));
        let ice = |candidate: usize, mid: usize| SignalPayload::Ice {
            candidate: "c".repeat(candidate),
            sdp_mid: Some("m".repeat(mid)),
            sdp_m_line_index: None,
        };
        assert_eq!(signal(ice(MAX_CANDIDATE_BYTES + 1, 1)).validate(), Err(SignalError::CandidateTooLong(MAX_CANDIDATE_BYTES + 1)));
        assert_eq!(signal(ice(1, MAX_SDP_MID_BYTES + 1)).validate(), Err(SignalError::SdpMidTooLong(MAX_SDP_MID_BYTES + 1)));
        assert_eq!(signal(ice(MAX_CANDIDATE_BYTES, MAX_SDP_MID_BYTES)).validate(), Ok(()));

        let error = ServerMsg::Error { reason: "r".repeat(MAX_REASON_BYTES + 1), code: None };
        assert_eq!(error.validate(), Err(SignalError::ReasonTooLong(MAX_REASON_BYTES + 1)));
        assert_eq!(check_frame_len(MAX_FRAME_BYTES), Ok(()));
        assert_eq!(check_frame_len(MAX_FRAME_BYTES + 1), Err(SignalError::FrameTooLarge(MAX_FRAME_BYTES + 1)));
    }

    /// An introduction number is the bare JSON number on the wire, as when
    /// it was a `u64`: servers and tabs of both versions understand each other.
    #[test]
    fn an_intro_id_is_its_number_on_the_wire() {
        let m = ClientMsg::Signal { intro: IntroId(7), payload: SignalPayload::Answer { sdp: "a".into() } };
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains(r#""intro":7,"#), "{text}");
        assert_eq!(serde_json::from_str::<ClientMsg>(&text).unwrap(), m);
    }

    #[test]
    fn the_largest_valid_offer_fits_in_a_frame() {
        let m = ClientMsg::Signal { intro: IntroId::MAX, payload: SignalPayload::Offer { sdp: "x".repeat(MAX_SDP_BYTES) } };
        assert!(serde_json::to_string(&m).unwrap().len() <= MAX_FRAME_BYTES);
    }
}
