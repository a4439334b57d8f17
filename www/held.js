// The "Held in this tab" table from `state().records`: its order and its summary line. Pure: no
// DOM, no peer (tests/page/held.test.mjs).

import { size, plural } from "./format.js";

/** @typedef {import("./pkg/chord.js").HeldRecord} HeldRecord */

const ROLE_ORDER = { primary: 0, replica: 1, other: 2 };

/** Primaries, then replicas, then the rest; by name (unnamed last), then key. @param {HeldRecord[]} records */
export function sortHeld(records) {
  return [...records].sort((a, b) =>
    (ROLE_ORDER[a.role] ?? 3) - (ROLE_ORDER[b.role] ?? 3) ||
    (a.name || "\uffff").localeCompare(b.name || "\uffff") || a.key.localeCompare(b.key));
}

/** "3 values, 1.2 MB in all; 1 still arriving." ("" for none). @param {HeldRecord[]} records */
export function heldSummary(records) {
  if (records.length === 0) return "";
  const total = records.reduce((n, r) => n + (r.size || 0), 0);
  const incomplete = records.filter((r) => !r.complete).length;
  return `${plural(records.length, "value")}, ${size(total)} in all` +
    (incomplete ? `; ${incomplete} still arriving` : "; every byte is here") + ".";
}
