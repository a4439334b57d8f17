// The ring drawing: SVG from ring-geometry.js's pure geometry and a `state()` snapshot.

import { $, s, update } from "./dom.js";
import { short, frac } from "./ids.js";
import { page } from "./page-state.js";
import { CX, CY, R, at, placeLabel, anchorAt, successorArcPath, knownPeers, roleClass, ringDescription } from "./ring-geometry.js";

/** @typedef {import("./pkg/chord.js").PeerState} PeerState */

/** Text in the middle of the circle while there is nothing to draw. @param {string} text */
export const centreText = (text) => s("text", { x: CX, y: CY, "text-anchor": "middle", class: "centre muted-svg" }, text);

/** The static parts of the drawing: arrow marker, circle, the 0 mark, and a group for the rest. */
export function setUpRing() {
  const svg = $("ring");
  const [tx, ty] = at(0, R - 16);
  svg.append(
    s("defs", {},
      s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 8, refY: 5, markerWidth: 5, markerHeight: 5, orient: "auto-start-reverse" },
        s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))),
    s("circle", { cx: CX, cy: CY, r: R, class: "ring-circle" }),
    s("line", { x1: CX, y1: CY - R - 4, x2: CX, y2: CY - R + 4, class: "zero-tick" }),
    s("text", { x: tx, y: ty, "text-anchor": "middle", "dominant-baseline": "middle", class: "zero-label" }, "0"),
    s("g", { id: "ring-dyn" }, centreText("joining…")));
}

/** Replaces the drawing with a line of text (joining failed). @param {string} text @param {string} desc */
export function ringMessage(text, desc) {
  document.getElementById("ring-dyn")?.replaceChildren(centreText(text));
  $("ring-desc").textContent = desc;
}

/** @param {PeerState} st */
export function renderRing(st) {
  const known = knownPeers(st);
  const succ = st.successors[0] ?? null;
  const links = st.links.map((l) => `${l.peer}:${l.state}`).sort();
  const key = JSON.stringify([[...known].map(([id, r]) => [id, [...r]]), links, succ, page.storedKeys]);
  const g = /** @type {SVGGElement} */ (/** @type {unknown} */ (document.getElementById("ring-dyn")));
  update(g, key, () => {
    const out = [];
    const [sx, sy] = at(frac(st.id));

    for (const { name, key } of page.storedKeys) {
      const [x1, y1] = at(frac(key), R - 7), [x2, y2] = at(frac(key), R + 7);
      out.push(s("line", { x1, y1, x2, y2, class: "key-mark" }, s("title", {}, `key of “${name}”: ${key}`)));
    }
    for (const l of st.links) {
      if (l.peer === st.id) continue;
      const [x, y] = at(frac(l.peer));
      out.push(s("line", { x1: sx, y1: sy, x2: x, y2: y, class: `link link-${l.state}` }, s("title", {}, `${l.state} link to ${l.peer}`)));
    }
    if (succ && succ !== st.id) {
      out.push(s("path", { d: successorArcPath(st.id, succ), class: "succ-arrow", "marker-end": "url(#arrow)" },
        s("title", {}, `successor pointer to ${succ}`)));
    }

    const placed = /** @type {number[][]} */ ([]);
    const nodes = [];
    for (const [id, roles] of known) { // self first (knownPeers' order), so it gets the closest label
      const f = frac(id);
      const [x, y] = at(f);
      const cls = roleClass(roles);
      const anchor = anchorAt(f);
      const [lx, ly, box] = placeLabel(f, anchor, placed);
      placed.push(box);
      const [ax, ay] = at(f, R + 8);
      const [bx, by] = anchor === "start" ? [lx - 2, ly] : anchor === "end" ? [lx + 2, ly] : [lx, ly + (ly > y ? -7 : 7)];
      const far = Math.hypot(lx - x, ly - y) > 24;
      nodes.unshift(s("g", { class: `node node-${cls}` },
        s("title", {}, `${id}\n${[...roles].join(", ")}`),
        far ? s("line", { x1: ax, y1: ay, x2: bx, y2: by, class: "leader" }) : "",
        s("circle", { cx: x, cy: y, r: cls === "self" ? 8 : 6 }),
        s("text", { x: lx, y: ly, "text-anchor": anchor, "dominant-baseline": "middle" }, short(id))));
    }
    out.push(...nodes); // self last, drawn on top

    out.push(
      s("text", { x: CX, y: CY - 8, "text-anchor": "middle", class: "centre" }, `this tab: ${short(st.id)}`),
      s("text", { x: CX, y: CY + 12, "text-anchor": "middle", class: "centre muted-svg" },
        `${known.size - 1} other peer${known.size === 2 ? "" : "s"} known`));
    return out;
  });

  const desc = ringDescription(st);
  const descEl = $("ring-desc");
  if (descEl.textContent !== desc) descEl.textContent = desc;
}
