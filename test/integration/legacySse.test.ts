import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  EXAMPLE,
  INIT,
  childrenOf,
  connectSse,
  connectStdio,
  startFixture,
  startHttpProxy,
  type RunningCli,
  type RunningFixture,
} from '../helpers.js';

const sseUrl = (proxyUrl: string): string => new URL('/sse', proxyUrl).href;

/** A raw legacy SSE stream: its endpoint, and the messages that come down it, parsed. */
async function rawStream(url: string): Promise<{
  endpoint: string;
  next(): Promise<Record<string, unknown>>;
  close(): void;
}> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events: Array<{ event: string; data: string }> = [];
  const waiters: Array<() => void> = [];
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data !== undefined) events.push({ event, data });
        waiters.shift()?.();
        end = buffer.indexOf('\n\n');
      }
    }
  })();
  const take = async (): Promise<{ event: string; data: string }> => {
    while (events.length === 0) await new Promise<void>((resolve) => waiters.push(resolve));
    return events.shift() as { event: string; data: string };
  };
  const first = await take();
  expect(first.event).toBe('endpoint');
  return {
    endpoint: new URL(first.data, url).href,
    next: async () => JSON.parse((await take()).data) as Record<string, unknown>,
    close: () => abort.abort(),
  };
}

function postTo(endpoint: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('legacy HTTP+SSE clients through forward http', () => {
  let proxy: RunningCli;
  beforeAll(async () => {
    proxy = await startHttpProxy(['--no-admin', '--', process.execPath, EXAMPLE]);
  });
  afterAll(async () => {
    await proxy.stop();
  });

  it('relays tools, progress, logging and sampling for an SDK SSEClientTransport', async () => {
    const c = await connectSse(sseUrl(proxy.url));
    expect(c.client.getServerVersion()?.name).toBe('mcpscope-example');
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['echo', 'add', 'slow', 'sample']),
    );
    expect((await c.client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).content).toEqual([
      { type: 'text', text: '42' },
    ]);
    await c.client.callTool({ name: 'echo', arguments: { message: 'legacy' } });
    await expect.poll(() => c.logs.length).toBeGreaterThan(0);
    const progress: number[] = [];
    // The SDK client handles a notification a microtask after an answer read in the same chunk, so the
    // last progress must come well before the answer (a stalled client would read them together).
    await c.client.callTool({ name: 'slow', arguments: { ms: 400, steps: 2 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress).toEqual([1, 2]);
    expect((await c.client.callTool({ name: 'sample', arguments: { prompt: 'old' } })).content).toEqual([
      { type: 'text', text: 'sampled: old' },
    ]);
    await c.client.close();
  });

  it('ends the session and its server process when the stream closes, once', async () => {
    const c = await connectSse(sseUrl(proxy.url));
    await c.client.ping();
    const pid = proxy.proc.pid as number;
    expect(childrenOf(pid).length).toBeGreaterThan(0);
    let closes = 0;
    c.transport.onclose = () => closes++;
    await c.client.close();
    await expect.poll(() => childrenOf(pid).length, { timeout: 10_000 }).toBe(0);
    expect(closes).toBe(1);
  });

  it('answers a malformed POST with 400 and a JSON-RPC error, and the session keeps working', async () => {
    const s = await rawStream(sseUrl(proxy.url));
    expect(new URL(s.endpoint).pathname).toBe('/messages');
    const bad = await postTo(s.endpoint, '{"jsonrpc":"2.0","id":1,');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: -32700, data: { code: 'PARSE_ERROR' } } });
    const ok = await postTo(s.endpoint, INIT);
    expect(ok.status).toBe(202);
    await ok.text();
    expect(await s.next()).toMatchObject({ id: 0, result: { serverInfo: { name: 'mcpscope-example' } } });
    await (await postTo(s.endpoint, { jsonrpc: '2.0', method: 'notifications/initialized' })).text();
    await (await postTo(s.endpoint, { jsonrpc: '2.0', id: 2, method: 'ping' })).text();
    expect(await s.next()).toEqual({ jsonrpc: '2.0', id: 2, result: {} });
    s.close();
  });

  it('answers an unknown or missing sessionId with 404 / 400 and a JSON-RPC error body', async () => {
    const messages = new URL('/messages', proxy.url).href;
    const unknown = await postTo(`${messages}?sessionId=00000000-0000-0000-0000-000000000000`, INIT);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({
      jsonrpc: '2.0',
      id: null,
      error: { data: { source: 'mcpscope', code: 'SESSION_NOT_FOUND' } },
    });
    const missing = await postTo(messages, INIT);
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { data: { code: 'SESSION_REQUIRED' } } });
    // A Streamable HTTP session id is no legacy session.
    const streamable = await fetch(proxy.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(INIT),
    });
    await streamable.text();
    const id = streamable.headers.get('mcp-session-id') as string;
    const cross = await postTo(`${messages}?sessionId=${id}`, { jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(cross.status).toBe(404);
    await cross.text();
    await (await fetch(proxy.url, { method: 'DELETE', headers: { 'mcp-session-id': id } })).text();
  });

  it('refuses a foreign Origin or Host on GET /sse and POST /messages with 403', async () => {
    const get = await fetch(sseUrl(proxy.url), { headers: { origin: 'https://evil.example' } });
    expect(get.status).toBe(403);
    expect(await get.json()).toMatchObject({ error: { data: { code: 'ORIGIN_FORBIDDEN' } } });
    const s = await rawStream(sseUrl(proxy.url));
    const post = await postTo(s.endpoint, INIT, { origin: 'https://evil.example' });
    expect(post.status).toBe(403);
    expect(await post.json()).toMatchObject({ error: { data: { code: 'ORIGIN_FORBIDDEN' } } });
    s.close();
    const local = await fetch(sseUrl(proxy.url), { headers: { origin: 'http://localhost:3000' } });
    expect(local.status).toBe(200);
    await local.body?.cancel();
  });
});

