// A plain RTCDataChannel between two pages (no Chord, no wasm): the yardstick for the file
// benchmark. The complete (non-trickle) SDP crosses through node with page.evaluate; no ICE
// servers; only loopback candidates are kept.

import { withTimeout } from './wait.mjs';

/**
 * Connects `sender` and `receiver` (playwright Pages, e.g. about:blank in two Chromium processes)
 * with one ordered, reliable data channel. Both pages get `window.__raw`.
 * @param {import('playwright-core').Page} sender
 * @param {import('playwright-core').Page} receiver
 * @param {{ timeoutMs?: number }} [opts]
 */
export async function connectRawChannel(sender, receiver, { timeoutMs = 20_000 } = {}) {
  const gatherAndFilter = `async (pc, ms) => {
    if (pc.iceGatheringState !== 'complete') {
      await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('ICE gathering did not complete in ' + ms + ' ms')), ms);
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
        });
      });
    }
    const lines = pc.localDescription.sdp.split('\\r\\n');
    const kept = lines.filter((l) => !l.startsWith('a=candidate:') || / (127\\.0\\.0\\.1|::1) /.test(l));
    const candidates = kept.filter((l) => l.startsWith('a=candidate:')).length;
    if (candidates === 0) throw new Error('no loopback ICE candidate; all: ' + lines.filter((l) => l.startsWith('a=candidate:')).join(' | '));
    return { type: pc.localDescription.type, sdp: kept.join('\\r\\n') };
  }`;
  const offer = await withTimeout(
    sender.evaluate(
      async ([gather, ms]) => {
        const pc = new RTCPeerConnection({ iceServers: [] });
        const dc = pc.createDataChannel('raw-bench', { ordered: true });
        dc.binaryType = 'arraybuffer';
        const raw = (window.__raw = { pc, dc, inbox: [], waiters: [] });
        dc.onmessage = (ev) => {
          const w = raw.waiters.shift();
          if (w) w(ev.data);
          else raw.inbox.push(ev.data);
        };
        raw.opened = new Promise((resolve, reject) => {
          dc.onopen = () => resolve();
          dc.onerror = (e) => reject(new Error(`data channel error: ${e?.error?.message ?? e}`));
        });
        raw.opened.catch(() => {});
        await pc.setLocalDescription(await pc.createOffer());
        return (0, eval)(`(${gather})`)(pc, ms);
      },
      [gatherAndFilter, timeoutMs],
    ),
    timeoutMs + 2000,
    'raw channel: offer',
  );
  const answer = await withTimeout(
    receiver.evaluate(
      async ([offer, gather, ms]) => {
        const pc = new RTCPeerConnection({ iceServers: [] });
        const raw = (window.__raw = { pc, dc: null, received: 0, total: 0, first: 0 });
        raw.channel = new Promise((resolve) => {
          pc.ondatachannel = (ev) => {
            const dc = ev.channel;
            dc.binaryType = 'arraybuffer';
            // The handler is set at once, before any await: early messages are not lost.
            dc.onmessage = (m) => {
              const n = typeof m.data === 'string' ? 0 : m.data.byteLength;
              if (raw.received === 0) raw.first = performance.now();
              raw.received += n;
              if (raw.total > 0 && raw.received >= raw.total) {
                const last = performance.now();
                dc.send(JSON.stringify({ received: raw.received, ms: last - raw.first }));
                raw.received = 0;
                raw.total = 0;
              }
            };
            raw.dc = dc;
            resolve(dc);
          };
        });
        await pc.setRemoteDescription(offer);
        await pc.setLocalDescription(await pc.createAnswer());
        return (0, eval)(`(${gather})`)(pc, ms);
      },
      [offer, gatherAndFilter, timeoutMs],
    ),
    timeoutMs + 2000,
    'raw channel: answer',
  );
  await withTimeout(
    sender.evaluate(async (answer) => {
      await window.__raw.pc.setRemoteDescription(answer);
      await window.__raw.opened;
    }, answer),
    timeoutMs,
    'raw channel: open',
  );
  await withTimeout(receiver.evaluate(() => window.__raw.channel.then(() => true)), timeoutMs, 'raw channel: receiver side');
}

/**
 * Sends `bytes` from sender to receiver in `message`-byte messages with bufferedAmount flow
 * control (pause above `high`, resume on `bufferedamountlow` at `low`). The time runs on the
 * sender's clock from the first send until the receiver's confirmation (sent once it has every
 * byte) arrives; the receiver's own first-to-last-message time is reported too.
 * @returns {Promise<{ bytes: number, ms: number, receiverMs: number }>}
 */
export async function rawTransfer(sender, receiver, { bytes, message = 65536, high = 1 << 20, low = 256 << 10, timeoutMs = 120_000 }) {
  await receiver.evaluate((total) => {
    window.__raw.received = 0;
    window.__raw.total = total;
  }, bytes);
  return withTimeout(
    sender.evaluate(
      async ([total, size, high, low]) => {
        const raw = window.__raw;
        const dc = raw.dc;
        raw.inbox.length = 0;
        dc.bufferedAmountLowThreshold = low;
        const msg = new Uint8Array(size);
        for (let i = 0; i < size; i += 65536) crypto.getRandomValues(msg.subarray(i, Math.min(size, i + 65536)));
        const confirmation = new Promise((resolve) => raw.waiters.push(resolve));
        const t0 = performance.now();
        let sent = 0;
        while (sent < total) {
          if (dc.bufferedAmount > high) {
            await new Promise((resolve) => dc.addEventListener('bufferedamountlow', resolve, { once: true }));
            continue;
          }
          const n = Math.min(size, total - sent);
          dc.send(n === size ? msg : msg.subarray(0, n));
          sent += n;
        }
        const reply = JSON.parse(await confirmation);
        return { bytes: reply.received, ms: performance.now() - t0, receiverMs: reply.ms };
      },
      [bytes, message, high, low],
    ),
    timeoutMs,
    'raw transfer',
  );
}

/** Closes the raw connection in both pages. */
export async function closeRawChannel(...pages) {
  for (const p of pages) {
    await p.evaluate(() => window.__raw?.pc?.close()).catch(() => {});
  }
}
