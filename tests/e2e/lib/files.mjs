// Large files across the page boundary (issue #4, docs/files.md), for the end-to-end tests and the
// file benchmark. The bytes never cross into node: pages make random Blobs, put and get them, and
// compare SHA-256 digests computed in the page (crypto.subtle). Node only sees sizes, digests,
// times and progress summaries.

/**
 * Before `page` loads the peer, wraps `ChordPeer.join` in the served `pkg/chord.js` so every
 * `onEvent` event is also recorded in `window.__e2eEvents` (the page's own handler still runs).
 * Call it before the first `page.goto` (`openPeer`'s `setup` option); it lasts across reloads.
 * @param {import('playwright-core').Page} page
 */
export async function recordChordEvents(page) {
  await page.route(/\/pkg\/chord\.js(\?.*)?$/, async (route) => {
    const res = await route.fetch();
    const body = await res.text();
    const wrap = `
;{
  const join = ChordPeer.join;
  ChordPeer.join = function (options) {
    const user = options && options.onEvent;
    const opts = Object.assign({}, options, {
      onEvent(ev) {
        try {
          const list = (globalThis.__e2eEvents ??= []);
          if (list.length < 20000) list.push({ at: Date.now(), ...ev });
        } catch {}
        if (typeof user === 'function') return user(ev);
      },
    });
    return join.call(this, opts);
  };
}
`;
    await route.fulfill({ response: res, body: body + wrap, headers: { ...res.headers(), 'cache-control': 'no-store' } });
  });
}

/** Events recorded by `recordChordEvents` (optionally only of `type`). */
export function chordEvents(peer, type) {
  return peer.page.evaluate((type) => (globalThis.__e2eEvents ?? []).filter((e) => !type || e.type === type), type);
}

/**
 * Makes a Blob of `size` random bytes in the page (1 MiB slices, never one big buffer in wasm),
 * keeps it as `window.__e2eBlobs[handle]` and returns its SHA-256.
 * @returns {Promise<{ size: number, sha256: string, ms: number }>}
 */
export function makeRandomBlob(peer, handle, size) {
  return peer.page.evaluate(
    async ([handle, size]) => {
      const t0 = performance.now();
      const parts = [];
      const SLICE = 1 << 20;
      for (let off = 0; off < size; off += SLICE) {
        const part = new Uint8Array(Math.min(SLICE, size - off));
        for (let i = 0; i < part.length; i += 65536) crypto.getRandomValues(part.subarray(i, i + 65536));
        parts.push(part);
      }
      const blob = new Blob(parts);
      (window.__e2eBlobs ??= {})[handle] = blob;
      const sha = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
      return { size: blob.size, sha256: [...sha].map((b) => b.toString(16).padStart(2, '0')).join(''), ms: performance.now() - t0 };
    },
    [handle, size],
  );
}

/** Forgets the page's Blob `handle`. */
export function dropBlob(peer, handle) {
  return peer.page.evaluate((h) => {
    if (window.__e2eBlobs) delete window.__e2eBlobs[h];
  }, handle);
}

/**
 * The code shared by putBlob and getBlob, evaluated in the page: a progress recorder and the
 * abort plan. `abort`: { afterBytes } aborts once a progress report has done ≥ afterBytes,
 * { afterMs } after a delay, { before: true } before the call.
 */
