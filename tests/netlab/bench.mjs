// The ring over TURN: every cross-host path cut in the NAT lab (tests/netlab/README.md), so every
// link between hosts goes through coturn on pub.
//
//   tests/netlab/run.sh node tests/netlab/bench.mjs [--runs 2] [--mib 16] [--transfers 3] [--out out/bench/netlab.json]
//   (`make bench-netlab`; build first: `make web server`)
//
// Per run: 6 tabs, 2 on each of h1, h2 (port-restricted cone NATs) and h3 (symmetric NAT), join
// one after another through chord-signaling (STUN + TURN with REST credentials), NAT↔NAT dropped:
//   join_linked_ms  ChordPeer.join called -> data channel to the successor it joined with open
//                   (the page's marks, as tests/e2e/bench/ring-bench.mjs), per joining tab
//   converge_ms     last join -> every predecessor, successor list and finger correct (polled every 100 ms)
//   links           every cross-host link's selected candidate pair (must be relayed)
// Every tab runs with the default settings (replication 3: no `replicas` parameter), two tabs per
// browser process. Then, between two tabs on different hosts that share a link (H is the primary, G
// holds no copy: G is neither H nor one of H's two successors that keep the replicas):
//   get             a random MIB MiB file put in H under a name whose primary is H (the put stores
//                   it in H and its 2 replicas), then got in G, timed in G's page from get() to the
//                   Blob, SHA-256 compared; TRANSFERS times, median MB/s
//   raw             a plain RTCPeerConnection pair between H's and G's browsers through the same
//                   TURN server, H's pc with iceTransportPolicy 'relay' (one TURN hop, like a relayed
//                   Chord link): MIB MiB in 128 KiB messages with bufferedAmount flow control
//                   (tests/e2e/lib/rtc.mjs rawTransfer), H -> G; TRANSFERS times (raw and get
//                   alternate, so load hits both alike); also, for information, a pair with both
//                   pcs relay-only (relay↔relay, two TURN allocations)
// Targets (exit 1 when one is missed): converge ≤ 5 s after the last join, median join_linked ≤ 1 s,
// get ≥ 60 % of raw (median MB/s). Prints a table; writes every sample as JSON.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { dropBlob, getBlob, makeRandomBlob, mbps, median, putBlob } from '../e2e/lib/files.mjs';
import { measuredCommit } from '../e2e/lib/pairings.mjs';
import { big, keyOf, ringProblems, short, successorOf } from '../e2e/lib/ring.mjs';
import { rawTransfer } from '../e2e/lib/rtc.mjs';
import * as lab from './lib/lab.mjs';

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '2' },
    mib: { type: 'string', default: '16' },
    transfers: { type: 'string', default: '3' },
    out: { type: 'string', default: 'out/bench/netlab.json' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'));
  process.exit(0);
}
const RUNS = Number(opt.runs);
const SIZE = Number(opt.mib) * 1024 * 1024;
const TRANSFERS = Number(opt.transfers);
const HOSTS = ['h1', 'h1', 'h2', 'h2', 'h3', 'h3'];
const REPLICAS = 3; // the peer's default (JoinOptions.replicas); the tabs pass no `replicas`
const TARGET = { converge_ms: 5000, join_linked_ms_median: 1000, get_vs_raw: 0.6 };
const CONVERGE_LIMIT_MS = 60_000;
const round = (x, d = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);
const log = (s) => console.log(`# ${new Date().toISOString().slice(11, 23)} ${s}`);
const isRelay = (c) => c?.local === 'relay' || c?.remote === 'relay';

function nameHeldBy(base, holder, ids) {
  const succ = successorOf(ids);
  for (let k = 1; ; k++) {
    const name = `${base} №${k}`;
    if (succ(big(keyOf(name))) === holder) return name;
  }
}

