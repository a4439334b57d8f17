// Ring events (`JoinOptions.onEvent`) as lines of "Recent activity".

import { log, idCode, valueName } from "./dom.js";
import { reason } from "./errors.js";
import { size } from "./format.js";
import { linkEventLine } from "./links.js";
import { page } from "./page-state.js";
import { scheduleRender } from "./render.js";
import { testHooks } from "./test-hooks.js";

/** @typedef {import("./pkg/chord.js").ChordEvent} ChordEvent */

/** Values named one by one in a line about several. */
const NAMES_IN_LINE = 4;
let joinedLogged = false;
let leftLogged = false;

/** Logs "Joined the ring as …" once per page. @param {...(Node|string)} parts */
export function logJoined(...parts) {
  if (joinedLogged) return;
  joinedLogged = true;
  log("ok", ...parts);
}

/** Logs "Left the ring" once per page. */
export function logLeft() {
  if (!leftLogged) log("info", "Left the ring");
  leftLogged = true;
}

/**
 * `JoinOptions.onEvent`. It may be called from inside a wasm call, so it only
 * logs and schedules a render (calling into the peer here could re-enter it).
 * @param {ChordEvent} ev
 */
export function onEvent(ev) {
  try {
    describe(ev);
  } catch (e) {
    log("error", `Could not show an event: ${reason(e)}`);
  }
  scheduleRender();
}

/** Writes one ring event into the log. @param {ChordEvent} ev */
function describe(ev) {
  switch (ev.type) {
    case "joined":
      testHooks.joined(ev.successor);
      logJoined("Joined the ring; successor ", idCode(ev.successor));
      break;
    case "successor":
      if (ev.successor) log("info", "Successor is now ", idCode(ev.successor));
      else log("warn", "No successor");
      break;
    case "predecessor":
      if (ev.predecessor) log("info", "Predecessor is now ", idCode(ev.predecessor));
      else log("info", "Predecessor cleared");
      break;
    case "link_open":
      testHooks.linkOpened(ev.peer);
      log("ok", "Link to ", idCode(ev.peer), ` open (signaled via ${ev.via})`);
      break;
    case "link_closed":
      log("info", "Link to ", idCode(ev.peer), " closed");
      break;
    case "link_restarting":
    case "link_failed":
    case "ice_servers": {
      const line = /** @type {NonNullable<ReturnType<typeof linkEventLine>>} */ (linkEventLine(ev));
      log(line.kind, ...line.parts.map((p) => typeof p === "string" ? p : idCode(p.peer)));
      break;
    }
    case "server":
      if (ev.state === "connected") log("ok", `Connected to the signaling server ${ev.url ?? ""}`);
      else log("warn", `Signaling server ${ev.url ?? ""} connection closed; the ring keeps working without it (reconnecting)`);
      break;
    case "lost_ring":
      joinedLogged = false; // the rejoin is logged again
      log("error", "Lost the ring: no successor answers; reconnecting");
      break;
    case "left":
      logLeft();
      break;
    case "bad_holder":
      // The get goes on with the next holder; if none has a good copy, its error says so.
      log("warn", "Peer ", idCode(ev.peer), "… served a corrupt copy of ", valueName(ev.name, ev.key),
        "; fetched from another holder");
      break;
    case "stored":
      if (ev.name) page.heldNames.set(ev.key, ev.name);
      heldChanges.stored.push({ name: ev.name, key: ev.key, size: ev.size });
      logHeldChangesSoon();
      break;
    case "dropped":
      heldChanges.dropped.push({ name: page.heldNames.get(ev.key) ?? "", key: ev.key });
      page.heldNames.delete(ev.key);
      logHeldChangesSoon();
      break;
    default:
      log("info", `Event: ${JSON.stringify(ev)}`);
  }
}

/**
 * `stored` and `dropped` events come in bursts (a restore after reload, a neighbour's hand-over):
 * they are logged together, one line per kind, a moment after the burst.
 * @type {{ stored: { name: string, key: string, size?: number }[], dropped: { name: string, key: string }[] }}
 */
const heldChanges = { stored: [], dropped: [] };
let heldChangesQueued = false;

function logHeldChangesSoon() {
  if (heldChangesQueued) return;
  heldChangesQueued = true;
  setTimeout(() => {
    heldChangesQueued = false;
    const { stored, dropped } = heldChanges;
    heldChanges.stored = [];
    heldChanges.dropped = [];
    if (stored.length === 1) {
      const v = stored[0];
      log("info", "This tab now holds ", valueName(v.name, v.key), typeof v.size === "number" ? ` (${size(v.size)})` : "");
    } else if (stored.length > 1) {
      const total = stored.reduce((n, v) => n + (typeof v.size === "number" ? v.size : 0), 0);
      log("info", `This tab now holds ${stored.length} more values (${size(total)}): `, ...someNames(stored));
    }
    if (dropped.length === 1) log("info", "This tab no longer holds ", valueName(dropped[0].name, dropped[0].key));
    else if (dropped.length > 1) log("info", `This tab no longer holds ${dropped.length} values: `, ...someNames(dropped));
  }, 300);
}

/** "“a”, “b”, … and 3 more" @param {{ name?: string, key: string }[]} values */
function someNames(values) {
  /** @type {(Node | string)[]} */ const out = [];
  values.slice(0, NAMES_IN_LINE).forEach((v, i) => {
    if (i > 0) out.push(", ");
    out.push(valueName(v.name, v.key));
  });
  if (values.length > NAMES_IN_LINE) out.push(` and ${values.length - NAMES_IN_LINE} more`);
  return out;
}
