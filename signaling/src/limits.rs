//! The connection limits checked before any frame is read: WebSockets in all,
//! connections per address, and allowed origins.
//!
//! Counts are held by guards released on drop, so a connection is uncounted
//! however it ends: closed, reset, or an upgrade that never completes.

use crate::error::Refusal;
use axum::http::HeaderValue;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Live counts shared by the accept loop, the router and `/stats`.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Open WebSockets (including ones being refused at this instant).
    pub websockets: AtomicUsize,
    /// Connections and upgrades refused by a [`Refusal`] since the start.
    pub refused: AtomicU64,
}

impl Gauges {
    /// Counts one refusal and hands it back, for `return Err(gauges.refuse(..))`.
    pub fn refuse(&self, refusal: Refusal) -> Refusal {
        self.refused.fetch_add(1, Ordering::Relaxed);
        refusal
    }
}

/// One counted WebSocket.
#[derive(Debug)]
pub struct Slot(Arc<Gauges>);

impl Slot {
    /// Takes a slot if fewer than `max` WebSockets are open.
    pub fn take(gauges: &Arc<Gauges>, max: usize) -> Option<Slot> {
        let before = gauges.websockets.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(gauges.clone());
        (before < max).then_some(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.websockets.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Open connections per client address.
#[derive(Clone, Debug, Default)]
pub struct AddressCounts(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One counted connection from one address.
#[derive(Debug)]
pub struct AddressSlot {
    counts: AddressCounts,
    key: IpAddr,
}

impl AddressCounts {
    /// Counts a new connection from `ip`; `Err` still holds the slot (the
    /// connection is counted while it is being refused) when the address
    /// already had `max` connections.
    pub fn take(&self, ip: IpAddr, max: usize) -> Result<AddressSlot, AddressSlot> {
        let key = address_key(ip);
        let before = {
            let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            let count = counts.entry(key).or_insert(0);
            *count += 1;
            *count - 1
        };
        let slot = AddressSlot { counts: self.clone(), key };
        if before < max {
            Ok(slot)
        } else {
            Err(slot)
        }
    }

    /// Connections open from `ip` (by its key).
    pub fn count(&self, ip: IpAddr) -> usize {
        let counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(&address_key(ip)).copied().unwrap_or(0)
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// The address a connection is counted under: an IPv4 address as is (also
/// when mapped into IPv6), an IPv6 address by its /64, since one subscriber
/// usually gets a whole /64 and could otherwise pick a fresh address per
/// connection.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// Checks a WebSocket upgrade's `Origin` header against the allow-list.
/// An empty list allows everything. Origins compare ASCII case-insensitively
/// (browsers send them lower-case; a listed one may not be).
pub fn check_origin(allowed: &[String], origin: Option<&HeaderValue>) -> Result<(), Refusal> {
    if allowed.is_empty() {
        return Ok(());
    }
    let origin = origin.ok_or(Refusal::NoOrigin)?;
    let listed = allowed.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(origin.as_bytes()));
    if listed {
        Ok(())
    } else {
        Err(Refusal::OriginNotAllowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn slots_count_until_dropped() {
        let gauges = Arc::new(Gauges::default());
        let first = Slot::take(&gauges, 1);
        assert!(first.is_some());
        assert!(Slot::take(&gauges, 1).is_none(), "the second is over the limit");
        assert_eq!(gauges.websockets.load(Ordering::Relaxed), 1, "a refused slot is released at once");
        drop(first);
        assert!(Slot::take(&gauges, 1).is_some());
    }

    #[test]
    fn addresses_are_counted_apart() {
        let counts = AddressCounts::default();
        let a = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let b = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
        let held = counts.take(a, 1);
        assert!(held.is_ok());
        let refused = counts.take(a, 1);
        assert!(refused.is_err());
        assert_eq!(counts.count(a), 2, "a refused connection counts while it is being answered");
        assert!(counts.take(b, 1).is_ok(), "another address is not affected");
        drop((held, refused));
        assert_eq!(counts.count(a), 0);
        assert!(counts.0.lock().unwrap().is_empty(), "no entry is kept for a quiet address");
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let one: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let two: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(one.into()), address_key(two.into()));
        assert_ne!(address_key(one.into()), address_key(other.into()));
        let v4 = Ipv4Addr::new(192, 0, 2, 7);
        assert_eq!(address_key(v4.to_ipv6_mapped().into()), IpAddr::V4(v4));
    }

    #[test]
    fn origins_are_checked_only_against_a_list() {
        let page = HeaderValue::from_static("https://ring.example");
        assert_eq!(check_origin(&[], None), Ok(()));
        assert_eq!(check_origin(&[], Some(&page)), Ok(()));
        let list = vec!["https://Ring.example".to_owned()];
        assert_eq!(check_origin(&list, Some(&page)), Ok(()));
        let evil = HeaderValue::from_static("https://evil.example");
        assert_eq!(check_origin(&list, Some(&evil)), Err(Refusal::OriginNotAllowed));
        assert_eq!(check_origin(&list, None), Err(Refusal::NoOrigin));
    }
}
