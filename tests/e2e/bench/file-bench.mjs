// File transfer benchmark (issue #4): Chord `get` throughput against a plain RTCDataChannel, and a
// 100 MiB round trip with the peers' wasm memory watched. Two tabs in two separate browser
// processes (E2E_BROWSERS's, lib/browser.mjs; Chromium by default), the real signaling server and page.
//
//   node tests/e2e/bench/file-bench.mjs [--mib 16] [--big-mib 100] [--runs 3] [--message-kib 128] [--out out/bench/files.json]
//                                       [--pairings chromium-chromium,firefox-firefox,firefox-chromium,chromium-firefox]
//
// Run it inside scripts/loopback-only after `make web server` (`make bench-files` does both).
// The raw and get runs alternate (raw 1, get 1, raw 2, …) so load from elsewhere hits both alike.
//   raw      a plain JS RTCPeerConnection pair (one page per process, the server's style.css, complete SDP
//            exchanged through node, no ICE servers, loopback candidates only), one ordered
//            reliable channel: MIB MiB in MESSAGE-KIB KiB messages (default 128, the peer's chunk size), paused above 1 MiB buffered, resumed on
//            bufferedamountlow at 256 KiB; timed on the sender from the first send to the
//            receiver's confirmation that it has every byte. The bytes flow the way the get's do:
//            from B's process to A's. RUNS times; median MB/s.
//   get      a 2-tab ring with replicas=1. Tab B puts a random MIB MiB file under a name whose key's
//            successor is B (so B alone holds it), tab A gets it: timed in the page from the get()
//            call to the Blob; SHA-256 of both Blobs compared in the pages. RUNS files; median MB/s,
//            and the ratio get / raw (target ≥ 0.70).
//   big      a random BIG-MIB MiB file put from A under a name held by B (the bytes cross in the
//            put), then got in B; a second one put in B and got in A (across the processes);
//            SHA-256 compared; whether the writer A still has the first file's chunks;
//            state().wasmMemoryBytes of both tabs before and after; growth vs the file size
//            (target: growth < file size). --big-mib 0 leaves it out.
// MB = 10^6 bytes. Prints a table; writes every sample as JSON. Exits non-zero if a transfer
// failed, the bytes differ, or a target is missed (get / raw ≥ 0.70; wasm growth < file size),
// naming each miss.
//
// With --pairings (issue 14) it measures raw and get for each pairing KIND-KIND (chromium or
// firefox) in turn, with the same settings: A (the getter, the raw receiver) in a process of the
// first kind, B (the holder, the raw sender) in one of the second, so the raw channel joins the
// same two processes as the get and carries the bytes the same way (firefox-chromium: a Firefox
// tab gets from a Chromium tab). Fresh processes per pairing, one server. Prints one row per
// pairing, writes { pairings: { NAME: { kinds, raw, get, ratio, summary, big? } }, targets,
// missed } to --out, and exits 1 if any pairing misses the target get / raw ≥ 0.70 or fails,
// naming each miss.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { closeBrowser, launchBrowser, openPeer, waitForLink } from '../lib/browser.mjs';
import { chunkCount, dropBlob, getBlob, heldRecords, makeRandomBlob, mbps, median, putBlob, wasmMemory } from '../lib/files.mjs';
import { nameHeldBy, ringProblems, short } from '../lib/ring.mjs';
import { closeRawChannel, connectRawChannel, rawTransfer } from '../lib/rtc.mjs';
import { judge, measuredCommit, missedTargets, parsePairings, printColumns, reportMissed, targetText } from '../lib/pairings.mjs';
import { ROOT, startServer } from '../lib/server.mjs';
import { waitFor, withTimeout } from '../lib/wait.mjs';

