// Issue 14, end to end: Firefox ESR as a first-class peer next to Chromium, each role taken by a
// Firefox tab on purpose (the whole suite also runs with E2E_BROWSERS=firefox and =mixed, where the
// roles fall as they fall):
//   - a Firefox tab founds a ring and introduces a Chromium newcomer; in a second ring a Chromium
//     tab introduces a Firefox newcomer;
//   - a ring of two Firefox processes and one Chromium process: correct, and files of several MiB
//     cross Firefox↔Chromium links both ways byte-identical, held by a Firefox tab and by a Chromium
//     tab;
//   - the Firefox holder reloads (same id, the file still there), then closes (its neighbours
//     repair the ring at once, the files survive);
//   - 4 tabs of a Firefox with its default background timer throttling, 3 of them hidden: the
//     peer's timer runs in a worker, the ring is correct, and puts and gets work;
//   - with the server killed, a link between a Firefox and a Chromium tab is signaled through the
//     ring.
//
// Needs: target/release/chord-signaling, www/pkg (`make web server`), /usr/bin/chromium,
// /usr/bin/firefox-esr, `npm ci` here. Run it inside scripts/loopback-only (`make test-browser`).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { steps } from './lib/steps.mjs';
import { launchFirefox } from './lib/firefox.mjs';
import { closeBrowser, getBytes, launchBrowser, openPeer, putBytes, waitForLink } from './lib/browser.mjs';
import { big, keyOf, ringProblems, short, successorOf } from './lib/ring.mjs';
import { fetchJson, ROOT, SERVER_BIN, startServer, WWW } from './lib/server.mjs';
import { waitFor, withTimeout } from './lib/wait.mjs';

const RING = `ff-${process.pid}-${Date.now().toString(36)}`;
const RING2 = `${RING}-2`;
const LOG_DIR = path.join(ROOT, 'out', 'e2e');
const MIB = 1 << 20;

let server;
/** Two Firefox processes and one Chromium process. */
const browsers = { ff: [], cr: null };
/** The main ring's tabs; `kind` is the browser they run in. */
const peers = [];
/** Tabs of the second ring (a Chromium introducer, a Firefox newcomer). */
const others = [];
const step = steps();

const states = (list = peers) => Promise.all(list.map((p) => withTimeout(p.state(), 5000, `${p.name}.state()`)));

async function waitForCorrectRing(list, ring, timeoutMs) {
  let last = [];
  await waitFor(async () => {
    last = ringProblems(await states(list), { ring });
    return last.length === 0;
  }, timeoutMs, { what: `a correct ring of ${list.length} tabs`, interval: 250, detail: () => `\n    ${last.join('\n    ')}` });
}

async function open(kind, browser, name, ring = RING) {
  const p = await openPeer(browser, { server, ring, name });
  p.kind = kind;
  return p;
}

/** A name for `base` whose key's successor (its primary) is a tab running in `kind`. */
function nameHeldBy(base, kind) {
  const succ = successorOf(peers.map((p) => p.id));
  const ids = new Set(peers.filter((p) => p.kind === kind).map((p) => p.id));
  for (let i = 1; ; i++) {
    const name = `${base} #${i}`;
    if (ids.has(succ(big(keyOf(name))))) return name;
  }
}

async function expectEverywhere(file, list = peers) {
  for (const p of list) {
    const got = await withTimeout(getBytes(p, file.name), 60_000, `${p.name}: get(${JSON.stringify(file.name)})`);
    assert.ok(got !== undefined, `${p.name} (${p.kind}): get(${JSON.stringify(file.name)}) found nothing`);
    assert.equal(got.length, file.bytes.length, `${p.name} (${p.kind}): length of ${file.name}`);
    assert.ok(got.equals(file.bytes), `${p.name} (${p.kind}): bytes of ${file.name} differ`);
  }
}

