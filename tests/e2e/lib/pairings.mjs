// Browser pairings for the benchmarks' `--pairings` option (issue 14): which browser each process
// of a measurement runs, and the targets every pairing is held to.
//
// A pairing is `KIND-KIND` (`chromium` or `firefox`): browser process i runs the kind at position
// i mod 2, so `firefox-chromium` puts process 0 in Firefox and process 1 in Chromium.

import { execFileSync } from 'node:child_process';

/** Browser kinds `launchBrowser({ kind })` starts. */
export const KINDS = Object.freeze(['chromium', 'firefox']);

/**
 * Parses a comma-separated list of pairings (`chromium-chromium,firefox-firefox,firefox-chromium`)
 * into `[{ name, kinds: [kind0, kind1] }]`. Throws with the offending entry on bad input.
 * @param {string} list
 * @returns {{ name: string, kinds: string[] }[]}
 */
export function parsePairings(list) {
  const names = String(list).split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new Error(`--pairings ${JSON.stringify(list)}: expected e.g. chromium-chromium,firefox-firefox,firefox-chromium`);
  const seen = new Set();
  return names.map((name) => {
    const kinds = name.split('-');
    if (kinds.length !== 2 || !kinds.every((k) => KINDS.includes(k))) {
      throw new Error(`--pairings: ${JSON.stringify(name)} is not a pairing; expected KIND-KIND with KIND one of ${KINDS.join(', ')}`);
    }
    if (seen.has(name)) throw new Error(`--pairings: ${name} is listed twice`);
    seen.add(name);
    return { name, kinds };
  });
}

/** The kind of browser process `i` in `pairing`. */
export const kindOf = (pairing, i) => pairing.kinds[i % pairing.kinds.length];

/**
 * @typedef {object} Target
 * @property {string} key    the summary field it judges
 * @property {string} label  what it is, for the messages
 * @property {number} [max]  met if value ≤ max
 * @property {number} [min]  met if value ≥ min
 * @property {string} [unit]
 */

/** `≤ 500 ms` / `≥ 0.7`: a target in words. */
export function targetText(t) {
  const unit = t.unit ? ` ${t.unit}` : '';
  return t.max !== undefined ? `≤ ${t.max}${unit}` : `≥ ${t.min}${unit}`;
}

/**
 * The verdict on each target: `{ what, target, value, ok }`, written into a benchmark's JSON as
 * `checks` (scripts/bench-report.mjs renders them, ✓ or ✗, into BENCHMARKS.md). A value that is
 * missing or not a number (the measurement failed) is not met.
 * @param {string} label  whose measure, e.g. the pairing or `8 tabs`
 * @param {Record<string, unknown>} summary
 * @param {Target[]} targets
 * @returns {{ what: string, target: string, value: string, ok: boolean }[]}
 */
export function judge(label, summary, targets) {
  return targets.map((t) => {
    const v = summary?.[t.key];
    const unit = t.unit ? ` ${t.unit}` : '';
    const measured = typeof v === 'number' && Number.isFinite(v);
    const ok = measured && !(t.max !== undefined && !(v <= t.max)) && !(t.min !== undefined && !(v >= t.min));
    return { what: `${label}: ${t.label}`, target: targetText(t), value: measured ? `${Number(v.toPrecision(4))}${unit}` : 'not measured', ok };
  });
}

/**
 * The targets `summary` misses, each as a sentence naming the pairing, the measure, the value
 * and the target.
 * @param {string} pairing
 * @param {Record<string, unknown>} summary
 * @param {Target[]} targets
 * @returns {string[]}
 */
export function missedTargets(pairing, summary, targets) {
  return judge(pairing, summary, targets)
    .filter((c) => !c.ok)
    .map((c) => (c.value === 'not measured' ? `${c.what} not measured (target ${c.target})` : `${c.what} ${c.value}, target ${c.target}`));
}

/** Prints `rows` (the first is the header) as aligned columns on stdout. */
export function printColumns(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  for (const r of rows) console.log(r.map((cell, c) => String(cell).padEnd(widths[c])).join('  ').trimEnd());
}

/**
 * Prints the verdict of a benchmark: every missed target on stdout, or that all were met.
 * Returns the exit code the benchmark should end with (1 if anything was missed).
 * @param {string[]} missed
 * @param {string} what  e.g. `ring bench`
 */
export function reportMissed(missed, what) {
  if (missed.length === 0) {
    console.log(`${what}: every target met`);
    return 0;
  }
  console.log(`${what}: ${missed.length} target${missed.length === 1 ? '' : 's'} missed:`);
  for (const m of missed) console.log(`  MISSED ${m}`);
  return 1;
}

/** The commit measured, `abc1234` (with `+` when the tree had changes), for a benchmark's JSON. */
export function measuredCommit() {
  const git = (...args) => execFileSync('git', args, { cwd: new URL('../../..', import.meta.url), encoding: 'utf8' }).trim();
  try {
    return git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no') ? '+' : '');
  } catch {
    return 'unknown';
  }
}
