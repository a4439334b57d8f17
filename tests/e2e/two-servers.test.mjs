// Issue 13, "No second ring by accident", end to end with two real signaling servers (s1, s2 on
// two 127.0.0.1 ports) and two headless Chromium processes:
//   (a) a ring forms with every tab given s1,s2; files are put; s1 is killed. Newcomers given s1,s2
//       join the same ring through s2 and get every file.
//   (b) s1 is restarted empty on the same port: the members reconnect to it (backoff, then
//       hello{member:true}: /stats shows them back) and a newcomer given only s1 joins the existing
//       ring instead of founding a second one.
//
// Needs: target/release/chord-signaling, www/pkg (`make web server`), /usr/bin/chromium, `npm ci`
// here. Run it inside scripts/loopback-only (`make test-browser` does).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { steps } from './lib/steps.mjs';
import { closeBrowser, launchBrowser } from './lib/browser.mjs';
import { expectFiles, openTab, put, statesOf, waitForOneRing } from './lib/rings.mjs';
import { short } from './lib/ring.mjs';
import { ROOT, SERVER_BIN, startServer, WWW } from './lib/server.mjs';
import { waitFor, withTimeout } from './lib/wait.mjs';

const RING = `two-${process.pid}-${Date.now().toString(36)}`;
const LOG_DIR = path.join(ROOT, 'out', 'e2e');
/** A short grace at the first start (nobody to wait for); the default (10 s) after the restart. */
const FIRST_GRACE = ['--grace', '1'];

let s1, s2;
const oldS1 = [];
/** @type {import('playwright-core').Browser[]} */
const browsers = [];
/** @type {import('./lib/browser.mjs').Peer[]} */
const peers = [];
const files = [];

const step = steps();

describe('two signaling servers: kill one, restart it empty (issue 13)', { timeout: 300_000 }, () => {
  before(async () => {
    for (const f of [SERVER_BIN, path.join(WWW, 'pkg', 'chord_bg.wasm')]) assert.ok(existsSync(f), `${f} is missing: make web server`);
    [s1, s2] = await Promise.all([startServer({ args: FIRST_GRACE }), startServer({ args: FIRST_GRACE })]);
    browsers.push(...(await Promise.all([launchBrowser(), launchBrowser()])));
  });

  after(async () => {
    const report = [`ring ${RING}`, `s1 ${s1?.url}`, `s2 ${s2?.url}`];
    for (const p of peers) {
      const st = await withTimeout(p.state(), 3000, 'state').catch((e) => `(${e.message})`);
      report.push(`--- ${p.name} ${p.id}`, JSON.stringify(st, null, 1), ...p.logs);
    }
    for (const [n, log] of [['s1 (first run)', oldS1], ['s1', s1?.log], ['s2', s2?.log]]) report.push(`--- ${n}`, ...(log ?? []));
    try {
      mkdirSync(LOG_DIR, { recursive: true });
      writeFileSync(path.join(LOG_DIR, 'two-servers.log'), `${report.join('\n')}\n`);
    } catch {
      // best effort
    }
    await Promise.all(browsers.map((b) => closeBrowser(b)));
    await Promise.all([s1?.stop(), s2?.stop()].map((p) => p?.catch(() => {})));
  });

  step('(a) four tabs given s1,s2 form one ring and keep a connection to each server', 90_000, async (t) => {
    peers.push(await openTab(browsers[0], s1, [s1, s2], RING, 'A'));
    for (const [i, name] of ['B', 'C', 'D'].entries()) peers.push(await openTab(browsers[(i + 1) % 2], s1, [s1, s2], RING, name));
    const took = await waitForOneRing(peers, RING, 45_000);
    for (const st of await statesOf(peers)) {
      assert.deepEqual(st.servers.map((s) => [s.url, s.state]), [[s1.wsUrl, 'connected'], [s2.wsUrl, 'connected']], short(st.id));
    }
    for (const s of [s1, s2]) {
      await waitFor(async () => (await s.stats()).members === peers.length, 10_000, { what: `${s.url}: ${peers.length} members` });
    }
    for (let i = 0; i < 3; i++) {
      const f = { name: `before-${i}.bin`, bytes: randomBytes(i === 2 ? 40_000 : 2_000) };
      await put(peers[i], f);
      files.push(f);
    }
    t.diagnostic(`ring of 4 correct after ${took} ms; ${files.length} files put`);
  });

  step('(a) s1 is killed: newcomers given s1,s2 join the same ring through s2 and get every file', 120_000, async (t) => {
    oldS1.push(...s1.log);
    await s1.kill('SIGKILL');
    await waitFor(async () => (await statesOf(peers)).every((st) => st.servers[0].state !== 'connected'), 10_000, {
      what: 'every tab to see s1 gone',
    });
    const t0 = Date.now();
    const newcomers = [await openTab(browsers[0], s2, [s1, s2], RING, 'E'), await openTab(browsers[1], s2, [s1, s2], RING, 'F')];
    peers.push(...newcomers);
    const took = await waitForOneRing(peers, RING, 45_000);
    await expectFiles(newcomers, files);
    const stats = await s2.stats();
    assert.equal(stats.members, peers.length, `s2 knows every tab: ${JSON.stringify(stats)}`);
    for (const st of await statesOf(peers.slice(0, 4))) {
      assert.equal(st.server, 'connected', `${short(st.id)}: still connected (to s2)`);
      assert.ok(st.servers[0].reconnects >= 1, `${short(st.id)}: knocked at s1 again: ${JSON.stringify(st.servers)}`);
    }
    t.diagnostic(`newcomers joined in ${Date.now() - t0} ms; one ring of ${peers.length} ${took} ms later; files got`);
  });

  step('(b) s1 restarted empty on the same port: the members come back, a newcomer given only s1 joins the ring', 120_000, async (t) => {
    const t0 = Date.now();
    s1 = await startServer({ port: s1.port, args: ['--grace', '10'] });
    const members = peers.length;
    const back = await waitFor(
      async () => {
        const s = await s1.stats();
        return s.members >= members ? s : null;
      },
      20_000,
      { what: `${s1.url}/stats to show the ${members} members back`, detail: () => s1.log.slice(-5).join('\n') },
    );
    assert.ok(back.member_hellos >= members, `they said hello as members: ${JSON.stringify(back)}`);
    t.diagnostic(`members back on s1 ${Date.now() - t0} ms after its restart: ${JSON.stringify(back)}`);
    const g = await openTab(browsers[0], s1, [s1], RING, 'G');
    peers.push(g);
    const took = await waitForOneRing(peers, RING, 45_000);
    await expectFiles([g], files);
    const st = await g.state();
    assert.deepEqual(st.servers.map((s) => s.url), [s1.wsUrl]);
    t.diagnostic(`G (given only s1) joined the ring; one ring of ${peers.length} after ${took} ms; files got`);
  });
});
