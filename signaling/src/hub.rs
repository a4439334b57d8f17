//! The one task that owns the server's state.
//!
//! An actor rather than `Arc<Mutex<..>>`: introductions need timers, and a
//! single task that `select!`s over its inbox and the state's next deadline
//! runs them without a second task racing the first for the lock. Connection
//! tasks send it [`Event`]s through a bounded inbox; it answers each
//! connection through that connection's bounded outbox, with `try_send` only,
//! so a client that stops reading can never stall the hub: a full outbox drops
//! relayed signals (the introduction then times out and is retried) and closes
//! the connection for anything else.

use crate::config::Config;
use crate::error::CloseReason;
use crate::intro::ConnId;
use crate::limits::Gauges;
use crate::rings::{Grace, IntroPolicy, Output, Rings};
use crate::stats::Stats;
use chord::signal::{ClientMsg, ServerMsg};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

/// Capacity of the hub's inbox, shared by all connections.
const INBOX_CAPACITY: usize = 1024;

/// What a connection task or the HTTP side tells the hub.
#[derive(Debug)]
pub enum Event {
    /// A WebSocket opened; the hub answers it through `outbox`.
    Open {
        /// The connection's number.
        conn: ConnId,
        /// Where the hub puts what the connection should send.
        outbox: mpsc::Sender<Outbound>,
    },
    /// A connection received a valid client message (never `Bye`).
    Msg {
        /// The connection.
        conn: ConnId,
        /// The message.
        msg: ClientMsg,
    },
    /// A connection ended (closed, said bye, or broke the protocol).
    Gone {
        /// The connection.
        conn: ConnId,
        /// Whether it ended because the client broke the protocol.
        protocol_error: bool,
    },
    /// `GET /stats` wants a snapshot.
    Stats {
        /// Where to send it.
        reply: oneshot::Sender<Stats>,
    },
}

/// What the hub asks a connection task to do. Boxed, so that each outbox's
/// first block of slots (allocated with the channel, whether or not anything
/// is ever sent) stays small: at 10,000 idle connections that block is a
/// good part of the memory per connection.
#[derive(Debug)]
pub enum Outbound {
    /// Send this message.
    Msg(Box<ServerMsg>),
    /// Send `error{reason}`, then close.
    Close(Box<CloseReason>),
}

/// The hub's state: the rings plus the outbox of every open connection.
struct Hub {
    rings: Rings,
    outboxes: HashMap<ConnId, mpsc::Sender<Outbound>>,
    /// Open WebSockets and refusals, counted on the HTTP side (the hub
    /// forgets a connection before its socket is actually closed).
    gauges: Arc<Gauges>,
    relayed: u64,
    dropped: u64,
    protocol_errors: u64,
}

/// Starts the hub task; the returned sender is its inbox. The task ends when
/// every sender is dropped. `gauges` are the HTTP side's live counts. The
/// grace period ([`Config::grace`]) starts now.
pub fn spawn(config: &Config, gauges: Arc<Gauges>) -> mpsc::Sender<Event> {
    let policy = IntroPolicy { timeout: config.intro_timeout, lifetime: config.intro_lifetime, tries: config.intro_tries };
    let grace = Grace { started: Instant::now(), length: config.grace };
    let hub = Hub {
        rings: Rings::new(policy, config.max_per_ring, config.seed, grace),
        outboxes: HashMap::new(),
        gauges,
        relayed: 0,
        dropped: 0,
        protocol_errors: 0,
    };
    let (tx, rx) = mpsc::channel(INBOX_CAPACITY);
    tokio::spawn(hub.run(rx));
    tx
}

