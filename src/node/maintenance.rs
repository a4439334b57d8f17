//! Ring maintenance after Zave: join, stabilize, rectify, check predecessor,
//! fix fingers and graceful leave.

use super::*;
use crate::id::ID_BITS;
use crate::message::StoreReason;

impl Node {
    /// Joins the ring that `via` is a member of. [`Event::Joined`] or
    /// [`Event::JoinFailed`] follows.
    pub fn join(&mut self, now: Millis, via: Id) -> Result<(), CommandError> {
        if matches!(self.status, Status::Joined | Status::Joining) {
            return Err(CommandError::AlreadyJoined);
        }
        if via == self.id {
            return Err(CommandError::JoinViaSelf);
        }
        self.status = Status::Joining;
        self.successors = SuccessorList::new(self.id, self.cfg.successors);
        self.fingers = FingerTable::new();
        self.predecessor = None;
        let req = self.fresh_req();
        self.launch(now, req, RouteReq::new(ReqKind::Join { via }, self.id, Op::Join, req));
        Ok(())
    }

    /// The joiner's successor-to-be answered the join lookup itself.
    pub(super) fn on_join_point(&mut self, now: Millis, node: Id, pred: Option<Id>, succs: Vec<Id>) {
        if self.status != Status::Joining {
            return;
        }
        if node == self.id {
            self.status = Status::Idle;
            return self.emit(Event::JoinFailed { error: RequestError::IdTaken });
        }
        // A node between us that `node` already knows (a concurrent joiner)
        // is closer: ask it directly, as the paper's join does.
        if let Some(p) = pred.filter(|p| p.in_open(&self.id, &node)) {
            return self.query(now, p, QueryPurpose::Join { attempt: 1 });
        }
        self.finish_join(now, node, &succs);
    }

    /// Takes `succ` (which answered for itself) and its list as ours.
    fn finish_join(&mut self, now: Millis, succ: Id, succs: &[Id]) {
        self.successors.adopt(succ, succs);
        self.status = Status::Joined;
        self.start_maintenance(now);
        self.send(succ, Message::Rectify);
        self.emit(Event::Joined { successor: succ });
    }

    /// Sends `GetNeighbors` (or `Ping` for check-predecessor) to `to`.
    pub(super) fn query(&mut self, now: Millis, to: Id, purpose: QueryPurpose) {
        let req = self.fresh_req();
        self.send_query(now, req, Query::new(to, purpose, now));
    }

    pub(super) fn send_query(&mut self, now: Millis, req: ReqId, mut q: Query) {
        let msg = match &q.purpose {
            QueryPurpose::CheckPredecessor | QueryPurpose::Probe | QueryPurpose::Unify => Message::Ping { req },
            QueryPurpose::Fetch(fb) => Message::Fetch { req, key: fb.key },
            QueryPurpose::Confirm { of, .. } => match self.confirm_key(*of) {
                Some(key) => Message::Fetch { req, key },
                None => return,
            },
            _ => Message::GetNeighbors { req },
        };
        q.attempts += 1;
        q.sent_at = now;
        if self.gone.recently(&q.to, now, self.cfg.rpc_timeout_ms * u64::from(self.cfg.rpc_attempts)) {
            // The ring just said nobody can reach it: no answer can come, so
            // the question fails now (its last deadline, in the next timer round).
            q.give_up(self.cfg.rpc_attempts);
            q.token = self.timers.schedule(now, Timer::Deadline(req));
            self.requests.insert(req, Pending::Query(q));
            return;
        }
        q.token = self.timers.schedule(now + self.deadline(&q.to), Timer::Deadline(req));
        let to = q.to;
        self.requests.insert(req, Pending::Query(q));
        self.send(to, msg);
    }

