// The conformance runner's comparison, known-gaps and bridge-floor bookkeeping (test/conformance/compare.mjs):
// a bug here would let a regression through mcpscope pass CI silently.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  applyKnownGaps,
  compareFloor,
  compareRuns,
  floorEntry,
  keyChecks,
  parseBridgeFloor,
  parseKnownGaps,
  passingChecks,
  raiseFloor,
  readChecks,
  score,
  type RunChecks,
  type SuiteCheck,
} from '../conformance/compare.mjs';

const check = (id: string, status: string, name = id): SuiteCheck => ({ id, name, status });

function run(scenarios: Record<string, SuiteCheck[]>): RunChecks {
  return new Map(Object.entries(scenarios).map(([name, list]) => [name, keyChecks(list)]));
}

describe('keyChecks', () => {
  it('keys a check by id, by id and name where the id repeats, and numbers repeats of both', () => {
    const keys = [
      ...keyChecks([
        check('a', 'SUCCESS'),
        check('b', 'SUCCESS', 'Lower'),
        check('b', 'FAILURE', 'Upper'),
        check('c', 'SUCCESS', 'Same'),
        check('c', 'FAILURE', 'Same'),
      ]).keys(),
    ];
    expect(keys).toEqual(['a', 'b (Lower)', 'b (Upper)', 'c (Same) #1', 'c (Same) #2']);
  });
});

describe('readChecks', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('reads one folder per scenario in run order, the last run of a repeated scenario winning', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'conformance-'));
    const write = (folder: string, checks: SuiteCheck[] | null) => {
      mkdirSync(path.join(dir!, folder));
      if (checks) writeFileSync(path.join(dir!, folder, 'checks.json'), JSON.stringify(checks));
    };
    write('server-tools-list-2026-12-03T10-08-37-200Z', [check('tools-list', 'SUCCESS')]);
    write('server-server-stateless-2026-12-03T10-08-35-355Z', [check('x', 'FAILURE')]);
    write('server-server-stateless-2026-12-03T10-08-36-000Z', [check('x', 'SUCCESS')]);
    write('server-crashed-2026-12-03T10-08-38-000Z', null);
    const checks = readChecks(dir);
    expect([...checks.keys()]).toEqual(['server-stateless', 'tools-list']);
    expect(checks.get('server-stateless')?.get('x')?.status).toBe('SUCCESS');
  });
});

describe('compareRuns', () => {
  it('compares only what succeeds directly; anything else through mcpscope, or nothing, regresses', () => {
    const direct = run({
      s1: [check('ok', 'SUCCESS'), check('warned', 'SUCCESS'), check('bad', 'FAILURE')],
      s2: [check('gone', 'SUCCESS')],
    });
    const through = run({
      s1: [check('ok', 'SUCCESS'), check('warned', 'WARNING'), check('bad', 'SUCCESS')],
    });
    const r = compareRuns(direct, through);
    expect(r.compared).toBe(3);
    expect(r.regressions).toEqual([
      { scenario: 's1', check: 'warned', through: 'WARNING' },
      { scenario: 's2', check: 'gone', through: 'MISSING' },
    ]);
    expect(r.scenarios).toEqual([
      {
        scenario: 's1',
        direct: { success: 2, failure: 1 },
        through: { success: 2, failure: 0 },
        regressions: 1,
      },
      {
        scenario: 's2',
        direct: { success: 1, failure: 0 },
        through: { success: 0, failure: 0 },
        regressions: 1,
      },
    ]);
  });
});

describe('known gaps', () => {
  const direct = run({
    s: [check('a', 'SUCCESS'), check('b', 'SUCCESS'), check('c', 'SUCCESS'), check('d', 'FAILURE')],
  });
  const through = run({
    s: [check('a', 'FAILURE'), check('b', 'FAILURE'), check('c', 'SUCCESS'), check('d', 'FAILURE')],
  });
  const results = new Map([['ref 2026-07-28', { ...compareRuns(direct, through), direct, through }]]);
  const gap = (c: string, comparison = 'ref 2026-07-28') => ({
    comparison,
    scenario: 's',
    check: c,
    reason: 'wip',
  });

  it('allows listed regressions, reports unlisted ones, and reports listed checks that pass again as fixed', () => {
    const sorted = applyKnownGaps(results, [gap('a'), gap('c'), gap('d'), gap('a', 'other 2025-11-25')]);
    expect(sorted.known.map((r) => r.check)).toEqual(['a']);
    expect(sorted.unexpected.map((r) => r.check)).toEqual(['b']);
    expect(sorted.fixed.map((g) => g.check)).toEqual(['c']);
    // d fails directly too, and "other" did not run: nothing to say about either.
    expect(sorted.unevaluated.map((g) => `${g.comparison} ${g.check}`)).toEqual([
      'ref 2026-07-28 d',
      'other 2025-11-25 a',
    ]);
  });

  it('rejects a list that is not an array of complete, distinct entries', () => {
    expect(parseKnownGaps('[]')).toEqual([]);
    expect(() => parseKnownGaps('{')).toThrow(/not JSON/);
    expect(() => parseKnownGaps('{}')).toThrow(/array/);
    expect(() => parseKnownGaps(JSON.stringify([{ ...gap('a'), reason: '' }]))).toThrow(/reason/);
    expect(() => parseKnownGaps(JSON.stringify([gap('a'), gap('a')]))).toThrow(/repeats/);
  });
});

