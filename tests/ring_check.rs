//! The one definition of a correct ring (`chord::sim::correct`), on made-up
//! rings: the ideal ring passes, and a ring that breaks exactly one rule is
//! reported for that rule and that node alone.
//!
//! The same cases, with the Rust verdicts, are kept in
//! `tests/fixtures/ring-cases.json`; `tests/e2e/ring-check.test.mjs` runs the
//! browser tests' checker (`tests/e2e/lib/ring.mjs`) over them and must agree.
//! This test fails when the file is not what the Rust checker says; after a
//! deliberate change of the rules, rewrite it with
//! `UPDATE_RING_CASES=1 cargo test --test ring_check` and change ring.mjs to match.

use chord::id::{Id, ID_BITS};
use chord::sim::correct::{problems, View};
use chord::sim::ideal::IdealRing;
use serde_json::{json, Value};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ring-cases.json");

/// One member's snapshot, in the shape of a tab's `state()`.
#[derive(Clone)]
struct State {
    id: Id,
    status: &'static str,
    predecessor: Option<Id>,
    successors: Vec<Id>,
    fingers: Vec<Option<Id>>,
}

impl State {
    fn view(&self, r: usize) -> View<'_> {
        View {
            id: self.id,
            joined: self.status == "joined",
            predecessor: self.predecessor,
            successors: &self.successors,
            fingers: &self.fingers,
            r,
        }
    }

    /// As `state()` gives it: fingers as runs `{ from, to, node }` of known entries.
    fn json(&self) -> Value {
        let mut runs: Vec<Value> = Vec::new();
        let mut i = 0;
        while i < ID_BITS {
            let Some(node) = self.fingers[i] else {
                i += 1;
                continue;
            };
            let from = i;
            while i + 1 < ID_BITS && self.fingers[i + 1] == Some(node) {
                i += 1;
            }
            runs.push(json!({ "from": from, "to": i, "node": node.to_hex() }));
            i += 1;
        }
        json!({
            "id": self.id.to_hex(),
            "status": self.status,
            "predecessor": self.predecessor.map(|p| p.to_hex()),
            "successors": self.successors.iter().map(Id::to_hex).collect::<Vec<_>>(),
            "fingers": runs,
        })
    }
}

/// Every member's ideal snapshot in the ring of `ids`.
fn ideal(ids: &[Id], r: usize) -> Vec<State> {
    let ring = IdealRing::new(ids.to_vec());
    ids.iter()
        .map(|id| {
            let pos = ring.successor_pos(id);
            let n = ring.len();
            State {
                id: *id,
                status: "joined",
                predecessor: (n > 1).then(|| ring.predecessor_of(pos)),
                successors: ring.successors_of(pos, r),
                fingers: (0..ID_BITS).map(|i| if n > 1 { ring.finger(pos, i) } else { None }).collect(),
            }
        })
        .collect()
}

/// Id `k · 2^shift + add`.
fn id(k: u64, shift: usize, add: u64) -> Id {
    let mut x = Id::ZERO;
    for _ in 0..k {
        x = x.wrapping_add(&Id::pow2(shift));
    }
    x.wrapping_add(&Id::from_u64(add))
}

/// A case: its name, the snapshots, and the rule it breaks and at which member (none: correct).
type Case = (String, Vec<State>, Option<(&'static str, usize)>);

/// The cases.
fn cases(r: usize) -> Vec<Case> {
    // Six ids in the lowest eighth of the ring, two of them 3 apart: the
    // lowest node's predecessor is 7/8 of the way round, so its highest
    // fingers wrap back to itself and must be unknown.
    let six = [id(0, 0, 5), id(1, 150, 0), id(1, 150, 3), id(3, 153, 0), id(1, 155, 7), id(1, 157, 0)];
    let base = ideal(&six, r);
    assert!(base[0].fingers[ID_BITS - 1].is_none(), "the case needs a node with fingers that would be itself");
    let mut out = vec![
        ("a correct ring of 6 (node 0 has fingers that would be itself)".to_string(), base.clone(), None),
        ("a correct ring of 1".to_string(), ideal(&[id(7, 140, 0)], r), None),
        ("a correct ring of 2".to_string(), ideal(&[id(0, 0, 9), id(1, 159, 1)], r), None),
        ("a correct ring of 12 (lists of r, not n − 1)".to_string(), ideal(&(1..=12).map(|k| id(k, 155, k)).collect::<Vec<_>>(), r), None),
    ];
    let mut broken = |name: &str, rule: &'static str, node: usize, change: &dyn Fn(&mut State)| {
        let mut s = base.clone();
        change(&mut s[node]);
        out.push((name.to_string(), s, Some((rule, node))));
    };
    broken("a member still joining", "not_joined", 2, &|s| s.status = "joining");
    broken("a predecessor that is not the member before", "predecessor", 3, &|s| s.predecessor = Some(six[1]));
    broken("no predecessor", "predecessor", 4, &|s| s.predecessor = None);
    broken("a successor list out of order", "successors", 1, &|s| s.successors.swap(0, 1));
    broken("a successor list right but one short", "successors", 1, &|s| {
        s.successors.pop();
    });
    broken("a successor list that names a stranger", "successors", 5, &|s| s.successors[2] = id(9, 140, 0));
    broken("one finger pointing at the wrong member", "fingers", 3, &|s| s.fingers[158] = Some(six[1]));
    broken("one finger unknown", "fingers", 4, &|s| s.fingers[0] = None);
    broken("a finger that would be the node itself, set to another member", "fingers", 0, &|s| s.fingers[ID_BITS - 1] = Some(six[1]));
    broken("a finger that names the node itself", "fingers", 0, &|s| s.fingers[ID_BITS - 1] = Some(six[0]));
    out
}

#[test]
fn each_rule_broken_alone_is_reported_alone_and_the_file_agrees() {
    let r = chord::peer::browser_node_config().successors;
    let mut file = Vec::new();
    for (name, states, broken) in cases(r) {
        let views: Vec<View> = states.iter().map(|s| s.view(r)).collect();
        let found = problems(&views);
        let got: Vec<(&str, Id)> = found.iter().map(|p| (p.rule(), p.node())).collect();
        let want: Vec<(&str, Id)> = broken.iter().map(|&(rule, k)| (rule, states[k].id)).collect();
        assert_eq!(got, want, "{name}: {found:?}");
        file.push(json!({
            "name": name,
            "states": states.iter().map(State::json).collect::<Vec<_>>(),
            "problems": got.iter().map(|(rule, node)| json!({ "rule": rule, "node": node.to_hex() })).collect::<Vec<_>>(),
        }));
    }
    let text = serde_json::to_string_pretty(&json!({ "successors": r, "cases": file })).expect("JSON of plain values") + "\n";
    if std::env::var_os("UPDATE_RING_CASES").is_some() {
        std::fs::write(FIXTURE, &text).expect("write the fixture");
    }
    let committed = std::fs::read_to_string(FIXTURE).unwrap_or_default();
    assert!(committed == text, "{FIXTURE} is not what the Rust checker says; see this file's doc to rewrite it");
}
