// Puts and gets, each with a row in "Transfers": a progress bar, speed and time left, a Cancel
// button; at most MAX_ACTIVE run at once, the others wait their turn in their rows.

import { $, h, log, idCode, quoted } from "./dom.js";
import { codedError, failureLine, failureText, isCancel, reason } from "./errors.js";
import { size, progressLine, speed, took, SPEED_WINDOW_MS } from "./format.js";
import { short } from "./ids.js";
import { page } from "./page-state.js";
import { addRecentPut, finishRecentPut, saveRecentPuts } from "./recent.js";
import { scheduleRender } from "./render.js";

/** @typedef {import("./pkg/chord.js").PutResult} PutResult */
/** @typedef {import("./recent.js").RecentPut} RecentPut */

/** Values up to this size ride the lookup path; larger ones are blobs (docs/files.md). */
const INLINE_MAX_BYTES = 16384;
/** Transfers running at once; more wait their turn in their rows (each can be cancelled). */
const MAX_ACTIVE = 4;
/** Finished rows kept; older ones go (their download links are revoked). */
const MAX_FINISHED_ROWS = 20;
/** Progress rows are repainted at most this often, however often the peer reports. */
const PAINT_MS = 150;
/** How long a fetched file stays downloadable before its object URL is revoked. */
const DOWNLOAD_KEEP_MS = 15 * 60_000;
/** How long a transfer asked for while the tab reconnects to its ring waits for it. */
const RECONNECT_WAIT_MS = 20_000;
/** Keys drawn on the ring at most. */
const MAX_KEY_MARKS = 8;

/**
 * One put or get and its row.
 * @typedef {object} Transfer
 * @property {"put"|"get"} dir
 * @property {string} name
 * @property {number | undefined} size  known up front for puts
 * @property {AbortController} ctl
 * @property {"waiting"|"active"|"ok"|"none"|"error"|"cancelled"} state
 * @property {{ phase: string, done: number, total: number } | null} progress
 * @property {{ t: number, done: number }[]} samples  recent progress of the current phase
 * @property {number} started    performance.now() when it got its turn
 * @property {boolean} paintQueued
 * @property {string | null} url  object URL of a fetched file
 * @property {ReturnType<typeof setTimeout> | undefined} expire
 * @property {HTMLLIElement} row
 * @property {HTMLProgressElement} bar
 * @property {HTMLElement} text
 * @property {HTMLButtonElement} btn
 * @property {RecentPut | null} recent
 */

/** @type {Transfer[]} */ const transfers = [];
let activeTransfers = 0;
/** Transfers waiting for a turn, oldest first. @type {{ t: Transfer, go: () => void }[]} */
const waitingTransfers = [];

/** `TransferOptions.onProgress` of `t`: records, repaints later (never calls into the peer). @param {Transfer} t */
function progressOf(t) {
  return (/** @type {{ phase: string, done: number, total: number }} */ p) => {
    try {
      const now = performance.now();
      if (!t.progress || t.progress.phase !== p.phase) t.samples = [];
      t.progress = { phase: p.phase, done: Number(p.done) || 0, total: Number(p.total) || 0 };
      t.samples.push({ t: now, done: t.progress.done });
      // Keep one sample older than the window so the speed spans all of it.
      while (t.samples.length > 2 && now - t.samples[1].t > SPEED_WINDOW_MS) t.samples.shift();
      if (!t.paintQueued) {
        t.paintQueued = true;
        setTimeout(() => { t.paintQueued = false; paint(t); }, PAINT_MS);
      }
    } catch (e) {
      console.warn("chord page: progress", e);
    }
  };
}

