// Issue 16, end to end: a native node (`chord-node`) in a ring of browser tabs keeps the ring's
// files when every tab is gone.
//
//   1. One native node and 4 tabs in 2 browser processes form one correct ring. Files of 1 B to
//      20 MiB are put, some from tabs (window.chord.put) and some through the node's HTTP API, and
//      every member gets each one byte-identical (SHA-256 compared).
//   2. Every tab closes: the two of one process gracefully (a closing page leaves and hands over its
//      keys), then the other process is SIGKILLed. The node then holds every file, complete, and a
//      tab opened later with an id the ring has never seen gets all of them from it.
//   3. The node is killed with SIGKILL while tabs hold the data and restarted on the same store:
//      it comes back with the same id, the ring is correct again and nothing is lost. Then every
//      tab goes, the node is killed and restarted once more: it still serves every file to the
//      next tab. Finally SIGTERM: the node leaves, and the tab is told at once.
//
// The browsers follow E2E_BROWSERS (lib/browser.mjs: Chromium, Firefox ESR, or both in turn):
//
//   ./scripts/loopback-only node --test tests/e2e/native-tabs.test.mjs
//   E2E_BROWSERS=firefox ./scripts/loopback-only node --test tests/e2e/native-tabs.test.mjs   (or mixed)

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { openPeer } from './lib/browser.mjs';
import { launchKillableBrowser } from './lib/churn.mjs';
import { getBlob, makeRandomBlob, putBlob } from './lib/files.mjs';
import { removeData, startNode, waitJoined } from './lib/native.mjs';
import { waitForOneRing } from './lib/rings.mjs';
import { startServer } from './lib/server.mjs';
import { waitFor, withTimeout } from './lib/wait.mjs';

const MIB = 1 << 20;
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

let server;
const procs = [];
const nodes = [];
const tabsOpened = [];
/** On a failure, the tail of every node's log and of every tab's page log goes with the error. */
async function logged(fn) {
  try {
    await fn();
  } catch (e) {
    for (const n of nodes) e.message += `\n--- ${n.name} log ---\n${n.log.slice(-40).join('\n')}`;
    for (const t of tabsOpened) e.message += `\n--- ${t.name} (${t.id.slice(0, 8)}) page log ---\n${t.logs.slice(-30).join('\n')}`;
    throw e;
  }
}
after(async () => {
  await Promise.all(procs.map((p) => p.close().catch(() => {})));
  await Promise.all(nodes.map((n) => n.kill('SIGKILL').catch(() => {})));
  nodes.forEach((n) => removeData(n.data));
  await server?.stop();
});

/** Puts `f` from a tab (a random Blob made in the page) or from the node's API (random bytes here). */
async function putFrom(member, f) {
  if (member.page) {
    const made = await makeRandomBlob(member, f.name, f.size);
    f.sha256 = made.sha256;
    const r = await putBlob(member, f.name, f.name);
    assert.ok(r.ok, `${member.name}: put ${f.name}: ${JSON.stringify(r.error)}`);
  } else {
    const bytes = randomBytes(f.size);
    f.sha256 = sha256(bytes);
    await member.put(f.name, bytes);
  }
}

/** `member` gets `f`; the SHA-256 of what it got (tabs hash in the page). Retries "not sure" for 20 s. */
async function getFrom(member, f) {
  return waitFor(
    async () => {
      if (member.page) {
        const r = await getBlob(member, f.name);
        if (!r.ok && /not_sure|timeout/.test(r.error?.code ?? '')) return false;
        assert.ok(r.ok, `${member.name}: get ${f.name}: ${JSON.stringify(r.error)}`);
        assert.ok(r.found, `${member.name}: ${f.name} not found`);
        return r.sha256;
      }
      const got = await member.get(f.name);
      assert.ok(got, `${member.name}: ${f.name} not found`);
      return sha256(got);
    },
    20_000,
    { what: `${member.name} to get ${f.name}` },
  );
}

async function expectAll(members, files) {
  for (const m of members) {
    for (const f of files) assert.equal(await getFrom(m, f), f.sha256, `${m.name}: ${f.name} differs`);
  }
}

/** Waits until the node holds every file complete (its /state records). */
async function nodeHoldsAll(node, files, timeoutMs) {
  const keyOf = (name) => createHash('sha1').update(name, 'utf8').digest('hex');
  let missing = [];
  await waitFor(
    async () => {
      const held = new Map((await node.state()).records.map((r) => [r.key, r]));
      missing = files.filter((f) => !held.get(keyOf(f.name))?.complete).map((f) => f.name);
      return missing.length === 0;
    },
    timeoutMs,
    { what: `${node.name} to hold every file`, detail: () => `missing: ${missing.join(', ')}` },
  );
}

