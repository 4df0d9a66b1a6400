#!/usr/bin/env node
// Runs the official MCP conformance suite against servers directly and through mcpscope, and fails on every
// check that passes directly but not through mcpscope, or that passed through --bridge auto before.
//
//   node test/conformance/run.mjs [--known-gaps] [--only NAME]... [--out DIR] [--summary FILE] [--verbose]
//                                 [--skip-gate-checks]
//   node test/conformance/run.mjs --write-known-gaps [--reason TEXT]
//   node test/conformance/run.mjs --write-bridge-floor [--only bridge-to-legacy]...
//
// Comparisons (each for --requirements 2026-07-28 and 2025-11-25):
//   reference  the suite's reference server, directly vs `forward http --upstream <it>`
//   v2-stdio   test/fixtures/servers/v2Server.mjs: its own HTTP mode directly (the baseline) vs
//              `forward http -- node v2Server.mjs stdio`
//
// Bridged comparisons: one era's requirements through `forward http --bridge auto --upstream <gate>`, where the
// gate (eraGate.mjs) makes the reference server (which serves both eras) look like a server of the other era:
//   bridge-to-legacy  --requirements 2026-07-28, gate --only legacy (a 2026-07-28 client, a 2025-only server)
//   bridge-to-modern  --requirements 2025-11-25, gate --only modern (a 2025 client, a 2026-07-28-only server)
// No server passes these requirements directly to compare with, so each is held to a committed floor,
// bridge-floor.json: the checks that passed (and how many); one of them not passing now fails the run, and
// checks passing beyond it are reported. --write-bridge-floor adds this run's passes to the floor and never
// drops a check (lower it by hand, saying why in the commit). The run fails too when mcpscope translated
// nothing in the expected direction (the gate let the other era through). Gate checks (--skip-gate-checks
// skips them): each gate, reached directly, must pass what the reference server passes directly for the
// gate's own era, and its pass count for the other era's requirements is shown (it should be near nothing).
// The bridged sessions are recorded as tapes under <out>/bridge-to-*/tapes.
//
// The suite lives in ../shared/conformance beside the repository (as in CI), or $MCP_CONFORMANCE_DIR.
// --known-gaps (or MCP_CONFORMANCE_KNOWN_GAPS=1) allows the regressions listed in known-gaps.json; a listed
// check that passes through mcpscope again fails the run until it is removed, so the list only shrinks.
// --write-known-gaps rewrites that list from this run's regressions (keeping the reasons already there).
//
// The suite's own output goes to log files under the output folder, never to stdout: its
// "Total: N passed, M failed" lines would be read as this run's test summary.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  applyKnownGaps,
  compareFloor,
  compareRuns,
  parseBridgeFloor,
  parseKnownGaps,
  raiseFloor,
  readChecks,
  score,
  SUCCESS,
} from './compare.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const CLI = path.join(ROOT, 'dist/cli/main.js');
const V2_SERVER = path.join(ROOT, 'test/fixtures/servers/v2Server.mjs');
const KNOWN_GAPS_FILE = path.join(HERE, 'known-gaps.json');
const BRIDGE_FLOOR_FILE = path.join(HERE, 'bridge-floor.json');
const ERA_GATE = path.join(HERE, 'eraGate.mjs');
const REQUIREMENTS = ['2026-07-28', '2025-11-25'];
const DEFAULT_REASON = '2026-07-28 support in progress';

/** First use installs the suite and Node 22 (npm), so the first start may take a minute. */
const FIRST_USE_TIMEOUT_MS = 300_000;
/** A server that does not print its URL within this is broken. */
const START_TIMEOUT_MS = 30_000;
/** One full suite run takes seconds; minutes only when a request waits out mcpscope's 60 s request timeout. */
const SUITE_TIMEOUT_MS = 300_000;
/** SIGTERM to SIGKILL for the servers this script started. */
const STOP_GRACE_MS = 5_000;
/** Longest error message shown per regression. */
const MESSAGE_CHARS = 160;

