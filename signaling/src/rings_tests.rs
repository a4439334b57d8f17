//! Unit tests of the introduction rules, without sockets or clocks.

use super::*;
use chord::signal::MAX_SIGNALS_PER_INTRO;

const TIMEOUT: Duration = Duration::from_secs(5);
const LIFETIME: Duration = Duration::from_secs(60);
const GRACE: Duration = Duration::from_secs(10);
const MS: Duration = Duration::from_millis(1);
/// Far above what any test here puts in one ring, except the one about it.
const MAX_PER_RING: usize = 1_000;

fn rings() -> Rings {
    rings_of_at_most(MAX_PER_RING)
}

fn rings_of_at_most(max_per_ring: usize) -> Rings {
    let no_grace = Grace { started: Instant::now(), length: Duration::ZERO };
    Rings::new(IntroPolicy { timeout: TIMEOUT, lifetime: LIFETIME, tries: 3 }, max_per_ring, 7, no_grace)
}

/// A server started at `started` with a grace period of [`GRACE`].
fn rings_in_grace(started: Instant) -> Rings {
    let grace = Grace { started, length: GRACE };
    Rings::new(IntroPolicy { timeout: TIMEOUT, lifetime: LIFETIME, tries: 3 }, MAX_PER_RING, 7, grace)
}

fn id(n: u64) -> Id {
    Id::from_u64(n)
}

fn offer() -> SignalPayload {
    SignalPayload::Offer { sdp: "v=0".into() }
}

fn drain(r: &mut Rings) -> Vec<Output> {
    check_invariants(r);
    std::iter::from_fn(|| r.poll_output()).collect()
}

fn send(conn: ConnId, msg: ServerMsg) -> Output {
    Output::Send(conn, msg)
}

fn first() -> ServerMsg {
    ServerMsg::Welcome { first: true, intro: None, introducer: None, ice_servers: vec![] }
}

/// The welcome of a member that announced itself with nobody to meet.
fn nobody() -> ServerMsg {
    ServerMsg::Welcome { first: false, intro: None, introducer: None, ice_servers: vec![] }
}

/// Connection `n` has id `n`. Returns the outputs of its hello.
fn hello(r: &mut Rings, conn: ConnId, ring: &str, now: Instant) -> Vec<Output> {
    r.hello(conn, ring, id(conn), false, now);
    drain(r)
}

/// Connection `n` (id `n`) says hello as a member of `ring`. Returns the outputs.
fn announce(r: &mut Rings, conn: ConnId, ring: &str, now: Instant) -> Vec<Output> {
    r.hello(conn, ring, id(conn), true, now);
    drain(r)
}

/// A ring "r" whose members are the given connections, founded at `now`.
fn ring_of(members: &[ConnId], now: Instant) -> Rings {
    let mut r = rings();
    for &m in members {
        r.hello(m, "r", id(m), false, now);
        r.member(m, now);
    }
    drain(&mut r);
    r
}

