// Headless Firefox ESR processes for the end-to-end tests, driven by puppeteer-core over WebDriver
// BiDi (playwright-core drives only its own patched Firefox), behind a small adapter that gives
// them the part of playwright's Browser / BrowserContext / Page API the tests use.
//
// Every profile these start keeps Firefox off the network (FIREFOX_PREFS, next to CHROMIUM_ARGS of
// lib/browser.mjs). Run the tests inside scripts/loopback-only as well (`make test-browser` does).

import puppeteer from 'puppeteer-core';

/** The browser binary (Debian's `firefox-esr` package); `FIREFOX_BIN` overrides. */
export const FIREFOX = process.env.FIREFOX_BIN ?? '/usr/bin/firefox-esr';

/**
 * WebRTC on loopback: the Firefox counterpart of Chromium's `--allow-loopback-in-peer-connection`
 * and `--disable-features=WebRtcHideLocalIpsWithMdns`. The NAT lab leaves these out (its tabs
 * behave as on the internet).
 */
export const FIREFOX_LOOPBACK_PREFS = Object.freeze({
  // WebRTC on loopback. Without a camera/microphone permission Firefox gathers only its
  // default-route address, and the loopback-only namespace has none: offers would carry no
  // candidate (TOOLCHAIN.md). Granting the permission by default lifts that restriction.
  'permissions.default.microphone': 1,
  'permissions.default.camera': 1,
  // Offer 127.0.0.1 / ::1 candidates.
  'media.peerconnection.ice.loopback': true,
  // Host candidates as plain IPs, not mDNS names (no multicast; the NAT lab keeps hiding on).
  'media.peerconnection.ice.obfuscate_host_addresses': false,
});

/** Prefs that keep every Firefox the tests start off the network, with the reason for each. */
export const FIREFOX_OFFLINE_PREFS = Object.freeze({
  // No updates of the browser or its extensions.
  'app.update.enabled': false,
  'app.update.auto': false,
  'extensions.update.enabled': false,
  // No telemetry, health report or studies.
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.server': '',
  'app.normandy.enabled': false,
  'app.shield.optoutstudies.enabled': false,
  // No captive-portal or connectivity probes (they fetch a URL at start).
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  // No Safe Browsing list downloads.
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.downloads.remote.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'browser.safebrowsing.provider.google4.updateURL': '',
  // No remote settings (blocklists, certificate data) and no region look-up.
  'services.settings.server': '',
  'browser.region.update.enabled': false,
  'browser.region.network.url': '',
  // DNS confined as Chromium's `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost`: DNS over
  // HTTPS only (mode 3: no native fallback) to a resolver that does not exist, so every look-up
  // fails without a packet; `localhost` alone is answered natively (from /etc/hosts). The pages,
  // sockets and ICE servers the tests use are IP literals. With mode 5 (DoH off) Firefox still
  // looked up firefox.settings.services.mozilla.com and more (measured in the NAT lab: 10–36 DNS
  // packets in 35 s). No prefetch and no speculative connections either.
  'network.trr.mode': 3,
  'network.trr.uri': 'https://127.0.0.1:9/dns-query',
  'network.trr.excluded-domains': '',
  'network.trr.builtin-excluded-domains': 'localhost',
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'network.http.speculative-parallel-limit': 0,
  'browser.urlbar.speculativeConnect.enabled': false,
  // No first-run pages, new-tab content or search suggestions (each fetches something).
  'browser.startup.homepage_override.mstone': 'ignore',
  'startup.homepage_welcome_url': 'about:blank',
  'browser.newtabpage.enabled': false,
  'browser.newtabpage.activity-stream.feeds.system.topstories': false,
  'browser.newtabpage.activity-stream.feeds.section.topstories': false,
  'browser.search.suggest.enabled': false,
  'browser.search.update': false,
  'browser.discovery.enabled': false,
  'extensions.getAddons.cache.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'media.gmp-manager.updateEnabled': false,
  'media.gmp-gmpopenh264.enabled': false,
  // Let a background tab run its timers at full rate, as Chromium's headless tabs do. With budget
  // throttling off, Firefox clamps a hidden tab's timers to the `…_without_budget_throttling`
  // value (1000 ms by default): without it every tab but the last one opened ran 1 tick a second.
  'dom.min_background_timeout_value': 4,
  'dom.min_background_timeout_value_without_budget_throttling': 4,
  'dom.timeout.enable_budget_timer_throttling': false,
});

