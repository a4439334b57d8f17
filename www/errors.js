// What the page makes of an error: its stable `code` (set by the peer, `ErrorCode` in
// pkg/chord.d.ts) and the words shown for it. The page decides by code, never by the wording of a
// message. Pure: no DOM, no peer (tests/page/errors.test.mjs).

/** @typedef {import("./pkg/chord.js").ErrorCode} ErrorCode */

/** A readable message from whatever a promise rejected with. @param {unknown} e */
export function reason(e) {
  if (e instanceof Error) return e.message || e.name;
  if (typeof e === "string") return e;
  if (e && typeof e === "object" && "message" in e) return String(e.message);
  try { return JSON.stringify(e); } catch { return String(e); }
}

/**
 * The `code` of an error: the peer's, "cancelled" for an `AbortError`, "quota" for the browser's
 * own `QuotaExceededError`; undefined for anything else.
 * @param {unknown} e
 * @returns {ErrorCode | undefined}
 */
export function errorCode(e) {
  if (e && typeof e === "object" && "code" in e && typeof e.code === "string") return /** @type {ErrorCode} */ (e.code);
  if (e && typeof e === "object" && "name" in e) {
    if (e.name === "AbortError") return "cancelled";
    if (e.name === "QuotaExceededError") return "quota";
  }
  return undefined;
}

/** An Error carrying a `code`, as the peer rejects with. @param {ErrorCode} code @param {string} message */
export function codedError(code, message) {
  return Object.assign(new Error(message), { code });
}

/** True if `e` is the rejection of a cancelled transfer. @param {unknown} e */
export const isCancel = (e) => errorCode(e) === "cancelled";

/** Words for the codes whose message says less than the page can; the rest show the peer's message. */
const CODE_TEXT = /** @type {Partial<Record<ErrorCode, string>>} */ ({
  not_sure: "The ring is still settling; try again in a moment (it could not yet confirm whether it holds this file).",
  quota: "This browser's storage is full.",
  not_joined: "This tab is not in the ring right now (it is reconnecting, or it left); try again in a moment.",
});

/** Words for a failure's code when the page has better ones than the message, else null. @param {unknown} e */
export function codeText(e) {
  const code = errorCode(e);
  return (code && CODE_TEXT[code]) ?? null;
}

/** The words shown for a failure: plain words for some codes, else the peer's own message. @param {unknown} e */
export function failureText(e) {
  return codeText(e) ?? reason(e);
}

/**
 * A failure for the activity log, which (unlike the row) does not show which file it was about:
 * the peer's messages name it already ("Could not fetch "x": …"); others get it in front.
 * @param {string} what e.g. "store" @param {string} name @param {string} msg
 */
export function failureLine(what, name, msg) {
  if (!msg) return `Could not ${what} “${name}”.`;
  return msg.includes(name) ? msg : `Could not ${what} “${name}”: ${msg[0].toLowerCase()}${msg.slice(1)}`;
}

/** Whether a failed join is worth trying again with the same id (the ring still lists this tab's previous page). @param {unknown} e */
export const retryJoin = (e) => errorCode(e) === "id_taken";

/** The status line of a join that failed. @param {Error} err */
export function joinFailureText(err) {
  return /^could not/i.test(err.message) ? err.message : `Could not join: ${err.message}`;
}