    /// Takes the pending query `req` if it was sent to `from` and `answer`
    /// is the kind of message that answers it (a `Pong` cannot end a
    /// stabilize round, nor a `Neighbors` a fetch).
    pub(super) fn take_query(&mut self, now: Millis, from: Id, req: ReqId, answer: Answer) -> Option<QueryPurpose> {
        match self.requests.get(&req) {
            Some(Pending::Query(q)) if q.to == from && q.purpose.answered_by() == answer => {
                let q = self.take_pending_query(req)?;
                self.timers.cancel(q.token);
                if q.sent_at == q.first_sent {
                    self.answer_times.sample(from, q.sent_at, now);
                }
                Some(q.purpose)
            }
            _ => {
                self.stats.count_drop(DropReason::Unsolicited);
                None
            }
        }
    }

    pub(super) fn on_get_neighbors(&mut self, from: Id, req: ReqId) {
        // A rescuing node answers with its empty list: whoever adopts it
        // points at a non-member until its rescue ends (a gap, not a cycle),
        // rather than declaring it dead and losing its own ring in turn.
        if self.status != Status::Joined && !self.rescuing() {
            self.stats.count_drop(DropReason::NotJoined);
            return;
        }
        let successors = self.successors.as_slice().to_vec();
        self.send(from, Message::Neighbors { req, predecessor: self.predecessor, successors });
    }

    pub(super) fn on_neighbors(&mut self, now: Millis, from: Id, req: ReqId, pred: Option<Id>, succs: Vec<Id>) {
        let Some(purpose) = self.take_query(now, from, req, Answer::Neighbors) else { return };
        match purpose {
            QueryPurpose::Join { attempt } => {
                if self.status != Status::Joining {
                    return;
                }
                // If the successor already knows a node between us, that one is closer.
                if let Some(p) = pred.filter(|p| p.in_open(&self.id, &from)) {
                    if attempt < 64 {
                        return self.query(now, p, QueryPurpose::Join { attempt: attempt + 1 });
                    }
                }
                self.finish_join(now, from, &succs);
            }
            QueryPurpose::Stabilize { again } => {
                // The round ends here unless a candidate is to be checked.
                if self.successors.first() != Some(from) || self.status != Status::Joined {
                    return;
                }
                self.watch_neighbours(now, |n| {
                    n.successors.adopt(from, &succs);
                });
                match pred.filter(|p| p.in_open(&self.id, &from)) {
                    // Never adopt an unchecked pointer: ask p itself first.
                    Some(p) => self.query(now, p, QueryPurpose::Candidate { again }),
                    None => self.finish_stabilize(now, again),
                }
            }
            QueryPurpose::Candidate { again } => {
                if self.status != Status::Joined {
                    return;
                }
                let closer = self.successors.first().is_none_or(|s| from.in_open(&self.id, &s));
                if closer {
                    self.watch_neighbours(now, |n| {
                        n.successors.adopt(from, &succs);
                    });
                }
                // The new successor may itself know a closer predecessor: keep
                // stabilizing until a fixed point rather than one step per
                // period. Each round strictly shortens the distance to the
                // first successor, so this ends.
                self.finish_stabilize(now, again || closer);
            }
            QueryPurpose::MergeCandidate { hops } => self.on_merge_candidate(now, from, hops, succs),
            QueryPurpose::Rescue => self.on_rescue_answer(now, from, &succs),
            // take_query only returns the purposes a `Neighbors` answers.
            QueryPurpose::CheckPredecessor
            | QueryPurpose::Probe
            | QueryPurpose::Fetch(_)
            | QueryPurpose::Confirm { .. }
            | QueryPurpose::Unify => {}
        }
    }

    /// Ends a stabilize round (its last question is answered or failed):
    /// rectify the successor, and start the next round at once if the round
    /// asked for one (`again`: the successor's list changed meanwhile).
    fn finish_stabilize(&mut self, now: Millis, again: bool) {
        if let Some(s) = self.successors.first() {
            self.send(s, Message::Rectify);
        }
        if again {
            self.stabilize_now(now);
        }
    }

    /// Our first successor's list changed: stabilize now (or right after the
    /// round in flight). Only the first successor is listened to, and all it
    /// can cause is a stabilize round, which asks it directly.
    pub(super) fn on_successors_changed(&mut self, now: Millis, from: Id) {
        if self.status != Status::Joined || self.successors.first() != Some(from) {
            self.stats.count_drop(DropReason::Unsolicited);
            return;
        }
        if !self.stabilize_again() {
            self.stabilize_now(now);
        }
    }