const { values: opts } = parseArgs({
  options: {
    'known-gaps': { type: 'boolean', default: process.env.MCP_CONFORMANCE_KNOWN_GAPS === '1' },
    'write-known-gaps': { type: 'boolean', default: false },
    'write-bridge-floor': { type: 'boolean', default: false },
    'skip-gate-checks': { type: 'boolean', default: false },
    reason: { type: 'string', default: DEFAULT_REASON },
    only: { type: 'string', multiple: true },
    out: {
      type: 'string',
      default: process.env.MCP_CONFORMANCE_OUT ?? path.join(tmpdir(), 'mcpscope-conformance'),
    },
    summary: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});

const suiteDir = path.resolve(process.env.MCP_CONFORMANCE_DIR ?? path.resolve(ROOT, '../shared/conformance'));
const outDir = path.resolve(opts.out);
const summaryFile = path.resolve(opts.summary ?? path.join(outDir, 'summary.json'));

/** Every process group this script started, for cleanup on any exit. */
const running = new Set();
process.on('exit', () => {
  for (const proc of running) killGroup(proc, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));

function log(line = '') {
  process.stdout.write(`${line}\n`);
}

function fail(message) {
  process.stderr.write(`conformance: ${message}\n`);
  process.exit(1);
}

function killGroup(proc, signal) {
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // already gone
  }
}

/** Start a process in its own group, its output to `logFile`; resolves with the first match of `ready`. */
async function startServer(label, command, args, { ready, stream, logFile, timeoutMs = START_TIMEOUT_MS }) {
  writeFileSync(logFile, '');
  const fd = openSync(logFile, 'a');
  const proc = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', stream === 'stdout' ? 'pipe' : fd, stream === 'stderr' ? 'pipe' : fd],
  });
  closeSync(fd);
  running.add(proc);
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal)));
  exited.then(() => running.delete(proc));
  const watched = proc[stream];
  let seen = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${label} printed no URL within ${timeoutMs} ms`)),
      timeoutMs,
    );
    watched.on('data', (chunk) => {
      seen += chunk.toString();
      writeFileSync(logFile, chunk, { flag: 'a' });
      const m = ready.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${how}) before it listened; see ${logFile}`));
    });
  }).catch((err) => {
    killGroup(proc, 'SIGKILL');
    fail(err.message);
  });
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    killGroup(proc, 'SIGTERM');
    const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
  return { url, stop, output: () => seen };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Run the suite's CLI with its output in `logFile`; resolves with its exit code. */
function runSuite(args, logFile, timeoutMs = SUITE_TIMEOUT_MS) {
  const fd = openSync(logFile, 'w');
  const proc = spawn('bash', [path.join(suiteDir, 'run.sh'), ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  running.add(proc);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      writeFileSync(logFile, `\n[run.mjs] killed after ${timeoutMs} ms\n`, { flag: 'a' });
      killGroup(proc, 'SIGKILL');
    }, timeoutMs);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      running.delete(proc);
      resolve(code ?? signal);
    });
  });
}

const startReference = async (dir) => {
  const port = await freePort();
  const { stop } = await startServer(
    'reference server',
    'bash',
    [path.join(suiteDir, 'reference-server.sh'), String(port)],
    {
      ready: /running on (http:\/\/\S+)/,
      stream: 'stdout',
      logFile: path.join(dir, 'reference-server.log'),
      timeoutMs: FIRST_USE_TIMEOUT_MS,
    },
  );
  return { url: `http://127.0.0.1:${port}/mcp`, stop };
};

const startV2Http = (dir) =>
  startServer('v2Server.mjs http', process.execPath, [V2_SERVER, 'http', '0'], {
    ready: /listening (\S+)/,
    stream: 'stdout',
    logFile: path.join(dir, 'v2-server-http.log'),
  });

const startMcpscope = (dir, label, upstreamArgs) =>
  startServer(
    `mcpscope (${label})`,
    process.execPath,
    [CLI, 'forward', 'http', '--port', '0', '--admin-port', '0', ...upstreamArgs],
    {
      ready: /MCP endpoint (\S+)/,
      stream: 'stderr',
      logFile: path.join(dir, `mcpscope-${label}.log`),
    },
  );

