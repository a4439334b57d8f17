// scripts/bench-report.mjs (no browser needed): the verdicts it writes into BENCHMARKS.md come from
// the benchmarks' own `checks`, a missing report or a missed target makes it exit 1, and the
// fuzzing totals are summed from the run log.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checksOf, fuzzTotals, REPORTS } from '../../scripts/bench-report.mjs';
import { judge } from './lib/pairings.mjs';

const SCRIPT = fileURLToPath(new URL('../../scripts/bench-report.mjs', import.meta.url));

/** Runs the script over `reports` (file → JSON) and a fuzz log; returns its exit code and the written markdown. */
function run(reports, fuzz) {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-report-'));
  for (const [file, json] of Object.entries(reports)) writeFileSync(path.join(dir, file), JSON.stringify(json));
  const md = path.join(dir, 'B.md');
  writeFileSync(md, 'before\n<!-- bench-report:begin -->\nold ✓\n<!-- bench-report:end -->\nafter ✓ by hand stays\n');
  writeFileSync(path.join(dir, 'runs.tsv'), fuzz);
  let code = 0;
  try {
    execFileSync('node', [SCRIPT, '--out', dir, '--md', md, '--fuzz', path.join(dir, 'runs.tsv')], { encoding: 'utf8' });
  } catch (e) {
    code = e.status;
  }
  return { code, md: readFileSync(md, 'utf8') };
}

const met = (what) => ({ what, target: '≤ 1', value: '0', ok: true });
const allMet = () => Object.fromEntries(REPORTS.map(([file]) => [file, { date: '2026-12-07T06:00:00Z', checks: [met(file)] }]));
const fuzzOk = ['2026-12-07T06:00:00Z\twire_decode\t60\t6000000\t10\t0', '2026-12-07T07:00:00Z\twire_decode\t60\t4000000\t12\t0', ''].join('\n');

describe('bench report', () => {
  it('judge: met, missed and unmeasured targets', () => {
    const t = [{ key: 'a', label: 'A', max: 5, unit: 'ms' }, { key: 'b', label: 'B', min: 0.7 }, { key: 'c', label: 'C', max: 1 }];
    assert.deepEqual(judge('x', { a: 5, b: 0.69 }, t).map((c) => [c.what, c.value, c.target, c.ok]), [
      ['x: A', '5 ms', '≤ 5 ms', true],
      ['x: B', '0.69', '≥ 0.7', false],
      ['x: C', 'not measured', '≤ 1', false],
    ]);
  });

  it('flattens the checks of pairings; a pairing without checks (it failed) is a miss', () => {
    const c = checksOf({ checks: [met('top')], pairings: { a: { checks: [met('a')] }, b: { kinds: ['firefox', 'chromium'], error: 'boom\nstack' } } });
    assert.deepEqual(c.map((x) => [x.what, x.ok]), [['top', true], ['a', true], ['firefox-chromium: measured', false]]);
  });

  it('sums the fuzz log per target', () => {
    const t = fuzzTotals(`${fuzzOk}2026-12-07T08:00:00Z\tsim_ring\t60\t900\t3\t1\nnot a line\n`);
    assert.deepEqual(t.get('wire_decode'), { runs: 2, seconds: 120, execs: 10_000_000, findings: 0, first: '2026-12-07T06:00:00Z', last: '2026-12-07T07:00:00Z' });
    assert.equal(t.get('sim_ring').findings, 1);
  });

  it('writes ✓ only inside its section, and exits 0 when everything is met', () => {
    const { code, md } = run(allMet(), fuzzOk);
    assert.equal(code, 0, md);
    assert.ok(md.startsWith('before\n<!-- bench-report:begin -->'));
    assert.ok(md.endsWith('<!-- bench-report:end -->\nafter ✓ by hand stays\n'));
    assert.ok(!md.includes('old ✓'));
    assert.equal(md.match(/\| ✓ \|/g).length, REPORTS.length + 1);
    assert.ok(!md.includes('✗'));
  });

  it('exits 1 and writes ✗ for a missed target, a missing report and too few fuzz executions', () => {
    const reports = allMet();
    reports['files.json'].checks.push({ what: '2 tabs: get / raw', target: '≥ 0.7', value: '0.64', ok: false });
    delete reports['heal.json'];
    const { code, md } = run(reports, '2026-12-07T06:00:00Z\twire_decode\t60\t6000000\t10\t0\n');
    assert.equal(code, 1);
    assert.match(md, /\| 2 tabs: get \/ raw \| ≥ 0\.7 \| 0\.64 \| ✗ \|/);
    assert.match(md, /✗ no report: .*heal\.json/);
    assert.match(md, /\| wire_decode \| 1 \| 6,000,000 \| 0 \|.*\| ✗ \|/);
  });
});