/// The intro number and introducer of the welcome `out` sends to `newcomer`.
fn welcome_of(out: &[Output], newcomer: ConnId) -> (IntroId, ConnId) {
    out.iter()
        .find_map(|o| match o {
            Output::Send(c, ServerMsg::Welcome { first: false, intro: Some(i), introducer: Some(by), .. }) if *c == newcomer => {
                Some((*i, by_conn(by)))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no welcome for {newcomer} in {out:?}"))
}

fn by_conn(id: &Id) -> ConnId {
    u64::from_be_bytes(id.0[12..].try_into().unwrap())
}

/// Every cross-reference of the state agrees.
fn check_invariants(r: &Rings) {
    assert_eq!(r.timers.len(), r.intros.len(), "one timer per introduction");
    for (&intro_id, intro) in &r.intros {
        assert!(r.timers.contains(&(intro.deadline(), intro_id)));
        let newcomer = &r.peers[&intro.newcomer];
        match intro.purpose {
            Purpose::Join => assert!(matches!(newcomer.role, Role::Joining { intro: Some(i), .. } if i == intro_id)),
            Purpose::Meeting => {
                assert!(matches!(newcomer.role, Role::Member), "an announcer is a member");
                assert_eq!(newcomer.meeting, Some(intro_id));
            }
        }
        assert!(r.peers[&intro.introducer].introducing.contains(&intro_id));
        assert_eq!(newcomer.ring, r.peers[&intro.introducer].ring);
    }
    for (&conn, peer) in &r.peers {
        let ring = &r.rings[&peer.ring];
        assert_eq!(ring.ids.get(&peer.id), Some(&conn));
        assert_eq!(ring.members.contains(&conn), matches!(peer.role, Role::Member));
        assert_eq!(ring.founder == Some(conn), matches!(peer.role, Role::Founder));
        for i in &peer.introducing {
            assert_eq!(r.intros[i].introducer, conn);
        }
        if let Role::Joining { intro, .. } = peer.role {
            assert!(intro.is_some(), "a joining peer always has an introduction open");
        }
        if let Some(m) = peer.meeting {
            assert!(r.intros[&m].newcomer == conn && r.intros[&m].purpose == Purpose::Meeting);
        }
        assert_eq!(ring.held.contains(&conn), matches!(peer.role, Role::Held));
    }
    let peers_in_rings: usize = r.rings.values().map(|ring| ring.ids.len()).sum();
    assert_eq!(peers_in_rings, r.peers.len());
    assert!(r.rings.values().all(|ring| !ring.ids.is_empty()), "empty rings are dropped");
    assert_eq!(r.held, r.rings.values().map(|ring| ring.held.len()).sum::<usize>());
    for ring in r.rings.values().filter(|ring| !ring.held.is_empty()) {
        assert!(ring.introducers().next().is_none(), "newcomers are held only while their ring has no introducer");
    }
    let c = r.counters();
    assert!(c.meetings_answered + c.meetings_unanswered <= c.meetings);
}

#[test]
fn the_first_peer_founds_the_ring_and_the_next_is_introduced_to_it() {
    let now = Instant::now();
    let mut r = rings();
    assert_eq!(hello(&mut r, 1, "r", now), vec![send(1, first())]);
    r.member(1, now);
    assert_eq!(drain(&mut r), vec![]);
    assert_eq!(r.member_count(), 1);
    let out = hello(&mut r, 2, "r", now);
    assert_eq!(
        out,
        vec![
            send(1, ServerMsg::Introduce { intro: IntroId(1), newcomer: id(2) }),
            send(2, ServerMsg::Welcome { first: false, intro: Some(IntroId(1)), introducer: Some(id(1)), ice_servers: vec![] }),
        ]
    );
    assert_eq!(r.counters().introductions, 1);
}

#[test]
fn signals_are_relayed_between_the_two_parties_only() {
    let now = Instant::now();
    let mut r = ring_of(&[1], now);
    let (intro, _) = welcome_of(&hello(&mut r, 2, "r", now), 2);
    r.signal(2, intro, offer(), now);
    assert_eq!(drain(&mut r), vec![send(1, ServerMsg::Signal { intro, from: id(2), payload: offer() })]);
    let answer = SignalPayload::Answer { sdp: "v=0".into() };
    r.signal(1, intro, answer.clone(), now);
    assert_eq!(drain(&mut r), vec![send(2, ServerMsg::Signal { intro, from: id(1), payload: answer })]);

    // A third peer of the same ring cannot inject into the introduction.
    r.hello(3, "r", id(3), false, now);
    r.member(3, now);
    drain(&mut r);
    r.signal(3, intro, offer(), now);
    assert_eq!(drain(&mut r), vec![Output::Close(3, CloseReason::NotAParty(intro))]);
    assert_eq!(r.member_count(), 1, "the intruder is forgotten");
}

#[test]
fn after_member_nothing_more_is_relayed() {
    let now = Instant::now();
    let mut r = ring_of(&[1], now);
    let (intro, _) = welcome_of(&hello(&mut r, 2, "r", now), 2);
    r.member(2, now);
    assert_eq!(drain(&mut r), vec![]);
    assert_eq!(r.counters().introductions_completed, 1);
    assert_eq!(r.poll_timeout(), None, "no timer left");
    r.signal(2, intro, offer(), now);
    r.signal(1, intro, offer(), now);
    r.signal(1, IntroId(999), offer(), now);
    assert_eq!(drain(&mut r), vec![]);
    assert_eq!(r.counters().signals_refused, 3);
    assert_eq!(r.member_count(), 2);
}

#[test]
fn a_silent_introducer_is_replaced_then_the_attempt_fails() {
    let t0 = Instant::now();
    let mut r = ring_of(&[1, 2, 3, 4], t0);
    let (i1, by1) = welcome_of(&hello(&mut r, 5, "r", t0), 5);
    // The newcomer's offer restarts the introducer's clock.
    let t1 = t0 + Duration::from_secs(2);
    r.signal(5, i1, offer(), t1);
    drain(&mut r);
    assert_eq!(r.poll_timeout(), Some(t1 + TIMEOUT));
    r.handle_timeout(t1 + TIMEOUT - Duration::from_millis(1));
    assert_eq!(drain(&mut r), vec![]);

    let mut now = t1 + TIMEOUT;
    r.handle_timeout(now);
    let out = drain(&mut r);
    let (i2, by2) = welcome_of(&out, 5);
    assert!(i2 > i1 && by2 != by1);
    assert!(out.iter().all(|o| !matches!(o, Output::Send(c, _) if *c == by1)), "the silent introducer is told nothing");
    now += TIMEOUT;
    r.handle_timeout(now);
    let (i3, by3) = welcome_of(&drain(&mut r), 5);
    assert!(by3 != by1 && by3 != by2);
    now += TIMEOUT;
    r.handle_timeout(now);
    let out = drain(&mut r);
    assert_eq!(out.len(), 1);
    assert!(matches!(&out[0], Output::Send(5, ServerMsg::IntroFailed { intro, .. }) if *intro == i3));
    assert_eq!(r.counters().introductions_failed, 3);
    // A failed peer may still report member (it may have got in some other way).
    r.member(5, now);
    assert_eq!(r.member_count(), 5);
}

#[test]
fn when_the_only_introducer_is_silent_the_newcomer_is_told_it_failed() {
    let t0 = Instant::now();
    let mut r = ring_of(&[1], t0);
    let (intro, _) = welcome_of(&hello(&mut r, 2, "r", t0), 2);
    r.handle_timeout(t0 + TIMEOUT);
    let out = drain(&mut r);
    assert!(matches!(&out[..], [Output::Send(2, ServerMsg::IntroFailed { intro: i, .. })] if *i == intro), "{out:?}");
}

#[test]
fn when_the_introducer_leaves_and_nobody_is_left_the_newcomer_founds_the_ring() {
    let now = Instant::now();
    let mut r = ring_of(&[1], now);
    let (i2, _) = welcome_of(&hello(&mut r, 2, "r", now), 2);
    let (i3, _) = welcome_of(&hello(&mut r, 3, "r", now), 3);
    r.leave(1, now);
    let out = drain(&mut r);
    // Newcomer 2 is failed over first and founds the ring; newcomer 3 is
    // then introduced to it instead of founding a second ring.
    assert!(matches!(&out[0], Output::Send(2, ServerMsg::IntroFailed { intro, .. }) if *intro == i2));
    assert_eq!(out[1], send(2, first()));
    assert!(matches!(&out[2], Output::Send(2, ServerMsg::Introduce { newcomer, .. }) if *newcomer == id(3)));
    let (i, by) = welcome_of(&out, 3);
    assert!(i > i3 && by == 2);
    assert_eq!(out.len(), 4);
}

#[test]
fn a_leaving_newcomer_releases_its_introducer() {
    let now = Instant::now();
    let mut r = ring_of(&[1], now);
    let (intro, _) = welcome_of(&hello(&mut r, 2, "r", now), 2);
    r.leave(2, now);
    let out = drain(&mut r);
    assert!(matches!(&out[..], [Output::Send(1, ServerMsg::IntroFailed { intro: i, .. })] if *i == intro));
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn an_expired_introduction_tells_both_sides_and_moves_on() {
    let t0 = Instant::now();
    let mut r = ring_of(&[1, 2], t0);
    let (intro, by) = welcome_of(&hello(&mut r, 3, "r", t0), 3);
    r.signal(3, intro, offer(), t0);
    r.signal(by, intro, offer(), t0);
    drain(&mut r);
    assert_eq!(r.poll_timeout(), Some(t0 + LIFETIME));
    r.handle_timeout(t0 + LIFETIME);
    let out = drain(&mut r);
    assert!(matches!(&out[0], Output::Send(c, ServerMsg::IntroFailed { intro: i, .. }) if *c == by && *i == intro));
    let (_, other) = welcome_of(&out, 3);
    assert_ne!(other, by);
}

#[test]
fn a_founder_introduces_before_it_reports_member() {
    let now = Instant::now();
    let mut r = rings();
    assert_eq!(hello(&mut r, 1, "r", now), vec![send(1, first())]);
    let (_, by) = welcome_of(&hello(&mut r, 2, "r", now), 2);
    assert_eq!(by, 1);
    assert_eq!(r.member_count(), 0);
}

#[test]
fn rings_are_isolated_and_ids_unique_per_ring() {
    let now = Instant::now();
    let mut r = ring_of(&[1], now);
    assert_eq!(hello(&mut r, 2, "other", now), vec![send(2, first())]);
    r.hello(3, "other", id(2), false, now);
    assert_eq!(drain(&mut r), vec![Output::Close(3, CloseReason::DuplicateId(id(2).to_hex()))]);
    // The same id in another ring is someone else.
    r.hello(4, "third", id(2), false, now);
    assert_eq!(drain(&mut r), vec![send(4, first())]);
    assert_eq!(r.ring_count(), 3);
    r.leave(4, now);
    r.leave(2, now);
    drain(&mut r);
    assert_eq!(r.ring_count(), 1);
}

#[test]
fn a_full_ring_turns_newcomers_away_until_someone_leaves() {
    let now = Instant::now();
    let max = 3;
    let mut r = rings_of_at_most(max);
    for n in 0..max as u64 {
        r.hello(n, "full", id(n), false, now);
        r.member(n, now);
    }
    drain(&mut r);
    let extra = max as u64;
    r.hello(extra, "full", id(extra), false, now);
    let full = CloseReason::RingFull { ring: "full".into(), max };
    assert_eq!(drain(&mut r), vec![Output::Close(extra, full)]);
    // Other rings are not affected.
    r.hello(extra + 1, "other", id(extra), false, now);
    assert_eq!(drain(&mut r), vec![send(extra + 1, first())]);
    // A place freed is a place taken.
    r.leave(0, now);
    drain(&mut r);
    r.hello(extra + 2, "full", id(extra + 2), false, now);
    let (_, by) = welcome_of(&drain(&mut r), extra + 2);
    assert!(by < extra);
}

#[test]
fn out_of_order_messages_close_the_connection() {
    let now = Instant::now();
    let mut r = rings();
    r.member(1, now);
    r.signal(2, IntroId(1), offer(), now);
    r.hello(3, "r", id(3), false, now);
    r.hello(3, "r", id(3), false, now);
    assert_eq!(
        drain(&mut r),
        vec![
            Output::Close(1, CloseReason::NoHello),
            Output::Close(2, CloseReason::NoHello),
            send(3, first()),
            Output::Close(3, CloseReason::HelloTwice),
        ]
    );
    assert_eq!(r.ring_count(), 0);
}

#[test]
fn a_party_flooding_signals_is_closed() {
    let now = Instant::now();
    let mut r = ring_of(&[1], now);
    let (intro, _) = welcome_of(&hello(&mut r, 2, "r", now), 2);
    for _ in 0..MAX_SIGNALS_PER_INTRO {
        r.signal(2, intro, offer(), now);
    }
    assert_eq!(drain(&mut r).len(), MAX_SIGNALS_PER_INTRO as usize);
    r.signal(2, intro, offer(), now);
    let out = drain(&mut r);
    assert_eq!(out[0], Output::Close(2, CloseReason::TooManySignals(intro)));
    assert!(matches!(out[1], Output::Send(1, ServerMsg::IntroFailed { .. })));
}

#[test]
fn random_operations_keep_the_state_consistent() {
    for seed in 0..20 {
        let mut dice = SeededRng::new(seed);
        let mut now = Instant::now();
        // Half the seeds with a grace period, which the clock passes partway through.
        let grace = Grace { started: now, length: GRACE * (seed % 2) as u32 };
        let policy = IntroPolicy { timeout: TIMEOUT, lifetime: LIFETIME, tries: 2 };
        let mut r = Rings::new(policy, MAX_PER_RING, seed, grace);
        for _ in 0..2000 {
            let conn = dice.below(24);
            let ring = ["a", "b"][dice.below(2) as usize];
            match dice.below(10) {
                0..=2 => r.hello(conn, ring, id(dice.below(30)), dice.below(4) == 0, now),
                3 | 4 => r.member(conn, now),
                5..=7 => r.signal(conn, IntroId(dice.below(r.next_intro.0 + 1)), offer(), now),
                8 => r.leave(conn, now),
                _ => {
                    now += Duration::from_millis(dice.below(8000));
                    r.handle_timeout(now);
                }
            }
            drain(&mut r);
        }
    }
}

// Members announcing themselves (hello with `member: true`) and meetings.

/// The meeting `out` opens for `announcer`: its number and the member met,
/// checking that the member is told to expect the announcer's offer.
fn meeting_of(out: &[Output], announcer: ConnId) -> (IntroId, ConnId) {
    let (intro, met) = welcome_of(out, announcer);
    assert!(out.contains(&send(met, ServerMsg::Introduce { intro, newcomer: id(announcer) })), "{out:?}");
    assert_eq!(out.len(), 2, "{out:?}");
    (intro, met)
}

#[test]
fn a_member_alone_in_its_ring_is_a_member_with_nobody_to_meet() {
    let now = Instant::now();
    let mut r = rings();
    assert_eq!(announce(&mut r, 1, "r", now), vec![send(1, nobody())]);
    assert_eq!(r.member_count(), 1);
    assert_eq!(r.poll_timeout(), None);
    let c = r.counters();
    assert_eq!((c.member_hellos, c.meetings, c.introductions), (1, 0, 0));
    // It introduces newcomers at once.
    let (_, by) = welcome_of(&hello(&mut r, 2, "r", now), 2);
    assert_eq!(by, 1);
}

#[test]
fn a_member_announcing_itself_to_a_ring_with_members_meets_one_of_them() {
    let t0 = Instant::now();
    let members = [1, 2, 3];
    let mut r = ring_of(&members, t0);
    let introductions = r.counters().introductions;
    let (intro, met) = meeting_of(&announce(&mut r, 4, "r", t0), 4);
    assert!(members.contains(&met));
    assert_eq!(r.member_count(), 4, "the announcer is a member at once");
    let c = r.counters();
    assert_eq!((c.meetings, c.introductions), (1, introductions), "a meeting is not an introduction");

    // Its own `member` (a tab may send it after its hello) does not end the meeting.
    r.member(4, t0);
    assert_eq!(drain(&mut r), vec![]);
    r.signal(4, intro, offer(), t0);
    assert_eq!(drain(&mut r), vec![send(met, ServerMsg::Signal { intro, from: id(4), payload: offer() })]);
    let answer = SignalPayload::Answer { sdp: "v=0".into() };
    r.signal(met, intro, answer.clone(), t0);
    r.signal(met, intro, answer.clone(), t0);
    let relayed = send(4, ServerMsg::Signal { intro, from: id(met), payload: answer });
    assert_eq!(drain(&mut r), vec![relayed.clone(), relayed]);
    assert_eq!(r.counters().meetings_answered, 1, "counted once, at the first answer");

    // It expires quietly: the server cannot tell whether the link formed.
    assert_eq!(r.poll_timeout(), Some(t0 + LIFETIME));
    r.handle_timeout(t0 + LIFETIME);
    assert_eq!(drain(&mut r), vec![]);
    assert_eq!(r.poll_timeout(), None);
    let c = r.counters();
    assert_eq!((c.meetings_unanswered, c.introductions_failed), (0, 0));
    r.signal(4, intro, offer(), t0 + LIFETIME);
    assert_eq!(drain(&mut r), vec![]);
    assert_eq!(r.counters().signals_refused, 1);
    assert_eq!(r.member_count(), 4);
}

#[test]
fn meetings_are_spread_over_the_members_by_the_seed() {
    let now = Instant::now();
    let members: Vec<ConnId> = (1..=4).collect();
    let met_by =
        |r: &mut Rings| -> Vec<ConnId> { (10..30).map(|announcer| meeting_of(&announce(r, announcer, "r", now), announcer).1).collect() };
    let mut a = ring_of(&members, now);
    let mut b = ring_of(&members, now);
    let (met_a, met_b) = (met_by(&mut a), met_by(&mut b));
    assert_eq!(met_a, met_b, "the same seed makes the same choices");
    let distinct: BTreeSet<ConnId> = met_a.iter().copied().collect();
    assert!(distinct.len() > 1, "always the same member met: {met_a:?}");
    // Announcers are members too: later ones may meet earlier ones, never themselves.
    assert!(met_a.iter().zip(10..).all(|(&m, announcer)| m < announcer));
}

#[test]
fn a_meeting_whose_member_stays_silent_ends_for_the_announcer_without_moving_on() {
    let t0 = Instant::now();
    let mut r = ring_of(&[1, 2, 3], t0);
    let failed_before = r.counters().introductions_failed;
    let (intro, met) = meeting_of(&announce(&mut r, 4, "r", t0), 4);
    r.signal(4, intro, offer(), t0);
    drain(&mut r);
    assert_eq!(r.poll_timeout(), Some(t0 + TIMEOUT));
    r.handle_timeout(t0 + TIMEOUT);
    let out = drain(&mut r);
    // Told to the announcer only; no other member is tried.
    assert!(matches!(&out[..], [Output::Send(4, ServerMsg::IntroFailed { intro: i, .. })] if *i == intro), "{out:?}");
    assert!(out.iter().all(|o| !matches!(o, Output::Send(c, _) if *c == met)));
    assert_eq!(r.poll_timeout(), None);
    let c = r.counters();
    assert_eq!((c.meetings, c.meetings_answered, c.meetings_unanswered), (1, 0, 1));
    assert_eq!(c.introductions_failed, failed_before);
    assert_eq!(r.member_count(), 4, "the announcer stays a member");
}

#[test]
fn a_meeting_ends_when_either_party_leaves_and_the_other_is_told() {
    let now = Instant::now();
    let mut r = ring_of(&[1], now);
    let (i2, _) = meeting_of(&announce(&mut r, 2, "r", now), 2);
    r.leave(2, now);
    let out = drain(&mut r);
    assert!(matches!(&out[..], [Output::Send(1, ServerMsg::IntroFailed { intro, .. })] if *intro == i2), "{out:?}");

    let (i3, met) = meeting_of(&announce(&mut r, 3, "r", now), 3);
    assert_eq!(met, 1);
    r.leave(1, now);
    let out = drain(&mut r);
    // The announcer is not moved on, and does not found anything: it is a member.
    assert!(matches!(&out[..], [Output::Send(3, ServerMsg::IntroFailed { intro, .. })] if *intro == i3), "{out:?}");
    assert_eq!(r.poll_timeout(), None);
    let c = r.counters();
    assert_eq!((c.meetings, c.meetings_unanswered, c.introductions_failed), (2, 2, 0));
    assert_eq!(r.member_count(), 1);
}

#[test]
fn a_meeting_with_a_founder_that_leaves_makes_no_one_founder() {
    let now = Instant::now();
    let mut r = rings();
    assert_eq!(hello(&mut r, 1, "r", now), vec![send(1, first())]);
    // The founder has not reported member yet; it is an introducer all the same.
    let (intro, met) = meeting_of(&announce(&mut r, 2, "r", now), 2);
    assert_eq!(met, 1);
    r.leave(1, now);
    let out = drain(&mut r);
    assert!(matches!(&out[..], [Output::Send(2, ServerMsg::IntroFailed { intro: i, .. })] if *i == intro), "{out:?}");
    let (_, by) = welcome_of(&hello(&mut r, 3, "r", now), 3);
    assert_eq!(by, 2, "the announcer introduces the next newcomer");
}

#[test]
fn a_member_hello_obeys_the_id_and_size_rules() {
    let now = Instant::now();
    let mut r = rings_of_at_most(2);
    for m in [1, 2] {
        r.hello(m, "r", id(m), false, now);
        r.member(m, now);
    }
    drain(&mut r);
    r.hello(3, "r", id(1), true, now);
    assert_eq!(drain(&mut r), vec![Output::Close(3, CloseReason::DuplicateId(id(1).to_hex()))]);
    r.hello(4, "r", id(4), true, now);
    assert_eq!(drain(&mut r), vec![Output::Close(4, CloseReason::RingFull { ring: "r".into(), max: 2 })]);
    assert_eq!((r.member_count(), r.counters().meetings), (2, 0));
    r.hello(1, "r", id(5), true, now);
    assert_eq!(drain(&mut r), vec![Output::Close(1, CloseReason::HelloTwice)]);
}

// The grace period after the server starts.

#[test]
fn newcomers_to_a_ring_without_members_are_held_until_a_member_announces_itself() {
    let t0 = Instant::now();
    let mut r = rings_in_grace(t0);
    assert_eq!(hello(&mut r, 1, "r", t0), vec![]);
    assert_eq!(hello(&mut r, 2, "r", t0 + MS), vec![]);
    assert_eq!(r.held_count(), 2);
    assert_eq!(r.poll_timeout(), Some(t0 + GRACE));
    assert_eq!(r.grace_left(t0 + MS), GRACE - MS);
    // Another ring's member releases nothing here.
    assert_eq!(announce(&mut r, 9, "other", t0 + MS), vec![send(9, nobody())]);
    assert_eq!(r.held_count(), 2);

    let now = t0 + 2 * MS;
    let out = announce(&mut r, 3, "r", now);
    assert_eq!(out[0], send(3, nobody()), "the announcer's own answer comes first");
    assert_eq!(out[1], send(3, ServerMsg::Introduce { intro: IntroId(1), newcomer: id(1) }));
    assert_eq!(welcome_of(&out, 1), (IntroId(1), 3));
    assert_eq!(out[3], send(3, ServerMsg::Introduce { intro: IntroId(2), newcomer: id(2) }));
    assert_eq!(welcome_of(&out, 2), (IntroId(2), 3));
    assert_eq!(out.len(), 5);
    assert_eq!(r.held_count(), 0);
    assert_eq!(r.poll_timeout(), Some(now + TIMEOUT), "no grace timer once nobody is held");
    let c = r.counters();
    assert_eq!((c.held_newcomers, c.introductions), (2, 2));

    // Within the grace period, a ring with an introducer answers at once (1
    // and 2 are still joining, so the member is the only introducer).
    let (_, by) = welcome_of(&hello(&mut r, 4, "r", now), 4);
    assert_eq!(by, 3);
}

#[test]
fn held_newcomers_go_to_any_introducer_once_one_appears() {
    let t0 = Instant::now();
    let mut r = rings_in_grace(t0);
    assert_eq!(hello(&mut r, 1, "r", t0), vec![]);
    assert_eq!(hello(&mut r, 2, "r", t0), vec![]);
    // A held tab that reports member (a reconnecting tab that did not say so
    // in its hello) is a member: it is answered, and the others go to it.
    r.member(1, t0);
    let out = drain(&mut r);
    assert_eq!(out[0], send(1, nobody()));
    assert_eq!(welcome_of(&out, 2), (IntroId(1), 1));
    assert_eq!(out.len(), 3);
    assert_eq!(r.member_count(), 1);
    assert_eq!(r.held_count(), 0);
}

#[test]
fn when_the_grace_period_ends_the_first_held_newcomer_founds_the_ring() {
    let t0 = Instant::now();
    let mut r = rings_in_grace(t0);
    for n in [1, 2, 3] {
        assert_eq!(hello(&mut r, n, "r", t0 + n as u32 * MS), vec![]);
    }
    assert_eq!(hello(&mut r, 4, "s", t0), vec![]);
    r.handle_timeout(t0 + GRACE - MS);
    assert_eq!(drain(&mut r), vec![]);
    r.handle_timeout(t0 + GRACE);
    let out = drain(&mut r);
    assert_eq!(out[0], send(1, first()));
    assert_eq!(welcome_of(&out, 2).1, 1);
    assert_eq!(welcome_of(&out, 3).1, 1);
    assert!(out.contains(&send(4, first())), "every ring is answered: {out:?}");
    assert_eq!(out.len(), 6);
    assert_eq!((r.held_count(), r.grace_left(t0 + GRACE)), (0, Duration::ZERO));
    // After the grace period, a newcomer to an empty ring founds it at once.
    assert_eq!(hello(&mut r, 5, "t", t0 + GRACE), vec![send(5, first())]);
    assert_eq!(r.counters().held_newcomers, 4);
}

#[test]
fn a_hello_after_the_grace_period_comes_after_the_held_newcomers_even_before_the_timer() {
    let t0 = Instant::now();
    let mut r = rings_in_grace(t0);
    assert_eq!(hello(&mut r, 1, "r", t0), vec![]);
    // The driver delivers a hello before it ran the grace timer.
    let out = hello(&mut r, 2, "r", t0 + GRACE);
    assert_eq!(out[0], send(1, first()));
    assert_eq!(welcome_of(&out, 2).1, 1);
}

#[test]
fn a_held_newcomer_that_leaves_is_forgotten() {
    let t0 = Instant::now();
    let mut r = rings_in_grace(t0);
    assert_eq!(hello(&mut r, 1, "r", t0), vec![]);
    assert_eq!(hello(&mut r, 2, "r", t0), vec![]);
    r.leave(1, t0);
    assert_eq!(drain(&mut r), vec![]);
    assert_eq!(r.held_count(), 1);
    // Its id is free again.
    assert_eq!(hello(&mut r, 3, "q", t0), vec![]);
    r.hello(4, "r", id(1), false, t0);
    assert_eq!(drain(&mut r), vec![]);
    r.leave(4, t0);
    r.leave(3, t0);
    drain(&mut r);
    r.handle_timeout(t0 + GRACE);
    assert_eq!(drain(&mut r), vec![send(2, first())], "the one left founds the ring");
    r.leave(2, t0 + GRACE);
    assert_eq!(drain(&mut r), vec![]);
    assert_eq!((r.ring_count(), r.held_count(), r.poll_timeout()), (0, 0, None));
}

#[test]
fn with_no_grace_period_the_first_newcomer_founds_at_once() {
    let t0 = Instant::now();
    let mut r = rings();
    assert_eq!(r.grace_left(t0), Duration::ZERO);
    assert_eq!(hello(&mut r, 1, "r", t0), vec![send(1, first())]);
    assert_eq!((r.held_count(), r.poll_timeout(), r.counters().held_newcomers), (0, None, 0));
}
