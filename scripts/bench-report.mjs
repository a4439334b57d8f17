#!/usr/bin/env node
// Writes the verdicts of the last benchmark run into BENCHMARKS.md, between the lines
// `<!-- bench-report:begin -->` and `<!-- bench-report:end -->`: every ✓ and ✗ there comes from
// here, never from a hand edit. The last step of `make bench`.
//
//   node scripts/bench-report.mjs [--out out/bench] [--md BENCHMARKS.md] [--fuzz fuzz/runs.tsv]
//
// Each benchmark judges itself and writes its verdicts into its JSON report as
// `checks: [{ what, target, value, ok }]` (per pairing under `pairings.NAME.checks` for the
// pairing runs): scripts/bench.sh (out/sim-checks.json), tests/e2e/bench/ring-bench.mjs,
// file-bench.mjs, heal-bench.mjs, native-bench.mjs and tests/netlab/bench.mjs. A report that `make bench` should
// have written and did not is a miss. The fuzzing totals are summed from fuzz/runs.tsv (committed;
// scripts/fuzz.sh appends a line per run), held to ≥ 10⁷ executions per target.
//
// Exits 1 naming every miss (and still writes the section).

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    out: { type: 'string', default: 'out/bench' },
    md: { type: 'string', default: 'BENCHMARKS.md' },
    fuzz: { type: 'string', default: 'fuzz/runs.tsv' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'));
  process.exit(0);
}

/** The reports `make bench` writes, in the order shown, with the command that makes each. */
export const REPORTS = [
  ['sim-checks.json', 'make bench-sim', 'Simulator'],
  ['browser.json', 'make bench-browser', 'Browser ring, 8 tabs / 2 processes'],
  ['browser-16.json', 'make bench-browser', 'Browser ring, 16 tabs / 4 processes'],
  ['files.json', 'make bench-files', 'Files, 2 tabs (16 MiB get vs raw; 100 MiB round trips)'],
  ['heal.json', 'make bench-heal', 'Partition heal'],
  ['netlab.json', 'make bench-netlab', 'NAT lab, every cross-host link through TURN'],
  ['browsers.json', 'make bench-browsers', 'Browser pairings: ring'],
  ['files-browsers.json', 'make bench-browsers', 'Browser pairings: files'],
  ['native.json', 'make bench-native', 'Native node among tabs (chord-node)'],
];
const FUZZ_TARGET = 1e7;
const BEGIN = '<!-- bench-report:begin -->';
const END = '<!-- bench-report:end -->';

/** The checks of one report, flattened over its pairings. */
export function checksOf(report) {
  const own = Array.isArray(report.checks) ? report.checks : [];
  const pairings = Object.values(report.pairings ?? {}).flatMap((p) =>
    Array.isArray(p.checks) ? p.checks : [{ what: `${p.kinds?.join('-') ?? 'a pairing'}: measured`, target: 'works', value: String(p.error ?? 'no result').split('\n')[0], ok: false }],
  );
  return [...own, ...pairings];
}

/** Fuzzing totals per target from the lines of runs.tsv (date, target, seconds, execs, corpus, new findings). */
export function fuzzTotals(tsv) {
  const totals = new Map();
  for (const line of tsv.split('\n')) {
    const [date, target, seconds, execs, , found] = line.split('\t');
    if (!target || !/^\d+$/.test(execs ?? '')) continue;
    const t = totals.get(target) ?? { runs: 0, seconds: 0, execs: 0, findings: 0, first: date, last: date };
    t.runs += 1;
    t.seconds += Number(seconds) || 0;
    t.execs += Number(execs);
    t.findings += Number(found) || 0;
    t.last = date;
    totals.set(target, t);
  }
  return totals;
}

const cell = (s) => String(s).replaceAll('|', '\\|').replaceAll('\n', ' ');
const mark = (ok) => (ok ? '✓' : '✗');

function main() {
  const commit = (() => {
    try {
      const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
      // The file this script writes does not count as a change.
      const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', `:(exclude)${opt.md}`], { cwd: ROOT, encoding: 'utf8' }).trim();
      return dirty ? `${rev} + uncommitted changes` : rev;
    } catch {
      return 'unknown';
    }
  })();
  const lines = [BEGIN, '', `Written by \`node scripts/bench-report.mjs\` (the last step of \`make bench\`) from the JSON reports in \`${opt.out}/\` (rendered at ${commit}; each report names when and at which commit it was measured); do not edit by hand.`, ''];
  const missed = [];
  for (const [file, command, title] of REPORTS) {
    const f = path.resolve(ROOT, opt.out, file);
    if (!existsSync(f)) {
      lines.push(`### ${title} (\`${command}\`)`, '', `✗ no report: \`${opt.out}/${file}\` was not written (the benchmark did not run or failed before it wrote it).`, '');
      missed.push(`${title}: no report ${file}`);
      continue;
    }
    let report;
    try {
      report = JSON.parse(readFileSync(f, 'utf8'));
    } catch (e) {
      report = { checks: [{ what: `${file} readable`, target: 'JSON', value: String(e.message), ok: false }] };
    }
    const checks = checksOf(report);
    if (checks.length === 0) checks.push({ what: `${file}: checks`, target: 'at least one', value: 'none in the report', ok: false });
    const when = report.date ? `${String(report.date).slice(0, 16).replace('T', ' ')} UTC` : 'undated';
    lines.push(`### ${title} (\`${command}\`, ${when}, at ${report.commit ?? 'an unrecorded commit'})`, '');
    lines.push('| check | target | measured | |', '|---|---|---|---|');
    for (const c of checks) {
      lines.push(`| ${cell(c.what)} | ${cell(c.target ?? '')} | ${cell(c.value)} | ${mark(c.ok)} |`);
      if (!c.ok) missed.push(`${title}: ${c.what}: ${c.value}${c.target ? `, target ${c.target}` : ''}`);
    }
    lines.push('');
  }
  const fuzzFile = path.resolve(ROOT, opt.fuzz);
  const totals = fuzzTotals(existsSync(fuzzFile) ? readFileSync(fuzzFile, 'utf8') : '');
  lines.push(`### Fuzzing (\`scripts/fuzz.sh\`; totals of every run in \`${opt.fuzz}\`)`, '');
  if (totals.size === 0) {
    lines.push(`✗ no run in \`${opt.fuzz}\`.`, '');
    missed.push(`fuzzing: no run in ${opt.fuzz}`);
  } else {
    lines.push('| target | runs | executions | findings | first run … last run | target | |', '|---|---|---|---|---|---|---|');
    for (const [target, t] of [...totals].sort()) {
      const ok = t.execs >= FUZZ_TARGET && t.findings === 0;
      lines.push(`| ${target} | ${t.runs} | ${t.execs.toLocaleString('en')} | ${t.findings} | ${t.first} … ${t.last} | ≥ 10⁷ executions, 0 findings | ${mark(ok)} |`);
      if (!ok) missed.push(`fuzzing ${target}: ${t.execs.toLocaleString('en')} executions, ${t.findings} findings, target ≥ 10⁷ and 0`);
    }
    lines.push('');
  }
  lines.push(END);
  const mdFile = path.resolve(ROOT, opt.md);
  const md = readFileSync(mdFile, 'utf8');
  const a = md.indexOf(BEGIN);
  const b = md.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${opt.md} has no ${BEGIN} … ${END} section to write into`);
  writeFileSync(mdFile, md.slice(0, a) + lines.join('\n') + md.slice(b + END.length));
  console.log(`bench report: wrote ${opt.md} (${missed.length} missed)`);
  for (const m of missed) console.log(`  MISSED ${m}`);
  return missed.length ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main();
