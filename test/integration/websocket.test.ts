import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  EXAMPLE,
  INIT,
  childrenOf,
  connectStdio,
  connectWebSocket,
  startFixture,
  startHttpProxy,
  type RunningCli,
  type RunningFixture,
} from '../helpers.js';

const wsUrl = (httpUrl: string): string => httpUrl.replace(/^http/, 'ws');

/** A raw WebSocket to mcpscope that collects what it is sent, parsed. */
async function rawSocket(url: string): Promise<{
  ws: WebSocket;
  next(): Promise<Record<string, unknown>>;
  closed: Promise<number>;
}> {
  const ws = new WebSocket(url, 'mcp');
  const queue: Record<string, unknown>[] = [];
  const waiters: Array<(v: Record<string, unknown>) => void> = [];
  ws.on('message', (data: Buffer) => {
    const value = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    const w = waiters.shift();
    if (w) w(value);
    else queue.push(value);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws,
    closed,
    next: () => {
      const v = queue.shift();
      return v ? Promise.resolve(v) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

/** The HTTP answer to an upgrade that mcpscope refused. */
async function refusedUpgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const ws = new WebSocket(url, 'mcp', { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('error', () => undefined);
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
      );
    });
  });
}

describe('WebSocket clients through forward http', () => {
  let proxy: RunningCli;
  beforeAll(async () => {
    proxy = await startHttpProxy([
      '--no-admin',
      '--max-message-bytes',
      '4096',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
  });
  afterAll(async () => {
    await proxy.stop();
  });

  it('relays tools, progress, logging and sampling for an SDK WebSocket client', async () => {
    const c = await connectWebSocket(wsUrl(proxy.url));
    expect(c.client.getServerVersion()?.name).toBe('mcpscope-example');
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['echo', 'add', 'slow', 'sample']),
    );
    expect((await c.client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).content).toEqual([
      { type: 'text', text: '5' },
    ]);
    await c.client.callTool({ name: 'echo', arguments: { message: 'over ws' } });
    await expect.poll(() => c.logs.length).toBeGreaterThan(0);
    const progress: number[] = [];
    // The SDK client handles a notification a microtask after an answer read in the same chunk, so the
    // last progress must come well before the answer (a stalled client would read them together).
    await c.client.callTool({ name: 'slow', arguments: { ms: 450, steps: 3 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress).toEqual([1, 2, 3]);
    expect((await c.client.callTool({ name: 'sample', arguments: { prompt: 'hi' } })).content).toEqual([
      { type: 'text', text: 'sampled: hi' },
    ]);
    await c.client.close();
  });

  it('ends the session and its server process when the socket closes, once', async () => {
    const c = await connectWebSocket(wsUrl(proxy.url));
    await c.client.ping();
    const pid = proxy.proc.pid as number;
    expect(childrenOf(pid).length).toBeGreaterThan(0);
    let closes = 0;
    c.transport.onclose = () => closes++;
    await c.client.close();
    await expect.poll(() => childrenOf(pid).length, { timeout: 10_000 }).toBe(0);
    expect(closes).toBe(1);
  });

  it('answers a malformed frame with a JSON-RPC error on the socket, and the session keeps working', async () => {
    const s = await rawSocket(wsUrl(proxy.url));
    s.ws.send('{"jsonrpc":"2.0","id":1,"method":');
    expect(await s.next()).toMatchObject({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, data: { source: 'mcpscope', code: 'PARSE_ERROR' } },
    });
    s.ws.send(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' })), { binary: true });
    expect(await s.next()).toMatchObject({ error: { code: -32600, data: { code: 'INVALID_REQUEST' } } });
    s.ws.send('{"jsonrpc":"2.0","id":"x"}');
    expect(await s.next()).toMatchObject({ id: 'x', error: { data: { code: 'INVALID_REQUEST' } } });
    s.ws.send(JSON.stringify(INIT));
    expect(await s.next()).toMatchObject({ id: 0, result: { serverInfo: { name: 'mcpscope-example' } } });
    s.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    s.ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: { name: 'add', arguments: { a: 1, b: 1 } },
      }),
    );
    expect(await s.next()).toMatchObject({ id: 3, result: { content: [{ type: 'text', text: '2' }] } });
    s.ws.close();
    await s.closed;
  });

  it('closes a socket that sends a frame over --max-message-bytes with 1009, and other sessions go on', async () => {
    const other = await connectWebSocket(wsUrl(proxy.url));
    const s = await rawSocket(wsUrl(proxy.url));
    s.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(5000) } }));
    expect(await s.closed).toBe(1009);
    await other.client.ping();
    await other.client.close();
  });

  it('refuses a foreign Origin and a foreign Host with 403 before upgrading', async () => {
    const origin = await refusedUpgrade(wsUrl(proxy.url), { origin: 'https://evil.example' });
    expect(origin.status).toBe(403);
    expect(origin.body).toMatchObject({ error: { data: { code: 'ORIGIN_FORBIDDEN' } } });
    const host = await refusedUpgrade(wsUrl(proxy.url), { host: 'evil.example' });
    expect(host.status).toBe(403);
    expect(host.body).toMatchObject({ error: { data: { code: 'ORIGIN_FORBIDDEN' } } });
    const local = await connectWebSocket(wsUrl(proxy.url));
    await local.client.close();
  });

  it('answers an upgrade on another path with 404', async () => {
    const other = await refusedUpgrade(wsUrl(new URL('/elsewhere', proxy.url).href));
    expect(other.status).toBe(404);
  });
});

