// The NAT lab from node: the public host's servers (chord-signaling, coturn), the knobs the cases
// turn (NAT↔NAT cut, coturn killed), Chromium on a NATed host, peer pages, TURN REST credentials
// and raw RTCPeerConnections. Runs only inside tests/netlab/run.sh (NETLAB_INSIDE=1); see README.md.

import { execFile, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from '../../e2e/node_modules/playwright-core/index.mjs';
import { GiveUp, sleep, waitFor, withTimeout } from '../../e2e/lib/wait.mjs';
import { ROOT, SERVER_BIN, WWW } from '../../e2e/lib/server.mjs';
import { AUTOMATION_ARGS, closeBrowser, openPeer as openE2ePeer } from '../../e2e/lib/browser.mjs';
import { launchFirefox } from '../../e2e/lib/firefox.mjs';
import { connectRawChannel, selectedPair } from '../../e2e/lib/rtc.mjs';

const run = promisify(execFile);

export { ROOT, closeBrowser };
/** The public host's address (pub): signaling + coturn. */
export const PUB = process.env.NETLAB_PUB ?? '203.0.113.10';
export const HTTP = `http://${PUB}:8080`;
export const WS = `ws://${PUB}:8080/ws`;
export const STUN_URL = `stun:${PUB}:3478`;
export const TURN_URL = `turn:${PUB}:3478?transport=udp`;
/** A lab address nothing answers: inet silently drops every packet to it (`blackhole()`). */
export const DEAD_IP = process.env.NETLAB_DEAD_IP ?? '203.0.113.99';
export const DEAD_TURN_URL = `turn:${DEAD_IP}:3478?transport=udp`;
/**
 * The NATed hosts: h1, h2, h4 and h5 behind port-restricted cone NATs, h3 behind a symmetric NAT.
 * h1–h4 run Chromium, h5 Firefox (`browserOf`).
 */
export const HOSTS = (process.env.NETLAB_HOSTS ?? 'h1 h2 h3 h4 h5').split(' ');
/** The cone hosts that run Chromium. */
export const CONE_HOSTS = ['h1', 'h2', 'h4'];
export const SYMMETRIC_HOST = 'h3';
/** The host that runs Firefox ESR (behind a port-restricted cone NAT, 203.0.113.25). */
export const FIREFOX_HOST = 'h5';
/** Which browser the cases run on `host`. */
export const browserOf = (host) => (host === FIREFOX_HOST ? 'firefox' : 'chromium');
export const OUT = path.join(ROOT, 'out/netlab');
const RUN_DIR = process.env.NETLAB_RUN ?? '/run/netlab';
export const TURN_SECRET = 'netlab-turn-secret-not-for-production';
export const TURN_REALM = 'netlab.test';

/** Throws unless this process runs inside the lab (tests/netlab/run.sh). */
export function assertInLab() {
  if (process.env.NETLAB_INSIDE !== '1' || !existsSync(`${RUN_DIR}/chromium-h1`)) {
    throw new Error('run me inside the NAT lab: tests/netlab/run.sh node --test tests/netlab/nat.test.mjs (or make test-netlab)');
  }
  mkdirSync(OUT, { recursive: true });
}

const stamp = () => new Date().toISOString().slice(11, 23);

/** `iptables` in the inet namespace. */
const inetIptables = (...args) => run('ip', ['netns', 'exec', 'inet', 'iptables', '-w', ...args], { timeout: 10_000 });

/**
 * Cuts (`drop`) or restores (`open`) every packet between two NATs' public addresses in inet's
 * FORWARD chain: then only paths through pub (TURN) remain.
 * @param {'drop' | 'open'} mode
 */
export async function natnat(mode) {
  await inetIptables('-F', 'NATNAT');
  if (mode === 'drop') await inetIptables('-A', 'NATNAT', '-i', 'i-nat+', '-o', 'i-nat+', '-j', 'DROP');
}

/**
 * Makes inet drop, silently (no ICMP), every packet to `addr` (raw PREROUTING, before routing):
 * a server there "never answers". Idempotent. Returns the packets dropped so far.
 */
export async function blackhole(addr = DEAD_IP) {
  const rule = ['PREROUTING', '-d', `${addr}/32`, '-j', 'DROP'];
  const present = await inetIptables('-t', 'raw', '-C', ...rule).then(() => true, () => false);
  if (!present) await inetIptables('-t', 'raw', '-A', ...rule);
  return blackholeDropped(addr);
}

/** Packets to `addr` dropped by `blackhole(addr)` so far. */
export async function blackholeDropped(addr = DEAD_IP) {
  const { stdout } = await inetIptables('-t', 'raw', '-L', 'PREROUTING', '-v', '-n', '-x');
  const line = stdout.split('\n').find((l) => /DROP/.test(l) && l.includes(addr));
  return line ? Number(line.trim().split(/\s+/)[0]) : 0;
}

/** Packets dropped by the NAT↔NAT cut so far. */
export async function natnatDropped() {
  const { stdout } = await inetIptables('-L', 'NATNAT', '-v', '-n', '-x');
  const line = stdout.split('\n').find((l) => /DROP/.test(l));
  return line ? Number(line.trim().split(/\s+/)[0]) : 0;
}

/** DNS packets (UDP or TCP port 53) `host` tried to send so far: lab.sh drops and counts them (DNSOUT). */
export async function dnsPacketsFrom(host) {
  const { stdout } = await run('ip', ['netns', 'exec', host, 'iptables', '-w', '-L', 'DNSOUT', '-v', '-n', '-x'], { timeout: 10_000 });
  const line = stdout.split('\n').find((l) => /DROP/.test(l));
  if (!line) throw new Error(`${host}: no DNSOUT counter (lab.sh)`);
  return Number(line.trim().split(/\s+/)[0]);
}

/**
 * A long-running process in a lab namespace, its output kept in `log` (and in out/netlab/NAME.log
 * when `save()` is called).
 */
function spawnIn(ns, name, cmd, args, env = {}) {
  const proc = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const p = {
    name,
    proc,
    pid: proc.pid,
    log: [],
    exited: false,
    exit: null,
    save: () => writeFileSync(path.join(OUT, `${name}.log`), p.log.join('\n') + '\n'),
    kill: async (signal = 'SIGKILL') => {
      if (p.exited) return;
      const gone = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill(signal);
      await withTimeout(gone, 5000, `${name} exit after ${signal}`).catch(() => {});
    },
    stop: async () => {
      if (p.exited) return;
      proc.kill('SIGTERM');
      await withTimeout(new Promise((resolve) => proc.once('exit', resolve)), 3000, `${name} exit`).catch(() => p.kill('SIGKILL'));
    },
  };
  const onData = (chunk) => {
    for (const line of chunk.toString().split('\n')) if (line) p.log.push(`${stamp()} ${line}`);
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  proc.once('exit', (code, signal) => {
    p.exited = true;
    p.exit = { code, signal };
    p.log.push(`${stamp()} [exited: code ${code}, signal ${signal}]`);
  });
  return p;
}

/** One STUN Binding request from this namespace (ctl) to pub; resolves true when answered. */
function stunPing(port = 3478, ms = 500) {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const req = Buffer.alloc(20);
    req.writeUInt16BE(0x0001, 0);
    req.writeUInt16BE(0, 2);
    req.writeUInt32BE(0x2112a442, 4);
    for (let i = 8; i < 20; i++) req[i] = (Math.random() * 256) | 0;
    const done = (ok) => {
      clearTimeout(t);
      sock.close();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), ms);
    sock.on('message', (m) => done(m.length >= 20 && m.readUInt16BE(0) === 0x0101));
    sock.on('error', () => done(false));
    sock.send(req, port, PUB);
  });
}

