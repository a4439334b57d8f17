// Starts and drives native ring members (`chord-node`) for a test: each is a process with its own
// store directory, joined through the test's signaling server, reached through its HTTP API. A node
// looks like a tab to the ring helpers: it has `name`, `id` and `state()` (the same shape).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './server.mjs';
import { GiveUp, waitFor, withTimeout } from './wait.mjs';

/** The node binary (`cargo build --release -p chord-node`); `CHORD_NODE_BIN` overrides. */
export const NODE_BIN = process.env.CHORD_NODE_BIN ?? path.join(ROOT, 'target/release/chord-node');

/** A fresh store directory under the system's temp directory. */
export const tempDataDir = (name = 'node') => mkdtempSync(path.join(os.tmpdir(), `chord-${name}-`));

/**
 * @typedef {object} NativeNode
 * @property {string} name
 * @property {string} id        40 hex digits (from the node's ready line)
 * @property {string} api       `http://IP:PORT` (127.0.0.1 unless `api` says otherwise)
 * @property {string} udp       `IP:PORT` its WebRTC socket announces (from the ready line)
 * @property {string} data      its store directory
 * @property {import('node:child_process').ChildProcess} proc
 * @property {string[]} log     its output lines
 * @property {boolean} exited
 * @property {() => Promise<any>} state    `GET /state`
 * @property {(name: string, bytes: Uint8Array) => Promise<any>} put   `PUT /files/{name}`
 * @property {(name: string) => Promise<Uint8Array | null>} get        `GET /files/{name}` (null: 404)
 * @property {(signal?: NodeJS.Signals) => Promise<void>} kill  send `signal` (default SIGKILL), await the exit
 * @property {() => Promise<void>} stop  SIGTERM (a graceful leave), SIGKILL after 8 s; idempotent
 */

/**
 * Starts `chord-node` joined through `server` into `ring`, by default on loopback only
 * (`--loopback-only`, UDP and API on 127.0.0.1, free ports); resolves once it printed its ready
 * line (not once it joined: see `waitJoined`).
 *
 * The NAT lab runs it elsewhere: `prefix` goes before the binary (e.g. `['ip', 'netns', 'exec',
 * 'pub']`, which execs it, so `proc` is the node itself), `listen` and `api` are its UDP and API
 * addresses, and `loopbackOnly: false` keeps every candidate.
 *
 * @param {{ server: { wsUrl: string }, ring: string, name?: string, data?: string, args?: string[], bin?: string,
 *   prefix?: string[], listen?: string, api?: string, loopbackOnly?: boolean }} opts
 * @returns {Promise<NativeNode>}
 */
export async function startNode({
  server,
  ring,
  name = 'node',
  data = tempDataDir(name),
  args = [],
  bin = NODE_BIN,
  prefix = [],
  listen = '127.0.0.1:0',
  api = '127.0.0.1:0',
  loopbackOnly = true,
}) {
  if (!existsSync(bin)) throw new Error(`${bin} not found: run \`cargo build --release -p chord-node\``);
  const argv = ['--signal', server.wsUrl, '--ring', ring, '--data', data, '--listen', listen, '--api', api];
  if (loopbackOnly) argv.push('--loopback-only');
  const [cmd, ...cmdArgs] = [...prefix, bin, ...argv, ...args];
  const proc = spawn(cmd, cmdArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.E2E_NODE_LOG ?? 'info', NO_COLOR: '1' },
  });
  let ready = null;
  /** @type {NativeNode} */
  const node = {
    name,
    id: '',
    api: '',
    udp: '',
    data,
    proc,
    log: [],
    exited: false,
    state: async () => {
      const res = await fetch(`${node.api}/state`, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`${name}: GET /state: HTTP ${res.status}`);
      return res.json();
    },
    put: async (file, bytes) => {
      const res = await fetch(`${node.api}/files/${encodeURIComponent(file)}`, { method: 'PUT', body: bytes, signal: AbortSignal.timeout(120_000) });
      const body = await res.json();
      if (!res.ok) throw new Error(`${name}: PUT ${file}: HTTP ${res.status} ${body.code}: ${body.error}`);
      return body;
    },
    get: async (file) => {
      const res = await fetch(`${node.api}/files/${encodeURIComponent(file)}`, { signal: AbortSignal.timeout(120_000) });
      if (res.status === 404) return null;
      if (!res.ok) {
        const body = await res.json().catch(() => ({}));
        throw new Error(`${name}: GET ${file}: HTTP ${res.status} ${body.code}: ${body.error}`);
      }
      return new Uint8Array(await res.arrayBuffer());
    },
    kill: async (signal = 'SIGKILL') => {
      if (node.exited) return;
      const gone = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill(signal);
      await withTimeout(gone, 10_000, `${name} exit after ${signal}`);
    },
    stop: async () => {
      if (node.exited) return;
      try {
        const gone = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill('SIGTERM');
        await withTimeout(gone, 8000, `${name} exit after SIGTERM`);
      } catch {
        await node.kill('SIGKILL');
      }
    },
  };
  const onData = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      node.log.push(line);
      if (line.startsWith('{"')) {
        try {
          const j = JSON.parse(line);
          if (j.event === 'ready') ready = j;
        } catch {}
      }
    }
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  proc.once('exit', (code, signal) => {
    node.exited = true;
    node.log.push(`[exited: code ${code}, signal ${signal}]`);
  });
  try {
    const r = await waitFor(
      () => {
        if (node.exited) throw new GiveUp(`${name} exited:\n${node.log.join('\n')}`);
        return ready;
      },
      10_000,
      { what: `${name} to start`, interval: 20, detail: () => node.log.join('\n') },
    );
    node.id = r.id;
    node.api = `http://${r.api}`;
    node.udp = r.udp;
  } catch (e) {
    await node.kill('SIGKILL').catch(() => {});
    throw e;
  }
  return node;
}

/** Waits until `node` reports `joined`; returns the ms it took. */
export async function waitJoined(node, timeoutMs = 30_000) {
  const t0 = Date.now();
  await waitFor(
    async () => {
      if (node.exited) throw new GiveUp(`${node.name} exited:\n${node.log.join('\n')}`);
      return (await node.state()).status === 'joined';
    },
    timeoutMs,
    { what: `${node.name} to join`, interval: 50, detail: () => node.log.slice(-30).join('\n') },
  );
  return Date.now() - t0;
}

/** Resident memory of a process in KiB (`VmRSS` in /proc), or null once it is gone. */
export async function residentKiB(pid) {
  const { readFile } = await import('node:fs/promises');
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Removes a node's store directory (after the node stopped). */
export const removeData = (dir) => rmSync(dir, { recursive: true, force: true });
