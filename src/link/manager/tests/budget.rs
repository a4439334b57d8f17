//! The budget of links to peers outside the Chord tables (issue 15, hole 1):
//! a linked peer that makes this one send to ids it made up gets at most
//! `open_budget` peer connections out of it per `open_window_ms`, and the
//! links the tables want are not held back by it.

use super::*;
use crate::link::SendError;

/// The peer connections A created since the last call.
fn creates(w: &mut World) -> Vec<Id> {
    w.take_cmds(A)
        .into_iter()
        .filter_map(|c| match c {
            RtcCommand::Create { peer, .. } => Some(peer),
            _ => None,
        })
        .collect()
}

fn made_up(i: u64) -> Id {
    Id::from_u64(1_000_000 + i)
}

#[test]
fn sends_to_made_up_ids_open_at_most_the_budget_of_links_per_window() {
    let cfg = LinkConfig::default();
    let mut w = World::line(cfg.clone());
    // For a minute, the messages of a hostile peer make A send to ten new
    // made-up ids a second (say, merge candidates it names). None answers.
    let (mut created, mut refused, mut next) = (0, 0, 0);
    for _ in 0..60 {
        for _ in 0..10 {
            match w.l[A].send(w.now, made_up(next), CHORD.to_vec()) {
                Ok(()) => {}
                Err(SendError::NoBudget { budget, window_ms }) => {
                    assert_eq!((budget, window_ms), (cfg.open_budget, cfg.open_window_ms));
                    refused += 1;
                }
                Err(e) => panic!("unexpected {e}"),
            }
            next += 1;
        }
        w.now = w.now + 1_000;
        w.l[A].handle_timeout(w.now);
        w.pump();
        created += creates(&mut w).len();
    }
    // Two windows and the start of a third, not one connection per id.
    let most = cfg.open_budget * (60_000 / cfg.open_window_ms as usize + 1);
    assert!(created <= most, "A created {created} peer connections for made-up ids in 60 s (budget {most})");
    assert!(created >= cfg.open_budget, "the budget is there to be used: {created}");
    assert_eq!(refused, 600 - created as u64, "every send beyond the budget is refused");
    assert_eq!(w.l[A].stats().budget, refused, "and counted");
    let reported = w.take_out(A).iter().filter(|o| matches!(o, LinkOutput::Failed { reason: LinkFailure::Budget, .. })).count();
    assert_eq!(reported as u64, refused, "and reported as a failed link");

    // The budget is spent, yet the peers the tables want are linked at once.
    let c = w.id(C);
    while w.l[A].send(w.now, made_up(next), CHORD.to_vec()).is_ok() {
        next += 1;
    }
    w.pump();
    creates(&mut w);
    let (now, b) = (w.now, w.id(B));
    w.l[A].want(now, [b, c]);
    w.pump();
    // (B's link went idle during the minute and was closed: it is made again too.)
    assert!(creates(&mut w).contains(&c), "the wanted peer C is linked regardless of the budget");
    // So is a message to it while its link opens.
    assert_eq!(w.l[A].send(w.now, c, CHORD.to_vec()), Ok(()));
    // A window later the budget is back.
    w.now = w.now + cfg.open_window_ms;
    assert_eq!(w.l[A].send(w.now, made_up(next + 1), CHORD.to_vec()), Ok(()));
}

#[test]
fn messages_to_a_peer_already_linking_do_not_spend_the_budget() {
    let cfg = LinkConfig { open_budget: 1, ..LinkConfig::default() };
    let mut w = World::line(cfg);
    let x = made_up(0);
    for _ in 0..5 {
        assert_eq!(w.l[A].send(w.now, x, CHORD.to_vec()), Ok(()), "one link, one token");
    }
    w.pump();
    assert_eq!(creates(&mut w), vec![x]);
    assert!(matches!(w.l[A].send(w.now, made_up(1), CHORD.to_vec()), Err(SendError::NoBudget { .. })));
    // Open links cost nothing either.
    let (now, b) = (w.now, w.id(B));
    assert_eq!(w.l[A].send(now, b, CHORD.to_vec()), Ok(()));
}

#[test]
fn a_peer_answering_the_users_own_request_is_linked_beyond_the_budget() {
    let cfg = LinkConfig { open_budget: 1, ..LinkConfig::default() };
    let mut w = World::line(cfg.clone());
    assert_eq!(w.l[A].send(w.now, made_up(0), CHORD.to_vec()), Ok(()));
    assert!(matches!(w.l[A].send(w.now, made_up(1), CHORD.to_vec()), Err(SendError::NoBudget { .. })));
    // Say, a holder of a get the user made.
    let holder = made_up(2);
    w.l[A].expect(w.now, holder);
    assert_eq!(w.l[A].send(w.now, holder, CHORD.to_vec()), Ok(()));
    w.pump();
    assert!(creates(&mut w).contains(&holder));
    // For a window only.
    let later = w.now + cfg.open_window_ms;
    assert_eq!(w.l[A].send(later, made_up(3), CHORD.to_vec()), Ok(()), "the window's budget is back");
    let stale = made_up(4);
    w.l[A].expect(w.now, stale);
    assert!(
        matches!(w.l[A].send(later, stale, CHORD.to_vec()), Err(SendError::NoBudget { .. })),
        "a peer named a window ago spends the budget again"
    );
}
