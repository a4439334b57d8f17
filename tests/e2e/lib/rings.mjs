// Helpers of the tests with several signaling servers (two-servers, split, heal-bench): tabs given
// a list of servers, one correct ring over a set of tabs, every file from every tab.

import assert from 'node:assert/strict';
import { getBytes, openPeer, putBytes } from './browser.mjs';
import { ringProblems } from './ring.mjs';
import { waitFor, withTimeout } from './wait.mjs';

/**
 * Opens a tab whose page comes from `from` and that is given `servers` (`?signal=a,b`).
 * @param {import('playwright-core').Browser} browser
 * @param {{ url: string }} from
 * @param {Array<{ wsUrl: string }>} servers
 * @param {string} ring
 * @param {string} name
 */
export function openTab(browser, from, servers, ring, name, timeoutMs = 45_000) {
  return openPeer(browser, { baseUrl: from.url, ring, name, timeoutMs, params: { signal: servers.map((s) => s.wsUrl).join(',') } });
}

/** Every tab's `state()`, each bounded. */
export const statesOf = (peers) => Promise.all(peers.map((p) => withTimeout(p.state(), 5000, `${p.name}.state()`)));

/**
 * Waits until `peers` form one correct ring (lib/ring.mjs ringProblems over all of them); returns
 * the ms it took.
 */
export async function waitForOneRing(peers, ring, timeoutMs, what = `one correct ring of ${peers.length} tabs`) {
  const t0 = Date.now();
  let last = [];
  await waitFor(
    async () => {
      last = ringProblems(await statesOf(peers), { ring });
      return last.length === 0;
    },
    timeoutMs,
    { what, interval: 250, detail: () => `\n    ${last.slice(0, 20).join('\n    ')}` },
  );
  return Date.now() - t0;
}

/** Puts `file` ({ name, bytes }) from `peer`. */
export async function put(peer, file) {
  const r = await withTimeout(putBytes(peer, file.name, file.bytes), 20_000, `${peer.name}: put(${JSON.stringify(file.name)})`);
  assert.ok(r.key, `${peer.name}: put ${file.name}`);
  return r;
}

/**
 * Gets every file in every tab and compares the bytes. A get the ring answers `not_sure` (still
 * settling) is retried for up to `settleMs`; a missing file or other bytes fail at once.
 */
export async function expectFiles(peers, files, settleMs = 10_000) {
  for (const p of peers) {
    for (const f of files) {
      const got = await waitFor(
        async () => {
          try {
            return { v: await withTimeout(getBytes(p, f.name), 20_000, `${p.name}: get(${JSON.stringify(f.name)})`) };
          } catch (e) {
            if (/still settling/.test(String(e?.message))) return null;
            throw e;
          }
        },
        settleMs,
        { what: `${p.name}: get(${JSON.stringify(f.name)}) past "not sure"` },
      );
      assert.ok(got.v !== undefined, `${p.name}: get(${JSON.stringify(f.name)}) found nothing`);
      assert.ok(got.v.equals(f.bytes), `${p.name}: bytes of ${JSON.stringify(f.name)} differ`);
    }
  }
}
