// A plain RTCDataChannel between two pages (no Chord, no wasm): the yardstick for the file
// benchmark, and the NAT lab's raw connections (tests/netlab/lib/lab.mjs). The complete
// (non-trickle) SDP crosses through node with page.evaluate. By default: no ICE servers, and only
// loopback candidates are kept.

import { withTimeout } from './wait.mjs';

/**
 * Connects `sender` and `receiver` (playwright Pages, e.g. about:blank in two Chromium processes)
 * with one ordered, reliable data channel. Both pages get `window.__raw` (an earlier one's
 * connection is closed). Resolves with the candidates each side offered (`address port typ type`).
 * @param {import('playwright-core').Page} sender
 * @param {import('playwright-core').Page} receiver
 * @param {{ iceServers?: RTCIceServer[], policySender?: RTCIceTransportPolicy, policyReceiver?: RTCIceTransportPolicy,
 *   loopbackOnly?: boolean, timeoutMs?: number, gatherMs?: number, partialGather?: boolean }} [opts]
 *   iceServers / policySender / policyReceiver: each side's RTCConfiguration (no policy: the default);
 *   loopbackOnly: drop non-loopback candidates from both descriptions (and fail if none is left);
 *   timeoutMs: for the channel to open; gatherMs: for ICE gathering (default timeoutMs), after
 *   which gathering fails, or with `partialGather` the candidates gathered so far are sent.
 * @returns {Promise<{ offerCandidates: string[], answerCandidates: string[] }>}
 */
export async function connectRawChannel(
  sender,
  receiver,
  { iceServers = [], policySender, policyReceiver, loopbackOnly = true, timeoutMs = 20_000, gatherMs = timeoutMs, partialGather = false } = {},
) {
  const config = (policy) => (policy === undefined ? { iceServers } : { iceServers, iceTransportPolicy: policy });
  const gatherAndFilter = `async (pc, ms) => {
    if (pc.iceGatheringState !== 'complete') {
      await new Promise((resolve, reject) => {
        const t = setTimeout(() => ${partialGather} ? resolve() : reject(new Error('ICE gathering did not complete in ' + ms + ' ms')), ms);
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
        });
      });
    }
    if (!${loopbackOnly}) return { type: pc.localDescription.type, sdp: pc.localDescription.sdp };
    const lines = pc.localDescription.sdp.split('\\r\\n');
    const kept = lines.filter((l) => !l.startsWith('a=candidate:') || / (127\\.0\\.0\\.1|::1) /.test(l));
    const candidates = kept.filter((l) => l.startsWith('a=candidate:')).length;
    if (candidates === 0) throw new Error('no loopback ICE candidate; all: ' + lines.filter((l) => l.startsWith('a=candidate:')).join(' | '));
    return { type: pc.localDescription.type, sdp: kept.join('\\r\\n') };
  }`;
  const offer = await withTimeout(
    sender.evaluate(
      async ([cfg, gather, ms]) => {
        window.__raw?.pc?.close();
        const pc = new RTCPeerConnection(cfg);
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
          pc.oniceconnectionstatechange = () => {
            if (pc.iceConnectionState === 'failed') reject(new Error('ICE failed'));
          };
        });
        raw.opened.catch(() => {});
        await pc.setLocalDescription(await pc.createOffer());
        return (0, eval)(`(${gather})`)(pc, ms);
      },
      [config(policySender), gatherAndFilter, gatherMs],
    ),
    gatherMs + 2000,
    'raw channel: offer',
  );
  const answer = await withTimeout(
    receiver.evaluate(
      async ([cfg, offer, gather, ms]) => {
        window.__raw?.pc?.close();
        const pc = new RTCPeerConnection(cfg);
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
      [config(policyReceiver), offer, gatherAndFilter, gatherMs],
    ),
    gatherMs + 2000,
    'raw channel: answer',
  );
  const cands = (sdp) => sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')).map((l) => l.split(' ').slice(4, 8).join(' '));
  const info = { offerCandidates: cands(offer.sdp), answerCandidates: cands(answer.sdp) };
  try {
    await withTimeout(
      sender.evaluate(async (answer) => {
        await window.__raw.pc.setRemoteDescription(answer);
        await window.__raw.opened;
      }, answer),
      timeoutMs,
      'raw channel: open',
    );
    await withTimeout(receiver.evaluate(() => window.__raw.channel.then(() => true)), timeoutMs, 'raw channel: receiver side');
  } catch (e) {
    e.message += `\n  candidates: ${JSON.stringify(info)}`;
    throw e;
  }
  return info;
}

/**
 * The candidate pair `page`'s raw connection (`window.__raw`) selected, or null if none:
 * `{ local, remote }` candidate types (host, srflx, prflx, relay) and `localAddr` / `remoteAddr`.
 * @param {import('playwright-core').Page} page
 */
export function selectedPair(page) {
  return page.evaluate(async () => {
    const stats = await window.__raw.pc.getStats();
    let pairId;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    const pair = pairId && stats.get(pairId);
    if (!pair) return null;
    const l = stats.get(pair.localCandidateId);
    const r = stats.get(pair.remoteCandidateId);
    return { local: l?.candidateType, remote: r?.candidateType, localAddr: `${l?.address}:${l?.port}`, remoteAddr: `${r?.address}:${r?.port}` };
  });
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