/**
 * Starts coturn on pub (REST shared secret, UDP only, relay on pub's address) and waits until it
 * answers a STUN Binding request.
 */
export async function startTurn({ secret = TURN_SECRET, name = 'turnserver' } = {}) {
  const db = `${RUN_DIR}/turndb-${Date.now()}`;
  const turn = spawnIn('pub', name, 'turnserver', [
    '-n',
    `--listening-ip=${PUB}`,
    `--relay-ip=${PUB}`,
    '--listening-port=3478',
    '--use-auth-secret',
    `--static-auth-secret=${secret}`,
    `--realm=${TURN_REALM}`,
    '--fingerprint',
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    '--no-tcp-relay',
    // The lab's public addresses are TEST-NET-3; let the relay reach them (and its own address,
    // for relay↔relay).
    '--allowed-peer-ip=203.0.113.0-203.0.113.255',
    '--min-port=49152',
    '--max-port=65535',
    `--pidfile=${RUN_DIR}/turnserver-${Date.now()}.pid`,
    `--db=${db}`,
    '--log-file=stdout',
    '--simple-log',
    '--verbose',
  ]);
  await waitFor(
    async () => {
      if (turn.exited) throw new GiveUp(`turnserver exited:\n${turn.log.join('\n')}`);
      return stunPing();
    },
    10_000,
    { what: 'coturn to answer STUN on pub:3478', interval: 100, detail: () => turn.log.slice(-20).join('\n') },
  );
  return turn;
}