describe('Firefox and Chromium in one ring (issue 14)', { timeout: 420_000 }, () => {
  before(async () => {
    for (const f of [SERVER_BIN, path.join(WWW, 'pkg', 'chord_bg.wasm')]) assert.ok(existsSync(f), `${f} is missing: make web server`);
    server = await startServer();
    const [f0, f1, c] = await Promise.all([launchBrowser({ kind: 'firefox' }), launchBrowser({ kind: 'firefox' }), launchBrowser({ kind: 'chromium' })]);
    browsers.ff.push(f0, f1);
    browsers.cr = c;
  });

  after(async () => {
    const report = [`ring ${RING}`];
    for (const p of [...peers, ...others]) {
      const st = await withTimeout(p.state(), 3000, 'state').catch((e) => `(${e.message})`);
      report.push(`--- ${p.name} (${p.kind}) ${p.id}`, JSON.stringify(st, null, 1), ...p.logs);
    }
    report.push('--- server', ...(server?.log ?? []));
    try {
      mkdirSync(LOG_DIR, { recursive: true });
      writeFileSync(path.join(LOG_DIR, 'firefox.log'), `${report.join('\n')}\n`);
    } catch {
      // best effort
    }
    await Promise.all([...browsers.ff, browsers.cr].filter(Boolean).map((b) => closeBrowser(b)));
    await server?.stop();
  });

  step('a Firefox tab founds a ring and introduces a Chromium tab; a Chromium tab introduces a Firefox tab', 90_000, async (t) => {
    const f0 = await open('firefox', browsers.ff[0], 'F0');
    peers.push(f0);
    const c0 = await open('chromium', browsers.cr, 'C0');
    peers.push(c0);
    // The only member introduced the newcomer: their link was signaled through the server.
    await waitForLink(c0, f0.id, { via: 'server', timeoutMs: 10_000 });
    const c1 = await open('chromium', browsers.cr, 'C1', RING2);
    others.push(c1);
    const f1 = await open('firefox', browsers.ff[1], 'F1', RING2);
    others.push(f1);
    await waitForLink(f1, c1.id, { via: 'server', timeoutMs: 10_000 });
    await waitForCorrectRing(others, RING2, 20_000);
    const file = { name: 'from the Firefox newcomer.bin', bytes: randomBytes(300_000) };
    await putBytes(f1, file.name, file.bytes);
    await expectEverywhere(file, others);
    t.diagnostic(`F0 ${short(f0.id)} introduced C0 ${short(c0.id)}; C1 ${short(c1.id)} introduced F1 ${short(f1.id)}`);
  });

  step('two Firefox processes and a Chromium process form one correct ring', 90_000, async () => {
    peers.push(await open('firefox', browsers.ff[1], 'F2'));
    peers.push(await open('chromium', browsers.cr, 'C2'));
    peers.push(await open('firefox', browsers.ff[0], 'F3'));
    await waitForCorrectRing(peers, RING, 30_000);
  });

  const files = [];
  step('files of several MiB cross Firefox↔Chromium both ways, held by Firefox and by Chromium tabs', 180_000, async (t) => {
    const c0 = peers.find((p) => p.name === 'C0');
    const f0 = peers.find((p) => p.name === 'F0');
    const toFirefox = { name: nameHeldBy('put in Chromium, held in Firefox.bin', 'firefox'), bytes: randomBytes(4 * MIB + 123) };
    const toChromium = { name: nameHeldBy('put in Firefox, held in Chromium.bin', 'chromium'), bytes: randomBytes(3 * MIB + 45) };
    for (const [from, f] of [[c0, toFirefox], [f0, toChromium]]) {
      const r = await withTimeout(putBytes(from, f.name, f.bytes), 120_000, `${from.name}: put ${f.name}`);
      const holder = peers.find((p) => p.id === r.node);
      t.diagnostic(`${from.name} put ${f.bytes.length} bytes; primary ${holder?.name} (${holder?.kind})`);
      files.push({ ...f, holder: r.node });
      await expectEverywhere(f);
    }
    assert.equal(peers.find((p) => p.id === files[0].holder)?.kind, 'firefox', 'the first file is held by a Firefox tab');
    assert.equal(peers.find((p) => p.id === files[1].holder)?.kind, 'chromium', 'the second file is held by a Chromium tab');
  });

  step('the Firefox holder reloads: same id, the file still there', 120_000, async (t) => {
    const holder = peers.find((p) => p.id === files[0].holder);
    const before = holder.id;
    await withTimeout(holder.page.reload({ waitUntil: 'load' }), 20_000, `${holder.name}: reload`);
    const id = await withTimeout(holder.page.evaluate(async () => (await window.chordReady).id), 30_000, `${holder.name}: rejoin`);
    assert.equal(String(id).toLowerCase(), before, 'the reloaded Firefox tab rejoined with its id');
    await waitForCorrectRing(peers, RING, 30_000);
    await expectEverywhere(files[0]);
    t.diagnostic(`${holder.name} reloaded and rejoined as ${short(before)}`);
  });

  step('the Firefox holder closes: the ring is correct again and the files survive', 120_000, async (t) => {
    const holder = peers.find((p) => p.id === files[0].holder);
    const closedAt = Date.now();
    await withTimeout(holder.page.close({ runBeforeUnload: true }), 10_000, `${holder.name}: close`);
    peers.splice(peers.indexOf(holder), 1);
    // At once, as in Chromium: the page leaves on beforeunload, whose notices Firefox delivers.
    let problems = [];
    await waitFor(async () => {
      problems = ringProblems(await states(), { ring: RING, fingers: false });
      return problems.length === 0;
    }, 3_000, { what: `correct neighbours among the ${peers.length} remaining tabs within 3 s`, interval: 100, detail: () => problems.join('; ') });
    const neighboursMs = Date.now() - closedAt;
    await waitForCorrectRing(peers, RING, 30_000);
    t.diagnostic(`neighbours correct ${neighboursMs} ms and the whole ring ${Date.now() - closedAt} ms after ${holder.name} closed`);
    for (const f of files) await expectEverywhere(f);
  });

  step("hidden Firefox tabs keep their pace under Firefox's own background timer throttling", 90_000, async (t) => {
    // FIREFOX_PREFS lift the throttling for the harness's sake (lib/firefox.mjs); here it is back
    // at Firefox's defaults. The peer's timer runs in a worker, which Firefox does not throttle.
    const throttled = await launchFirefox({
      prefs: {
        'dom.min_background_timeout_value': 1000,
        'dom.min_background_timeout_value_without_budget_throttling': 1000,
        'dom.timeout.enable_budget_timer_throttling': true,
      },
    });
    try {
      const ring = `${RING}-bg`;
      const tabs = [];
      for (let i = 0; i < 4; i++) tabs.push(await openPeer(throttled, { server, ring, name: `B${i}` }));
      const seen = await Promise.all(tabs.map((p) => p.page.evaluate(() => [document.visibilityState, window.chord.state().timer])));
      t.diagnostic(`visibility and timer: ${JSON.stringify(seen)}`);
      assert.ok(seen.filter(([v]) => v === 'hidden').length >= 3, 'the tabs opened before the last one are hidden');
      assert.deepEqual(seen.map(([, timer]) => timer), ['worker', 'worker', 'worker', 'worker'], 'the peer timer runs in a worker');
      const t0 = Date.now();
      await waitForCorrectRing(tabs, ring, 20_000);
      const ringMs = Date.now() - t0;
      const took = [];
      for (const [i, p] of tabs.entries()) {
        const file = { name: `hidden ${i}.bin`, bytes: randomBytes(4096) };
        const s0 = Date.now();
        await withTimeout(putBytes(p, file.name, file.bytes), 10_000, `${p.name}: put`);
        const got = await withTimeout(getBytes(tabs[(i + 1) % tabs.length], file.name), 10_000, `get from ${tabs[(i + 1) % tabs.length].name}`);
        assert.ok(got?.equals(file.bytes), `${file.name}: the bytes got from a hidden tab differ`);
        took.push(Date.now() - s0);
      }
      t.diagnostic(`throttled Firefox, 3 of 4 tabs hidden: ring correct after ${ringMs} ms; 4 KiB put + get ${took.join(', ')} ms`);
    } finally {
      await closeBrowser(throttled);
    }
  });

  step('with the server killed, a Firefox tab links to a Chromium tab through the ring', 90_000, async (t) => {
    await server.kill('SIGKILL');
    await assert.rejects(fetchJson(`${server.url}/stats`, 1000), 'the server is gone');
    const f = peers.find((p) => p.kind === 'firefox');
    const st = await f.state();
    const target = st.links.find((l) => l.state === 'open' && l.wanted && peers.find((p) => p.id === l.peer)?.kind === 'chromium');
    assert.ok(target, `${f.name} has no wanted open link to a Chromium tab: ${JSON.stringify(st.links)}`);
    assert.equal(await f.page.evaluate((x) => window.chord.closeLink(x), target.peer), true);
    const t0 = Date.now();
    await waitForLink(f, target.peer, { via: 'ring', timeoutMs: 30_000 });
    t.diagnostic(`${f.name} → ${short(target.peer)} open again via the ring after ${Date.now() - t0} ms`);
    await waitForCorrectRing(peers, RING, 30_000);
    const file = { name: 'after the server.bin', bytes: randomBytes(200_000) };
    await putBytes(f, file.name, file.bytes);
    await expectEverywhere(file);
  });
});