async function oneRun(run, browsers, server, result) {
  const ring = `netlab-bench-${run}-${Date.now().toString(36)}`;
  const peers = [];
  const counts = {};
  try {
    for (const h of HOSTS) {
      counts[h] = (counts[h] ?? 0) + 1;
      peers.push(await lab.openPeer(browsers[h], { ring, name: `${h}${'ab'[counts[h] - 1]}` }));
    }
    const lastJoin = performance.now();
    let problems = ['not polled yet'];
    let convergeMs = NaN;
    while (performance.now() - lastJoin < CONVERGE_LIMIT_MS) {
      const sts = await Promise.all(peers.map((p) => p.state()));
      problems = ringProblems(sts, { ring });
      if (problems.length === 0) {
        convergeMs = performance.now() - lastJoin;
        break;
      }
      await lab.sleep(100);
    }
    if (problems.length) throw new Error(`run ${run}: ring not correct ${CONVERGE_LIMIT_MS} ms after the last join: ${problems.slice(0, 5).join('; ')}`);
    const linked = await Promise.all(
      peers.slice(1).map((p) =>
        p.page.evaluate(() => {
          const succ = String(window.chordJoinedSuccessor ?? '').toLowerCase();
          const opened = Object.entries(window.chordLinkOpenedAt ?? {}).find(([peer]) => peer.toLowerCase() === succ)?.[1];
          return opened === undefined ? null : Math.max(window.chordJoinMs, opened - window.chordJoinStarted);
        }),
      ),
    );
    if (linked.some((ms) => ms === null)) throw new Error(`run ${run}: a tab never opened a link to the successor it joined with`);

    // Every cross-host link relayed (wait until none is still connecting).
    const hostOf = new Map(peers.map((p) => [p.id, p.host]));
    let links = [];
    await lab.waitFor(
      async () => {
        const sts = await Promise.all(peers.map((p) => p.state()));
        links = sts.flatMap((st, i) => st.links.map((l) => ({ from: peers[i], to: String(l.peer).toLowerCase(), state: l.state, candidates: l.candidates, rttMs: l.rttMs })));
        return links.every((l) => l.state === 'open' && l.candidates);
      },
      20_000,
      { what: 'every link open', detail: () => JSON.stringify(links.map((l) => [l.from.name, short(l.to), l.state])) },
    );
    const cross = links.filter((l) => hostOf.get(l.to) !== l.from.host);
    const notRelayed = cross.filter((l) => !isRelay(l.candidates));
    const pathCount = {};
    for (const l of cross) pathCount[`${l.candidates.local}/${l.candidates.remote}`] = (pathCount[`${l.candidates.local}/${l.candidates.remote}`] ?? 0) + 1;
    const rtts = cross.map((l) => l.rttMs).filter((x) => typeof x === 'number');
    const r = {
      run,
      join_linked_ms: linked.map((x) => round(x)),
      converge_ms: round(convergeMs),
      cross_links: cross.length,
      cross_links_not_relayed: notRelayed.map((l) => `${l.from.name}→${short(l.to)} ${JSON.stringify(l.candidates)}`),
      cross_link_paths: pathCount,
      cross_link_rtt_ms_median: round(median(rtts), 2),
    };
    log(`run ${run}: join→linked ${r.join_linked_ms.join(', ')} ms; converged ${r.converge_ms} ms after the last join; ${cross.length} cross-host link ends ${JSON.stringify(pathCount)}`);
    result.runs.push(r);
    if (run === 0) await transfers(peers, browsers, result);
  } finally {
    for (const p of peers) await p.context.close().catch(() => {});
  }
}

