// Churn for the end-to-end tests (issue #5): browser processes that can be SIGKILLed, tabs that die
// without running their pagehide/unload handlers (a crash, or a close with the handlers removed),
// frozen tabs, and the bounded parallel gets that check every tab still reads every file. Bytes
// stay in the pages (lib/files.mjs): only sizes and SHA-256 digests cross into node.
//
// Each fault is one function that works on a tab of either browser (`browserKind`):
//   crash (`prepareCrash`, `crashPage`): Chromium: CDP `Page.crash`, the renderer dies.
//     Firefox: the tab's content process is SIGKILLed (the browser gives each tab its own,
//     found through the browser's chrome scope; see `firefoxTabProcess`). Both are what a real
//     crash does: no handler of the page runs, the browser tears the page's connections down
//     however it does when a renderer/content process dies.
//   freeze (`freezePage`, `thawPage`): Chromium: CDP `Page.setWebLifecycleState` frozen plus
//     `Debugger.pause`. Firefox has no lifecycle freeze; its tab's content process gets SIGSTOP,
//     then SIGCONT: nothing of the page runs, its connections stay (see `freezePage`).
//   close without unload handlers (`closeWithoutUnload`): the same in both.

import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, nextBrowserKind } from './browser.mjs';
import { launchFirefox } from './firefox.mjs';
import { getBlob } from './files.mjs';
import { sleep, waitFor, withTimeout } from './wait.mjs';

/**
 * Prefs of a Firefox whose tabs the churn test crashes and freezes one at a time: a content
 * process per tab (Firefox's default is 8 per browser; the test opens at most 5 tabs in one).
 */
export const FIREFOX_CHURN_PREFS = Object.freeze({ 'dom.ipc.processCount': 16 });

/**
 * A headless browser whose process the test can SIGKILL, of `kind` (else as `E2E_BROWSERS` says,
 * `nextBrowserKind`). Chromium: `chromium.launchServer()` (so its pid is known) with the flags of
 * lib/browser.mjs, and a Browser connected to it over its WebSocket endpoint on 127.0.0.1. Firefox:
 * `launchFirefox` (puppeteer knows the pid) with system access, so a tab's content process can
 * be found, and FIREFOX_CHURN_PREFS. `browser.kind` names the browser.
 * @returns {Promise<{ browser: import('playwright-core').Browser, pid: number, kind: string,
 *   kill: () => Promise<void>, close: () => Promise<void> }>}
 */
export async function launchKillableBrowser({ kind = nextBrowserKind(), ...opts } = {}) {
  let browser;
  let proc;
  let closeBrowser;
  if (kind === 'firefox') {
    browser = await launchFirefox({ systemAccess: true, prefs: FIREFOX_CHURN_PREFS });
    proc = browser.process();
    closeBrowser = () => withTimeout(browser.close(), 10_000, 'browser.close').catch(() => {});
  } else {
    const server = await chromium.launchServer({
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS],
      timeout: 30_000,
      host: '127.0.0.1',
      ...opts,
    });
    proc = server.process();
    try {
      browser = await chromium.connect(server.wsEndpoint(), { timeout: 30_000 });
    } catch (e) {
      await server.kill().catch(() => {});
      throw e;
    }
    browser.kind = 'chromium';
    closeBrowser = async () => {
      await withTimeout(browser.close(), 10_000, 'browser.close').catch(() => {});
      await withTimeout(server.close(), 10_000, 'browserServer.close').catch(() => {});
    };
  }
  let exited = proc.exitCode !== null || proc.signalCode !== null;
  const gone = new Promise((resolve) => proc.once('exit', () => { exited = true; resolve(); }));
  const killGroup = (signal) => {
    // Playwright and puppeteer start the browser in its own process group: take its helpers
    // (zygote, renderers, content processes, utility processes) too, so nothing outlives the test.
    try { process.kill(-proc.pid, signal); } catch { /* gone already */ }
  };
  return {
    browser,
    pid: proc.pid,
    kind,
    /** SIGKILL the browser process (no shutdown of any kind), then its helpers. */
    kill: async () => {
      if (!exited) proc.kill('SIGKILL');
      await withTimeout(gone, 5000, `browser ${proc.pid} exit after SIGKILL`).catch(() => {});
      killGroup('SIGKILL');
    },
    close: async () => {
      killGroup('SIGCONT'); // a tab left frozen (SIGSTOP) would hold the shutdown up
      await closeBrowser();
      if (!exited) {
        proc.kill('SIGKILL');
        await withTimeout(gone, 5000, 'browser exit').catch(() => {});
      }
      killGroup('SIGKILL');
    },
  };
}

