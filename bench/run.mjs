#!/usr/bin/env node
import { setMaxListeners } from 'node:events';
// npm run bench [-- --quick] [-- --only name,name] [-- --rounds N] [-- --idle-only] [-- --idle 1000,10000]
//               [-- --idle-flags "--no-feed"]
//               [-- --stages-only] [-- --cold-start-only] [-- --cold-starts N]
//
// Measures, in one run and on loopback only, an SDK client calling an `echo` tool that returns at once:
// direct (the floors), through mcpscope (each mode, metrics on and off) and through the peer proxies
// supergateway and mcp-proxy. Targets run in alternating order each round to cancel machine drift; the
// table shows medians over rounds. Figures also go to bench/results/<date>.json, and each row is compared
// with the same row of the last saved run (same --quick): a path whose p50 or CPU per call grew by half or
// more is named under the table, and so is a stage whose in-process cost per call did.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Agent, request } from 'undici';
import { writeRules20 } from './rules20.mjs';
import { coldStart } from './coldStart.mjs';
import { stageCost } from './stageCost.mjs';

// The SDK's HTTP client adds an abort listener per request to one signal; thousands of calls are the point here.
setMaxListeners(0);

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = `${ROOT}dist/cli/main.js`;
const ECHO = `${ROOT}bench/echoServer.mjs`;
const RELAY = `${ROOT}bench/relay.mjs`;
const ECHO_V2 = `${ROOT}bench/echoServerV2.mjs`;
/** 20 interception rules that match no message of the bench. */
const RULES_20 = writeRules20();
const NODE = process.execPath;
const bin = (name) => `${ROOT}node_modules/.bin/${name}`;

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const arg = (name) => {
  const i = argv.indexOf(name);
  return i === -1 ? undefined : argv[i + 1];
};
const ONLY = arg('--only')?.split(',');
/** Extra mcpscope flags for the idle-sessions scenario, e.g. --idle-flags "--no-feed" (what a part costs). */
const IDLE_FLAGS = arg('--idle-flags')?.split(' ').filter(Boolean) ?? [];
const IDLE_ONLY =
  argv.includes('--idle-only') || argv.includes('--stats-only') || argv.includes('--cold-start-only');
const STAGES_ONLY = argv.includes('--stages-only');
const COLD_ONLY = argv.includes('--cold-start-only');
const STATS_ONLY = argv.includes('--stats-only');
const CFG = {
  rounds: Number(arg('--rounds') ?? (QUICK ? 2 : 4)),
  warmup: QUICK ? 200 : 500,
  seq: QUICK ? 800 : 4_000,
  conc: QUICK ? 1_600 : 8_000,
  concurrency: 8,
  big: QUICK ? 60 : 400,
  huge: QUICK ? 12 : 60,
  setups: QUICK ? 3 : 15,
  idle: arg('--idle') ? arg('--idle').split(',').map(Number) : QUICK ? [1_000] : [1_000, 10_000],
  coldStarts: Number(arg('--cold-starts') ?? (QUICK ? 6 : 10)),
};
const SMALL = 'x'.repeat(100);
const BIG = 'x'.repeat(100 * 1024);
const HUGE = 'x'.repeat(1024 * 1024);

const progress = (msg) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}

/** Spawn a long-running process and wait for a line of its output to match. */
async function startProcess(cmd, args, ready, { env } = {}) {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${cmd} ${args.join(' ')} did not start:\n${out}`)),
      20_000,
    );
    const onData = (c) => {
      out += c.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${cmd} exited with ${code}:\n${out}`)));
  });
  proc.stdout.resume();
  proc.stderr.resume();
  return {
    pid: proc.pid,
    output: () => out,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await new Promise((r) => proc.once('exit', r));
      clearTimeout(killer);
    },
  };
}

/** CPU time a process (all its threads) has used, in µs, from /proc (Linux); NaN elsewhere. */
function cpuMicros(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // a thread that ended meanwhile
      }
    }
    return ns / 1000;
  } catch {
    return NaN;
  }
}