const startGate = (dir, only, upstreamUrl) =>
  startServer(
    `eraGate --only ${only}`,
    process.execPath,
    [ERA_GATE, '--only', only, '--upstream', upstreamUrl],
    {
      ready: /listening (\S+)/,
      stream: 'stdout',
      logFile: path.join(dir, `gate-${only}.log`),
    },
  );

/** What is compared: a server reached directly, and the same server behind mcpscope. */
const COMPARISONS = [
  {
    name: 'reference',
    direct: startReference,
    through: (dir, direct, req) => startMcpscope(dir, `reference-${req}`, ['--upstream', direct.url]),
  },
  {
    name: 'v2-stdio',
    direct: startV2Http,
    through: (dir, _direct, req) =>
      startMcpscope(dir, `v2-stdio-${req}`, ['--', process.execPath, V2_SERVER, 'stdio']),
  },
];

/** Bridged comparisons: `requirements` through --bridge auto to the reference server behind a `gate`. */
const BRIDGED = [
  {
    name: 'bridge-to-legacy',
    requirements: '2026-07-28',
    gate: 'legacy',
    direction: 'to_legacy',
    gateEra: '2025-11-25',
  },
  {
    name: 'bridge-to-modern',
    requirements: '2025-11-25',
    gate: 'modern',
    direction: 'to_modern',
    gateEra: '2026-07-28',
  },
];

/** mcpscope_bridge_translations_total by direction and kind, read from mcpscope's admin /metrics. */
async function bridgeTranslations(proxy) {
  const metrics = /Metrics: (http\S+?\/metrics)\b/.exec(proxy.output())?.[1];
  if (!metrics) return { error: 'mcpscope printed no Metrics URL' };
  try {
    const res = await fetch(metrics);
    const text = await res.text();
    const counts = {};
    for (const m of text.matchAll(
      /^mcpscope_bridge_translations_total\{direction="(\w+)",kind="(\w+)"\} (\d+(?:\.\d+)?)$/gm,
    )) {
      counts[m[1]] ??= {};
      counts[m[1]][m[2]] = Number(m[3]);
    }
    return { counts };
  } catch (err) {
    return { error: `reading ${metrics}: ${err.message}` };
  }
}

const total = (byKind) => Object.values(byKind ?? {}).reduce((a, b) => a + b, 0);

/** One suite run for `requirements` against `url`, checks read back from its -o folder. */
async function suiteRun(dir, side, requirements, url) {
  const runDir = path.join(dir, `${side}-${requirements}`);
  const logFile = `${runDir}.log`;
  const started = Date.now();
  const code = await runSuite(
    ['server', '--url', url, '--requirements', requirements, '-o', runDir],
    logFile,
  );
  const checks = readChecks(runDir);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (checks.size === 0) {
    const tail = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => !/\d+ passed, \d+ failed/.test(l))
      .slice(-15)
      .map((l) => `    ${l}`)
      .join('\n');
    fail(
      `the suite wrote no checks for ${side} ${requirements} (exit ${code}); last lines of ${logFile}:\n${tail}`,
    );
  }
  log(`  ${side.padEnd(7)} ${requirements}: ${checks.size} scenarios in ${seconds} s (suite exit ${code})`);
  return checks;
}

function pad(s, n) {
  return String(s).padEnd(n);
}

function printTable(name, r) {
  const sum = (side) =>
    r.scenarios.reduce((a, s) => ({ ok: a.ok + s[side].success, bad: a.bad + s[side].failure }), {
      ok: 0,
      bad: 0,
    });
  const d = sum('direct');
  const t = sum('through');
  log(
    `${name}: direct ${d.ok} ok / ${d.bad} not ok, through mcpscope ${t.ok} ok / ${t.bad} not ok; ${r.compared} compared, ${r.regressions.length} regressed`,
  );
  log(`  ${pad('scenario (ok/not ok)', 48)} ${pad('direct', 8)} ${pad('through', 8)} regressed`);
  for (const s of r.scenarios) {
    const cell = (x) => `${x.success}/${x.failure}`;
    const mark = s.regressions ? String(s.regressions) : '';
    log(`  ${pad(s.scenario, 48)} ${pad(cell(s.direct), 8)} ${pad(cell(s.through), 8)} ${mark}`);
  }
}

