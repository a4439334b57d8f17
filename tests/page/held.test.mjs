// The "Held in this tab" order and summary (www/held.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { sortHeld, heldSummary } from "../../www/held.js";

const rec = (name, role, extra = {}) => ({ key: (name || "k").padEnd(40, "0"), name, role, size: 10, complete: true, ...extra });

test("primaries first, then replicas, then the rest; by name, unnamed last", () => {
  const list = [rec("b", "replica"), rec("", "primary"), rec("z", "other"), rec("a", "primary"), rec("a", "replica")];
  assert.deepEqual(sortHeld(list).map((r) => `${r.role}:${r.name}`), ["primary:a", "primary:", "replica:a", "replica:b", "other:z"]);
});

test("the summary counts values, bytes and the ones still arriving", () => {
  assert.equal(heldSummary([]), "");
  assert.equal(heldSummary([rec("a", "primary")]), "1 value, 10 bytes in all; every byte is here.");
  assert.equal(heldSummary([rec("a", "primary", { size: 2000 }), rec("b", "replica", { complete: false, size: 0 })]),
    "2 values, 2.0 KB in all; 1 still arriving.");
});
