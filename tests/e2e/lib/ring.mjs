// What a correct Chord ring looks like, checked against the peers' `state()` snapshots.

import { createHash } from 'node:crypto';

/** Bits of an id. */
export const ID_BITS = 160;
const MOD = 1n << BigInt(ID_BITS);

/** An id as a BigInt. */
export const big = (hex) => BigInt(`0x${hex}`);
/** A BigInt as 40 lowercase hex digits. */
export const hex = (n) => n.toString(16).padStart(ID_BITS / 4, '0');
/** The first 8 hex digits, for messages. */
export const short = (id) => (id == null ? String(id) : String(id).slice(0, 8));
/** SHA-1 of a name's UTF-8 bytes: the key it is stored under. */
export const keyOf = (name) => createHash('sha1').update(name, 'utf8').digest('hex');

/**
 * The successor function of the ring made of `ids`: the first id at or after a key, clockwise.
 * @param {string[]} ids
 * @returns {(key: bigint) => string}
 */
export function successorOf(ids) {
  const sorted = ids.map(big).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return (key) => {
    const k = ((key % MOD) + MOD) % MOD;
    for (const id of sorted) if (id >= k) return hex(id);
    return hex(sorted[0]);
  };
}

/**
 * Every way the snapshots differ from the ideal ring of their ids (empty when the ring is correct):
 * status `joined`, the ring name, predecessor, the first min(n-1, len) successors, and every
 * finger i (= successor(id + 2^i)). A finger that would be the node itself is not stored (the
 * core's FingerTable leaves it unknown), so a listed finger must never be the node itself; with
 * `allFingers` every other finger must be known.
 *
 * Fingers whose ideal value is the node itself ("self fingers"): with `strictSelfFingers` (the
 * default) they must be unknown — fix_fingers clears them when a lookup answers "yourself"; with
 * `strictSelfFingers: false` any live node there is accepted, as the simulator's convergence
 * check does (src/sim/invariants.rs compares only fingers whose ideal is another node).
 *
 * @param {Array<{ id: string, ring?: string, status?: string, predecessor: string | null,
 *   successors: string[], fingers: Array<{ from: number, to: number, node: string }> }>} states
 * @param {{ ring?: string, fingers?: boolean, allFingers?: boolean, strictSelfFingers?: boolean }} [opts]
 * @returns {string[]}
 */
export function ringProblems(states, { ring, fingers = true, allFingers = true, strictSelfFingers = true } = {}) {
  const problems = [];
  const n = states.length;
  const ids = states.map((s) => String(s.id).toLowerCase());
  if (new Set(ids).size !== n) problems.push(`duplicate ids: ${ids.join(' ')}`);
  for (const id of ids) if (!/^[0-9a-f]{40}$/.test(id)) problems.push(`malformed id ${JSON.stringify(id)}`);
  if (problems.length) return problems;
  const order = [...ids].sort((a, b) => (big(a) < big(b) ? -1 : 1));
  const succ = successorOf(ids);
  const lc = (x) => (x == null ? x : String(x).toLowerCase());
  for (const s of states) {
    const id = lc(s.id);
    const me = short(id);
    const k = order.indexOf(id);
    if (s.status !== undefined && s.status !== 'joined') problems.push(`${me}: status ${s.status}`);
    if (ring !== undefined && s.ring !== undefined && s.ring !== ring) problems.push(`${me}: ring ${s.ring}, want ${ring}`);
    if (n === 1) continue;
    const pred = order[(k - 1 + n) % n];
    if (lc(s.predecessor) !== pred) problems.push(`${me}: predecessor ${short(s.predecessor)}, want ${short(pred)}`);
    const list = (s.successors ?? []).map(lc);
    if (list.length === 0) problems.push(`${me}: empty successor list, want ${short(order[(k + 1) % n])} first`);
    for (let j = 0; j < Math.min(n - 1, list.length); j++) {
      const want = order[(k + 1 + j) % n];
      if (list[j] !== want) {
        problems.push(`${me}: successors[${j}] ${short(list[j])}, want ${short(want)} (list ${list.map(short).join(',')})`);
        break;
      }
    }
    if (!fingers) continue;
    const known = new Array(ID_BITS).fill(false);
    for (const run of s.fingers ?? []) {
      if (!(Number.isInteger(run.from) && Number.isInteger(run.to) && run.from >= 0 && run.from <= run.to && run.to < ID_BITS)) {
        problems.push(`${me}: malformed finger run ${JSON.stringify(run)}`);
        continue;
      }
      if (lc(run.node) === id) {
        problems.push(`${me}: fingers ${run.from}..${run.to} list the node itself`);
        continue;
      }
      for (let i = run.from; i <= run.to; i++) {
        if (known[i]) problems.push(`${me}: finger ${i} listed twice`);
        known[i] = true;
        const want = succ(big(id) + (1n << BigInt(i)));
        if (want === id && !strictSelfFingers) {
          if (!ids.includes(lc(run.node))) {
            problems.push(`${me}: finger ${i} (run ${run.from}..${run.to}) is ${short(run.node)}, not a member`);
            break;
          }
          continue;
        }
        if (lc(run.node) !== want) {
          problems.push(`${me}: finger ${i} (run ${run.from}..${run.to}) is ${short(run.node)}, want ${short(want)}`);
          break;
        }
      }
    }
    if (allFingers) {
      const missing = known.flatMap((k, i) => (k || succ(big(id) + (1n << BigInt(i))) === id ? [] : [i]));
      if (missing.length) problems.push(`${me}: ${missing.length} fingers unknown (first ${missing[0]})`);
    }
  }
  return problems;
}
