// Probe (not part of the suite): a get whose primary holder is alive but reachable only through
// TURN, with coturn dead, while a replica is reachable over an open direct link.
//
//   tests/netlab/run.sh node tests/netlab/probe-unreachable-holder.mjs
//
// Ring of three (replicas=2): two tabs on h1 (their link needs TURN: the lab blocks mDNS host
// candidates and the NAT does not hairpin) and one on h2. A file is put whose primary is one h1
// tab and whose replica is the h2 tab; coturn is killed; the other h1 tab gets the file 3 times.
// Prints each get's time and result, and the getter's linkFailures / links.
import * as lab from './lib/lab.mjs';
import { ringProblems, successorOf, big, keyOf, short } from '../e2e/lib/ring.mjs';
import { putBytes } from '../e2e/lib/browser.mjs';
lab.assertInLab();
const turn = await lab.startTurn();
const server = await lab.startSignaling({ stun: true, turn: true });
const b1 = await lab.launchOn('h1'), b2 = await lab.launchOn('h2');
const ring = 'probe' + Date.now();
const params = { replicas: '2' };
const a = await lab.openPeer(b1, { ring, name: 'h1a', params });
const b = await lab.openPeer(b1, { ring, name: 'h1b', params });
const c = await lab.openPeer(b2, { ring, name: 'h2a', params });
const peers = [a, b, c];
await lab.waitFor(async () => ringProblems(await Promise.all(peers.map((p) => p.state())), { ring }).length === 0, 30000);
const ids = peers.map((p) => p.id);
const succ = successorOf(ids);
const next = (id) => succ(big(id) + 1n);
const [X, P] = next(b.id) === c.id ? [a, b] : [b, a];
let name; for (let k = 1; ; k++) { name = `probe ${k}`; if (succ(big(keyOf(name))) === P.id) break; }
const r = await putBytes(c, name, new Uint8Array(50000));
console.log(`getter ${X.name}, primary ${P.name} (same host, link only via TURN), replica on h2a; put held by ${short(r.node)}`);
for (const p of peers) console.log(p.name, JSON.stringify((await p.state()).records.map((x) => [x.name, x.role, x.complete])));
await turn.kill();
console.log('coturn killed');
await lab.sleep(12000);
const links = (await X.state()).links.map((l) => `${peers[ids.indexOf(l.peer)]?.name} ${l.state}`);
console.log(`${X.name} links 12 s after the kill: ${links.join(', ')}`);
for (let i = 0; i < 3; i++) {
  const res = await X.page.evaluate(async (n) => { const t = performance.now(); try { const v = await window.chord.get(n); return { ok: true, v: v === undefined ? 'undefined' : `${v.size} bytes`, ms: Math.round(performance.now() - t) }; } catch (e) { return { ok: false, message: String(e?.message ?? e), ms: Math.round(performance.now() - t) }; } }, name);
  console.log(`${X.name} get #${i + 1}:`, JSON.stringify(res));
}
const st = await X.state();
console.log(JSON.stringify({ linkFailures: st.linkFailures, iceRestarts: st.iceRestarts, links: st.links.map((l) => [peers[ids.indexOf(l.peer)]?.name, l.state]) }));
await server.stop();
for (const br of [b1, b2]) await lab.closeBrowser(br);
