// The page's URL parameters as `ChordPeer.join` options. Pure: no DOM, no peer
// (tests/page/params.test.mjs).
//
//   signal=URL[,URL…]  WebSocket URL of the signaling server, or several: the tab keeps a
//                      connection to each (default: ws://<this host>/ws, or wss:// when the page is on https)
//   ring=NAME          ring to join (default "default")
//   loopback=1         keep only loopback ICE candidates (JoinOptions.loopbackOnly)
//   relay=1            every link through a TURN server (JoinOptions.iceTransportPolicy "relay")
//   replicas=N         copies kept of each value (JoinOptions.replicas; default 3)

/**
 * What the page joins with. `signalingUrl` is a string for one server (what every peer build
 * accepts) and an array only for several; "" when there is none (a page opened from a file).
 * Options left at the peer's default are absent, so the peer's own defaults apply.
 * @typedef {object} PageOptions
 * @property {string} ring
 * @property {boolean} loopbackOnly
 * @property {number | undefined} replicas
 * @property {string | string[]} signalingUrl
 * @property {"relay"} [iceTransportPolicy]
 */

/**
 * @param {URLSearchParams} params  the page's query
 * @param {{ protocol: string, host: string }} where  the page's location (for the default server)
 * @returns {PageOptions}
 */
export function pageOptions(params, where) {
  /** @type {PageOptions} */
  const o = {
    ring: params.get("ring") || "default",
    loopbackOnly: params.get("loopback") === "1",
    replicas: params.has("replicas") ? Number(params.get("replicas")) : undefined,
    signalingUrl: signalingUrls(params, where),
  };
  if (params.get("relay") === "1") o.iceTransportPolicy = "relay";
  return o;
}

/**
 * `signal=` split at commas (blanks dropped), or the page's own server.
 * @param {URLSearchParams} params @param {{ protocol: string, host: string }} where
 * @returns {string | string[]}
 */
function signalingUrls(params, where) {
  const list = params.getAll("signal").flatMap((v) => v.split(",")).map((u) => u.trim()).filter(Boolean);
  if (list.length === 1) return list[0];
  if (list.length > 1) return list;
  return where.host ? `${where.protocol === "https:" ? "wss" : "ws"}://${where.host}/ws` : "";
}

/** The servers as a phrase: "ws://a/ws", or "ws://a/ws (then ws://b/ws)". @param {string | string[]} url */
export function serversText(url) {
  const list = Array.isArray(url) ? url : [url];
  return list.length > 1 ? `${list[0]} (then ${list.slice(1).join(", ")})` : list[0] ?? "";
}