describe('legacy SSE limits and switches', () => {
  it('refuses GET /sse past --max-sessions with 503 and keeps the session it has', async () => {
    const proxy = await startHttpProxy([
      '--no-admin',
      '--max-sessions',
      '1',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    try {
      const first = await connectSse(sseUrl(proxy.url));
      const second = await fetch(sseUrl(proxy.url));
      expect(second.status).toBe(503);
      expect(await second.json()).toMatchObject({ error: { data: { code: 'TOO_MANY_SESSIONS' } } });
      await first.client.ping();
      await first.client.close();
    } finally {
      await proxy.stop();
    }
  });

  it('serves no legacy endpoints under --no-legacy-sse', async () => {
    const proxy = await startHttpProxy(['--no-admin', '--no-legacy-sse', '--', process.execPath, EXAMPLE]);
    try {
      const res = await fetch(sseUrl(proxy.url));
      expect(res.status).toBe(404);
      await res.text();
    } finally {
      await proxy.stop();
    }
  });
});

describe('forward stdio --upstream in front of a legacy HTTP+SSE server', () => {
  let fixture: RunningFixture;
  beforeAll(async () => {
    fixture = await startFixture('legacySseServer.mjs');
  });
  afterAll(async () => {
    await fixture.stop();
  });

  for (const forced of [[], ['--upstream-transport', 'sse']]) {
    const how = forced.length ? 'forced with --upstream-transport sse' : 'detected';
    it(`relays tools, progress, logging and sampling (${how})`, async () => {
      const c = await connectStdio([
        '--no-admin',
        '--log-level',
        'debug',
        '--upstream',
        fixture.url,
        ...forced,
      ]);
      expect(c.client.getServerVersion()?.name).toBe('fixture-legacy-sse');
      expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(['echo', 'slow', 'sample']);
      expect((await c.client.callTool({ name: 'echo', arguments: { message: 'old' } })).content).toEqual([
        { type: 'text', text: 'old' },
      ]);
      await expect.poll(() => c.logs.map((l) => l.data)).toContain('echo old');
      const progress: number[] = [];
      await c.client.callTool({ name: 'slow', arguments: { ms: 150 } }, undefined, {
        onprogress: (p) => progress.push(p.progress),
      });
      expect(progress).toEqual([1]);
      expect((await c.client.callTool({ name: 'sample', arguments: { prompt: 'up' } })).content).toEqual([
        { type: 'text', text: 'sampled: up' },
      ]);
      await c.client.close();
      if (!forced.length) expect(c.stderr()).toMatch(/"transport":"sse".*upstream transport detected/);
    });
  }

  it('fails a pending call with UPSTREAM_STREAM_LOST when the upstream goes away and reconnection fails', async () => {
    const own = await startFixture('legacySseServer.mjs');
    const c = await connectStdio(['--no-admin', '--upstream', own.url, '--upstream-transport', 'sse']);
    await c.client.ping();
    const closed = new Promise<void>((resolve) => (c.transport.onclose = resolve));
    const pending = c.client.callTool({ name: 'slow', arguments: { ms: 60_000 } }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    await own.stop();
    const err = (await pending) as McpError;
    expect(err).toBeInstanceOf(McpError);
    expect(err.data).toMatchObject({ source: 'mcpscope', code: 'UPSTREAM_STREAM_LOST' });
    await closed;
  });

  it('chains: an SDK SSE client → mcpscope (legacy in) → mcpscope (legacy out) → the legacy server', async () => {
    const front = await startHttpProxy(['--no-admin', '--upstream', fixture.url]);
    try {
      const c = await connectSse(sseUrl(front.url));
      expect(c.client.getServerVersion()?.name).toBe('fixture-legacy-sse');
      expect((await c.client.callTool({ name: 'echo', arguments: { message: 'twice' } })).content).toEqual([
        { type: 'text', text: 'twice' },
      ]);
      await c.client.close();
    } finally {
      await front.stop();
    }
  });
});

describe('forward stdio --upstream detection', () => {
  it('keeps Streamable HTTP when the upstream speaks it, and fails clearly when it speaks neither', async () => {
    const fixture = await startFixture('httpServer.mjs');
    try {
      const c = await connectStdio(['--no-admin', '--log-level', 'debug', '--upstream', fixture.url]);
      expect(c.client.getServerVersion()?.name).toBe('fixture-http');
      await c.client.ping();
      await c.client.close();
      expect(c.stderr()).toMatch(/"transport":"streamable-http".*upstream transport detected/);
    } finally {
      await fixture.stop();
    }
    // A URL that speaks neither (404 to the POST and to the GET): the initialize fails with a clear error.
    const plain = await startFixture('legacySseServer.mjs');
    try {
      const url = new URL('/nothing', plain.url).href;
      const err = (await connectStdio(['--no-admin', '--upstream', url]).catch(
        (e: unknown) => e,
      )) as McpError;
      expect(err).toBeInstanceOf(McpError);
      expect(err.data).toMatchObject({ source: 'mcpscope', code: 'UPSTREAM_PROTOCOL_ERROR', status: 404 });
    } finally {
      await plain.stop();
    }
  });
});
