// Tab life (issue #4). A closing tab leaves gracefully: the page calls leave() on `beforeunload`
// (and `pagehide`), so its neighbours learn at once and its values move to its successors. With
// replicas=1 only that hand-over can keep a value alive, and the ring must be correct again well
// before failure detection (3 unanswered pings, ~4.5 s) could have noticed the tab was gone. A tab
// that navigates away leaves too, and joins again with its id when the user goes back. A reload
// keeps the tab's id; a duplicated tab (same profile, copied sessionStorage) must take another.
//
// Needs what ring.test.mjs needs; run it inside scripts/loopback-only (`make test-browser` does).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeBrowser, getBytes, launchBrowser, openPeer, putBytes } from './lib/browser.mjs';
import { ringProblems } from './lib/ring.mjs';
import { startServer } from './lib/server.mjs';
import { waitFor, withTimeout } from './lib/wait.mjs';

const RING = `life-${process.pid}-${Date.now().toString(36)}`;

describe('tab life: close, navigate away and back, reload, duplicate', () => {
  let server;
  const browsers = [];
  const peers = [];

  before(async () => {
    server = await startServer();
    for (let b = 0; b < 2; b++) browsers.push(await launchBrowser());
    for (let i = 0; i < 4; i++) {
      peers.push(await openPeer(browsers[i % 2], { server, ring: RING, name: `tab${i}`, params: { replicas: '1' } }));
    }
  });

  after(async () => {
    for (const b of browsers) await closeBrowser(b);
    await server?.stop();
  });

  it('the holder closes; its value survives and the ring is correct at once', { timeout: 60_000 }, async () => {
    let problems = [];
    await waitFor(async () => {
      problems = ringProblems(await Promise.all(peers.map((p) => p.state())), { ring: RING });
      return problems.length === 0;
    }, 20_000, { what: 'a correct ring of 4 tabs', detail: () => problems.join('; ') });

    const bytes = Buffer.from('one copy only: the hand-over must carry it');
    const put = await putBytes(peers[0], 'handed over on pagehide.txt', bytes);
    const holder = peers.find((p) => p.id === put.node);
    assert.ok(holder, `the holder ${put.node} is one of the tabs`);
    const before = await holder.state();
    assert.equal(before.keys, 1, 'the holder keeps the only copy (replicas=1)');

    const closedAt = performance.now();
    await withTimeout(holder.page.close({ runBeforeUnload: true }), 10_000, 'closing the holder tab');
    const rest = peers.filter((p) => p !== holder);
    // Predecessors and successors: at once, from the Leaving message (not from timeouts).
    await waitFor(async () => {
      problems = ringProblems(await Promise.all(rest.map((p) => p.state())), { ring: RING, fingers: false });
      return problems.length === 0;
    }, 3_000, { what: 'correct neighbours among the 3 remaining tabs within 3 s', detail: () => problems.join('; '), interval: 100 });
    const repairedMs = performance.now() - closedAt;
    // Fingers: fix_fingers refreshes those that pointed at the closed tab.
    await waitFor(async () => {
      problems = ringProblems(await Promise.all(rest.map((p) => p.state())), { ring: RING });
      return problems.length === 0;
    }, 15_000, { what: 'a correct ring (fingers too)', detail: () => problems.join('; ') });
    for (const p of rest) {
      const got = await withTimeout(getBytes(p, 'handed over on pagehide.txt'), 20_000, `${p.name}: get`);
      assert.ok(got?.equals(bytes), `${p.name}: the value is gone or differs after its only holder closed`);
    }
    console.log(`# neighbours correct ${Math.round(repairedMs)} ms after the holder tab closed; value still there`);
    peers.splice(peers.indexOf(holder), 1);
  });

  it('a tab that navigates away leaves; back again, it rejoins with its id', { timeout: 90_000 }, async () => {
    const tab = peers[1];
    const rest = peers.filter((p) => p !== tab);
    const idBefore = tab.id;
    await tab.page.goto(`${server.url}/stats`, { waitUntil: 'load' });
    let problems = [];
    // It left (beforeunload/pagehide), so the others close the ring without it.
    await waitFor(async () => {
      problems = ringProblems(await Promise.all(rest.map((p) => p.state())), { ring: RING, fingers: false });
      return problems.length === 0;
    }, 5_000, { what: `correct neighbours among the ${rest.length} tabs left`, detail: () => problems.join('; '), interval: 100 });
    // Back: from the back-forward cache (pageshow, persisted) or loaded again, it joins again.
    await tab.page.goBack({ waitUntil: 'load' });
    let state = null;
    await waitFor(async () => {
      state = await tab.page.evaluate(() => window.chord?.state() ?? null).catch(() => null);
      return state?.status === 'joined';
    }, 30_000, { what: 'the tab joined again after going back', detail: () => JSON.stringify(state?.status) });
    assert.equal(state.id, idBefore, 'the tab that came back has its id');
    // 'reload': restored from the back-forward cache, then reloaded by the page (pageshow);
    // 'back_forward': loaded again (the browser kept no cached page).
    const how = await tab.page.evaluate(() => performance.getEntriesByType('navigation')[0]?.type);
    console.log(`# back again (${how}): joined with its id`);
    // Neither browser keeps a page with live RTCPeerConnections in that cache (both answered
    // 'back_forward' when measured), so the page's pageshow path is driven by hand: a tab that
    // left and is shown again from the cache joins again.
    await tab.page.evaluate(() => document.getElementById('leave').click());
    await waitFor(() => tab.page.evaluate(() => !document.getElementById('retry').hidden), 10_000, { what: 'the page says it left' });
    await tab.page.evaluate(() => {
      window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
    }).catch(() => {}); // the reload it starts may end this evaluation
    await waitFor(async () => {
      state = await tab.page.evaluate(() => window.chord?.state() ?? null).catch(() => null);
      return state?.status === 'joined';
    }, 30_000, { what: 'the tab joined again after a pageshow from the cache', detail: () => JSON.stringify(state?.status) });
    assert.equal(state.id, idBefore, 'the tab shown again from the cache has its id');
    await waitFor(async () => {
      problems = ringProblems(await Promise.all(peers.map((p) => p.state())), { ring: RING });
      return problems.length === 0;
    }, 20_000, { what: `a correct ring of ${peers.length} tabs`, detail: () => problems.join('; ') });
  });

  it('a reload keeps the tab id; a duplicated tab takes a new one', { timeout: 90_000 }, async () => {
    const tab = peers[0];
    const idBefore = tab.id;
    await tab.page.reload({ waitUntil: 'load' });
    const after = await withTimeout(tab.page.evaluate(async () => (await window.chordReady).id), 30_000, 'rejoin after reload');
    assert.equal(after, idBefore, 'the reloaded tab rejoined with its id');

    // A duplicated tab: same browser profile (context), and a copy of the tab's sessionStorage.
    const dup = await tab.context.newPage();
    await dup.addInitScript(([key, id]) => sessionStorage.setItem(key, id), [`chord.id.${RING}`, idBefore]);
    await dup.goto(`${server.url}/?loopback=1&ring=${RING}&replicas=1`, { waitUntil: 'load' });
    const dupId = await withTimeout(dup.evaluate(async () => (await window.chordReady).id), 30_000, 'duplicate joins');
    assert.notEqual(dupId, idBefore, 'a duplicated tab must not reuse the id its original holds');
    peers.push({ name: 'duplicate', id: dupId, page: dup, context: tab.context, logs: [], state: () => dup.evaluate(() => window.chord.state()) });

    let problems = [];
    await waitFor(async () => {
      problems = ringProblems(await Promise.all(peers.map((p) => p.state())), { ring: RING });
      return problems.length === 0;
    }, 20_000, { what: `a correct ring of ${peers.length} tabs`, detail: () => problems.join('; ') });
  });
});
