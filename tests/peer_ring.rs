//! Whole browser peers ([`Peer`]: node + links + bootstrap) over a fake
//! signaling server and a fake WebRTC, in virtual time.
//!
//! The harness is a small discrete-event simulator in the style of quinn's
//! `Pair`: every input a peer gets comes from one seeded event queue (5–30 ms
//! per hop, FIFO per data channel and per socket), and time always jumps to the
//! earliest of the next event and every peer's `poll_timeout()`. A failing seed
//! replays exactly; every assertion prints it. `PEER_RING_SEEDS=a..b` runs
//! every test over other seeds, `PEER_RING_LATENCY=50..300` over a slower network.
//!
//! * The fake server follows `signaling/README.md`: the first hello founds the
//!   ring, later ones are introduced to a random member, and only the two
//!   parties' offer and answer are relayed (and counted). It can be killed.
//! * The fake WebRTC makes up descriptions that name their (peer, link) and
//!   carry one loopback and several non-loopback candidates. `SetAnswer` pairs
//!   the offerer with the answerer named in the answer (only if that answer
//!   answers this very offer and both sides kept a candidate), then both ends
//!   open. Every description that crosses the network is inspected.

include!("support/peer_world.rs");
use chord::Status;

use chord::message::Message;
use chord::peer::ServerState;

/// Twelve joins, a few hundred ms apart: the ring becomes correct and stays so.
fn twelve_join(seed: u64, latency: Option<(u64, u64)>) {
    twelve_join_in(seed, latency, false);
}

fn twelve_join_in(seed: u64, latency: Option<(u64, u64)>, trickle: bool) {
    let mut w = World::new(seed, peer_config());
    w.trickle = trickle;
    w.latency = latency.unwrap_or(w.latency);
    w.join(12, JOIN_GAP_MS);
    let took = w.converge(CONVERGE_MS, "after 12 joins");
    eprintln!("seed {seed}: ring correct {took} ms after the last join");
    for (p, t) in w.tabs.iter().enumerate() {
        let joined = t.events.iter().any(|(_, e)| matches!(e, PeerEvent::Node(Event::Joined { .. })));
        assert!(joined, "seed {seed}: peer {p} never reported Joined");
        let failed = t.events.iter().any(|(_, e)| matches!(e, PeerEvent::BootstrapFailed { .. }));
        assert!(!failed, "seed {seed}: peer {p} failed its bootstrap");
    }
    // And it stays correct.
    w.run_for(20_000);
    assert_eq!(w.ring_errors(), Vec::<String>::new(), "seed {seed}: ring broke again\n{}", w.dump());
    w.assert_clean();
}

#[test]
fn twelve_peers_join_and_the_ring_becomes_correct() {
    for seed in seeds(&[1, 2, 3]) {
        twelve_join(seed, None);
    }
}

/// Trickle ICE, as browsers do it: every link's candidates travel on their
/// own after its description, over the server for introductions and through
/// the ring otherwise; the ring forms all the same, and no candidate but a
/// loopback one crosses the network.
#[test]
fn twelve_peers_join_with_trickled_candidates() {
    for seed in seeds(&[1, 2, 3, 4, 5]) {
        twelve_join_in(seed, None, true);
    }
    let latency = std::env::var("PEER_RING_LATENCY").is_err().then_some((50, 300));
    for seed in seeds(&[3037, 3133]) {
        twelve_join_in(seed, latency, true);
    }
    let mut w = World::new(31, peer_config());
    w.trickle = true;
    w.join(12, JOIN_GAP_MS);
    w.converge(CONVERGE_MS, "after 12 trickled joins");
    w.put(0, "k", b"v");
    w.run_for(10_000);
    let opened: u64 = w.tabs.iter().map(|t| t.peer.links().stats().opened).sum();
    // Every opened end trickled its loopback candidate.
    assert!(w.candidates_seen >= opened, "{} candidates for {opened} link ends", w.candidates_seen);
    assert!(w.leaked.is_empty(), "leaked {:?}", w.leaked);
    w.assert_clean();
}

/// 50–300 ms per hop. Seed 3133 once trapped every offer in newcomers that
/// had only their bootstrap link; seed 3037 left a newcomer idle after its
/// join timed out.
#[test]
fn twelve_peers_join_over_a_slow_network() {
    let latency = std::env::var("PEER_RING_LATENCY").is_err().then_some((50, 300));
    for seed in seeds(&[3037, 3133]) {
        twelve_join(seed, latency);
    }
}