const { values: opt } = parseArgs({
  options: {
    mib: { type: 'string', default: '16' },
    'big-mib': { type: 'string', default: '100' },
    'message-kib': { type: 'string', default: '128' },
    runs: { type: 'string', default: '3' },
    out: { type: 'string', default: 'out/bench/files.json' },
    'raw-only': { type: 'boolean', default: false },
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
  console.error(`file-bench: ${message} (--help lists the options)`);
  process.exit(2);
}
const number = (flag, { min, integer = false }) => {
  const n = Number(opt[flag]);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    usage(`--${flag} ${opt[flag]}: expected a${integer ? ' whole' : ''} number ≥ ${min}`);
  }
  return n;
};
const MIB = 1 << 20;
const SIZE = Math.round(number('mib', { min: 1 / 1024 }) * MIB);
const BIG = Math.round(number('big-mib', { min: 0 }) * MIB);
// Raw messages as large as the peer's chunks (src/transfer/mod.rs CHUNK_BYTES), so both move
// the same number of data-channel messages.
const MESSAGE = number('message-kib', { min: 1, integer: true }) * 1024;
const RUNS = number('runs', { min: 1, integer: true });
let PAIRINGS = null;
try {
  if (opt.pairings !== undefined) PAIRINGS = parsePairings(opt.pairings);
} catch (e) {
  usage(e.message);
}
if (PAIRINGS && opt['raw-only']) usage('--raw-only measures no get, so no ratio to hold a pairing to: leave it out with --pairings');
/** What every pairing is held to with --pairings (issue #5's target, BENCHMARKS.md). */
const TARGETS = Object.freeze([{ key: 'ratio', label: `get / raw RTCDataChannel, ${opt.mib} MiB, medians`, min: 0.7 }]);
const round = (x, d = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);
const log = (...a) => console.error(...a);


/**
 * The raw pair: one page of the server's origin per process (about:blank gathers no candidates),
 * sending from B's process (browsers[1]) to A's (browsers[0]), the way a get by A moves B's bytes.
 */
async function openRawPair(server, browsers) {
  const ctxs = await Promise.all(browsers.map((b) => b.newContext()));
  const [receiver, sender] = await Promise.all(ctxs.map((c) => c.newPage()));
  const close = async () => {
    await closeRawChannel(sender, receiver);
    for (const c of ctxs) await c.close().catch(() => {});
  };
  try {
    await Promise.all([sender, receiver].map((p) => p.goto(`${server.url}/style.css`)));
    await connectRawChannel(sender, receiver);
    // One unmeasured warm-up of 1 MiB (SCTP window, JIT).
    await rawTransfer(sender, receiver, { bytes: MIB, message: MESSAGE });
  } catch (e) {
    await close();
    throw e;
  }
  return {
    async run(r) {
      const res = await rawTransfer(sender, receiver, { bytes: SIZE, message: MESSAGE });
      if (res.bytes !== SIZE) throw new Error(`raw run ${r}: receiver got ${res.bytes} of ${SIZE} bytes`);
      log(`raw ${r}: ${round(res.ms)} ms, ${round(mbps(SIZE, res.ms), 2)} MB/s`);
      return { ms: res.ms, receiver_ms: res.receiverMs, mbps: mbps(SIZE, res.ms) };
    },
    close,
  };
}

/** Opens the 2-tab ring (A in the first process, B in the second) with replicas=1. */
async function openRing(server, browsers, out) {
  const ring = `files-bench-${Date.now().toString(36)}`;
  const params = { replicas: '1' };
  const a = await openPeer(browsers[0], { server, ring, name: 'A', params });
  const b = await openPeer(browsers[1], { server, ring, name: 'B', params });
  const peers = [a, b];
  let problems = [];
  await waitFor(async () => {
    problems = ringProblems(await Promise.all(peers.map((p) => p.state())), { ring });
    return problems.length === 0;
  }, 30_000, { what: 'a correct 2-tab ring', detail: () => problems.join('; ') });
  await waitForLink(a, b.id);
  const st = await a.state();
  if (typeof st.wasmMemoryBytes !== 'number' || !Array.isArray(st.records)) {
    throw new Error(`the file API is not there: state().wasmMemoryBytes = ${st.wasmMemoryBytes}, state().records = ${JSON.stringify(st.records)} (rebuild with \`make web\`?)`);
  }
  out.tabs = { A: a.id, B: b.id };
  out.wasm_memory_at_join = { A: await wasmMemory(a), B: await wasmMemory(b) };
  return { a, b, peers };
}

/** b) One get: B puts a new random file it alone holds, A gets it (no cache can answer). */
async function oneGet(r, { a, b, peers }) {
  const ids = peers.map((p) => p.id);
  const name = nameHeldBy(`file-bench get ${r}`, b.id, ids);
  const made = await makeRandomBlob(b, `get${r}`, SIZE);
  const put = await withTimeout(putBlob(b, name, `get${r}`), 120_000, `B: put ${name}`);
  if (!put.ok) throw new Error(`B: put(${JSON.stringify(name)}) failed: ${put.error.message}`);
  if (put.result.node !== b.id) throw new Error(`put answered node ${short(put.result.node)}, want B ${short(b.id)}`);
  await dropBlob(b, `get${r}`);
  const aHeld = (await heldRecords(a)).filter((x) => x.key === put.result.key);
  const got = await withTimeout(getBlob(a, name), 180_000, `A: get ${name}`);
  if (!got.ok) throw new Error(`A: get(${JSON.stringify(name)}) failed: ${got.error.message}`);
  if (!got.found) throw new Error(`A: get(${JSON.stringify(name)}) found nothing (${got.kind})`);
  if (got.sha256 !== made.sha256 || got.size !== SIZE) {
    throw new Error(`A: get(${JSON.stringify(name)}): ${got.size} bytes, SHA-256 ${got.sha256}; put ${SIZE} bytes, ${made.sha256}`);
  }
  const run = { name, put_ms: put.ms, ms: got.ms, mbps: mbps(SIZE, got.ms), progress_calls: got.progress.count, a_held_before: aHeld };
  log(`get ${r}: ${round(got.ms)} ms, ${round(run.mbps, 2)} MB/s (local put in B ${round(put.ms)} ms)`);
  return run;
}

/** c) The big round trip: put from A under a name B holds, get in B; wasm memory around it. */
async function bigRoundTrip({ a, b, peers }) {
  const name = nameHeldBy('file-bench big', b.id, peers.map((p) => p.id));
  const mem = { before: { A: await wasmMemory(a), B: await wasmMemory(b) } };
  const made = await makeRandomBlob(a, 'big', BIG);
  const put = await withTimeout(putBlob(a, name, 'big'), 600_000, `A: put ${name}`);
  if (!put.ok) throw new Error(`A: put(${JSON.stringify(name)}, ${BIG} bytes) failed: ${put.error.message}`);
  await dropBlob(a, 'big');
  mem.after_put = { A: await wasmMemory(a), B: await wasmMemory(b) };
  const got = await withTimeout(getBlob(b, name), 600_000, `B: get ${name}`);
  if (!got.ok) throw new Error(`B: get(${JSON.stringify(name)}, ${BIG} bytes) failed: ${got.error.message}`);
  mem.after_get_in_B = { A: await wasmMemory(a), B: await wasmMemory(b) };
  // The writer lists no record of it; are its chunks still in its IndexedDB? (a get there is local then)
  const digest = (await heldRecords(b)).find((x) => x.key === put.result.key)?.digest;
  const aRecords = (await heldRecords(a)).filter((x) => x.key === put.result.key);
  const aChunks = digest ? await chunkCount(a, digest) : null;
  // Across the processes: a second file, put in B (its primary), got in A, which never had it.
  const name2 = nameHeldBy('file-bench big back', b.id, peers.map((p) => p.id));
  const made2 = await makeRandomBlob(b, 'big2', BIG);
  const put2 = await withTimeout(putBlob(b, name2, 'big2'), 600_000, `B: put ${name2}`);
  if (!put2.ok) throw new Error(`B: put(${JSON.stringify(name2)}, ${BIG} bytes) failed: ${put2.error.message}`);
  await dropBlob(b, 'big2');
  const back = await withTimeout(getBlob(a, name2), 600_000, `A: get ${name2}`);
  if (!back.ok) throw new Error(`A: get(${JSON.stringify(name2)}, ${BIG} bytes) failed: ${back.error.message}`);
  const identical = got.found && got.size === BIG && got.sha256 === made.sha256 && back.found && back.size === BIG && back.sha256 === made2.sha256;
  mem.after = { A: await wasmMemory(a), B: await wasmMemory(b) };
  const growth = { A: mem.after.A - mem.before.A, B: mem.after.B - mem.before.B };
  const result = {
    name,
    bytes: BIG,
    put_ms: put.ms,
    put_mbps: mbps(BIG, put.ms),
    // ms from the put call to the first and last progress report of each phase
    put_phases: Object.fromEntries(put.progress.order.map((ph) => [ph, { from_ms: put.progress.phases[ph].t0, to_ms: put.progress.phases[ph].t1 }])),
    put_node: put.result.node,
    get_ms: got.ms,
    get_mbps: mbps(BIG, got.ms),
    writer_records_after_put: aRecords,
    writer_chunks_after_put: aChunks,
    remote_get_ms: back.ms,
    remote_get_mbps: mbps(BIG, back.ms),
    identical,
    sha256: made.sha256,
    wasm_memory: mem,
    growth,
    growth_below_size: growth.A < BIG && growth.B < BIG,
  };
  log(`big: put ${round(put.ms)} ms, get in B ${round(got.ms)} ms, get in A ${round(back.ms)} ms, identical ${identical}, wasm growth A ${growth.A} B ${growth.B}`);
  if (!identical) throw new Error(`the ${BIG}-byte files: got ${got.size} bytes, SHA-256 ${got.sha256} in B (want ${made.sha256}), ${back.size} bytes, ${back.sha256} in A (want ${made2.sha256})`);
  return result;
}

function printTable(res) {
  const mb = (x) => `${round(x, 2)} MB/s`;
  const mibs = (x) => `${round(x / MIB, 1)} MiB`;
  const rows = [['metric', 'value']];
  rows.push([`raw RTCDataChannel, ${opt.mib} MiB in ${opt["message-kib"]} KiB messages, median of ${RUNS}`, res.raw ? mb(res.raw.mbps_median) : 'n/a']);
  if (res.get) {
    rows.push([`chord get of a ${opt.mib} MiB file from the other process, median of ${RUNS}`, mb(res.get.mbps_median)]);
    rows.push(['get / raw (target ≥ 0.70)', round(res.ratio, 2)]);
  }
  if (res.big) {
    rows.push([`${opt['big-mib']} MiB put (bytes cross to the holder)`, `${round(res.big.put_ms / 1000, 1)} s, ${mb(res.big.put_mbps)}`]);
    for (const [ph, t] of Object.entries(res.big.put_phases)) rows.push([`  put phase "${ph}" (first → last progress report)`, `${round(t.from_ms / 1000, 1)} s → ${round(t.to_ms / 1000, 1)} s`]);
    rows.push([`${opt['big-mib']} MiB get in the holder (B)`, `${round(res.big.get_ms / 1000, 1)} s, ${mb(res.big.get_mbps)}`]);
    rows.push([`writer A after its put: records / chunks in IndexedDB`, `${res.big.writer_records_after_put.length} / ${res.big.writer_chunks_after_put}`]);
    rows.push([`a 2nd ${opt['big-mib']} MiB file put in B, got in A (across)`, `${round(res.big.remote_get_ms / 1000, 1)} s, ${mb(res.big.remote_get_mbps)}`]);
    rows.push([`${opt['big-mib']} MiB byte-identical (SHA-256)`, res.big.identical ? 'yes' : 'NO']);
    const m = res.big.wasm_memory;
    rows.push(['wasm memory A (writer) before → after', `${mibs(m.before.A)} → ${mibs(m.after.A)} (growth ${mibs(res.big.growth.A)})`]);
    rows.push(['wasm memory B (holder) before → after', `${mibs(m.before.B)} → ${mibs(m.after.B)} (growth ${mibs(res.big.growth.B)})`]);
    rows.push(['wasm growth < file size (target)', res.big.growth_below_size ? 'yes' : 'NO']);
  }
  if (res.error) rows.push(['error', res.error.split('\n')[0]]);
  for (const [k, v] of rows) console.log(`${String(k).padEnd(62)} ${v}`);
}

/**
 * raw, get (and big unless BIG is 0) between two fresh browser processes (`kinds`, or
 * E2E_BROWSERS's); fills `res` and returns whether everything worked (a failure is in res.error).
 */
async function measurePair(server, res, kinds) {
  const browsers = [];
  let failed = false;
  let raw;
  let ring;
  try {
    for (let i = 0; i < 2; i++) browsers.push(await launchBrowser(kinds ? { kind: kinds[i] } : {}));
    raw = await openRawPair(server, browsers);
    res.raw = { runs: [] };
    if (opt['raw-only']) {
      for (let r = 0; r < RUNS; r++) res.raw.runs.push(await raw.run(r));
    } else {
      ring = await openRing(server, browsers, res);
      // Raw and chord runs alternate, so a change in the machine's load hits both alike.
      res.get = { runs: [] };
      for (let r = 0; r < RUNS; r++) {
        res.raw.runs.push(await raw.run(r));
        res.get.runs.push(await oneGet(r, ring));
      }
      await raw.close();
      raw = undefined;
      if (BIG > 0) res.big = await bigRoundTrip(ring);
    }
  } catch (e) {
    failed = true;
    res.error = e.stack ?? String(e);
    console.error(res.error);
  } finally {
    if (res.raw?.runs.length) res.raw.mbps_median = median(res.raw.runs.map((r) => r.mbps));
    if (res.get?.runs.length) res.get.mbps_median = median(res.get.runs.map((r) => r.mbps));
    if (res.raw?.mbps_median && res.get?.mbps_median) res.ratio = res.get.mbps_median / res.raw.mbps_median;
    if (ring) res.logs = Object.fromEntries(ring.peers.map((p) => [p.name, p.logs.slice(-200)]));
    await raw?.close();
    for (const b of browsers) await closeBrowser(b);
  }
  res.summary = {
    raw_mbps: round(res.raw?.mbps_median, 2),
    get_mbps: round(res.get?.mbps_median, 2),
    ratio: round(res.ratio, 3),
    ratio_target_met: res.ratio >= 0.7,
    big_identical: res.big?.identical,
    big_growth_bytes: res.big?.growth,
    big_growth_below_size: res.big?.growth_below_size,
  };
  return !failed;
}

function writeJson(res) {
  const file = path.resolve(ROOT, opt.out);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(res, null, 2));
  console.error(`wrote ${opt.out} (${round(res.wall_s)} s)`);
}

