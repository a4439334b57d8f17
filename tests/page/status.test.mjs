// The status line (www/status.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { statusLine } from "../../www/status.js";

const A = "a".repeat(40), B = "b".repeat(40);
const st = (extra = {}) => ({ id: A, ring: "lab", status: "joined", successors: [B], links: [], ...extra });
const page = { left: false, lostRing: false };

test("joined, alone or not", () => {
  assert.deepEqual(statusLine(st(), page), { kind: "ok", text: "Joined ring “lab”." });
  assert.deepEqual(statusLine(st({ successors: [A] }), page),
    { kind: "ok", text: "Joined ring “lab” — this tab is the only peer so far." });
  assert.equal(statusLine(st({ successors: [] }), page).text, "Joined ring “lab” — this tab is the only peer so far.");
});

test("restarting links are mentioned", () => {
  const links = [{ peer: B, state: "restarting" }, { peer: B, state: "open" }];
  assert.deepEqual(statusLine(st({ links }), page),
    { kind: "ok", text: "Joined ring “lab”. Reconnecting 1 link whose network path failed…" });
  assert.match(statusLine(st({ links: [links[0], links[0]] }), page).text, /Reconnecting 2 links/);
});

test("left, lost, and not joined yet", () => {
  assert.equal(statusLine(st(), { ...page, left: true }).kind, "warn");
  assert.equal(statusLine(st({ status: "left" }), page).text, "Left the ring. Reload the page to join again.");
  assert.deepEqual(statusLine(st(), { ...page, lostRing: true }),
    { kind: "error", text: "Lost the ring: none of this tab's successors answers." });
  assert.deepEqual(statusLine(st({ status: "joining" }), page), { kind: "pending", text: "Status: joining…" });
});
