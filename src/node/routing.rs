//! Recursive routing: find the node responsible for a key, hop by hop.

use super::forwarded::Verdict;
use super::*;
use crate::message::{Route, RouteFailure, RouteReply, RouteResult, MAX_HOPS};
use std::mem;

/// The value bytes a routed request carries.
fn op_bytes(op: &Op) -> usize {
    match op {
        Op::Put { name, value } => name.len() + value.len(),
        _ => 0,
    }
}

impl Node {
    /// Issues a routed request as origin.
    pub(super) fn start_request(&mut self, now: Millis, kind: ReqKind, target: Id, op: Op) -> Result<ReqId, CommandError> {
        if self.status != Status::Joined {
            return Err(CommandError::NotJoined);
        }
        let routes = self.routes().count();
        if routes >= self.cfg.max_pending_requests {
            return Err(CommandError::Busy(routes));
        }
        let req = self.fresh_req();
        self.launch(now, req, RouteReq::new(kind, target, op, req));
        Ok(req)
    }

    /// Sends (or resends) a request under request number `req`.
    pub(super) fn launch(&mut self, now: Millis, req: ReqId, mut request: RouteReq) {
        request.attempts += 1;
        request.first_hop = None;
        request.token = self.timers.schedule(now + self.cfg.request_timeout_ms, Timer::Deadline(req));
        let route =
            Route { origin: self.id, req, target: request.target, hops: 0, path: Vec::new(), last_hop: false, op: request.op.clone() };
        let first_hop = match request.kind {
            ReqKind::Join { via } => Some(via),
            _ => None,
        };
        request.first_hop = first_hop;
        self.requests.insert(req, Pending::Route(Box::new(request)));
        match first_hop {
            // A joining node has no routing state: the member it knows takes the first step.
            Some(via) => {
                let mut route = route;
                route.path.push(self.id);
                self.send(via, Message::Route(route));
            }
            None => self.route_step(now, route),
        }
    }

    pub(super) fn on_route(&mut self, now: Millis, from: Id, route: Route) {
        if self.status != Status::Joined {
            // No receipt: the sender will route around us.
            self.stats.count_drop(DropReason::NotJoined);
            return;
        }
        if route.path.last() != Some(&from) {
            self.stats.count_drop(DropReason::BadPath);
            return;
        }
        self.send(from, Message::RouteAck { origin: route.origin, req: route.req });
        if self.forwarding_full(&from, &route) {
            // Answered, not dropped: the sender must not take us for dead.
            self.stats.count_drop(DropReason::Limit);
            let hops = route.hops;
            return self.reply(now, route, RouteResult::Failed { node: self.id, reason: RouteFailure::Busy }, hops);
        }
        self.route_step(now, route);
    }

    /// Whether holding `route` too would exceed what this node holds for `from`.
    fn forwarding_full(&self, from: &Id, route: &Route) -> bool {
        let (mut count, mut bytes) = (1, op_bytes(&route.op));
        for w in self.hops.values().filter(|w| w.from.as_ref() == Some(from)) {
            count += 1;
            bytes += op_bytes(&w.sent.op);
        }
        count > self.cfg.max_forwarding_per_peer || bytes > self.cfg.max_forwarding_bytes_per_peer
    }

    /// One routing decision at this node (Chord's `find_successor`, recursive).
    pub(super) fn route_step(&mut self, now: Millis, route: Route) {
        if self.status != Status::Joined {
            // A hop timeout made us lose our last successor (we are rescuing,
            // or lost the ring): with no successor we would answer as a ring
            // of one.
            let hops = route.hops;
            return self.reply(now, route, RouteResult::Failed { node: self.id, reason: RouteFailure::NotInRing }, hops);
        }
        let key = route.target;
        if route.last_hop {
            // Our predecessor-side neighbour thinks we are responsible. If we
            // know a closer predecessor that is, pass it on (it joined in between).
            match self.predecessor {
                Some(p) if !key.in_half_open(&p, &self.id) && route.path.len() <= MAX_HOPS => self.forward(now, p, route, true, false),
                _ => self.execute(now, route),
            }
            return;
        }
        if let Some(p) = self.predecessor {
            if key.in_half_open(&p, &self.id) {
                return self.execute(now, route);
            }
        }
        let Some(succ) = self.successors.first() else {
            // Alone in the ring: responsible for every key.
            return self.execute(now, route);
        };
        if key.in_half_open(&self.id, &succ) {
            // We are the key's predecessor: the lookup's path ends here.
            if matches!(route.op, Op::FindSuccessor) {
                let hops = route.hops;
                return self.reply(now, route, RouteResult::Found { node: succ }, hops);
            }
            return self.forward(now, succ, route, true, false);
        }
        if usize::from(route.hops) >= MAX_HOPS {
            let hops = route.hops;
            return self.reply(now, route, RouteResult::Failed { node: self.id, reason: RouteFailure::TooManyHops }, hops);
        }
        let next = self.closest_preceding(&key).unwrap_or(succ);
        self.forward(now, next, route, false, true);
    }

