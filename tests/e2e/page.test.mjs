// Issue 14, item 4: the page works and looks right in Firefox. The real page (www/index.html +
// www/app.js, served by chord-signaling) in one ring of two Chromium tabs (one process) and two
// Firefox ESR tabs (one process), driven through what a user sees and does, the same way in both:
//   - it renders and joins: the status line says "Joined ring “…”." (kind ok), the id shown is the
//     peer's, no uncaught page error, nothing overflows sideways, the controls are enabled, and
//     the layout matches between the browsers at one window size (the ring drawing's box, the
//     cards' columns);
//   - the ring drawing has one mark per member (the ids in its tooltips are exactly the ring's,
//     this tab's mark is `node-self`), and its screenshot shows them: not blank, and each mark
//     painted at its place in its fill colour (lib/png.mjs decodes the PNG);
//   - a file dropped on the page (dragenter/dragover/drop with a DataTransfer holding a File) shows
//     the drop overlay, is stored ("Recent puts" says stored, its transfer row ok) and a tab of the
//     other browser gets it byte-identical through window.chord;
//   - the get form fetches a file put from the other browser and its "Save" link saves the put
//     bytes (captured in the page: lib/page-ui.mjs captureDownloads).
// Screenshots (whole page and the drawing) go to out/e2e/page-*.png for humans.
//
// Needs: target/release/chord-signaling, www/pkg (`make web server`), /usr/bin/chromium,
// /usr/bin/firefox-esr, `npm ci` here. Run it inside scripts/loopback-only (`make test-browser`).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { closeBrowser, getBytes, launchBrowser, openPeer } from './lib/browser.mjs';
import { captureDownloads, checkRingPixels, clickNewestSaveLink, downloadAt, dropFile, pageView, ringMarks, rowsFor, show, submitGet } from './lib/page-ui.mjs';
import { ringProblems, short } from './lib/ring.mjs';
import { ROOT, SERVER_BIN, startServer, WWW } from './lib/server.mjs';
import { steps } from './lib/steps.mjs';
import { GiveUp, waitFor, withTimeout } from './lib/wait.mjs';

const RING = `page-${process.pid}-${Date.now().toString(36)}`;
const OUT = path.join(ROOT, 'out', 'e2e');
/** One window size for every tab, so the two browsers' layouts can be compared. */
const VIEWPORT = { width: 1280, height: 900 };
/** Layout boxes of the two browsers may differ by this much (CSS pixels), plus the scrollbars' difference. */
const LAYOUT_SLACK = 4;

let server;
/** One browser process of each kind. */
const browsers = {};
/** C1, F1, C2, F2; `kind` is the browser each runs in. */
const tabs = [];
/** What was dropped where: `{ from, name, bytes }`. */
const dropped = [];
const step = steps();

const byName = (name) => tabs.find((t) => t.name === name);
/** Thrown on purpose in one tab of each browser, to show that uncaught errors reach `logs`. */
const PROBE = 'page.test probe: an uncaught error';
const pageErrors = (tab) => tab.logs.filter((l) => l.includes('[pageerror]') && !l.includes(PROBE));
const states = () => Promise.all(tabs.map((t) => withTimeout(t.state(), 5000, `${t.name}.state()`)));

async function open(kind, name) {
  const tab = await openPeer(browsers[kind], {
    server,
    ring: RING,
    name,
    setup: async (page) => {
      await page.setViewportSize(VIEWPORT);
      await page.addInitScript(captureDownloads);
    },
  });
  tab.kind = kind;
  return tab;
}

function save(file, bytes) {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(path.join(OUT, file), bytes);
}