#[test]
fn the_server_relays_only_introductions() {
    let n = 12;
    for seed in seeds(&[21, 22]) {
        let mut w = ring(seed, n, peer_config());
        // Each newcomer needs one introduction, and each introduction one offer and one answer.
        assert_eq!(w.servers[0].pairs.len(), n - 1, "seed {seed}: introductions {:?}", w.servers[0].pairs);
        assert_eq!(w.servers[0].relayed, 2 * (n as u64 - 1), "seed {seed}: signals relayed");
        w.run_for(30_000);
        w.put(3, "after the joins", b"x");
        assert_eq!(w.servers[0].relayed, 2 * (n as u64 - 1), "seed {seed}: the server relayed ring traffic");
        let bootstrap: BTreeSet<(Id, Id)> =
            w.servers[0].pairs.iter().flat_map(|&(a, b)| [(w.id(a), w.id(b)), (w.id(b), w.id(a))]).collect();
        let mut ring_links = 0;
        for p in 0..n {
            for l in w.tabs[p].peer.links().snapshot() {
                if l.state != LinkState::Open {
                    continue;
                }
                match l.via {
                    Via::Ring => ring_links += 1,
                    Via::Server => assert!(
                        bootstrap.contains(&(w.id(p), l.peer)),
                        "seed {seed}: peer {p} has a server link to {} that no introduction made",
                        l.peer.short()
                    ),
                }
            }
        }
        // The ring's own links carry it, at least one per peer.
        assert!(ring_links >= n, "seed {seed}: only {ring_links} ring links\n{}", w.dump());
        w.assert_clean();
    }
}

#[test]
fn no_non_loopback_candidate_crosses_the_network() {
    for seed in seeds(&[31]) {
        let mut w = ring(seed, 12, peer_config());
        w.put(0, "k", b"v");
        w.run_for(10_000);
        let opened: u64 = w.tabs.iter().map(|t| t.peer.links().stats().opened).sum();
        assert!(opened >= 22, "seed {seed}: only {opened} links opened");
        // Both descriptions of every link went through the inspection, with their loopback candidate.
        assert!(w.candidates_seen >= opened, "seed {seed}: {} candidates for {opened} links", w.candidates_seen);
        assert!(w.leaked.is_empty(), "seed {seed}: leaked {:?}", w.leaked);
        w.assert_clean();
    }
}

#[test]
fn a_value_put_on_one_peer_is_read_on_every_other() {
    for seed in seeds(&[41]) {
        let mut w = ring(seed, 12, peer_config());
        w.put(5, "greeting", b"hello, ring");
        for p in (0..12).filter(|&p| p != 5) {
            assert_eq!(w.get(p, "greeting").as_deref(), Some(&b"hello, ring"[..]), "seed {seed}: peer {p}");
        }
        assert_eq!(w.get(2, "never stored"), None, "seed {seed}");
        w.assert_clean();
    }
}

#[test]
fn without_the_server_the_ring_serves_and_relinks_but_newcomers_fail() {
    for seed in seeds(&[51]) {
        serverless(seed, None);
    }
}

/// 50–300 ms per hop. With seed 7147 a reopening offer overtakes the close
/// of the link it replaces; with seed 8206 a relayed offer is lost.
#[test]
fn without_the_server_over_a_slow_network() {
    let latency = std::env::var("PEER_RING_LATENCY").is_err().then_some((50, 300));
    for seed in seeds(&[7147, 8206]) {
        serverless(seed, latency);
    }
}

