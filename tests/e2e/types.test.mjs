// Issue 15, item 6: the TypeScript declarations (www/pkg/chord.d.ts, written in
// src/web/api_types.rs) against what the wasm peer really returns. Two Chromium tabs join a ring;
// their real `state()`, the events they received, real `PutResult`s (a small value and a file over
// 16 KiB) and real errors (bad arguments, a cancelled put, a join with an id the ring already has,
// a put after leaving) are written as object literals into a typed usage file
// (`const s: PeerState = {…}`), and `tsc --noEmit --strict` checks it against the generated
// declarations. Object literals get TypeScript's excess-property check, so a field the wasm returns
// that the .d.ts lacks fails, as does a field the .d.ts promises that the wasm does not return.
// The same file is checked once more against a copy of the declarations with one field renamed,
// and must fail there: the check can fail.
//
// Also here, on the real page (item 3): polling of `state()` stops after the tab leaves; a lost ring
// (state().status back to "joining") shows "Reconnecting" and a get asked for meanwhile waits for
// the ring; a page opened without `?test` has no test hooks.
//
// Needs: target/release/chord-signaling, www/pkg (`make web server`), /usr/bin/chromium, `npm ci`
// here (typescript is a devDependency). Run it inside scripts/loopback-only (`make test-browser`).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe } from 'node:test';
import { closeBrowser, launchBrowser, openPeer } from './lib/browser.mjs';
import { recordChordEvents } from './lib/files.mjs';
import { rowsFor, submitGet } from './lib/page-ui.mjs';
import { ROOT, SERVER_BIN, startServer, WWW } from './lib/server.mjs';
import { steps } from './lib/steps.mjs';
import { sleep, waitFor } from './lib/wait.mjs';

const RING = `types-${process.pid}-${Date.now().toString(36)}`;
const OUT = path.join(ROOT, 'out', 'e2e', 'types');
const TSC = path.join(ROOT, 'tests', 'e2e', 'node_modules', '.bin', 'tsc');
const DTS = path.join(WWW, 'pkg', 'chord.d.ts');
const run = promisify(execFile);

/** Runs tsc on `file`; resolves to { ok, output }. */
async function tsc(file) {
  const args = ['--noEmit', '--strict', '--target', 'esnext', '--module', 'esnext', '--moduleResolution', 'bundler',
    '--lib', 'esnext,dom', '--types', '', file];
  try {
    const { stdout, stderr } = await run(TSC, args, { cwd: path.dirname(file) });
    return { ok: true, output: stdout + stderr };
  } catch (e) {
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  }
}

/** A JSON value as a TypeScript expression (JSON is one). */
const lit = (v) => JSON.stringify(v, null, 2);

/** The typed usage file: every real value assigned to the type the .d.ts gives it. */
function usageFile(from, seen) {
  const lines = [
    '// Written by tests/e2e/types.test.mjs from a real peer: do not edit.',
    `import type { PeerState, ChordEvent, PutResult, ErrorCode } from ${JSON.stringify(from)};`,
    '',
  ];
  seen.states.forEach((s, i) => lines.push(`export const state${i}: PeerState = ${lit(s)};`));
  lines.push(`export const events: ChordEvent[] = ${lit(seen.events)};`);
  seen.puts.forEach((p, i) => lines.push(`export const put${i}: PutResult = ${lit(p)};`));
  // An Error's own fields are not enumerable: the test copies name, message and code.
  lines.push(`export const errors: { name: string; message: string; code: ErrorCode }[] = ${lit(seen.errors)};`);
  return `${lines.join('\n')}\n`;
}

