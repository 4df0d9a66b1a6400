// Reads the MCP conformance suite's `-o` folders and compares a run against a server directly with a run
// through mcpscope, check by check, or a bridged run with its floor (bridge-floor.json). Pure functions over
// files; run.mjs does the processes.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** `server-<scenario>-<ISO timestamp with - for :>`: one folder per scenario, holding checks.json. */
const SCENARIO_DIR = /^server-(.+)-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z)$/;

export const SUCCESS = 'SUCCESS';
/** Status of a check that a direct run has and the other run lacks (scenario crashed or was not run). */
export const MISSING = 'MISSING';

/**
 * Checks of one `-o` folder: Map scenario → Map checkKey → { status, name, errorMessage }.
 * A check id can repeat within a scenario (server-stateless runs one check per malformed envelope); its key
 * is then `id (name)`, and `id (name) #n` (n from 1, in file order) where the name repeats too.
 */
export function readChecks(dir) {
  const scenarios = new Map();
  if (!existsSync(dir)) return scenarios;
  const runs = readdirSync(dir)
    .map((entry) => ({ entry, m: SCENARIO_DIR.exec(entry) }))
    .filter(({ m }) => m)
    .sort((a, b) => a.m[2].localeCompare(b.m[2]));
  // In the suite's order; a scenario run twice keeps its last run. A scenario that crashed has no checks.json.
  for (const { entry, m } of runs) {
    const file = path.join(dir, entry, 'checks.json');
    if (existsSync(file)) scenarios.set(m[1], keyChecks(JSON.parse(readFileSync(file, 'utf8'))));
  }
  return scenarios;
}

export function keyChecks(list) {
  const byId = countBy(list, (c) => c.id);
  const byIdName = countBy(list, (c) => `${c.id} (${c.name})`);
  const seen = new Map();
  const checks = new Map();
  for (const c of list) {
    let key = c.id;
    if (byId.get(c.id) > 1) {
      key = `${c.id} (${c.name})`;
      if (byIdName.get(key) > 1) {
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        key = `${key} #${n}`;
      }
    }
    checks.set(key, { status: c.status, name: c.name, errorMessage: c.errorMessage });
  }
  return checks;
}

function countBy(list, keyOf) {
  const counts = new Map();
  for (const item of list) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
  return counts;
}

/** SUCCESS and FAILURE counts of one scenario's checks (the suite's own tally; WARNING etc. not counted). */
export function tally(checks) {
  let success = 0;
  let failure = 0;
  for (const c of checks?.values() ?? []) {
    if (c.status === SUCCESS) success++;
    else if (c.status === 'FAILURE') failure++;
  }
  return { success, failure };
}

/**
 * Compare a direct run with a run through mcpscope. Every check that is SUCCESS directly is compared;
 * a regression is one that is anything else through mcpscope (or missing there).
 */
export function compareRuns(direct, through) {
  const scenarios = [];
  const regressions = [];
  let compared = 0;
  for (const name of new Set([...direct.keys(), ...through.keys()])) {
    const d = direct.get(name);
    const t = through.get(name);
    const row = { scenario: name, direct: tally(d), through: tally(t), regressions: 0 };
    for (const [check, dc] of d ?? []) {
      if (dc.status !== SUCCESS) continue;
      compared++;
      const tc = t?.get(check);
      if (tc?.status === SUCCESS) continue;
      row.regressions++;
      regressions.push({
        scenario: name,
        check,
        through: tc?.status ?? MISSING,
        ...(tc?.errorMessage ? { errorMessage: tc.errorMessage } : {}),
      });
    }
    scenarios.push(row);
  }
  return { compared, scenarios, regressions };
}

const gapKey = (g) => `${g.comparison}\u0000${g.scenario}\u0000${g.check}`;

