//! Transfer frames: [`TRANSFER_FRAME_TAG`] then postcard. Decoding checks
//! the size, then the structure, then the limits; it never panics.

use super::CHUNK_BYTES;
use crate::error::Refusal;
use crate::id::Id;
use crate::message::ReqId;
use crate::store::{Blob, Version, MAX_BLOB_BYTES, MAX_NAME_BYTES};
use serde::{Deserialize, Serialize};

/// First byte of every transfer frame (Chord frames start with their
/// version, link frames with `0xF0`).
pub const TRANSFER_FRAME_TAG: u8 = 0xF1;
/// Largest transfer frame: one chunk plus headers.
pub const MAX_TRANSFER_FRAME_BYTES: usize = CHUNK_BYTES as usize + 2 * 1024;

/// A pull's number, unique per peer. A pull that moves on to another holder
/// gets a new number, so late answers for the old one are ignored. A type of
/// its own so it cannot be mixed up with a link, an introduction or a request
/// id; on the wire it is the bare number (postcard varint), as before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PullId(pub u64);

/// What two tabs say to move a blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum XferMsg {
    /// Puller → holder: "send me chunk `index` of the blob with `digest`".
    Want {
        /// The puller's number for this transfer.
        pull: PullId,
        /// The blob's SHA-1.
        digest: Id,
        /// Which chunk.
        index: u32,
    },
    /// Holder → puller: one chunk.
    Chunk {
        /// The transfer.
        pull: PullId,
        /// Which chunk.
        index: u32,
        /// Its bytes (at most [`CHUNK_BYTES`]).
        bytes: Vec<u8>,
    },
    /// Holder → puller: it does not hold that blob (any more).
    Missing {
        /// The transfer.
        pull: PullId,
    },
    /// Writer → a key's primary: "I hold this blob; pull it and commit it".
    Offer {
        /// The writer's number for this put.
        put: ReqId,
        /// What to pull.
        blob: Blob,
    },
    /// Writer → primary: the put was cancelled; stop pulling.
    Withdraw {
        /// The put.
        put: ReqId,
    },
    /// Primary → writer: the blob is stored at the primary and has this
    /// version; its replicas are copying the bytes. [`XferMsg::Copies`]
    /// follows: the put is answered only by its final one.
    Committed {
        /// The put.
        put: ReqId,
        /// The version it got.
        version: Version,
    },
    /// Primary → writer: the put did not succeed.
    Refused {
        /// The put.
        put: ReqId,
        /// Why.
        reason: Refusal,
    },
    /// Writer → a key's primary: as [`XferMsg::Offer`], but the put is
    /// answered once `holders` tabs (the primary included) hold the bytes
    /// rather than the ring's replication factor (`1`: at the commit).
    OfferFor {
        /// The writer's number for this put.
        put: ReqId,
        /// What to pull.
        blob: Blob,
        /// Tabs that must hold the bytes before the put is answered.
        holders: u8,
    },
    /// Replica → the peer that handed it a blob's manifest (the key's
    /// primary, when it pushed a new version): the bytes are now complete
    /// here. Sent once per manifest received, as soon as the bytes are held.
    Holding {
        /// The blob's key.
        key: Id,
        /// The blob's SHA-1.
        digest: Id,
    },
    /// Primary → writer, after [`XferMsg::Committed`]: `holders` tabs (the
    /// primary included) hold the bytes, of the `target` the ring keeps
    /// (its replication factor, or fewer in a smaller ring). `done`: the
    /// put's answer; otherwise progress (copies are still being made).
    Copies {
        /// The put.
        put: ReqId,
        /// Tabs that hold the bytes.
        holders: u8,
        /// Tabs that should.
        target: u8,
        /// Whether this is the final count.
        done: bool,
    },
    /// Holder → puller: bytes `offset..offset + bytes.len()` of chunk
    /// `index`, when a whole [`XferMsg::Chunk`] frame is larger than the
    /// puller's end of the link accepts (see [`chunk_frames`]). The parts
    /// of a chunk go out in order, one after the other.
    Part {
        /// The transfer.
        pull: PullId,
        /// Which chunk.
        index: u32,
        /// Where in the chunk these bytes start.
        offset: u32,
        /// The bytes (not empty; they end within [`CHUNK_BYTES`]).
        bytes: Vec<u8>,
    },
}

/// Most bytes a [`XferMsg::Chunk`] or [`XferMsg::Part`] frame adds to the
/// bytes it carries: the tag, the variant, and the varints of `pull` (≤ 10
/// bytes), `index`, `offset` and the length (≤ 5 each) — 27, rounded up.
pub const CHUNK_FRAME_OVERHEAD: usize = 32;

