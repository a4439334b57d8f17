// A native ring member (`chord-node`) on the NAT lab's public host, tabs behind NATs
// (tests/netlab/README.md, "The native node"): the node has only host candidates (no STUN/TURN
// client, node/src/rtc.rs), so every link to it is made by the tab's own candidates — its NAT's
// mapping (srflx/prflx, direct) or its TURN allocation (relay).
//
//   tests/netlab/run.sh node --test --test-concurrency=1 tests/netlab/native.test.mjs   (make test-netlab runs it too)
//
// Cases (each its own ring of three — the node and two tabs — so that every member is the others'
// successor or predecessor and every tab has a link to the node):
//   (n1) Chromium behind a cone NAT (h1, link to the node direct) and Chromium with relay=1 (h2,
//        link relayed through coturn); 2 MiB files both ways
//   (n2) Firefox ESR behind a cone NAT (h5) and Chromium behind the symmetric NAT (h3): both links
//        to the node direct (the node's address is public, so even a symmetric NAT's mapping works
//        for the tab's own checks); 2 MiB files both ways
//   (n3) no host used sent a DNS packet
// Logs (the node's log and state, every tab's state and page log, signaling) go to out/netlab/native-<case>.log.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { getBytes, putBytes } from '../e2e/lib/browser.mjs';
import { removeData, startNode, waitJoined } from '../e2e/lib/native.mjs';
import { ringProblems, short } from '../e2e/lib/ring.mjs';
import * as lab from './lib/lab.mjs';

const { waitFor, withTimeout } = lab;
const MIB = 1 << 20;
const DIRECT = new Set(['host', 'srflx', 'prflx']);
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/** One browser process per host used, coturn and the signaling server (STUN + TURN), shared. */
const S = { browsers: {}, turn: null, server: null };

before(async () => {
  lab.assertInLab();
  await lab.natnat('open');
  S.turn = await lab.startTurn({ name: 'native-turnserver' });
  S.server = await lab.startSignaling({ stun: true, turn: true, name: 'native-signaling' });
});

after(async () => {
  for (const b of Object.values(S.browsers)) await lab.closeBrowser(b);
  for (const p of [S.server, S.turn]) {
    if (!p) continue;
    await p.stop();
    p.save();
  }
});

async function browserOn(host) {
  S.browsers[host] ??= await lab.launchBrowserOn(host);
  return S.browsers[host];
}

const fmtLink = (l) => `${l.state} ${l.candidates ? `${l.candidates.local}/${l.candidates.remote}` : 'null'}`;

/**
 * A ring of the node (on pub, every candidate kept, API reachable from here) and one tab per
 * entry of `tabs` (`{ host, params, want: 'direct' | 'relay' }`); asserts the ring, each tab's
 * link to the node, and files both ways; writes out/netlab/native-NAME.log.
 */
