// State → view: reads `peer.state()` and updates every section that changed, on a poll while the
// tab is visible and the peer is in a ring, and soon after every ring event. The poll stops when
// the tab leaves (nothing changes any more) and starts again with the next join.

import { $, setStatus, log } from "./dom.js";
import { reason } from "./errors.js";
import { page } from "./page-state.js";
import { renderRing } from "./ring-view.js";
import { statusLine } from "./status.js";
import { renderFacts, renderTables, renderHeld } from "./tables.js";

/** @typedef {import("./pkg/chord.js").PeerState} PeerState */

/** How often the page redraws from `state()` while visible (a hidden tab skips it: the ring runs on). */
export const POLL_MS = 1000;

let lastStateError = "";
let renderQueued = false;
/** @type {ReturnType<typeof setInterval> | null} */ let poll = null;

const onVisible = () => { if (!document.hidden) render(); };

/** Starts redrawing every POLL_MS while the tab is visible (and at once when it becomes visible). */
export function startPolling() {
  if (poll !== null) return;
  poll = setInterval(onVisible, POLL_MS);
  document.addEventListener("visibilitychange", onVisible);
}

/** Stops the poll (the tab left). */
export function stopPolling() {
  if (poll === null) return;
  clearInterval(poll);
  poll = null;
  document.removeEventListener("visibilitychange", onVisible);
}

/** Whether the poll runs (for tests through `?test`). */
export const polling = () => poll !== null;

/** Renders soon, once however often it is asked for before then. */
export function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => { renderQueued = false; render(); }, 0);
}

/** Reads `peer.state()` and updates everything that changed. */
export function render() {
  if (!page.peer) return;
  let step = "read";
  try {
    /** @type {PeerState} */ const st = page.peer.state();
    step = "show";
    renderStatus(st);
    renderFacts(st);
    renderTables(st);
    renderHeld(st);
    renderRing(st);
    lastStateError = "";
  } catch (e) {
    const msg = `Could not ${step} the peer's state: ${reason(e)}`;
    if (msg !== lastStateError) { lastStateError = msg; log("error", msg); } // once, not every poll
  }
}

/** @param {PeerState} st */
function renderStatus(st) {
  if (page.phase === "left" || st.status === "left") {
    page.phase = "left";
    stopPolling();
    const retry = $("retry");
    retry.hidden = false;
    retry.textContent = "Join again";
  }
  const line = statusLine(st, { left: page.phase === "left", joinedOnce: page.joinedOnce });
  setStatus(line.kind, line.text);
}
