// The ring checker of lib/ring.mjs, on made-up rings (no browser needed).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { big, hex, ID_BITS, keyOf, ringProblems, successorOf } from './lib/ring.mjs';

/** The snapshots of an ideal ring of `ids`, fingers run-length encoded like the peer's. */
function idealStates(ids, succLen = 4) {
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

  it('catches a wrong predecessor, successor, finger, missing fingers and a non-joined node', () => {
    const ids = Array.from({ length: 5 }, randomId);
    const base = () => structuredClone(idealStates(ids));
    let s = base();
    s[0].predecessor = s[0].id;
    assert.match(ringProblems(s).join('\n'), /predecessor/);
    s = base();
    s[1].successors = [...s[1].successors].reverse();
    assert.match(ringProblems(s).join('\n'), /successors\[0\]/);
    s = base();
    const run = s[2].fingers.at(-1);
    run.node = s[2].fingers.find((f) => f.node !== run.node)?.node ?? s[2].id;
    assert.match(ringProblems(s).join('\n'), /finger/);
    s = base();
    s[3].fingers = s[3].fingers.slice(1);
    assert.match(ringProblems(s).join('\n'), /fingers unknown/);
    assert.deepEqual(ringProblems(s, { allFingers: false }), []);
    s = base();
    s[4].status = 'joining';
    assert.match(ringProblems(s).join('\n'), /status joining/);
    s = base();
    s[4].successors = [];
    assert.match(ringProblems(s).join('\n'), /empty successor list/);
  });

  it('a finger that would be the node itself is unknown, never listed', () => {
    // Ring {0, 1}: node 0's finger 0 is 1; all its others wrap round to 0 itself.
    const ids = [hex(0n), hex(1n)];
    const s = idealStates(ids);
    assert.deepEqual(s[0].fingers, [{ from: 0, to: 0, node: ids[1] }]);
    assert.deepEqual(ringProblems(s), []);
    s[0].fingers = [{ from: 0, to: 0, node: ids[1] }, { from: 1, to: 159, node: ids[0] }];
    assert.match(ringProblems(s).join('\n'), /fingers 1\.\.159 list the node itself/);
    // Another member where the ideal is the node itself: wrong (the default), tolerated only
    // when asked (like the simulator's check).
    s[0].fingers = [{ from: 0, to: 159, node: ids[1] }];
    assert.match(ringProblems(s).join('\n'), /finger 1 .* want 0000/);
    assert.deepEqual(ringProblems(s, { strictSelfFingers: false }), []);
    s[0].fingers = [{ from: 0, to: 0, node: ids[1] }, { from: 1, to: 159, node: hex(7n) }];
    assert.match(ringProblems(s, { strictSelfFingers: false }).join('\n'), /finger 1 .* not a member/);
    s[0].fingers = [];
    assert.match(ringProblems(s).join('\n'), /1 fingers unknown \(first 0\)/);
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
