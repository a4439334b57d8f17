//! What "the ring is correct" means, defined once.
//!
//! A ring of members is correct when every member is joined and, compared
//! with the ideal ring over the members' ids ([`IdealRing`]):
//! * its predecessor is the member before it (any, in a ring of one);
//! * its successor list is the next `min(r, n − 1)` members in order, in full
//!   (a list that is right but too short is wrong: the ring would survive
//!   fewer failures than the configuration promises);
//! * every finger `i` is the member that succeeds `id + 2^i`, and a finger
//!   whose ideal is the node itself is unknown (the core's fix-fingers
//!   clears it when a lookup answers "yourself"; a table never holds its own
//!   node).
//!
//! The simulator's convergence check ([`super::invariants::convergence`])
//! and the Rust peer test world call [`problems`]; the browser tests'
//! checker (`tests/e2e/lib/ring.mjs`, `ringProblems`) is a JavaScript copy of
//! the same rules over `state()` snapshots. Both are run over the same
//! made-up rings in `tests/fixtures/ring-cases.json` (one correct ring and
//! one case per rule that breaks just that rule), so they cannot drift apart:
//! `tests/ring_check.rs` and `tests/e2e/ring-check.test.mjs`.

use super::ideal::IdealRing;
use crate::finger::FingerTable;
use crate::id::{Id, ID_BITS};
use crate::node::{Node, Status};
use serde::Serialize;

/// One member's pointers, as the checker reads them.
#[derive(Clone, Copy)]
pub struct View<'a> {
    /// The member's id.
    pub id: Id,
    /// Whether its status is `Joined`.
    pub joined: bool,
    /// Its predecessor.
    pub predecessor: Option<Id>,
    /// Its successor list, nearest first.
    pub successors: &'a [Id],
    /// Its finger table (a [`FingerTable`], or one entry per index).
    pub fingers: &'a dyn Fingers,
    /// The successor list length it is configured for (r).
    pub r: usize,
}

impl<'a> View<'a> {
    /// The pointers of a node.
    pub fn of(node: &'a Node) -> View<'a> {
        View {
            id: node.id(),
            joined: node.status() == Status::Joined,
            predecessor: node.predecessor(),
            successors: node.successors(),
            fingers: node.fingers(),
            r: node.config().successors,
        }
    }
}

/// Finger `i` of a table, if known.
pub trait Fingers {
    /// Finger `i` (0..160), if known.
    fn finger(&self, i: usize) -> Option<Id>;
}

impl Fingers for FingerTable {
    fn finger(&self, i: usize) -> Option<Id> {
        self.get(i)
    }
}

/// One entry per finger index (a snapshot read back from JSON, say).
impl Fingers for Vec<Option<Id>> {
    fn finger(&self, i: usize) -> Option<Id> {
        self.get(i).copied().flatten()
    }
}

/// One way a member differs from the ideal ring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Problem {
    /// The member is not joined (still joining, rejoining, or left).
    NotJoined {
        /// The member.
        node: Id,
    },
    /// Its predecessor is not the member before it.
    Predecessor {
        /// The member.
        node: Id,
        /// What it has.
        has: Option<Id>,
        /// The member before it.
        want: Id,
    },
    /// Its successor list is not the next `min(r, n − 1)` members.
    Successors {
        /// The member.
        node: Id,
        /// What it has.
        has: Vec<Id>,
        /// The next members.
        want: Vec<Id>,
    },
    /// Some fingers are wrong, unknown, or set where the ideal is the node itself.
    Fingers {
        /// The member.
        node: Id,
        /// How many of the 160 are wrong.
        wrong: usize,
        /// The lowest wrong index.
        first: usize,
    },
}

impl Problem {
    /// The rule broken, as the JavaScript checker names it.
    pub fn rule(&self) -> &'static str {
        match self {
            Problem::NotJoined { .. } => "not_joined",
            Problem::Predecessor { .. } => "predecessor",
            Problem::Successors { .. } => "successors",
            Problem::Fingers { .. } => "fingers",
        }
    }

    /// The member it is about.
    pub fn node(&self) -> Id {
        match self {
            Problem::NotJoined { node }
            | Problem::Predecessor { node, .. }
            | Problem::Successors { node, .. }
            | Problem::Fingers { node, .. } => *node,
        }
    }
}

/// Every way the members differ from the ideal ring over their own ids
/// (empty when the ring is correct). A member that is not joined is
/// reported as that alone.
pub fn problems(members: &[View<'_>]) -> Vec<Problem> {
    let ring = IdealRing::new(members.iter().map(|v| v.id).collect());
    let mut out = Vec::new();
    for v in members {
        member_problems(&ring, v, &mut out);
    }
    out
}

/// The problems of one member of `ring` (which must hold its id).
pub fn member_problems(ring: &IdealRing, v: &View<'_>, out: &mut Vec<Problem>) {
    if !v.joined {
        out.push(Problem::NotJoined { node: v.id });
        return;
    }
    let pos = ring.successor_pos(&v.id);
    if ring.len() > 1 {
        let want = ring.predecessor_of(pos);
        if v.predecessor != Some(want) {
            out.push(Problem::Predecessor { node: v.id, has: v.predecessor, want });
        }
    }
    let want = ring.successors_of(pos, v.r);
    if v.successors != want.as_slice() {
        out.push(Problem::Successors { node: v.id, has: v.successors.to_vec(), want });
    }
    if let Some((wrong, first)) = wrong_fingers(ring, pos, v.fingers) {
        out.push(Problem::Fingers { node: v.id, wrong, first });
    }
}

/// How many fingers of the node at `pos` differ from the ideal, and the lowest such index.
fn wrong_fingers(ring: &IdealRing, pos: usize, table: &dyn Fingers) -> Option<(usize, usize)> {
    let own = ring.ids()[pos];
    let (mut wrong, mut first) = (0, None);
    let mut count = |i: usize| {
        wrong += 1;
        first.get_or_insert(i);
    };
    if ring.len() < 2 {
        for i in (0..ID_BITS).filter(|&i| table.finger(i).is_some()) {
            count(i);
        }
    } else {
        // Fingers whose start lies before the first successor all point at
        // it (the shortcut keeps the check fast on rings of 2^20 nodes).
        let succ = ring.successors_of(pos, 1)[0];
        let first_beyond = own.distance(&succ).bit_len();
        for i in 0..ID_BITS {
            let want = if i < first_beyond { Some(succ) } else { ring.finger(pos, i) };
            if table.finger(i) != want {
                count(i);
            }
        }
    }
    first.map(|f| (wrong, f))
}