async function openTab(proc, ring, name) {
  const tab = await openPeer(proc.browser, { server, ring, name, timeoutMs: 45_000 });
  tabsOpened.push(tab);
  return tab;
}

test('a native node and 4 tabs share files; the node keeps them when every tab is gone', { timeout: 420_000 }, () => logged(async () => {
  const ring = `native-tabs-${Date.now().toString(36)}`;
  server = await startServer();
  procs.push(await launchKillableBrowser(), await launchKillableBrowser());
  const node = await startNode({ server, ring, name: 'node' });
  nodes.push(node);
  await waitJoined(node);
  const tabs = [];
  for (let i = 0; i < 4; i++) tabs.push(await openTab(procs[i >> 1], ring, `tab${i}`));
  const members = [node, ...tabs];
  await waitForOneRing(members, ring, 30_000, 'one correct ring of a node and 4 tabs');

  const sizes = [1, 1000, 16 * 1024 + 1, 300_000, 5 * MIB, 20 * MIB];
  const files = [];
  for (const [i, size] of sizes.entries()) {
    for (const from of [tabs[i % 4], node]) {
      const f = { name: `f${i}-${size} from ${from.name} ✓`, size };
      await putFrom(from, f);
      files.push(f);
    }
  }
  await expectAll(members, files);

  // Two tabs leave gracefully; the node and the other two hold every file again (R = 3 of 3).
  for (const t of tabs.slice(0, 2)) await withTimeout(t.page.close({ runBeforeUnload: true }), 10_000, `${t.name}: close`);
  await waitForOneRing([node, tabs[2], tabs[3]], ring, 20_000, 'one correct ring after two tabs left');
  await nodeHoldsAll(node, files, 60_000);
  // The other two die with their browser process.
  await procs[1].kill();
  await waitForOneRing([node], ring, 20_000, 'the node alone');
  await nodeHoldsAll(node, files, 5_000);

  const late = await openTab(procs[0], ring, 'late');
  assert.ok(!tabs.some((t) => t.id === late.id) && late.id !== node.id, 'the late tab has a fresh id');
  await expectAll([late], files);
  await late.page.close({ runBeforeUnload: false });
  await node.stop();
}));

test('kill -9 of the node and a restart on the same store: same id, correct ring, nothing lost', { timeout: 300_000 }, () => logged(async () => {
  const ring = `native-restart-${Date.now().toString(36)}`;
  server ??= await startServer();
  const proc = await launchKillableBrowser();
  procs.push(proc);
  const first = await startNode({ server, ring, name: 'node' });
  nodes.push(first);
  await waitJoined(first);
  const tabs = [await openTab(proc, ring, 'a'), await openTab(proc, ring, 'b')];
  const files = [];
  for (const [i, size] of [10, 20_000, 2 * MIB].entries()) {
    const f = { name: `r${i}`, size };
    await putFrom(i % 2 ? first : tabs[0], f);
    files.push(f);
  }
  await nodeHoldsAll(first, files, 60_000);

  await first.kill('SIGKILL');
  const again = await startNode({ server, ring, name: 'node-again', data: first.data });
  nodes.push(again);
  assert.equal(again.id, first.id, 'the restarted node has the same id');
  // The ring still holds the killed instance (same id) until its neighbours find it silent; the
  // join goes through once they have.
  const rejoinMs = await waitJoined(again, 90_000);
  console.log(`# restart after kill -9: joined ${rejoinMs} ms after the restart`);
  await waitForOneRing([again, ...tabs], ring, 30_000, 'one correct ring after the restart');
  await expectAll([again, ...tabs], files);

  // Every tab goes; the node is killed and restarted alone: it still serves the files.
  await Promise.all(tabs.map((t) => t.page.close({ runBeforeUnload: true })));
  await waitForOneRing([again], ring, 20_000, 'the node alone');
  await nodeHoldsAll(again, files, 5_000);
  await again.kill('SIGKILL');
  const alone = await startNode({ server, ring, name: 'node-alone', data: first.data });
  nodes.push(alone);
  assert.equal(alone.id, first.id);
  await waitJoined(alone);
  const next = await openTab(proc, ring, 'next');
  await expectAll([next, alone], files);

  // SIGTERM: the node leaves gracefully. Its leave notice reaches the tab at once (a crash is
  // found only by probes, ≥ 3 s), and the tab, alone, still has every file (it held replicas).
  const t0 = Date.now();
  await alone.stop();
  assert.equal(alone.proc.exitCode, 0, `the node exits cleanly on SIGTERM:\n${alone.log.slice(-10).join('\n')}`);
  assert.ok(alone.log.some((l) => /left the ring/.test(l)), 'the node says it left');
  await waitForOneRing([next], ring, 2000, 'the tab alone, told of the leave');
  console.log(`# SIGTERM: the tab was alone and correct ${Date.now() - t0} ms after the signal`);
  await expectAll([next], files);
}));