async function runCase(name, tabs) {
  const t0 = Date.now();
  const ring = `netlab-native-${name}-${Date.now()}`;
  const notes = [];
  const note = (s) => {
    notes.push(s);
    console.log(`# ${name}: ${s}`);
  };
  const peers = [];
  let node;
  let error;
  try {
    node = await startNode({
      server: S.server,
      ring,
      name: 'node',
      prefix: ['ip', 'netns', 'exec', 'pub'],
      listen: `${lab.PUB}:0`,
      api: `${lab.PUB}:0`,
      loopbackOnly: false,
    });
    node.host = 'pub';
    assert.match(node.udp, new RegExp(`^${lab.PUB.replaceAll('.', '\\.')}:\\d+$`), `the node announces ${node.udp}`);
    note(`node ${short(node.id)} udp ${node.udp} api ${node.api}; joined in ${await waitJoined(node)} ms`);
    for (const t of tabs) {
      const browser = await browserOn(t.host);
      const peer = await lab.openPeer(browser, { ring, name: `${t.host}${t.params?.relay ? '-relay' : ''}`, params: t.params ?? {}, timeoutMs: 45_000 });
      peer.want = t.want;
      peer.kind = browser.kind;
      peers.push(peer);
      note(`${peer.name} (${browser.kind}) ${short(peer.id)} joined`);
    }
    const members = [node, ...peers];

    // The ring: predecessors, successor lists, fingers, in every member's state (the node's /state has a tab's shape).
    let problems = [];
    const ringT0 = Date.now();
    await waitFor(
      async () => {
        const sts = await Promise.all(members.map((m) => withTimeout(m.state(), 5000, `${m.name}: state`)));
        problems = ringProblems(sts, { ring });
        return problems.length === 0;
      },
      30_000,
      { what: `ring ${ring} correct`, interval: 200, detail: () => problems.slice(0, 8).join('; ') },
    );
    note(`ring of ${members.length} correct ${Date.now() - ringT0} ms after the last join`);

    // Each tab's link to the node: open, its selected pair known, relayed or direct as wanted.
    for (const p of peers) {
      let last = null;
      const link = await waitFor(
        async () => {
          last = (await p.state()).links.find((l) => String(l.peer).toLowerCase() === node.id);
          return last?.state === 'open' && last.candidates ? last : null;
        },
        20_000,
        { what: `${p.name}: link to the node open with a known pair`, interval: 250, detail: () => JSON.stringify(last) },
      );
      const nodeEnd = (await node.state()).links.find((l) => String(l.peer).toLowerCase() === p.id);
      note(`${p.name} → node: ${fmtLink(link)}${link.rttMs != null ? ` ${Math.round(link.rttMs)} ms` : ''}; node → ${p.name}: ${nodeEnd ? fmtLink(nodeEnd) : 'no link'}`);
      const { local, remote } = link.candidates;
      if (p.want === 'relay') {
        assert.equal(local, 'relay', `${p.name}: relay=1 but its end of the link to the node is ${local}`);
      } else {
        assert.ok(DIRECT.has(local) && DIRECT.has(remote), `${p.name}: link to the node not direct: ${fmtLink(link)}`);
      }
      // The node offers host candidates only; what the tab selects at the node's end is one of them.
      assert.ok(['host', 'prflx'].includes(remote), `${p.name}: the node's end is ${remote}, but the node offers host candidates only`);
    }

    // Files both ways: one put by each tab, fetched through the node's HTTP API; one put through
    // the API, fetched by each tab.
    for (const p of peers) {
      const bytes = randomBytes(2 * MIB);
      const file = `netlab native ${name} from ${p.name} ✓ ${Date.now()}.bin`;
      const tp = Date.now();
      const put = await withTimeout(putBytes(p, file, bytes), 60_000, `${p.name}: put`);
      const tg = Date.now();
      const got = await node.get(file);
      assert.ok(got, `the node's API: ${file} not found`);
      assert.equal(sha256(got), sha256(bytes), `the node's API: ${file} differs from what ${p.name} put`);
      note(`2 MiB put in ${p.name} (${tg - tp} ms, held by ${short(put.node)}), identical through the node's API (${Date.now() - tg} ms)`);
    }
    const bytes = randomBytes(2 * MIB);
    const file = `netlab native ${name} from the node ✓ ${Date.now()}.bin`;
    const tp = Date.now();
    const put = await node.put(file, bytes);
    note(`2 MiB put through the node's API in ${Date.now() - tp} ms: ${JSON.stringify(put)}`);
    for (const p of peers) {
      const tg = Date.now();
      const got = await withTimeout(getBytes(p, file), 60_000, `${p.name}: get`);
      assert.ok(got, `${p.name}: ${file} not found`);
      assert.equal(sha256(got), sha256(bytes), `${p.name}: ${file} differs from what the node's API took`);
      note(`identical in ${p.name} (${Date.now() - tg} ms)`);
    }
  } catch (e) {
    error = e;
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (error) notes.push(`FAILED after ${secs} s: ${error.stack ?? error}`);
  else note(`passed in ${secs} s`);
  const out = [`# case native-${name}, ring ${ring}`, ...notes, ''];
  for (const p of peers) {
    const st = await withTimeout(p.state(), 3000, 'state').catch((e) => `unavailable: ${e.message}`);
    out.push(`--- ${p.name} (${p.host}, ${p.kind}) ${p.id} state:`, JSON.stringify(st, null, 1), `--- ${p.name} page log:`, ...p.logs, '');
    await withTimeout(p.context.close(), 5000, 'context.close').catch(() => {});
  }
  if (node) {
    const st = await withTimeout(node.state(), 3000, 'state').catch((e) => `unavailable: ${e.message}`);
    await node.stop();
    out.push(`--- node ${node.id} state:`, JSON.stringify(st, null, 1), '--- node log:', ...node.log, '');
    removeData(node.data);
  }
  out.push('--- signaling server log:', ...S.server.log, '');
  writeFileSync(path.join(lab.OUT, `native-${name}.log`), out.join('\n'));
  if (error) throw error;
}

test('(n1) chord-node on pub: a Chromium tab behind a cone NAT links to it directly, one with relay=1 through TURN; 2 MiB files both ways', async () => {
  await runCase('n1-direct-relay', [
    { host: 'h1', want: 'direct' },
    { host: 'h2', params: { relay: '1' }, want: 'relay' },
  ]);
});

test('(n2) chord-node on pub: Firefox behind a cone NAT and Chromium behind the symmetric NAT link to it directly; 2 MiB files both ways', async () => {
  await runCase('n2-firefox-symmetric', [
    { host: lab.FIREFOX_HOST, want: 'direct' },
    { host: lab.SYMMETRIC_HOST, want: 'direct' },
  ]);
});

test('(n3) no host used above sent a DNS packet (Chromium\'s resolver rule, Firefox\'s TRR-only prefs)', async () => {
  const hosts = Object.keys(S.browsers);
  assert.ok(hosts.length > 0, 'no case ran');
  const counts = Object.fromEntries(await Promise.all(hosts.map(async (h) => [h, await lab.dnsPacketsFrom(h)])));
  console.log(`# n3: DNS packets per host: ${JSON.stringify(counts)}`);
  for (const [h, n] of Object.entries(counts)) assert.equal(n, 0, `${h} sent ${n} DNS packets`);
});
