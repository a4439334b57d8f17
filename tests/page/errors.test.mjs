// Error codes → what the page does and says (www/errors.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { errorCode, codedError, isCancel, codeText, failureText, failureLine, retryJoin, reason, joinFailureText } from "../../www/errors.js";

const coded = (code, message = "Some words") => Object.assign(new Error(message), { code });

test("the code comes from err.code, or from the DOMException's name", () => {
  assert.equal(errorCode(coded("no_holder")), "no_holder");
  assert.equal(errorCode(new DOMException("Cancelled before it started", "AbortError")), "cancelled");
  assert.equal(errorCode(new DOMException("full", "QuotaExceededError")), "quota");
  assert.equal(errorCode(new Error("no code")), undefined);
  assert.equal(errorCode("a string"), undefined);
  assert.equal(errorCode(null), undefined);
  assert.equal(codedError("not_joined", "x").code, "not_joined");
});

test("decisions read the code, never the message", () => {
  // The message says "same id" / "Cancelled" / "quota", but without the code it means nothing.
  assert.equal(retryJoin(new Error("Could not join the ring: another tab in this ring has the same id")), false);
  assert.equal(retryJoin(coded("id_taken", "Whatever the words")), true);
  assert.equal(retryJoin(coded("join_failed")), false);
  assert.equal(isCancel(new Error("Cancelled: get \"x\"")), false);
  assert.equal(isCancel(coded("cancelled", "Stopped")), true);
  assert.equal(isCancel(new DOMException("Cancelled before it started", "AbortError")), true);
  assert.equal(failureText(new Error("quota exceeded somewhere")), "quota exceeded somewhere");
  assert.equal(failureText(coded("quota", "Could not store \"x\": the disk")), "This browser's storage is full.");
});

test("codes with better words than the message get them; others show the message", () => {
  assert.match(codeText(coded("not_sure")), /^The ring is still settling; try again/);
  assert.match(codeText(coded("not_joined")), /not in the ring right now/);
  assert.equal(codeText(coded("timeout")), null);
  assert.equal(codeText("plain"), null);
  assert.equal(failureText(coded("no_holder", "Could not fetch \"a\": no tab holding it could be reached")),
    "Could not fetch \"a\": no tab holding it could be reached");
});

test("failure lines name the file once", () => {
  assert.equal(failureLine("store", "a.txt", ""), "Could not store “a.txt”.");
  assert.equal(failureLine("get", "a.txt", "Could not fetch \"a.txt\": gone"), "Could not fetch \"a.txt\": gone");
  assert.equal(failureLine("get", "a.txt", "This tab left the ring."), "Could not get “a.txt”: this tab left the ring.");
});

test("reasons and join failures read well", () => {
  assert.equal(reason(new Error("boom")), "boom");
  assert.equal(reason("text"), "text");
  assert.equal(reason({ message: 3 }), "3");
  assert.equal(reason({ a: 1 }), "{\"a\":1}");
  assert.equal(joinFailureText(new Error("Could not join the ring: x")), "Could not join the ring: x");
  assert.equal(joinFailureText(new Error("x")), "Could not join: x");
});