/** --pairings: each pairing in turn; a failed pairing is recorded and the others still run. */
async function measurePairings(server, t0) {
  const out = { date: new Date().toISOString(), commit: measuredCommit(), bytes: SIZE, big_bytes: BIG, message_bytes: MESSAGE, runs: RUNS, targets: TARGETS, pairings: {}, missed: [] };
  for (const pairing of PAIRINGS) {
    const res = { kinds: pairing.kinds, getter_A: pairing.kinds[0], holder_B: pairing.kinds[1] };
    const p0 = Date.now();
    log(`--- ${pairing.name}: A (getter, raw receiver) in ${pairing.kinds[0]}, B (holder, raw sender) in ${pairing.kinds[1]}`);
    await measurePair(server, res, pairing.kinds);
    res.wall_s = (Date.now() - p0) / 1000;
    // Judged on the unrounded ratio (the summary's is rounded to 3 places).
    res.missed = missedTargets(pairing.name, { ...res.summary, ratio: res.ratio }, TARGETS);
    res.checks = judge(pairing.name, { ...res.summary, ratio: res.ratio }, TARGETS);
    out.pairings[pairing.name] = res;
    out.missed.push(...res.missed);
  }
  out.wall_s = (Date.now() - t0) / 1000;
  const mb = (x) => (Number.isFinite(x) ? round(x, 2) : '-');
  const rows = [['pairing (A gets from B)', 'raw MB/s', 'get MB/s', `get/raw (${targetText(TARGETS[0])})`, 'raw runs', 'get runs', 'target']];
  for (const p of PAIRINGS) {
    const r = out.pairings[p.name];
    const runs = (x) => (x?.runs.length ? x.runs.map((y) => round(y.mbps, 1)).join(' / ') : '-');
    rows.push([p.name, mb(r.raw?.mbps_median), mb(r.get?.mbps_median), Number.isFinite(r.ratio) ? round(r.ratio, 2) : '-', runs(r.raw), runs(r.get),
      r.error ? `FAILED: ${r.error.split('\n')[0]}` : r.missed.length ? 'MISSED' : 'met']);
  }
  console.log(`file bench: ${opt.mib} MiB, ${opt['message-kib']} KiB raw messages, replicas=1, ${RUNS} runs per pairing, medians over the runs`);
  printColumns(rows);
  if (BIG > 0) {
    for (const p of PAIRINGS) {
      const b = out.pairings[p.name].big;
      if (b) console.log(`${p.name}: ${opt['big-mib']} MiB put ${round(b.put_ms / 1000, 1)} s, get across ${round(b.remote_get_ms / 1000, 1)} s, identical ${b.identical ? 'yes' : 'NO'}, wasm growth < size ${b.growth_below_size ? 'yes' : 'NO'}`);
    }
  }
  writeJson(out);
  return reportMissed(out.missed, 'file bench');
}