/**
 * TURN REST credentials (coturn --use-auth-secret): username `<expiry>:<name>`, password
 * base64(HMAC-SHA1(secret, username)).
 */
export function turnCredentials(name, ttlSeconds = 3600, secret = TURN_SECRET) {
  const username = `${Math.floor(Date.now() / 1000) + ttlSeconds}:${name}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential };
}

/** An RTCIceServer[] for pages: STUN and/or TURN on pub (TURN with fresh REST credentials). */
export function iceServers({ stun = true, turn = true, name = 'raw', ttl = 3600 } = {}) {
  const out = [];
  if (stun) out.push({ urls: [STUN_URL] });
  if (turn) out.push({ urls: [TURN_URL], ...turnCredentials(name, ttl) });
  return out;
}

/** The server's --help text (to see which ICE flags it has). */
export async function signalingHelp() {
  const { stdout } = await run(SERVER_BIN, ['--help'], { timeout: 5000 }).catch((e) => ({ stdout: String(e.stdout ?? '') }));
  return stdout;
}

/**
 * Starts `chord-signaling --addr PUB:8080 --www www` on pub with the given ICE flags and waits
 * until `/stats` answers from here.
 * @param {{ stun?: boolean, turn?: boolean, ttl?: number, extra?: string[], name?: string }} [opts]
 *   stun: `--ice-server stun:…`; turn: `--ice-server turn:…` + `--turn-secret-file`; ttl: `--turn-ttl`;
 *   turnUrls: the `turn:` URLs given with `turn` (default: coturn on pub).
 */
export async function startSignaling({ stun = false, turn = false, turnUrls = [TURN_URL], ttl, extra = [], name = 'signaling' } = {}) {
  if (!existsSync(SERVER_BIN)) throw new Error(`${SERVER_BIN} not found: run \`make web server\``);
  const args = ['--addr', `${PUB}:8080`, '--www', WWW];
  if (stun) args.push('--ice-server', STUN_URL);
  if (turn) {
    const file = `${RUN_DIR}/turn-secret`;
    writeFileSync(file, `${TURN_SECRET}\n`, { mode: 0o600 });
    for (const url of turnUrls) args.push('--ice-server', url);
    args.push('--turn-secret-file', file);
  }
  if (ttl !== undefined) args.push('--turn-ttl', String(ttl));
  // Each case is a ring of its own: nothing to wait for after a start (default grace 10 s).
  if (!extra.includes('--grace')) args.push('--grace', '1');
  args.push(...extra);
  const server = spawnIn('pub', name, SERVER_BIN, args, { RUST_LOG: process.env.E2E_SERVER_LOG ?? 'info', NO_COLOR: '1' });
  server.args = args;
  server.url = HTTP;
  server.wsUrl = WS;
  server.stats = async () => {
    const res = await fetch(`${HTTP}/stats`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`GET /stats: HTTP ${res.status}`);
    return res.json();
  };
  try {
    await waitFor(
      () => {
        if (server.exited) throw new GiveUp(`chord-signaling ${args.join(' ')} exited:\n${server.log.join('\n')}`);
        return server.stats();
      },
      10_000,
      { what: `${HTTP}/stats to answer`, interval: 100, detail: () => server.log.join('\n') },
    );
  } catch (e) {
    await server.kill();
    throw e;
  }
  return server;
}

/**
 * Chromium flags in the lab: mDNS hiding stays ON (no loopback flags); no DNS except pub's IP.
 * The page's origin http://PUB:8080 counts as secure (as an https deployment would be; else
 * `crypto.subtle` is missing there).
 */
export const LAB_CHROMIUM_ARGS = Object.freeze([
  `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${PUB}`,
  `--unsafely-treat-insecure-origin-as-secure=${HTTP}`,
  ...AUTOMATION_ARGS,
]);

/** A headless Chromium process in host namespace `host` (h1–h4). */
export async function launchOn(host) {
  const browser = await chromium.launch({
    executablePath: `${RUN_DIR}/chromium-${host}`,
    headless: true,
    args: [...LAB_CHROMIUM_ARGS],
    timeout: 30_000,
  });
  browser.host = host;
  browser.kind = 'chromium';
  return browser;
}

