// Links and NAT traversal → table rows and sentences (www/links.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  pathLabel, rttLabel, maxMessageLabel, linkRows, linkCounts, connectionsText, iceUrls, iceLabel, linkProblemsText, linkEventLine,
  FAILURE_WORDS,
} from "../../www/links.js";

const id = (prefix) => prefix.padEnd(40, "0");
const link = (peer, state = "open", extra = {}) =>
  ({ peer, state, via: "ring", wanted: true, candidates: null, rttMs: null, ...extra });
const state = (extra = {}) => ({
  id: id("4"), ring: "default", status: "joined", predecessor: null, successors: [], fingers: [],
  links: [], connectionsCreated: 0, signalsForwarded: 0, ...extra,
});

test("path: direct unless either end is a TURN relay; unknown until connected", () => {
  assert.equal(pathLabel({ local: "host", remote: "host" }).text, "direct");
  assert.equal(pathLabel({ local: "srflx", remote: "prflx" }).text, "direct");
  assert.equal(pathLabel({ local: "relay", remote: "host" }).text, "relayed (TURN)");
  assert.equal(pathLabel({ local: "srflx", remote: "relay" }).text, "relayed (TURN)");
  assert.equal(pathLabel({ local: "relay", remote: "relay" }).relayed, true);
  for (const c of [null, undefined, {}, { local: "host" }]) {
    assert.deepEqual([pathLabel(c).text, pathLabel(c).relayed], ["—", null], JSON.stringify(c));
  }
});

test("path tooltip names both ends", () => {
  const t = pathLabel({ local: "relay", remote: "srflx" }).title;
  assert.match(t, /This tab: a TURN relay \(relay\)/);
  assert.match(t, /the peer: its public address \(seen by STUN\) \(srflx\)/);
});

test("rtt in whole ms, <1 ms on loopback, — while unknown", () => {
  assert.equal(rttLabel(12.4), "12 ms");
  assert.equal(rttLabel(0.3), "<1 ms");
  assert.equal(rttLabel(0), "<1 ms");
  for (const v of [null, undefined, NaN, -1, "5"]) assert.equal(rttLabel(v), "—", String(v));
});

test("max message size in binary units, no limit for 0, — while unknown", () => {
  assert.equal(maxMessageLabel(262144), "256 KiB");
  assert.equal(maxMessageLabel(1073741823), "1 GiB");
  assert.equal(maxMessageLabel(65536), "64 KiB");
  assert.equal(maxMessageLabel(1000), "1000 B");
  assert.equal(maxMessageLabel(0), "no limit");
  for (const v of [null, undefined, NaN, -1, "5", Infinity]) assert.equal(maxMessageLabel(v), "—", String(v));
});

test("rows: clockwise from this tab, with state, path, rtt, max message, via, wanted", () => {
  const st = state({
    links: [
      link(id("2"), "restarting", { candidates: { local: "host", remote: "host" }, rttMs: 3, maxMessageSize: 1073741823 }),
      link(id("8"), "open", { candidates: { local: "relay", remote: "host" }, rttMs: 41.6, via: "server", wanted: false, maxMessageSize: 262144 }),
      link(id("5"), "connecting", { maxMessageSize: null }),
    ],
  });
  const rows = linkRows(st);
  assert.deepEqual(rows.map((r) => r.peer), [id("5"), id("8"), id("2")], "5 then 8 then round to 2");
  assert.deepEqual(rows.map((r) => [r.state, r.path, r.rtt, r.maxMessage, r.via, r.wanted]), [
    ["connecting", "—", "—", "—", "ring", "yes"],
    ["open", "relayed (TURN)", "42 ms", "256 KiB", "server", "no"],
    ["restarting", "direct", "3 ms", "1 GiB", "ring", "yes"],
  ]);
  assert.match(rows[2].stateTitle, /ICE restart/);
});

test("rows from a peer that does not report candidates or rtt", () => {
  const rows = linkRows(state({ links: [{ peer: id("9"), state: "open", via: "ring", wanted: true }] }));
  assert.equal(rows[0].path, "—");
  assert.equal(rows[0].rtt, "—");
  assert.equal(rows[0].maxMessage, "—");
});

test("counts and the Connections line", () => {
  const links = [
    link(id("1"), "open", { candidates: { local: "relay", remote: "host" } }),
    link(id("2"), "open", { candidates: { local: "host", remote: "host" } }),
    link(id("3"), "connecting"),
    link(id("5"), "restarting", { candidates: { local: "relay", remote: "relay" } }),
  ];
  assert.deepEqual(linkCounts(links), { open: 2, connecting: 1, restarting: 1, relayed: 1 });
  assert.equal(connectionsText(state({ links, connectionsCreated: 7, signalsForwarded: 2 })),
    "2 open (1 relayed through TURN), 1 connecting, 1 restarting; 7 created in total; 2 signals forwarded");
  assert.equal(connectionsText(state({ links: [link(id("1"))], connectionsCreated: 1 })),
    "1 open, 0 connecting; 1 created in total; 0 signals forwarded", "as before when nothing is relayed or restarting");
});

test("iceUrls takes only the URLs, never credentials", () => {
  const servers = [
    { urls: ["stun:s.example:3478"], username: "u", credential: "secret" },
    { urls: "turn:t.example:3478?transport=udp", credential: "secret" },
    { urls: [] }, null, { nothing: 1 },
  ];
  assert.deepEqual(iceUrls(servers), ["stun:s.example:3478", "turn:t.example:3478?transport=udp"]);
  assert.deepEqual(iceUrls(undefined), []);
});