    pub(super) fn on_probe_timer(&mut self, now: Millis) {
        if self.status != Status::Joined || self.cfg.probe_ms == 0 {
            return;
        }
        let t = self.period(self.cfg.probe_ms);
        self.timers.schedule(now + t, Timer::Probe);
        // A peer that answered us within the last period is alive: probing it
        // again would only add load (the most under overload, when it hurts).
        let recent = Millis(now.0.saturating_sub(self.cfg.probe_ms));
        let mut peers: Vec<Id> = self.successors.as_slice().to_vec();
        peers.extend(self.fingers.nodes().copied());
        peers.extend(self.predecessor);
        peers.sort_unstable();
        peers.dedup();
        for p in peers {
            let probing = self.queries().any(|(_, q)| q.to == p && q.purpose == QueryPurpose::Probe);
            if p != self.id && !probing && !self.answer_times.answered_since(&p, recent) {
                self.query(now, p, QueryPurpose::Probe);
            }
        }
    }

    pub(super) fn on_pong(&mut self, now: Millis, from: Id, req: ReqId, predecessors: Vec<Id>) {
        let purpose = self.take_query(now, from, req, Answer::Pong);
        if purpose == Some(QueryPurpose::Unify) {
            return self.on_unify_pong(now, from);
        }
        if purpose.is_some() && self.predecessor == Some(from) {
            // The predecessor is alive: whoever else asked to replace it was wrong.
            self.rectify_candidate = None;
            // Keep only the prefix that runs counter-clockwise from it without
            // passing us (the same ordering rule as successor lists).
            let mut earlier = Vec::new();
            let mut last = from.distance(&self.id);
            for p in predecessors {
                let d = p.distance(&self.id);
                if d <= last || p == self.id {
                    break;
                }
                earlier.push(p);
                last = d;
            }
            // The list must start beyond our predecessor.
            if earlier.first() == Some(&from) {
                earlier.remove(0);
            }
            earlier.truncate(self.cfg.replicas);
            self.earlier = earlier;
        }
    }

    /// The deadline of query `req` passed (see [`Query::on_timeout`]); a
    /// query that failed ends what it was for.
    pub(super) fn on_query_timeout(&mut self, now: Millis, req: ReqId, late: bool) {
        let Some(mut q) = self.take_pending_query(req) else { return };
        let heard = self.heard_since(&q.to, q.sent_at);
        match q.on_timeout(late, heard, self.cfg.rpc_attempts) {
            QueryStep::Drop => return,
            QueryStep::Rearm => {
                self.stats.late_timeouts += 1;
                q.token = self.timers.schedule(now + self.deadline(&q.to), Timer::Deadline(req));
                self.requests.insert(req, Pending::Query(q));
                return;
            }
            QueryStep::Resend => return self.send_query(now, req, q),
            QueryStep::Failed => {}
        }
        match q.purpose {
            QueryPurpose::Join { .. } => {
                // The successor we found died: look again.
                if self.status == Status::Joining {
                    self.status = Status::Idle;
                    self.emit(Event::JoinFailed { error: RequestError::Timeout { attempts: 1 } });
                }
            }
            // The round is over (with its query gone); a dead first
            // successor starts the next one at once (`mark_dead`).
            QueryPurpose::Stabilize { .. } => self.mark_dead(now, &q.to),
            QueryPurpose::Candidate { again } => self.finish_stabilize(now, again),
            QueryPurpose::Probe => self.mark_dead(now, &q.to),
            // A replica that does not answer is skipped, not declared dead:
            // the get is not the place to decide about ring membership.
            QueryPurpose::Fetch(fb) => self.next_fallback(now, *fb),
            QueryPurpose::Confirm { of, replica } => self.on_confirm_answer(now, of, replica, None, false),
            QueryPurpose::MergeCandidate { .. } => self.on_merge_candidate_timeout(now),
            QueryPurpose::Unify => {}
            QueryPurpose::Rescue => {
                // Still rescuing (its query was the rescue): ask the next finger.
                self.mark_dead(now, &q.to);
                self.rescue(now);
            }
            QueryPurpose::CheckPredecessor => {
                if self.predecessor == Some(q.to) {
                    self.remember_lost(now, q.to);
                    self.watch_neighbours(now, |n| n.predecessor = None);
                    // A live node asked to be our predecessor meanwhile: it is the one.
                    if let Some(c) = self.rectify_candidate.take() {
                        self.on_rectify(now, c);
                    }
                }
            }
        }
    }

