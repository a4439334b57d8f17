// Native node benchmark (issue 16): a `chord-node` in a ring of browser tabs, with the real
// signaling server and page, tabs in 2 Chromium processes, default settings (replicas = 3).
//
//   node tests/e2e/bench/native-bench.mjs [--tabs 4] [--mib 16] [--runs 5] [--starts 5] [--idle-s 10]
//                                         [--message-kib 128] [--out out/bench/native.json]
//
// Run it inside scripts/loopback-only after `make web server` and `cargo build --release -p chord-node`
// (`make bench-native` does all of it). CHORD_NODE_BIN / CHORD_SIGNALING_BIN override the binaries.
//
//   alone    the node joins an empty ring; its resident memory (VmRSS) once it reports `joined`.
//   ring     TABS tabs join it (tab i in process i mod 2): one correct ring (lib/ring.mjs).
//   cold     STARTS times: a `chord-node` with a fresh --data directory is spawned and joins that
//            ring; timed from the spawn to the first `GET /state` that says `joined` (polled every
//            10 ms; the node's own "joined the ring" log line is reported too). Each then leaves
//            (SIGTERM) and the ring is correct again before the next. Median (target ≤ 500 ms).
//   get      RUNS rounds, alternating with the raw runs (raw 1, get 1, raw 2, …) so load hits both
//            alike. A round: MIB MiB of random bytes are PUT through the node's HTTP API under a
//            name whose key's primary (its successor) is the node; the put is timed (the HTTP
//            request, curl-like). Once the copies settled (the primary and its 2 successors, and
//            no one else, hold it complete), a tab that holds no copy gets it (window.chord.get,
//            timed in the page to the Blob; SHA-256 compared). The node's data-channel byte
//            counter must grow by at least the file's size during the get: the node served it.
//            Then the other way, once per round: a tab puts MIB MiB under a name held by neither
//            the node nor its copies' holders, and the node gets it through its API (timed).
//   raw      a plain RTCDataChannel (lib/rtc.mjs) between pages in the two processes, carrying
//            MIB MiB in MESSAGE-KIB KiB messages from the other process to the getter's, as
//            file-bench.mjs measures it. The target: the median over the rounds of get / raw ≥ 0.80.
//   idle     the node idles IDLE-S seconds after the last transfer; its VmRSS then (target
//            ≤ 30 MiB), and the largest seen while idling.
//
// MB = 10^6 bytes. Prints a table, writes every sample and the verdicts (`checks`, rendered by
// scripts/bench-report.mjs) as JSON, and exits 1 if a measurement failed or a target was missed.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { closeBrowser, launchBrowser, openPeer } from '../lib/browser.mjs';
import { getBlob, makeRandomBlob, mbps, median, putBlob, dropBlob } from '../lib/files.mjs';
import { removeData, residentKiB, startNode, tempDataDir } from '../lib/native.mjs';
import { judge, measuredCommit, missedTargets, printColumns, reportMissed } from '../lib/pairings.mjs';
import { big, keyOf, nameHeldBy, short } from '../lib/ring.mjs';
import { waitForOneRing } from '../lib/rings.mjs';
import { closeRawChannel, connectRawChannel, rawTransfer } from '../lib/rtc.mjs';
import { ROOT, startServer } from '../lib/server.mjs';
import { sleep, waitFor, withTimeout } from '../lib/wait.mjs';

