#!/usr/bin/env node
// node bench/coldStart.mjs [runs] (after npm run build); also `npm run bench -- --cold-start-only`.
//
// Whole-process start-up, paired and alternating (each pair runs back to back, in turns of order), medians
// over the runs:
// - `mcpscope --version` against `node -e 0`: from spawn to exit.
// - spawn → `tools/list` answered: an MCP client's launch of a small SDK server (bench/echoServer.mjs),
//   directly and through `mcpscope forward stdio`, from spawn to the answer of tools/list (initialize,
//   notifications/initialized, tools/list, as a client sends them, each written at once).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = `${ROOT}dist/cli/main.js`;
const ECHO = `${ROOT}bench/echoServer.mjs`;
const NODE = process.execPath;

/** ms from spawn to exit (code 0 expected). */
function untilExit(args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(NODE, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(performance.now() - t0) : reject(new Error(`exit ${code}: ${err}`)),
    );
  });
}

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cold', version: '1' } },
};

/** ms from spawn to the answer of tools/list, as a client would drive it. */
function untilToolsList(args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(NODE, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => finish(new Error(`no answer in 20 s: ${err.slice(0, 300)}`)), 20_000);
    const finish = (failure, ms) => {
      clearTimeout(timer);
      child.kill('SIGTERM');
      child.once('exit', () => (failure ? reject(failure) : resolve(ms)));
    };
    child.stderr.on('data', (c) => (err += c));
    child.once('error', (e) => finish(e));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      let nl;
      while ((nl = out.indexOf('\n')) !== -1) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const msg = JSON.parse(line);
        if (msg.id === 1) {
          child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
          child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' })}\n`);
        } else if (msg.id === 2) finish(undefined, performance.now() - t0);
      }
    });
    // A client writes initialize as soon as it has spawned the server.
    child.stdin.write(`${JSON.stringify(INIT)}\n`);
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Pairs of (floor, mcpscope) timings, alternating which goes first. */
async function paired(runs, floor, ours, progress) {
  const a = [];
  const b = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      a.push(await floor());
      b.push(await ours());
    } else {
      b.push(await ours());
      a.push(await floor());
    }
    progress?.(`  ${i + 1}/${runs}: ${a.at(-1).toFixed(0)} vs ${b.at(-1).toFixed(0)} ms`);
  }
  return { floorMs: median(a), oursMs: median(b), ratio: median(b) / median(a), runs };
}

export async function coldStart({ runs = 10, progress } = {}) {
  progress?.('cold start: node -e 0 vs mcpscope --version');
  const version = await paired(
    runs,
    () => untilExit(['-e', '0']),
    () => untilExit([CLI, '--version']),
    progress,
  );
  progress?.('cold start: spawn → tools/list, direct vs through mcpscope forward stdio');
  const toolsList = await paired(
    runs,
    () => untilToolsList([ECHO, 'stdio']),
    () =>
      untilToolsList([
        CLI,
        'forward',
        'stdio',
        '--admin-port',
        '0',
        '--log-level',
        'warn',
        '--',
        NODE,
        ECHO,
        'stdio',
      ]),
    progress,
  );
  return { version, toolsList };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv[2] ?? 10);
  const r = await coldStart({ runs, progress: (m) => process.stderr.write(`${m}\n`) });
  const line = (what, floor, x) =>
    `${what}: ${x.oursMs.toFixed(0)} ms vs ${x.floorMs.toFixed(0)} ms ${floor} = ${x.ratio.toFixed(2)}× (+${(x.oursMs - x.floorMs).toFixed(0)} ms; medians of ${x.runs} paired runs)`;
  process.stdout.write(
    `${line('mcpscope --version', 'for node -e 0', r.version)}\n${line('spawn → tools/list through forward stdio', 'spawning the server directly', r.toolsList)}\n`,
  );
}
