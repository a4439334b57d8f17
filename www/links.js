// The WebRTC links and NAT traversal as the page shows them: `state()` in, table rows and
// sentences out. Pure: no DOM, no peer (tests/page/links.test.mjs). Fields a peer built before
// NAT traversal lacks (candidates, rttMs, maxMessageSize, ice, linkFailures, iceRestarts) show as
// unknown.

import { cw } from "./ids.js";

/** @typedef {import("./pkg/chord.js").PeerState} PeerState */
/** @typedef {import("./pkg/chord.js").LinkInfo} LinkInfo */
/** @typedef {import("./pkg/chord.js").ChordEvent} ChordEvent */

/** Words for a candidate type, for tooltips. @type {Record<string, string>} */
const CANDIDATE_WORDS = {
  host: "its own address",
  srflx: "its public address (seen by STUN)",
  prflx: "an address the other side saw",
  relay: "a TURN relay",
};

/** Why a link failed, in words (the end of "Could not link to X: …"). @type {Record<string, string>} */
export const FAILURE_WORDS = {
  no_candidates: "this tab could not gather a single network address for WebRTC",
  no_path: "no network path between the two tabs (a TURN server may be needed)",
  timeout: "it took too long to connect",
  refused: "the peer refused it (it has as many links as it allows)",
  unreachable: "no tab of this ring could pass the request on to that peer (it may be in another ring that is still merging with this one)",
  message_limit: "its browser accepts only messages under 16 KiB on the link, too small for this ring (tried again in a minute)",
  budget: "not tried: this tab opened as many links to peers outside its ring tables as it allows for now",
};

/** Tooltips of the link states. @type {Record<string, string>} */
const STATE_TITLE = {
  connecting: "Being set up",
  open: "Connected",
  restarting: "Its network path failed; an ICE restart is looking for a new one",
};

/**
 * The path of a link: "direct" when neither end is a TURN relay, "relayed (TURN)" when either is,
 * "—" while unknown (not connected yet, or a peer that does not report it).
 * @param {LinkInfo["candidates"] | undefined} c
 * @returns {{ text: string, title: string, relayed: boolean | null }}
 */
export function pathLabel(c) {
  if (!c || typeof c.local !== "string" || typeof c.remote !== "string") {
    return { text: "—", title: "Path not known yet", relayed: null };
  }
  const relayed = c.local === "relay" || c.remote === "relay";
  const title = `This tab: ${CANDIDATE_WORDS[c.local] ?? c.local} (${c.local}); ` +
    `the peer: ${CANDIDATE_WORDS[c.remote] ?? c.remote} (${c.remote})`;
  return { text: relayed ? "relayed (TURN)" : "direct", title, relayed };
}

/** Round-trip time: "12 ms", "<1 ms", or "—" while unknown. @param {number | null | undefined} ms */
export function rttLabel(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return "—";
  return ms < 1 ? "<1 ms" : `${Math.round(ms)} ms`;
}

/**
 * The largest message the other end of a link accepts (`LinkInfo.maxMessageSize`): "256 KiB",
 * "1 GiB", "no limit" (0), or "—" while unknown (not open yet, or a peer that does not report it).
 * @param {number | null | undefined} bytes
 */
export function maxMessageLabel(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return "—";
  if (bytes === 0) return "no limit";
  // Rounded, so Firefox's 2^30 − 1 reads as 1 GiB.
  for (const [unit, size] of [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]]) {
    if (bytes >= size * 0.999) return `${Math.round(bytes / size)} ${unit}`;
  }
  return `${bytes} B`;
}

/**
 * One row of the links table.
 * @typedef {object} LinkRow
 * @property {string} peer
 * @property {string} state      "connecting" | "open" | "restarting" (the pill's text and class)
 * @property {string} stateTitle
 * @property {string} path       "direct" | "relayed (TURN)" | "—"
 * @property {string} pathTitle
 * @property {string} rtt
 * @property {string} maxMessage  the largest message the peer's end accepts ("256 KiB", "no limit", "—")
 * @property {string} via
 * @property {string} wanted     "yes" | "no"
 */

/**
 * The links table: one row per link, clockwise from this tab.
 * @param {PeerState} st
 * @returns {LinkRow[]}
 */
export function linkRows(st) {
  return [...st.links].sort((a, b) => cw(st.id, a.peer) - cw(st.id, b.peer)).map((l) => {
    const path = pathLabel(l.candidates);
    return {
      peer: l.peer,
      state: l.state,
      stateTitle: STATE_TITLE[l.state] ?? "",
      path: path.text,
      pathTitle: path.title,
      rtt: rttLabel(l.rttMs),
      maxMessage: maxMessageLabel(l.maxMessageSize),
      via: l.via,
      wanted: l.wanted ? "yes" : "no",
    };
  });
}

/** Links by state, and how many open ones go through TURN. @param {LinkInfo[]} links */
export function linkCounts(links) {
  const n = { open: 0, connecting: 0, restarting: 0, relayed: 0 };
  for (const l of links) {
    if (l.state === "open") n.open++;
    else if (l.state === "restarting") n.restarting++;
    else n.connecting++;
    if (l.state === "open" && pathLabel(l.candidates).relayed) n.relayed++;
  }
  return n;
}

