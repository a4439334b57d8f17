// A closing tab leaves gracefully (issue #4, tab life): the page calls leave() on `pagehide`, so
// its neighbours learn at once and its values move to its successors. With replicas=1 only that
// hand-over can keep a value alive, and the ring must be correct again well before failure
// detection (3 unanswered pings, ~4.5 s) could have noticed the tab was gone.
//
// Needs what ring.test.mjs needs; run it inside scripts/loopback-only (`make test-browser` does).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeBrowser, getBytes, launchBrowser, openPeer, putBytes } from './lib/browser.mjs';
import { ringProblems } from './lib/ring.mjs';
import { startServer } from './lib/server.mjs';
import { waitFor, withTimeout } from './lib/wait.mjs';

const RING = `life-${process.pid}-${Date.now().toString(36)}`;

describe('a closing tab hands over and leaves (pagehide)', () => {
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
  });
});