const IN_PAGE_TRANSFER = `
(() => {
  const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
  const sha256 = async (blob) => hex(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
  function recorder() {
    // Times in the summary (t0, t1: first and last call of a phase) are ms since the recorder was made.
    const start = performance.now();
    const calls = [];
    let count = 0;
    const onProgress = (p) => {
      count++;
      const rec = { phase: p && p.phase, done: p && p.done, total: p && p.total, t: performance.now() };
      if (calls.length < 5000) calls.push(rec);
      else calls[calls.length - 1] = rec;
    };
    const summary = () => {
      const phases = {};
      const order = [];
      for (const c of calls) {
        let ph = phases[c.phase];
        if (!ph) {
          ph = phases[c.phase] = { calls: 0, first: c.done, last: c.done, total: c.total, monotonic: true, totals: new Set(), t0: c.t - start, t1: c.t - start };
          order.push(c.phase);
        }
        if (typeof c.done !== 'number' || c.done < ph.last) ph.monotonic = false;
        ph.calls++;
        ph.last = c.done;
        ph.t1 = c.t - start;
        ph.totals.add(c.total);
      }
      for (const p of Object.values(phases)) p.totals = [...p.totals];
      return { count, order, phases, last: calls.length ? calls[calls.length - 1] : null };
    };
    return { onProgress, summary };
  }
  function abortPlan(abort) {
    const ctl = new AbortController();
    let timer;
    if (abort && abort.before) ctl.abort();
    if (abort && abort.afterMs !== undefined) timer = setTimeout(() => ctl.abort(), abort.afterMs);
    const watch = (p) => {
      if (abort && abort.afterBytes !== undefined && !ctl.signal.aborted && p && p.done >= abort.afterBytes && (!abort.phase || abort.phase === p.phase)) ctl.abort();
    };
    return { signal: abort ? ctl.signal : undefined, watch, clear: () => clearTimeout(timer), aborted: () => ctl.signal.aborted };
  }
  const errInfo = (e) => ({
    isError: e instanceof Error,
    name: e && e.name,
    code: e && e.code,
    message: e instanceof Error ? e.message : typeof e === 'string' ? e : (() => { try { return JSON.stringify(e); } catch { return String(e); } })(),
  });
  return { sha256, recorder, abortPlan, errInfo };
})()
`;

/**
 * `window.chord.put(name, window.__e2eBlobs[handle], { onProgress, signal })` in the page.
 * `as`: 'blob' (default), 'uint8array' or 'string' (the Blob's bytes as UTF-8 text... only for small data).
 * Never throws for the API's sake: returns { ok, result | error, ms, progress, syncThrow }.
 */
export function putBlob(peer, name, handle, { abort, as = 'blob' } = {}) {
  return peer.page.evaluate(
    async ([name, handle, abort, as, lib]) => {
      const { recorder, abortPlan, errInfo } = (0, eval)(lib);
      const blob = window.__e2eBlobs?.[handle];
      if (!blob) throw new Error(`no blob ${handle} in this page`);
      const data = as === 'uint8array' ? new Uint8Array(await blob.arrayBuffer()) : as === 'string' ? await blob.text() : blob;
      const rec = recorder();
      const plan = abortPlan(abort);
      const opts = { onProgress: (p) => { rec.onProgress(p); plan.watch(p); } };
      if (plan.signal) opts.signal = plan.signal;
      const t0 = performance.now();
      let promise;
      let syncThrow = false;
      try {
        promise = window.chord.put(name, data, opts);
      } catch (e) {
        syncThrow = true;
        promise = Promise.reject(e);
      }
      try {
        const r = await promise;
        const ms = performance.now() - t0;
        plan.clear();
        const result = r && { key: r.key, node: r.node, hops: r.hops, size: r.size, digest: r.digest, version: r.version && { seq: r.version.seq, writer: r.version.writer } };
        return { ok: true, result, ms, progress: rec.summary(), aborted: plan.aborted(), syncThrow };
      } catch (e) {
        const ms = performance.now() - t0;
        plan.clear();
        return { ok: false, error: errInfo(e), ms, progress: rec.summary(), aborted: plan.aborted(), syncThrow };
      }
    },
    [name, handle, abort ?? null, as, IN_PAGE_TRANSFER],
  );
}

/**
 * `window.chord.get(name, { onProgress, signal })` in the page, timed from the call to the Blob
 * (the hashing comes after). Returns { ok, found, kind, size, sha256, ms, progress } or
 * { ok: false, error, ms, progress }. With `keep`, the Blob stays as `window.__e2eBlobs[keep]`.
 */
