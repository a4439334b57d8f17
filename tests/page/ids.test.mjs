// Ids on the circle (www/ids.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { short, frac, cw } from "../../www/ids.js";

const id = (prefix) => prefix.padEnd(40, "0");

test("short is the first 8 hex digits", () => {
  assert.equal(short("0123456789abcdef0123456789abcdef01234567"), "01234567");
});

test("frac maps the id space onto [0, 1)", () => {
  assert.equal(frac(id("0")), 0);
  assert.equal(frac(id("8")), 0.5);
  assert.ok(frac("f".repeat(40)) < 1);
  assert.equal(frac("not hex"), 0);
});

test("cw is clockwise, wraps around, and is 0 to itself", () => {
  assert.equal(cw(id("4"), id("8")), 0.25);
  assert.equal(cw(id("8"), id("4")), 0.75, "the long way round");
  assert.equal(cw(id("c"), id("0")), 0.25, "across zero");
  assert.equal(cw(id("3"), id("3")), 0);
  for (const [a, b] of [["1", "9"], ["9", "1"], ["c", "4"]]) {
    const sum = cw(id(a), id(b)) + cw(id(b), id(a));
    assert.ok(Math.abs(sum - 1) < 1e-12, `${a}→${b} and back is the whole circle`);
  }
});