fn serverless(seed: u64, latency: Option<(u64, u64)>) {
    let mut w = ring_with(seed, 12, peer_config(), latency);
    w.kill_server();
    w.run_for(1_000);
    // Members knock again with backoff; a dead server never lets them in.
    assert!(w.tabs.iter().all(|t| t.peer.server() != ServerState::Connected), "seed {seed}");
    let relayed = w.servers[0].relayed;

    let vals = values("offline", 4);
    for (i, (name, value)) in vals.iter().enumerate() {
        w.put(i * 3, name, value);
    }
    w.assert_readable(&vals, "server dead");

    // Close a link the ring needs; it comes back through the ring: within
    // 5 s, or if a message was lost meanwhile (a relay's link closing under
    // it), after one failed attempt (10 s timeout, 3 s pause).
    for a in [0, 7] {
        let b = w.index_of(&w.tabs[a].peer.node().successors()[0]).expect("a known peer");
        let (a_id, b_id) = (w.id(a), w.id(b));
        assert!(w.tabs[a].peer.links().is_open(&b_id), "seed {seed}: peer {a} has no open link to its successor");
        assert!(w.cmd(a, |peer, now| peer.close_link(now, &b_id)), "seed {seed}");
        assert!(!w.tabs[a].peer.links().is_open(&b_id), "seed {seed}");
        let (start, lost) = (w.now, w.lost);
        let back = w.run_until(20_000, |w| w.tabs[a].peer.links().is_open(&b_id) && w.tabs[b].peer.links().is_open(&a_id));
        assert!(back, "seed {seed}: link {a}→{b} not reopened\n{}", w.dump());
        let took = w.now.since(start);
        assert!(took <= 5_000 || w.lost > lost, "seed {seed}: link {a}→{b} took {took} ms without a loss\n{}", w.dump());
        let via = w.tabs[a].peer.links().snapshot().into_iter().find(|l| l.peer == b_id).map(|l| l.via);
        assert_eq!(via, Some(Via::Ring), "seed {seed}: link {a}→{b}");
    }
    w.converge(CONVERGE_MS, "after relinking");
    assert_eq!(w.servers[0].relayed, relayed, "seed {seed}");

    // Newcomers: the socket never opens; or it opens and the hello goes nowhere.
    let refused = w.add_peer();
    w.connect(refused);
    let lost_hello = w.add_peer();
    let s0 = ServerId(0);
    w.cmd(lost_hello, |peer, now| {
        peer.handle_input(now, Input::Server { server: s0, input: ServerInput::Connecting });
        peer.handle_input(now, Input::Server { server: s0, input: ServerInput::Opened });
    });
    w.run_for(500);
    w.cmd(lost_hello, |peer, now| peer.handle_input(now, Input::Server { server: s0, input: ServerInput::Closed }));
    w.run_for(500);
    for p in [refused, lost_hello] {
        let reasons = bootstrap_failures(&w, p);
        assert_eq!(reasons.len(), 1, "seed {seed}: peer {p}: {:?}", w.tabs[p].events);
        assert!(reasons[0].contains("signaling server"), "seed {seed}: reason {:?}", reasons[0]);
        assert_eq!(w.tabs[p].peer.node().status(), Status::Idle, "seed {seed}");
        assert!(w.tabs[p].peer.links().snapshot().is_empty(), "seed {seed}: peer {p} has links");
    }
    w.assert_readable(&vals, "after the newcomers failed");
    w.assert_clean();
}

#[test]
fn two_crashes_keep_the_ring_and_the_values() {
    for seed in seeds(&[61, 62]) {
        let mut w = ring(seed, 12, peer_config());
        let vals = values("durable", 6);
        for (i, (name, value)) in vals.iter().enumerate() {
            w.put(i, name, value);
        }
        w.run_for(5_000);
        // Crash the primary of the first key and its first replica: one copy of three is left.
        let ideal = w.ideal();
        let pos = ideal.successor_pos(&Id::key_of(&vals[0].0));
        let victims = [ideal.ids()[pos], ideal.ids()[(pos + 1) % ideal.len()]].map(|id| w.index_of(&id).expect("member"));
        for v in victims {
            w.crash(v);
        }
        let took = w.converge(CONVERGE_MS, "after two crashes");
        eprintln!("seed {seed}: ring correct {took} ms after crashing {victims:?}");
        w.assert_readable(&vals, "after two crashes");
        w.assert_clean();
    }
}

/// Hole 2 of issue 15: a driver whose receive queue for a link overflowed
/// refuses what follows and gives the link up (`RtcInput::Overflowed`,
/// `peer::Intake`). The peer counts the refused messages, closes the link
/// (both ends see it), the ring links the two again, and no value is lost.
#[test]
fn a_link_whose_receive_queue_overflowed_is_closed_counted_and_made_again() {
    for seed in seeds(&[63]) {
        let mut w = ring(seed, 8, peer_config());
        let vals = values("flood", 4);
        for (i, (name, value)) in vals.iter().enumerate() {
            w.put(i, name, value);
        }
        let a = 0;
        let b = w.index_of(&w.tabs[a].peer.node().successors()[0]).expect("a known peer");
        let (a_id, b_id) = (w.id(a), w.id(b));
        let (link, _) = w.open_ends(a, b)[0];
        let events = w.tabs[b].events.len();
        w.cmd(a, |peer, now| peer.handle_input(now, Input::Rtc { link, input: RtcInput::Overflowed(3) }));
        assert!(!w.tabs[a].peer.links().is_open(&b_id), "seed {seed}: the link stayed open");
        assert_eq!(w.tabs[a].peer.state().rejected.get("queueFull"), Some(&3), "seed {seed}: refused messages not counted");
        w.run_for(100);
        let saw = w.tabs[b].events[events..].iter().any(|(_, e)| matches!(e, PeerEvent::LinkClosed { peer } if *peer == a_id));
        assert!(saw, "seed {seed}: the other end did not see the link close");
        let back = w.run_until(20_000, |w| w.tabs[a].peer.links().is_open(&b_id) && w.tabs[b].peer.links().is_open(&a_id));
        assert!(back, "seed {seed}: link {a}→{b} not made again\n{}", w.dump());
        w.converge(CONVERGE_MS, "after the overflow");
        w.assert_readable(&vals, "after the overflow");
        w.assert_clean();
    }
}