/** The 16 MiB get over TURN against a raw relayed data channel between the same two browsers. */
async function transfers(peers, browsers, result) {
  const sts = await Promise.all(peers.map((p) => p.state()));
  const ids = peers.map((p) => p.id);
  // H and G: different hosts, an open relayed link between them, G not among the holders of H's
  // keys (H and its first REPLICAS-1 successors); G is H's predecessor if possible.
  let pair;
  for (const [i, st] of sts.entries()) {
    const holders = (st.successors ?? []).slice(0, REPLICAS - 1).map((x) => String(x).toLowerCase());
    for (const l of st.links) {
      const j = ids.indexOf(String(l.peer).toLowerCase());
      if (j < 0 || peers[j].host === peers[i].host || l.state !== 'open' || !isRelay(l.candidates) || holders.includes(ids[j])) continue;
      const neighbour = String(st.predecessor ?? '').toLowerCase() === ids[j] || String(st.successors?.[0] ?? '').toLowerCase() === ids[j];
      if (!pair || (neighbour && !pair.neighbour)) pair = { h: peers[i], g: peers[j], neighbour };
    }
  }
  if (!pair) throw new Error('no relayed link between tabs on different hosts, the getter holding no copy');
  const { h, g } = pair;
  log(`transfers: holder ${h.name} (${short(h.id)}) -> getter ${g.name} (${short(g.id)}), ${opt.mib} MiB`);
  const rawSender = await lab.blankPage(browsers[h.host], 'raw-sender');
  const rawReceiver = await lab.blankPage(browsers[g.host], 'raw-receiver');
  const rawSender2 = await lab.blankPage(browsers[h.host], 'raw-sender-2');
  const rawReceiver2 = await lab.blankPage(browsers[g.host], 'raw-receiver-2');
  const out = { holder: h.name, getter: g.name, mib: Number(opt.mib), raw: [], raw_both_relay: [], get: [] };
  result.transfer = out;
  try {
    // raw: the sender's pc relay-only (one TURN hop, the shape of a relayed Chord link);
    // raw_both_relay: both pcs relay-only (two allocations, relay↔relay), for information.
    const conn = await lab.connectRaw(rawSender.page, rawReceiver.page, { iceServers: lab.iceServers({ stun: true, name: 'bench' }), policyA: 'relay', policyB: 'all' });
    out.raw_path = conn.a;
    if (conn.a.local !== 'relay') throw new Error(`raw channel not relayed: ${JSON.stringify(conn.a)}`);
    const conn2 = await lab.connectRaw(rawSender2.page, rawReceiver2.page, { iceServers: lab.iceServers({ stun: false, name: 'bench2' }), policy: 'relay' });
    out.raw_both_relay_path = conn2.a;
    for (let k = 0; k < TRANSFERS; k++) {
      const raw = await rawTransfer(rawSender.page, rawReceiver.page, { bytes: SIZE, message: 128 * 1024, timeoutMs: 180_000 });
      out.raw.push({ ms: round(raw.ms), mbps: round(mbps(SIZE, raw.ms), 2) });
      log(`raw ${k} (${conn.a.local}/${conn.a.remote}): ${round(raw.ms)} ms, ${round(mbps(SIZE, raw.ms), 2)} MB/s`);

      const name = nameHeldBy(`netlab bench ${k} ${Date.now()}`, h.id, ids);
      const made = await makeRandomBlob(h, `b${k}`, SIZE);
      const put = await lab.withTimeout(putBlob(h, name, `b${k}`), 120_000, `${h.name}: put`);
      if (!put.ok) throw new Error(`${h.name}: put failed: ${put.error.message}`);
      if (put.result.node !== h.id) throw new Error(`put held by ${short(put.result.node)}, want ${h.name}`);
      await dropBlob(h, `b${k}`);
      if ((await g.state()).records.some((rec) => rec.name === name)) throw new Error(`${g.name} holds a copy of ${JSON.stringify(name)}: the get would be local`);
      const got = await lab.withTimeout(getBlob(g, name), 180_000, `${g.name}: get`);
      if (!got.ok || !got.found) throw new Error(`${g.name}: get failed: ${JSON.stringify(got.error ?? got.kind)}`);
      if (got.sha256 !== made.sha256 || got.size !== SIZE) throw new Error(`${g.name}: got ${got.size} bytes, SHA-256 ${got.sha256}, want ${made.sha256}`);
      out.get.push({ ms: round(got.ms), mbps: round(mbps(SIZE, got.ms), 2) });
      log(`get ${k}: ${round(got.ms)} ms, ${round(mbps(SIZE, got.ms), 2)} MB/s (SHA-256 identical)`);

      const raw2 = await rawTransfer(rawSender2.page, rawReceiver2.page, { bytes: SIZE, message: 128 * 1024, timeoutMs: 180_000 });
      out.raw_both_relay.push({ ms: round(raw2.ms), mbps: round(mbps(SIZE, raw2.ms), 2) });
      log(`raw ${k} (relay/relay): ${round(raw2.ms)} ms, ${round(mbps(SIZE, raw2.ms), 2)} MB/s`);
    }
    const gs = await g.state();
    const lg = gs.links.find((l) => String(l.peer).toLowerCase() === h.id);
    out.chord_path = lg?.candidates ?? null;
  } finally {
    for (const p of [rawSender, rawReceiver, rawSender2, rawReceiver2]) await p.context.close().catch(() => {});
  }
}

