// Headless browser processes and peer pages for the end-to-end tests: Chromium (playwright-core)
// and Firefox ESR (lib/firefox.mjs, puppeteer-core over WebDriver BiDi, behind an adapter with the
// same API). `E2E_BROWSERS` picks which ones `launchBrowser` starts: `chromium` (the default),
// `firefox`, or `mixed` (Chromium and Firefox in turn, Chromium first), so every suite that uses
// it runs on Firefox and on mixed rings unchanged.
//
// Every launch uses the flags of TOOLCHAIN.md (Chromium) or its prefs (Firefox, FIREFOX_PREFS):
// without them the browser sends mDNS and DNS traffic off the machine. Run the tests inside
// scripts/loopback-only as well (`make test-browser` does).

import { chromium } from 'playwright-core';
import { launchFirefox } from './firefox.mjs';
import { GiveUp, waitFor, withTimeout } from './wait.mjs';

/** What `launchBrowser` starts: `chromium`, `firefox` or `mixed` (`E2E_BROWSERS`). */
export const E2E_BROWSERS = process.env.E2E_BROWSERS ?? 'chromium';
if (!['chromium', 'firefox', 'mixed'].includes(E2E_BROWSERS)) {
  throw new Error(`E2E_BROWSERS=${E2E_BROWSERS}: expected chromium, firefox or mixed`);
}
let launches = 0;
/**
 * The kind of the next browser to start as `E2E_BROWSERS` says (`mixed`: Chromium and Firefox in
 * turn, Chromium first); every launch, `launchBrowser` or lib/churn.mjs's, takes its turn here.
 * @returns {'chromium' | 'firefox'}
 */
export function nextBrowserKind() {
  const n = launches++;
  return E2E_BROWSERS === 'mixed' ? (n % 2 === 0 ? 'chromium' : 'firefox') : E2E_BROWSERS;
}
/** The browsers `launchBrowser` starts, in words for test titles. */
export const BROWSERS_LABEL = { chromium: 'Chromium', firefox: 'Firefox', mixed: 'Chromium and Firefox' }[E2E_BROWSERS];

/** The browser binary (Debian's `chromium` package); `CHROMIUM_BIN` overrides. */
export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** Automation hygiene: no sandbox (root), no GPU, no background traffic (also the NAT lab's). */
export const AUTOMATION_ARGS = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
]);

/** Flags for every Chromium the tests start. */
export const CHROMIUM_ARGS = Object.freeze([
  // No DNS look-ups except of the loopback names (the page must still load from 127.0.0.1).
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
  // ICE candidates as plain IPs, no mDNS names (and so no multicast).
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  // These two together make Chromium offer 127.0.0.1 / ::1 candidates.
  '--allow-loopback-in-peer-connection',
  '--use-fake-ui-for-media-stream',
  ...AUTOMATION_ARGS,
]);

/**
 * Starts one headless browser process: `kind` (`chromium` or `firefox`), else as `E2E_BROWSERS`
 * says. The browser's `kind` property names it. Chromium takes playwright's launch options.
 * @param {{ kind?: 'chromium' | 'firefox' } & import('playwright-core').LaunchOptions} [opts]
 * @returns {Promise<import('playwright-core').Browser & { kind: string }>}
 */
export async function launchBrowser({ kind, ...opts } = {}) {
  const turn = nextBrowserKind(); // an explicit kind still takes its turn, as it always did
  kind ??= turn;
  if (kind === 'firefox') return launchFirefox();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
    timeout: 30_000,
    ...opts,
  });
  browser.kind = 'chromium';
  return browser;
}

/** Closes `browser`, giving up after `ms` (the namespace or process exit reaps a stuck one). */
export async function closeBrowser(browser, ms = 10_000) {
  await withTimeout(browser.close(), ms, 'browser.close').catch(() => {});
}

/**
 * @typedef {object} Peer
 * @property {string} name   for messages
 * @property {string} id     the peer's Chord id, 40 hex digits
 * @property {import('playwright-core').Page} page
 * @property {import('playwright-core').BrowserContext} context
 * @property {string[]} logs the page's console output and errors
 * @property {() => Promise<any>} state  `window.chord.state()`
 */

/**
 * Opens the peer page `SERVER/?loopback=1&ring=RING&test=1` in a fresh context of `browser` and waits
 * for `window.chordReady` (the peer has joined its ring). `test=1` turns on the page's timings for
 * tests and benchmarks (`window.chordJoinMs`, … — www/test-hooks.js); a user's page has none. Rejects with the page's reason if the
 * join fails, or after `timeoutMs`.
 *
 * `setup(page)`, if given, runs before the page is loaded (e.g. `recordChordEvents` of lib/files.mjs).
 * `baseUrl` replaces `server.url`; `loopback: false` leaves out `loopback=1` (the NAT lab).
 * With `expectFailure`, a failed join resolves too: the peer then has
 * `result: { ok, reason, stack, ms }` (`id` too when it joined).
 *
 * @param {import('playwright-core').Browser} browser
 * @param {{ server?: { url: string }, baseUrl?: string, loopback?: boolean, ring: string, name?: string,
 *   params?: Record<string, string>, timeoutMs?: number, setup?: (page: import('playwright-core').Page) => Promise<void>,
 *   expectFailure?: boolean }} opts
 * @returns {Promise<Peer>}
 */
