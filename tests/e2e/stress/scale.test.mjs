// Issue 13 (items 4 and 5), end to end at scale: 32 tabs in 4 browser processes on this machine
// (2 cores: heavily loaded on purpose), Chromium, Firefox or both in turn (E2E_BROWSERS,
// lib/browser.mjs; `make test-scale` runs all three), through the page's window.chord API and the
// real signaling server (default replicas: 3). In each of 3 runs, on a fresh ring:
//
//   1. 32 tabs join (8 per process, one per process at a time; a tab whose join fails is opened
//      again once, and counted); the ring is correct (predecessors, successor lists, fingers:
//      lib/ring.mjs ringProblems) ≤ 60 s after the last join.
//   2. 5 files (one inline, four over 16 KiB) are put at once from random tabs: every put succeeds,
//      and every put of a file over 16 KiB resolves durable (its 3 holders had the bytes).
//   3. Every tab gets every file, byte-identical (SHA-256 computed in the page). A get answering
//      "not found" fails the test (a false "not found": every file was put and is held); one
//      answering the retryable "not sure yet" is asked again; any other failed attempt is retried
//      too, but the get must succeed before the run's deadline.
//
// Overload must slow the ring down, not make it lose puts or lie. Figures are printed (`# scale: …`)
// and written to out/e2e/scale.json; the tabs' final states and page logs of a failed run to
// out/e2e/scale.log. SCALE_TABS, SCALE_RUNS and SCALE_SEED change the defaults (32, 3, 13).
// Needs what ring.test.mjs needs; run it inside scripts/loopback-only (`make test-browser` does).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BROWSERS_LABEL, closeBrowser, launchBrowser, openPeer } from '../lib/browser.mjs';
import { isNotSure, mapBounded, putFile, seededRandom } from '../lib/churn.mjs';
import { dropBlob, getBlob, makeRandomBlob } from '../lib/files.mjs';
import { keyOf, ringProblems } from '../lib/ring.mjs';
import { ROOT, SERVER_BIN, startServer, WWW } from '../lib/server.mjs';
import { sleep, waitFor, withTimeout } from '../lib/wait.mjs';

const KIB = 1024;
const BROWSERS = 4;
const TABS = Number(process.env.SCALE_TABS ?? 32);
const RUNS = Number(process.env.SCALE_RUNS ?? 3);
const SEED = Number(process.env.SCALE_SEED ?? 13);
/** The ring must be correct this long after the last join (issue 13). */
const CONVERGE_MS = 60_000;
/** One inline value and four files over 16 KiB. */
const SIZES = [3000, 20 * KIB + 1, 300 * KIB, 1024 * KIB + 7, 2048 * KIB];
const REPLICAS = 3; // the page's default; not passed
/** Gets under way at once per tab. */
const GETS_PER_TAB = 2;
/** Pause between two attempts of a get that failed with anything but "not found". */
const RETRY_MS = 1000;
/** Every get of a run must have succeeded this long after the gets began. */
const GETS_MS = 150_000;
/** The tabs of a run must have joined within this (each run is bounded: joins, 60 s, puts, gets). */
const JOINS_MS = 180_000;
/** One run at most: the phases' bounds and some slack. */
const RUN_MS = JOINS_MS + CONVERGE_MS + 120_000 + GETS_MS + 30_000;
const LOG_DIR = path.join(ROOT, 'out', 'e2e');
/** How often the 32 states are read while waiting for a correct ring (each read is load of its own). */
const POLL_MS = 2000;

const random = seededRandom(SEED);
/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser[]} */
const browsers = [];
/** Measured figures of every run, printed and written to out/e2e/scale.json. */
const figures = { tabs: TABS, browsers: BROWSERS, runs: [], seed: SEED, cpus: os.cpus().length };
/** Diagnostics of failed runs, for out/e2e/scale.log. */
const report = [];

const load = () => Number(os.loadavg()[0].toFixed(1));
const states = (peers) => Promise.all(peers.map((p) => withTimeout(p.state(), 10_000, `${p.name}.state()`)));
const note = (t, line) => {
  t.diagnostic(line);
  console.log(`# scale: ${line}`);
};

/** Polls until `peers` form a correct ring; returns the ms since `t0`. */
async function waitForCorrectRing(peers, ring, t0, timeoutMs) {
  let last = [];
  await waitFor(
    async () => {
      last = ringProblems(await states(peers), { ring });
      return last.length === 0;
    },
    Math.max(1, t0 + timeoutMs - Date.now()),
    { what: `a correct ring of ${peers.length} tabs within ${timeoutMs} ms of the last join`, interval: POLL_MS, detail: () => `${last.length} problems:\n    ${last.slice(0, 12).join('\n    ')}` },
  );
  return Date.now() - t0;
}