describe('WebSocket limits and switches', () => {
  it('refuses upgrades past --max-sessions with 503 and keeps the sessions it has', async () => {
    const proxy = await startHttpProxy([
      '--no-admin',
      '--max-sessions',
      '1',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    try {
      const first = await connectWebSocket(wsUrl(proxy.url));
      const second = await refusedUpgrade(wsUrl(proxy.url));
      expect(second.status).toBe(503);
      expect(second.body).toMatchObject({ error: { data: { code: 'TOO_MANY_SESSIONS' } } });
      await first.client.ping();
      await first.client.close();
    } finally {
      await proxy.stop();
    }
  });

  it('accepts no upgrade under --no-websocket', async () => {
    const proxy = await startHttpProxy(['--no-admin', '--no-websocket', '--', process.execPath, EXAMPLE]);
    try {
      expect((await refusedUpgrade(wsUrl(proxy.url))).status).toBe(404);
    } finally {
      await proxy.stop();
    }
  });
});

describe('forward stdio --upstream ws:// in front of a WebSocket MCP server', () => {
  let fixture: RunningFixture;
  beforeAll(async () => {
    fixture = await startFixture('webSocketServer.mjs');
  });
  afterAll(async () => {
    await fixture.stop();
  });

  it('relays tools, progress, logging and sampling', async () => {
    const c = await connectStdio(['--no-admin', '--upstream', fixture.url]);
    expect(c.client.getServerVersion()?.name).toBe('fixture-websocket');
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(['echo', 'slow', 'sample']);
    expect((await c.client.callTool({ name: 'echo', arguments: { message: 'to ws' } })).content).toEqual([
      { type: 'text', text: 'to ws' },
    ]);
    await expect.poll(() => c.logs.map((l) => l.data)).toContain('echo to ws');
    const progress: number[] = [];
    await c.client.callTool({ name: 'slow', arguments: { ms: 150 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress).toEqual([1]);
    expect((await c.client.callTool({ name: 'sample', arguments: { prompt: 'up' } })).content).toEqual([
      { type: 'text', text: 'sampled: up' },
    ]);
    await c.client.close();
  });

  it('fails a pending call with UPSTREAM_STREAM_LOST when the upstream socket goes away', async () => {
    const own = await startFixture('webSocketServer.mjs');
    const c = await connectStdio(['--no-admin', '--upstream', own.url]);
    await c.client.ping();
    const closed = new Promise<void>((resolve) => (c.transport.onclose = resolve));
    const pending = c.client.callTool({ name: 'slow', arguments: { ms: 30_000 } }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    await own.stop();
    const err = (await pending) as McpError;
    expect(err).toBeInstanceOf(McpError);
    expect(err.data).toMatchObject({ source: 'mcpscope', code: 'UPSTREAM_STREAM_LOST' });
    await closed;
  });
});
