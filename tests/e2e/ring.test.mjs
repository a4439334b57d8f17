// Issue #3, end to end: the real signaling server, three separate headless Chromium processes (a
// fourth tab in the first one), all in one ring. The ring must be correct, a file put in one tab
// must come back byte-identical in every other, and once the server is killed the ring must keep
// working: puts and gets, and a link that has to be opened afterwards is signaled through the ring.
//
// Needs: target/release/chord-signaling, www/ with www/pkg built (`make web`), /usr/bin/chromium,
// `npm ci` here. Run it inside scripts/loopback-only (`make test-browser` does).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { steps } from './lib/steps.mjs';
import { BROWSERS_LABEL, closeBrowser, getBytes, launchBrowser, openPeer, putBytes, waitForLink } from './lib/browser.mjs';
import { keyOf, ringProblems, short, successorOf, big } from './lib/ring.mjs';
import { fetchJson, ROOT, SERVER_BIN, startServer, WWW } from './lib/server.mjs';
import { waitFor, withTimeout } from './lib/wait.mjs';

const BROWSERS = 3;
const RING = `e2e-${process.pid}-${Date.now().toString(36)}`;
const LOG_DIR = path.join(ROOT, 'out', 'e2e');

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser[]} */
const browsers = [];
/** @type {import('./lib/browser.mjs').Peer[]} */
const peers = [];
/** `/stats` once every tab had joined. */
let statsJoined;
/** A file in the DHT: name and bytes. */
const files = [];

/** Marks the suite broken after a failed step, so the later steps skip instead of piling up errors. */
const step = steps();

const states = () => Promise.all(peers.map((p) => withTimeout(p.state(), 5000, `${p.name}.state()`)));

/** Waits until every tab's routing state matches the ideal ring of their ids. */
async function waitForCorrectRing(timeoutMs) {
  let last = [];
  await waitFor(
    async () => {
      last = ringProblems(await states(), { ring: RING });
      return last.length === 0;
    },
    timeoutMs,
    { what: `a correct ring of ${peers.length} tabs`, interval: 500, detail: () => `\n    ${last.join('\n    ')}` },
  );
}

/** Gets `file` in every tab but `except`, and compares the bytes. */
async function expectEverywhere(file, except) {
  for (const p of peers) {
    if (p === except) continue;
    const got = await withTimeout(getBytes(p, file.name), 20_000, `${p.name}: get(${JSON.stringify(file.name)})`);
    assert.ok(got !== undefined, `${p.name}: get(${JSON.stringify(file.name)}) found nothing`);
    assert.equal(got.length, file.bytes.length, `${p.name}: length of ${JSON.stringify(file.name)}`);
    assert.ok(got.equals(file.bytes), `${p.name}: bytes of ${JSON.stringify(file.name)} differ`);
  }
}

/**
 * `base` plus a suffix chosen so that the key's successor is a tab in another browser process
 * than `putter`: the put and the gets then have to cross processes over WebRTC.
 */
function remoteName(base, putter) {
  const succ = successorOf(peers.map((p) => p.id));
  const local = new Set(peers.filter((p) => p.page.context().browser() === putter.page.context().browser()).map((p) => p.id));
  for (let i = 1; ; i++) {
    const name = `${base} №${i}`;
    if (!local.has(succ(big(keyOf(name))))) return name;
  }
}

/** Puts `file` from `peer` and checks the answer: key = SHA-1(name), stored at the key's successor. */
async function putChecked(peer, file) {
  const r = await withTimeout(putBytes(peer, file.name, file.bytes), 20_000, `${peer.name}: put(${JSON.stringify(file.name)})`);
  const key = keyOf(file.name);
  assert.equal(r.key, key, 'put: key is the SHA-1 of the name');
  assert.equal(r.node, successorOf(peers.map((p) => p.id))(big(key)), `put: stored at the successor of ${short(key)}`);
  assert.ok(Number.isInteger(r.hops) && r.hops >= 0, `put: hops ${r.hops}`);
  files.push(file);
  return r;
}

