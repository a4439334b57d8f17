// URL parameters → ChordPeer.join options (www/params.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { pageOptions, serversText } from "../../www/params.js";

const http = { protocol: "http:", host: "127.0.0.1:8080" };
const opts = (query, where = http) => pageOptions(new URLSearchParams(query), where);

test("defaults: the page's own server, ring default, no relay", () => {
  assert.deepEqual(opts(""), {
    ring: "default", loopbackOnly: false, replicas: undefined, signalingUrl: "ws://127.0.0.1:8080/ws",
  });
  assert.equal("iceTransportPolicy" in opts(""), false, "left to the peer's default");
});

test("https page defaults to wss; a page without a host has no server", () => {
  assert.equal(opts("", { protocol: "https:", host: "chord.example" }).signalingUrl, "wss://chord.example/ws");
  assert.equal(opts("", { protocol: "file:", host: "" }).signalingUrl, "");
});

test("one signal= stays a string", () => {
  assert.equal(opts("signal=ws://a:1/ws").signalingUrl, "ws://a:1/ws");
  assert.equal(opts("signal=%20ws://a:1/ws%20,").signalingUrl, "ws://a:1/ws", "blanks and empty items dropped");
});

test("a comma-separated signal= becomes a list, in order", () => {
  assert.deepEqual(opts("signal=ws://a/ws,wss://b/ws, ws://c/ws").signalingUrl, ["ws://a/ws", "wss://b/ws", "ws://c/ws"]);
  assert.deepEqual(opts("signal=ws://a/ws&signal=ws://b/ws").signalingUrl, ["ws://a/ws", "ws://b/ws"], "repeated too");
});

test("an empty signal= falls back to the page's server", () => {
  assert.equal(opts("signal=").signalingUrl, "ws://127.0.0.1:8080/ws");
  assert.equal(opts("signal=,,").signalingUrl, "ws://127.0.0.1:8080/ws");
});

test("relay=1 forces TURN; anything else leaves the policy alone", () => {
  assert.equal(opts("relay=1").iceTransportPolicy, "relay");
  for (const q of ["relay=0", "relay=", "relay=yes", "x=1"]) assert.equal(opts(q).iceTransportPolicy, undefined, q);
});

test("ring, loopback, replicas", () => {
  const o = opts("ring=lab&loopback=1&replicas=5&relay=1");
  assert.equal(o.ring, "lab");
  assert.equal(o.loopbackOnly, true);
  assert.equal(o.replicas, 5);
  assert.equal(opts("loopback=true").loopbackOnly, false, "only 1 turns it on, as before");
  assert.equal(opts("ring=").ring, "default");
});

test("serversText names the first server and the fallbacks", () => {
  assert.equal(serversText("ws://a/ws"), "ws://a/ws");
  assert.equal(serversText(["ws://a/ws"]), "ws://a/ws");
  assert.equal(serversText(["ws://a/ws", "ws://b/ws", "ws://c/ws"]), "ws://a/ws (then ws://b/ws, ws://c/ws)");
});