function printBridgeTable(b) {
  const entry = b.floor;
  log(
    `${b.name} (${b.requirements} through --bridge auto to the reference server behind eraGate --only ${b.gate}): ${b.score.passed} passed / ${b.score.scored} scored; floor ${entry ? entry.passed : 'none'}, ${b.below.length} below it, ${b.above.length} above it`,
  );
  log(`  ${pad('scenario (ok/not ok)', 48)} ${pad('bridged', 8)} ${pad('floor', 6)} below floor`);
  for (const [scenario, checks] of b.checks) {
    let ok = 0;
    let bad = 0;
    for (const c of checks.values()) {
      if (c.status === SUCCESS) ok++;
      else if (c.status === 'FAILURE') bad++;
    }
    const floor = entry?.checks[scenario]?.length ?? 0;
    const below = b.below.filter((x) => x.scenario === scenario).length;
    log(`  ${pad(scenario, 48)} ${pad(`${ok}/${bad}`, 8)} ${pad(floor, 6)} ${below || ''}`);
  }
  const t = b.translations;
  if (t.error) log(`  bridge translations: ${t.error}`);
  else
    log(
      `  bridge translations (mcpscope_bridge_translations_total): ${Object.entries(
        t.counts[b.direction] ?? {},
      )
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
    );
  if (b.gateChecks) {
    const own = b.gateChecks.own;
    const other = b.gateChecks.other;
    log(
      `  gate check: ${own.requirements} directly against the gate: ${own.score.passed} passed / ${own.score.scored} scored, ${own.compared} compared with the reference server directly, ${own.regressions.length} differ`,
    );
    log(
      `  gate check: ${other.requirements} directly against the gate: ${other.score.passed} passed / ${other.score.scored} scored (the reference server directly: ${other.reference.passed} passed / ${other.reference.scored} scored)`,
    );
  }
}

function describeRegression(r) {
  const msg = r.errorMessage ? `: ${r.errorMessage.replace(/\s+/g, ' ').slice(0, MESSAGE_CHARS)}` : '';
  return `${r.comparison} ${r.scenario} ${r.check} → ${r.through}${msg}`;
}

function readFloor() {
  if (!existsSync(BRIDGE_FLOOR_FILE)) return {};
  try {
    return parseBridgeFloor(readFileSync(BRIDGE_FLOOR_FILE, 'utf8'), path.relative(ROOT, BRIDGE_FLOOR_FILE));
  } catch (err) {
    return fail(err.message);
  }
}

/**
 * The bridged comparisons: one reference server, and per comparison its gate, mcpscope --bridge auto in front
 * of the gate, the suite through mcpscope; then (unless skipped) the gate checks, the suite directly against
 * the gate. `referenceDirect` holds the reference server's direct runs by requirements when the reference
 * comparison made them this run (the gate checks' baseline); missing ones are run here.
 */
async function runBridged(selected, floor, referenceDirect) {
  const dir = path.join(outDir, 'bridge');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log('bridge (reference server):');
  const reference = await startReference(dir);
  const baseline = async (req) => {
    if (!referenceDirect.has(req))
      referenceDirect.set(req, await suiteRun(dir, 'direct', req, reference.url));
    return referenceDirect.get(req);
  };
  const out = [];
  for (const b of selected) {
    const cdir = path.join(outDir, b.name);
    rmSync(cdir, { recursive: true, force: true });
    mkdirSync(cdir, { recursive: true });
    log(`${b.name}:`);
    const gate = await startGate(cdir, b.gate, reference.url);
    // Tapes of the bridged sessions (redacted), for a check that falls below the floor.
    const proxy = await startMcpscope(cdir, b.name, [
      '--bridge',
      'auto',
      '--record',
      path.join(cdir, 'tapes'),
      '--upstream',
      gate.url,
    ]);
    const checks = await suiteRun(cdir, 'bridged', b.requirements, proxy.url);
    const translations = await bridgeTranslations(proxy);
    await proxy.stop();
    const entry = floor[b.name];
    const { below, above } = compareFloor(entry, checks);
    const result = {
      ...b,
      checks,
      score: score(checks),
      floor: entry,
      below,
      above,
      translations,
      gateChecks: undefined,
    };
    if (!opts['skip-gate-checks']) {
      const own = await suiteRun(cdir, 'gate', b.gateEra, gate.url);
      const ownRef = await baseline(b.gateEra);
      const other = await suiteRun(cdir, 'gate', b.requirements, gate.url);
      const otherRef = await baseline(b.requirements);
      const parity = compareRuns(ownRef, own);
      result.gateChecks = {
        own: {
          requirements: b.gateEra,
          score: score(own),
          compared: parity.compared,
          regressions: parity.regressions,
        },
        other: { requirements: b.requirements, score: score(other), reference: score(otherRef) },
      };
    }
    await gate.stop();
    out.push(result);
  }
  await reference.stop();
  return out;
}

/** What a bridged comparison's result says is wrong: below the floor, no translation, a gate not faithful. */
function bridgeProblems(b) {
  const problems = [];
  for (const x of b.below) {
    const msg = x.errorMessage ? `: ${x.errorMessage.replace(/\s+/g, ' ').slice(0, MESSAGE_CHARS)}` : '';
    problems.push(`BELOW THE BRIDGE FLOOR: ${b.name} ${x.scenario} ${x.check} → ${x.status}${msg}`);
  }
  const t = b.translations;
  if (t.error) problems.push(`BRIDGE: ${b.name}: ${t.error}`);
  else {
    const other = b.direction === 'to_legacy' ? 'to_modern' : 'to_legacy';
    if (total(t.counts[b.direction]) === 0)
      problems.push(
        `BRIDGE: ${b.name}: mcpscope translated nothing ${b.direction}; the gate (--only ${b.gate}) let the other era through, or the bridge never engaged`,
      );
    if (total(t.counts[other]) > 0)
      problems.push(`BRIDGE: ${b.name}: mcpscope translated ${other} too, where only ${b.direction} was due`);
  }
  for (const r of b.gateChecks?.own.regressions ?? []) {
    const msg = r.errorMessage ? `: ${r.errorMessage.replace(/\s+/g, ' ').slice(0, MESSAGE_CHARS)}` : '';
    problems.push(
      `GATE: eraGate --only ${b.gate} ${b.gateEra} ${r.scenario} ${r.check} passes against the reference server directly but not through the gate → ${r.through}${msg}`,
    );
  }
  return problems;
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * --write-bridge-floor: add each bridged comparison's passing checks to its floor. It never drops one: a floor
 * check that fails now stays (and keeps failing the run); lowering the floor is done by hand, saying why.
 */
function writeFloor(floor, bridged) {
  const next = { ...floor };
  let changed = false;
  for (const b of bridged) {
    next[b.name] = raiseFloor(b.floor, b.requirements, b.checks);
    const added = next[b.name].passed - (b.floor?.passed ?? 0);
    if (added > 0 || !b.floor || b.floor.requirements !== b.requirements) changed = true;
    const kept = b.below.length
      ? `; ${plural(b.below.length, 'floor check')} failing now kept (lower the floor by hand, saying why)`
      : '';
    log(
      `bridge floor: ${b.name} ${b.floor ? b.floor.passed : 'none'} → ${next[b.name].passed} (${added} added${kept})`,
    );
  }
  if (!changed) {
    log(`bridge floor: nothing to raise; ${path.relative(ROOT, BRIDGE_FLOOR_FILE)} left as it was`);
    return;
  }
  const sorted = Object.fromEntries(
    Object.keys(next)
      .sort()
      .map((k) => [k, next[k]]),
  );
  writeFileSync(BRIDGE_FLOOR_FILE, `${JSON.stringify(sorted, null, 2)}\n`);
  log(`wrote ${path.relative(ROOT, BRIDGE_FLOOR_FILE)}`);
}

async function main() {
  if (!existsSync(path.join(suiteDir, 'run.sh')) || !existsSync(path.join(suiteDir, 'reference-server.sh'))) {
    fail(
      `no conformance suite at ${suiteDir} (run.sh, reference-server.sh); CI keeps it in ../shared/conformance ` +
        `beside the repository; elsewhere set MCP_CONFORMANCE_DIR to the folder`,
    );
  }
  if (!existsSync(CLI)) fail(`${path.relative(ROOT, CLI)} is missing; run npm run build first`);
  let gaps = [];
  if (existsSync(KNOWN_GAPS_FILE)) {
    try {
      gaps = parseKnownGaps(readFileSync(KNOWN_GAPS_FILE, 'utf8'), path.relative(ROOT, KNOWN_GAPS_FILE));
    } catch (err) {
      fail(err.message);
    }
  }
  const floor = readFloor();
  const names = [...COMPARISONS, ...BRIDGED].map((c) => c.name);
  for (const name of opts.only ?? []) {
    if (!names.includes(name)) fail(`--only ${name}: no such comparison (${names.join(', ')})`);
  }
  const selected = COMPARISONS.filter((c) => !opts.only || opts.only.includes(c.name));
  const selectedBridged = BRIDGED.filter((c) => !opts.only || opts.only.includes(c.name));
  if (opts['write-bridge-floor'] && selectedBridged.length === 0)
    fail('--write-bridge-floor: no bridged comparison selected');

  const started = Date.now();
  mkdirSync(outDir, { recursive: true });
  log(`conformance suite ${suiteDir}; logs and results in ${outDir}`);
  // Install the suite before the reference server: run.sh rebuilds the shared cache folder on first use,
  // which would delete a reference server already installed there.
  const warm = await runSuite(['list'], path.join(outDir, 'suite-install.log'), FIRST_USE_TIMEOUT_MS);
  if (warm !== 0)
    fail(
      `the conformance suite failed to start (exit ${warm}); see ${path.join(outDir, 'suite-install.log')}`,
    );

  const results = new Map();
  /** The reference server's direct runs, by requirements: the gate checks' baseline. */
  const referenceDirect = new Map();
  for (const comparison of selected) {
    const dir = path.join(outDir, comparison.name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    log(`${comparison.name}:`);
    const direct = await comparison.direct(dir);
    const directChecks = new Map();
    for (const req of REQUIREMENTS) directChecks.set(req, await suiteRun(dir, 'direct', req, direct.url));
    if (comparison.name === 'reference') for (const [req, c] of directChecks) referenceDirect.set(req, c);
    for (const req of REQUIREMENTS) {
      // A fresh mcpscope per run, so one requirement set's traffic (sessions, breaker) cannot sway the other.
      const proxy = await comparison.through(dir, direct, req);
      const through = await suiteRun(dir, 'through', req, proxy.url);
      await proxy.stop();
      const dChecks = directChecks.get(req);
      const r = compareRuns(dChecks, through);
      if (r.compared === 0)
        fail(`no check succeeded directly for ${comparison.name} ${req}: the baseline is broken`);
      results.set(`${comparison.name} ${req}`, { ...r, direct: dChecks, through });
    }
    await direct.stop();
  }
  const bridged = selectedBridged.length ? await runBridged(selectedBridged, floor, referenceDirect) : [];

  log('');
  for (const [name, r] of results) {
    printTable(name, r);
    log('');
  }
  for (const b of bridged) {
    printBridgeTable(b);
    log('');
  }

  const sorted = applyKnownGaps(results, opts['known-gaps'] ? gaps : []);
  const listed = applyKnownGaps(results, gaps);
  const compared = [...results.values()].reduce((n, r) => n + r.compared, 0);
  const regressions = [...results.values()].reduce((n, r) => n + r.regressions.length, 0);

  if (opts['write-known-gaps']) {
    const reasons = new Map(gaps.map((g) => [`${g.comparison} ${g.scenario} ${g.check}`, g.reason]));
    const next = [...results].flatMap(([comparison, r]) =>
      r.regressions.map(({ scenario, check }) => ({
        comparison,
        scenario,
        check,
        reason: reasons.get(`${comparison} ${scenario} ${check}`) ?? opts.reason,
      })),
    );
    // Entries of comparisons that did not run (--only) stay as they were.
    const kept = gaps.filter((g) => !results.has(g.comparison));
    writeFileSync(KNOWN_GAPS_FILE, `${JSON.stringify([...kept, ...next], null, 2)}\n`);
    log(`wrote ${kept.length + next.length} entries to ${path.relative(ROOT, KNOWN_GAPS_FILE)}`);
  }
  if (opts['write-bridge-floor']) writeFloor(floor, bridged);

  const problems = [];
  if (opts['known-gaps']) {
    log(
      `known gaps (${path.relative(ROOT, KNOWN_GAPS_FILE)}): ${sorted.known.length} of this run's regressions are listed`,
    );
    if (opts.verbose) for (const r of sorted.known) log(`  known: ${describeRegression(r)}`);
    for (const g of sorted.fixed) {
      problems.push(`FIXED, remove from known-gaps: ${g.comparison} ${g.scenario} ${g.check}`);
    }
    if (sorted.unevaluated.length) {
      log(
        `  ${sorted.unevaluated.length} listed checks not evaluated (not SUCCESS directly this run, or not run)`,
      );
    }
  } else if (listed.fixed.length) {
    log(
      `(${listed.fixed.length} checks in known-gaps.json pass through mcpscope now; run with --known-gaps to enforce)`,
    );
  }
  for (const r of sorted.unexpected) problems.push(`REGRESSION: ${describeRegression(r)}`);
  for (const b of bridged) problems.push(...bridgeProblems(b));
  const above = bridged.filter((b) => b.above.length && !opts['write-bridge-floor']);
  for (const b of above) {
    log(
      `${b.name}: ${plural(b.above.length, 'check')} ${b.above.length === 1 ? 'passes' : 'pass'} above the bridge floor; raise it with node test/conformance/run.mjs --write-bridge-floor --only ${b.name}`,
    );
    if (opts.verbose) for (const x of b.above) log(`  above: ${b.name} ${x.scenario} ${x.check}`);
  }
  for (const p of problems) log(p);

  const seconds = Math.round((Date.now() - started) / 1000);
  const summary = {
    suiteDir,
    outDir,
    seconds,
    knownGapsApplied: opts['known-gaps'],
    comparisons: [...results].map(([name, r]) => ({
      name,
      compared: r.compared,
      scenarios: r.scenarios,
      regressions: r.regressions,
      directSuccess: [...r.direct.values()].reduce(
        (n, s) => n + [...s.values()].filter((c) => c.status === SUCCESS).length,
        0,
      ),
    })),
    known: sorted.known,
    unexpected: sorted.unexpected,
    fixed: sorted.fixed,
    unevaluated: sorted.unevaluated,
    bridged: bridged.map((b) => ({
      name: b.name,
      requirements: b.requirements,
      gate: b.gate,
      passed: b.score.passed,
      scored: b.score.scored,
      floor: b.floor ? b.floor.passed : null,
      belowFloor: b.below,
      aboveFloor: b.above,
      translations: b.translations.counts ?? b.translations,
      gateChecks: b.gateChecks
        ? {
            own: {
              ...b.gateChecks.own.score,
              requirements: b.gateChecks.own.requirements,
              compared: b.gateChecks.own.compared,
              regressions: b.gateChecks.own.regressions,
            },
            other: {
              ...b.gateChecks.other.score,
              requirements: b.gateChecks.other.requirements,
              referencePassed: b.gateChecks.other.reference.passed,
              referenceScored: b.gateChecks.other.reference.scored,
            },
          }
        : null,
    })),
  };
  mkdirSync(path.dirname(summaryFile), { recursive: true });
  writeFileSync(summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  log(`summary: ${summaryFile} (${seconds} s)`);
  if (bridged.length) {
    const below = bridged.reduce((n, b) => n + b.below.length, 0);
    log(
      `bridged: ${bridged.map((b) => `${b.name} ${b.score.passed} passed / ${b.score.scored} scored (floor ${b.floor ? b.floor.passed : 'none'})`).join(', ')}; ${below} below the floor`,
    );
  }
  const extra = opts['known-gaps'] ? ` (${sorted.known.length} known, ${sorted.fixed.length} fixed)` : '';
  log(`conformance: ${compared} checks compared, ${regressions} regressions${extra}`);
  process.exit(problems.length ? 1 : 0);
}

await main();