/** Updates the progress bar and line of a running transfer. @param {Transfer} t */
function paint(t) {
  if (!isRunning(t)) return;
  t.row.dataset.state = t.state;
  let line;
  if (t.state === "waiting") {
    line = "Waiting for another transfer to finish…";
    t.bar.removeAttribute("value");
  } else if (!t.progress || !t.progress.total) {
    line = t.dir === "put" ? "Starting…" : "Looking up the name in the ring…";
    t.bar.removeAttribute("value"); // indeterminate
  } else {
    t.bar.max = t.progress.total;
    t.bar.value = Math.min(t.progress.done, t.progress.total);
    line = progressLine(t.progress, speed(t.samples));
  }
  t.bar.setAttribute("aria-valuetext", line);
  if (t.text.textContent !== line) t.text.textContent = line;
}

/**
 * Ends a transfer: the bar goes, the line shows the outcome, Cancel becomes Dismiss.
 * @param {Transfer} t @param {"ok"|"none"|"error"|"cancelled"} state @param {...(Node|string)} parts
 */
function settle(t, state, ...parts) {
  t.state = state;
  t.row.dataset.state = state;
  t.bar.remove();
  t.text.replaceChildren(...parts);
  t.btn.disabled = false;
  t.btn.textContent = "Dismiss";
  t.btn.setAttribute("aria-label", `Dismiss: ${t.dir === "put" ? "store" : "get"} “${t.name}”`);
  $("announce").textContent = `${t.dir === "put" ? "Store" : "Get"} “${t.name}”: ${t.text.textContent}`;
  showTransferList();
  trimTransfers();
}

/** Elapsed time and mean speed of a finished transfer. @param {Transfer} t @param {number} bytes */
const tookText = (t, bytes) => took((performance.now() - t.started) / 1000, bytes);

/** Why this tab cannot transfer now, or "" when it can. */
function notInRing() {
  if (page.peer && page.phase === "joined") return "";
  return `This tab is not in the ring ${page.phase === "left" ? "any more" : "yet"}.`;
}

/**
 * Resolves once the peer is in its ring: at once, or after a reconnect (its status back to
 * "joined"); rejects with code `not_joined` when the reconnect takes over RECONNECT_WAIT_MS or the
 * transfer is cancelled meanwhile (code `cancelled`).
 * @param {Transfer} t
 */
async function ringReady(t) {
  const deadline = performance.now() + RECONNECT_WAIT_MS;
  let said = false;
  for (;;) {
    const status = page.peer?.state().status;
    if (status === "joined") return;
    if (status === "left" || page.phase !== "joined" || performance.now() > deadline) {
      throw codedError("not_joined", status === "left" || page.phase === "left"
        ? "This tab left the ring."
        : "This tab lost its ring and is still reconnecting; try again in a moment.");
    }
    if (!said) { said = true; t.text.textContent = "Waiting for this tab to reconnect to the ring…"; }
    if (t.ctl.signal.aborted) throw codedError("cancelled", "Cancelled while waiting for the ring.");
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Creates the row of a transfer at the top of the list.
 * @param {"put"|"get"} dir @param {string} name @param {number | undefined} bytes
 * @returns {Transfer}
 */
function newTransfer(dir, name, bytes) {
  const verb = dir === "put" ? "Store" : "Get";
  const bar = /** @type {HTMLProgressElement} */ (h("progress", { "aria-label": `${verb} “${name}”` }));
  const text = h("p", { class: "xfer-text" });
  const btn = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "secondary small" }, "Cancel"));
  btn.setAttribute("aria-label", `Cancel: ${verb.toLowerCase()} “${name}”`);
  const row = /** @type {HTMLLIElement} */ (h("li", { class: "xfer", "data-dir": dir },
    h("div", { class: "xfer-head" },
      h("span", { class: "xfer-verb" }, verb), " ",
      h("q", { class: "xfer-name", title: name }, name),
      bytes === undefined ? "" : h("span", { class: "muted" }, ` ${size(bytes)}`),
      btn),
    bar, text));
  /** @type {Transfer} */
  const t = {
    dir, name, size: bytes, ctl: new AbortController(), state: "waiting", progress: null, samples: [],
    started: 0, paintQueued: false, url: null, expire: undefined, row, bar, text, btn, recent: null,
  };
  btn.addEventListener("click", () => {
    if (t.state === "waiting" || t.state === "active") {
      t.ctl.abort();
      btn.disabled = true;
      btn.textContent = "Cancelling…";
    } else {
      removeTransfer(t);
    }
  });
  transfers.unshift(t);
  $("transfers").prepend(row);
  showTransferList();
  paint(t);
  return t;
}