/** Resident set size of a process in bytes, from /proc. */
function rss(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function waitHttp(url) {
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(url, { method: 'GET', headers: { accept: 'text/event-stream' } });
      await res.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} never answered`);
}

// ---------------------------------------------------------------------------------------------------
// Targets: each starts what it needs and returns how to connect a client, and whose RSS to read.

const echoStdio = [NODE, ECHO, 'stdio'];

async function echoHttp() {
  const port = await freePort();
  const p = await startProcess(NODE, [ECHO, 'http', String(port)], /listening/);
  return { ...p, url: `http://127.0.0.1:${port}/mcp` };
}

async function mcpscopeHttp(extra, upstreamArgs) {
  const port = await freePort();
  const p = await startProcess(
    NODE,
    [
      CLI,
      'forward',
      'http',
      '--port',
      String(port),
      '--admin-port',
      '0',
      '--log-level',
      'warn',
      ...extra,
      ...upstreamArgs,
    ],
    /MCP endpoint/,
  );
  return { ...p, url: `http://127.0.0.1:${port}/mcp` };
}

/** A peer proxy exposing the stdio echo server on `port`, once its endpoint answers. */
async function peer(command, args, ready, port) {
  const p = await startProcess(command, args, ready);
  const url = `http://127.0.0.1:${port}/mcp`;
  await waitHttp(url);
  return { url, pid: p.pid, stop: p.stop };
}

/** `mcpscope forward stdio` in front of `server`, with `extra` flags, as the client launches it. */
function forwardStdio(extra, server) {
  return {
    command: NODE,
    args: [CLI, 'forward', 'stdio', '--admin-port', '0', '--log-level', 'warn', ...extra, '--', ...server],
  };
}

const TARGETS = [
  { name: 'direct stdio', floor: null, stdio: () => ({ command: NODE, args: [ECHO, 'stdio'] }) },
  {
    name: 'direct http (SDK server)',
    floor: null,
    http: async () => {
      const s = await echoHttp();
      return { url: s.url, pid: s.pid, stop: s.stop };
    },
  },
  { name: 'mcpscope stdio→stdio', floor: 'direct stdio', stdio: () => forwardStdio([], echoStdio) },
  {
    name: 'mcpscope stdio→stdio, 20 rules that do not match',
    floor: 'direct stdio',
    // What interception costs a message no rule acts on: 20 rules tried, field by field, on every message.
    stdio: () => forwardStdio(['--rules', RULES_20], echoStdio),
  },
  {
    name: 'relay stdio→stdio (bytes only)',
    floor: 'direct stdio',
    // bench/relay.mjs: a Node process that copies bytes both ways and parses nothing. What it adds is what
    // any extra process costs on this path (two more pipe hops and wake-ups); mcpscope's own work is the rest.
    stdio: () => ({ command: NODE, args: [RELAY, ...echoStdio] }),
  },
  {
    name: 'mcpscope stdio→stdio, stages off',
    floor: 'direct stdio',
    // Framing, the session and the pipeline with no stage: what the stages cost is the row above minus this.
    stdio: () => ({
      command: NODE,
      args: [
        CLI,
        'forward',
        'stdio',
        '--no-admin',
        '--no-metrics',
        '--no-breaker',
        '--log-level',
        'warn',
        '--',
        ...echoStdio,
      ],
    }),
  },
  {
    name: 'mcpscope stdio→stdio, --bridge auto, same era',
    floor: 'direct stdio',
    // An older client's initialize goes first and is answered: nothing is translated, nothing probed.
    stdio: () => forwardStdio(['--bridge', 'auto'], echoStdio),
  },
  {
    name: 'mcpscope stdio→stdio, bridged to 2026-07-28',
    floor: 'direct stdio',
    // The same 2025 client; the server serves only 2026-07-28 (a v2 SDK server), so every call is translated.
    stdio: () => forwardStdio(['--bridge', 'auto'], [NODE, ECHO_V2]),
  },
  {
    name: 'mcpscope http→stdio',
    floor: 'direct http (SDK server)',
    http: () => mcpscopeHttp([], ['--', ...echoStdio]),
  },
  {
    name: 'mcpscope http→stdio, no feed',
    floor: 'direct http (SDK server)',
    // The live feed's cost: the row above has it on (the default with an admin server), this one off.
    http: () => mcpscopeHttp(['--no-feed'], ['--', ...echoStdio]),
  },
  {
    name: 'mcpscope http→stdio, no metrics',
    floor: 'direct http (SDK server)',
    http: () => mcpscopeHttp(['--no-metrics', '--no-admin'], ['--', ...echoStdio]),
  },
  {
    name: 'mcpscope http→stdio, recording',
    floor: 'direct http (SDK server)',
    http: async () => {
      // Every session to a tape, with the default redaction: what --record costs on the message path.
      const dir = mkdtempSync(join(tmpdir(), 'mcpscope-bench-tapes-'));
      const p = await mcpscopeHttp(['--record', dir], ['--', ...echoStdio]);
      return {
        url: p.url,
        pid: p.pid,
        stop: async () => (await p.stop(), rmSync(dir, { recursive: true, force: true })),
      };
    },
  },
  {
    name: 'mcpscope http→http',
    floor: 'direct http (SDK server)',
    http: async () => {
      const up = await echoHttp();
      const p = await mcpscopeHttp([], ['--upstream', up.url]);
      return { url: p.url, pid: p.pid, stop: async () => (await p.stop(), await up.stop()) };
    },
  },
  {
    name: 'supergateway --stateful',
    floor: 'direct http (SDK server)',
    http: (port) =>
      peer(
        bin('supergateway'),
        [
          '--stdio',
          echoStdio.join(' '),
          '--outputTransport',
          'streamableHttp',
          '--stateful',
          '--port',
          String(port),
        ],
        /Listening/i,
        port,
      ),
  },
  {
    name: 'mcp-proxy',
    floor: 'direct http (SDK server)',
    http: (port) =>
      peer(
        bin('mcp-proxy'),
        ['--host', '127.0.0.1', '--port', String(port), '--', ...echoStdio],
        /listening|starting/i,
        port,
      ),
  },
  {
    name: 'mcp-proxy --no-eventStore',
    floor: 'direct http (SDK server)',
    http: (port) =>
      peer(
        bin('mcp-proxy'),
        ['--host', '127.0.0.1', '--port', String(port), '--no-eventStore', '--', ...echoStdio],
        /listening|starting/i,
        port,
      ),
  },
].filter((t) => !IDLE_ONLY && !STAGES_ONLY && (!ONLY || ONLY.some((o) => t.name.includes(o))));