    /// The known node that most closely precedes `key` (fingers and successors).
    ///
    /// Like the paper's loop `for i = m downto 1`, fingers are tried from the
    /// highest index down and the first one in `(n, key)` wins; for a random key
    /// that is one of the top two runs, so a hop touches little of the table.
    /// Successors, which are nearer still, are then tried from the farthest.
    pub(super) fn closest_preceding(&self, key: &Id) -> Option<Id> {
        let mut best = self.fingers.runs().iter().rev().map(|r| r.node).find(|n| n.in_open(&self.id, key));
        if let Some(s) = self.successors.as_slice().iter().rev().find(|s| s.in_open(&self.id, key)) {
            if best.is_none_or(|b| s.in_open(&b, key)) {
                best = Some(*s);
            }
        }
        best
    }

    /// Hands `route` (as received) to `next`, waiting for its receipt.
    fn forward(&mut self, now: Millis, next: Id, route: Route, last_hop: bool, count_hop: bool) {
        let arrived_last_hop = route.last_hop;
        let mut out = route;
        out.path.push(self.id);
        out.last_hop = last_hop;
        if count_hop {
            out.hops += 1;
        }
        let key = (out.origin, out.req);
        if out.origin == self.id && out.path.len() == 1 {
            // Our own request leaves us: its answer must come back from `next`.
            if let Some(Pending::Route(r)) = self.requests.get_mut(&out.req) {
                r.first_hop = Some(next);
            }
        }
        let token = self.timers.schedule(now + self.deadline(&next), Timer::Hop(out.origin, out.req));
        // The path ends with us; the peer before us handed the route over.
        let from = out.path.len().checked_sub(2).map(|i| out.path[i]);
        if let Some(back) = from {
            // Long enough for an honest answer that went round dead hops (the sim saw
            // them come 14 s after the route passed; the origin waits 8 s per attempt).
            self.forwarded.note(now, key, back, next, now + 3 * self.cfg.request_timeout_ms);
        }
        let wait = HopWait {
            next,
            from,
            sent: out.clone(),
            arrived_last_hop,
            counted: count_hop,
            token,
            attempts: 1,
            sent_at: now,
            first_sent: now,
            extensions: 0,
        };
        if let Some(old) = self.hops.insert(key, wait) {
            self.timers.cancel(old.token);
        }
        self.send(next, Message::Route(out));
    }

    pub(super) fn on_route_ack(&mut self, now: Millis, from: Id, origin: Id, req: ReqId) {
        match self.hops.get(&(origin, req)) {
            Some(w) if w.next == from => {
                let (token, sent_once) = (w.token, w.sent_at == w.first_sent);
                let sent_at = w.sent_at;
                self.hops.remove(&(origin, req));
                self.timers.cancel(token);
                if sent_once {
                    self.answer_times.sample(from, sent_at, now);
                }
            }
            // A joining node sends its first hop without waiting for a receipt.
            None if self.status == Status::Joining && origin == self.id => {}
            _ => self.stats.count_drop(DropReason::Unsolicited),
        }
    }