/// A tab that dies closes its data channels: its neighbours probe it at once,
/// the ring answers that nobody can reach it, and they drop it well before
/// three unanswered pings (3 × `rpc_timeout_ms`) would have.
#[test]
fn a_crashed_tabs_closed_links_repair_its_neighbours_at_once() {
    for seed in seeds(&[81, 82, 83]) {
        let mut w = ring(seed, 12, peer_config());
        w.run_for(3_000);
        let victim = (seed % 12) as usize;
        let id = w.id(victim);
        let ideal = w.ideal();
        let pos = ideal.ids().iter().position(|i| *i == id).expect("member");
        let pred = w.index_of(&ideal.predecessor_of(pos)).expect("member");
        let before = w.tabs[pred].peer.node().stats().dead_by_transport;
        w.crash(victim);
        let start = w.now;
        let neighbours_ok = |w: &mut World| w.ring_problems().iter().all(|p| matches!(p, Problem::Fingers { .. }));
        let ok = w.run_until(1_000, neighbours_ok);
        assert!(
            ok,
            "seed {seed}: neighbours not correct 1 s after a crash (pings alone take {} ms): {:?}\n{}",
            3 * peer_config().node.rpc_timeout_ms,
            w.ring_errors(),
            w.dump()
        );
        eprintln!("seed {seed}: neighbours correct {} ms after peer {victim} crashed", w.now.since(start));
        let stats = w.tabs[pred].peer.node().stats();
        assert!(stats.dead_by_transport > before, "seed {seed}: the predecessor {pred} did not learn of the crash from the closed link");
        w.converge(CONVERGE_MS, "after the crash");
        w.assert_clean();
    }
}

#[test]
fn glare_ends_with_exactly_one_link() {
    let (mut glares, mut late_offers) = (0, 0);
    for seed in seeds(&[71]) {
        let mut w = ring(seed, 12, peer_config());
        // Every peer and its successor, twice: once in each of two ways.
        for (a, slow_net) in (0..12).flat_map(|a| [(a, a % 2 == 0), (a, a % 2 == 1)]) {
            let b = w.index_of(&w.tabs[a].peer.node().successors()[0]).expect("a known peer");
            let (a_id, b_id) = (w.id(a), w.id(b));
            if !slow_net {
                // ICE gathering slower than the 1 s housekeeping period that
                // reopens wanted links: both sides offer before either offer arrives.
                (w.describe, w.slow_offerer) = ((1_500, 2_000), None);
            } else {
                // The higher id's offer (the one that loses a glare) travels
                // slowly, so it may arrive after the winning link opened.
                (w.describe, w.slow_offerer) = ((5, 30), Some(if a_id < b_id { b } else { a }));
            }
            w.cmd(a, |peer, now| peer.close_link(now, &b_id));
            w.cmd(b, |peer, now| peer.close_link(now, &a_id));
            let back = w.run_until(30_000, |w| w.tabs[a].peer.links().is_open(&b_id) && w.tabs[b].peer.links().is_open(&a_id));
            assert!(back, "seed {seed}: {a}↔{b} not relinked\n{}", w.dump());
            let (ea, eb) = (w.open_ends(a, b), w.open_ends(b, a));
            assert_eq!((ea.len(), eb.len()), (1, 1), "seed {seed}: {a}↔{b}: {ea:?} {eb:?}");
            assert_eq!(ea[0].1, Some((b, eb[0].0)), "seed {seed}: {a}↔{b} not paired with each other");
            // The link stays: a late offer of the losing attempt does not replace it.
            w.run_for(10_000);
            assert_eq!((w.open_ends(a, b), w.open_ends(b, a)), (ea, eb), "seed {seed}: {a}↔{b} was replaced");
        }
        (glares, late_offers) = (glares + w.glares, late_offers + w.late_offers);
        (w.describe, w.slow_offerer) = ((5, 30), None);
        w.converge(CONVERGE_MS, "after glare");
        w.assert_clean();
    }
    eprintln!("{glares} glares, {late_offers} late offers");
    assert!(glares > 0 && late_offers > 0, "glare or late offers not exercised");
}