async function main() {
  lab.assertInLab();
  await lab.natnat('drop');
  const turn = await lab.startTurn({ name: 'bench-turnserver' });
  const server = await lab.startSignaling({ stun: true, turn: true, name: 'bench-signaling' });
  const browsers = {};
  for (const h of new Set(HOSTS)) browsers[h] = await lab.launchOn(h);
  const result = { date: new Date().toISOString(), commit: measuredCommit(), tabs: HOSTS, replicas: `default (${REPLICAS})`, nat_to_nat: 'dropped', targets: TARGET, runs: [] };
  let error;
  try {
    for (let run = 0; run < RUNS; run++) await oneRun(run, browsers, server, result);
    result.natnat_packets_dropped = await lab.natnatDropped();
  } catch (e) {
    error = e;
  } finally {
    for (const b of Object.values(browsers)) await lab.closeBrowser(b);
    await server.stop();
    await turn.stop();
    server.save();
    turn.save();
  }
  const joins = result.runs.flatMap((r) => r.join_linked_ms);
  const converge = result.runs.map((r) => r.converge_ms);
  const t = result.transfer;
  const rawMbps = t ? median(t.raw.map((x) => x.mbps)) : NaN;
  const getMbps = t ? median(t.get.map((x) => x.mbps)) : NaN;
  result.summary = {
    join_linked_ms_median: round(median(joins)),
    join_linked_ms_max: round(Math.max(...joins)),
    converge_ms_max: round(Math.max(...converge)),
    cross_links_not_relayed: result.runs.reduce((a, r) => a + r.cross_links_not_relayed.length, 0),
    raw_mbps_median: round(rawMbps, 2),
    get_mbps_median: round(getMbps, 2),
    get_vs_raw: round(getMbps / rawMbps, 3),
    raw_both_relay_mbps_median: t ? round(median(t.raw_both_relay.map((x) => x.mbps)), 2) : NaN,
  };
  const s = result.summary;
  const checks = [
    ['every cross-host link relayed', s.cross_links_not_relayed === 0, `${s.cross_links_not_relayed} not relayed`],
    [`ring correct ≤ ${TARGET.converge_ms} ms after the last join`, s.converge_ms_max <= TARGET.converge_ms, `${s.converge_ms_max} ms (worst run)`],
    [`median join→linked ≤ ${TARGET.join_linked_ms_median} ms`, s.join_linked_ms_median <= TARGET.join_linked_ms_median, `${s.join_linked_ms_median} ms (max ${s.join_linked_ms_max})`],
    [`${opt.mib} MiB get ≥ ${TARGET.get_vs_raw * 100} % of raw relayed channel`, s.get_vs_raw >= TARGET.get_vs_raw, `${s.get_mbps_median} / ${s.raw_mbps_median} MB/s = ${round(s.get_vs_raw * 100)} %`],
  ];
  result.checks = checks.map(([what, ok, value]) => ({ what, ok, value }));
  if (error) result.error = String(error.stack ?? error);
  console.log('\nNAT lab benchmark (every cross-host link through TURN; 6 tabs on h1, h2, h3)');
  console.log('| measure | value | target met |');
  console.log('|---|---|---|');
  for (const [what, ok, value] of checks) console.log(`| ${what} | ${value} | ${ok ? 'yes' : 'NO'} |`);
  if (t) {
    console.log(`| raw, both pcs relay-only (relay↔relay), for information | ${s.raw_both_relay_mbps_median} MB/s | |`);
    console.log(`| paths (local/remote at the getter / raw sender) | chord ${t.chord_path?.local}/${t.chord_path?.remote}, raw ${t.raw_path?.local}/${t.raw_path?.remote} | |`);
  }
  mkdirSync(path.dirname(opt.out), { recursive: true });
  writeFileSync(opt.out, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${opt.out}`);
  if (error) {
    console.error(`bench-netlab: FAILED: ${error.stack ?? error}`);
    process.exit(1);
  }
  if (checks.some(([, ok]) => !ok)) {
    console.error('bench-netlab: a target was missed');
    process.exit(1);
  }
}

await main();