    pub(super) fn on_hop_timeout(&mut self, now: Millis, origin: Id, req: ReqId, late: bool) {
        let Some(mut w) = self.hops.remove(&(origin, req)) else { return };
        if late {
            // We were stalled, not (necessarily) the next hop: wait once more from now.
            self.stats.late_timeouts += 1;
            w.token = self.timers.schedule(now + self.deadline(&w.next), Timer::Hop(origin, req));
            self.hops.insert((origin, req), w);
            return;
        }
        let alive = w.extensions < MAX_ALIVE_EXTENSIONS && self.heard_since(&w.next, w.sent_at);
        if alive || w.attempts < self.cfg.rpc_attempts {
            // Maybe only the message was lost, or the receipt is queued behind
            // other traffic of a peer we hear from: try the same hop again.
            if alive {
                w.extensions += 1;
            } else {
                w.attempts += 1;
            }
            w.sent_at = now;
            w.token = self.timers.schedule(now + self.deadline(&w.next), Timer::Hop(origin, req));
            let (next, sent) = (w.next, w.sent.clone());
            self.hops.insert((origin, req), w);
            self.send(next, Message::Route(sent));
            return;
        }
        self.mark_dead(now, &w.next);
        // The route as it arrived here, to decide again without the dead hop.
        let mut route = w.sent;
        route.path.pop();
        route.last_hop = w.arrived_last_hop;
        if w.counted {
            route.hops -= 1;
        }
        self.route_step(now, route);
    }

    /// Answers a routed request at this node and sends the answer back along its path.
    pub(super) fn reply(&mut self, now: Millis, mut route: Route, result: RouteResult, hops: u16) {
        match route.path.pop() {
            None => self.complete(now, route.req, result, hops),
            Some(back) => {
                let path = mem::take(&mut route.path);
                self.send(back, Message::RouteReply(RouteReply { origin: route.origin, req: route.req, path, hops, result }));
            }
        }
    }

    pub(super) fn on_route_reply(&mut self, now: Millis, from: Id, mut reply: RouteReply) {
        if reply.origin == self.id && reply.path.is_empty() {
            // Only the peer our request went to first can hand back its answer
            // (F3: otherwise any linked peer that guessed the number could).
            match self.requests.get(&reply.req) {
                Some(Pending::Route(r)) if r.first_hop == Some(from) => {}
                _ => {
                    self.stats.count_drop(DropReason::Unsolicited);
                    return;
                }
            }
            return self.complete(now, reply.req, reply.result, reply.hops);
        }
        // Back only along a hop this node took: from a peer it handed the route
        // to, towards the peer it came from (node/forwarded.rs).
        let Some(back) = reply.path.pop().filter(|b| *b != self.id) else {
            return self.stats.count_drop(DropReason::BadPath);
        };
        match self.forwarded.take(now, (reply.origin, reply.req), from, back) {
            Verdict::Pass => self.send(back, Message::RouteReply(reply)),
            // As the origin would count a duplicate or late answer.
            Verdict::Unknown => self.stats.count_drop(DropReason::Unsolicited),
            Verdict::Mismatch => self.stats.count_drop(DropReason::BadPath),
        }
    }