/// The frames that carry chunk `index` of pull `pull` over a link whose
/// other end accepts messages of at most `max_frame` bytes: one
/// [`XferMsg::Chunk`] when it fits, else [`XferMsg::Part`]s of at most
/// `max_frame - CHUNK_FRAME_OVERHEAD` bytes each. `max_frame` is at least
/// the links' minimum (16 KiB), so parts are never tiny; a smaller one still
/// gets parts of one byte or more rather than nothing.
pub fn chunk_frames(pull: PullId, index: u32, bytes: Vec<u8>, max_frame: usize) -> Vec<XferMsg> {
    if bytes.len().saturating_add(CHUNK_FRAME_OVERHEAD) <= max_frame {
        return vec![XferMsg::Chunk { pull, index, bytes }];
    }
    let room = max_frame.saturating_sub(CHUNK_FRAME_OVERHEAD).max(1);
    bytes
        .chunks(room)
        .enumerate()
        // Offsets stay below CHUNK_BYTES (a u32) for any chunk the store holds.
        .map(|(k, part)| XferMsg::Part { pull, index, offset: (k * room) as u32, bytes: part.to_vec() })
        .collect()
}

/// Why bytes were not accepted as a transfer frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum XferError {
    /// Not a transfer frame.
    #[error("not a transfer frame")]
    NotTransfer,
    /// Longer than [`MAX_TRANSFER_FRAME_BYTES`].
    #[error("transfer frame of {0} bytes exceeds the {MAX_TRANSFER_FRAME_BYTES}-byte limit")]
    Oversized(usize),
    /// Does not decode.
    #[error("malformed transfer frame: {0}")]
    Malformed(String),
    /// Decodes but breaks a limit.
    #[error("transfer frame beyond its limits: {0}")]
    Limit(&'static str),
}

impl XferMsg {
    /// Encodes as one frame.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain structs into a Vec cannot fail.
        postcard::to_extend(self, vec![TRANSFER_FRAME_TAG]).unwrap_or_else(|_| vec![TRANSFER_FRAME_TAG])
    }

    /// Decodes one frame, enforcing the limits. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<XferMsg, XferError> {
        let (&tag, body) = bytes.split_first().ok_or(XferError::NotTransfer)?;
        if tag != TRANSFER_FRAME_TAG {
            return Err(XferError::NotTransfer);
        }
        if bytes.len() > MAX_TRANSFER_FRAME_BYTES {
            return Err(XferError::Oversized(bytes.len()));
        }
        let (msg, rest): (XferMsg, &[u8]) = postcard::take_from_bytes(body).map_err(|e| XferError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(XferError::Malformed(format!("{} trailing bytes", rest.len())));
        }
        match &msg {
            XferMsg::Chunk { bytes, .. } if bytes.len() > CHUNK_BYTES as usize => Err(XferError::Limit("chunk too long")),
            XferMsg::Part { bytes, .. } if bytes.is_empty() => Err(XferError::Limit("empty part")),
            XferMsg::Part { offset, bytes, .. } if *offset as u64 + bytes.len() as u64 > CHUNK_BYTES as u64 => {
                Err(XferError::Limit("part beyond its chunk"))
            }
            XferMsg::Offer { blob, .. } | XferMsg::OfferFor { blob, .. } if blob.name.len() > MAX_NAME_BYTES => {
                Err(XferError::Limit("name too long"))
            }
            XferMsg::Offer { blob, .. } | XferMsg::OfferFor { blob, .. } if blob.size == 0 || blob.size > MAX_BLOB_BYTES => {
                Err(XferError::Limit("blob size"))
            }
            XferMsg::OfferFor { holders: 0, .. } => Err(XferError::Limit("no holder asked for")),
            _ => Ok(msg),
        }
    }
}