export function getBlob(peer, name, { abort, keep, hash = true } = {}) {
  return peer.page.evaluate(
    async ([name, abort, keep, hash, lib]) => {
      const { sha256, recorder, abortPlan, errInfo } = (0, eval)(lib);
      const rec = recorder();
      const plan = abortPlan(abort);
      const opts = { onProgress: (p) => { rec.onProgress(p); plan.watch(p); } };
      if (plan.signal) opts.signal = plan.signal;
      const t0 = performance.now();
      let promise;
      let syncThrow = false;
      try {
        promise = window.chord.get(name, opts);
      } catch (e) {
        syncThrow = true;
        promise = Promise.reject(e);
      }
      let v;
      try {
        v = await promise;
      } catch (e) {
        const ms = performance.now() - t0;
        plan.clear();
        return { ok: false, error: errInfo(e), ms, progress: rec.summary(), aborted: plan.aborted(), syncThrow };
      }
      const ms = performance.now() - t0;
      plan.clear();
      const base = { ok: true, ms, progress: rec.summary(), aborted: plan.aborted(), syncThrow };
      if (v === undefined) return { ...base, found: false, kind: 'undefined' };
      const kind = Object.prototype.toString.call(v);
      if (!(v instanceof Blob)) return { ...base, found: true, kind, size: v?.length ?? v?.byteLength };
      if (keep) (window.__e2eBlobs ??= {})[keep] = v;
      return { ...base, found: true, kind, size: v.size, sha256: hash ? await sha256(v) : undefined };
    },
    [name, abort ?? null, keep ?? null, hash, IN_PAGE_TRANSFER],
  );
}

/** `state().wasmMemoryBytes` of `peer`. */
export async function wasmMemory(peer) {
  return peer.page.evaluate(() => window.chord.state().wasmMemoryBytes);
}

/** `state().records` of `peer`. */
export async function heldRecords(peer) {
  return peer.page.evaluate(() => window.chord.state().records ?? null);
}

/** True if `peer`'s state lists a complete record for `key` (its bytes are in this tab). */
export async function holdsComplete(peer, key) {
  const recs = await heldRecords(peer);
  return Array.isArray(recs) && recs.some((r) => r.key === key && r.complete);
}

/**
 * Overwrites chunk `index` of the blob with SHA-1 `digest` in `peer`'s IndexedDB
 * (`chord-node-<id>`, store `chunks`, key `<digest>/<index, 8 digits>`) with other bytes of the
 * same length (every byte inverted). Returns { key, length } or throws if the chunk is missing.
 */
export function corruptChunk(peer, digest, index = 0) {
  return peer.page.evaluate(
    async ([dbName, key]) => {
      const req = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
      const db = await new Promise((res, rej) => {
        const r = indexedDB.open(dbName);
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
        r.onupgradeneeded = () => { r.transaction.abort(); rej(new Error(`database ${dbName} does not exist`)); };
      });
      try {
        const stores = [...db.objectStoreNames];
        if (!stores.includes('chunks')) throw new Error(`${dbName} has no store "chunks" (stores: ${stores.join(', ')})`);
        const tx = db.transaction('chunks', 'readwrite');
        const store = tx.objectStore('chunks');
        const old = await req(store.get(key));
        if (old === undefined) {
          const keys = await req(store.getAllKeys(null, 5));
          throw new Error(`no chunk ${key} in ${dbName} (first keys: ${JSON.stringify(keys)})`);
        }
        const bytes = old instanceof Uint8Array ? old : old instanceof ArrayBuffer ? new Uint8Array(old) : null;
        if (!bytes) throw new Error(`chunk ${key} is a ${Object.prototype.toString.call(old)}, not a Uint8Array`);
        const bad = bytes.map((b) => b ^ 0xff);
        await req(store.put(bad, key));
        await new Promise((res, rej) => { tx.oncomplete = res; tx.onerror = () => rej(tx.error); tx.onabort = () => rej(tx.error); });
        return { key, length: bad.length, type: Object.prototype.toString.call(old) };
      } finally {
        db.close();
      }
    },
    [`chord-node-${peer.id}`, `${digest}/${String(index).padStart(8, '0')}`],
  );
}

