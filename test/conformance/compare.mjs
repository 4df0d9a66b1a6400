// Reads the MCP conformance suite's `-o` folders and compares a run against a server directly with a run
// through mcpscope, check by check. Pure functions over files; run.mjs does the processes.
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