/** Prefs for every Firefox profile the tests start outside the NAT lab. */
export const FIREFOX_PREFS = Object.freeze({ ...FIREFOX_LOOPBACK_PREFS, ...FIREFOX_OFFLINE_PREFS });

/** The adapter's page: the subset of playwright's Page the tests call. */
class FirefoxPage {
  constructor(page, context) {
    this.raw = page;
    this.ctx = context;
  }

  context() {
    return this.ctx;
  }

  on(event, fn) {
    if (event === 'crash') return this; // Firefox over BiDi reports no renderer crash event
    this.raw.on(event, fn);
    return this;
  }

  once(event, fn) {
    if (event === 'crash') return this;
    this.raw.once(event, fn);
    return this;
  }

  evaluate(fn, arg) {
    return this.raw.evaluate(fn, arg);
  }

  /** playwright's order: (fn, arg, options). */
  waitForFunction(fn, arg, { timeout, polling } = {}) {
    return this.raw.waitForFunction(fn, { timeout, polling: polling ?? 'raf' }, arg);
  }

  goto(url, { timeout, waitUntil = 'load' } = {}) {
    return this.raw.goto(url, { timeout, waitUntil });
  }

  reload({ timeout, waitUntil = 'load' } = {}) {
    return this.raw.reload({ timeout, waitUntil });
  }

  goBack({ timeout, waitUntil = 'load' } = {}) {
    return this.raw.goBack({ timeout, waitUntil });
  }

  /**
   * playwright's `page.route` for what lib/files.mjs needs: requests whose URL matches `pattern`
   * go to `handler(route)`, where `route.fetch()` fetches the URL from node and
   * `route.fulfill({ response, body, headers })` answers with it; the others go on untouched.
   */
  async route(pattern, handler) {
    await this.raw.setRequestInterception(true);
    this.raw.on('request', (req) => {
      if (!pattern.test(req.url())) {
        req.continue().catch(() => {});
        return;
      }
      const route = {
        fetch: async () => {
          const res = await fetch(req.url());
          const text = await res.text();
          return { status: () => res.status, headers: () => Object.fromEntries(res.headers), text: async () => text };
        },
        fulfill: ({ response, body, headers }) =>
          req.respond({ status: response?.status() ?? 200, headers: headers ?? {}, body }),
      };
      handler(route).catch(() => req.abort().catch(() => {}));
    });
  }

  addInitScript(fn, arg) {
    return this.raw.evaluateOnNewDocument(fn, arg);
  }

  /** PNG bytes (puppeteer answers a Uint8Array; playwright a Buffer). */
  async screenshot(opts) {
    return Buffer.from(await this.raw.screenshot(opts));
  }

  /** The first element matching `selector`, or null: an element handle with `screenshot`, `click`, `boundingBox`. */
  async $(selector) {
    const el = await this.raw.$(selector);
    if (!el) return null;
    return { raw: el, screenshot: async (opts) => Buffer.from(await el.screenshot(opts)), click: (opts) => el.click(opts), boundingBox: () => el.boundingBox() };
  }

  /** Clicks the element `selector` with the mouse (scrolled into view first), as a user would. */
  click(selector) {
    return this.raw.click(selector);
  }

  /** Replaces the value of the input `selector` by typing `value`. */
  fill(selector, value) {
    return this.raw.locator(selector).fill(value);
  }

  /** Makes this the window's active tab (a background tab's page is hidden, and clicks on it hang). */
  bringToFront() {
    return this.raw.bringToFront();
  }

  setViewportSize({ width, height }) {
    return this.raw.setViewport({ width, height });
  }

  /**
   * The OS process that runs this tab's page (its content process), and how many tabs of the
   * browser that process runs (this one included): `{ pid, tabs }`. The churn tests kill or stop
   * it to crash or freeze the tab, so they need `tabs` to be 1. Needs `launchFirefox({ systemAccess: true })`.
   */
  async contentProcess() {
    const out = await this.ctx.owner.chromeCall(CONTENT_PROCESS_OF, this.raw.mainFrame()._id);
    if (!Number.isInteger(out?.pid)) throw new Error(`no content process found for this tab (${JSON.stringify(out)})`);
    return out;
  }

