// Hardening checklist, items 1–5: malformed and oversized input.
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DEPTH } from '../../src/jsonrpc/framing.js';
import {
  EXAMPLE,
  INIT,
  MCP_HEADERS,
  jsonLines,
  post,
  rawSession,
  spawnCli,
  sseEvents,
  startHttpProxy,
  type RunningCli,
} from '../helpers.js';

const ping = (id: number | string) => ({ jsonrpc: '2.0', id, method: 'ping' });
const DEEP_ANSWER = fileURLToPath(new URL('../fixtures/servers/deepAnswer.mjs', import.meta.url));

/** A tools/call whose arguments nest `levels` deep. */
const deepCall = (id: number, levels: number): string =>
  `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"add","arguments":{"a":${'['.repeat(levels)}${']'.repeat(levels)},"b":1}}}`;

function stdioProxy(args: string[] = [], server = [process.execPath, EXAMPLE]) {
  const proc = spawnCli(['forward', 'stdio', '--no-admin', ...args, '--', ...server]);
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const out = jsonLines(proc);
  const send = (line: string | Buffer) => proc.stdin.write(typeof line === 'string' ? `${line}\n` : line);
  return { proc, out, send, stderr: () => stderr, exited: new Promise((r) => proc.once('exit', r)) };
}

describe('hardening: malformed and oversized input', () => {
  let http: RunningCli;
  let sid: string;
  beforeAll(async () => {
    http = await startHttpProxy(['--no-admin', '--', process.execPath, EXAMPLE]);
    sid = await rawSession(http.url);
  });
  afterAll(async () => {
    await http.stop();
  });

  it('1. truncated JSON, bad jsonrpc, non-string method, object or float id: -32700/-32600, stdio stream survives', async () => {
    const p = stdioProxy();
    p.send(JSON.stringify(INIT));
    await p.out.next();
    const cases: Array<[string, number, string]> = [
      ['{"jsonrpc":"2.0","id":1,"meth', -32700, 'PARSE_ERROR'],
      ['{"jsonrpc":"1.0","id":2,"method":"ping"}', -32600, 'INVALID_REQUEST'],
      ['{"jsonrpc":"2.0","id":3,"method":42}', -32600, 'INVALID_REQUEST'],
      ['{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}', -32600, 'INVALID_REQUEST'],
      ['{"jsonrpc":"2.0","id":4.5,"method":"ping"}', -32600, 'INVALID_REQUEST'],
    ];
    for (const [line, code, name] of cases) {
      p.send(line);
      expect(await p.out.next()).toMatchObject({ error: { code, data: { source: 'mcpscope', code: name } } });
    }
    p.send(JSON.stringify(ping(5)));
    expect(await p.out.next()).toEqual({ jsonrpc: '2.0', id: 5, result: {} });
    p.proc.stdin.end();
    expect(await p.exited).toBe(0);
  });

  it('1. the same over HTTP: 400 with a JSON-RPC error body, and the session keeps working', async () => {
    const h = { 'mcp-session-id': sid };
    for (const [body, code] of [
      ['{"jsonrpc":"2.0","id":1,"meth', -32700],
      ['{"jsonrpc":"1.0","id":2,"method":"ping"}', -32600],
      ['{"jsonrpc":"2.0","id":3,"method":42}', -32600],
      ['{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}', -32600],
      ['{"jsonrpc":"2.0","id":4.5,"method":"ping"}', -32600],
    ] as const) {
      const res = await post(http.url, body, h);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toMatchObject({
        jsonrpc: '2.0',
        error: { code, data: { source: 'mcpscope' } },
      });
    }
    const ok = await post(http.url, ping(6), h);
    expect(sseEvents(await ok.text()).map((e) => JSON.parse(e.data))).toEqual([
      { jsonrpc: '2.0', id: 6, result: {} },
    ]);
  });

  it('1. an id that is a number but no valid id (7.5, 7e400, 1e308) is answered with "id": null, never truncated', async () => {
    const p = stdioProxy(['--max-message-bytes', '4096']);
    p.send(JSON.stringify(INIT));
    await p.out.next();
    const big = 'x'.repeat(8192);
    for (const id of ['7.5', '7e400', '1e308']) {
      p.send(`{"jsonrpc":"2.0","id":${id},"method":"ping"}`);
      expect(await p.out.next(), id).toMatchObject({ id: null, error: { code: -32600 } });
      // Too large to parse: the id is read from its first bytes, by the same rule.
      p.send(`{"jsonrpc":"2.0","id":${id},"method":"ping","params":{"x":"${big}"}}`);
      expect(await p.out.next(), id).toMatchObject({
        id: null,
        error: { data: { code: 'MESSAGE_TOO_LARGE' } },
      });
    }
    p.send(`{"jsonrpc":"2.0","id":8,"method":"ping","params":{"x":"${big}"}}`);
    expect(await p.out.next()).toMatchObject({ id: 8, error: { data: { code: 'MESSAGE_TOO_LARGE' } } });
    p.send(JSON.stringify(ping(9)));
    expect(await p.out.next()).toEqual({ jsonrpc: '2.0', id: 9, result: {} });
    p.proc.stdin.end();
    expect(await p.exited).toBe(0);

    for (const id of ['7.5', '7e400', '1e308']) {
      const res = await post(http.url, `{"jsonrpc":"2.0","id":${id},"method":"ping"}`, {
        'mcp-session-id': sid,
      });
      expect(res.status).toBe(400);
      expect(await res.json(), id).toMatchObject({ id: null, error: { code: -32600 } });
    }
  });

  it('2. a JSON-RPC batch: 400 / -32600 BATCH_NOT_SUPPORTED (stdio and HTTP)', async () => {
    const res = await post(http.url, [ping(1), ping(2)], { 'mcp-session-id': sid });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { code: -32600, data: { code: 'BATCH_NOT_SUPPORTED' } },
    });
    const p = stdioProxy();
    p.send(JSON.stringify([ping(1)]));
    expect(await p.out.next()).toMatchObject({
      id: null,
      error: { code: -32600, data: { code: 'BATCH_NOT_SUPPORTED' } },
    });
    p.proc.stdin.end();
    await p.exited;
  });

  it('3. invalid UTF-8, lone surrogates, 5,000-level nesting, __proto__ keys: clear answers, no crash', async () => {
    const p = stdioProxy();
    p.send(JSON.stringify(INIT));
    await p.out.next();
    p.send(
      Buffer.concat([
        Buffer.from('{"jsonrpc":"2.0","id":1,"method":"p\xff'),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.from('"}\n'),
      ]),
    );
    expect(await p.out.next()).toMatchObject({
      id: null,
      error: { code: -32700, data: { code: 'PARSE_ERROR' } },
    });
    // An escaped lone surrogate is valid JSON: it is passed on and the server answers it.
    p.send(
      '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"\\ud800"}}}',
    );
    const log = await p.out.next();
    expect(log).toMatchObject({ method: 'notifications/message' });
    expect(await p.out.next()).toMatchObject({ id: 2, result: { content: [{ type: 'text' }] } });
    p.send(deepCall(3, 5_000));
    expect(await p.out.next()).toMatchObject({
      id: 3,
      error: { code: -32600, data: { code: 'INVALID_REQUEST', maxDepth: MAX_DEPTH } },
    });
    p.send(
      '{"jsonrpc":"2.0","id":4,"method":"ping","params":{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}}',
    );
    expect(await p.out.next()).toEqual({ jsonrpc: '2.0', id: 4, result: {} });
    p.send(JSON.stringify(ping(5)));
    expect(await p.out.next()).toEqual({ jsonrpc: '2.0', id: 5, result: {} });
    p.proc.stdin.end();
    expect(await p.exited).toBe(0);
  });

  it('3. 5,000-level nesting from either side is refused at the door (MAX_DEPTH); the tape replays and exports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-deep-'));
    const p = stdioProxy(['--record', dir], [process.execPath, DEEP_ANSWER]);
    p.send(JSON.stringify(INIT));
    await p.out.next();
    p.send(deepCall(1, 5_000));
    expect(await p.out.next()).toMatchObject({
      id: 1,
      error: { code: -32600, message: expect.stringContaining(`${MAX_DEPTH} levels`) as unknown },
    });
    // The server's answer nested 5,000 levels deep: the caller gets an error for it, and nothing hangs.
    p.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'deep' } }));
    expect(await p.out.next()).toMatchObject({ id: 2, error: { data: { code: 'UPSTREAM_PROTOCOL_ERROR' } } });
    p.send(JSON.stringify(ping(3)));
    expect(await p.out.next()).toEqual({ jsonrpc: '2.0', id: 3, result: {} });
    p.proc.stdin.end();
    expect(await p.exited).toBe(0);

    const tape = readdirSync(dir).map((f) => join(dir, f))[0] as string;
    await expect.poll(() => readFileSync(tape, 'utf8')).toContain('"closed"');
    expect(readFileSync(tape, 'utf8')).not.toContain('['.repeat(MAX_DEPTH));
    // Everything its own tools read: export (HAR is valid JSON) and replay.
    const har = spawnCli(['tape', 'export', tape, '--format', 'har']);
    let text = '';
    har.stdout.on('data', (c: Buffer) => (text += c.toString()));
    expect(await new Promise((r) => har.once('exit', r))).toBe(0);
    expect((JSON.parse(text) as { log: { entries: unknown[] } }).log.entries.length).toBeGreaterThanOrEqual(
      2,
    );
    const replay = spawnCli(['replay', tape, '--no-admin']);
    const out = jsonLines(replay);
    replay.stdin.write(`${JSON.stringify(INIT)}\n${JSON.stringify(ping(9))}\n`);
    expect(await out.next()).toMatchObject({ id: 0, result: { serverInfo: { name: 'deep-answer' } } });
    expect(await out.next()).toEqual({ jsonrpc: '2.0', id: 9, result: {} });
    replay.stdin.end();
    expect(await new Promise((r) => replay.once('exit', r))).toBe(0);
  });

  it('3. the same over HTTP: 400 / -32600 naming MAX_DEPTH, and the session keeps working', async () => {
    const h = { 'mcp-session-id': sid };
    const res = await post(http.url, deepCall(4, 5_000), h);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      id: 4,
      error: { code: -32600, data: { code: 'INVALID_REQUEST', maxDepth: MAX_DEPTH } },
    });
    const ok = await post(http.url, ping(5), h);
    expect(sseEvents(await ok.text()).map((e) => JSON.parse(e.data))).toEqual([
      { jsonrpc: '2.0', id: 5, result: {} },
    ]);
  });

  it('4. an answer to no pending request, from either side: dropped and logged once', async () => {
    const p = stdioProxy();
    p.send(JSON.stringify(INIT));
    await p.out.next();
    p.send('{"jsonrpc":"2.0","id":"ghost-1","result":{}}');
    p.send('{"jsonrpc":"2.0","id":"ghost-2","result":{}}');
    p.send(JSON.stringify(ping(9)));
    expect(await p.out.next()).toEqual({ jsonrpc: '2.0', id: 9, result: {} });
    p.proc.stdin.end();
    await p.exited;
    const warnings = p
      .stderr()
      .split('\n')
      .filter((l) => l.includes('client answered a request the server never sent'));
    expect(warnings).toHaveLength(1);
    // Counted: test/integration/metrics.test.ts reads mcpscope_messages_dropped_total{reason="unmatched_response"}.
  });

  it('5. a 50 MB POST, with Content-Length and chunked: 413 before it is buffered', async () => {
    const h = { 'mcp-session-id': sid };
    const big = Buffer.alloc(50 * 1024 * 1024, 0x20);
    const withLength = await post(http.url, big.toString(), h);
    expect(withLength.status).toBe(413);
    await withLength.text();
    let sent = 0;
    const chunk = new Uint8Array(1024 * 1024).fill(0x20);
    const chunked = await fetch(http.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, ...h },
      body: new ReadableStream<Uint8Array>({
        pull: (c) => (sent++ < 50 ? c.enqueue(chunk) : c.close()),
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toMatchObject({ error: { data: { code: 'MESSAGE_TOO_LARGE' } } });
    const ok = await post(http.url, ping(7), h);
    expect(ok.status).toBe(200);
    await ok.text();
  });

  it('5. a 100 MB stdio line without a newline: dropped by the line cap with bounded memory, then resync', async () => {
    const p = stdioProxy();
    p.send(JSON.stringify(INIT));
    await p.out.next();
    const mb = Buffer.alloc(1024 * 1024, 0x61);
    p.proc.stdin.write('{"jsonrpc":"2.0","id":"huge","method":"ping","params":{"x":"');
    for (let i = 0; i < 100; i++) {
      if (!p.proc.stdin.write(mb)) await new Promise((r) => p.proc.stdin.once('drain', r));
    }
    p.send('"}}');
    expect(await p.out.next()).toMatchObject({
      id: 'huge',
      error: { code: -32600, data: { code: 'MESSAGE_TOO_LARGE' } },
    });
    p.send(JSON.stringify(ping(8)));
    expect(await p.out.next()).toEqual({ jsonrpc: '2.0', id: 8, result: {} });
    const peakKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p.proc.pid}/status`, 'utf8'))?.[1]);
    expect(peakKb).toBeLessThan(200 * 1024); // never held the 100 MB line
    p.proc.stdin.end();
    await p.exited;
  });

  it('5. 64 KiB of request headers: 431', async () => {
    const res = await fetch(http.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': sid, 'x-padding': 'p'.repeat(64 * 1024) },
      body: JSON.stringify(ping(1)),
    });
    expect(res.status).toBe(431);
    await res.text();
  });
});
