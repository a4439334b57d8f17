// Starts and stops the real signaling server (`chord-signaling`) for a test.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GiveUp, waitFor, withTimeout } from './wait.mjs';

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The server binary (`cargo build --release -p chord-signaling`); `CHORD_SIGNALING_BIN` overrides. */
export const SERVER_BIN = process.env.CHORD_SIGNALING_BIN ?? path.join(ROOT, 'target/release/chord-signaling');
/** The page directory it serves; `CHORD_WWW` overrides. */
export const WWW = process.env.CHORD_WWW ?? path.join(ROOT, 'www');

/**
 * Fetches `url` as JSON, giving up after `timeoutMs`.
 * @param {string} url
 * @param {number} [timeoutMs]
 */
export async function fetchJson(url, timeoutMs = 2000) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}

/**
 * @typedef {object} Server
 * @property {number} port
 * @property {string} url     `http://127.0.0.1:PORT`
 * @property {string} wsUrl   `ws://127.0.0.1:PORT/ws`
 * @property {import('node:child_process').ChildProcess} proc
 * @property {string[]} log   the server's output lines
 * @property {() => Promise<Record<string, number>>} stats  `GET /stats`
 * @property {boolean} exited
 * @property {(signal?: NodeJS.Signals) => Promise<void>} kill  send `signal` (default SIGKILL), await the exit
 * @property {() => Promise<void>} stop  SIGTERM, then SIGKILL after 3 s; idempotent
 */

/**
 * Starts `chord-signaling --addr 127.0.0.1:PORT --www WWW` and waits until `/stats` answers.
 * With `port` 0 (the default) the OS picks a free port, read back from the server's log.
 *
 * @param {{ port?: number, bin?: string, www?: string, args?: string[], timeoutMs?: number }} [opts]
 * @returns {Promise<Server>}
 */
export async function startServer({ port = 0, bin = SERVER_BIN, www = WWW, args = [], timeoutMs = 10_000 } = {}) {
  if (!existsSync(bin)) throw new Error(`${bin} not found: run \`cargo build --release -p chord-signaling\``);
  // A test's fresh server has no ring to wait for: a 1 s grace instead of the default 10 s,
  // unless the test sets its own (a restart test keeps the default).
  const grace = args.includes('--grace') ? [] : ['--grace', '1'];
  const proc = spawn(bin, ['--addr', `127.0.0.1:${port}`, '--www', www, ...grace, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.E2E_SERVER_LOG ?? 'info', NO_COLOR: '1' },
  });
  /** @type {Server} */
  const server = {
    port,
    url: '',
    wsUrl: '',
    proc,
    log: [],
    exited: false,
    stats: () => fetchJson(`${server.url}/stats`),
    kill: async (signal = 'SIGKILL') => {
      if (server.exited) return;
      const gone = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill(signal);
      await withTimeout(gone, 5000, `server exit after ${signal}`);
    },
    stop: async () => {
      if (server.exited) return;
      try {
        await server.kill('SIGTERM');
      } catch {
        await server.kill('SIGKILL');
      }
    },
  };
  let listening = null;
  const onData = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      server.log.push(line);
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m) listening = Number(m[1]);
    }
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  proc.once('exit', (code, signal) => {
    server.exited = true;
    server.log.push(`[exited: code ${code}, signal ${signal}]`);
  });
  try {
    server.port = await waitFor(
      () => {
        if (server.exited) throw new GiveUp(`server exited:\n${server.log.join('\n')}`);
        return listening;
      },
      timeoutMs,
      { what: 'the signaling server to listen', interval: 50, detail: () => server.log.join('\n') },
    );
    server.url = `http://127.0.0.1:${server.port}`;
    server.wsUrl = `ws://127.0.0.1:${server.port}/ws`;
    await waitFor(() => server.stats(), timeoutMs, { what: `${server.url}/stats to answer`, interval: 50 });
  } catch (e) {
    await server.kill('SIGKILL').catch(() => {});
    throw e;
  }
  return server;
}
