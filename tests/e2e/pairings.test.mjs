// The benchmarks' --pairings parsing and target check (lib/pairings.mjs; no browser needed).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kindOf, missedTargets, parsePairings } from './lib/pairings.mjs';

const TARGETS = [
  { key: 'join_ms', label: 'join, median', max: 500, unit: 'ms' },
  { key: 'ratio', label: 'get / raw', min: 0.7 },
];

describe('parsePairings', () => {
  it('reads KIND-KIND lists in order, and process i runs kinds[i mod 2]', () => {
    const p = parsePairings('chromium-chromium, firefox-firefox,firefox-chromium');
    assert.deepEqual(p.map((x) => x.name), ['chromium-chromium', 'firefox-firefox', 'firefox-chromium']);
    assert.deepEqual([0, 1, 2, 3].map((i) => kindOf(p[2], i)), ['firefox', 'chromium', 'firefox', 'chromium']);
  });

  it('rejects unknown kinds, wrong shapes, repeats and an empty list, naming the entry', () => {
    assert.throws(() => parsePairings('chromium-safari'), /"chromium-safari" is not a pairing/);
    assert.throws(() => parsePairings('firefox'), /"firefox" is not a pairing/);
    assert.throws(() => parsePairings('firefox-chromium-firefox'), /is not a pairing/);
    assert.throws(() => parsePairings('firefox-firefox,firefox-firefox'), /firefox-firefox is listed twice/);
    assert.throws(() => parsePairings(' , '), /expected e\.g\./);
  });
});

describe('missedTargets', () => {
  it('passes values on the limit and names every miss with its value and target', () => {
    assert.deepEqual(missedTargets('a-b', { join_ms: 500, ratio: 0.7 }, TARGETS), []);
    assert.deepEqual(missedTargets('a-b', { join_ms: 500.5, ratio: 0.69 }, TARGETS), [
      'a-b: join, median 500.5 ms, target ≤ 500 ms',
      'a-b: get / raw 0.69, target ≥ 0.7',
    ]);
  });

  it('counts a measurement that is missing or not a number as a miss', () => {
    assert.deepEqual(missedTargets('a-b', undefined, TARGETS), [
      'a-b: join, median not measured (target ≤ 500 ms)',
      'a-b: get / raw not measured (target ≥ 0.7)',
    ]);
    assert.equal(missedTargets('a-b', { join_ms: NaN, ratio: 1 }, TARGETS).length, 1);
  });
});