/** Hides the "nothing yet" line and shows "Clear finished" when there is something to clear. */
function showTransferList() {
  $("transfers-empty").hidden = transfers.length > 0;
  $("clear-finished").hidden = !transfers.some((t) => !isRunning(t));
}

const isRunning = (/** @type {Transfer} */ t) => t.state === "waiting" || t.state === "active";

/** Removes every finished row. */
export function clearFinished() {
  for (const t of transfers.filter((t) => !isRunning(t))) removeTransfer(t);
}

/** Removes a finished row and frees its download. @param {Transfer} t */
function removeTransfer(t) {
  const i = transfers.indexOf(t);
  if (i >= 0) transfers.splice(i, 1);
  if (t.row.contains(document.activeElement)) $("transfers-h").focus?.();
  t.row.remove();
  revoke(t);
  showTransferList();
}

/** Revokes the object URL of a fetched file. @param {Transfer} t */
function revoke(t) {
  clearTimeout(t.expire);
  if (t.url) URL.revokeObjectURL(t.url);
  t.url = null;
}

/** Drops the oldest finished rows beyond MAX_FINISHED_ROWS. */
function trimTransfers() {
  const finished = transfers.filter((t) => !isRunning(t));
  for (const t of finished.slice(MAX_FINISHED_ROWS)) removeTransfer(t);
}

/** Waits for a turn (at most MAX_ACTIVE at once); rejects if cancelled while waiting. @param {Transfer} t */
function takeTurn(t) {
  if (activeTransfers < MAX_ACTIVE) {
    activeTransfers++;
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const entry = { t, go: resolve };
    waitingTransfers.push(entry);
    t.ctl.signal.addEventListener("abort", () => {
      const i = waitingTransfers.indexOf(entry);
      if (i >= 0) waitingTransfers.splice(i, 1);
      reject(new DOMException("Cancelled before it started", "AbortError"));
    }, { once: true });
  });
}

/** Hands this turn to the oldest waiting transfer. */
function endTurn() {
  const next = waitingTransfers.shift();
  if (next) next.go();
  else activeTransfers--;
}

// ---- put ----------------------------------------------------------------------

/** Stores files; they run side by side, MAX_ACTIVE at a time. @param {File[]} files */
export function putFiles(files) {
  for (const file of files) putFile(file);
}