// ---------------------------------------------------------------------------------------------------
// Workloads

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function connect(target, running) {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  const transport = target.stdio
    ? new StdioClientTransport({ ...target.stdio(), stderr: 'ignore' })
    : new StreamableHTTPClientTransport(new URL(running.url));
  const t0 = performance.now();
  await client.connect(transport);
  const setupMs = performance.now() - t0;
  return { client, transport, setupMs };
}

const call = (client, message) => client.callTool({ name: 'echo', arguments: { message } });

async function sequential(client, n, message) {
  const lat = new Array(n);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await call(client, message);
    lat[i] = (performance.now() - s) * 1000;
  }
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return {
    p50: percentile(lat, 0.5),
    p95: percentile(lat, 0.95),
    p99: percentile(lat, 0.99),
    rate: n / seconds,
  };
}

async function concurrent(client, total, width, message) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next++ < total) await call(client, message);
    }),
  );
  return total / ((performance.now() - t0) / 1000);
}

async function runTarget(target) {
  const running = target.http ? await target.http(await freePort()) : undefined;
  try {
    const setups = [];
    for (let i = 0; i < CFG.setups - 1; i++) {
      const c = await connect(target, running);
      setups.push(c.setupMs);
      await c.client.close();
    }
    const { client, transport, setupMs } = await connect(target, running);
    setups.push(setupMs);
    setups.sort((a, b) => a - b);
    for (let i = 0; i < CFG.warmup; i++) await call(client, SMALL);
    // The process that does the proxying (or serving, for the direct floors).
    const pid = running ? running.pid : transport.pid;
    const cpu0 = cpuMicros(pid);
    const seq = await sequential(client, CFG.seq, SMALL);
    const cpuPerCall = (cpuMicros(pid) - cpu0) / CFG.seq;
    const conc = await concurrent(client, CFG.conc, CFG.concurrency, SMALL);
    // A path may refuse large bodies: that is a result, not a crash of the bench.
    const large = async (calls, text, label) => {
      try {
        return { p50: (await sequential(client, calls, text)).p50 };
      } catch (err) {
        // Express answers with an HTML page: keep its <pre> text.
        const pre = /<pre>([^<]*)<\/pre>/.exec(err.message)?.[1];
        const error = (pre ?? err.message).replace(/\s+/g, ' ').slice(0, 120);
        progress(`  ${label} calls failed: ${error}`);
        return { p50: NaN, error };
      }
    };
    const big = await large(CFG.big, BIG, '100 kB');
    const huge = await large(CFG.huge, HUGE, '1 MB');
    const rssBytes = rss(pid);
    await client.close().catch(() => undefined);
    return {
      ...seq,
      cpuPerCall,
      conc,
      bigP50: big.p50,
      bigError: big.error,
      hugeP50: huge.p50,
      hugeError: huge.error,
      setupMs: percentile(setups, 0.5),
      rssBytes,
    };
  } finally {
    await running?.stop();
  }
}