    /// Rectify: `from` believes it is our predecessor.
    pub(super) fn on_rectify(&mut self, now: Millis, from: Id) {
        if self.status != Status::Joined {
            self.stats.count_drop(DropReason::NotJoined);
            return;
        }
        let accept = match self.predecessor {
            None => true,
            Some(p) => from.in_open(&p, &self.id),
        };

        if !accept {
            // Zave's rectify also accepts when the current predecessor is dead.
            // Check it now (rather than at the next check-predecessor period) and
            // remember who asked; a timeout then adopts the candidate.
            if let Some(p) = self.predecessor.filter(|p| *p != from) {
                self.rectify_candidate = Some(from);
                let checking = self.queries().any(|(_, q)| q.purpose == QueryPurpose::CheckPredecessor && q.to == p);
                if !checking {
                    self.query(now, p, QueryPurpose::CheckPredecessor);
                }
            }
            return;
        }
        let previous = self.predecessor.or(self.last_predecessor);
        self.watch_neighbours(now, |n| {
            n.predecessor = Some(from);
            n.last_predecessor = Some(from);
        });
        // Keys in (previous, from] now belong to `from`. If `from` lies before the
        // previous predecessor (that one died), we already own its range: nothing moves.
        let lo = previous.unwrap_or(self.id);
        if previous.is_none() || from.in_open(&lo, &self.id) {
            self.hand_over(now, from, lo, from, StoreReason::JoinHandover);
        }
        if self.successors.is_empty() {
            // We were alone; our new predecessor is also our successor.
            self.stabilize_now(now);
        }
    }

    /// The successor `from` (or predecessor) leaves gracefully.
    pub(super) fn on_leaving(&mut self, now: Millis, from: Id, pred: Option<Id>, succs: Vec<Id>) {
        if self.status != Status::Joined {
            return;
        }
        self.fingers.remove(&from);
        // It no longer bounds the keys we hold (see `return_strays`).
        self.earlier.retain(|p| *p != from);
        let mut lost = false;
        self.watch_neighbours(now, |n| {
            if n.successors.first() == Some(from) {
                match succs.split_first() {
                    Some((h, t)) => {
                        n.successors.adopt(*h, t);
                    }
                    None => {
                        n.successors.remove(&from);
                    }
                }
            } else {
                n.successors.remove(&from);
            }
            lost = n.successors.is_empty() && succs.iter().any(|s| *s != n.id);
            if n.predecessor == Some(from) {
                // The leaver's predecessor will rectify us; the range it held came with it.
                n.predecessor = None;
                n.last_predecessor = pred;
            }
        });
        // It left for good: nothing to unify with, and no way back in.
        self.lost.forget(&from);
        self.remember_departed(from);
        if lost {
            self.lose_ring(now);
        } else if let Some(s) = self.successors.first() {
            self.send(s, Message::Rectify);
        }
    }

    pub(super) fn start_maintenance(&mut self, now: Millis) {
        if !self.cfg.maintenance {
            return;
        }
        let t = self.period(self.cfg.stabilize_ms);
        self.timers.schedule(now + t, Timer::Stabilize);
        let t = self.period(self.cfg.fix_fingers_ms);
        self.timers.schedule(now + t, Timer::FixFingers);
        let t = self.period(self.cfg.check_predecessor_ms);
        self.timers.schedule(now + t, Timer::CheckPredecessor);
        let t = self.period(self.cfg.replicate_ms);
        self.timers.schedule(now + t, Timer::Replicate);
        if self.cfg.probe_ms > 0 {
            let t = self.period(self.cfg.probe_ms);
            self.timers.schedule(now + t, Timer::Probe);
        }
        if self.cfg.lost_probe_ms > 0 {
            let t = self.period(self.cfg.lost_probe_ms);
            self.timers.schedule(now + t, Timer::Unify);
        }
    }