/** `chromium` or `firefox`: the browser `peer`'s tab runs in. */
export function browserKind(peer) {
  return peer.page.context().browser()?.kind ?? 'chromium';
}

/**
 * The pid of the content process that runs `peer`'s Firefox tab; throws unless that process runs
 * this tab alone (crashing or stopping it would take other tabs too).
 */
export async function firefoxTabProcess(peer) {
  const { pid, tabs } = await withTimeout(peer.page.contentProcess(), 10_000, `${peer.name}: content process`);
  if (tabs !== 1) throw new Error(`${peer.name}: its content process ${pid} runs ${tabs} tabs; it cannot be crashed or frozen alone`);
  return pid;
}

/** The state letter of process `pid` (`R`, `S`, `T` stopped, `Z` dead…), or null once it is gone. */
function procState(pid) {
  try {
    // "pid (comm) S …": comm may hold spaces and parentheses, the state follows the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/**
 * An init script (`openPeer`'s `setup`) that keeps the page's `pagehide`, `unload` and
 * `beforeunload` listeners in `window.__e2eUnloadListeners`, so `closeWithoutUnload` can remove
 * them first. Compose with other setups: `setup: (page) => Promise.all([a(page), b(page)])`.
 * @param {import('playwright-core').Page} page
 */
export async function trackUnloadListeners(page) {
  await page.addInitScript(() => {
    const kinds = new Set(['pagehide', 'unload', 'beforeunload']);
    const kept = (window.__e2eUnloadListeners = []);
    const add = EventTarget.prototype.addEventListener;
    EventTarget.prototype.addEventListener = function (type, listener, options) {
      if ((this === window || this === document) && kinds.has(type)) kept.push({ target: this, type, listener, options });
      return add.call(this, type, listener, options);
    };
  });
}

/**
 * Closes `peer`'s page without its pagehide/unload handlers running: they are removed first
 * (needs `trackUnloadListeners`), `window.onpagehide`/`onunload` cleared. No `leave()`, so the
 * ring only learns from failure detection (its WebRTC links do close, as the page goes away).
 * Returns how many listeners were removed.
 */
export async function closeWithoutUnload(peer) {
  const removed = await removeUnloadListeners(peer);
  await withTimeout(peer.page.close({ runBeforeUnload: false }), 10_000, `${peer.name}: close`).catch(() => {});
  return removed;
}

/** The first half of `closeWithoutUnload`: removes the page's unload listeners; returns how many. */
export function removeUnloadListeners(peer) {
  return withTimeout(
    peer.page.evaluate(() => {
      const list = window.__e2eUnloadListeners ?? [];
      for (const l of list) l.target.removeEventListener(l.type, l.listener, l.options);
      window.onpagehide = null;
      window.onunload = null;
      window.onbeforeunload = null;
      return list.length;
    }),
    5000,
    `${peer.name}: remove unload listeners`,
  );
}

/**
 * Crashes `peer`'s tab: nothing of the page runs any more, no handler; the other tabs learn only
 * from what the browser does with a dead renderer's connections, or from failure detection.
 * Chromium: CDP `Page.crash`; resolves once playwright saw the crash (or after 5 s). Firefox: its
 * content process is SIGKILLed; resolves once the process is dead (or after 5 s).
 */
export async function crashPage(peer) {
  await (await prepareCrash(peer))();
}

/**
 * `crashPage` in two halves: does the slow part now (Chromium: opens the CDP session; Firefox:
 * finds the tab's content process), returns the function that crashes.
 */
export async function prepareCrash(peer) {
  if (browserKind(peer) === 'firefox') {
    const pid = await firefoxTabProcess(peer);
    return async () => {
      process.kill(pid, 'SIGKILL');
      await waitFor(() => ['Z', 'X', null].includes(procState(pid)), 5000, { what: `${peer.name}: content process ${pid} dead`, interval: 20 }).catch(() => {});
    };
  }
  const session = await peer.page.context().newCDPSession(peer.page);
  return async () => {
    const crashed = new Promise((resolve) => peer.page.once('crash', resolve));
    session.send('Page.crash').catch(() => {}); // never answers: the renderer is gone
    await withTimeout(crashed, 5000, `${peer.name}: crash`).catch(() => {});
  };
}

/** CDP `Page.setWebLifecycleState` of `peer`'s page (Chromium only): `'frozen'` or `'active'`. */
export async function setLifecycle(peer, state) {
  peer.cdp ??= await peer.page.context().newCDPSession(peer.page);
  await withTimeout(peer.cdp.send('Page.setWebLifecycleState', { state }), 5000, `${peer.name}: lifecycle ${state}`);
}

/**
 * Freezes `peer`'s page: none of its script runs until `thawPage`; its connections stay open.
 *
 * Chromium: CDP `Page.setWebLifecycleState` `frozen` and, unless `pauseJs` is false, the page's
 * JavaScript paused in the debugger (CDP `Debugger.pause`, awaited until `Debugger.paused`): in
 * headless Chromium 14x the lifecycle state alone was seen to leave this page's timers running
 * (a page with WebRTC links, Web Locks and IndexedDB), so the pause makes sure nothing of the page
 * runs. The renderer's WebRTC threads go on (ICE, DTLS, SCTP acknowledgements).
 *
 * Firefox has no such state: the tab's own content process gets SIGSTOP, as an OS freezes a
 * process (`pauseJs` has no meaning there). Nothing of the page runs, and nothing else of that
 * process either: ICE and DTLS run in Firefox's socket process and go on, but the data channels'
 * SCTP (in the content process) stops answering. A busy loop in the page would freeze only the
 * script, but burn a core of this 2-core machine for the whole freeze and be cut short by the
 * slow-script guard; SIGSTOP costs nothing. Resolves once the process is stopped.
 */
export async function freezePage(peer, { pauseJs = true } = {}) {
  if (browserKind(peer) === 'firefox') {
    const pid = await firefoxTabProcess(peer);
    process.kill(pid, 'SIGSTOP');
    peer.stoppedPid = pid;
    await waitFor(() => procState(pid) === 'T', 5000, { what: `${peer.name}: content process ${pid} stopped`, interval: 20 });
    return;
  }
  peer.cdp ??= await peer.page.context().newCDPSession(peer.page);
  await setLifecycle(peer, 'frozen');
  if (!pauseJs) return;
  const paused = new Promise((resolve) => peer.cdp.once('Debugger.paused', resolve));
  await withTimeout(peer.cdp.send('Debugger.enable'), 5000, `${peer.name}: Debugger.enable`);
  await withTimeout(peer.cdp.send('Debugger.pause'), 5000, `${peer.name}: Debugger.pause`);
  await withTimeout(paused, 5000, `${peer.name}: Debugger.paused`);
  peer.jsPaused = true;
}

/** Undoes `freezePage`. Chromium: resumes the JavaScript, then lifecycle `active`. Firefox: SIGCONT. */
export async function thawPage(peer) {
  if (peer.stoppedPid) {
    process.kill(peer.stoppedPid, 'SIGCONT');
    peer.stoppedPid = undefined;
    return;
  }
  if (peer.jsPaused) {
    await withTimeout(peer.cdp.send('Debugger.resume'), 5000, `${peer.name}: Debugger.resume`).catch(() => {});
    await withTimeout(peer.cdp.send('Debugger.disable'), 5000, `${peer.name}: Debugger.disable`).catch(() => {});
    peer.jsPaused = false;
  }
  await setLifecycle(peer, 'active');
}

/** Deterministic random numbers in [0, 1) from a 32-bit seed (mulberry32). */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` sizes, log-uniform in [min, max] bytes; the first is `min` and the second `max`. */
export function logUniformSizes(count, min, max, random) {
  const lo = Math.log(min);
  const hi = Math.log(max);
  return Array.from({ length: count }, (_, i) =>
    i === 0 ? min : i === 1 ? max : Math.min(max, Math.max(min, Math.round(Math.exp(lo + random() * (hi - lo))))),
  );
}

/** Runs `fn` over `items` with at most `limit` at a time; results in order. */
export async function mapBounded(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Every tab of `peers` gets every file of `files` ({ name, size, sha256 }) and compares size and
 * SHA-256 (computed in the page). Tabs run in parallel, each with at most `perTab` gets at once.
 * A failed get (rejection, nothing found, wrong bytes, timeout) is tried again after `retryMs`
 * until `deadline` (a Date.now() value); with `retryMs` 0 it is not retried.
 *
 * Returns { ms, failures: [{ tab, file, error }] (the last error of each pair that never
 * succeeded), retried: number of failed attempts, firstErrors: up to 10 of them,
 * doneAt: Map "tab\u0000name" -> ms since `t0` of the success, bytes: bytes got }.
 */
export async function getEverywhere(peers, files, { perTab = 3, retryMs = 0, deadline = Date.now() + 120_000, t0 = Date.now(), getTimeoutMs = 60_000 } = {}) {
  const failures = [];
  const firstErrors = [];
  const doneAt = new Map();
  let retried = 0;
  let bytes = 0;
  const start = Date.now();
  const one = async (peer, file) => {
    for (;;) {
      let error;
      try {
        const left = Math.max(1000, Math.min(getTimeoutMs, deadline - Date.now()));
        const got = await withTimeout(getBlob(peer, file.name), left, `get`);
        if (!got.ok) error = `rejected: ${got.error?.message}`;
        else if (!got.found) error = 'found nothing';
        else if (got.size !== file.size) error = `size ${got.size}, want ${file.size}`;
        else if (got.sha256 !== file.sha256) error = `SHA-256 ${String(got.sha256).slice(0, 12)}…, want ${file.sha256.slice(0, 12)}…`;
      } catch (e) {
        error = String(e?.message ?? e).split('\n')[0];
      }
      if (!error) {
        doneAt.set(`${peer.name}\u0000${file.name}`, Date.now() - t0);
        bytes += file.size;
        return;
      }
      const at = Date.now() - t0;
      if (firstErrors.length < 10) firstErrors.push(`${at} ms ${peer.name}: ${JSON.stringify(file.name)} (${file.size} B): ${error}`);
      if (!retryMs || Date.now() + retryMs >= deadline) {
        failures.push({ tab: peer.name, file: file.name, size: file.size, error });
        return;
      }
      retried++;
      await sleep(retryMs);
    }
  };
  await Promise.all(peers.map((p) => mapBounded(files, perTab, (f) => one(p, f))));
  return { ms: Date.now() - start, failures, retried, firstErrors, doneAt, bytes };
}

/**
 * Victims for a churn step: positions (in the sorted ring of `ids`) that may die together so that
 * no value loses every copy: with R replicas (the primary and its R-1 successors), no R consecutive
 * ring positions may all die. `forced` must die; `extra` more are picked from `candidates`
 * (random order from `random`). Returns the ids picked, or null if no choice works.
 */
export function pickVictims(ids, { forced, candidates, extra, replicas = 3, random = Math.random, tries = 2000 }) {
  const order = [...ids].sort();
  const n = order.length;
  const ok = (dead) => {
    for (let k = 0; k < n; k++) {
      let run = 0;
      for (let j = 0; j < replicas; j++) if (dead.has(order[(k + j) % n])) run++;
      if (run === replicas) return false;
    }
    return true;
  };
  if (!ok(new Set(forced))) return null;
  for (let t = 0; t < tries; t++) {
    const pool = [...candidates];
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    const pick = pool.slice(0, extra);
    if (ok(new Set([...forced, ...pick]))) return pick;
  }
  return null;
}

/**
 * `window.chord.put(name, window.__e2eBlobs[handle], options)` in the page (options: e.g.
 * `{ durability: 1 }`), returning the whole PutResult (`holders` and `durable` included). Never
 * throws for the API's sake: { ok, result, ms } or { ok: false, error: { message, code }, ms }.
 */
export function putFile(peer, name, handle, options = {}) {
  return peer.page.evaluate(
    async ([name, handle, options]) => {
      const blob = window.__e2eBlobs?.[handle];
      if (!blob) throw new Error(`no blob ${handle} in this page`);
      const t0 = performance.now();
      try {
        const r = await window.chord.put(name, blob, options);
        return { ok: true, result: JSON.parse(JSON.stringify(r)), ms: performance.now() - t0 };
      } catch (e) {
        return { ok: false, error: { message: String(e?.message ?? e), code: e?.code ?? null }, ms: performance.now() - t0 };
      }
    },
    [name, handle, options],
  );
}

/**
 * Whether a get's error is the retryable "not sure yet" answer of a ring still settling
 * (`RequestError::NotSure`): never a "not found", and the caller may ask again.
 */
export const isNotSure = (message) => /not[ _]sure|still settling/i.test(String(message ?? ''));

/**
 * Whether a get's error says no holder of the bytes answered ("no tab holding it could be
 * reached", or every one asked lacked them): after a durable put that is a lost file, not a delay.
 */
export const isNoHolder = (message) => /no tab holding it|no tab asked had its bytes|no tab is known to hold it|lack (its|them)/i.test(String(message ?? ''));
