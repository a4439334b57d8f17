// Partition heal benchmark (issue 13 target: 8 tabs in two rings of 4 → one correct ring ≤ 10 s
// after they can reach each other). Real signaling servers, real page, headless Chromium.
//
//   node tests/e2e/bench/heal-bench.mjs [--tabs 8] [--browsers 2] [--runs 3] [--target-ms 10000] [--out out/bench/heal.json]
//   (`make bench-heal`; run inside scripts/loopback-only after `make web server`)
//
// Per run: servers sA and sB, and a port sX with no server yet. Half the tabs are given sA,sX and
// form ring A through sA; the other half are given sB,sX and form ring B (same ring name): sX is
// down, so each founder founds. One file is put in each ring. Then sX starts: the members knock
// at it again (their reconnect backoff), say hello as members, and sX opens meetings between
// them. Measured (ms, node clock, states polled every 100 ms):
//   reconnect_ms  sX started → every tab connected to it (/stats members)
//   reach_ms      sX started → the first open link between a tab of A and a tab of B
//   heal_ms       that first link → one correct ring over every tab (lib/ring.mjs ringProblems)
//   link_failures link attempts that failed, summed over the tabs, by reason (state().linkFailures)
//   files_ms      one correct ring → every tab got both files ("not sure yet" answers are retried
//                 for up to 20 s; a "not found" is a miss)
// Prints a table and JSON; exits 1 if a run's heal_ms exceeds
// --target-ms, the rings never became one, or a file could not be got.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { closeBrowser, getBytes, launchBrowser, putBytes } from '../lib/browser.mjs';
import { openTab, statesOf, waitForOneRing } from '../lib/rings.mjs';
import { measuredCommit } from '../lib/pairings.mjs';
import { ringProblems } from '../lib/ring.mjs';
import { ROOT, startServer } from '../lib/server.mjs';
import { sleep } from '../lib/wait.mjs';

