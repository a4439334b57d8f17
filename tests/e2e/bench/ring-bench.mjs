// Browser ring benchmark: real signaling server, real page, several headless browser processes.
//
//   node tests/e2e/bench/ring-bench.mjs [--tabs 8] [--browsers 2] [--runs 3] [--out out/bench/browser.json]
//                                       [--pairings chromium-chromium,firefox-firefox,firefox-chromium]
//   (`make bench-browser` runs --tabs 8 --browsers 2 and --tabs 16 --browsers 4, 3 runs each;
//    `make bench-browsers` runs the three pairings above at --tabs 8 --browsers 2 --runs 3)
//
// Run it inside scripts/loopback-only after `make web server` (`make bench-browser` does both).
// Per run it opens TABS pages spread over BROWSERS processes (tab i in process i mod BROWSERS),
// one after another, and measures:
//   join_ms          ChordPeer.join called -> resolved (the tab knows its successor), per tab (in-page clock)
//   join_linked_ms   ChordPeer.join called -> data channel to that successor open, per joining tab
//   converge_ms      last join -> every predecessor, successor list and finger correct (polled every 100 ms)
//   relayed          server messages relayed: at the last join, and 5 s after the ring is correct;
//                    per peer: relayed during the joins / TABS, relayed after the last join / TABS
//   get_ms           get of a 4 KiB value from every tab (10 each, in-page clock)
//   hops             overlay path length of puts of 4 KiB values (inline, routed hop by hop):
//                    PutResult.hops, 2 puts from every tab
//   lookup_ms        lookup latency, by proxy: ChordPeer has no lookup method, so this is a get of
//                    a name nobody stored (10 distinct names per tab, in-page clock): the lookup of
//                    the key's successor plus its "not found" answer, no value bytes
// and once: the gzipped size of www/pkg (wasm + js). Prints a table; writes JSON with every sample.
// The browser is E2E_BROWSERS's (lib/browser.mjs; Chromium by default). It exits 1 naming each
// missed target of BENCHMARKS.md: join → link and 4 KiB get as below, ring correct ≤ 5 s after
// the last join (median), no server message relayed after the last join, bundle ≤ 256 KiB.
//
// With --pairings (issue 14) it measures each pairing KIND-KIND (chromium or firefox) in turn with
// the same settings: process i runs the kind at position i mod 2, so with 2 processes
// firefox-chromium alternates Firefox and Chromium tabs (tab 0, the founder, in Firefox).
// Each pairing gets fresh browser processes; the server is shared (its counters are read per run).
// It prints one row per pairing and writes { pairings: { NAME: { kinds, summary, runs } }, targets,
// missed } to --out, and exits 1 if any pairing misses a target (or fails), naming each miss:
//   join_linked_ms_median ≤ 500 ms   (ChordPeer.join called -> data channel to its successor open)
//   get_4k_ms_median      ≤ 20 ms
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { closeBrowser, launchBrowser, openPeer, putBytes } from '../lib/browser.mjs';
import { judge, kindOf, measuredCommit, missedTargets, parsePairings, printColumns, reportMissed, targetText } from '../lib/pairings.mjs';
import { ringProblems } from '../lib/ring.mjs';
import { ROOT, startServer } from '../lib/server.mjs';
import { sleep } from '../lib/wait.mjs';

