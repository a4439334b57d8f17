// Sizes, speeds, durations and versions as people read them. Pure: no DOM, no peer
// (tests/page/format.test.mjs).

/** File sizes as people read them in a file manager. @param {number} n */
export function size(n) {
  if (n < 1000) return `${n} byte${n === 1 ? "" : "s"}`;
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)} KB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(1)} GB`;
}

/** Speeds as people read them. @param {number} bytesPerSec */
export function rate(bytesPerSec) {
  if (bytesPerSec >= 1e6) return `${(bytesPerSec / 1e6).toFixed(1)} MB/s`;
  return `${Math.round(bytesPerSec / 1e3)} KB/s`;
}

/** Durations as people read them. @param {number} sec */
export function duration(sec) {
  if (sec < 1) return "under a second";
  if (sec < 90) return `${Math.round(sec)} s`;
  if (sec < 5400) return `${Math.round(sec / 60)} min`;
  return `${(sec / 3600).toFixed(1)} h`;
}

/** "v3 by 1a2b3c4d" from a `{ seq, writer }` version. @param {{ seq: number, writer: string } | undefined} v */
export function versionText(v) {
  if (!v || typeof v.seq !== "number") return "—";
  return v.writer ? `v${v.seq} by ${v.writer.slice(0, 8)}` : `v${v.seq}`;
}

/** "1 value", "3 values". @param {number} n @param {string} word */
export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** @type {Record<string, string>} */
const PHASE_LABEL = { storing: "storing in this tab", sending: "sending", receiving: "receiving" };

/** Progress samples older than this do not count towards the speed. */
export const SPEED_WINDOW_MS = 3000;

/**
 * Bytes per second over `samples` (oldest first), or undefined until they span enough time to tell.
 * @param {{ t: number, done: number }[]} samples
 */
export function speed(samples) {
  const a = samples[0], b = samples[samples.length - 1];
  if (!a || !b || b.t - a.t < 400) return undefined;
  return ((b.done - a.done) * 1000) / (b.t - a.t);
}

/**
 * The line under a running transfer's bar: "Sending · 3.0 MB of 10.0 MB · 1.5 MB/s · about 5 s left".
 * @param {{ phase: string, done: number, total: number }} progress
 * @param {number | undefined} bytesPerSec
 */
export function progressLine(progress, bytesPerSec) {
  const { phase, done, total } = progress;
  const parts = [PHASE_LABEL[phase] ?? phase, `${size(done)} of ${size(total)}`];
  if (bytesPerSec !== undefined) {
    parts.push(rate(bytesPerSec));
    const left = (total - done) / bytesPerSec;
    if (bytesPerSec > 0 && done < total) parts.push(left < 1 ? "almost done" : `about ${duration(left)} left`);
  }
  const line = parts.join(" · ");
  return line[0].toUpperCase() + line.slice(1);
}

/** Elapsed time and mean speed of a finished transfer, e.g. " in 3 s (33.1 MB/s)". @param {number} sec @param {number} bytes */
export function took(sec, bytes) {
  return sec >= 1 && bytes > 0 ? ` in ${duration(sec)} (${rate(bytes / sec)})` : "";
}
