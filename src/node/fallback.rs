//! A get whose answer fails its digest asks the primary's replicas directly.
//!
//! The primary answers a routed get with its record and its replica list. If
//! that record does not match its own digest (a corrupt or lying primary),
//! the origin does not report "not found": it sends [`Message::Fetch`] to each
//! replica in turn, as a direct query (so only the replica asked can answer,
//! and a silent one is skipped after the usual attempts), and reports the
//! first intact copy. Only when every copy failed does the get fail, with
//! [`RequestError::Corrupt`].

use super::*;

/// Most replicas asked for one get.
const MAX_FALLBACK_REPLICAS: usize = 8;

/// A get waiting for an intact copy from a replica: the state its fetch
/// query carries from one replica to the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fallback {
    user_req: ReqId,
    pub(super) key: Id,
    /// Replicas not asked yet, in the order to ask them.
    left: Vec<Id>,
    /// Every holder named by the primary (reported with the record).
    replicas: Vec<Id>,
    /// Copies that failed their digest so far (the primary's included).
    corrupt: u32,
    hops: u16,
}

impl Node {
    /// The routed get `user_req` for `key` came back with a corrupt `record`
    /// from `primary`: look for a good copy, here first, then at the replicas.
    pub(super) fn get_fallback(&mut self, now: Millis, user_req: ReqId, key: Id, primary: Id, replicas: Vec<Id>, hops: u16) {
        self.stats.count_drop(DropReason::Corrupt);
        if let Some(r) = self.store.get(&key).filter(|r| r.is_intact()).cloned() {
            let node = self.id;
            return self.emit(Event::GetDone { req: user_req, key, record: Some(r), node, replicas, hops });
        }
        let mut left: Vec<Id> = Vec::new();
        for r in &replicas {
            if *r != primary && *r != self.id && !left.contains(r) && left.len() < MAX_FALLBACK_REPLICAS {
                left.push(*r);
            }
        }
        left.reverse(); // asked from the end: nearest replica first
        self.next_fallback(now, Fallback { user_req, key, left, replicas, corrupt: 1, hops });
    }

    /// Asks the next replica, or fails the get if none is left.
    pub(super) fn next_fallback(&mut self, now: Millis, mut fb: Fallback) {
        let Some(to) = fb.left.pop() else {
            let error = RequestError::Corrupt { copies: fb.corrupt };
            return self.emit(Event::RequestFailed { req: fb.user_req, target: fb.key, error });
        };
        let req = self.fresh_req();
        let q = Query::new(to, QueryPurpose::Fetch(Box::new(fb)), now);
        self.send_query(now, req, q);
    }

    pub(super) fn on_fetch(&mut self, from: Id, req: ReqId, key: Id) {
        if self.status != Status::Joined {
            self.stats.count_drop(DropReason::NotJoined);
            return;
        }
        let record = self.store.get(&key).cloned();
        self.send(from, Message::Fetched { req, record });
    }

    pub(super) fn on_fetched(&mut self, now: Millis, from: Id, req: ReqId, record: Option<Record>) {
        let mut fb = match self.take_query(now, from, req, Answer::Fetched) {
            Some(QueryPurpose::Confirm { of, replica }) => return self.on_confirm_answer(now, of, replica, record, true),
            Some(QueryPurpose::Fetch(fb)) => *fb,
            _ => return,
        };
        match record {
            Some(r) if r.key == fb.key && r.is_intact() => {
                let Fallback { user_req, key, replicas, hops, .. } = fb;
                self.emit(Event::GetDone { req: user_req, key, record: Some(r), node: from, replicas, hops });
            }
            Some(_) => {
                self.stats.count_drop(DropReason::Corrupt);
                fb.corrupt += 1;
                self.next_fallback(now, fb);
            }
            None => self.next_fallback(now, fb),
        }
    }
}
