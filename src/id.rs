//! 160-bit identifiers and the ring arithmetic Chord needs.
//!
//! Node ids and keys live on the same circle of 2¹⁶⁰ points. All of Chord's
//! reasoning is about *clockwise* order on that circle, so the interval tests
//! here never look at absolute magnitude except through [`Id::distance`].
//! The byte array is big-endian, so the derived `Ord` is numeric order.

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use std::fmt;

/// Number of bits in an id, and so the number of fingers a node has.
pub const ID_BITS: usize = 160;
/// Number of bytes in an id.
pub const ID_BYTES: usize = ID_BITS / 8;

/// A point on the Chord ring: a node id or a key (SHA-1 of a name).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Id(pub [u8; ID_BYTES]);

/// Why a string is not an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdParseError {
    /// The text is not exactly 40 hexadecimal digits.
    #[error("an id is 40 hexadecimal digits, got {0:?}")]
    BadHex(String),
}

impl Id {
    /// The zero point of the ring.
    pub const ZERO: Id = Id([0; ID_BYTES]);
    /// The largest id, 2¹⁶⁰ − 1.
    pub const MAX: Id = Id([0xff; ID_BYTES]);

    /// The key of a name: SHA-1 of its UTF-8 bytes, as the Chord paper prescribes.
    pub fn key_of(name: &str) -> Id {
        Id::hash(name.as_bytes())
    }

    /// SHA-1 of arbitrary bytes.
    pub fn hash(bytes: &[u8]) -> Id {
        Id(Sha1::digest(bytes).into())
    }

    /// An id from the low 64 bits of a number (the upper bits zero). Handy in tests.
    pub fn from_u64(v: u64) -> Id {
        let mut b = [0u8; ID_BYTES];
        b[ID_BYTES - 8..].copy_from_slice(&v.to_be_bytes());
        Id(b)
    }

    /// An id built from 20 bytes produced by `next` (e.g. a seeded RNG).
    pub fn from_words(mut next: impl FnMut() -> u64) -> Id {
        let mut b = [0u8; ID_BYTES];
        for chunk in b.chunks_mut(8) {
            let w = next().to_be_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        Id(b)
    }

    /// Lower-case hex, 40 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 40 hex digits.
    pub fn from_hex(s: &str) -> Result<Id, IdParseError> {
        let mut b = [0u8; ID_BYTES];
        hex::decode_to_slice(s, &mut b).map_err(|_| IdParseError::BadHex(s.to_owned()))?;
        Ok(Id(b))
    }

    /// `(self + other) mod 2¹⁶⁰`.
    pub fn wrapping_add(&self, other: &Id) -> Id {
        let mut out = [0u8; ID_BYTES];
        let mut carry = 0u16;
        for i in (0..ID_BYTES).rev() {
            let s = self.0[i] as u16 + other.0[i] as u16 + carry;
            out[i] = s as u8;
            carry = s >> 8;
        }
        Id(out)
    }

    /// `(self - other) mod 2¹⁶⁰`.
    pub fn wrapping_sub(&self, other: &Id) -> Id {
        let mut out = [0u8; ID_BYTES];
        let mut borrow = 0i16;
        for i in (0..ID_BYTES).rev() {
            let mut d = self.0[i] as i16 - other.0[i] as i16 - borrow;
            borrow = 0;
            if d < 0 {
                d += 256;
                borrow = 1;
            }
            out[i] = d as u8;
        }
        Id(out)
    }

    /// 2^i for `i < 160`.
    pub fn pow2(i: usize) -> Id {
        debug_assert!(i < ID_BITS);
        let mut b = [0u8; ID_BYTES];
        b[ID_BYTES - 1 - i / 8] = 1 << (i % 8);
        Id(b)
    }

    /// Clockwise distance from `self` to `to`: how far one walks from `self`
    /// in the direction of increasing ids to reach `to` (0 when equal).
    pub fn distance(&self, to: &Id) -> Id {
        to.wrapping_sub(self)
    }

    /// The start of finger `i` of a node with this id: `self + 2^i`.
    pub fn finger_start(&self, i: usize) -> Id {
        self.wrapping_add(&Id::pow2(i))
    }

    /// Whether `self` lies in the open interval `(a, b)` walking clockwise.
    /// When `a == b` the interval is the whole ring except `a`.
    #[inline]
    pub fn in_open(&self, a: &Id, b: &Id) -> bool {
        if a < b {
            a < self && self < b
        } else {
            // Wraps around zero (or a == b: everything but a).
            self > a || self < b
        }
    }

    /// Whether `self` lies in the half-open interval `(a, b]`.
    /// When `a == b` the interval is the whole ring: a single node owns every key.
    #[inline]
    pub fn in_half_open(&self, a: &Id, b: &Id) -> bool {
        self == b || self.in_open(a, b)
    }

    /// Number of significant bits (0 for zero): ⌊log₂ self⌋ + 1.
    pub fn bit_len(&self) -> usize {
        for (i, byte) in self.0.iter().enumerate() {
            if *byte != 0 {
                return (ID_BYTES - i) * 8 - byte.leading_zeros() as usize;
            }
        }
        0
    }

    /// Short form for logs: the first 8 hex digits.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl Ord for Id {
    /// Numeric order (big-endian bytes), compared as two machine words
    /// instead of a byte loop: the simulator compares ids on every hop.
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let hi = |id: &Id| u128::from_be_bytes(id.0[..16].try_into().expect("16 of 20 bytes"));
        let lo = |id: &Id| u32::from_be_bytes(id.0[16..].try_into().expect("4 of 20 bytes"));
        hi(self).cmp(&hi(other)).then_with(|| lo(self).cmp(&lo(other)))
    }
}

