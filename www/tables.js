// The "This node" facts, the successor/finger/link tables and "Held in this tab", from a
// `state()` snapshot.

import { $, h, update, idCode } from "./dom.js";
import { short } from "./ids.js";
import { size, versionText } from "./format.js";
import { linkRows, connectionsText, iceLabel, linkProblemsText } from "./links.js";
import { serversText as serverFacts } from "./status.js";
import { sortHeld, heldSummary } from "./held.js";
import { page } from "./page-state.js";

/** @typedef {import("./pkg/chord.js").PeerState} PeerState */

/** Rows shown at most; a tab holding more says how many are left out. */
const MAX_HELD_ROWS = 500;

/** @param {PeerState} st */
export function renderFacts(st) {
  $("node-id").textContent = st.id;
  $("node-short").textContent = `(short: ${short(st.id)})`;
  $("node-status").textContent = st.status;
  const srv = $("node-server");
  srv.textContent = serverFacts(st);
  srv.dataset.kind = st.server;
  const ice = iceLabel(st.ice);
  const iceEl = $("node-ice");
  if (iceEl.textContent !== ice.text) iceEl.textContent = ice.text;
  iceEl.title = ice.title;
  iceEl.dataset.kind = ice.kind;
  const problems = linkProblemsText(st);
  $("node-problems-dt").hidden = $("node-problems").hidden = problems === "";
  $("node-problems").textContent = problems;
  update($("node-pred"), `${st.predecessor}`, () => [st.predecessor ? idCode(st.predecessor) : h("span", { class: "muted" }, "none yet")]);
  $("node-keys").textContent = `${st.keys} value${st.keys === 1 ? "" : "s"} (own and replicas)`;
  $("node-mem").textContent = typeof st.wasmMemoryBytes === "number"
    ? `${size(st.wasmMemoryBytes)} of WebAssembly memory`
    : "—";
  $("node-conns").textContent = connectionsText(st);
  $("node-timer").textContent = st.timer === "worker"
    ? "in a worker (keeps pace when this tab is hidden)"
    : "page timers (a hidden tab may fall behind)";
}

/** @param {PeerState} st */
export function renderTables(st) {
  update($("successors"), st.successors.join(), () =>
    st.successors.length ? st.successors.map((id) => h("li", {}, idCode(id))) : [h("li", { class: "muted" }, "none yet")]);

  update($("fingers"), JSON.stringify(st.fingers), () =>
    st.fingers.length
      ? st.fingers.map((f) => h("tr", {}, h("td", { class: "num" }, f.from === f.to ? `${f.from}` : `${f.from}–${f.to}`), h("td", {}, idCode(f.node))))
      : [h("tr", {}, h("td", { colspan: "2", class: "muted" }, "none yet"))]);

  const links = linkRows(st);
  update($("links"), JSON.stringify(links), () =>
    links.length
      ? links.map((l) => h("tr", { "data-state": l.state },
          h("td", {}, idCode(l.peer)),
          h("td", {}, h("span", { class: `pill pill-${l.state}`, title: l.stateTitle }, l.state)),
          h("td", { class: `path path-${l.path === "direct" ? "direct" : l.path === "—" ? "unknown" : "relayed"}`, title: l.pathTitle }, l.path),
          h("td", { class: "num" }, l.rtt),
          h("td", { class: "num" }, l.maxMessage),
          h("td", {}, l.via),
          h("td", {}, l.wanted)))
      : [h("tr", {}, h("td", { colspan: "7", class: "muted" }, "no links"))]);
}

/** The "Held in this tab" table, from `state().records`. @param {PeerState} st */
export function renderHeld(st) {
  /** @type {import("./pkg/chord.js").HeldRecord[] | undefined} */ const records = st.records;
  const tbody = $("held");
  const summary = $("held-summary");
  if (!Array.isArray(records)) {
    update(tbody, "unsupported", () => [h("tr", {}, h("td", { colspan: "6", class: "muted" },
      "This build of the peer does not list the values it holds."))]);
    summary.textContent = "";
    return;
  }
  page.heldNames.clear();
  for (const r of records) if (r.name) page.heldNames.set(r.key, r.name);

  const sorted = sortHeld(records);
  const text = heldSummary(records);
  if (summary.textContent !== text) summary.textContent = text;

  update(tbody, JSON.stringify(sorted), () => {
    if (sorted.length === 0) return [h("tr", {}, h("td", { colspan: "6", class: "muted" }, "This tab holds no values yet"))];
    const rows = sorted.slice(0, MAX_HELD_ROWS).map((r) => h("tr", {},
      h("td", { class: "name", title: `${r.name ? `${r.name}\n` : ""}key ${r.key}\nSHA-1 ${r.digest ?? "?"}` },
        r.name ? r.name : h("span", { class: "muted" }, "key ", h("code", {}, short(r.key)), "…")),
      h("td", { class: "num" }, size(r.size)),
      h("td", { class: "num", title: r.version?.writer ? `written by ${r.version.writer}` : "" }, versionText(r.version)),
      h("td", {}, h("span", { class: `pill pill-${r.role}` }, r.role)),
      h("td", {}, r.complete ? "complete" : h("span", { class: "warn-text" }, "incomplete")),
      h("td", {}, r.inline ? "inline" : "blob")));
    if (sorted.length > MAX_HELD_ROWS) {
      rows.push(h("tr", {}, h("td", { colspan: "6", class: "muted" }, `… and ${sorted.length - MAX_HELD_ROWS} more`)));
    }
    return rows;
  });
}