const { values: opt } = parseArgs({
  options: {
    tabs: { type: 'string', default: '4' },
    mib: { type: 'string', default: '16' },
    runs: { type: 'string', default: '5' },
    starts: { type: 'string', default: '5' },
    'idle-s': { type: 'string', default: '10' },
    'message-kib': { type: 'string', default: '128' },
    out: { type: 'string', default: 'out/bench/native.json' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'));
  process.exit(0);
}
const number = (flag, min) => {
  const n = Number(opt[flag]);
  if (!Number.isInteger(n) || n < min) {
    console.error(`native-bench: --${flag} ${opt[flag]}: expected a whole number ≥ ${min} (--help lists the options)`);
    process.exit(2);
  }
  return n;
};
const MIB = 1 << 20;
const TABS = number('tabs', 3); // with R = 3, a tab must be left out of the node's copies
const SIZE = number('mib', 1) * MIB;
const RUNS = number('runs', 1);
const STARTS = number('starts', 1);
const IDLE_MS = number('idle-s', 0) * 1000;
const MESSAGE = number('message-kib', 1) * 1024;
/** The default replication of a tab and a node (PeerConfig): the primary and 2 successors. */
const REPLICAS = 3;
const TARGETS = Object.freeze([
  { key: 'idle_rss_mib', label: `node resident memory (VmRSS) after idling ${opt['idle-s']} s, 1 node + ${TABS} tabs`, max: 30, unit: 'MiB' },
  { key: 'get_ratio_median', label: `node → tab ${opt.mib} MiB get / raw RTCDataChannel tab → tab, median of ${RUNS} rounds`, min: 0.8 },
  { key: 'cold_start_ms_median', label: `cold start → joined (spawn to state() joined), median of ${STARTS}`, max: 500, unit: 'ms' },
]);
const round = (x, d = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);
const log = (...a) => console.error(...a);
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const mibOf = (kib) => (kib == null ? null : kib / 1024);

/** The members of the ring of `ids` that hold a key whose primary is `primary` (R = 3). */
function holdersOf(primary, ids) {
  const sorted = [...ids].sort((a, b) => (big(a) < big(b) ? -1 : 1));
  const i = sorted.indexOf(primary);
  return Array.from({ length: Math.min(REPLICAS, sorted.length) }, (_, k) => sorted[(i + k) % sorted.length]);
}


/** Which members hold `key` complete (their state() records). */
async function completeHolders(members, key) {
  const states = await Promise.all(members.map((m) => withTimeout(m.state(), 5000, `${m.name}.state()`)));
  return members.filter((m, i) => states[i].records?.some((r) => r.key === key && r.complete)).map((m) => m.id);
}

/** Waits until exactly `want` (ids) hold `key` complete; returns the ms it took. */
async function waitSettled(members, key, want, what) {
  const t0 = Date.now();
  let have = [];
  const names = (ids) => ids.map((id) => members.find((m) => m.id === id)?.name ?? short(id)).join(', ');
  await waitFor(
    async () => {
      have = await completeHolders(members, key);
      return have.length === want.length && want.every((id) => have.includes(id));
    },
    90_000,
    { what: `the copies of ${what} to settle`, interval: 100, detail: () => `held by ${names(have)}; want ${names(want)}` },
  );
  return Date.now() - t0;
}

/** The node's data-channel byte counters (GET /state). */
const nodeBytes = async (node) => (await node.state()).driver;

/** The wall-clock time (ms) of a node's "joined the ring" log line, from its tracing timestamp. */
function joinedLogAt(node) {
  const line = node.log.find((l) => l.includes('joined the ring'));
  const m = line && /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z)/.exec(line);
  return m ? Date.parse(m[1]) + Number(`0.${m[1].split('.')[1].slice(3, -1) || '0'}`) : null;
}

/** The raw pair: one page per process, sending from the `from` process to the `to` process. */
async function openRawPair(server, to, from) {
  const ctxs = await Promise.all([to, from].map((b) => b.newContext()));
  const [receiver, sender] = await Promise.all(ctxs.map((c) => c.newPage()));
  const close = async () => {
    await closeRawChannel(sender, receiver);
    for (const c of ctxs) await c.close().catch(() => {});
  };
  try {
    await Promise.all([sender, receiver].map((p) => p.goto(`${server.url}/style.css`)));
    await connectRawChannel(sender, receiver);
    await rawTransfer(sender, receiver, { bytes: MIB, message: MESSAGE }); // warm-up, unmeasured
  } catch (e) {
    await close();
    throw e;
  }
  return {
    async run(r) {
      const res = await rawTransfer(sender, receiver, { bytes: SIZE, message: MESSAGE });
      if (res.bytes !== SIZE) throw new Error(`raw run ${r}: the receiver got ${res.bytes} of ${SIZE} bytes`);
      log(`raw ${r}: ${round(res.ms)} ms, ${round(mbps(SIZE, res.ms), 2)} MB/s`);
      return { ms: res.ms, receiver_ms: res.receiverMs, mbps: mbps(SIZE, res.ms) };
    },
    close,
  };
}

/** Cold starts: fresh nodes join the ring of `members` one at a time, each leaves again. */
async function coldStarts(server, ring, members, res) {
  res.cold = { runs: [] };
  for (let i = 0; i < STARTS; i++) {
    const data = tempDataDir(`cold${i}`);
    const wall0 = Date.now();
    const t0 = performance.now();
    let n;
    try {
      n = await startNode({ server, ring, name: `cold${i}`, data });
      const readyMs = performance.now() - t0;
      await waitFor(async () => (await n.state()).status === 'joined', 30_000, { what: `cold${i} to join`, interval: 10, detail: () => n.log.slice(-20).join('\n') });
      const ms = performance.now() - t0;
      const logAt = joinedLogAt(n);
      const run = { ms, ready_ms: readyMs, log_joined_ms: logAt ? logAt - wall0 : null, id: n.id };
      res.cold.runs.push(run);
      log(`cold start ${i}: joined ${round(ms)} ms after the spawn (ready line ${round(readyMs)} ms, log line ${round(run.log_joined_ms)} ms)`);
    } finally {
      await n?.stop();
      removeData(data);
    }
    await waitForOneRing(members, ring, 30_000, `the ring of the node and ${TABS} tabs after cold${i} left`);
  }
  res.cold.ms_median = median(res.cold.runs.map((r) => r.ms));
}

/** One round: node → tab get (after the raw run), then tab → node get. */
async function oneRound(r, { node, tabs, members, getter, raw }, res) {
  res.raw.runs.push(await raw.run(r));
  const ids = members.map((m) => m.id);

  // Node → tab: the node is the primary, the getter holds no copy.
  const name = nameHeldBy(`native-bench get ${r}`, node.id, ids);
  const key = keyOf(name);
  const holders = holdersOf(node.id, ids);
  if (holders.includes(getter.id)) throw new Error(`internal: the getter ${getter.name} is among the holders`);
  const bytes = randomBytes(SIZE);
  const p0 = performance.now();
  const put = await node.put(name, bytes);
  const putMs = performance.now() - p0;
  if (put.node !== node.id) throw new Error(`PUT ${name}: the primary is ${short(put.node)}, want the node ${short(node.id)}`);
  const settleMs = await waitSettled(members, key, holders, name);
  const before = await nodeBytes(node);
  const got = await withTimeout(getBlob(getter, name), 180_000, `${getter.name}: get ${name}`);
  const after = await nodeBytes(node);
  if (!got.ok) throw new Error(`${getter.name}: get(${JSON.stringify(name)}) failed: ${got.error.message}`);
  if (!got.found || got.size !== SIZE || got.sha256 !== sha256(bytes)) {
    throw new Error(`${getter.name}: get(${JSON.stringify(name)}): found ${got.found}, ${got.size} bytes, SHA-256 ${got.sha256}; put ${SIZE} bytes, ${sha256(bytes)}`);
  }
  const served = after.bytesSent - before.bytesSent;
  const run = {
    name,
    put_ms: putMs,
    put_mbps: mbps(SIZE, putMs),
    settle_ms: settleMs,
    holders: holders.map((id) => members.find((m) => m.id === id).name),
    ms: got.ms,
    mbps: mbps(SIZE, got.ms),
    node_bytes_sent: served,
    served_by_node: served >= SIZE,
  };
  run.ratio = run.mbps / res.raw.runs.at(-1).mbps;
  res.get.runs.push(run);
  log(`get ${r}: ${round(got.ms)} ms, ${round(run.mbps, 2)} MB/s, ratio ${round(run.ratio, 3)} (node sent ${served} B; PUT ${round(putMs)} ms, copies settled in ${settleMs} ms)`);

  // Tab → node: a tab is the primary, the node holds no copy; the node gets it through its API.
  const from = tabs.find((t) => !holdersOf(t.id, ids).includes(node.id));
  const backName = nameHeldBy(`native-bench back ${r}`, from.id, ids);
  const made = await makeRandomBlob(from, `back${r}`, SIZE);
  const backPut = await withTimeout(putBlob(from, backName, `back${r}`), 120_000, `${from.name}: put ${backName}`);
  await dropBlob(from, `back${r}`);
  if (!backPut.ok) throw new Error(`${from.name}: put(${JSON.stringify(backName)}) failed: ${backPut.error.message}`);
  await waitSettled(members, keyOf(backName), holdersOf(from.id, ids), backName);
  const g0 = performance.now();
  const back = await node.get(backName);
  const backMs = performance.now() - g0;
  if (!back || back.length !== SIZE || sha256(back) !== made.sha256) throw new Error(`node: GET ${backName}: ${back?.length ?? 'nothing'} bytes, not the ${SIZE} put`);
  res.back.runs.push({ name: backName, from: from.name, ms: backMs, mbps: mbps(SIZE, backMs) });
  log(`tab → node ${r}: ${round(backMs)} ms, ${round(mbps(SIZE, backMs), 2)} MB/s (GET /files through the node's API, from ${from.name})`);
}

/** Everything, filling `res`; a failure is recorded in res.error (and makes the run fail). */
async function measure(server, res) {
  const browsers = [];
  const nodes = [];
  let raw;
  try {
    for (let i = 0; i < 2; i++) browsers.push(await launchBrowser({ kind: 'chromium' }));
    const ring = `native-bench-${Date.now().toString(36)}`;
    const node = await startNode({ server, ring, name: 'node' });
    nodes.push(node);
    await waitFor(async () => (await node.state()).status === 'joined', 30_000, { what: 'the node to join', interval: 10 });
    res.rss_alone_kib = await residentKiB(node.proc.pid);
    log(`node alone, just joined: VmRSS ${round(mibOf(res.rss_alone_kib), 2)} MiB`);

    const tabs = [];
    for (let i = 0; i < TABS; i++) tabs.push(await openPeer(browsers[i % 2], { server, ring, name: `tab${i}`, timeoutMs: 45_000 }));
    const members = [node, ...tabs];
    res.ring_ms = await waitForOneRing(members, ring, 30_000, `one correct ring of the node and ${TABS} tabs`);
    res.rss_in_ring_kib = await residentKiB(node.proc.pid);
    res.members = Object.fromEntries(members.map((m) => [m.name, m.id]));

    await coldStarts(server, ring, members, res);

    // The getter: a tab outside the node's copies (the node and its 2 successors).
    const ids = members.map((m) => m.id);
    const getter = tabs.find((t) => !holdersOf(node.id, ids).includes(t.id));
    const getterProc = tabs.indexOf(getter) % 2;
    res.getter = getter.name;
    raw = await openRawPair(server, browsers[getterProc], browsers[1 - getterProc]);
    res.raw = { runs: [] };
    res.get = { runs: [] };
    res.back = { runs: [] };
    for (let r = 0; r < RUNS; r++) await oneRound(r, { node, tabs, members, getter, raw }, res);
    await raw.close();
    raw = undefined;
    res.rss_after_transfers_kib = await residentKiB(node.proc.pid);

    // Idle: the files have moved; sample once a second.
    const samples = [];
    for (let t = 0; t < IDLE_MS; t += 1000) {
      await sleep(Math.min(1000, IDLE_MS - t));
      samples.push(await residentKiB(node.proc.pid));
    }
    res.rss_idle_kib = await residentKiB(node.proc.pid);
    res.rss_idle_samples_kib = samples;
    const st = await node.state();
    res.node_after = { records: st.records.length, complete: st.records.filter((x) => x.complete).length, store_bytes: st.driver.storeBytes, driver: st.driver };
    log(`node after idling ${IDLE_MS / 1000} s: VmRSS ${round(mibOf(res.rss_idle_kib), 2)} MiB (max while idle ${round(mibOf(Math.max(...samples)), 2)} MiB), ${res.node_after.records} records, store ${round(st.driver.storeBytes / MIB, 1)} MiB`);
    res.node_log_tail = node.log.slice(-50);
    return true;
  } catch (e) {
    res.error = e.stack ?? String(e);
    console.error(res.error);
    for (const n of nodes) res.node_log_tail = n.log.slice(-80);
    return false;
  } finally {
    await raw?.close();
    for (const n of nodes) {
      await n.kill('SIGKILL').catch(() => {});
      removeData(n.data);
    }
    for (const b of browsers) await closeBrowser(b);
  }
}

function summarize(res) {
  const ratios = res.get?.runs.map((r) => r.ratio) ?? [];
  const allServed = res.get?.runs.length === RUNS && res.get.runs.every((r) => r.served_by_node);
  res.summary = {
    rss_alone_mib: round(mibOf(res.rss_alone_kib), 2),
    rss_in_ring_mib: round(mibOf(res.rss_in_ring_kib), 2),
    rss_after_transfers_mib: round(mibOf(res.rss_after_transfers_kib), 2),
    idle_rss_mib: mibOf(res.rss_idle_kib),
    idle_rss_max_mib: res.rss_idle_samples_kib?.length ? mibOf(Math.max(...res.rss_idle_samples_kib)) : null,
    raw_mbps_median: res.raw?.runs.length ? median(res.raw.runs.map((r) => r.mbps)) : null,
    get_mbps_median: res.get?.runs.length ? median(res.get.runs.map((r) => r.mbps)) : null,
    get_ratio_median: ratios.length ? median(ratios) : null,
    put_ms_median: res.get?.runs.length ? median(res.get.runs.map((r) => r.put_ms)) : null,
    back_mbps_median: res.back?.runs.length ? median(res.back.runs.map((r) => r.mbps)) : null,
    cold_start_ms_median: res.cold?.ms_median ?? null,
    gets_served_by_node: allServed,
  };
  res.summary.ratio_of_medians = res.summary.get_mbps_median / res.summary.raw_mbps_median;
  res.targets = TARGETS;
  res.missed = missedTargets('native', res.summary, TARGETS);
  res.checks = judge('native', res.summary, TARGETS);
  res.checks.push({ what: `native: every node → tab get byte-identical and served by the node (its data channels sent ≥ ${opt.mib} MiB)`, target: `${RUNS} of ${RUNS}`, value: `${res.get?.runs.filter((r) => r.served_by_node).length ?? 0} of ${RUNS}`, ok: allServed });
  if (!allServed) res.missed.push(`native: not every node → tab get was measured and served by the node`);
}

function printTable(res) {
  const s = res.summary;
  const mb = (x) => (Number.isFinite(x) ? `${round(x, 2)} MB/s` : '-');
  const list = (runs, f) => (runs?.length ? runs.map(f).join(' / ') : '-');
  const rows = [['metric', 'value']];
  rows.push(['node VmRSS: alone, just joined', `${s.rss_alone_mib} MiB`]);
  rows.push([`node VmRSS: in the ring of ${TABS} tabs`, `${s.rss_in_ring_mib} MiB`]);
  rows.push(['node VmRSS: after the transfers', `${s.rss_after_transfers_mib} MiB`]);
  rows.push([`node VmRSS: after idling ${opt['idle-s']} s (target ≤ 30 MiB)`, `${round(s.idle_rss_mib, 2)} MiB (max while idle ${round(s.idle_rss_max_mib, 2)})`]);
  rows.push([`cold start → joined, each (target: median ≤ 500 ms)`, list(res.cold?.runs, (r) => round(r.ms, 0))]);
  rows.push(['cold start → joined, median', `${round(s.cold_start_ms_median, 0)} ms`]);
  rows.push([`raw RTCDataChannel tab → tab, ${opt.mib} MiB, each`, list(res.raw?.runs, (r) => round(r.mbps, 1))]);
  rows.push([`node → tab get, ${opt.mib} MiB, each`, list(res.get?.runs, (r) => round(r.mbps, 1))]);
  rows.push(['get / raw, each', list(res.get?.runs, (r) => round(r.ratio, 2))]);
  rows.push(['get / raw, median (target ≥ 0.80)', round(s.get_ratio_median, 3)]);
  rows.push(['raw, get medians', `${mb(s.raw_mbps_median)}, ${mb(s.get_mbps_median)} (ratio of medians ${round(s.ratio_of_medians, 3)})`]);
  rows.push([`PUT ${opt.mib} MiB through the node's API, each (ms)`, list(res.get?.runs, (r) => round(r.put_ms, 0))]);
  rows.push([`tab → node get (GET /files), ${opt.mib} MiB, each`, list(res.back?.runs, (r) => round(r.mbps, 1))]);
  if (res.error) rows.push(['error', res.error.split('\n')[0]]);
  printColumns(rows);
}

async function main() {
  const t0 = Date.now();
  const server = await startServer();
  const res = { date: new Date().toISOString(), commit: measuredCommit(), bytes: SIZE, message_bytes: MESSAGE, runs: RUNS, starts: STARTS, tabs: TABS, browsers: 2, replicas: REPLICAS, idle_ms: IDLE_MS };
  let ok;
  try {
    ok = await measure(server, res);
  } finally {
    await server.stop();
  }
  res.wall_s = (Date.now() - t0) / 1000;
  summarize(res);
  printTable(res);
  const file = path.resolve(ROOT, opt.out);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(res, null, 2));
  console.error(`wrote ${opt.out} (${round(res.wall_s)} s)`);
  const verdict = reportMissed(res.missed, 'native bench');
  return ok ? verdict : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e.stack ?? e.message);
    process.exit(1);
  },
);
