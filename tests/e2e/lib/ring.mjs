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

/** The successor list length r of a tab (`browser_node_config()` in src/peer/mod.rs; checked
 *  against the Rust side by the shared cases in tests/fixtures/ring-cases.json). */
export const SUCCESSORS = 8;

/**
 * Every way the snapshots differ from the ideal ring of their ids (empty when the ring is correct),
 * by the rules of src/sim/correct.rs, the one definition of a correct ring that the simulator and
 * the Rust test world use (tests/fixtures/ring-cases.json holds cases both checkers must agree on):
 * - `not_joined`: status is not `joined` (reported alone for that node);
 * - `predecessor`: the predecessor is not the member before it;
 * - `successors`: the list is not the next min(r, n − 1) members in full (a right but short list
 *   is wrong);
 * - `fingers`: finger i is not successor(id + 2^i); a finger whose ideal is the node itself must be
 *   unknown (fix_fingers clears it; a table never holds its own node).
 * Beyond those rules, the snapshots themselves are checked (`snapshot`: duplicate or malformed
 * ids, malformed finger runs, a finger listed twice) and, with `ring`, the ring name (`ring`).
 * With `fingers: false` the fingers are not checked (for tests of how fast the successor
 * pointers are repaired).
 *
 * @param {Array<{ id: string, ring?: string, status?: string, predecessor: string | null,
 *   successors: string[], fingers: Array<{ from: number, to: number, node: string }> }>} states
 * @param {{ ring?: string, fingers?: boolean, successors?: number }} [opts]
 * @returns {Array<{ rule: string, node: string | null, text: string }>}
 */
export function ringViolations(states, { ring, fingers = true, successors = SUCCESSORS } = {}) {
  const problems = [];
  const add = (rule, node, text) => problems.push({ rule, node, text });
  const n = states.length;
  const ids = states.map((s) => String(s.id).toLowerCase());
  if (new Set(ids).size !== n) add('snapshot', null, `duplicate ids: ${ids.join(' ')}`);
  for (const id of ids) if (!/^[0-9a-f]{40}$/.test(id)) add('snapshot', id, `malformed id ${JSON.stringify(id)}`);
  if (problems.length) return problems;
  const order = [...ids].sort((a, b) => (big(a) < big(b) ? -1 : 1));
  const succ = successorOf(ids);
  const lc = (x) => (x == null ? x : String(x).toLowerCase());
  for (const s of states) {
    const id = lc(s.id);
    const me = short(id);
    const k = order.indexOf(id);
    if (ring !== undefined && s.ring !== undefined && s.ring !== ring) add('ring', id, `${me}: ring ${s.ring}, want ${ring}`);
    if (s.status !== undefined && s.status !== 'joined') {
      add('not_joined', id, `${me}: status ${s.status}`);
      continue;
    }
    if (n > 1) {
      const pred = order[(k - 1 + n) % n];
      if (lc(s.predecessor) !== pred) add('predecessor', id, `${me}: predecessor ${short(s.predecessor)}, want ${short(pred)}`);
    }
    const list = (s.successors ?? []).map(lc);
    const want = Array.from({ length: Math.min(successors, n - 1) }, (_, j) => order[(k + 1 + j) % n]);
    if (list.length !== want.length || list.some((x, j) => x !== want[j])) {
      add('successors', id, `${me}: successors ${list.map(short).join(',') || '(none)'}, want ${want.map(short).join(',') || '(none)'}`);
    }
    if (!fingers) continue;
    // The finger each index has (null: unknown), from the run-length encoded table.
    const table = new Array(ID_BITS).fill(null);
    for (const run of s.fingers ?? []) {
      if (!(Number.isInteger(run.from) && Number.isInteger(run.to) && run.from >= 0 && run.from <= run.to && run.to < ID_BITS)) {
        add('snapshot', id, `${me}: malformed finger run ${JSON.stringify(run)}`);
        continue;
      }
      for (let i = run.from; i <= run.to; i++) {
        if (table[i] !== null) add('snapshot', id, `${me}: finger ${i} listed twice`);
        table[i] = lc(run.node);
      }
    }
    const wrong = [];
    for (let i = 0; i < ID_BITS; i++) {
      const ideal = n > 1 ? succ(big(id) + (1n << BigInt(i))) : id;
      const want = ideal === id ? null : ideal;
      if (table[i] !== want) wrong.push(i);
    }
    if (wrong.length) {
      const i = wrong[0];
      const ideal = n > 1 ? succ(big(id) + (1n << BigInt(i))) : id;
      const want = ideal === id ? 'unknown (itself)' : short(ideal);
      add('fingers', id, `${me}: ${wrong.length} fingers wrong, first ${i}: ${table[i] === null ? 'unknown' : short(table[i])}, want ${want}`);
    }
  }
  return problems;
}

/**
 * [`ringViolations`], as one line of text each (empty when the ring is correct).
 * @param {Parameters<typeof ringViolations>[0]} states
 * @param {Parameters<typeof ringViolations>[1]} [opts]
 * @returns {string[]}
 */
export function ringProblems(states, opts) {
  return ringViolations(states, opts).map((p) => p.text);
}

/** A name `base №k` whose key's successor (its primary) in the ring of `ids` is `holder`. */
export function nameHeldBy(base, holder, ids) {
  const succ = successorOf(ids);
  for (let k = 1; ; k++) {
    const name = `${base} №${k}`;
    if (succ(big(keyOf(name))) === holder) return name;
  }
}