describe('the page in Chromium and Firefox (issue 14)', { timeout: 150_000 }, () => {
  before(async () => {
    for (const f of [SERVER_BIN, path.join(WWW, 'pkg', 'chord_bg.wasm')]) assert.ok(existsSync(f), `${f} is missing: make web server`);
    server = await startServer();
    const [c, f] = await Promise.all([launchBrowser({ kind: 'chromium' }), launchBrowser({ kind: 'firefox' })]);
    Object.assign(browsers, { chromium: c, firefox: f });
  });

  after(async () => {
    const report = [`ring ${RING}`];
    for (const t of tabs) {
      const st = await withTimeout(t.state(), 3000, 'state').catch((e) => `(${e.message})`);
      report.push(`--- ${t.name} (${t.kind}) ${t.id}`, JSON.stringify(st, null, 1), ...t.logs);
    }
    report.push('--- server', ...(server?.log ?? []));
    try {
      save('page.log', `${report.join('\n')}\n`);
    } catch {
      // best effort
    }
    await Promise.all(Object.values(browsers).map((b) => closeBrowser(b)));
    await server?.stop();
  });

  step('each tab renders and joins: status, id, no page error, the same layout in both browsers', 90_000, async (t) => {
    for (const [kind, name] of [['chromium', 'C1'], ['firefox', 'F1'], ['chromium', 'C2'], ['firefox', 'F2']]) tabs.push(await open(kind, name));
    let problems = [];
    await waitFor(async () => (problems = ringProblems(await states(), { ring: RING })).length === 0, 30_000, {
      what: 'a correct ring of the 4 tabs',
      detail: () => problems.join('; '),
    });
    // The no-page-error checks below could not fail if the browser did not report them.
    for (const tab of [byName('C1'), byName('F1')]) {
      await tab.page.evaluate((msg) => { setTimeout(() => { throw new Error(msg); }); }, PROBE);
      await waitFor(() => tab.logs.some((l) => l.includes('[pageerror]') && l.includes(PROBE)), 5000, { what: `${tab.name} (${tab.kind}): an uncaught error reported` });
    }
    const views = {};
    for (const tab of tabs) {
      assert.equal(await withTimeout(show(tab), 10_000, `${tab.name}: bring to front`), 'visible', `${tab.name} (${tab.kind}): the tab in front`);
      // The page redraws from state() once a second.
      views[tab.name] = await waitFor(async () => {
        const v = await pageView(tab);
        return v.status === `Joined ring “${RING}”.` && v.statusKind === 'ok' ? v : null;
      }, 10_000, { what: `${tab.name}: the status line saying it joined` });
      const v = views[tab.name];
      assert.equal(v.nodeId, tab.id, `${tab.name} (${tab.kind}): the id shown`);
      assert.ok(v.overflowX <= 0, `${tab.name} (${tab.kind}): the page is ${v.overflowX} px wider than the window`);
      assert.ok(v.ring.width > 300 && v.ring.height > 200, `${tab.name} (${tab.kind}): ring drawing is ${v.ring.width}×${v.ring.height}`);
      for (const c of v.controls) {
        assert.ok(!c.disabled && c.width > 0 && c.height > 0, `${tab.name} (${tab.kind}): #${c.id} ${JSON.stringify(c)}`);
      }
      assert.deepEqual(pageErrors(tab), [], `${tab.name} (${tab.kind}): uncaught page errors`);
    }
    // Same window, same CSS: the drawing and the cards' columns must land in the same places, up
    // to the scrollbar (headless Firefox has a classic one, 12 px; Chromium's takes no room).
    const [cr, ff] = [views.C1, views.F1];
    const slack = LAYOUT_SLACK + Math.abs(cr.window.client - ff.window.client);
    const near = (a, b) => Math.abs(a - b) <= slack;
    for (const k of ['x', 'y', 'width', 'height']) {
      assert.ok(near(cr.ring[k], ff.ring[k]), `ring drawing ${k}: Chromium ${cr.ring[k]}, Firefox ${ff.ring[k]}`);
    }
    assert.deepEqual(ff.cards.map((c) => c.heading), cr.cards.map((c) => c.heading), 'the cards');
    cr.cards.forEach((c, i) => {
      const f = ff.cards[i];
      assert.ok(near(c.x, f.x) && near(c.width, f.width), `card "${c.heading}": Chromium x ${c.x} width ${c.width}, Firefox x ${f.x} width ${f.width}`);
    });
    t.diagnostic(`ring drawing ${cr.ring.width}×${cr.ring.height} (Chromium), ${ff.ring.width}×${ff.ring.height} (Firefox, ${cr.window.client - ff.window.client} px of scrollbar); ids ${tabs.map((x) => `${x.name} ${short(x.id)}`).join(', ')}`);
  });

  step('the ring drawing shows one mark per member, painted where it is drawn', 60_000, async (t) => {
    const members = tabs.map((x) => x.id).sort();
    for (const tab of tabs) {
      await withTimeout(show(tab), 10_000, `${tab.name}: bring to front`);
      let seen;
      const checked = await waitFor(async () => {
        const drawing = await ringMarks(tab);
        seen = drawing;
        const ids = drawing.marks.map((m) => m.id).sort();
        if (JSON.stringify(ids) !== JSON.stringify(members)) return null;
        const pixels = await checkRingPixels(tab, drawing);
        // The page may have redrawn between reading the marks and the screenshot: then again.
        if (JSON.stringify(await ringMarks(tab)) !== JSON.stringify(drawing)) return null;
        return { drawing, pixels };
      }, 15_000, { what: `${tab.name}: one mark per member in the drawing`, detail: () => JSON.stringify(seen?.marks.map((m) => [short(m.id), m.cls])) });
      const { drawing, pixels } = checked;
      const self = drawing.marks.filter((m) => /\bnode-self\b/.test(m.cls));
      assert.deepEqual(self.map((m) => m.id), [tab.id], `${tab.name} (${tab.kind}): exactly one mark is this tab's`);
      save(`page-ring-${tab.name}-${tab.kind}.png`, pixels.png);
      save(`page-${tab.name}-${tab.kind}.png`, Buffer.from(await tab.page.screenshot({ fullPage: true })));
      assert.deepEqual(pixels.problems, [], `${tab.name} (${tab.kind}): the drawing as painted (out/e2e/page-ring-${tab.name}-${tab.kind}.png)`);
      assert.ok(pixels.checked >= 1, `${tab.name}: no mark could be colour-checked`);
      assert.ok(pixels.drawnShare > 0.005, `${tab.name} (${tab.kind}): the drawing is blank (${(pixels.drawnShare * 100).toFixed(2)} % drawn)`);
      t.diagnostic(`${tab.name} (${tab.kind}): ${drawing.marks.length} marks, ${pixels.checked} colour-checked, ${pixels.covered} covered by another; ${(pixels.drawnShare * 100).toFixed(1)} % of the drawing painted`);
    }
  });

  step('a file dropped on the page is stored and a tab of the other browser gets it byte-identical', 60_000, async (t) => {
    // Over the inline limit (16 KiB) from Chromium, under it from Firefox: both ways of storing.
    const plan = [
      { from: 'C1', to: 'F2', name: `dropped in Chromium — größe ${RING}.bin`, bytes: randomBytes(300_000) },
      { from: 'F1', to: 'C2', name: `dropped in Firefox — ½ ${RING}.txt`, bytes: randomBytes(5000) },
    ];
    for (const p of plan) {
      const tab = byName(p.from);
      const what = `${tab.name} (${tab.kind})`;
      await withTimeout(show(tab), 10_000, `${what}: bring to front`);
      const d = await withTimeout(dropFile(tab, p.name, p.bytes), 10_000, `${what}: drop`);
      assert.ok(d.types.includes('Files') && d.files === 1, `${what}: the DataTransfer ${JSON.stringify(d)}`);
      assert.ok(d.enter && d.over && d.drop, `${what}: the page did not take every drag event: ${JSON.stringify(d)}`);
      assert.ok(d.overlayShown, `${what}: no "Drop to store" overlay while dragging`);
      assert.ok(!d.overlayAfterDrop, `${what}: the overlay stayed after the drop`);
      let rows;
      await waitFor(async () => {
        rows = await rowsFor(tab, p.name);
        const put = rows.transfers.find((r) => r.dir === 'put');
        if (rows.recent.some((r) => r.status === 'failed') || ['error', 'cancelled'].includes(put?.state)) throw new GiveUp(`${what}: the put failed: ${JSON.stringify(rows)}`);
        return rows.recent.length === 1 && rows.recent[0].status === 'stored' && put?.state === 'ok';
      }, 30_000, { what: `${what}: "${p.name}" listed as stored`, detail: () => JSON.stringify(rows) });
      const other = byName(p.to);
      const got = await withTimeout(getBytes(other, p.name), 30_000, `${other.name}: get`);
      assert.ok(got !== undefined, `${other.name} (${other.kind}): get found nothing`);
      assert.ok(got.equals(p.bytes), `${other.name} (${other.kind}): ${got.length} bytes, not the ${p.bytes.length} dropped in ${what}`);
      dropped.push(p);
      t.diagnostic(`${what}: dropped ${p.bytes.length} bytes, "${rows.recent[0].cells.join(' | ')}"; ${other.name} (${other.kind}) got them identical`);
    }
  });

  step('the get form fetches a file from the other browser and its Save link saves the put bytes', 60_000, async (t) => {
    for (const [file, at] of [[dropped[0], 'F1'], [dropped[1], 'C1']]) {
      const tab = byName(at);
      const what = `${tab.name} (${tab.kind})`;
      await withTimeout(show(tab), 10_000, `${what}: bring to front`);
      await withTimeout(submitGet(tab, file.name), 10_000, `${what}: type the name and press Get`);
      let rows;
      const row = await waitFor(async () => {
        rows = await rowsFor(tab, file.name);
        const get = rows.transfers.find((r) => r.dir === 'get');
        if (['none', 'error', 'cancelled'].includes(get?.state)) throw new GiveUp(`${what}: the get ended ${get.state}: ${get.text}`);
        return get?.state === 'ok' ? get : null;
      }, 30_000, { what: `${what}: the get of "${file.name}" done`, detail: () => JSON.stringify(rows) });
      assert.equal(row.download, file.name, `${what}: the Save link's file name`);
      const i = await withTimeout(clickNewestSaveLink(tab), 10_000, `${what}: click Save`);
      const saved = await waitFor(() => downloadAt(tab, i), 10_000, { what: `${what}: the saved bytes` });
      assert.equal(saved.error, undefined, `${what}: reading the saved file`);
      assert.equal(saved.name, file.name, `${what}: the saved file's name`);
      assert.match(saved.href, /^blob:/, `${what}: the Save link`);
      const bytes = Buffer.from(saved.b64, 'base64');
      assert.ok(bytes.equals(file.bytes), `${what}: saved ${bytes.length} bytes, not the ${file.bytes.length} put from ${file.from}`);
      t.diagnostic(`${what}: "${row.text}" — saved ${bytes.length} bytes identical to ${file.from}'s`);
    }
    for (const tab of tabs) assert.deepEqual(pageErrors(tab), [], `${tab.name} (${tab.kind}): uncaught page errors`);
  });
});
