// The ring drawing's geometry and roles (www/ring-geometry.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { CX, CY, R, at, anchorAt, placeLabel, overlap, successorArcPath, knownPeers, roleClass, ringDescription } from "../../www/ring-geometry.js";

const near = (a, b, what) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);
const id = (hex) => hex.padEnd(40, "0");

test("0 is at the top and the circle runs clockwise", () => {
  const [x0, y0] = at(0); near(x0, CX, "top x"); near(y0, CY - R, "top y");
  const [x1, y1] = at(0.25); near(x1, CX + R, "right x"); near(y1, CY, "right y");
  const [x2, y2] = at(0.5); near(x2, CX, "bottom x"); near(y2, CY + R, "bottom y");
  const [x3] = at(0.75, 10); near(x3, CX - 10, "left x at radius 10");
});

test("labels sit right of dots on the right half, left on the left, centred at top and bottom", () => {
  assert.equal(anchorAt(0.25), "start");
  assert.equal(anchorAt(0.75), "end");
  assert.equal(anchorAt(0), "middle");
  assert.equal(anchorAt(0.5), "middle");
});

test("a label moves until it overlaps none placed so far", () => {
  const placed = [];
  for (let i = 0; i < 5; i++) {
    const [, , box] = placeLabel(0.25, "start", placed);
    assert.ok(!placed.some((b) => overlap(box, b)), `label ${i} overlaps`);
    placed.push(box);
  }
  // All spots taken: it falls back to the first, next to the dot.
  const crowded = Array.from({ length: 9 }, () => [-1e6, -1e6, 1e6, 1e6]);
  const [x, y] = placeLabel(0.25, "start", crowded);
  const [ax, ay] = at(0.25, R + 16);
  near(x, ax, "fallback x"); near(y, ay, "fallback y");
});

test("the successor arc goes clockwise, the long way round when the successor is behind", () => {
  const short = successorArcPath(id("0"), id("4")); // a quarter turn
  assert.match(short, / 0 0 1 /); // small arc, clockwise sweep
  const long = successorArcPath(id("4"), id("0")); // three quarters
  assert.match(long, / 0 1 1 /);
});

test("peers and their roles from state(); this tab first", () => {
  const A = id("a"), B = id("b"), C = id("c"), D = id("d");
  const st = {
    id: A, predecessor: D, successors: [B, C],
    fingers: [{ from: 0, to: 150, node: B }, { from: 151, to: 151, node: C }],
    links: [{ peer: B, state: "open" }, { peer: D, state: "connecting" }],
  };
  const known = knownPeers(st);
  assert.deepEqual([...known.keys()], [A, D, B, C]);
  assert.deepEqual([...known.get(B)], ["successor", "finger 0–150", "link open"]);
  assert.deepEqual([...known.get(C)], ["successor 2", "finger 151"]);
  assert.equal(roleClass(known.get(A)), "self");
  assert.equal(roleClass(known.get(B)), "succ");
  assert.equal(roleClass(known.get(D)), "pred");
  assert.equal(roleClass(new Set(["link open"])), "other");
  assert.equal(ringDescription(st),
    "This tab a0000000 at 225° of the circle; successor b0000000, predecessor d0000000; 3 other peers known, 1 open, 1 connecting links.");
});