test("ICE line: servers in use, where from, the policy", () => {
  const ice = { servers: [{ urls: ["stun:s:3478"] }, { urls: ["turn:t:3478", "turns:t:5349"] }], policy: "all", source: "server", refreshes: 0 };
  const l = iceLabel(ice);
  assert.equal(l.text, "stun:s:3478, turn:t:3478, turns:t:5349 (from the signaling server); policy: direct or relayed, whichever works");
  assert.equal(l.kind, "ok");
  assert.doesNotMatch(JSON.stringify(iceLabel({ ...ice, servers: [{ urls: ["turn:t"], credential: "pw" }] })), /pw/);
  assert.equal(iceLabel({ ...ice, source: "options", policy: "relay", refreshes: 2 }).text,
    "stun:s:3478, turn:t:3478, turns:t:5349 (set by this page, credentials refreshed 2 times); policy: relay only (every link through TURN)");
  assert.match(iceLabel({ ...ice, refreshes: 1 }).text, /refreshed 1 time\);/);
  assert.equal(iceLabel({ ...ice, source: "none" }).text, "stun:s:3478, turn:t:3478, turns:t:5349; policy: direct or relayed, whichever works");
});

test("ICE line: none, and the hopeless relay-only cases", () => {
  assert.deepEqual([iceLabel({ servers: [], policy: "all", source: "none", refreshes: 0 }).text,
    iceLabel({ servers: [], policy: "all", source: "none", refreshes: 0 }).kind], ["none (local network only)", "ok"]);
  const noTurn = iceLabel({ servers: [], policy: "relay", source: "none", refreshes: 0 });
  assert.equal(noTurn.kind, "warn");
  assert.match(noTurn.text, /^none, but .*no link can be made without a TURN server/);
  assert.equal(iceLabel({ servers: [{ urls: ["stun:s"] }], policy: "relay", source: "server", refreshes: 0 }).kind, "warn",
    "relay-only with STUN but no TURN");
  assert.equal(iceLabel(undefined).text, "—", "a peer that does not report it");
});

test("link problems: failures by reason, restarts by outcome", () => {
  const none = { noCandidates: 0, noPath: 0, timeout: 0, refused: 0, unreachable: 0 };
  const noRestarts = { started: 0, succeeded: 0, failed: 0 };
  assert.equal(linkProblemsText(state()), "", "not reported");
  assert.equal(linkProblemsText(state({ linkFailures: none, iceRestarts: noRestarts })), "none");
  assert.equal(linkProblemsText(state({ linkFailures: { ...none, noPath: 1 }, iceRestarts: noRestarts })),
    "1 link failed (1 no network path)");
  assert.equal(linkProblemsText(state({
    linkFailures: { noCandidates: 1, noPath: 2, timeout: 1, refused: 3 },
    iceRestarts: { started: 4, succeeded: 2, failed: 1 },
  })), "7 links failed (1 no network address gathered, 2 no network path, 1 timed out, 3 refused by a full peer); " +
    "4 ICE restarts (2 recovered, 1 failed, 1 under way)");
  assert.equal(linkProblemsText(state({ linkFailures: { ...none, unreachable: 2 }, iceRestarts: noRestarts })),
    "2 links failed (2 not reachable through the ring)");
  assert.equal(linkProblemsText(state({ linkFailures: { ...none, messageLimit: 1 }, iceRestarts: noRestarts })),
    "1 link failed (1 accepting too small messages)");
  assert.equal(linkProblemsText(state({ linkFailures: { ...none, budget: 3 }, iceRestarts: noRestarts })),
    "3 links failed (3 not tried, over the budget of links outside the ring tables)");
  assert.equal(linkProblemsText(state({ linkFailures: none, iceRestarts: { started: 1, succeeded: 1, failed: 0 } })),
    "1 ICE restart (1 recovered)");
});

test("events in words, with the peer's id where it goes", () => {
  assert.deepEqual(linkEventLine({ type: "link_restarting", peer: "p" }),
    { kind: "warn", parts: ["The network path to ", { peer: "p" }, " failed; trying to reconnect (ICE restart)"] });
  for (const reason of ["no_candidates", "no_path", "timeout", "refused", "unreachable", "message_limit", "budget"]) {
    const line = linkEventLine({ type: "link_failed", peer: "p", reason });
    assert.equal(line.kind, "warn");
    assert.deepEqual(line.parts, ["Could not link to ", { peer: "p" }, `: ${FAILURE_WORDS[reason]}`]);
    assert.doesNotMatch(line.parts[2], /_/, "no raw reason codes");
  }
  assert.match(linkEventLine({ type: "link_failed", peer: "p", reason: "no_path" }).parts[2], /TURN server may be needed/);
  assert.deepEqual(linkEventLine({ type: "ice_servers", servers: [{ urls: ["turn:t:3478"] }] }),
    { kind: "info", parts: ["Fresh TURN credentials from the signaling server (turn:t:3478)"] });
  assert.match(linkEventLine({ type: "ice_servers", servers: [] }).parts[0], /no STUN\/TURN servers/);
  assert.equal(linkEventLine({ type: "link_open", peer: "p", via: "ring" }), null, "other events are app.js's");
});