describe('the .d.ts matches what the wasm peer returns (issue 15)', { timeout: 150_000 }, () => {
  let server;
  let browser;
  const tabs = [];
  const seen = { states: [], events: [], puts: [], errors: [] };
  const step = steps();

  before(async () => {
    for (const f of [SERVER_BIN, DTS, TSC]) assert.ok(existsSync(f), `${f} is missing: make web server; npm ci in tests/e2e`);
    server = await startServer();
    browser = await launchBrowser({ kind: 'chromium' });
  });

  after(async () => {
    if (browser) await closeBrowser(browser);
    await server?.stop();
  });

  step('two tabs join; real state(), events and put results are collected', 60_000, async (t) => {
    for (const name of ['A', 'B']) {
      tabs.push(await openPeer(browser, { server, ring: RING, name, setup: recordChordEvents }));
    }
    await waitFor(async () => {
      const [a, b] = await Promise.all(tabs.map((t) => t.state()));
      return a.successors[0] === b.id && b.successors[0] === a.id && a.predecessor === b.id && b.predecessor === a.id;
    }, 20_000, { what: 'a ring of the two tabs' });
    for (const [i, bytes] of [100, 40_000].entries()) {
      seen.puts.push(await tabs[0].page.evaluate(async ({ i, bytes }) => {
        const r = await window.chord.put(`types ${i}.bin`, new Uint8Array(bytes).fill(7));
        return r;
      }, { i, bytes }));
    }
    assert.equal(seen.puts[0].holders, null, 'a small value has no holders count');
    t.diagnostic(`put results: ${seen.puts.map((p) => `${p.size} B: holders ${p.holders}, durable ${p.durable}, primary ${p.node === tabs[0].id ? 'this tab' : 'the other'}`).join('; ')}`);
    await waitFor(async () => (await tabs[1].state()).records.length + (await tabs[0].state()).records.length >= 4, 20_000,
      { what: 'both values held with their replicas' });
    seen.states.push(...(await Promise.all(tabs.map((t) => t.state()))));
  });

  step('real errors each carry a code', 60_000, async () => {
    const errs = await tabs[1].page.evaluate(async ({ url, ring, takenId }) => {
      const info = (e) => ({ isError: e instanceof Error, name: e?.name, message: e?.message, code: e?.code });
      const out = {};
      const peer = window.chord;
      try { peer.closeLink('not an id'); out.closeLink = { resolved: true }; } catch (e) { out.closeLink = info(e); }
      out.badOptions = await peer.get('x', 5).then(() => ({ resolved: true }), info);
      out.emptyName = await peer.put('', 'x').then(() => ({ resolved: true }), info);
      const ctl = new AbortController();
      ctl.abort();
      out.cancelled = await peer.put('cancelled.txt', 'x', { signal: ctl.signal }).then(() => ({ resolved: true }), info);
      // A second peer in this page with the id tab A has: the signaling server refuses it with
      // the error code id_taken, and the join fails with code id_taken, as when the ring itself
      // refuses a taken id.
      out.idTaken = await peer.constructor.join({ signalingUrl: url, ring, loopbackOnly: true, id: takenId, joinTimeoutMs: 20000 })
        .then((p) => { p.leave(); return { resolved: true }; }, info);
      return out;
    }, { url: `${server.url.replace(/^http/, 'ws')}/ws`, ring: RING, takenId: tabs[0].id });
    const want = { closeLink: 'invalid', badOptions: 'invalid', emptyName: 'invalid', cancelled: 'cancelled', idTaken: 'id_taken' };
    for (const [what, code] of Object.entries(want)) {
      const e = errs[what];
      assert.ok(e.isError, `${what}: rejected with an Error (got ${JSON.stringify(e)})`);
      assert.equal(e.code, code, `${what}: code (message ${JSON.stringify(e.message)})`);
      assert.ok(e.message.length >= 8, `${what}: a message in words`);
      seen.errors.push({ name: e.name, message: e.message, code: e.code });
    }
  });

  step('after leave the page stops polling state(); a put then fails with a code', 30_000, async () => {
    const tab = tabs[1];
    const countCalls = () => tab.page.evaluate(async () => {
      const peer = window.chord;
      const real = Object.getPrototypeOf(peer).state;
      let calls = 0;
      peer.state = function () { calls++; return real.call(this); };
      await new Promise((r) => setTimeout(r, 2500));
      delete peer.state;
      return calls;
    });
    assert.ok(await countCalls() >= 2, 'a joined, visible page polls state() (about once a second)');
    assert.equal(await tab.page.evaluate(() => window.chordPolling()), true, 'polling while joined');
    await tab.page.click('#leave');
    await waitFor(async () => /^Left the ring/.test(await tab.page.textContent('#status')), 10_000, { what: 'the status line says left' });
    await sleep(200);
    assert.equal(await tab.page.evaluate(() => window.chordPolling()), false, 'no polling after leave');
    assert.equal(await countCalls(), 0, 'state() is not called after leave');
    seen.events.push(...(await Promise.all(tabs.map((t) => t.page.evaluate(() => globalThis.__e2eEvents ?? []))))
      .flat().map(({ at, ...ev }) => ev));
    const after = await tab.page.evaluate(() => window.chord.put('after.txt', 'x').then(() => null, (e) => ({ name: e.name, message: e.message, code: e.code })));
    assert.ok(after && typeof after.code === 'string', `a put after leave rejects with a code: ${JSON.stringify(after)}`);
    seen.errors.push(after);
  });

  step('a lost ring shows "Reconnecting", and a get asked for meanwhile waits for the ring', 30_000, async () => {
    // A ring is lost when every successor stops answering; state().status is then "idle" or
    // "joining" until the tab is back. That window is short and timing-bound in a real ring, so
    // this step makes tab A's state() report "joining" (everything else real) and checks the page.
    const tab = tabs[0];
    let shown = '';
    const status = async () => (shown = await tab.page.textContent('#status'));
    await tab.page.evaluate(() => {
      const peer = window.chord;
      const real = Object.getPrototypeOf(peer).state;
      window.__lost = true;
      peer.state = function () { const st = real.call(this); return window.__lost ? { ...st, status: 'joining' } : st; };
    });
    await waitFor(async () => /^Reconnecting/.test(await status()), 5_000, { what: 'the status line says Reconnecting', detail: () => shown });
    assert.equal(await tab.page.getAttribute('#status', 'data-kind'), 'warn');
    await submitGet(tab, 'types 0.bin');
    let rows = [];
    await waitFor(async () => {
      rows = (await rowsFor(tab, 'types 0.bin')).transfers;
      return rows[0]?.text === 'Waiting for this tab to reconnect to the ring…';
    }, 5_000, { what: 'the get waits for the ring', detail: () => JSON.stringify(rows) });
    await sleep(1000);
    assert.equal((await rowsFor(tab, 'types 0.bin')).transfers[0].state, 'active', 'still waiting a second later');
    await tab.page.evaluate(() => { window.__lost = false; });
    await waitFor(async () => /^Joined ring/.test(await status()), 5_000, { what: 'the status line says joined again', detail: () => shown });
    await waitFor(async () => {
      rows = (await rowsFor(tab, 'types 0.bin')).transfers;
      return rows[0]?.state === 'ok';
    }, 10_000, { what: 'the get completes once the ring is back', detail: () => JSON.stringify(rows) });
    assert.match(rows[0].text, /^Got 100 bytes/);
    await tab.page.evaluate(() => { delete window.chord.state; });
  });

  step('a page opened without ?test carries no test hooks', 30_000, async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}/?loopback=1&ring=${RING}-plain`, { waitUntil: 'load' });
      await page.evaluate(() => window.chordReady);
      const hooks = await page.evaluate(() => ['chordJoinStarted', 'chordJoinMs', 'chordJoinedSuccessor', 'chordLinkOpenedAt', 'chordPolling']
        .filter((k) => k in window));
      assert.deepEqual(hooks, [], 'no test hooks on a user\'s page');
      assert.equal(await page.evaluate(() => typeof window.chord.state), 'function', 'window.chord is there (the console API)');
    } finally {
      await context.close();
    }
  });

  step('tsc --strict accepts them against the generated .d.ts', 60_000, async (t) => {
    const types = new Set(seen.events.map((e) => e.type));
    for (const type of ['joined', 'successor', 'predecessor', 'link_open', 'server', 'stored', 'left']) {
      assert.ok(types.has(type), `a "${type}" event was seen (seen: ${[...types].join(', ')})`);
    }
    mkdirSync(OUT, { recursive: true });
    const file = path.join(OUT, 'usage.ts');
    writeFileSync(file, usageFile(path.join(WWW, 'pkg', 'chord.js'), seen));
    const r = await tsc(file);
    assert.ok(r.ok, `tsc rejected the real values (${file}):\n${r.output}`);
    t.diagnostic(`checked ${seen.states.length} states, ${seen.events.length} events (${[...types].join(', ')}), ${seen.puts.length} put results, ${seen.errors.length} errors (${seen.errors.map((e) => e.code).join(', ')})`);
  });

  step('and reject them against a .d.ts with one field renamed', 60_000, async () => {
    const dir = path.join(OUT, 'renamed');
    mkdirSync(dir, { recursive: true });
    const dts = readFileSync(DTS, 'utf8');
    assert.match(dts, /\bwasmMemoryBytes: number;/);
    writeFileSync(path.join(dir, 'chord.d.ts'), dts.replace(/\bwasmMemoryBytes: number;/, 'wasmMemoryByteCount: number;'));
    copyFileSync(path.join(WWW, 'pkg', 'chord.js'), path.join(dir, 'chord.js'));
    const file = path.join(dir, 'usage.ts');
    writeFileSync(file, usageFile('./chord.js', seen));
    const r = await tsc(file);
    assert.equal(r.ok, false, 'tsc must fail when a field is renamed in the .d.ts');
    assert.match(r.output, /wasmMemoryBytes|wasmMemoryByteCount/, `tsc names the field:\n${r.output}`);
  });
});