  close(opts) {
    return this.raw.close(opts);
  }
}

/** The adapter's context: a BiDi user context (its own cookies, storage, IndexedDB). */
class FirefoxContext {
  constructor(context, browser) {
    this.raw = context;
    this.owner = browser;
  }

  browser() {
    return this.owner;
  }

  async newPage() {
    return new FirefoxPage(await this.raw.newPage(), this);
  }

  close() {
    return this.raw.close();
  }
}

/**
 * Runs in the browser's privileged (chrome) scope: the content process of the tab whose WebDriver
 * BiDi context id is `id`, and how many tabs of any window that process runs.
 */
const CONTENT_PROCESS_OF = `(id) => {
  const { NavigableManager } = ChromeUtils.importESModule('chrome://remote/content/shared/NavigableManager.sys.mjs');
  const pidOf = (bc) => bc?.currentWindowGlobal?.osPid ?? null;
  const pid = pidOf(NavigableManager.getBrowsingContextById(id));
  let tabs = 0;
  for (const win of Services.wm.getEnumerator('navigator:browser')) {
    for (const b of win.gBrowser.browsers) if (pid !== null && pidOf(b.browsingContext) === pid) tabs++;
  }
  return JSON.stringify({ pid, tabs });
}`;

/** The adapter's browser. `kind` tells the tests which browser a peer runs in. */
class FirefoxBrowser {
  constructor(browser, { systemAccess = false } = {}) {
    this.raw = browser;
    this.kind = 'firefox';
    this.systemAccess = systemAccess;
  }

  /**
   * Calls `fnSource` (a function's source text) with string `args` in the privileged scope of the
   * browser window, over WebDriver BiDi (`moz:scope: chrome`); returns its JSON answer parsed.
   * Only for a browser launched with `systemAccess`.
   */
  async chromeCall(fnSource, ...args) {
    if (!this.systemAccess) throw new Error('this Firefox was not launched with { systemAccess: true }: no chrome scope');
    const conn = this.raw.connection;
    if (!this.chromeContext) {
      const tree = await conn.send('browsingContext.getTree', { 'moz:scope': 'chrome' });
      this.chromeContext = tree.result.contexts[0]?.context;
      if (!this.chromeContext) throw new Error('no chrome browsing context');
    }
    const r = await conn.send('script.callFunction', {
      functionDeclaration: fnSource,
      target: { context: this.chromeContext },
      awaitPromise: true,
      arguments: args.map((value) => ({ type: 'string', value: String(value) })),
    });
    if (r.result.type !== 'success') throw new Error(`chrome scope: ${JSON.stringify(r.result.exceptionDetails?.text ?? r.result)}`);
    return JSON.parse(r.result.result.value);
  }

  async newContext() {
    return new FirefoxContext(await this.raw.createBrowserContext(), this);
  }

  /** The browser's OS process (the churn tests kill it). */
  process() {
    return this.raw.process();
  }

  version() {
    return this.raw.version();
  }

  close() {
    return this.raw.close();
  }
}

/**
 * Starts one headless Firefox ESR process with FIREFOX_PREFS (and `prefs` on top); with
 * `loopback: false`, FIREFOX_OFFLINE_PREFS only (the NAT lab). With `systemAccess`, the remote
 * agent also runs code in the browser's own privileged scope (`--remote-allow-system-access`):
 * `page.contentProcess()` needs it.
 * @param {{ prefs?: Record<string, string | number | boolean>, loopback?: boolean, executablePath?: string, env?: Record<string, string>, systemAccess?: boolean }} [opts]
 * @returns {Promise<FirefoxBrowser>}
 */
export async function launchFirefox({ prefs = {}, loopback = true, executablePath = FIREFOX, env, systemAccess = false } = {}) {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath,
    headless: true,
    protocolTimeout: 60_000,
    timeout: 60_000,
    extraPrefsFirefox: { ...(loopback ? FIREFOX_PREFS : FIREFOX_OFFLINE_PREFS), ...prefs },
    ...(systemAccess ? { args: ['--remote-allow-system-access'] } : {}),
    ...(env ? { env } : {}),
  });
  return new FirefoxBrowser(browser, { systemAccess });
}