/// A tab whose every neighbour vanished, their links left open (a killed
/// browser seen from a native node, whose links stay open until ICE gives up):
/// once it found them silent, it must not try to rejoin through one of those
/// links — it is introduced again and carries on as a ring of one at once.
/// Before `Node::is_gone`, its join through a dead peer's link took ~24 s to fail.
#[test]
fn a_peer_whose_neighbours_vanished_does_not_rejoin_through_them() {
    for seed in seeds(&[91, 92]) {
        let mut w = ring(seed, 3, peer_config());
        w.run_for(3_000);
        let t0 = w.now;
        w.vanish(1);
        w.vanish(2);
        let alone = w.run_until(30_000, |w| {
            let n = w.tabs[0].peer.node();
            n.status() == Status::Joined && n.successors().is_empty() && n.predecessor().is_none()
        });
        let took = w.now.0 - t0.0;
        assert!(alone, "seed {seed}: the survivor never became a ring of one\n{}", w.dump());
        assert!(took <= 10_000, "seed {seed}: the survivor took {took} ms to become a ring of one (it rejoined through a dead peer?)");
        eprintln!("seed {seed}: a ring of one {took} ms after its neighbours vanished");
    }
}

#[test]
fn a_leaving_peer_hands_its_records_over() {
    for seed in seeds(&[81]) {
        // One copy per key: only the hand-over can save the leaver's records.
        let mut cfg = peer_config();
        cfg.node = Config { replicas: 1, ..Config::default() };
        let mut w = ring(seed, 12, cfg);
        let vals = values("handed", 8);
        for (i, (name, value)) in vals.iter().enumerate() {
            w.put(i, name, value);
        }
        w.run_for(3_000);
        let leaver = w.index_of(&w.ideal().successor(&Id::key_of(&vals[0].0))).expect("member");
        assert!(!w.tabs[leaver].peer.node().store().is_empty(), "seed {seed}: the leaver holds nothing");
        w.cmd(leaver, |peer, now| peer.leave(now)).unwrap_or_else(|e| panic!("seed {seed}: leave: {e}"));
        w.tabs[leaver].expected = false;
        w.run_for(200);
        w.cmd(leaver, |peer, now| peer.shutdown(now));
        w.converge(CONVERGE_MS, "after a leave");
        assert!(w.tabs[leaver].peer.links().snapshot().is_empty(), "seed {seed}: the leaver kept links");
        w.assert_readable(&vals, "after a leave");
        w.assert_clean();
    }
}

// ------------------------------------------------------------ several servers

/// A world of two fake servers.
fn two_servers(seed: u64) -> World {
    World::new(seed, PeerConfig { servers: vec!["s0".into(), "s1".into()], ..peer_config() })
}

/// Adds `n` tabs given `servers`, `JOIN_GAP_MS` apart.
fn join_with(w: &mut World, n: usize, servers: &[usize]) -> Vec<usize> {
    (0..n)
        .map(|_| {
            let p = w.add_peer_with(servers);
            w.connect(p);
            w.run_for(JOIN_GAP_MS);
            p
        })
        .collect()
}

/// When `p` reported `Joined`, and whether it founded a ring (its own successor).
fn joined(w: &World, p: usize) -> Option<(Millis, bool)> {
    w.tabs[p].events.iter().find_map(|(t, e)| match e {
        PeerEvent::Node(Event::Joined { successor }) => Some((*t, *successor == w.id(p))),
        _ => None,
    })
}