/**
 * Gets `file` in `peer` until it succeeds or `deadline` passes. Returns the failed attempts:
 * { notFound, notSure, other } (messages). A "not found" is never retried: it is the lie the test is for.
 */
async function getUntilGot(peer, file, deadline) {
  const failed = { notFound: [], notSure: [], other: [] };
  for (;;) {
    let error;
    try {
      const left = Math.max(1000, Math.min(60_000, deadline - Date.now()));
      const got = await withTimeout(getBlob(peer, file.name), left, 'get');
      if (!got.ok) error = got.error?.message ?? 'rejected';
      else if (!got.found) {
        failed.notFound.push(`${peer.name}: ${JSON.stringify(file.name)}: found nothing`);
        return { ...failed, got: false };
      } else if (got.size !== file.size || got.sha256 !== file.sha256) {
        error = `wrong bytes (${got.size} B, SHA-256 ${String(got.sha256).slice(0, 12)}…)`;
      } else {
        return { ...failed, got: true };
      }
    } catch (e) {
      error = String(e?.message ?? e).split('\n')[0];
    }
    (isNotSure(error) ? failed.notSure : failed.other).push(`${peer.name}: ${JSON.stringify(file.name)}: ${error}`);
    if (Date.now() + RETRY_MS >= deadline) return { ...failed, got: false };
    await sleep(RETRY_MS);
  }
}

/** One run: a fresh ring of TABS tabs, 5 puts, every tab gets every file; then every tab closes. */
async function run(t, n) {
  const ring = `scale-${process.pid}-${n}-${Date.now().toString(36)}`;
  const fig = { run: n, ring };
  figures.runs.push(fig);
  const peers = [];
  try {
    // 1. The tabs join: the first alone, then one per process at a time.
    const t0 = Date.now();
    // A tab whose join fails (under this load ICE may find no path within its time) is opened
    // again, once; the figures count it.
    fig.joins_retried = [];
    const open = async (i) => {
      const opts = { server, ring, name: `r${n}t${i}@b${i % BROWSERS}`, timeoutMs: 90_000 };
      try {
        return await openPeer(browsers[i % BROWSERS], opts);
      } catch (e) {
        fig.joins_retried.push(`${opts.name}: ${String(e.message).split('\n')[0]}`);
        return openPeer(browsers[i % BROWSERS], { ...opts, name: `${opts.name}'` });
      }
    };
    const joins = async () => {
      peers.push(await open(0));
      for (let i = 1; i < TABS; i += BROWSERS) {
        peers.push(...(await Promise.all(Array.from({ length: Math.min(BROWSERS, TABS - i) }, (_, k) => open(i + k)))));
      }
    };
    await withTimeout(joins(), JOINS_MS, `${TABS} tabs joining`);
    const lastJoin = Date.now();
    fig.join_all_ms = lastJoin - t0;
    fig.load_after_joins = load();
    assert.equal(new Set(peers.map((p) => p.id)).size, TABS, 'ids are distinct');
    // A ring still wrong after 60 s fails the run, but only at its end: the puts and gets still measure.
    const late = [];
    fig.converge_ms = await waitForCorrectRing(peers, ring, lastJoin, CONVERGE_MS).catch((e) => {
      late.push(String(e.message).split('\n').filter((l) => !/^\s+at /.test(l)).slice(0, 16).join('\n'));
      return null;
    });
    fig.load_at_convergence = load();
    note(t, `run ${n}: ${TABS} tabs joined in ${fig.join_all_ms} ms (${fig.joins_retried.length} opened again); ring correct ${fig.converge_ms ?? `NOT within ${CONVERGE_MS}`} ms after the last join (load ${fig.load_at_convergence})`);
    if (fig.joins_retried.length) t.diagnostic(`joins that failed and were tried again:\n  ${fig.joins_retried.join('\n  ')}`);

    // 2. Five puts at once from random tabs.
    const planned = SIZES.map((size, i) => ({ name: `scale ${n}.${i} — Größe ${size} B.bin`, size, by: peers[Math.floor(random() * peers.length)] }));
    const t1 = Date.now();
    const puts = await Promise.all(
      planned.map(async (f, i) => {
        const made = await withTimeout(makeRandomBlob(f.by, `s${i}`, f.size), 30_000, `${f.by.name}: make ${f.size} bytes`);
        const put = await withTimeout(putFile(f.by, f.name, `s${i}`), 90_000, `${f.by.name}: put ${JSON.stringify(f.name)}`);
        await dropBlob(f.by, `s${i}`);
        return { f, made, put };
      }),
    );
    fig.put_all_ms = Date.now() - t1;
    fig.puts = puts.map(({ f, put }) => ({ size: f.size, ok: put.ok, ms: Math.round(put.ms), holders: put.result?.holders ?? null, durable: put.result?.durable ?? null, error: put.error?.message }));
    const failedPuts = puts.filter(({ put }) => !put.ok).map(({ f, put }) => `${f.by.name}: put ${JSON.stringify(f.name)} (${f.size} B): ${put.error?.message}`);
    assert.deepEqual(failedPuts, [], 'every put succeeds');
    const files = puts.map(({ f, made, put }) => {
      assert.equal(put.result.key, keyOf(f.name), `${JSON.stringify(f.name)}: PutResult.key`);
      return { name: f.name, size: f.size, sha256: made.sha256 };
    });
    const notDurable = puts.filter(({ f, put }) => f.size > 16 * KIB && !(put.result.durable === true && put.result.holders === REPLICAS));
    assert.deepEqual(notDurable.map(({ f, put }) => `${JSON.stringify(f.name)}: ${JSON.stringify(put.result)}`), [], `every file over 16 KiB resolved on ${REPLICAS} holders`);
    note(t, `run ${n}: ${files.length} puts succeeded in ${fig.put_all_ms} ms (${fig.puts.map((p) => `${p.size} B: ${p.ms} ms, holders ${p.holders}`).join('; ')})`);

    // 3. Every tab gets every file.
    const t2 = Date.now();
    const deadline = t2 + GETS_MS;
    const results = [];
    await Promise.all(peers.map((p) => mapBounded(files, GETS_PER_TAB, async (f) => results.push(await getUntilGot(p, f, deadline)))));
    fig.get_all_ms = Date.now() - t2;
    fig.load_after_gets = load();
    const all = (k) => results.flatMap((r) => r[k]);
    fig.gets = { count: results.length, not_found: all('notFound').length, not_sure_retried: all('notSure').length, other_failed_attempts: all('other').length, first_other: all('other').slice(0, 5) };
    const never = results.filter((r) => !r.got).length;
    note(t, `run ${n}: ${results.length} gets in ${fig.get_all_ms} ms: ${fig.gets.not_found} "not found", ${fig.gets.not_sure_retried} "not sure" retried, ${fig.gets.other_failed_attempts} other failed attempts, ${never} never got (load ${fig.load_after_gets})`);
    if (fig.gets.other_failed_attempts) t.diagnostic(`other failed attempts:\n  ${all('other').slice(0, 10).join('\n  ')}`);
    assert.deepEqual(all('notFound'), [], 'a get answered "not found" for a file that was put');
    assert.equal(never, 0, `gets that did not succeed within ${GETS_MS} ms:\n  ${all('other').slice(-10).join('\n  ')}`);
    assert.deepEqual(late, [], `the ring was not correct ${CONVERGE_MS} ms after the last join`);
  } catch (e) {
    const st = await Promise.all(peers.map((p) => withTimeout(p.state(), 3000, 'state').catch((err) => `(${err.message})`)));
    report.push(`=== run ${n} (${ring}) failed: ${e.message}`);
    for (const [i, p] of peers.entries()) report.push(`--- ${p.name} ${p.id}`, JSON.stringify(st[i]), ...p.logs.slice(-200));
    throw e;
  } finally {
    await Promise.all(peers.map((p) => withTimeout(p.context.close(), 10_000, `${p.name}: close`).catch(() => {})));
  }
}

