//! [`Intake`]: the bounded queue a driver keeps between its peer connections
//! and [`Peer::handle_input`](super::Peer::handle_input).
//!
//! A browser cannot pause an `RTCDataChannel`: its `onmessage` fires for every
//! message the remote end sent, whether or not the driver has caught up, so
//! a queue in front of the driver is bounded only if the driver refuses what
//! does not fit. It does so per link, by bytes: each link may have
//! [`IntakeLimits::per_link`] bytes waiting, all links together
//! [`IntakeLimits::total`]. A message that does not fit is refused, and so is
//! every later message of that link: the channel is reliable and ordered, so
//! the peer must never see what follows a hole. The driver then gives the
//! link up ([`RtcInput::Overflowed`](super::RtcInput::Overflowed)): the peer
//! counts the refused reports (`state().rejected.queueFull`) and closes the
//! link, which both ends see. A link's state changes (opened, closed, its
//! path) go through the same queue, weighing nothing, so they keep their
//! place among its messages.
//!
//! Nothing is lost silently that way, because every layer above already
//! recovers from a link that closes. Chord requests are acknowledged hop by
//! hop and retried (through another link, or this one opened again). Blob
//! bytes move in chunks under the puller's own flow control
//! ([`WINDOW_CHUNKS`](crate::transfer::WINDOW_CHUNKS) chunks of
//! [`CHUNK_BYTES`](crate::transfer::CHUNK_BYTES) requested and unstored per
//! pull): a pull whose holder's link closes asks another holder, or the same
//! one again after its stall timer, and a holder only ever sends what a
//! puller asked for. An honest peer therefore has a few MiB in flight to us
//! at most, well under the caps; only a peer that sends what nobody asked
//! for (or a driver stalled for long) can reach them. The other inputs
//! (timer wake-ups, socket events, store results, cancels) stay in the
//! driver's unbounded channel: each is one per timer, per store command the
//! peer itself started or per user action, and the signaling socket's frames
//! are few and size-checked (`signal::MAX_FRAME_BYTES`).

use std::collections::VecDeque;

/// How many bytes may wait in an [`Intake`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntakeLimits {
    /// Bytes one link may have waiting.
    pub per_link: usize,
    /// Bytes all links together may have waiting.
    pub total: usize,
}

impl Default for IntakeLimits {
    /// 16 MiB a link (eight pulls' full windows of 128 KiB chunks), 64 MiB in all.
    fn default() -> Self {
        IntakeLimits { per_link: 16 << 20, total: 64 << 20 }
    }
}

/// What [`Intake::push`] did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued. `wake`: the queue was idle, so the driver must be told once
    /// (it drains everything when it runs; later pushes need no notice).
    Queued {
        /// Tell the driver.
        wake: bool,
    },
    /// Refused: it did not fit, or its link overflowed before. `wake` as above.
    Refused {
        /// Tell the driver.
        wake: bool,
    },
}

/// What one link has in an [`Intake`].
#[derive(Clone, Copy, Debug)]
struct Share<K> {
    link: K,
    /// Bytes waiting.
    waiting: usize,
    /// Overflowed and not forgotten yet: reports refused since.
    refused: Option<u64>,
}

/// A bounded queue of what several links reported (`K` names a link, `T` is
/// one report: a message, or a state change that weighs nothing). One queue
/// for all of a link's reports keeps them in the order they happened (a
/// channel opens before its first message). See the [module docs](self).
#[derive(Debug)]
pub struct Intake<K: PartialEq + Copy, T> {
    limits: IntakeLimits,
    /// Reports in arrival order, with their weight in bytes.
    queue: VecDeque<(K, T, usize)>,
    /// The links with something waiting or an overflow: a few at most
    /// (a vector, not a map: this runs in the browser bundle, kept small).
    shares: Vec<Share<K>>,
    total: usize,
    /// The driver was told and has not drained yet.
    woken: bool,
}

impl<K: PartialEq + Copy, T> Intake<K, T> {
    /// An empty intake bounded by `limits`.
    pub fn new(limits: IntakeLimits) -> Intake<K, T> {
        Intake { limits, queue: VecDeque::new(), shares: Vec::new(), total: 0, woken: false }
    }

    fn share(&mut self, link: K) -> &mut Share<K> {
        let i = match self.shares.iter().position(|s| s.link == link) {
            Some(i) => i,
            None => {
                self.shares.push(Share { link, waiting: 0, refused: None });
                self.shares.len() - 1
            }
        };
        &mut self.shares[i]
    }

    /// Forgets shares with nothing waiting and no overflow.
    fn tidy(&mut self) {
        self.shares.retain(|s| s.waiting > 0 || s.refused.is_some());
    }

    /// A report from `link` weighing `len` bytes (a message's length; 0 for a
    /// state change): queued if it fits, else refused and the link marked
    /// overflowed (everything it reports later is refused too).
    pub fn push(&mut self, link: K, item: T, len: usize) -> Pushed {
        let wake = !std::mem::replace(&mut self.woken, true);
        let (per_link, room) = (self.limits.per_link, self.limits.total.saturating_sub(self.total));
        let share = self.share(link);
        if let Some(n) = share.refused.as_mut() {
            *n += 1;
            return Pushed::Refused { wake };
        }
        if share.waiting + len > per_link || len > room {
            share.refused = Some(1);
            return Pushed::Refused { wake };
        }
        share.waiting += len;
        self.total += len;
        self.queue.push_back((link, item, len));
        Pushed::Queued { wake }
    }