describe(`browser ring: real server, ${BROWSERS} ${BROWSERS_LABEL} processes (issue #3)`, { timeout: 120_000 }, () => {
  before(async () => {
    for (const f of [SERVER_BIN, path.join(WWW, 'index.html'), path.join(WWW, 'pkg', 'chord_bg.wasm')]) {
      assert.ok(existsSync(f), `${f} is missing: run \`make web\` and \`cargo build --release -p chord-signaling\``);
    }
    server = await startServer();
    browsers.push(...(await Promise.all(Array.from({ length: BROWSERS }, () => launchBrowser()))));
  });

  after(async () => {
    // Diagnostics first (states while the pages live), then tear down; every step is bounded.
    const report = [`ring ${RING}`, `server ${server?.url}`];
    for (const p of peers) {
      const st = await withTimeout(p.state(), 3000, 'state').catch((e) => `(${e.message})`);
      report.push(`--- ${p.name} ${p.id}`, JSON.stringify(st, null, 1), ...p.logs);
    }
    report.push('--- server', ...(server?.log ?? []));
    try {
      mkdirSync(LOG_DIR, { recursive: true });
      writeFileSync(path.join(LOG_DIR, 'ring.log'), `${report.join('\n')}\n`);
    } catch {
      // best effort
    }
    await Promise.all(browsers.map((b) => closeBrowser(b)));
    await server?.stop().catch(() => {});
  });

  step('every tab joins: one founds the ring, the others are introduced by the server', 60_000, async (t) => {
    const t0 = Date.now();
    // Tab A founds the ring; B and C (own processes) and D (a second tab of A's process) join at once.
    peers.push(await openPeer(browsers[0], { server, ring: RING, name: 'A' }));
    const rest = [
      [browsers[1], 'B'],
      [browsers[2 % BROWSERS], 'C'],
      [browsers[0], 'D'],
    ];
    peers.push(...(await Promise.all(rest.map(([b, name]) => openPeer(b, { server, ring: RING, name })))));
    assert.equal(new Set(peers.map((p) => p.id)).size, peers.length, 'ids are distinct');
    // The last `member` report may reach the server just after the page resolved chordReady.
    statsJoined = await waitFor(
      async () => {
        const s = await server.stats();
        const open = s.introductions - s.introductions_completed - s.introductions_failed;
        return s.members === peers.length && open === 0 ? s : null;
      },
      10_000,
      { what: `/stats to show ${peers.length} members and no open introduction` },
    );
    assert.ok(statsJoined.introductions_completed >= peers.length - 1, JSON.stringify(statsJoined));
    assert.ok(statsJoined.messages_relayed > 0, `the introductions were relayed: ${JSON.stringify(statsJoined)}`);
    t.diagnostic(`${peers.length} tabs joined in ${Date.now() - t0} ms: ${peers.map((p) => `${p.name}=${short(p.id)}`).join(' ')}`);
    t.diagnostic(`/stats: ${JSON.stringify(statsJoined)}`);
  });

  step('the ring is correct: predecessors, successor lists and fingers', 60_000, async (t) => {
    const t0 = Date.now();
    await waitForCorrectRing(45_000);
    t.diagnostic(`ring correct ${Date.now() - t0} ms after the last join`);
    for (const st of await states()) assert.equal(st.server, 'connected', `${short(st.id)}: server link`);
  });

  step('a file put in one tab is got byte-identical in all the others', 60_000, async (t) => {
    const file = { name: remoteName('Quarterly report — résumé ünïcødé 文件.bin', peers[0]), bytes: randomBytes(100 * 1024) };
    const r = await putChecked(peers[0], file);
    t.diagnostic(`A put ${JSON.stringify(file.name)}, ${file.bytes.length} bytes, under ${short(r.key)} at ${short(r.node)} in ${r.hops} hops`);
    await expectEverywhere(file, peers[0]);
    assert.equal(await getBytes(peers[1], 'no such file — 不存在'), undefined, 'get of an absent name');
  });

  step('the server relayed nothing after every tab had joined', 15_000, async () => {
    const now = await server.stats();
    assert.equal(
      now.messages_relayed,
      statsJoined.messages_relayed,
      `messages_relayed grew after all joined: ${JSON.stringify(statsJoined)} → ${JSON.stringify(now)}`,
    );
    assert.equal(now.introductions, statsJoined.introductions, 'no introduction after all joined');
  });

  step('with the server killed (SIGKILL), members still put and get', 60_000, async (t) => {
    await server.kill('SIGKILL');
    await assert.rejects(fetchJson(`${server.url}/stats`, 1000), 'the server is gone');
    // B (another process than A) stores a new file; everyone reads it and the old one.
    const file = { name: remoteName('after the server — nach dem Server', peers[1]), bytes: randomBytes(64 * 1024 + 7) };
    const r = await putChecked(peers[1], file);
    t.diagnostic(`B put ${JSON.stringify(file.name)}, ${file.bytes.length} bytes, under ${short(r.key)} at ${short(r.node)} in ${r.hops} hops`);
    await expectEverywhere(file, peers[1]);
    await expectEverywhere(files[0], null);
  });

  step('a link that has to be opened after the server died opens, signaled through the ring', 60_000, async (t) => {
    const a = peers[0];
    const st = await a.state();
    const open = st.links.filter((l) => l.state === 'open');
    // Prefer a link the Chord tables need (it must come back) to a tab in another process.
    const sameProcess = new Set(peers.filter((p) => p.page.context().browser() === a.page.context().browser()).map((p) => p.id));
    const rank = (l) => (l.wanted ? 0 : 2) + (sameProcess.has(l.peer) ? 1 : 0);
    const target = [...open].sort((x, y) => rank(x) - rank(y))[0];
    assert.ok(target, `A has no open link: ${JSON.stringify(st.links)}`);
    assert.ok(target.wanted, `A has no wanted open link: ${JSON.stringify(st.links)}`);
    const x = target.peer;
    const closed = await a.page.evaluate((x) => {
      const created = window.chord.state().connectionsCreated;
      const ok = window.chord.closeLink(x);
      const s = window.chord.state();
      return { ok, link: s.links.find((l) => l.peer === x) ?? null, created };
    }, x);
    assert.equal(closed.ok, true, `closeLink(${short(x)}) returned ${closed.ok}`);
    assert.ok(!closed.link || closed.link.state !== 'open', `the link to ${short(x)} is still open: ${JSON.stringify(closed.link)}`);
    const t0 = Date.now();
    const link = await waitForLink(a, x, { via: 'ring', timeoutMs: 30_000 });
    t.diagnostic(`A closed its link to ${short(x)} (was via ${target.via}); open again via ring after ${Date.now() - t0} ms`);
    assert.equal(link.via, 'ring');
    const after = await a.state();
    assert.ok(after.connectionsCreated > closed.created, `a new RTCPeerConnection was made (${closed.created} → ${after.connectionsCreated})`);
    assert.notEqual(after.server, 'connected', 'the page does not believe the server is back');
    await assert.rejects(fetchJson(`${server.url}/stats`, 1000), 'the server is still gone');
    // The ring is still whole and serves data.
    await waitForCorrectRing(30_000);
    await expectEverywhere(files[1], null);
  });
});
