//! Reply deadlines that follow each peer's measured answer time.
//!
//! A fixed deadline declares live peers dead as soon as the machine is
//! overloaded: with 32 tabs on two cores a tab may not run for seconds, its
//! answers arrive after any fixed deadline, and the ring tears itself apart
//! removing live neighbours. As TCP does (RFC 6298), the node keeps a smoothed
//! answer time `srtt` and its variation `rttvar` per peer, and waits
//! `srtt + 4·rttvar` for that peer, never less than `Config::rpc_timeout_ms`
//! (a quick network keeps the quick failure detection it had) and never more
//! than `Config::rpc_timeout_max_ms` (a dead peer is still found in bounded
//! time). Overload thus slows failure detection down instead of making it lie.
//!
//! A peer without an estimate of its own gets the node's estimate over all
//! peers: overload is a property of the machine, and a neighbour met for the
//! first time on a loaded machine answers as late as the others.
//!
//! A sample is the time from a request's send to its answer, taken only for
//! requests sent once (Karn's rule: an answer after a retry may answer either
//! send; counting those would inflate the estimate after every lost message).
//! A deadline that fired late because this node itself was not running
//! resends nothing, so on an overloaded machine the late answers still count
//! and the estimate follows them up.

use crate::id::Id;
use crate::time::Millis;
use rustc_hash::FxHashMap as HashMap;

/// Most peers with an estimate. Beyond, the table starts again empty (the
/// peers a node talks to are its O(r + log N) neighbours; more means churn).
const MAX_PEERS: usize = 1024;

/// One peer's estimate, in milliseconds.
#[derive(Clone, Copy, Debug)]
struct Estimate {
    srtt: u64,
    rttvar: u64,
    /// When the peer last answered.
    last: Millis,
}

/// Answer-time estimates per peer, and the deadlines they give.
#[derive(Clone, Debug, Default)]
pub(crate) struct AnswerTimes {
    peers: HashMap<Id, Estimate>,
    /// Over every answer from any peer.
    all: Option<Estimate>,
}

impl Estimate {
    fn new(r: u64, now: Millis) -> Self {
        Estimate { srtt: r, rttvar: r / 2, last: now }
    }

    /// RFC 6298 2.3: β = 1/4, α = 1/8.
    fn update(&mut self, r: u64, now: Millis) {
        self.rttvar = (3 * self.rttvar + self.srtt.abs_diff(r)) / 4;
        self.srtt = (7 * self.srtt + r) / 8;
        self.last = self.last.max(now);
    }

    fn deadline(&self) -> u64 {
        self.srtt.saturating_add(self.rttvar.saturating_mul(4))
    }
}

impl AnswerTimes {
    /// Records that `peer` answered a request sent (once) at `sent`.
    pub(crate) fn sample(&mut self, peer: Id, sent: Millis, now: Millis) {
        let r = now.since(sent);
        if self.peers.len() >= MAX_PEERS && !self.peers.contains_key(&peer) {
            self.peers.clear();
        }
        self.peers.entry(peer).and_modify(|e| e.update(r, now)).or_insert(Estimate::new(r, now));
        match &mut self.all {
            Some(e) => e.update(r, now),
            None => self.all = Some(Estimate::new(r, now)),
        }
    }

    /// How long to wait for `peer`'s answer: `srtt + 4·rttvar` within
    /// [`floor`, `cap`]; the node's overall estimate for a peer without
    /// one, `floor` before any answer.
    pub(crate) fn deadline(&self, peer: &Id, floor: u64, cap: u64) -> u64 {
        let wanted = self.peers.get(peer).or(self.all.as_ref()).map_or(0, Estimate::deadline);
        wanted.clamp(floor, cap.max(floor))
    }

    /// Whether `peer` answered one of this node's requests at or after `t`
    /// (it is alive and in a ring: only a joined node answers).
    pub(crate) fn answered_since(&self, peer: &Id, t: Millis) -> bool {
        self.peers.get(peer).is_some_and(|e| e.last >= t)
    }

    /// Forgets `peer` (declared dead, or left): a node that comes back
    /// starts from the floor again.
    pub(crate) fn forget(&mut self, peer: &Id) {
        self.peers.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOOR: u64 = 1_000;
    const CAP: u64 = 8_000;

    #[test]
    fn a_node_without_samples_waits_the_floor() {
        let t = AnswerTimes::default();
        assert_eq!(t.deadline(&Id::key_of("p"), FLOOR, CAP), FLOOR);
    }

    #[test]
    fn quick_answers_keep_the_floor() {
        let mut t = AnswerTimes::default();
        let p = Id::key_of("p");
        for i in 0..50 {
            t.sample(p, Millis(i * 1000), Millis(i * 1000 + 5));
        }
        assert_eq!(t.deadline(&p, FLOOR, CAP), FLOOR);
    }

    #[test]
    fn slow_answers_raise_the_deadline_up_to_the_cap() {
        let mut t = AnswerTimes::default();
        let p = Id::key_of("p");
        let q = Id::key_of("q");
        t.sample(p, Millis(0), Millis(1_500));
        let d = t.deadline(&p, FLOOR, CAP);
        // srtt 1500, rttvar 750: 1500 + 3000.
        assert_eq!(d, 4_500);
        assert_eq!(t.deadline(&q, FLOOR, CAP), 4_500, "a peer not met yet gets the node's estimate");
        for i in 0..40 {
            t.sample(q, Millis(i * 1000), Millis(i * 1000 + 10));
        }
        assert_eq!(t.deadline(&q, FLOOR, CAP), FLOOR, "a peer with samples gets its own");
        assert_eq!(t.deadline(&p, FLOOR, CAP), 4_500, "other peers keep theirs");
        t.sample(p, Millis(0), Millis(30_000));
        assert_eq!(t.deadline(&p, FLOOR, CAP), CAP);
    }

    #[test]
    fn the_deadline_comes_back_down_when_answers_are_quick_again() {
        let mut t = AnswerTimes::default();
        let p = Id::key_of("p");
        t.sample(p, Millis(0), Millis(3_000));
        assert!(t.deadline(&p, FLOOR, CAP) > FLOOR);
        for i in 0..40 {
            t.sample(p, Millis(i * 1000), Millis(i * 1000 + 10));
        }
        assert_eq!(t.deadline(&p, FLOOR, CAP), FLOOR);
        t.sample(p, Millis(0), Millis(3_000));
        t.forget(&p);
        let unknown = Id::key_of("never met");
        assert_eq!(t.deadline(&p, FLOOR, CAP), t.deadline(&unknown, FLOOR, CAP), "a forgotten peer is as one never met");
    }

    #[test]
    fn answered_since_is_the_last_answer() {
        let mut t = AnswerTimes::default();
        let p = Id::key_of("p");
        assert!(!t.answered_since(&p, Millis(0)));
        t.sample(p, Millis(100), Millis(200));
        assert!(t.answered_since(&p, Millis(200)));
        assert!(!t.answered_since(&p, Millis(201)));
        t.forget(&p);
        assert!(!t.answered_since(&p, Millis(0)));
    }

    #[test]
    fn a_cap_below_the_floor_means_the_floor() {
        let mut t = AnswerTimes::default();
        let p = Id::key_of("p");
        t.sample(p, Millis(0), Millis(9_000));
        assert_eq!(t.deadline(&p, FLOOR, 0), FLOOR);
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = AnswerTimes::default();
        for i in 0..(MAX_PEERS as u64 + 10) {
            t.sample(Id::key_of(&i.to_string()), Millis(0), Millis(5_000));
        }
        assert!(t.peers.len() <= MAX_PEERS);
    }
}
