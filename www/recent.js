// "Recent puts": what this tab asked to store this session, kept in sessionStorage so that it
// survives a reload (a put cut short by the reload shows "interrupted").

import { $, h, update } from "./dom.js";
import { size } from "./format.js";

/**
 * @typedef {object} RecentPut
 * @property {number} time   Date.now() when it was asked for
 * @property {string} name
 * @property {number} size
 * @property {"waiting"|"storing"|"stored"|"failed"|"cancelled"|"interrupted"} status
 * @property {string} [error]
 * @property {string} [key]
 * @property {number} [seq]
 * @property {string} [writer]
 */

const MAX_RECENT = 50;
const RECENT_STATUS = {
  waiting: "waiting", storing: "storing…", stored: "stored", failed: "failed", cancelled: "cancelled",
  interrupted: "interrupted by a reload",
};

let storageKey = "";
/** Newest first. @type {RecentPut[]} */
export const recentPuts = [];

/** Loads the list of `ring` from sessionStorage and shows it. @param {string} ring */
export function loadRecentPuts(ring) {
  storageKey = `chord.puts.${ring}`;
  try {
    const list = JSON.parse(sessionStorage.getItem(storageKey) ?? "[]");
    if (Array.isArray(list)) {
      for (const p of list) if (p.status === "waiting" || p.status === "storing") p.status = "interrupted";
      recentPuts.push(...list.slice(0, MAX_RECENT));
    }
  } catch { /* nothing kept */ }
  renderRecentPuts();
}

export function saveRecentPuts() {
  try { sessionStorage.setItem(storageKey, JSON.stringify(recentPuts)); } catch { /* private mode: this page only */ }
}

/** @param {string} name @param {number} bytes @returns {RecentPut} */
export function addRecentPut(name, bytes) {
  /** @type {RecentPut} */ const p = { time: Date.now(), name, size: bytes, status: "waiting" };
  recentPuts.unshift(p);
  recentPuts.length = Math.min(recentPuts.length, MAX_RECENT);
  saveRecentPuts();
  renderRecentPuts();
  return p;
}

/** @param {RecentPut} p @param {RecentPut["status"]} status @param {string} [error] */
export function finishRecentPut(p, status, error) {
  p.status = status;
  if (error) p.error = error;
  saveRecentPuts();
  renderRecentPuts();
}

function renderRecentPuts() {
  update($("recent-puts"), JSON.stringify(recentPuts), () =>
    recentPuts.length === 0
      ? [h("tr", {}, h("td", { colspan: "5", class: "muted" }, "This tab has stored nothing yet"))]
      : recentPuts.flatMap((p) => [h("tr", { "data-status": p.status, class: p.error ? "has-detail" : "" },
          h("td", { class: "name", title: p.key ? `${p.name}\nkey ${p.key}` : p.name }, p.name),
          h("td", { class: "num" }, size(p.size)),
          // The writer of this tab's own puts is this tab: only the seq is news.
          h("td", { class: "num", title: p.writer ? `written by ${p.writer}` : "" }, typeof p.seq === "number" ? `v${p.seq}` : "—"),
          h("td", { class: "num" }, h("time", { datetime: new Date(p.time).toISOString() },
            new Date(p.time).toLocaleTimeString([], { hour12: false }))),
          h("td", { class: `put-${p.status}` }, RECENT_STATUS[p.status] ?? p.status)),
        // Why it failed, on a line of its own: the messages are sentences, too long for a cell.
        ...(p.error ? [h("tr", { class: "detail" }, h("td", { colspan: "5", class: `put-${p.status}` }, p.error))] : [])]));
}