impl Hub {
    async fn run(mut self, mut inbox: mpsc::Receiver<Event>) {
        loop {
            let deadline = self.rings.poll_timeout();
            let sleep = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now).into());
            tokio::select! {
                event = inbox.recv() => match event {
                    Some(event) => self.handle(event, Instant::now()),
                    None => return,
                },
                () = sleep, if deadline.is_some() => self.rings.handle_timeout(Instant::now()),
            }
            self.flush(Instant::now());
        }
    }

    fn handle(&mut self, event: Event, now: Instant) {
        match event {
            Event::Open { conn, outbox } => {
                self.outboxes.insert(conn, outbox);
            }
            // A connection the hub already forgot (it closed it, or found its
            // task gone while delivering) may still have messages queued
            // here; they are moot, not a protocol error.
            Event::Msg { conn, .. } if !self.outboxes.contains_key(&conn) => {}
            Event::Msg { conn, msg } => match msg {
                ClientMsg::Hello { ring, id, member, .. } => self.rings.hello(conn, &ring, id, member, now),
                ClientMsg::Member => self.rings.member(conn, now),
                ClientMsg::Signal { intro, payload } => self.rings.signal(conn, intro, payload, now),
                ClientMsg::Bye => self.forget(conn, now),
            },
            Event::Gone { conn, protocol_error } => {
                if protocol_error {
                    self.protocol_errors += 1;
                }
                self.forget(conn, now);
            }
            Event::Stats { reply } => {
                // The asker may have given up; nothing to do then.
                let _ = reply.send(self.stats(now));
            }
        }
    }

    /// Forgets a connection: its outbox and its place in the rings.
    fn forget(&mut self, conn: ConnId, now: Instant) {
        self.outboxes.remove(&conn);
        self.rings.leave(conn, now);
    }

    /// Hands every pending output to its connection.
    fn flush(&mut self, now: Instant) {
        while let Some(output) = self.rings.poll_output() {
            match output {
                Output::Send(conn, msg) => self.deliver(conn, msg, now),
                Output::Close(conn, reason) => {
                    if reason.is_protocol_error() {
                        self.protocol_errors += 1;
                    }
                    if let Some(outbox) = self.outboxes.remove(&conn) {
                        // If the outbox is full, dropping it closes the
                        // connection anyway, without the reason.
                        let _ = outbox.try_send(Outbound::Close(Box::new(reason)));
                    }
                }
            }
        }
    }

    fn deliver(&mut self, conn: ConnId, msg: ServerMsg, now: Instant) {
        let Some(outbox) = self.outboxes.get(&conn) else { return };
        let relayed = matches!(msg, ServerMsg::Signal { .. });
        match outbox.try_send(Outbound::Msg(Box::new(msg))) {
            Ok(()) if relayed => self.relayed += 1,
            Ok(()) => {}
            Err(TrySendError::Full(_)) if relayed => self.dropped += 1,
            Err(TrySendError::Full(_)) => {
                // Dropping the outbox makes the connection task close the socket.
                self.outboxes.remove(&conn);
                self.rings.leave(conn, now);
            }
            Err(TrySendError::Closed(_)) => self.forget(conn, now),
        }
    }

    fn stats(&self, now: Instant) -> Stats {
        let c = self.rings.counters();
        Stats {
            connections: self.gauges.websockets.load(Ordering::Relaxed) as u64,
            connections_refused: self.gauges.refused.load(Ordering::Relaxed),
            rings: self.rings.ring_count() as u64,
            members: self.rings.member_count() as u64,
            introductions: c.introductions,
            introductions_completed: c.introductions_completed,
            introductions_failed: c.introductions_failed,
            messages_relayed: self.relayed,
            messages_dropped: self.dropped,
            signals_refused: c.signals_refused,
            protocol_errors: self.protocol_errors,
            // Counted by the connection tasks; `/stats` adds them (app.rs).
            turn_credentials_issued: 0,
            ice_refreshes_sent: 0,
            member_hellos: c.member_hellos,
            meetings: c.meetings,
            meetings_answered: c.meetings_answered,
            meetings_unanswered: c.meetings_unanswered,
            held_newcomers: c.held_newcomers,
            held: self.rings.held_count() as u64,
            grace_left_ms: u64::try_from(self.rings.grace_left(now).as_millis()).unwrap_or(u64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chord::signal::SIGNAL_VERSION;
    use chord::Id;

    async fn stats(hub: &mpsc::Sender<Event>) -> Stats {
        let (reply, answer) = oneshot::channel();
        hub.send(Event::Stats { reply }).await.unwrap();
        answer.await.unwrap()
    }

    #[tokio::test]
    async fn messages_queued_by_a_connection_the_hub_forgot_are_ignored() {
        let hub = spawn(&Config::default(), Arc::new(Gauges::default()));
        // The connection's task is gone (its outbox receiver dropped) while
        // its last messages are still queued: its welcome cannot be delivered.
        let (outbox, inbox) = mpsc::channel(1);
        drop(inbox);
        let conn = 1;
        let hello = ClientMsg::Hello { version: SIGNAL_VERSION, ring: "r".into(), id: Id::from_u64(1), member: false };
        hub.send(Event::Open { conn, outbox }).await.unwrap();
        hub.send(Event::Msg { conn, msg: hello }).await.unwrap();
        hub.send(Event::Msg { conn, msg: ClientMsg::Member }).await.unwrap();
        hub.send(Event::Gone { conn, protocol_error: false }).await.unwrap();
        let s = stats(&hub).await;
        assert_eq!((s.protocol_errors, s.members, s.rings), (0, 0, 0));
    }
}