/**
 * Firefox prefs in the lab: the network-off prefs of tests/e2e (FIREFOX_OFFLINE_PREFS) but not its
 * loopback group, so mDNS hiding stays ON, no loopback candidates and no camera/microphone
 * permission: Firefox then gathers on the default-route interface only and names its host
 * candidate `<uuid>.local`, as for a user who granted nothing (measured: with the permission it
 * offers 10.0.5.2 in the clear). On top:
 * - DNS confined like Chromium's `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE PUB`: DNS over
 *   HTTPS only (`network.trr.mode` 3: no native fallback) to a resolver that does not exist
 *   (127.0.0.1:9 in the host's namespace), for every name (no built-in exclusions such as
 *   `localhost`, `local`), so every look-up fails and no DNS packet leaves the host; the page, its
 *   WebSocket and the ICE servers are IP literals (PUB) and need none. Measured: with
 *   the old FIREFOX_OFFLINE_PREFS (`trr.mode` 5, since replaced) Firefox on h5 sent 10–36 UDP packets to port 53 in
 *   35 s (`firefox.settings.services.mozilla.com`, and any name a page fetches); with these, 0.
 * - The page's origin http://PUB:8080 counts as secure (Chromium's
 *   `--unsafely-treat-insecure-origin-as-secure`; else `crypto.subtle` is missing there).
 */
export const LAB_FIREFOX_PREFS = Object.freeze({
  // FIREFOX_OFFLINE_PREFS already sends every look-up to a resolver that does not exist; here not
  // even `localhost` is answered natively.
  'network.trr.builtin-excluded-domains': '',
  'dom.securecontext.allowlist': PUB,
});

/** A headless Firefox ESR process in host namespace `host` (puppeteer over the bridged BiDi socket). */
export async function launchFirefoxOn(host, { prefs = {} } = {}) {
  const browser = await launchFirefox({ executablePath: `${RUN_DIR}/firefox-${host}`, loopback: false, prefs: { ...LAB_FIREFOX_PREFS, ...prefs } });
  browser.host = host;
  return browser;
}

/** The lab's browser on `host`: Firefox on FIREFOX_HOST, else Chromium. */
export const launchBrowserOn = (host) => (browserOf(host) === 'firefox' ? launchFirefoxOn(host) : launchOn(host));

/** A blank page (about:blank) in `browser` for raw RTCPeerConnections. */
export async function blankPage(browser, name = 'raw') {
  const context = await browser.newContext();
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${stamp()} [${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`${stamp()} [pageerror] ${e.stack ?? e.message}`));
  await page.goto("about:blank");
  return { name, page, context, logs, host: browser.host };
}

/**
 * Opens the peer page on pub (`/?ring=R&signal=WS&…`, never loopback=1) in a fresh context and
 * waits for `window.chordReady`: e2e/lib/browser.mjs's openPeer with the lab's origin, and the
 * peer's `host`. Resolves with the peer, or rejects with the page's reason.
 * With `expectFailure`, resolves the peer with `result: { ok: false, reason, ms }` / `{ ok: true, ms }` instead.
 */
export async function openPeer(browser, { params = {}, ...opts }) {
  const peer = await openE2ePeer(browser, { ...opts, baseUrl: HTTP, loopback: false, params: { signal: WS, ...params } });
  peer.host = browser.host;
  return peer;
}

/**
 * Connects two pages with a raw RTCPeerConnection pair (e2e/lib/rtc.mjs's connectRawChannel: complete
 * SDP through node, one ordered data channel) with `iceServers` and `policy` (or `policyA` /
 * `policyB` per side), every candidate kept, and returns the selected candidate pair's types as
 * each side sees it: `{ a: { local, remote }, b: { local, remote }, ms, offerCandidates, answerCandidates }`.
 * Rejects (bounded) if ICE fails. Both pages keep `window.__raw` (rtc.mjs's rawTransfer works on it).
 */
export async function connectRaw(a, b, { iceServers = [], policy = 'all', policyA = policy, policyB = policy, timeoutMs = 15_000 } = {}) {
  const t0 = Date.now();
  const info = await connectRawChannel(a, b, {
    iceServers,
    policySender: policyA,
    policyReceiver: policyB,
    loopbackOnly: false,
    timeoutMs,
    gatherMs: 5000,
    partialGather: true,
  });
  return { a: await selectedPair(a), b: await selectedPair(b), ms: Date.now() - t0, ...info };
}

export { GiveUp, sleep, waitFor, withTimeout };
