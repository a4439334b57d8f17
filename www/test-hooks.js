// Timings for the benchmarks and tests, on `window` only when the page is opened with `?test`
// (tests/e2e/lib/browser.mjs adds it): a user's page carries none of them.
//
//   window.chordJoinStarted     performance.now() when ChordPeer.join was called
//   window.chordJoinMs          how long ChordPeer.join took, in ms
//   window.chordJoinedSuccessor the first successor when the join completed
//   window.chordLinkOpenedAt    { [peer id]: performance.now() when its link first opened }
//   window.chordPolling         () => whether the page polls state() (it stops after leave)

const on = typeof location !== "undefined" && new URLSearchParams(location.search).has("test");
/** @type {Record<string, any>} */
const w = on ? /** @type {any} */ (window) : {};

export const testHooks = {
  /** @param {number} t */
  joinStarted(t) { w.chordJoinStarted = t; },
  /** @param {number} ms */
  joinDone(ms) { w.chordJoinMs = ms; },
  /** @param {string} successor */
  joined(successor) { w.chordJoinedSuccessor ??= successor; },
  /** @param {string} peer */
  linkOpened(peer) { (w.chordLinkOpenedAt ??= {})[peer] ??= performance.now(); },
  /** @param {() => boolean} f */
  polling(f) { w.chordPolling = f; },
};