/** Hold many idle sessions open through `forward http` (in front of one HTTP upstream) and weigh them. */
async function idleSessions(count) {
  const up = await echoHttp();
  const proxy = await mcpscopeHttp(
    ['--max-sessions', String(count + 10), ...IDLE_FLAGS],
    ['--upstream', up.url],
  );
  const agent = new Agent({ connections: 32, keepAliveTimeout: 30_000 });
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = JSON.stringify({
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'idle', version: '1' } },
  });
  const initialized = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
  try {
    await new Promise((r) => setTimeout(r, 500));
    const before = rss(proxy.pid);
    let opened = 0;
    let failed = 0;
    const open = async () => {
      const res = await request(proxy.url, { method: 'POST', headers, body: init, dispatcher: agent });
      await res.body.text();
      const id = res.headers['mcp-session-id'];
      if (res.statusCode !== 200 || typeof id !== 'string') {
        failed++;
        return;
      }
      const ack = await request(proxy.url, {
        method: 'POST',
        headers: { ...headers, 'mcp-session-id': id },
        body: initialized,
        dispatcher: agent,
      });
      await ack.body.dump();
      opened++;
    };
    let started = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (started < count) {
          started++;
          await open();
          if (opened % 1000 === 0 && opened > 0) progress(`  idle sessions: ${opened}/${count}`);
        }
      }),
    );
    if (global.gc) global.gc();
    await new Promise((r) => setTimeout(r, 1_000));
    const after = rss(proxy.pid);
    return {
      count,
      opened,
      failed,
      rssBeforeBytes: before,
      rssAfterBytes: after,
      perSessionBytes: (after - before) / opened,
    };
  } finally {
    await agent.close();
    await proxy.stop();
    await up.stop();
  }
}

/** The stats API under load: recording cost in-process, and answer times with 1,000 sessions and 100 tools. */
async function statsScenario() {
  const { StatsSeries } = await import(`${ROOT}dist/observe/stats.js`);
  const series = new StatsSeries();
  const n = 2_000_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) series.record(1_800_000_000_000 + i, (i % 997) / 10, i % 13 === 0);
  const recordNs = ((performance.now() - t0) * 1e6) / n;

  const up = await echoHttp();
  const proxy = await mcpscopeHttp(['--max-sessions', '1100'], ['--upstream', up.url]);
  for (let i = 0; i < 100 && !/Metrics: /.test(proxy.output()); i++)
    await new Promise((r) => setTimeout(r, 20));
  const admin = /Metrics: (http:\/\/[^/\s]+)\/metrics/.exec(proxy.output())?.[1];
  const agent = new Agent({ connections: 32 });
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = JSON.stringify({
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'stats', version: '1' } },
  });
  try {
    if (!admin) throw new Error('no admin URL in mcpscope output');
    let sid = '';
    let opened = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (opened < 1_000) {
          opened++;
          const res = await request(proxy.url, { method: 'POST', headers, body: init, dispatcher: agent });
          await res.body.text();
          sid = String(res.headers['mcp-session-id']);
        }
      }),
    );
    for (let i = 0; i < 100; i++) {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: i + 1,
        method: 'tools/call',
        params: { name: `tool-${i}`, arguments: {} },
      });
      const res = await request(proxy.url, {
        method: 'POST',
        headers: { ...headers, 'mcp-session-id': sid },
        body,
        dispatcher: agent,
      });
      await res.body.text();
    }
    const times = [];
    // Distinct queries defeat the 1-second cache; 90 stays inside the admin API's burst.
    for (let i = 1; i <= 90; i++) {
      const t = performance.now();
      const res = await request(
        `${admin}${i % 3 === 0 ? '/stats' : `/stats/tools?limit=${i}&sort=-health`}`,
        { dispatcher: agent },
      );
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`stats answered ${res.statusCode}`);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return {
      recordNs,
      sessions: 1_000,
      tools: 100,
      p50Ms: percentile(times, 0.5),
      p95Ms: percentile(times, 0.95),
    };
  } finally {
    await agent.close();
    await proxy.stop();
    await up.stop();
  }
}