/// A ring formed through server 0 only; server 1 knows none of it and
/// answers `first` at once. Newcomers given both servers, in either order,
/// join that ring through server 0 and never found a second one; once in,
/// they are members on both servers.
#[test]
fn a_newcomer_given_two_servers_joins_through_the_one_that_introduces() {
    for seed in seeds(&[201, 202]) {
        let mut w = two_servers(seed);
        join_with(&mut w, 5, &[0]);
        w.converge(CONVERGE_MS, "ring through server 0");
        let a = join_with(&mut w, 1, &[0, 1])[0];
        let b = join_with(&mut w, 1, &[1, 0])[0];
        w.converge(CONVERGE_MS, "after the newcomers given both servers");
        for p in [a, b] {
            let (_, founded) = joined(&w, p).unwrap_or_else(|| panic!("seed {seed}: peer {p} never joined"));
            assert!(!founded, "seed {seed}: peer {p} founded a second ring");
            assert!(w.servers.iter().all(|s| s.members.contains(&p)), "seed {seed}: peer {p} is not a member on both servers");
        }
        // Server 1 knew no member but `a` once it had joined.
        assert!(w.servers[1].pairs.iter().all(|&(_, m)| m == a), "seed {seed}: {:?}", w.servers[1].pairs);
        w.assert_clean();
    }
}

/// A `welcome{first}` from one server founds the ring only once the other
/// server answered: here the other holds the hello during its grace period
/// (it restarted and waits for members); when a member comes back to it,
/// the newcomer is introduced to the existing ring instead of founding one.
/// With nobody to come back, the newcomer founds once the grace ends.
#[test]
fn a_founder_waits_for_every_other_server() {
    for seed in seeds(&[211, 212]) {
        let mut w = two_servers(seed);
        let ring = join_with(&mut w, 4, &[1]);
        w.converge(CONVERGE_MS, "ring through server 1");
        w.restart_server(1, 5_000);
        let n = w.add_peer_with(&[0, 1]);
        w.connect(n);
        w.converge(CONVERGE_MS, "after the newcomer");
        let (_, founded) = joined(&w, n).expect("joined");
        assert!(!founded, "seed {seed}: the newcomer founded a second ring\n{}", w.dump());
        let (n_id, members) = (w.id(n), ring.iter().map(|&p| w.id(p)).collect::<Vec<_>>());
        assert!(members.iter().all(|m| w.ideal().ids().contains(m)) && w.ideal().ids().contains(&n_id), "seed {seed}");

        let mut w = two_servers(seed);
        w.restart_server(1, 3_000);
        let start = w.now;
        let f = w.add_peer_with(&[0, 1]);
        w.connect(f);
        w.run_for(2_500);
        assert_eq!(w.tabs[f].peer.node().status(), Status::Idle, "seed {seed}: founded while server 1 could still introduce");
        w.converge(CONVERGE_MS, "the founder alone");
        let (at, founded) = joined(&w, f).expect("joined");
        assert!(founded && at.since(start) >= 3_000, "seed {seed}: founded at {} ms", at.since(start));
        w.assert_clean();
    }
}

/// The server dies for a while and comes back empty: members keep the ring,
/// knock again with a growing delay (a few times, not in a loop), come back
/// with `hello{member:true}` once it is up, and a newcomer given only that
/// server joins the existing ring instead of founding another.
#[test]
fn members_reconnect_with_backoff_after_a_server_restart() {
    for seed in seeds(&[221, 222]) {
        let mut w = ring(seed, 6, peer_config());
        let vals = values("before", 3);
        for (i, (name, value)) in vals.iter().enumerate() {
            w.put(i, name, value);
        }
        let members = w.expected();
        w.kill_server();
        w.run_for(20_000);
        for &p in &members {
            let n = w.tabs[p].peer.servers()[0].reconnects;
            // 0.5 s doubling to 8 s (each 50–100 %) fits 4 to 8 tries in 20 s.
            assert!((3..=10).contains(&n), "seed {seed}: peer {p} tried {n} times in 20 s");
        }
        w.restart_server(0, 10_000);
        let back = w.run_until(10_000, |w| members.iter().all(|&p| w.servers[0].members.contains(&p)));
        assert!(back, "seed {seed}: members not back on the server: {:?}", w.servers[0].members);
        assert_eq!(w.servers[0].member_hellos, members.len() as u64, "seed {seed}: each came back once, as a member");
        assert!(members.iter().all(|&p| w.tabs[p].peer.server() == ServerState::Connected), "seed {seed}");
        let n = join_with(&mut w, 1, &[0])[0];
        w.converge(CONVERGE_MS, "after the restart");
        assert!(!joined(&w, n).expect("joined").1, "seed {seed}: the newcomer founded a second ring");
        w.assert_readable(&vals, "after the restart");
        w.assert_clean();
    }
}