impl PartialOrd for Id {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::str::FromStr for Id {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Id::from_hex(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_id() -> impl Strategy<Value = Id> {
        any::<[u8; ID_BYTES]>().prop_map(Id)
    }

    #[test]
    fn key_of_is_sha1() {
        // SHA-1("abc") from FIPS 180-1.
        assert_eq!(Id::key_of("abc").to_hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let id = Id::key_of("x");
        assert_eq!(Id::from_hex(&id.to_hex()), Ok(id));
        assert!(Id::from_hex("abc").is_err());
        assert!(Id::from_hex(&"g".repeat(40)).is_err());
    }

    proptest! {
        #[test]
        fn order_is_byte_order(a in any_id(), b in any_id()) {
            prop_assert_eq!(a.cmp(&b), a.0.cmp(&b.0));
        }
    }

    #[test]
    fn wrap_around_examples() {
        let a = Id::MAX.wrapping_sub(&Id::from_u64(5));
        let b = Id::from_u64(5);
        assert!(Id::ZERO.in_open(&a, &b));
        assert!(Id::MAX.in_open(&a, &b));
        assert!(!Id::from_u64(6).in_open(&a, &b));
        assert!(b.in_half_open(&a, &b));
        assert!(!a.in_half_open(&a, &b));
        assert_eq!(Id::MAX.wrapping_add(&Id::from_u64(1)), Id::ZERO);
    }

    proptest! {
        #[test]
        fn add_sub_inverse(a in any_id(), b in any_id()) {
            prop_assert_eq!(a.wrapping_add(&b).wrapping_sub(&b), a);
        }

        #[test]
        fn distance_laws(a in any_id(), b in any_id()) {
            // identity
            prop_assert_eq!(a.distance(&a), Id::ZERO);
            // going a→b then b→a is a full turn (0 mod 2^160)
            prop_assert_eq!(a.distance(&b).wrapping_add(&b.distance(&a)), Id::ZERO);
            // a + d(a,b) = b
            prop_assert_eq!(a.wrapping_add(&a.distance(&b)), b);
        }

        #[test]
        fn open_interval_matches_distance(x in any_id(), a in any_id(), b in any_id()) {
            // x ∈ (a, b) ⇔ 0 < d(a,x) < d(a,b), with (a,a) the whole ring but a.
            let dx = a.distance(&x);
            let db = a.distance(&b);
            let expected = if a == b { x != a } else { dx > Id::ZERO && dx < db };
            prop_assert_eq!(x.in_open(&a, &b), expected);
        }

        #[test]
        fn complement_of_interval(x in any_id(), a in any_id(), b in any_id()) {
            prop_assume!(a != b);
            // (a, b] and (b, a] partition the ring.
            prop_assert!(x.in_half_open(&a, &b) ^ x.in_half_open(&b, &a));
        }

        #[test]
        fn interval_is_translation_invariant(x in any_id(), a in any_id(), b in any_id(), t in any_id()) {
            let s = |v: &Id| v.wrapping_add(&t);
            prop_assert_eq!(x.in_open(&a, &b), s(&x).in_open(&s(&a), &s(&b)));
            prop_assert_eq!(x.in_half_open(&a, &b), s(&x).in_half_open(&s(&a), &s(&b)));
        }

        #[test]
        fn finger_starts_strictly_increase(n in any_id()) {
            let mut prev = Id::ZERO;
            for i in 0..ID_BITS {
                let d = n.distance(&n.finger_start(i));
                prop_assert!(d > prev, "finger {} not beyond finger {}", i, i.saturating_sub(1));
                prop_assert_eq!(d.bit_len(), i + 1);
                prev = d;
            }
        }
    }
}