async function main() {
  const t0 = Date.now();
  const server = await startServer();
  try {
    if (PAIRINGS) return await measurePairings(server, t0);
    const res = { date: new Date().toISOString(), commit: measuredCommit(), bytes: SIZE, runs: RUNS, browsers: 2 };
    const ok = await measurePair(server, res);
    res.wall_s = (Date.now() - t0) / 1000;
    printTable(res);
    // The targets of BENCHMARKS.md ("Files"): the ratio (unless --raw-only), and with the big
    // round trip, wasm memory growth below the file size in both tabs.
    res.targets = opt['raw-only'] ? [] : TARGETS;
    res.missed = missedTargets('2 tabs', { ...res.summary, ratio: res.ratio }, res.targets);
    res.checks = judge('2 tabs', { ...res.summary, ratio: res.ratio }, res.targets);
    if (BIG > 0) {
      const grew = res.big ? `A ${res.big.growth.A} B, B ${res.big.growth.B} B` : 'not measured';
      res.checks.push({ what: `2 tabs: ${opt['big-mib']} MiB round trips byte-identical`, target: 'identical', value: res.big ? (res.big.identical ? 'identical' : 'DIFFERENT') : 'not measured', ok: !!res.big?.identical });
      res.checks.push({ what: `2 tabs: wasm memory growth in the ${opt['big-mib']} MiB round trips`, target: '< file size', value: grew, ok: !!res.big?.growth_below_size });
      if (!res.big?.identical) res.missed.push(`2 tabs: the ${BIG}-byte round trips were not byte-identical`);
    }
    if (res.big && !res.big.growth_below_size) {
      res.missed.push(`2 tabs: wasm memory grew by ${res.big.growth.A} (A) / ${res.big.growth.B} (B) bytes in the ${BIG}-byte round trips, target < the file size`);
    }
    writeJson(res);
    const verdict = reportMissed(res.missed, 'file bench');
    return ok ? verdict : 1;
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
