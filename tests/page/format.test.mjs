// Sizes, speeds, durations and progress lines (www/format.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { size, rate, duration, versionText, plural, speed, progressLine, took } from "../../www/format.js";

test("sizes as a file manager shows them", () => {
  assert.equal(size(0), "0 bytes");
  assert.equal(size(1), "1 byte");
  assert.equal(size(999), "999 bytes");
  assert.equal(size(1000), "1.0 KB");
  assert.equal(size(9999), "10.0 KB");
  assert.equal(size(10_000), "10 KB");
  assert.equal(size(16 * 1024 * 1024), "16.8 MB");
  assert.equal(size(2.5e9), "2.5 GB");
});

test("rates and durations", () => {
  assert.equal(rate(500), "1 KB/s");
  assert.equal(rate(999_999), "1000 KB/s");
  assert.equal(rate(33.1e6), "33.1 MB/s");
  assert.equal(duration(0.2), "under a second");
  assert.equal(duration(3.4), "3 s");
  assert.equal(duration(89), "89 s");
  assert.equal(duration(90), "2 min");
  assert.equal(duration(7200), "2.0 h");
  assert.equal(took(0.5, 100), "");
  assert.equal(took(2, 0), "");
  assert.equal(took(2, 20e6), " in 2 s (10.0 MB/s)");
});

test("versions and plurals", () => {
  assert.equal(versionText(undefined), "—");
  assert.equal(versionText({ seq: 3, writer: "1a2b3c4d5e6f" }), "v3 by 1a2b3c4d");
  assert.equal(versionText({ seq: 1, writer: "" }), "v1");
  assert.equal(plural(1, "value"), "1 value");
  assert.equal(plural(0, "value"), "0 values");
});

test("speed needs samples over 400 ms", () => {
  assert.equal(speed([]), undefined);
  assert.equal(speed([{ t: 0, done: 0 }, { t: 399, done: 100 }]), undefined);
  assert.equal(speed([{ t: 0, done: 0 }, { t: 500, done: 1000 }, { t: 1000, done: 4000 }]), 4000);
});

test("progress lines: phase, bytes, speed and time left", () => {
  assert.equal(progressLine({ phase: "sending", done: 3e6, total: 10e6 }, undefined), "Sending · 3.0 MB of 10.0 MB");
  assert.equal(progressLine({ phase: "storing", done: 3e6, total: 10e6 }, 1e6),
    "Storing in this tab · 3.0 MB of 10.0 MB · 1.0 MB/s · about 7 s left");
  assert.equal(progressLine({ phase: "receiving", done: 9.5e6, total: 10e6 }, 1e6),
    "Receiving · 9.5 MB of 10.0 MB · 1.0 MB/s · almost done");
  assert.equal(progressLine({ phase: "receiving", done: 10e6, total: 10e6 }, 1e6), "Receiving · 10.0 MB of 10.0 MB · 1.0 MB/s");
});
