//! One introduction: a newcomer (or a member announcing itself), the member it
//! was paired with, and its deadlines.

use crate::config::deadline;
use chord::signal::MAX_SIGNALS_PER_INTRO;
use std::time::{Duration, Instant};

/// A connection number, allocated by the server for each WebSocket.
pub type ConnId = u64;

/// What an introduction is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A newcomer joins the ring through the introducer.
    Join,
    /// A member that announced itself (a reconnect) meets another member, so
    /// that two rings of the same name formed apart get a link between them.
    Meeting,
}

/// Which side of an introduction a connection is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    /// The peer that sends the offer: the newcomer, or the announcer of a meeting.
    Newcomer,
    /// The member that was asked to answer.
    Introducer,
}

/// An open introduction.
///
/// It has two deadlines. The *silence* deadline catches an introducer that
/// never answers: it runs from the start, is restarted by the newcomer's first
/// signal (an introducer cannot answer an offer it has not received) and is
/// cleared by the introducer's first signal. The *expiry* bounds the whole
/// introduction, so the server never relays for long about any one peer.
#[derive(Clone, Debug)]
pub struct Intro {
    /// The offering peer: the newcomer, or the announcer of a meeting.
    pub newcomer: ConnId,
    /// The member answering it.
    pub introducer: ConnId,
    /// A join or a meeting.
    pub purpose: Purpose,
    silence: Option<Instant>,
    expires: Instant,
    newcomer_spoke: bool,
    sent_by_newcomer: u32,
    sent_by_introducer: u32,
}

impl Intro {
    /// An introduction starting at `now`.
    pub fn new(newcomer: ConnId, introducer: ConnId, purpose: Purpose, now: Instant, timeout: Duration, lifetime: Duration) -> Intro {
        Intro {
            newcomer,
            introducer,
            purpose,
            silence: Some(deadline(now, timeout)),
            expires: deadline(now, lifetime),
            newcomer_spoke: false,
            sent_by_newcomer: 0,
            sent_by_introducer: 0,
        }
    }

    /// When this introduction next needs attention.
    pub fn deadline(&self) -> Instant {
        self.silence.map_or(self.expires, |s| s.min(self.expires))
    }

    /// Whether the deadline that passed at `now` is the introducer's silence
    /// (as opposed to the introduction's expiry).
    pub fn introducer_silent(&self, now: Instant) -> bool {
        self.silence.is_some_and(|s| s <= now && s < self.expires)
    }

    /// Whether the introducer has sent anything (its answer, as a rule).
    pub fn introducer_answered(&self) -> bool {
        self.sent_by_introducer > 0
    }

    /// The side `conn` is on, if it is a party.
    pub fn party(&self, conn: ConnId) -> Option<Party> {
        if conn == self.newcomer {
            Some(Party::Newcomer)
        } else if conn == self.introducer {
            Some(Party::Introducer)
        } else {
            None
        }
    }

    /// The connection on the other side from `party`.
    pub fn other(&self, party: Party) -> ConnId {
        match party {
            Party::Newcomer => self.introducer,
            Party::Introducer => self.newcomer,
        }
    }

    /// Records one signal from `party` at `now`. Returns `false` (and records
    /// nothing) if the party already sent [`MAX_SIGNALS_PER_INTRO`].
    pub fn record_signal(&mut self, party: Party, now: Instant, timeout: Duration) -> bool {
        let sent = match party {
            Party::Newcomer => &mut self.sent_by_newcomer,
            Party::Introducer => &mut self.sent_by_introducer,
        };
        if *sent >= MAX_SIGNALS_PER_INTRO {
            return false;
        }
        *sent += 1;
        match party {
            Party::Introducer => self.silence = None,
            Party::Newcomer if !self.newcomer_spoke => {
                self.newcomer_spoke = true;
                if self.silence.is_some() {
                    self.silence = Some(deadline(now, timeout));
                }
            }
            Party::Newcomer => {}
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);
    const L: Duration = Duration::from_secs(60);

    #[test]
    fn silence_runs_from_the_newcomers_first_signal_until_the_introducer_speaks() {
        let t0 = Instant::now();
        let mut intro = Intro::new(1, 2, Purpose::Join, t0, T, L);
        assert_eq!(intro.deadline(), t0 + T);
        let t1 = t0 + Duration::from_secs(3);
        assert!(intro.record_signal(Party::Newcomer, t1, T));
        assert_eq!(intro.deadline(), t1 + T);
        // Trickled candidates from the newcomer do not push the deadline further.
        assert!(intro.record_signal(Party::Newcomer, t1 + Duration::from_secs(1), T));
        assert_eq!(intro.deadline(), t1 + T);
        assert!(intro.introducer_silent(t1 + T));
        assert!(!intro.introducer_answered());
        assert!(intro.record_signal(Party::Introducer, t1 + Duration::from_secs(2), T));
        assert!(intro.introducer_answered());
        assert_eq!(intro.deadline(), t0 + L);
        assert!(!intro.introducer_silent(t0 + L));
    }

    #[test]
    fn parties_and_the_signal_cap() {
        let t0 = Instant::now();
        let mut intro = Intro::new(1, 2, Purpose::Meeting, t0, T, L);
        assert_eq!(intro.party(1), Some(Party::Newcomer));
        assert_eq!(intro.party(2), Some(Party::Introducer));
        assert_eq!(intro.party(3), None);
        assert_eq!(intro.other(Party::Newcomer), 2);
        for _ in 0..MAX_SIGNALS_PER_INTRO {
            assert!(intro.record_signal(Party::Introducer, t0, T));
        }
        assert!(!intro.record_signal(Party::Introducer, t0, T));
        assert!(intro.record_signal(Party::Newcomer, t0, T));
    }
}