export async function openPeer(
  browser,
  { server, baseUrl = server?.url, loopback = true, ring, name = 'peer', params = {}, timeoutMs = 30_000, setup, expectFailure = false },
) {
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const context = await browser.newContext();
  const page = await context.newPage();
  const logs = [];
  const stamp = () => new Date().toISOString().slice(11, 23);
  page.on('console', (m) => logs.push(`${stamp()} [${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`${stamp()} [pageerror] ${e.stack ?? e.message}`));
  page.on('crash', () => logs.push(`${stamp()} [crash] the page crashed`));
  const query = new URLSearchParams({ ...(loopback ? { loopback: '1' } : {}), ring, test: '1', ...params });
  const url = `${baseUrl}/?${query}`;
  const peer = { name, id: '', page, context, logs, url, state: () => page.evaluate(() => window.chord.state()) };
  const t0 = Date.now();
  try {
    if (setup) await setup(page);
    await page.goto(url, { timeout: left(), waitUntil: 'load' });
    await page.waitForFunction(() => window.chordReady !== undefined, null, { timeout: left(), polling: 50 });
    const joined = await withTimeout(
      page.evaluate(async () => {
        try {
          await window.chordReady;
          return { ok: true, id: window.chord.id };
        } catch (e) {
          return { ok: false, reason: String(e?.message ?? e), stack: String(e?.stack ?? ''), full: String(e?.stack ?? e?.message ?? e) };
        }
      }),
      left(),
      `${name}: window.chordReady`,
    );
    joined.ms = Date.now() - t0;
    const { full, ...result } = joined;
    if (expectFailure) {
      peer.result = result;
      return peer;
    }
    if (!joined.ok) throw new Error(`${name}: joining failed after ${joined.ms} ms: ${full}`);
    peer.id = String(joined.id).toLowerCase();
  } catch (e) {
    e.message += `\n--- ${name} page log (${url}) ---\n${logs.join('\n')}`;
    await context.close().catch(() => {});
    throw e;
  }
  return peer;
}

/**
 * `window.chord.put(name, bytes)` in the page; the bytes cross as base64.
 * @param {Peer} peer
 * @param {string} name
 * @param {Uint8Array} bytes
 * @returns {Promise<{ key: string, node: string, hops: number }>}
 */
export function putBytes(peer, name, bytes) {
  return peer.page.evaluate(
    async ([name, b64]) => {
      const bin = atob(b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const r = await window.chord.put(name, bytes);
      return { key: r.key, node: r.node, hops: r.hops };
    },
    [name, Buffer.from(bytes).toString('base64')],
  );
}

/**
 * `window.chord.get(name)` in the page: the value as a Buffer, or `undefined` if absent.
 * The page may answer a Blob (docs/files.md) or a Uint8Array (before issue #4); throws if it
 * returns anything else.
 * @param {Peer} peer
 * @param {string} name
 * @returns {Promise<Buffer | undefined>}
 */
export async function getBytes(peer, name) {
  const r = await peer.page.evaluate(async (name) => {
    let v = await window.chord.get(name);
    if (v === undefined) return { kind: 'undefined' };
    if (v instanceof Blob) v = new Uint8Array(await v.arrayBuffer());
    else if (!(v instanceof Uint8Array)) return { kind: Object.prototype.toString.call(v) };
    let s = '';
    for (let i = 0; i < v.length; i += 0x8000) s += String.fromCharCode.apply(null, v.subarray(i, i + 0x8000));
    return { kind: 'Uint8Array', b64: btoa(s) };
  }, name);
  if (r.kind === 'undefined') return undefined;
  if (r.kind !== 'Uint8Array') throw new Error(`${peer.name}: get(${JSON.stringify(name)}) returned ${r.kind}`);
  return Buffer.from(r.b64, 'base64');
}

/**
 * Waits until `peer`'s page shows a link to `other` as `open` (and, if given, signaled `via`).
 * @param {Peer} peer
 * @param {string} other  peer id
 * @param {{ via?: 'server' | 'ring', timeoutMs?: number }} [opts]
 */
export async function waitForLink(peer, other, { via, timeoutMs = 30_000 } = {}) {
  let last;
  return waitFor(
    async () => {
      const st = await peer.state();
      if (st.status === 'left') throw new GiveUp(`${peer.name} left the ring`);
      last = st.links;
      const l = st.links.find((l) => l.peer === other);
      return l && l.state === 'open' && (via === undefined || l.via === via) ? l : null;
    },
    timeoutMs,
    {
      what: `${peer.name}: link to ${other.slice(0, 8)} open${via ? ` via ${via}` : ''}`,
      detail: () => JSON.stringify(last),
    },
  );
}
