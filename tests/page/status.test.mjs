// The status line (www/status.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { statusLine, serversText, reconnecting } from "../../www/status.js";

const A = "a".repeat(40), B = "b".repeat(40);
const st = (extra = {}) => ({ id: A, ring: "lab", status: "joined", successors: [B], links: [], ...extra });
const page = { left: false, joinedOnce: true };

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

test("left, and not joined yet", () => {
  assert.equal(statusLine(st(), { ...page, left: true }).kind, "warn");
  assert.equal(statusLine(st({ status: "left" }), page).text, "Left the ring. Reload the page to join again.");
  const first = { left: false, joinedOnce: false };
  assert.deepEqual(statusLine(st({ status: "joining" }), first), { kind: "pending", text: "Status: joining…" });
  assert.equal(reconnecting(st({ status: "joining" }), first), false);
});

test("a lost ring says reconnecting, never joined, until the status is joined again", () => {
  // After every successor went silent the node is idle, then joining (or rescuing) again.
  for (const status of ["idle", "joining"]) {
    const line = statusLine(st({ status, successors: [] }), page);
    assert.equal(line.kind, "warn", status);
    assert.match(line.text, /^Reconnecting: this tab lost the ring/, status);
    assert.doesNotMatch(line.text, /Joined/, status);
    assert.equal(reconnecting(st({ status }), page), true);
  }
  assert.equal(statusLine(st(), page).kind, "ok");
  assert.equal(reconnecting(st(), page), false);
  // A tab that left is not reconnecting, whatever its status says.
  assert.equal(reconnecting(st({ status: "idle" }), { left: true, joinedOnce: true }), false);
});

test("signaling servers: one as before, several each with its state and reconnects", () => {
  const one = { server: "connected", signalingUrl: "ws://a/ws", servers: [{ url: "ws://a/ws", state: "connected", reconnects: 0 }] };
  assert.equal(serversText(one), "connected (ws://a/ws)");
  assert.equal(serversText({ ...one, servers: [{ ...one.servers[0], reconnects: 2 }] }), "connected (ws://a/ws, 2 reconnects)");
  assert.equal(serversText({ server: "closed", signalingUrl: null, servers: [{ url: "ws://a/ws", state: "closed", reconnects: 1 }] }),
    "closed — the ring keeps working without it (ws://a/ws, 1 reconnect)");
  const two = {
    server: "connected", signalingUrl: "ws://b/ws",
    servers: [{ url: "ws://a/ws", state: "connecting", reconnects: 3 }, { url: "ws://b/ws", state: "connected", reconnects: 0 }],
  };
  assert.equal(serversText(two), "1 of 2 connected: ws://a/ws connecting…, 3 reconnects; ws://b/ws connected");
});