/// A meeting whose link cannot be made (no network path to the member met:
/// the connection times out) is not the end: the peer opens that server
/// again after a delay and is met again, and once a path exists the rings
/// are linked. (Seen in the browser split test: one meeting link timed out
/// and the two rings stayed apart.)
#[test]
fn a_meeting_whose_link_fails_is_tried_again() {
    for seed in seeds(&[241, 242]) {
        let mut w = two_servers(seed);
        let a = join_with(&mut w, 3, &[0]);
        let b = join_with(&mut w, 3, &[1]);
        w.run_for(10_000);
        let n = w.add_peer_with(&[0, 1]);
        // No path from the newcomer to anyone until it has joined; then none to
        // the other ring, so the first meeting's link fails.
        for &x in a.iter().chain(&b) {
            w.no_path.insert((x.min(n), x.max(n)));
        }
        w.connect(n);
        let mut joined_at = None;
        // Let it join through whichever server introduces it first: open its paths to that ring.
        let ok = w.run_until(30_000, |w| {
            if joined_at.is_none() {
                let first = w.servers.iter().flat_map(|s| s.pairs.iter()).find(|(x, _)| *x == n).map(|&(_, m)| m);
                if let Some(m) = first {
                    let group = if a.contains(&m) { &a } else { &b };
                    for &x in group {
                        w.no_path.remove(&(x.min(n), x.max(n)));
                    }
                    joined_at = Some(w.now);
                }
            }
            joined(w, n).is_some()
        });
        assert!(ok, "seed {seed}: the newcomer never joined\n{}", w.dump());
        let (at, founded) = joined(&w, n).expect("joined");
        assert!(!founded, "seed {seed}: it founded a ring");
        let failed = w.run_until(60_000, |w| w.tabs[n].events.iter().any(|(t, e)| *t >= at && matches!(e, PeerEvent::LinkFailed { .. })));
        assert!(failed, "seed {seed}: no meeting link failed\n{}", w.dump());
        // A path to the other ring appears.
        w.no_path.clear();
        let failed_at = w.now;
        let linked = w.run_until(60_000, |w| {
            w.tabs[n].events.iter().any(|(t, e)| *t > failed_at && matches!(e, PeerEvent::LinkOpened { via: Via::Server, .. }))
        });
        assert!(linked, "seed {seed}: the meeting was not tried again after its link failed\n{}", w.dump());
        w.converge(CONVERGE_MS, "after the second meeting");
        w.assert_clean();
    }
}

/// Two rings of the same name formed apart (group A knows only server 0,
/// group B only server 1). A newcomer given both joins through the first
/// introduction; the other server's is then used as a meeting: it comes
/// back to that server as a member, the server introduces it to a member of
/// the other ring, and the link is opened through that server while the
/// newcomer is joined (where the node is asked to unify the rings).
#[test]
fn a_meeting_links_a_member_to_the_other_ring_through_its_server() {
    for seed in seeds(&[231, 232]) {
        let mut w = two_servers(seed);
        let a = join_with(&mut w, 3, &[0]);
        let b = join_with(&mut w, 3, &[1]);
        w.run_for(10_000);
        let founders = (0..6).filter(|&p| joined(&w, p).is_some_and(|j| j.1)).count();
        assert_eq!(founders, 2, "seed {seed}: two rings");
        let n = join_with(&mut w, 1, &[0, 1])[0];
        let met = w.run_until(20_000, |w| !w.servers.iter().all(|s| s.meetings.is_empty()));
        assert!(met, "seed {seed}: no meeting opened\n{}", w.dump());
        let linked = w.run_until(15_000, |w| {
            let (at, _) = joined(w, n).unwrap_or((Millis(u64::MAX), false));
            w.tabs[n].events.iter().any(|(t, e)| *t >= at && matches!(e, PeerEvent::LinkOpened { via: Via::Server, .. }))
        });
        assert!(linked, "seed {seed}: no meeting link\n{}", w.dump());
        let (at, _) = joined(&w, n).expect("joined");
        let group = |peer: &Id| {
            if a.iter().any(|&x| w.id(x) == *peer) {
                'A'
            } else if b.contains(&w.index_of(peer).unwrap_or(usize::MAX)) {
                'B'
            } else {
                '?'
            }
        };
        let server_links: Vec<(bool, char)> = w.tabs[n]
            .events
            .iter()
            .filter_map(|(t, e)| match e {
                PeerEvent::LinkOpened { peer, via: Via::Server } => Some((*t >= at, group(peer))),
                _ => None,
            })
            .collect();
        let through = server_links.iter().find(|l| !l.0).map(|l| l.1);
        let met_other = server_links.iter().any(|l| l.0 && Some(l.1) != through && l.1 != '?');
        assert!(met_other, "seed {seed}: the meeting link does not lead to the other ring\n{}", w.dump());
        w.assert_clean();
    }
}

