#!/usr/bin/env node
// node bench/framingDepth.mjs (after npm run build)
//
// What the MAX_DEPTH check at the door costs: parseFrame (which includes it) against the depth walk alone
// (nestsDeeperThan), per message, for message shapes from a ping to 1 MB. Prints ns per message and the
// walk's share of parseFrame.
import { performance } from 'node:perf_hooks';
import { MAX_DEPTH, nestsDeeperThan, parseFrame } from '../dist/jsonrpc/framing.js';

const schema = (i) => ({
  name: `tool_${i}`,
  description: `Tool number ${i}, which does something useful with its arguments`,
  inputSchema: {
    type: 'object',
    properties: {
      query: { type: 'string', description: 'what to look for' },
      limit: { type: 'integer', minimum: 1, maximum: 100 },
      filters: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' } } } },
    },
    required: ['query'],
  },
});
const samples = {
  'ping (40 B)': { jsonrpc: '2.0', id: 1, method: 'ping' },
  'tools/call (150 B)': {
    jsonrpc: '2.0',
    id: 7,
    method: 'tools/call',
    params: {
      name: 'search',
      arguments: { query: 'quarterly report', limit: 10 },
      _meta: { progressToken: 7 },
    },
  },
  'text result (2 KB)': {
    jsonrpc: '2.0',
    id: 7,
    result: { content: [{ type: 'text', text: 'lorem ipsum dolor sit amet '.repeat(75) }], isError: false },
  },
  'tools/list (40 tools)': {
    jsonrpc: '2.0',
    id: 2,
    result: { tools: Array.from({ length: 40 }, (_, i) => schema(i)) },
  },
  'text result (1 MB)': {
    jsonrpc: '2.0',
    id: 7,
    result: { content: [{ type: 'text', text: 'x'.repeat(1 << 20) }] },
  },
  'numbers (1 MB)': {
    jsonrpc: '2.0',
    id: 7,
    result: { values: Array.from({ length: 180_000 }, (_, i) => i) },
  },
};

function time(fn, minMs = 300) {
  for (let i = 0; i < 50; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    t = performance.now();
  }
  return ((t - t0) * 1e6) / n;
}

console.log(`MAX_DEPTH ${MAX_DEPTH}`);
console.log('message                    bytes   parseFrame ns   depth check ns   share');
for (const [name, msg] of Object.entries(samples)) {
  const raw = Buffer.from(JSON.stringify(msg));
  const value = JSON.parse(raw.toString('utf8'));
  let sink = 0;
  const parse = time(() => (sink += parseFrame(raw, Number.MAX_SAFE_INTEGER).raw.length));
  // parseFrame skips the walk for messages of 2 * MAX_DEPTH bytes or less.
  const check =
    raw.length > 2 * MAX_DEPTH ? time(() => (sink += nestsDeeperThan(value, MAX_DEPTH) ? 1 : 0)) : 0;
  console.log(
    `${name.padEnd(25)}${String(raw.length).padStart(8)}${parse.toFixed(0).padStart(16)}${check.toFixed(0).padStart(17)}` +
      `${`${((100 * check) / parse).toFixed(1)}%`.padStart(8)}${sink < 0 ? '' : ''}`,
  );
}
