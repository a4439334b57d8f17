// The status line at the top of the page. Pure: no DOM, no peer (tests/page/status.test.mjs).

import { linkCounts } from "./links.js";

/** @typedef {import("./pkg/chord.js").PeerState} PeerState */

/**
 * What the status line says once the peer runs.
 * @param {PeerState} st
 * @param {{ left: boolean, lostRing: boolean }} page  what the page saw (a leave, a lost_ring event)
 * @returns {{ kind: "pending" | "ok" | "warn" | "error", text: string }}
 */
export function statusLine(st, page) {
  if (page.left || st.status === "left") return { kind: "warn", text: "Left the ring. Reload the page to join again." };
  if (page.lostRing) return { kind: "error", text: "Lost the ring: none of this tab's successors answers." };
  if (st.status !== "joined") return { kind: "pending", text: `Status: ${st.status}…` };
  const alone = st.successors.length === 0 || st.successors[0] === st.id;
  const text = alone ? `Joined ring “${st.ring}” — this tab is the only peer so far.` : `Joined ring “${st.ring}”.`;
  const { restarting } = linkCounts(st.links);
  if (restarting === 0) return { kind: "ok", text };
  return { kind: "ok", text: `${text} Reconnecting ${restarting} link${restarting === 1 ? "" : "s"} whose network path failed…` };
}