/// `id` plus `k`, in its low 64 bits (an id just after `id` on the ring).
fn just_after(id: Id, k: u64) -> Id {
    let mut b = id.0;
    let low = u64::from_be_bytes(b[12..20].try_into().expect("8 bytes")).wrapping_add(k);
    b[12..20].copy_from_slice(&low.to_be_bytes());
    Id(b)
}

/// Issue 15, hole 1: a hostile peer linked to a victim feeds it `Merge`
/// messages naming made-up ids between the victim and its successor, each of
/// which the victim checks by asking it (a link to open). For a minute the
/// victim opens at most its budget of such links (today: one per id, and again
/// for each it then remembers as lost), and the ring stays correct.
#[test]
fn a_hostile_peer_cannot_make_a_victim_open_links_to_made_up_ids() {
    for seed in seeds(&[1, 2]) {
        let mut w = ring(seed, 6, peer_config());
        let (victim, hostile) = (0, (1..6).find(|q| !w.open_ends(0, *q).is_empty()).expect("peer 0 has a link"));
        let budget = w.cfg.links.open_budget as u64;
        let window = w.cfg.links.open_window_ms;
        let created = |w: &World| w.tabs[victim].peer.links().stats().created;
        let before = created(&w);
        let victim_id = w.id(victim);
        let mut next = 1;
        const ATTACK_MS: u64 = 60_000;
        for _ in 0..ATTACK_MS / 500 {
            // Four made-up merge candidates every 500 ms, from the hostile peer's side of its link.
            if let Some((link, _)) = w.open_ends(victim, hostile).first().copied() {
                for _ in 0..4 {
                    let msg = Message::Merge { node: just_after(victim_id, next), hops: 0 };
                    next += 1;
                    let bytes = msg.encode().expect("a merge encodes");
                    w.input(victim, |p, now| p.handle_input(now, Input::Rtc { link, input: RtcInput::Message(bytes) }));
                }
            }
            w.run_for(500);
        }
        let opened = created(&w) - before;
        let stats = w.tabs[victim].peer.links().stats().clone();
        eprintln!("seed {seed}: {next} made-up ids named; the victim created {opened} peer connections, refused {} sends", stats.budget);
        // The budget's windows over the attack, and a few links the ring itself needed.
        let most = budget * (ATTACK_MS / window + 1) + 6;
        assert!(opened <= most, "seed {seed}: the victim created {opened} peer connections in {ATTACK_MS} ms (at most {most})");
        assert!(stats.budget > 0, "seed {seed}: no send was refused");
        w.run_for(10_000);
        assert_eq!(w.ring_errors(), Vec::<String>::new(), "seed {seed}: the ring broke\n{}", w.dump());
        w.assert_clean();
    }
}

/// Why `p`'s joins failed, in order (its `BootstrapFailed` events).
fn bootstrap_failures(w: &World, p: usize) -> Vec<&String> {
    w.tabs[p]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            PeerEvent::BootstrapFailed { reason } => Some(reason),
            _ => None,
        })
        .collect()
}

/// A server that refuses the hello because this id is already connected to
/// the ring (code `id_taken`: the same tab id open twice) fails the join at
/// once as "id taken", as when the ring itself says so, so the page picks
/// another id; any other refusal is the server's ("the signaling server
/// refused this tab: …").
#[test]
fn a_server_refusing_a_taken_id_fails_the_join_as_id_taken() {
    let mut w = World::new(71, peer_config());
    let s0 = ServerId(0);
    for (code, want) in [
        (Some(chord::signal::ERROR_ID_TAKEN), chord::peer::ID_TAKEN_MESSAGE.to_string()),
        (None, "the signaling server refused this tab: no".to_string()),
    ] {
        let p = w.add_peer();
        w.cmd(p, |peer, now| {
            peer.handle_input(now, Input::Server { server: s0, input: ServerInput::Connecting });
            peer.handle_input(now, Input::Server { server: s0, input: ServerInput::Opened });
            let refusal = ServerMsg::Error { reason: "no".into(), code: code.map(str::to_string) };
            peer.handle_input(now, Input::Server { server: s0, input: ServerInput::Message(refusal) });
        });
        let reasons = bootstrap_failures(&w, p);
        assert_eq!(reasons, [&want], "code {code:?}: {:?}", w.tabs[p].events);
        assert_eq!(w.tabs[p].peer.node().status(), Status::Idle);
    }
}