    pub(super) fn on_stabilize_timer(&mut self, now: Millis) {
        if self.status != Status::Joined {
            return;
        }
        let t = self.period(self.cfg.stabilize_ms);
        self.timers.schedule(now + t, Timer::Stabilize);
        self.stabilize_now(now);
    }

    /// Starts a stabilize round unless one is in flight. The round is its
    /// query: it is in flight exactly as long as that query (or the
    /// candidate check that follows it) is.
    pub(super) fn stabilize_now(&mut self, now: Millis) {
        if self.stabilizing() || self.status != Status::Joined {
            return;
        }
        match (self.successors.first(), self.predecessor) {
            (Some(s), _) => self.query(now, s, QueryPurpose::Stabilize { again: false }),
            (None, Some(p)) => self.query(now, p, QueryPurpose::Candidate { again: false }),
            (None, None) => {}
        }
    }

    /// Every successor died. Before giving the ring up, ask the nearest
    /// live-looking finger for its neighbours: one that answers becomes the
    /// successor (checked, as Zave requires; stabilize then walks back to any
    /// closer node). Each silent one is declared dead and the next asked, so
    /// this ends; with none left the ring is lost. Without it a network split
    /// (many successors unreachable at once) cascades: the predecessor of a
    /// node that lost its ring often lists only that node, and loses its ring
    /// in turn.
    ///
    /// Until a finger answers the node is out of the ring
    /// ([`Status::Joining`]): with an empty successor list it would otherwise
    /// be a ring of one, a second cycle that answers every lookup and stores
    /// every put itself, and whose stabilize would adopt its predecessor (a
    /// cycle of two). So it takes no route and no `Rectify`, and its periodic
    /// maintenance stops until [`Node::on_rescue_answer`] restarts it. It
    /// still answers `Ping` and `GetNeighbors` (with its empty list): it is
    /// alive, and a predecessor that declared it dead would often lose its
    /// own ring in turn (the cascade this is for).
    pub(super) fn rescue(&mut self, now: Millis) {
        if self.rescuing() {
            return;
        }
        // Rescuing from here on: as long as the `Rescue` query below is in flight.
        self.status = Status::Joining;
        let own = self.id;
        // Fingers only: they lie clockwise ahead. The predecessor would answer
        // with a list that starts at us, and the two would close a ring of their own.
        let nearest = self.fingers.nodes().copied().filter(|n| *n != own).min_by_key(|n| own.distance(n));
        match nearest {
            Some(n) => self.query(now, n, QueryPurpose::Rescue),
            None => self.lose_ring(now),
        }
    }

    /// The finger asked by [`Node::rescue`] answered itself with its list.
    /// A list that comes back round to us is cut there, not refused: while we
    /// rescue we are no member, so no cycle runs through us, and the chain
    /// from the finger that reached us ended at us; adopting the finger closes
    /// that chain (in a split group or a small ring, into its ring) and
    /// stabilize walks back from it to any closer node.
    fn on_rescue_answer(&mut self, now: Millis, from: Id, succs: &[Id]) {
        // Back in the ring (the rescue ended with its query): restart the
        // maintenance that stopped meanwhile.
        self.status = Status::Joined;
        self.timers.cancel_periodic();
        self.start_maintenance(now);
        self.watch_neighbours(now, |n| {
            n.successors.adopt(from, succs);
        });
        self.send(from, Message::Rectify);
        self.stabilize_now(now);
    }