describe('bridge floor', () => {
  const bridged = run({
    s2: [check('b', 'SUCCESS'), check('a', 'SUCCESS'), check('w', 'WARNING'), check('f', 'FAILURE')],
    s1: [check('x', 'SUCCESS'), check('y', 'INFO')],
    s3: [check('z', 'FAILURE')],
  });

  it('lists the passing checks sorted, scenarios without one left out, and scores SUCCESS of SUCCESS+FAILURE', () => {
    expect(passingChecks(bridged)).toEqual({ s1: ['x'], s2: ['a', 'b'] });
    expect(score(bridged)).toEqual({ passed: 3, scored: 5 });
    expect(floorEntry('2026-07-28', bridged)).toEqual({
      requirements: '2026-07-28',
      passed: 3,
      scored: 5,
      checks: { s1: ['x'], s2: ['a', 'b'] },
    });
  });

  it('finds floor checks that no longer pass (or are gone) and passing checks above the floor', () => {
    const floor = {
      requirements: '2026-07-28',
      passed: 4,
      scored: 6,
      checks: { s1: ['x'], s2: ['a', 'w'], gone: ['g'] },
    };
    const { below, above } = compareFloor(floor, bridged);
    expect(below).toEqual([
      { scenario: 's2', check: 'w', status: 'WARNING' },
      { scenario: 'gone', check: 'g', status: 'MISSING' },
    ]);
    expect(above).toEqual([{ scenario: 's2', check: 'b' }]);
    // No floor yet: nothing below, everything passing is above.
    expect(compareFloor(undefined, bridged)).toEqual({
      below: [],
      above: [
        { scenario: 's2', check: 'b' },
        { scenario: 's2', check: 'a' },
        { scenario: 's1', check: 'x' },
      ],
    });
  });

  it('raises a floor by the passing checks of a run and never drops one that fails now', () => {
    const floor = { requirements: '2026-07-28', passed: 2, scored: 9, checks: { s2: ['f'], old: ['o'] } };
    expect(raiseFloor(floor, '2026-07-28', bridged)).toEqual({
      requirements: '2026-07-28',
      passed: 5,
      scored: 5,
      checks: { old: ['o'], s1: ['x'], s2: ['a', 'b', 'f'] },
    });
    expect(raiseFloor(undefined, '2026-07-28', bridged)).toEqual(floorEntry('2026-07-28', bridged));
  });

  it('rejects a floor file whose entries are incomplete or whose count disagrees with its list', () => {
    const entry = { requirements: '2025-11-25', passed: 2, scored: 3, checks: { s: ['a', 'b'] } };
    expect(parseBridgeFloor(JSON.stringify({ b: entry }))).toEqual({ b: entry });
    expect(() => parseBridgeFloor('[]')).toThrow(/object/);
    expect(() => parseBridgeFloor(JSON.stringify({ b: { ...entry, requirements: '' } }))).toThrow(
      /requirements/,
    );
    expect(() => parseBridgeFloor(JSON.stringify({ b: { ...entry, scored: -1 } }))).toThrow(/scored/);
    expect(() => parseBridgeFloor(JSON.stringify({ b: { ...entry, passed: 3 } }))).toThrow(/lists 2/);
    expect(() => parseBridgeFloor(JSON.stringify({ b: { ...entry, checks: { s: ['a', 'a'] } } }))).toThrow(
      /repeats/,
    );
    expect(() => parseBridgeFloor(JSON.stringify({ b: { ...entry, checks: [] } }))).toThrow(/checks/);
  });
});