const { values: opt } = parseArgs({
  options: {
    tabs: { type: 'string', default: '8' },
    browsers: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
    out: { type: 'string', default: 'out/bench/browser.json' },
    pairings: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'));
  process.exit(0);
}
/** Bad options: the reason on stderr, exit 2. */
function usage(message) {
  console.error(`ring-bench: ${message} (--help lists the options)`);
  process.exit(2);
}
const positive = (flag) => {
  const n = Number(opt[flag]);
  if (!Number.isInteger(n) || n < 1) usage(`--${flag} ${opt[flag]}: expected a whole number ≥ 1`);
  return n;
};
const TABS = positive('tabs');
const BROWSERS = positive('browsers');
const RUNS = positive('runs');
let PAIRINGS = null;
try {
  if (opt.pairings !== undefined) PAIRINGS = parsePairings(opt.pairings);
} catch (e) {
  usage(e.message);
}
if (PAIRINGS && BROWSERS < 2) usage(`--pairings needs --browsers ≥ 2 (got ${BROWSERS}): a pairing names two processes`);
/** What every pairing is held to with --pairings (BENCHMARKS.md's targets for these measures). */
const TARGETS = Object.freeze([
  { key: 'join_linked_ms_median', label: 'join → data channel to its successor open, median', max: 500, unit: 'ms' },
  { key: 'get_4k_ms_median', label: 'get of a 4 KiB value, median', max: 20, unit: 'ms' },
]);
/** What a ring of one kind is held to (BENCHMARKS.md, "Browser ring"); the pairings add none of these. */
const RING_TARGETS = Object.freeze([
  ...TARGETS,
  { key: 'converge_ms_median', label: 'last join → ring correct, median', max: 5000, unit: 'ms' },
  { key: 'relayed_after_join', label: 'server messages relayed after the last join (all runs)', max: 0 },
  { key: 'bundle_gzip_kib', label: 'wasm + JS bundle, gzip', max: 256, unit: 'KiB' },
]);
const CONVERGE_LIMIT_MS = 60_000;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const histogram = (xs) => xs.reduce((h, x) => ((h[x] = (h[x] ?? 0) + 1), h), {});

/** The bundle's size as scripts/build-web.sh measures its budget: `gzip -9` of each file (node's
 *  zlib at level 9 gives ~4 KiB more on the same wasm, so it is not used). */
function bundleBytes() {
  const pkg = path.join(ROOT, 'www/pkg');
  const files = ['chord_bg.wasm', 'chord.js'].map((f) => path.join(pkg, f));
  const gzip = (f) => execFileSync('gzip', ['-9', '-c', f], { maxBuffer: 64 << 20 }).length;
  return { raw: files.reduce((a, f) => a + readFileSync(f).length, 0), gzip: files.reduce((a, f) => a + gzip(f), 0) };
}

async function oneRun(run, server, browsers) {
  const ring = `bench-${run}-${Date.now()}`;
  const peers = [];
  for (let i = 0; i < TABS; i++) {
    peers.push(await openPeer(browsers[i % BROWSERS], { server, ring, name: `tab${i}` }));
  }
  const lastJoin = performance.now();
  const relayedAtJoin = (await server.stats()).messages_relayed;
  let problems = ['not polled yet'];
  let convergeMs = NaN;
  while (performance.now() - lastJoin < CONVERGE_LIMIT_MS) {
    const states = await Promise.all(peers.map((p) => p.state()));
    problems = ringProblems(states, { ring });
    if (problems.length === 0) {
      convergeMs = performance.now() - lastJoin;
      break;
    }
    await sleep(100);
  }
  if (problems.length) throw new Error(`run ${run}: ring not correct after ${CONVERGE_LIMIT_MS} ms: ${problems.slice(0, 5).join('; ')}`);
  const joinMs = await Promise.all(peers.map((p) => p.page.evaluate(() => window.chordJoinMs)));
  // The page sets its timings only with ?test (www/test-hooks.js; openPeer adds it).
  if (!joinMs.every(Number.isFinite)) throw new Error(`run ${run}: the page has no test timings (window.chordJoinMs ${joinMs}); is ?test in its URL?`);
  // Join → linked to its successor: the later of the join resolving and the data channel to the
  // successor it joined with opening (the first tab founds the ring: no successor, not counted).
  const linkedMs = (await Promise.all(peers.slice(1).map((p) => p.page.evaluate(() => {
    const succ = String(window.chordJoinedSuccessor ?? '').toLowerCase();
    const opened = Object.entries(window.chordLinkOpenedAt ?? {}).find(([peer]) => peer.toLowerCase() === succ)?.[1];
    return opened === undefined ? null : Math.max(window.chordJoinMs, opened - window.chordJoinStarted);
  }))));
  if (linkedMs.some((ms) => ms === null)) throw new Error(`run ${run}: a tab never opened a link to the successor it joined with`);

  // Small values: 2 puts from every tab (hops), then every tab gets one 10 times.
  const value = new Uint8Array(4096).map((_, i) => (i * 31 + run) & 255);
  const hops = [];
  for (let k = 0; k < 2 * TABS; k++) hops.push((await putBytes(peers[k % TABS], `bench value ${k}`, value)).hops);
  const getMs = [];
  for (const [i, p] of peers.entries()) {
    const times = await p.page.evaluate(async (name) => {
      const out = [];
      for (let j = 0; j < 10; j++) {
        const t = performance.now();
        const v = await window.chord.get(name);
        if (!(v instanceof Blob) || v.size !== 4096) throw new Error(`get returned ${v}`);
        out.push(performance.now() - t);
      }
      return out;
    }, `bench value ${i % 8}`);
    getMs.push(...times);
  }
  // Lookup latency by proxy: gets of names nobody stored.
  const lookupMs = [];
  for (const [i, p] of peers.entries()) {
    const times = await p.page.evaluate(async ([run, i]) => {
      const out = [];
      for (let j = 0; j < 10; j++) {
        const t = performance.now();
        const v = await window.chord.get(`missing ${run}/${i}/${j}`);
        if (v !== undefined) throw new Error(`get of a missing name returned ${v}`);
        out.push(performance.now() - t);
      }
      return out;
    }, [run, i]);
    lookupMs.push(...times);
  }
  await sleep(5000);
  const stats = await server.stats();
  for (const p of peers) await p.context.close().catch(() => {});
  return {
    run,
    join_ms: joinMs,
    join_linked_ms: linkedMs,
    converge_ms: convergeMs,
    relayed_at_last_join: relayedAtJoin,
    relayed_5s_after: stats.messages_relayed,
    introductions_completed: stats.introductions_completed,
    connections_after: stats.connections,
    get_ms: getMs,
    lookup_ms: lookupMs,
    hops,
  };
}

/**
 * RUNS runs in BROWSERS fresh browser processes (`kinds[i mod 2]`, or E2E_BROWSERS's if no kinds);
 * returns every run and their summary.
 */
async function measure(server, kinds) {
  const browsers = [];
  try {
    for (let b = 0; b < BROWSERS; b++) browsers.push(await launchBrowser(kinds ? { kind: kinds[b % kinds.length] } : {}));
    const runs = [];
    for (let r = 0; r < RUNS; r++) {
      const before = await server.stats();
      const res = await oneRun(r, server, browsers);
      // Counters are server-wide; report this run's share.
      res.relayed_at_last_join -= before.messages_relayed;
      res.relayed_5s_after -= before.messages_relayed;
      res.introductions_completed -= before.introductions_completed;
      runs.push(res);
      console.error(`${kinds ? `${kinds.join('-')} ` : ''}run ${r}: converged ${round(res.converge_ms)} ms after the last join`);
    }
    return { summary: summarize(runs), runs };
  } finally {
    for (const b of browsers) await closeBrowser(b);
  }
}

function summarize(runs) {
  const bundle = bundleBytes();
  return {
    date: new Date().toISOString(),
    tabs: TABS,
    browsers: BROWSERS,
    runs: RUNS,
    join_ms_median: round(median(runs.flatMap((r) => r.join_ms))),
    join_linked_ms_median: round(median(runs.flatMap((r) => r.join_linked_ms))),
    converge_ms_median: round(median(runs.map((r) => r.converge_ms))),
    converge_ms_max: round(Math.max(...runs.map((r) => r.converge_ms))),
    get_4k_ms_median: round(median(runs.flatMap((r) => r.get_ms)), 2),
    put_hops_mean: round(mean(runs.flatMap((r) => r.hops)), 2),
    put_hops_max: Math.max(...runs.flatMap((r) => r.hops)),
    put_hops_histogram: histogram(runs.flatMap((r) => r.hops)),
    half_log2_n: round(Math.log2(TABS) / 2, 2),
    lookup_missing_ms_median: round(median(runs.flatMap((r) => r.lookup_ms)), 2),
    lookup_missing_ms_p90: round(quantile(runs.flatMap((r) => r.lookup_ms), 0.9), 2),
    relayed_per_peer_joining: round(median(runs.map((r) => r.relayed_at_last_join / TABS)), 2),
    relayed_per_peer_after_join: round(mean(runs.map((r) => (r.relayed_5s_after - r.relayed_at_last_join) / TABS)), 3),
    server_connections_per_peer_after_join: round(median(runs.map((r) => r.connections_after / TABS)), 2),
    relayed_per_introduction: round(median(runs.map((r) => r.relayed_5s_after / r.introductions_completed)), 2),
    relayed_after_join: runs.reduce((a, r) => a + (r.relayed_5s_after - r.relayed_at_last_join), 0),
    bundle_gzip_bytes: bundle.gzip,
    bundle_gzip_kib: round(bundle.gzip / 1024),
    bundle_raw_bytes: bundle.raw,
  };
}

function printTable(summary) {
  const table = [
    ['metric', 'value'],
    [`tabs / browser processes / runs`, `${TABS} / ${BROWSERS} / ${RUNS}`],
    ['join (ChordPeer.join -> successor known), median ms', summary.join_ms_median],
    ['join (ChordPeer.join -> data channel to the successor open; joiners), median ms', summary.join_linked_ms_median],
    ['ring correct after last join, median ms', summary.converge_ms_median],
    ['ring correct after last join, worst ms', summary.converge_ms_max],
    ['get 4 KiB, median ms', summary.get_4k_ms_median],
    ['put path length (4 KiB, inline), mean hops', summary.put_hops_mean],
    ['put path length, max hops (histogram hops:count)', `${summary.put_hops_max} (${Object.entries(summary.put_hops_histogram).map(([h, c]) => `${h}:${c}`).join(' ')})`],
    ['1/2 log2(tabs), the Chord paper\'s mean path length', summary.half_log2_n],
    ['lookup by proxy (get of a missing name), median ms', summary.lookup_missing_ms_median],
    ['lookup by proxy (get of a missing name), p90 ms', summary.lookup_missing_ms_p90],
    ['server messages relayed per introduction', summary.relayed_per_introduction],
    ['server messages relayed per peer while joining', summary.relayed_per_peer_joining],
    ['server messages relayed per peer after the last join', summary.relayed_per_peer_after_join],
    ['server messages relayed after the last join (all runs)', summary.relayed_after_join],
    ['server WebSocket connections per peer after join', summary.server_connections_per_peer_after_join],
    ['bundle wasm+js gzipped, KiB', round(summary.bundle_gzip_bytes / 1024)],
  ];
  for (const [k, v] of table) console.log(`${String(k).padEnd(58)} ${v}`);
}

function writeJson(data) {
  mkdirSync(path.dirname(path.resolve(ROOT, opt.out)), { recursive: true });
  writeFileSync(path.resolve(ROOT, opt.out), JSON.stringify(data, null, 2));
  console.error(`wrote ${opt.out}`);
}

/** --pairings: each pairing in turn; a failed pairing is recorded and the others still run. */
async function measurePairings(server) {
  const results = {};
  const missed = [];
  for (const pairing of PAIRINGS) {
    try {
      results[pairing.name] = { kinds: pairing.kinds, ...(await measure(server, pairing.kinds)) };
    } catch (e) {
      console.error(`${pairing.name}: ${e.stack ?? e.message}`);
      results[pairing.name] = { kinds: pairing.kinds, error: e.stack ?? String(e) };
    }
    results[pairing.name].checks = judge(`${pairing.name}, ${TABS} tabs`, results[pairing.name].summary, TARGETS);
    results[pairing.name].missed = missedTargets(pairing.name, results[pairing.name].summary, TARGETS);
    missed.push(...results[pairing.name].missed);
  }
  const t = (key) => targetText(TARGETS.find((x) => x.key === key));
  const rows = [['pairing (process 0-1)', `join→link ms (${t('join_linked_ms_median')})`, 'join→resolved ms', `get 4 KiB ms (${t('get_4k_ms_median')})`, 'ring correct ms', 'targets']];
  for (const p of PAIRINGS) {
    const { summary: s, error, missed: m } = results[p.name];
    rows.push(s
      ? [p.name, s.join_linked_ms_median, s.join_ms_median, s.get_4k_ms_median, s.converge_ms_median, m.length ? 'MISSED' : 'met']
      : [p.name, '-', '-', '-', '-', `FAILED: ${error.split('\n')[0]}`]);
  }
  console.log(`ring bench: ${TABS} tabs / ${BROWSERS} processes / ${RUNS} runs per pairing, medians over the runs`);
  printColumns(rows);
  writeJson({
    date: new Date().toISOString(),
    commit: measuredCommit(),
    tabs: TABS,
    browsers: BROWSERS,
    runs: RUNS,
    process_kinds: 'process i runs kinds[i mod 2]; tab i is in process i mod browsers',
    targets: TARGETS,
    pairings: results,
    missed,
  });
  return reportMissed(missed, 'ring bench');
}

async function main() {
  const server = await startServer();
  try {
    if (PAIRINGS) return await measurePairings(server);
    const { summary, runs } = await measure(server);
    printTable(summary);
    const missed = missedTargets(`${TABS} tabs`, summary, RING_TARGETS);
    const checks = judge(`${TABS} tabs / ${BROWSERS} processes`, summary, RING_TARGETS);
    writeJson({ date: new Date().toISOString(), commit: measuredCommit(), summary, runs, targets: RING_TARGETS, checks, missed });
    return reportMissed(missed, 'ring bench');
  } finally {
    await server.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e.stack ?? e.message);
    process.exit(1);
  },
);