const { values: opt } = parseArgs({
  options: {
    tabs: { type: 'string', default: '8' },
    browsers: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
    'target-ms': { type: 'string', default: '10000' },
    out: { type: 'string', default: 'out/bench/heal.json' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'));
  process.exit(0);
}
const TABS = Number(opt.tabs);
const BROWSERS = Number(opt.browsers);
const RUNS = Number(opt.runs);
const TARGET_MS = Number(opt['target-ms']);
const LIMIT_MS = 60_000;
const FILES_MS = 20_000;

/** A free port with no server on it: start one, note its port, stop it. */
async function freePort() {
  const s = await startServer();
  await s.stop();
  return s.port;
}

async function run(i, browsers) {
  const ring = `heal-${process.pid}-${i}`;
  const [sA, sB] = await Promise.all([startServer({ args: ['--grace', '1'] }), startServer({ args: ['--grace', '1'] })]);
  const xPort = await freePort();
  const sXws = { wsUrl: `ws://127.0.0.1:${xPort}/ws` };
  let sX;
  const a = [], b = [];
  try {
    for (let k = 0; k < TABS / 2; k++) {
      a.push(await openTab(browsers[k % browsers.length], sA, [sA, sXws], ring, `A${k}`));
      b.push(await openTab(browsers[(k + 1) % browsers.length], sB, [sB, sXws], ring, `B${k}`));
    }
    await waitForOneRing(a, ring, LIMIT_MS, 'ring A');
    await waitForOneRing(b, ring, LIMIT_MS, 'ring B');
    const files = [
      { name: `heal-a-${i}`, bytes: randomBytes(2000), from: a[0] },
      { name: `heal-b-${i}`, bytes: randomBytes(30_000), from: b[0] },
    ];
    for (const f of files) await putBytes(f.from, f.name, f.bytes);

    const all = [...a, ...b];
    const aIds = new Set(a.map((p) => p.id)), bIds = new Set(b.map((p) => p.id));
    const t0 = Date.now();
    sX = await startServer({ port: xPort });
    let reach, one, reconnect;
    while (Date.now() - t0 < LIMIT_MS && one === undefined) {
      const states = await statesOf(all);
      const now = Date.now();
      if (reconnect === undefined && (await sX.stats()).members >= all.length) reconnect = now - t0;
      if (reach === undefined) {
        const crossed = states.some((st) => st.links.some((l) => l.state === 'open' && (aIds.has(st.id) ? bIds : aIds).has(l.peer)));
        if (crossed) reach = now;
      }
      if (reach !== undefined && ringProblems(states, { ring }).length === 0) one = now;
      await sleep(100);
    }
    const end = await statesOf(all);
    const problems = one === undefined ? ringProblems(end, { ring }) : [];
    // Link attempts that failed, summed over the tabs, by reason (what slowed a slow run).
    const linkFailures = {};
    for (const st of end) for (const [k, n] of Object.entries(st.linkFailures ?? {})) linkFailures[k] = (linkFailures[k] ?? 0) + n;
    // Every tab gets both files. "Not sure yet" is an honest answer while records move: retried
    // (as tests/e2e/lib/rings.mjs expectFiles does) for up to FILES_MS; "not found" is a lie.
    let missing = null, filesMs = null;
    const failures = [];
    if (one !== undefined) {
      missing = 0;
      for (const p of all) {
        for (const f of files) {
          let got, err;
          while (Date.now() - one < FILES_MS) {
            try {
              got = await getBytes(p, f.name);
              err = undefined;
              break;
            } catch (e) {
              err = e;
              if (!/still settling/.test(String(e?.message))) break;
              await sleep(200);
            }
          }
          if (!got?.equals(f.bytes)) {
            missing++;
            failures.push(`${p.name} get(${f.name}): ${err ? String(err.message).slice(0, 160) : got ? 'bytes differ' : 'not found'}`);
          }
        }
      }
      filesMs = Date.now() - one;
    }
    return {
      run: i,
      tabs: all.length,
      reconnect_ms: reconnect ?? null,
      reach_ms: reach === undefined ? null : reach - t0,
      heal_ms: one === undefined ? null : one - reach,
      files_missing: missing, // null: not checked (no single ring)
      files_ms: filesMs,
      file_failures: failures.slice(0, 10),
      link_failures: linkFailures,
      problems: problems.slice(0, 10),
      stats_x: await sX.stats(),
    };
  } finally {
    await Promise.all([...a, ...b].map((p) => p.context.close().catch(() => {})));
    await Promise.all([sA, sB, sX].map((s) => s?.stop().catch(() => {})));
  }
}

const browsers = await Promise.all(Array.from({ length: BROWSERS }, () => launchBrowser()));
const runs = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const r = await run(i, browsers);
    runs.push(r);
    console.error(`run ${i}: reconnect ${r.reconnect_ms} ms, reach ${r.reach_ms} ms, heal ${r.heal_ms} ms, files ${r.files_ms} ms, missing ${r.files_missing} ${JSON.stringify(r.file_failures)}, link failures ${JSON.stringify(r.link_failures)}`);
  }
} finally {
  await Promise.all(browsers.map((b) => closeBrowser(b)));
}
const met = runs.length === RUNS && runs.every((r) => r.heal_ms !== null && r.heal_ms <= TARGET_MS && r.files_missing === 0);
const heals = runs.map((r) => (r.heal_ms === null ? 'never' : `${(r.heal_ms / 1000).toFixed(1)} s`));
const checks = [
  { what: `${TABS} tabs in two rings: reach → one correct ring, every run`, target: `≤ ${TARGET_MS / 1000} s`, value: heals.join(', '), ok: runs.length === RUNS && runs.every((r) => r.heal_ms !== null && r.heal_ms <= TARGET_MS) },
  { what: `${TABS} tabs in two rings: every tab gets every file after the heal`, target: '0 missing', value: `${runs.reduce((a, r) => a + (r.files_missing ?? 0), 0)} missing`, ok: runs.length === RUNS && runs.every((r) => r.files_missing === 0) },
];
const out = { bench: 'heal', date: new Date().toISOString(), commit: measuredCommit(), tabs: TABS, browsers: BROWSERS, target_ms: TARGET_MS, met, checks, runs };
mkdirSync(path.dirname(path.resolve(ROOT, opt.out)), { recursive: true });
writeFileSync(path.resolve(ROOT, opt.out), `${JSON.stringify(out, null, 1)}\n`);
console.log(JSON.stringify(out));
process.exit(met ? 0 : 1);