    /// The oldest waiting report, with its link.
    pub fn pop(&mut self) -> Option<(K, T)> {
        let (link, item, len) = self.queue.pop_front()?;
        self.total -= len;
        let share = self.share(link);
        share.waiting -= len;
        if share.waiting == 0 {
            self.tidy();
        }
        Some((link, item))
    }

    /// Ends a drain: the next push tells the driver again. Call it once
    /// [`Intake::pop`] returned `None` and the overflows were taken.
    pub fn drained(&mut self) {
        self.woken = false;
    }

    /// Links that overflowed, with the reports refused so far; each is
    /// reported until [`Intake::forget`] (the driver gives it up meanwhile).
    pub fn overflowed(&self) -> impl Iterator<Item = (K, u64)> + '_ {
        self.shares.iter().filter_map(|s| Some((s.link, s.refused?)))
    }

    /// `link` is gone: drops what it still had waiting and its overflow mark.
    pub fn forget(&mut self, link: K) {
        if let Some(i) = self.shares.iter().position(|s| s.link == link) {
            self.total -= self.shares.swap_remove(i).waiting;
            self.queue.retain(|(k, _, _)| *k != link);
        }
    }

    /// Bytes waiting, all links together.
    pub fn waiting_bytes(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: IntakeLimits = IntakeLimits { per_link: 100, total: 150 };

    /// A report: a message of this many bytes.
    fn msg(q: &mut Intake<u8, usize>, link: u8, len: usize) -> Pushed {
        q.push(link, len, len)
    }

    fn drain(q: &mut Intake<u8, usize>) -> Vec<(u8, usize)> {
        let mut v = Vec::new();
        while let Some((k, b)) = q.pop() {
            v.push((k, b));
        }
        q.drained();
        v
    }

    #[test]
    fn a_link_that_sends_more_than_its_share_is_refused_from_then_on() {
        let mut q = Intake::new(LIMITS);
        assert_eq!(msg(&mut q, 1, 60), Pushed::Queued { wake: true });
        assert_eq!(msg(&mut q, 1, 40), Pushed::Queued { wake: false });
        // 101 bytes would wait for link 1: refused, and so is what follows,
        // however small, so the peer never sees a gap in an ordered channel.
        assert_eq!(msg(&mut q, 1, 1), Pushed::Refused { wake: false });
        assert_eq!(msg(&mut q, 1, 1), Pushed::Refused { wake: false });
        assert_eq!(q.overflowed().collect::<Vec<_>>(), vec![(1, 2)]);
        assert!(q.waiting_bytes() <= LIMITS.per_link);
        // What came before the overflow is still delivered, in order.
        assert_eq!(drain(&mut q), vec![(1, 60), (1, 40)]);
        // Space again does not reopen the link: it is given up until forgotten.
        assert_eq!(msg(&mut q, 1, 1), Pushed::Refused { wake: true });
        q.forget(1);
        assert_eq!(q.overflowed().count(), 0);
        assert!(matches!(msg(&mut q, 1, 1), Pushed::Queued { .. }));
    }

    #[test]
    fn state_changes_weigh_nothing_and_keep_their_place() {
        let mut q = Intake::new(LIMITS);
        q.push(1, 0, 0); // the channel opened
        assert!(matches!(msg(&mut q, 1, 100), Pushed::Queued { .. }));
        // A link with its share waiting still reports that it closed.
        assert!(matches!(q.push(1, 0, 0), Pushed::Queued { .. }));
        assert_eq!(drain(&mut q), vec![(1, 0), (1, 100), (1, 0)]);
    }

    #[test]
    fn all_links_together_stay_under_the_total() {
        let mut q = Intake::new(LIMITS);
        assert!(matches!(msg(&mut q, 1, 100), Pushed::Queued { .. }));
        assert!(matches!(msg(&mut q, 2, 50), Pushed::Queued { .. }));
        assert!(matches!(msg(&mut q, 3, 1), Pushed::Refused { .. }));
        assert_eq!(q.waiting_bytes(), 150);
        assert_eq!(q.overflowed().map(|(k, _)| k).collect::<Vec<_>>(), vec![3]);
        // A link given up takes its waiting bytes with it; the others keep theirs.
        q.forget(1);
        assert_eq!(q.waiting_bytes(), 50);
        assert_eq!(drain(&mut q), vec![(2, 50)]);
    }

    #[test]
    fn however_much_arrives_before_the_driver_runs_the_queue_stays_bounded() {
        // A hostile peer floods while the driver is busy elsewhere.
        let mut q = Intake::new(IntakeLimits::default());
        let mut wakes = 0;
        for i in 0..10_000u32 {
            let (Pushed::Queued { wake } | Pushed::Refused { wake }) = msg(&mut q, (i % 3) as u8, 64 * 1024);
            wakes += wake as u32;
            assert!(q.waiting_bytes() <= IntakeLimits::default().total);
        }
        assert_eq!(wakes, 1, "one notice per drain, not one per message");
        assert_eq!(q.overflowed().map(|(_, n)| n).sum::<u64>(), 10_000 - (16 << 20) / (64 * 1024) * 3);
    }
}
