// test/conformance/eraGate.mjs, the gate that makes the conformance suite's dual-era reference server look
// like a server of one era for the bridged conformance runs: what it refuses, and that everything else (SSE
// streams and their hang-ups included) passes through unchanged. A gate that leaks or alters would make the
// bridge floor measure the wrong thing.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const GATE = fileURLToPath(new URL('../conformance/eraGate.mjs', import.meta.url));

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An upstream that records each request, answers POSTs with JSON, and GETs with an SSE stream it keeps open. */
function startUpstream(): Promise<{
  url: string;
  seen: Seen[];
  sseClosed: Promise<void>;
  close(): Promise<void>;
}> {
  const seen: Seen[] = [];
  let sseGone: () => void = () => {};
  const sseClosed = new Promise<void>((resolve) => (sseGone = resolve));
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 's1' });
        res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\n\n');
        res.on('close', () => sseGone());
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': 'yes' });
      res.end(JSON.stringify({ echo: body.length }));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/mcp`,
        seen,
        sseClosed,
        close: () => {
          server.closeAllConnections();
          return new Promise((r) => server.close(() => r()));
        },
      });
    }),
  );
}

function startGate(only: string, upstream: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [GATE, '--only', only, '--upstream', upstream], { stdio: 'pipe' });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\S+)/.exec(out);
      if (m) resolve({ proc, url: m[1] as string });
    });
    proc.once('exit', (code) => reject(new Error(`eraGate exited (${code})`)));
  });
}

const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
};

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

describe('eraGate', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let legacy: Awaited<ReturnType<typeof startGate>>;
  let modern: Awaited<ReturnType<typeof startGate>>;

  beforeAll(async () => {
    upstream = await startUpstream();
    legacy = await startGate('legacy', upstream.url);
    modern = await startGate('modern', upstream.url);
  });
  afterAll(async () => {
    legacy?.proc.kill();
    modern?.proc.kill();
    await upstream?.close();
  });

  it('--only legacy refuses the 2026-07-28 envelope or header as an SDK v1 server does', async () => {
    const before = upstream.seen.length;
    const v1Refusal = {
      jsonrpc: '2.0',
      error: { code: -32000, message: 'Bad Request: Unsupported protocol version' },
      id: null,
    };
    const enveloped = await post(legacy.url, {
      jsonrpc: '2.0',
      id: 1,
      method: 'server/discover',
      params: { _meta: ENVELOPE },
    });
    expect(enveloped.status).toBe(400);
    expect(JSON.parse(enveloped.text)).toEqual(v1Refusal);
    const headerOnly = await post(
      legacy.url,
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { 'mcp-protocol-version': '2026-07-28' },
    );
    expect(headerOnly.status).toBe(400);
    expect(JSON.parse(headerOnly.text)).toEqual(v1Refusal);
    const batch = await post(legacy.url, [
      { jsonrpc: '2.0', id: 3, method: 'tools/list' },
      { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: ENVELOPE } },
    ]);
    expect(batch.status).toBe(400);
    expect(upstream.seen.length).toBe(before);
  });

  it('--only legacy passes 2025 traffic through unchanged: body, headers, query, status, SSE and hang-up', async () => {
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    };
    const res = await post(`${legacy.url}?x=1`, init, { 'mcp-protocol-version': '2025-11-25', origin: 'o' });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-upstream')).toBe('yes');
    const got = upstream.seen.at(-1) as Seen;
    expect(got).toMatchObject({ method: 'POST', url: '/mcp?x=1', body: JSON.stringify(init) });
    expect(got.headers).toMatchObject({ 'mcp-protocol-version': '2025-11-25', origin: 'o' });
    // The Host the client used reaches the server (its DNS rebinding protection judges it).
    expect(got.headers.host).toBe(new URL(legacy.url).host);

    const controller = new AbortController();
    const sse = await fetch(legacy.url, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': 's1' },
      signal: controller.signal,
    });
    expect(sse.status).toBe(200);
    expect(sse.headers.get('content-type')).toBe('text/event-stream');
    const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value as Uint8Array).toString()).toContain('notifications/tools/list_changed');
    expect(upstream.seen.at(-1)).toMatchObject({ method: 'GET' });
    expect(upstream.seen.at(-1)?.headers['mcp-session-id']).toBe('s1');
    controller.abort();
    await expect(upstream.sseClosed).resolves.toBeUndefined();
  });

  it('--only modern refuses 2025 requests with -32022, takes 2025 notifications, and has no GET or DELETE', async () => {
    const before = upstream.seen.length;
    const init = await post(modern.url, {
      jsonrpc: '2.0',
      id: 'i',
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    expect(init.status).toBe(400);
    expect(JSON.parse(init.text)).toEqual({
      jsonrpc: '2.0',
      id: 'i',
      error: {
        code: -32022,
        message: 'Unsupported protocol version: 2025-06-18',
        data: { supported: ['2026-07-28'], requested: '2025-06-18' },
      },
    });
    const call = await post(
      modern.url,
      { jsonrpc: '2.0', id: 7, method: 'tools/list' },
      { 'mcp-protocol-version': '2025-11-25', 'mcp-session-id': 's1' },
    );
    expect(call.status).toBe(400);
    expect(JSON.parse(call.text)).toMatchObject({ id: 7, error: { code: -32022 } });
    const note = await post(modern.url, { jsonrpc: '2.0', method: 'notifications/initialized' });
    expect(note.status).toBe(202);
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(modern.url, { method, headers: { 'mcp-session-id': 's1' } });
      expect(res.status).toBe(405);
    }
    expect(upstream.seen.length).toBe(before);
  });

  it('--only modern passes 2026-07-28 requests through, malformed ones (a modern header, no envelope) too', async () => {
    const discover = { jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: ENVELOPE } };
    const res = await post(modern.url, discover, { 'mcp-protocol-version': '2026-07-28' });
    expect(res.status).toBe(201);
    expect(upstream.seen.at(-1)?.body).toBe(JSON.stringify(discover));
    const malformed = await post(
      modern.url,
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { 'mcp-protocol-version': '2026-07-28' },
    );
    expect(malformed.status).toBe(201);
  });
});