    /// The origin receives the answer to request `req`.
    fn complete(&mut self, now: Millis, req: ReqId, result: RouteResult, hops: u16) {
        let Some(request) = self.take_route(req) else {
            self.stats.count_drop(DropReason::Unsolicited);
            return;
        };
        self.timers.cancel(request.token);
        let user_req = request.user_req;
        let target = request.target;
        if let RouteResult::Failed { reason, .. } = result {
            let error = match reason {
                RouteFailure::NotSure => RequestError::NotSure,
                reason => RequestError::Route(reason),
            };
            return self.fail_request(now, req, request, error);
        }
        let fits = matches!(
            (&request.kind, &result),
            (ReqKind::Lookup | ReqKind::FixFinger(_) | ReqKind::Stray, RouteResult::Found { .. })
                | (ReqKind::Put, RouteResult::Stored { .. })
                | (ReqKind::Get, RouteResult::Value { .. })
                | (ReqKind::Join { .. }, RouteResult::JoinPoint { .. })
        );
        if !fits {
            // A result of the wrong kind for this request (a lying or broken
            // node on the path): counted, and the attempt fails like any
            // other, so it is retried or reported. Dropping it silently once
            // left a finger fix marked as running for ever (fuzz sim_ring,
            // F4); now that "fixing" is the request itself, such a drop would
            // only wait for its deadline, but the answer is as final as a failure.
            self.stats.count_drop(DropReason::Unsolicited);
            return self.fail_request(now, req, request, RequestError::BadAnswer);
        }
        match (request.kind, result) {
            (ReqKind::Lookup, RouteResult::Found { node }) => self.emit(Event::LookupDone { req: user_req, target, node, hops }),
            (ReqKind::Put, RouteResult::Stored { node, version }) => {
                self.emit(Event::PutDone { req: user_req, key: target, node, version, hops })
            }
            (ReqKind::Get, RouteResult::Value { node, record, replicas }) => match record {
                // A record whose bytes do not match its digest: ask the replicas.
                Some(r) if r.key != target || !r.is_intact() => self.get_fallback(now, user_req, target, node, replicas, hops),
                record => self.emit(Event::GetDone { req: user_req, key: target, record, node, replicas, hops }),
            },
            (ReqKind::Join { .. }, RouteResult::JoinPoint { node, predecessor, successors }) => {
                self.on_join_point(now, node, predecessor, successors)
            }
            (ReqKind::FixFinger(i), RouteResult::Found { node }) => self.on_finger_found(i, node),
            (ReqKind::Stray, RouteResult::Found { node }) => self.on_stray_primary(now, target, node),
            // Every other pairing was turned away above.
            (_, _) => {}
        }
    }

    pub(super) fn on_request_timeout(&mut self, now: Millis, req: ReqId) {
        let Some(request) = self.take_route(req) else { return };
        let attempts = request.attempts;
        self.fail_request(now, req, request, RequestError::Timeout { attempts });
    }

    /// Retries a failed request if attempts remain, else reports the failure.
    fn fail_request(&mut self, now: Millis, _req: ReqId, request: RouteReq, error: RequestError) {
        if request.may_retry(&self.cfg, self.status == Status::Joined, self.status == Status::Joining) {
            let next = self.fresh_req();
            return self.launch(now, next, request);
        }
        match request.kind {
            ReqKind::Join { .. } => {
                self.status = Status::Idle;
                self.emit(Event::JoinFailed { error });
            }
            // A finger is fixed again at the next period, a stray looked up
            // again at the next replicate period.
            ReqKind::FixFinger(_) | ReqKind::Stray => {}
            _ => self.emit(Event::RequestFailed { req: request.user_req, target: request.target, error }),
        }
    }

    /// Forgets a peer that stopped answering.
    pub(super) fn mark_dead(&mut self, now: Millis, peer: &Id) {
        self.stats.declared_dead += 1;
        self.answer_times.forget(peer);
        // Dead, or cut off by a network split: remembered for ring unification.
        self.remember_lost(now, *peer);
        // Its fingers become unknown: fix them next rather than a cycle later.
        if let Some(first) = self.fingers.runs().iter().find(|r| r.node == *peer).map(|r| r.start as usize) {
            self.next_finger = self.next_finger.min(first);
        }
        self.fingers.remove(peer);
        // A dead node in the predecessor list would shrink the window of keys
        // we keep, and we would hand away copies still needed.
        self.earlier.retain(|p| p != peer);
        let was_first = self.successors.first() == Some(*peer);
        let mut removed = false;
        let mut was_pred = false;
        self.watch_neighbours(now, |n| {
            removed = n.successors.remove(peer);
            if n.predecessor == Some(*peer) {
                n.predecessor = None;
                was_pred = true;
            }
        });
        // A live node asked to be our predecessor meanwhile: it is the one.
        if was_pred {
            if let Some(c) = self.rectify_candidate.take().filter(|c| c != peer) {
                self.on_rectify(now, c);
            }
        }
        if removed && self.successors.is_empty() && self.status == Status::Joined {
            if self.cfg.rescue {
                self.rescue(now)
            } else {
                self.lose_ring(now)
            }
        } else if was_first && self.status == Status::Joined {
            // Check the new first successor at once rather than at the next period.
            self.stabilize_now(now);
        }
    }
}