describe(`scale: ${TABS} tabs in ${BROWSERS} ${BROWSERS_LABEL} processes, ${SIZES.length} puts, every tab gets every file, ${RUNS} runs (issue 13)`, { timeout: RUNS * (RUN_MS + 10_000) }, () => {
  before(async () => {
    for (const f of [SERVER_BIN, path.join(WWW, 'index.html'), path.join(WWW, 'pkg', 'chord_bg.wasm')]) {
      assert.ok(existsSync(f), `${f} is missing: run \`make web\` and \`cargo build --release -p chord-signaling\``);
    }
    server = await startServer();
    browsers.push(...(await Promise.all(Array.from({ length: BROWSERS }, () => launchBrowser()))));
  });

  after(async () => {
    try {
      mkdirSync(LOG_DIR, { recursive: true });
      writeFileSync(path.join(LOG_DIR, 'scale.json'), `${JSON.stringify(figures, null, 2)}\n`);
      writeFileSync(path.join(LOG_DIR, 'scale.log'), `${[...report, '--- server', ...(server?.log ?? [])].join('\n')}\n`);
    } catch {
      // best effort
    }
    await Promise.all(browsers.map((b) => closeBrowser(b)));
    await server?.stop().catch(() => {});
  });

  for (let n = 1; n <= RUNS; n++) {
    it(`run ${n} of ${RUNS}: the ring is correct ≤ ${CONVERGE_MS / 1000} s after the last join; every put succeeds; every tab gets every file, never "not found"`, { timeout: RUN_MS }, (t) => run(t, n));
  }
});