/** @param {File} file */
async function putFile(file) {
  const t = newTransfer("put", file.name, file.size);
  const recent = addRecentPut(file.name, file.size);
  t.recent = recent;
  const blocked = notInRing();
  if (blocked) {
    settle(t, "error", blocked);
    finishRecentPut(recent, "failed", blocked);
    return;
  }
  try {
    await takeTurn(t);
  } catch {
    settle(t, "cancelled", "Cancelled before it started.");
    finishRecentPut(recent, "cancelled");
    return;
  }
  t.state = "active";
  t.started = performance.now();
  recent.status = "storing";
  saveRecentPuts();
  paint(t);
  try {
    await ringReady(t);
    const peer = page.peer;
    if (!peer) throw codedError("not_joined", notInRing());
    /** @type {PutResult} */
    const r = await peer.put(file.name, file, { onProgress: progressOf(t), signal: t.ctl.signal });
    const bytes = typeof r.size === "number" ? r.size : file.size;
    // Files over INLINE_MAX_BYTES go over a direct link (none when this tab is the primary),
    // so their hop count (0) says nothing.
    const hops = typeof r.hops !== "number" ? ""
      : bytes <= INLINE_MAX_BYTES ? `, ${r.hops} hop${r.hops === 1 ? "" : "s"}`
      : r.node === peer.id ? "" : ", over a direct link";
    settle(t, "ok", `Stored as version ${r.version?.seq ?? "?"}`,
      r.version?.writer ? ` by ${short(r.version.writer)}` : "",
      `, ${size(bytes)}, primary `, idCode(r.node), hops, tookText(t, bytes), ".");
    log("ok", "Stored ", quoted(file.name), ` (${size(bytes)}) as version ${r.version?.seq ?? "?"} on `, idCode(r.node), hops);
    Object.assign(recent, { key: r.key, seq: r.version?.seq, writer: r.version?.writer, size: bytes });
    finishRecentPut(recent, "stored");
    rememberKey(file.name, r.key);
  } catch (e) {
    if (isCancel(e)) {
      settle(t, "cancelled", reason(e) || "Cancelled.");
      log("info", "Cancelled storing ", quoted(file.name));
      finishRecentPut(recent, "cancelled");
    } else {
      const msg = failureText(e);
      settle(t, "error", msg);
      log("error", failureLine("store", file.name, msg));
      finishRecentPut(recent, "failed", msg);
    }
  } finally {
    endTurn();
  }
}

/** Remembers a stored name for the get box and the drawing. @param {string} name @param {string} key */
export function rememberKey(name, key) {
  const keys = page.storedKeys;
  const i = keys.findIndex((k) => k.name === name);
  if (i >= 0) keys.splice(i, 1);
  keys.push({ name, key });
  if (keys.length > MAX_KEY_MARKS) keys.shift();
  $("known-names").replaceChildren(...keys.map((k) => h("option", { value: k.name })));
  scheduleRender();
}

// ---- get ----------------------------------------------------------------------

/** @param {string} name */
export async function getFile(name) {
  if (!name) return; // the input is `required`; the browser says so
  const t = newTransfer("get", name, undefined);
  const blocked = notInRing();
  if (blocked) { settle(t, "error", blocked); return; }
  try {
    await takeTurn(t);
  } catch {
    settle(t, "cancelled", "Cancelled before it started.");
    return;
  }
  t.state = "active";
  t.started = performance.now();
  paint(t);
  try {
    await ringReady(t);
    if (!page.peer) throw codedError("not_joined", notInRing());
    const value = await page.peer.get(name, { onProgress: progressOf(t), signal: t.ctl.signal });
    if (value === undefined || value === null) {
      settle(t, "none", "Nothing is stored under ", quoted(name), ".");
      log("warn", "Nothing is stored under ", quoted(name));
      return;
    }
    // The peer resolves to a Blob; an older build gave a Uint8Array.
    const blob = value instanceof Blob ? value : new Blob([value]);
    t.url = URL.createObjectURL(blob);
    const link = h("a", { href: t.url, download: name, class: "download" }, "Save ", quoted(name));
    settle(t, "ok", `Got ${size(blob.size)}${tookText(t, blob.size)}. `, link);
    log("ok", "Got ", quoted(name), ` (${size(blob.size)})`);
    // The blob stays in memory while it can be saved; free it after a while.
    t.expire = setTimeout(() => {
      revoke(t);
      link.replaceWith(h("span", { class: "muted" }, "The download link has expired; get the file again to save it."));
    }, DOWNLOAD_KEEP_MS);
  } catch (e) {
    if (isCancel(e)) {
      settle(t, "cancelled", reason(e) || "Cancelled.");
      log("info", "Cancelled getting ", quoted(name));
    } else {
      const msg = failureText(e);
      settle(t, "error", msg);
      log("error", failureLine("get", name, msg));
    }
  } finally {
    endTurn();
  }
}