/** Validate known-gaps.json: an array of { comparison, scenario, check, reason }, no duplicates. */
export function parseKnownGaps(text, file = 'known-gaps.json') {
  let gaps;
  try {
    gaps = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not JSON (${err.message})`);
  }
  if (!Array.isArray(gaps))
    throw new Error(`${file} must be an array of {comparison, scenario, check, reason}`);
  const seen = new Set();
  gaps.forEach((g, i) => {
    for (const field of ['comparison', 'scenario', 'check', 'reason']) {
      if (typeof g?.[field] !== 'string' || g[field] === '') {
        throw new Error(`${file}[${i}] needs a non-empty string "${field}"`);
      }
    }
    if (seen.has(gapKey(g)))
      throw new Error(`${file}[${i}] repeats ${g.comparison} ${g.scenario} ${g.check}`);
    seen.add(gapKey(g));
  });
  return gaps;
}

/**
 * Sort this run's regressions against the known gaps.
 * - known: regressions the list names (allowed when the list is in use);
 * - unexpected: regressions it does not name;
 * - fixed: listed checks that are SUCCESS both directly and through mcpscope now: remove them from the list;
 * - unevaluated: listed checks that were not SUCCESS directly this time (or whose comparison did not run),
 *   so nothing can be said about them.
 * `results` maps comparison name → { direct, through } check maps (readChecks) and its regressions.
 */
export function applyKnownGaps(results, gaps) {
  const listed = new Map(gaps.map((g) => [gapKey(g), g]));
  const known = [];
  const unexpected = [];
  for (const [comparison, r] of results) {
    for (const reg of r.regressions) {
      const gap = listed.get(gapKey({ comparison, ...reg }));
      if (gap) known.push({ comparison, ...reg, reason: gap.reason });
      else unexpected.push({ comparison, ...reg });
    }
  }
  const fixed = [];
  const unevaluated = [];
  for (const g of gaps) {
    const r = results.get(g.comparison);
    const directStatus = r?.direct.get(g.scenario)?.get(g.check)?.status;
    if (directStatus !== SUCCESS) unevaluated.push(g);
    else if (r.through.get(g.scenario)?.get(g.check)?.status === SUCCESS) fixed.push(g);
  }
  return { known, unexpected, fixed, unevaluated };
}

/**
 * The checks of a run that are SUCCESS, as the bridge floor lists them: { scenario: [check key, …] }, scenarios
 * and keys sorted (a stable file whatever order the suite ran in).
 */
export function passingChecks(run) {
  const out = {};
  for (const scenario of [...run.keys()].sort()) {
    const keys = [...run.get(scenario)]
      .filter(([, c]) => c.status === SUCCESS)
      .map(([key]) => key)
      .sort();
    if (keys.length) out[scenario] = keys;
  }
  return out;
}

/** A run's score: SUCCESS checks of SUCCESS and FAILURE ones (the suite's own tally, summed). */
export function score(run) {
  let passed = 0;
  let scored = 0;
  for (const checks of run.values()) {
    const t = tally(checks);
    passed += t.success;
    scored += t.success + t.failure;
  }
  return { passed, scored };
}

/** The floor entry of one bridged comparison, from a run. */
export function floorEntry(requirements, run) {
  const { passed, scored } = score(run);
  return { requirements, passed, scored, checks: passingChecks(run) };
}

/**
 * The floor raised by a run: its checks and the run's passing ones (a floor check failing now stays: the
 * floor never drops a check by itself). `scored` is the run's.
 */
export function raiseFloor(entry, requirements, run) {
  const now = floorEntry(requirements, run);
  const checks = {};
  for (const scenario of [
    ...new Set([...Object.keys(entry?.checks ?? {}), ...Object.keys(now.checks)]),
  ].sort()) {
    checks[scenario] = [
      ...new Set([...(entry?.checks[scenario] ?? []), ...(now.checks[scenario] ?? [])]),
    ].sort();
  }
  const passed = Object.values(checks).reduce((n, keys) => n + keys.length, 0);
  return { requirements, passed, scored: now.scored, checks };
}

/**
 * Validate bridge-floor.json: an object, comparison name → { requirements, passed, scored, checks }, where
 * checks maps scenario → distinct check keys and passed is how many there are.
 */
export function parseBridgeFloor(text, file = 'bridge-floor.json') {
  let floor;
  try {
    floor = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not JSON (${err.message})`);
  }
  if (floor === null || typeof floor !== 'object' || Array.isArray(floor)) {
    throw new Error(`${file} must be an object: comparison → {requirements, passed, scored, checks}`);
  }
  for (const [name, entry] of Object.entries(floor)) {
    const where = `${file} "${name}"`;
    if (typeof entry?.requirements !== 'string' || entry.requirements === '')
      throw new Error(`${where} needs a non-empty string "requirements"`);
    for (const field of ['passed', 'scored']) {
      if (!Number.isInteger(entry[field]) || entry[field] < 0)
        throw new Error(`${where} needs a whole number "${field}"`);
    }
    const checks = entry.checks;
    if (checks === null || typeof checks !== 'object' || Array.isArray(checks))
      throw new Error(`${where} needs "checks": scenario → [check, …]`);
    let count = 0;
    for (const [scenario, keys] of Object.entries(checks)) {
      if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string' || k === ''))
        throw new Error(`${where} checks "${scenario}" must be an array of check names`);
      if (new Set(keys).size !== keys.length)
        throw new Error(`${where} checks "${scenario}" repeats a check`);
      count += keys.length;
    }
    if (count !== entry.passed)
      throw new Error(`${where} says passed ${entry.passed} but lists ${count} checks`);
  }
  return floor;
}

/**
 * A bridged run against its floor entry: below (a floor check that is not SUCCESS now, or missing: a
 * regression) and above (a check SUCCESS now that the floor does not list: the floor may rise).
 */
export function compareFloor(entry, run) {
  const below = [];
  const above = [];
  const listed = new Set();
  for (const [scenario, keys] of Object.entries(entry?.checks ?? {})) {
    for (const check of keys) {
      listed.add(`${scenario}\u0000${check}`);
      const now = run.get(scenario)?.get(check);
      if (now?.status === SUCCESS) continue;
      below.push({
        scenario,
        check,
        status: now?.status ?? MISSING,
        ...(now?.errorMessage ? { errorMessage: now.errorMessage } : {}),
      });
    }
  }
  for (const [scenario, checks] of run) {
    for (const [check, c] of checks) {
      if (c.status === SUCCESS && !listed.has(`${scenario}\u0000${check}`)) above.push({ scenario, check });
    }
  }
  return { below, above };
}