/// Whether `bytes` is a transfer frame.
pub fn is_transfer_frame(bytes: &[u8]) -> bool {
    bytes.first() == Some(&TRANSFER_FRAME_TAG)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn blob() -> Blob {
        Blob { key: Id::key_of("f"), name: "f".into(), size: 100_000, digest: Id::hash(b"x") }
    }

    #[test]
    fn round_trip_and_limits() {
        let msgs = [
            XferMsg::Want { pull: PullId(1), digest: Id::hash(b"x"), index: 3 },
            XferMsg::Chunk { pull: PullId(1), index: 3, bytes: vec![7; CHUNK_BYTES as usize] },
            XferMsg::Missing { pull: PullId(1) },
            XferMsg::Offer { put: ReqId::new(2), blob: blob() },
            XferMsg::Withdraw { put: ReqId::new(2) },
            XferMsg::Committed { put: ReqId::new(2), version: Version { seq: 1, writer: Id::ZERO } },
            XferMsg::Refused { put: ReqId::new(2), reason: Refusal::StoreFull },
            XferMsg::OfferFor { put: ReqId::new(3), blob: blob(), holders: 1 },
            XferMsg::Holding { key: Id::key_of("f"), digest: Id::hash(b"x") },
            XferMsg::Copies { put: ReqId::new(3), holders: 2, target: 3, done: true },
            XferMsg::Part { pull: PullId(1), index: 3, offset: 100, bytes: vec![7; 1000] },
        ];
        for m in msgs {
            let b = m.encode();
            assert!(is_transfer_frame(&b));
            assert!(b.len() <= MAX_TRANSFER_FRAME_BYTES);
            assert_eq!(XferMsg::decode(&b), Ok(m));
        }
        let long = XferMsg::Chunk { pull: PullId(1), index: 0, bytes: vec![0; CHUNK_BYTES as usize + 1] }.encode();
        assert_eq!(XferMsg::decode(&long), Err(XferError::Limit("chunk too long")));
        let empty = XferMsg::Offer { put: ReqId::new(1), blob: Blob { size: 0, ..blob() } }.encode();
        assert_eq!(XferMsg::decode(&empty), Err(XferError::Limit("blob size")));
        let none = XferMsg::OfferFor { put: ReqId::new(1), blob: blob(), holders: 0 }.encode();
        assert_eq!(XferMsg::decode(&none), Err(XferError::Limit("no holder asked for")));
        let past = XferMsg::Part { pull: PullId(1), index: 0, offset: CHUNK_BYTES - 1, bytes: vec![0; 2] }.encode();
        assert_eq!(XferMsg::decode(&past), Err(XferError::Limit("part beyond its chunk")));
        let empty = XferMsg::Part { pull: PullId(1), index: 0, offset: 0, bytes: vec![] }.encode();
        assert_eq!(XferMsg::decode(&empty), Err(XferError::Limit("empty part")));
        assert_eq!(XferMsg::decode(&[1, 2]), Err(XferError::NotTransfer));
        assert!(matches!(XferMsg::decode(&vec![TRANSFER_FRAME_TAG; MAX_TRANSFER_FRAME_BYTES + 1]), Err(XferError::Oversized(_))));
    }

    /// A pull number is the bare varint on the wire, as when it was a `u64`:
    /// tabs of both versions understand each other.
    #[test]
    fn a_pull_id_is_its_number_on_the_wire() {
        let bytes = XferMsg::Missing { pull: PullId(300) }.encode();
        assert_eq!(bytes, vec![TRANSFER_FRAME_TAG, 2, 0xAC, 0x02]);
        assert_eq!(XferMsg::decode(&bytes), Ok(XferMsg::Missing { pull: PullId(300) }));
    }

    /// Every frame fits the limit, the parts cover the chunk in order, and
    /// a chunk that fits goes whole — also with the largest pull numbers.
    #[test]
    fn chunk_frames_fit_the_limit() {
        let chunk: Vec<u8> = (0..CHUNK_BYTES).map(|i| (i * 7 % 251) as u8).collect();
        for max_frame in [16 * 1024, 65_536, 100_000, CHUNK_BYTES as usize + CHUNK_FRAME_OVERHEAD - 1, 262_144, usize::MAX] {
            for (pull, index) in [(PullId(1), 0), (PullId(u64::MAX), u32::MAX)] {
                let frames = chunk_frames(pull, index, chunk.clone(), max_frame);
                let mut joined = Vec::new();
                for f in &frames {
                    let bytes = f.encode();
                    assert!(bytes.len() <= max_frame, "{} > {max_frame}", bytes.len());
                    assert_eq!(XferMsg::decode(&bytes).as_ref(), Ok(f));
                    match f {
                        XferMsg::Chunk { bytes, .. } => joined.extend_from_slice(bytes),
                        XferMsg::Part { offset, bytes, .. } => {
                            assert_eq!(*offset as usize, joined.len());
                            joined.extend_from_slice(bytes);
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
                assert_eq!(joined, chunk);
                let whole = max_frame >= CHUNK_BYTES as usize + CHUNK_FRAME_OVERHEAD;
                assert_eq!(frames.len() == 1 && matches!(frames[0], XferMsg::Chunk { .. }), whole, "max_frame {max_frame}");
            }
        }
    }

    proptest! {
        #[test]
        fn decode_never_panics(body in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut bytes = vec![TRANSFER_FRAME_TAG];
            bytes.extend(body);
            let _ = XferMsg::decode(&bytes);
        }
    }
}