    /// All successors died: leave the ring state, keep the records, tell the driver.
    pub(super) fn lose_ring(&mut self, _now: Millis) {
        self.status = Status::Idle;
        self.predecessor = None;
        self.fingers = FingerTable::new();
        self.drop_pending();
        self.emit(Event::LostRing);
    }

    /// Stops every timer and request; the application hears of each request it issued.
    /// Nothing else is reset: what the node was doing (stabilizing, fixing
    /// a finger, rescuing) was the requests themselves.
    fn drop_pending(&mut self) {
        self.timers.clear();
        self.merging = Default::default();
        self.hops.clear();
        let failed: Vec<RouteReq> = self
            .requests
            .drain()
            .filter_map(|(_, p)| match p {
                Pending::Route(r) if r.reported() => Some(*r),
                _ => None,
            })
            .collect();
        for r in failed {
            self.emit(Event::RequestFailed { req: r.user_req, target: r.target, error: RequestError::Left });
        }
    }

    pub(super) fn on_check_predecessor_timer(&mut self, now: Millis) {
        if self.status != Status::Joined {
            return;
        }
        let t = self.period(self.cfg.check_predecessor_ms);
        self.timers.schedule(now + t, Timer::CheckPredecessor);
        if let Some(p) = self.predecessor {
            self.query(now, p, QueryPurpose::CheckPredecessor);
        }
    }

    pub(super) fn on_fix_fingers_timer(&mut self, now: Millis) {
        if self.status != Status::Joined {
            return;
        }
        let t = self.period(self.cfg.fix_fingers_ms);
        self.timers.schedule(now + t, Timer::FixFingers);
        if self.fixing_finger().is_some() {
            return;
        }
        let Some(succ) = self.successors.first() else { return };
        // Fingers whose start the first successor already succeeds need no lookup.
        let mut i = self.next_finger;
        if self.id.finger_start(i).in_half_open(&self.id, &succ) {
            i = self.fingers.set(&self.id, 0, succ);
        }
        if i >= ID_BITS {
            self.next_finger = 0;
            return;
        }
        self.next_finger = i;
        let target = self.id.finger_start(i);
        // The fix is in flight as long as its lookup is. Refused at the
        // request limit: tried again next period.
        let _ = self.start_request(now, ReqKind::FixFinger(i), target, Op::FindSuccessor);
    }

    pub(super) fn on_finger_found(&mut self, i: usize, node: Id) {
        if node == self.id {
            // No other node lies between finger i's start and us: fingers i..
            // all point at ourselves. Forget what they held while the ring was
            // forming, or a node that joined elsewhere would stay a finger.
            self.fingers.clear_from(i);
            self.next_finger = 0;
            return;
        }
        let next = self.fingers.set(&self.id, i, node);
        self.next_finger = if next >= ID_BITS { 0 } else { next };
    }

    /// Leaves gracefully: primary records go to the successor, neighbours are told.
    pub fn leave(&mut self, now: Millis) -> Result<(), CommandError> {
        if self.status != Status::Joined {
            return Err(CommandError::NotJoined);
        }
        if let Some(s) = self.successors.first() {
            // Everything goes, not only our own range: we may hold the last copy
            // of a replica or of a record that churn left here. A leaving node
            // cannot wait for receipts (a closing tab has no time), and several of
            // its successors may have crashed unnoticed, so the records go to its
            // whole successor list (r ≥ R nodes) and its predecessor (alive even
            // when every successor crashed); each keeps what is its own and
            // returns the rest towards where it belongs.
            let id = self.id;
            let mut targets: Vec<Id> = self.successors.as_slice().to_vec();
            targets.extend(self.predecessor.filter(|p| !targets.contains(p)));
            for t in targets {
                self.hand_over(now, t, id, id, StoreReason::LeaveHandover);
            }
            let msg = Message::Leaving { predecessor: self.predecessor, successors: self.successors.as_slice().to_vec() };
            self.send(s, msg.clone());
            if let Some(p) = self.predecessor.filter(|p| *p != s) {
                self.send(p, msg);
            }
        }
        self.status = Status::Left;
        self.drop_pending();
        self.emit(Event::Left);
        Ok(())
    }
}