/** Median of numbers. */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** MB/s (10^6 bytes a second) of `bytes` moved in `ms`. */
export const mbps = (bytes, ms) => bytes / 1e6 / (ms / 1000);

/**
 * Problems with a progress summary from putBlob/getBlob (empty if fine): at least one call, every
 * phase's `done` never decreasing, every `total` equal to `size`, and the last call done === total.
 */
export function progressProblems(progress, size) {
  const problems = [];
  if (!progress || progress.count === 0) return ['onProgress was never called'];
  for (const [phase, p] of Object.entries(progress.phases)) {
    if (!p.monotonic) problems.push(`phase ${phase}: done decreased`);
    if (p.totals.length !== 1 || p.totals[0] !== size) problems.push(`phase ${phase}: total ${JSON.stringify(p.totals)}, want ${size}`);
  }
  const last = progress.last;
  if (!last || last.done !== last.total) problems.push(`last call ${JSON.stringify(last)} has done ≠ total`);
  return problems;
}

/** How many chunks of the blob with SHA-1 `digest` are in `peer`'s IndexedDB store `chunks`. */
export function chunkCount(peer, digest) {
  return peer.page.evaluate(
    async ([dbName, digest]) => {
      const db = await new Promise((res, rej) => {
        const r = indexedDB.open(dbName);
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
        r.onupgradeneeded = () => { r.transaction.abort(); rej(new Error(`database ${dbName} does not exist`)); };
      });
      try {
        if (![...db.objectStoreNames].includes('chunks')) return 0;
        const r = db.transaction('chunks').objectStore('chunks').count(IDBKeyRange.bound(`${digest}/`, `${digest}/\uffff`));
        return await new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
      } finally {
        db.close();
      }
    },
    [`chord-node-${peer.id}`, digest],
  );
}

/**
 * Samples the JS memory of `peer`'s page (Chromium only; `null` elsewhere) through the DevTools
 * protocol: `Runtime.getHeapUsage`'s `usedSize` (the V8 heap) plus `backingStorageSize` (the
 * bytes of every ArrayBuffer, where a Uint8Array's data lives) — what
 * `performance.memory.usedJSHeapSize` counts, without the `--enable-precise-memory-info` flag.
 * Each sample is taken twice: as found (`raw`: it includes garbage not yet collected, such as the
 * buffer of every data-channel message, which V8 frees on its own schedule) and right after a
 * forced garbage collection (`live`: what the page holds). `stop()` ends the sampling and returns
 * { base, live: { peak, growth }, raw: { peak, growth }, parts, samples }, bytes; `parts` is the
 * live peak's split into V8 heap and ArrayBuffers.
 */
export async function sampleHeap(peer, intervalMs = 100) {
  if (peer.page.context().browser()?.kind !== 'chromium') return null;
  const cdp = await peer.page.context().newCDPSession(peer.page);
  const usage = async () => {
    const h = await cdp.send('Runtime.getHeapUsage');
    return { heap: h.usedSize, buffers: h.backingStorageSize ?? 0, all: h.usedSize + (h.backingStorageSize ?? 0) };
  };
  const live = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    return usage();
  };
  const base = (await live()).all;
  let livePeak = { heap: 0, buffers: 0, all: base };
  let rawPeak = base;
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        rawPeak = Math.max(rawPeak, (await usage()).all);
        const l = await live();
        if (l.all > livePeak.all) livePeak = l;
        samples++;
      } catch {
        // the page is busy navigating or closing: the next sample counts
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await cdp.detach().catch(() => {});
      return {
        base,
        live: { peak: livePeak.all, growth: livePeak.all - base },
        raw: { peak: rawPeak, growth: rawPeak - base },
        parts: { heap: livePeak.heap, buffers: livePeak.buffers },
        samples,
      };
    },
  };
}
