// DOM helpers shared by the page's modules: element builders, a render cache, the status line and
// the activity log. Everything here touches the document; the pure parts live elsewhere.

import { short } from "./ids.js";
import { page } from "./page-state.js";

const LOG_LIMIT = 50;

export const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * Creates an HTML element.
 * @param {string} tag
 * @param {Record<string, string | boolean>} [attrs]
 * @param {...(Node | string)} children
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false) continue;
    if (k === "class") el.className = String(v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
/**
 * Creates an SVG element.
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 * @param {...(Node | string)} children
 */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

/** Cache of what each element last rendered, to touch the DOM only on change. */
const rendered = new Map();

/** Replaces the children of `el` unless `key` equals what was rendered there last. */
export function update(/** @type {HTMLElement | SVGElement} */ el, /** @type {string} */ key, /** @type {() => (Node | string)[]} */ build) {
  if (rendered.get(el) === key) return;
  rendered.set(el, key);
  el.replaceChildren(...build());
}

/** An id as `<code>` with its short form; the full id in the tooltip. @param {string} id */
export function idCode(id) {
  const self = page.peer && id === page.peer.id;
  return h("span", { class: "idref" },
    h("code", { class: "id", title: id }, short(id)),
    self ? h("span", { class: "muted" }, " (this tab)") : "");
}

/** @param {string} name */
export const quoted = (name) => h("q", {}, name);

/**
 * A value as people know it: its quoted name, or "the value with key 1a2b3c4d…" when the
 * name is unknown (values put before names were kept have none).
 * @param {string | undefined | null} name @param {string} key
 */
export function valueName(name, key) {
  if (name) return quoted(name);
  return h("span", {}, "the value with key ", h("code", { class: "id", title: key ?? "" }, short(key ?? "")), "…");
}

/** @param {"pending"|"ok"|"warn"|"error"} kind @param {string} text */
export function setStatus(kind, text) {
  const el = $("status");
  if (el.textContent === text && el.dataset.kind === kind) return;
  el.dataset.kind = kind;
  el.textContent = text;
}

/** Adds a line to "Recent activity", newest first. @param {"info"|"ok"|"warn"|"error"} kind @param {...(Node|string)} parts */
export function log(kind, ...parts) {
  const now = new Date();
  const li = h("li", { class: `log-${kind}` },
    h("time", { datetime: now.toISOString() }, now.toLocaleTimeString([], { hour12: false })), " ", ...parts);
  const list = $("log");
  list.prepend(li);
  while (list.children.length > LOG_LIMIT) list.lastElementChild?.remove();
}

/** Enables or disables the controls that need a peer in the ring. @param {boolean} on */
export function enableControls(on) {
  for (const id of ["put-file", "get-name", "get-btn", "leave"]) /** @type {HTMLInputElement} */ ($(id)).disabled = !on;
}
