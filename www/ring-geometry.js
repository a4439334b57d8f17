// The ring drawing's geometry and what it shows, from a `state()` snapshot. Pure: no DOM, no peer
// (tests/page/ring-geometry.test.mjs); ring-view.js turns it into SVG.

import { short, frac, cw } from "./ids.js";
import { linkCounts } from "./links.js";

/** @typedef {import("./pkg/chord.js").PeerState} PeerState */

export const CX = 280, CY = 230, R = 145;
const LABEL_W = 56, LABEL_H = 13; // of an 8-digit label at 11px monospace
/** Label spots tried in turn: [distance from the circle, vertical shift]. */
const LABEL_SPOTS = [[16, 0], ...[1, -1, 2, -2, 3, -3, 4, -4].map((k) => [30, k * (LABEL_H + 1)])];

/** Point at fraction `f` of the circle (0 at the top, clockwise) and radius `r`. @returns {[number, number]} */
export function at(/** @type {number} */ f, r = R) {
  const a = 2 * Math.PI * f;
  return [CX + r * Math.sin(a), CY - r * Math.cos(a)];
}

/**
 * Puts a label outside the circle: next to the dot if that overlaps no label
 * placed so far, else further out and shifted up or down until it fits.
 * @param {number} f position on the circle
 * @param {"start"|"middle"|"end"} anchor
 * @param {number[][]} placed boxes [x0, y0, x1, y1] of the labels so far
 * @returns {[number, number, number[]]} label x, y and its box
 */
export function placeLabel(f, anchor, placed) {
  let first = /** @type {[number, number, number[]] | null} */ (null);
  for (const [d, dy] of LABEL_SPOTS) {
    const [ax, ay] = at(f, R + d);
    const x = ax, y = ay + dy;
    const x0 = anchor === "start" ? x : anchor === "end" ? x - LABEL_W : x - LABEL_W / 2;
    const box = [x0 - 2, y - LABEL_H / 2, x0 + LABEL_W + 2, y + LABEL_H / 2];
    first ??= [x, y, box];
    if (!placed.some((b) => overlap(box, b))) return [x, y, box];
  }
  return /** @type {[number, number, number[]]} */ (first); // crowded: overlap next to the dot
}

/** Whether two boxes [x0, y0, x1, y1] overlap. @param {number[]} a @param {number[]} b */
export const overlap = (a, b) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];

/** The text anchor of a label at fraction `f`: to the right of dots on the right half, and so on. @param {number} f */
export function anchorAt(f) {
  const sin = Math.sin(2 * Math.PI * f);
  return sin > 0.3 ? "start" : sin < -0.3 ? "end" : "middle";
}

/**
 * The successor pointer's SVG path: an arc along the circle, clockwise from `from` to `to`,
 * stopping short of the dots.
 * @param {string} from @param {string} to
 */
export function successorArcPath(from, to) {
  const gap = 11 / (2 * Math.PI * R);
  const span = cw(from, to);
  const a = frac(from) + gap, b = frac(from) + Math.max(span - gap, gap + 0.001);
  const [x1, y1] = at(a), [x2, y2] = at(b);
  const large = b - a > 0.5 ? 1 : 0;
  return `M${x1},${y1} A${R},${R} 0 ${large} 1 ${x2},${y2}`;
}

/**
 * Every peer this tab knows, with its roles ("self", "predecessor", "successor", "successor 2",
 * "finger 3–7", "link open", …); this tab first.
 * @param {PeerState} st
 * @returns {Map<string, Set<string>>}
 */
export function knownPeers(st) {
  /** @type {Map<string, Set<string>>} */ const known = new Map();
  const add = (/** @type {string | null} */ id, /** @type {string} */ role) => {
    if (!id) return;
    if (!known.has(id)) known.set(id, new Set());
    known.get(id)?.add(role);
  };
  add(st.id, "self");
  add(st.predecessor, "predecessor");
  st.successors.forEach((id, i) => add(id, i === 0 ? "successor" : `successor ${i + 1}`));
  for (const f of st.fingers) add(f.node, `finger ${f.from === f.to ? f.from : `${f.from}–${f.to}`}`);
  for (const l of st.links) add(l.peer, `link ${l.state}`);
  return known;
}

/** The colour class of a peer's dot from its roles. @param {Set<string>} roles @returns {"self"|"succ"|"pred"|"other"} */
export function roleClass(roles) {
  if (roles.has("self")) return "self";
  if ([...roles].some((r) => r.startsWith("successor"))) return "succ";
  return roles.has("predecessor") ? "pred" : "other";
}

/** The drawing in words, for screen readers (the SVG's `<desc>`). @param {PeerState} st */
export function ringDescription(st) {
  const others = knownPeers(st).size - 1;
  const succ = st.successors[0] ?? null;
  const n = linkCounts(st.links);
  return `This tab ${short(st.id)} at ${(frac(st.id) * 360).toFixed(0)}° of the circle; ` +
    `successor ${succ ? short(succ) : "none"}, predecessor ${st.predecessor ? short(st.predecessor) : "none"}; ` +
    `${others} other peers known, ${n.open} open, ${n.connecting} connecting` +
    `${n.restarting ? ` and ${n.restarting} restarting` : ""} links.`;
}
