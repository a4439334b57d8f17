// The ring checker of lib/ring.mjs, on made-up rings (no browser needed): the same verdicts as the
// Rust definition (src/sim/correct.rs) on the shared cases of tests/fixtures/ring-cases.json.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { big, hex, ID_BITS, keyOf, ringProblems, ringViolations, successorOf, SUCCESSORS } from './lib/ring.mjs';

const CASES = JSON.parse(readFileSync(new URL('../fixtures/ring-cases.json', import.meta.url), 'utf8'));

/** The snapshots of an ideal ring of `ids`, fingers run-length encoded like the peer's. */
function idealStates(ids, succLen = Math.min(SUCCESSORS, ids.length - 1)) {
  const order = [...ids].sort((a, b) => (big(a) < big(b) ? -1 : 1));
  const succ = successorOf(ids);
  return ids.map((id) => {
    const k = order.indexOf(id);
    const fingers = [];
    for (let i = 0; i < ID_BITS; i++) {
      const node = succ(big(id) + (1n << BigInt(i)));
      if (node === id) continue; // a node is never its own finger: left unknown
      const last = fingers.at(-1);
      if (last && last.node === node && last.to === i - 1) last.to = i;
      else fingers.push({ from: i, to: i, node });
    }
    return {
      id,
      ring: 'r',
      status: 'joined',
      predecessor: order[(k - 1 + ids.length) % ids.length],
      successors: Array.from({ length: succLen }, (_, j) => order[(k + 1 + j) % ids.length]),
      fingers,
    };
  });
}

const randomId = () => randomBytes(20).toString('hex');

describe('ringProblems', () => {
  it('accepts ideal rings of 1 to 9 nodes, and ids near 0 and 2^160 - 1', () => {
    for (let n = 1; n <= 9; n++) {
      const ids = Array.from({ length: n }, randomId);
      assert.deepEqual(ringProblems(idealStates(ids), { ring: 'r' }), [], `n = ${n}`);
    }
    const edge = [hex(0n), hex(1n), hex((1n << 160n) - 1n), hex(1n << 159n)];
    assert.deepEqual(ringProblems(idealStates(edge)), []);
  });

  it('agrees with the Rust checker on every shared case (tests/fixtures/ring-cases.json)', () => {
    assert.equal(SUCCESSORS, CASES.successors, 'r of a tab, as the Rust side has it');
    assert.ok(CASES.cases.length >= 10);
    for (const c of CASES.cases) {
      const got = ringViolations(c.states).map(({ rule, node }) => ({ rule, node }));
      assert.deepEqual(got, c.problems, c.name);
    }
  });

  it('a right but short successor list is wrong; with fingers: false only fingers are skipped', () => {
    const ids = Array.from({ length: 5 }, randomId);
    const s = idealStates(ids);
    s[1].successors.pop();
    assert.match(ringProblems(s).join('\n'), /successors/);
    s[1].successors = idealStates(ids)[1].successors;
    s[2].fingers = [];
    assert.match(ringProblems(s).join('\n'), /fingers wrong/);
    assert.deepEqual(ringProblems(s, { fingers: false }), []);
  });

  it('checks the snapshots themselves and the ring name', () => {
    const ids = Array.from({ length: 3 }, randomId);
    let s = idealStates(ids);
    assert.deepEqual(ringViolations(s, { ring: 'other' }).map((p) => p.rule), ['ring', 'ring', 'ring']);
    s[1].id = s[0].id;
    assert.match(ringProblems(s).join('\n'), /duplicate ids/);
    s = idealStates(ids);
    s[0].fingers.push({ from: 3, to: 2, node: ids[1] });
    assert.match(ringProblems(s).join('\n'), /malformed finger run/);
  });

  it('finger i is the successor of id + 2^i, wrapping at 2^160', () => {
    const ids = [hex((1n << 160n) - 2n), hex(5n)];
    const succ = successorOf(ids);
    assert.equal(succ(big(ids[0])), ids[0]); // a key equal to an id is that node's
    assert.equal(succ(big(ids[0]) + 1n), ids[1]); // 2^160 - 1: past the last id, wraps to 5
    assert.equal(succ(big(ids[0]) + 2n), ids[1]); // 2^160 = 0 (mod 2^160), whose successor is 5
    assert.equal(succ(6n), ids[0]);
  });

  it('keys are the SHA-1 of the UTF-8 name', () => {
    assert.equal(keyOf('abc'), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  });
});