/**
 * The "Connections" line: "3 open (1 relayed through TURN), 1 connecting, 1 restarting;
 * 7 created in total; 2 signals forwarded".
 * @param {PeerState} st
 */
export function connectionsText(st) {
  const n = linkCounts(st.links);
  const open = `${n.open} open${n.relayed ? ` (${n.relayed} relayed through TURN)` : ""}`;
  const restarting = n.restarting ? `, ${n.restarting} restarting` : "";
  return `${open}, ${n.connecting} connecting${restarting}; ` +
    `${st.connectionsCreated} created in total; ${st.signalsForwarded} signals forwarded`;
}

/** The URLs of a list of ICE servers (never their credentials). @param {unknown} servers @returns {string[]} */
export function iceUrls(servers) {
  if (!Array.isArray(servers)) return [];
  return servers.flatMap((s) => {
    const urls = s && typeof s === "object" ? /** @type {{ urls?: unknown }} */ (s).urls : undefined;
    return (Array.isArray(urls) ? urls : [urls]).filter((u) => typeof u === "string" && u !== "");
  });
}

/**
 * The "ICE servers" line from `state().ice`.
 * @param {PeerState["ice"] | undefined} ice
 * @returns {{ text: string, title: string, kind: "ok" | "warn" | "unknown" }}
 */
export function iceLabel(ice) {
  if (!ice || typeof ice !== "object") {
    return { text: "—", title: "This build of the peer does not report its ICE servers", kind: "unknown" };
  }
  const urls = iceUrls(ice.servers);
  const relayOnly = ice.policy === "relay";
  const policy = relayOnly ? "relay only (every link through TURN)" : "direct or relayed, whichever works";
  const from = ice.source === "options" ? "set by this page" : ice.source === "server" ? "from the signaling server" : "";
  const refreshed = ice.refreshes > 0 ? `credentials refreshed ${ice.refreshes} time${ice.refreshes === 1 ? "" : "s"}` : "";
  const title = "STUN finds this tab's public address; TURN relays a link when no direct path works.";
  if (urls.length === 0) {
    return relayOnly
      ? { text: "none, but the policy is relay only: no link can be made without a TURN server", title, kind: "warn" }
      : { text: "none (local network only)", title, kind: "ok" };
  }
  const about = [from, refreshed].filter(Boolean).join(", ");
  const hasTurn = urls.some((u) => /^turns?:/i.test(u));
  return {
    text: `${urls.join(", ")}${about ? ` (${about})` : ""}; policy: ${policy}`,
    title,
    kind: relayOnly && !hasTurn ? "warn" : "ok",
  };
}

/**
 * The "Link problems" line from `state().linkFailures` and `state().iceRestarts`: "none", or e.g.
 * "2 links failed (1 no network path, 1 timed out); 3 ICE restarts (2 recovered, 1 failed)".
 * "" when the peer does not report them.
 * @param {PeerState} st
 */
export function linkProblemsText(st) {
  const f = st.linkFailures, r = st.iceRestarts;
  if (!f && !r) return "";
  const parts = [];
  if (f) {
    /** @type {[number, string][]} */
    const counts = [
      [f.noCandidates || 0, "no network address gathered"],
      [f.noPath || 0, "no network path"],
      [f.timeout || 0, "timed out"],
      [f.refused || 0, "refused by a full peer"],
      [f.unreachable || 0, "not reachable through the ring"],
      [f.messageLimit || 0, "accepting too small messages"],
      [f.budget || 0, "not tried, over the budget of links outside the ring tables"],
    ];
    const why = counts.filter(([n]) => n > 0).map(([n, w]) => `${n} ${w}`);
    const total = counts.reduce((sum, [n]) => sum + n, 0);
    if (total > 0) parts.push(`${total} link${total === 1 ? "" : "s"} failed (${why.join(", ")})`);
  }
  if (r && r.started > 0) {
    const running = r.started - r.succeeded - r.failed;
    const how = [`${r.succeeded} recovered`, r.failed ? `${r.failed} failed` : "", running > 0 ? `${running} under way` : ""];
    parts.push(`${r.started} ICE restart${r.started === 1 ? "" : "s"} (${how.filter(Boolean).join(", ")})`);
  }
  return parts.length ? parts.join("; ") : "none";
}

/**
 * A log line for a link or ICE event, or null for other events. `parts` are strings and
 * `{ peer }` markers where the page puts the peer's id.
 * @param {ChordEvent} ev
 * @returns {{ kind: "info" | "warn", parts: (string | { peer: string })[] } | null}
 */
export function linkEventLine(ev) {
  switch (ev.type) {
    case "link_restarting":
      return { kind: "warn", parts: ["The network path to ", { peer: ev.peer }, " failed; trying to reconnect (ICE restart)"] };
    case "link_failed":
      return { kind: "warn", parts: ["Could not link to ", { peer: ev.peer }, `: ${FAILURE_WORDS[ev.reason] ?? ev.reason}`] };
    case "ice_servers": {
      const urls = iceUrls(ev.servers);
      return {
        kind: "info",
        parts: [urls.length
          ? `Fresh TURN credentials from the signaling server (${urls.join(", ")})`
          : "The signaling server now lists no STUN/TURN servers: links only within the local network"],
      };
    }
    default:
      return null;
  }
}