// ---------------------------------------------------------------------------------------------------

/** The latest saved run made the same way (--quick or not, same CPU count), to compare with. */
function lastResult() {
  try {
    const dir = `${ROOT}bench/results`;
    for (const name of readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .reverse()) {
      const r = JSON.parse(readFileSync(`${dir}/${name}`, 'utf8'));
      if (r.quick === QUICK && r.machine?.cpus === cpus().length) return r;
    }
  } catch {
    // no saved run yet
  }
  return undefined;
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  try {
    readFileSync(CLI);
  } catch {
    throw new Error('dist/ is missing: run `npm run build` first (npm run bench does it for you)');
  }
  progress(
    `mcpscope bench${QUICK ? ' (quick)' : ''}: ${TARGETS.length} paths × ${CFG.rounds} rounds; ` +
      `${CFG.seq} sequential + ${CFG.conc} ${CFG.concurrency}-concurrent + ${CFG.big} 100 kB + ${CFG.huge} 1 MB calls each`,
  );
  const samples = new Map(TARGETS.map((t) => [t.name, []]));
  const total = TARGETS.length * CFG.rounds;
  let step = 0;
  for (let round = 0; round < CFG.rounds; round++) {
    const order = round % 2 === 0 ? TARGETS : [...TARGETS].reverse();
    for (const target of order) {
      step++;
      progress(`[${step}/${total}] round ${round + 1}: ${target.name}`);
      try {
        samples.get(target.name).push(await runTarget(target));
      } catch (err) {
        progress(`  failed: ${err.message.split('\n')[0]}`);
      }
    }
  }
  const rows = TARGETS.map((t) => {
    const s = samples.get(t.name);
    const pick = (k) => median(s.map((x) => x[k]));
    return {
      path: t.name,
      floor: t.floor,
      runs: s.length,
      p50: pick('p50'),
      p95: pick('p95'),
      p99: pick('p99'),
      rate: pick('rate'),
      cpuPerCall: pick('cpuPerCall'),
      conc: pick('conc'),
      bigP50: pick('bigP50'),
      hugeP50: pick('hugeP50'),
      setupMs: pick('setupMs'),
      rssBytes: pick('rssBytes'),
      bigError: s.find((x) => x.bigError)?.bigError,
      hugeError: s.find((x) => x.hugeError)?.hugeError,
    };
  });
  const byName = new Map(rows.map((r) => [r.path, r]));
  for (const r of rows) {
    const f = r.floor ? byName.get(r.floor) : undefined;
    // No floor in this run (--only): no comparison rather than a made-up one.
    r.addedP50 = f ? r.p50 - f.p50 : NaN;
    r.rateRatio = f ? r.rate / f.rate : NaN;
    r.concRatio = f ? r.conc / f.conc : NaN;
  }
  // Stage by stage, in-process: with every run that measures the stdio path (or --stages-only).
  let stages;
  if (STAGES_ONLY || (!IDLE_ONLY && (!ONLY || TARGETS.some((t) => t.name.includes('stdio→stdio'))))) {
    progress('stage costs: CPU per call inside mcpscope, in-process');
    try {
      stages = await stageCost(QUICK ? { calls: 50_000, rounds: 3 } : {});
    } catch (err) {
      progress(`  failed: ${err.message.split('\n')[0]}`);
    }
  }
  // Whole-process start-up: in the full run, or alone (--cold-start-only).
  let cold;
  if (COLD_ONLY || (!ONLY && !IDLE_ONLY && !STAGES_ONLY)) {
    try {
      cold = await coldStart({ runs: CFG.coldStarts, progress });
    } catch (err) {
      progress(`  failed: ${err.message.split('\n')[0]}`);
    }
  }
  const last = lastResult();
  const lastRows = new Map((last?.rows ?? []).map((r) => [r.path, r]));
  const lastStages = new Map((last?.stages ?? []).map((r) => [r.stages, r]));
  let stats;
  if (!ONLY && !STAGES_ONLY && !COLD_ONLY) {
    progress('stats API: recording cost, and answers with 1,000 sessions and 100 tools');
    try {
      stats = await statsScenario();
    } catch (err) {
      progress(`  failed: ${err.message.split('\n')[0]}`);
    }
  }
  const idle = [];
  if (!ONLY && !STATS_ONLY && !STAGES_ONLY && !COLD_ONLY) {
    for (const n of CFG.idle) {
      progress(`idle sessions through mcpscope forward http: ${n}`);
      try {
        idle.push(await idleSessions(n));
      } catch (err) {
        progress(`  failed: ${err.message.split('\n')[0]}`);
      }
    }
  }

  const fmt = (x, d = 0) =>
    Number.isFinite(x)
      ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
      : '–';
  const header = [
    'path',
    'p50 µs',
    'p95 µs',
    'p99 µs',
    '+p50 µs',
    'calls/s',
    'vs floor',
    '8-conc/s',
    'vs floor',
    '100kB p50 µs',
    '1MB p50 µs',
    'setup ms',
    'RSS MB',
    'CPU µs',
    'p50 vs last',
    'CPU vs last',
  ];
  const ratio = (now, before) =>
    Number.isFinite(now) && Number.isFinite(before) && before > 0 ? now / before : NaN;
  const table = rows.map((r) => [
    r.path,
    fmt(r.p50),
    fmt(r.p95),
    fmt(r.p99),
    r.floor ? fmt(r.addedP50) : 'floor',
    fmt(r.rate),
    r.floor ? `${fmt(r.rateRatio, 2)}×` : '',
    fmt(r.conc),
    r.floor ? `${fmt(r.concRatio, 2)}×` : '',
    r.bigError ? 'fails' : fmt(r.bigP50),
    r.hugeError ? 'fails' : fmt(r.hugeP50),
    fmt(r.setupMs, 1),
    fmt(r.rssBytes / 2 ** 20, 1),
    fmt(r.cpuPerCall),
    lastRows.has(r.path) ? `${fmt(ratio(r.p50, lastRows.get(r.path).p50), 2)}×` : '',
    lastRows.has(r.path) ? `${fmt(ratio(r.cpuPerCall, lastRows.get(r.path).cpuPerCall), 2)}×` : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const out =
    rows.length === 0
      ? []
      : [
          line(header),
          `|${widths.map((w, i) => (i === 0 ? ':' : '') + '-'.repeat(w + 1) + (i === 0 ? '' : ':')).join('|')}|`,
          ...table.map(line),
        ];
  const on = byName.get('mcpscope http→stdio');
  const off = byName.get('mcpscope http→stdio, no metrics');
  if (on && off)
    out.push(
      '',
      `metrics on vs off (8-concurrent calls/s): ${fmt(on.conc)} vs ${fmt(off.conc)} = ${fmt((on.conc / off.conc - 1) * 100, 1)}%`,
    );
  for (const i of idle) {
    out.push(
      `idle sessions: ${i.opened} open (${i.failed} failed) through forward http; mcpscope RSS ${fmt(i.rssBeforeBytes / 2 ** 20, 1)} → ${fmt(i.rssAfterBytes / 2 ** 20, 1)} MB = ${fmt(i.perSessionBytes / 1024, 1)} KB per session`,
    );
  }
  for (const r of rows) {
    if (r.bigError) out.push(`${r.path}: 100 kB calls fail: ${r.bigError}`);
    if (r.hugeError) out.push(`${r.path}: 1 MB calls fail: ${r.hugeError}`);
  }
  if (stages) {
    out.push(
      '',
      'stage costs (in-process, CPU ns per call: a tools/call and its answer parsed, paired and piped):',
      ...stages.map((st) => {
        const before = lastStages.get(st.stages);
        const vs = before
          ? ` (last run ${fmt(before.nsPerCall)}, ${fmt(ratio(st.nsPerCall, before.nsPerCall), 2)}×)`
          : '';
        const added =
          st.stages === 'none' ? 'the bare path' : `${st.addedNs >= 0 ? '+' : ''}${fmt(st.addedNs)}`;
        return `  ${st.stages.padEnd(24)} ${fmt(st.nsPerCall).padStart(7)} ns  ${added}${vs}`;
      }),
    );
  }
  if (cold) {
    const lastCold = last?.cold;
    const coldLine = (what, floor, x, before) =>
      `  ${what}: ${fmt(x.oursMs)} ms vs ${fmt(x.floorMs)} ms ${floor} = ${fmt(x.ratio, 2)}× (+${fmt(x.oursMs - x.floorMs)} ms)` +
      (before ? `; last run ${fmt(before.oursMs)} ms, ${fmt(before.ratio, 2)}×` : '');
    out.push(
      '',
      `cold start (whole process, medians of ${cold.version.runs} paired runs):`,
      coldLine('mcpscope --version', 'for node -e 0', cold.version, lastCold?.version),
      coldLine(
        'spawn → tools/list through forward stdio',
        'spawning the server directly',
        cold.toolsList,
        lastCold?.toolsList,
      ),
    );
  }
  // What grew by half or more since the last run: a cost per message that doubled cannot pass unseen.
  const grew = [];
  for (const r of rows) {
    const before = lastRows.get(r.path);
    if (!before) continue;
    if (ratio(r.p50, before.p50) >= 1.5) grew.push(`${r.path}: p50 ${fmt(before.p50)} → ${fmt(r.p50)} µs`);
    if (ratio(r.cpuPerCall, before.cpuPerCall) >= 1.5)
      grew.push(`${r.path}: CPU per call ${fmt(before.cpuPerCall)} → ${fmt(r.cpuPerCall)} µs`);
  }
  for (const st of stages ?? []) {
    const before = lastStages.get(st.stages);
    if (before && ratio(st.nsPerCall, before.nsPerCall) >= 1.5)
      grew.push(`stage cost of ${st.stages}: ${fmt(before.nsPerCall)} → ${fmt(st.nsPerCall)} ns per call`);
  }
  if (cold && last?.cold) {
    for (const key of ['version', 'toolsList']) {
      const before = last.cold[key];
      const added = (x) => x.oursMs - x.floorMs;
      if (before && added(cold[key]) >= 1.5 * Math.max(added(before), 10))
        grew.push(
          `cold start (${key}): +${fmt(added(before))} → +${fmt(added(cold[key]))} ms over the floor`,
        );
    }
  }
  if (last)
    out.push(
      '',
      grew.length > 0
        ? `GREW since the last run (${last.date}): ${grew.join('; ')}`
        : `compared with the last run (${last.date}): nothing grew by half or more`,
    );
  if (stats) {
    out.push(
      `stats: recording a call into the windows costs ${fmt(stats.recordNs, 0)} ns on average; ` +
        `/stats and /stats/tools with ${stats.sessions} sessions and ${stats.tools} tools: p50 ${fmt(stats.p50Ms, 2)} ms, p95 ${fmt(stats.p95Ms, 2)} ms`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);

  const machine = {
    node: process.version,
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
  };
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  const file = `${ROOT}bench/results/${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(
    file,
    JSON.stringify(
      { date: new Date().toISOString(), quick: QUICK, config: CFG, machine, rows, stages, cold, idle },
      null,
      2,
    ),
  );
  progress(`figures written to ${file}`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
  process.exit(1);
});
