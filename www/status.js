// The status line at the top of the page. Pure: no DOM, no peer (tests/page/status.test.mjs).

import { linkCounts } from "./links.js";

/** @typedef {import("./pkg/chord.js").PeerState} PeerState */

/**
 * Whether the ring is lost for now: the tab was in it (`page.joinedOnce`) and is not any more,
 * without having left — `state().status` went back to "idle" or "joining" while it rejoins (all
 * its successors stopped answering; it joins again through a linked peer or the server).
 * @param {PeerState} st
 * @param {{ left: boolean, joinedOnce: boolean }} page
 */
export const reconnecting = (st, page) =>
  page.joinedOnce && !page.left && (st.status === "idle" || st.status === "joining");

/**
 * What the status line says once the peer runs.
 * @param {PeerState} st
 * @param {{ left: boolean, joinedOnce: boolean }} page  what the page saw (a leave, a completed join)
 * @returns {{ kind: "pending" | "ok" | "warn" | "error", text: string }}
 */
export function statusLine(st, page) {
  if (page.left || st.status === "left") return { kind: "warn", text: "Left the ring. Reload the page to join again." };
  if (reconnecting(st, page)) {
    return { kind: "warn", text: "Reconnecting: this tab lost the ring (none of its successors answers) and is joining it again…" };
  }
  if (st.status !== "joined") return { kind: "pending", text: `Status: ${st.status}…` };
  const alone = st.successors.length === 0 || st.successors[0] === st.id;
  const text = alone ? `Joined ring “${st.ring}” — this tab is the only peer so far.` : `Joined ring “${st.ring}”.`;
  const { restarting } = linkCounts(st.links);
  if (restarting === 0) return { kind: "ok", text };
  return { kind: "ok", text: `${text} Reconnecting ${restarting} link${restarting === 1 ? "" : "s"} whose network path failed…` };
}

const SERVER_WORDS = { connected: "connected", connecting: "connecting…", closed: "closed" };

/**
 * The signaling servers, for the facts list: one server as before ("connected (url)"), several
 * each with its state; reconnects are counted.
 * @param {PeerState} st
 * @returns {string}
 */
export function serversText(st) {
  const again = (/** @type {number} */ n) => (n > 0 ? `, ${n} reconnect${n === 1 ? "" : "s"}` : "");
  const list = Array.isArray(st.servers) ? st.servers : [];
  if (list.length <= 1) {
    const words = st.server === "closed" ? "closed — the ring keeps working without it" : SERVER_WORDS[st.server] ?? st.server;
    const url = typeof st.signalingUrl === "string" ? st.signalingUrl : list[0]?.url;
    const extra = [url, list[0] && again(list[0].reconnects).slice(2)].filter(Boolean).join(", ");
    return extra ? `${words} (${extra})` : words;
  }
  const up = list.filter((s) => s.state === "connected").length;
  const each = list.map((s) => `${s.url} ${SERVER_WORDS[s.state] ?? s.state}${again(s.reconnects)}`);
  return `${up} of ${list.length} connected: ${each.join("; ")}`;
}
