import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  connectHttp,
  startFixture,
  startHttpProxy,
  type RunningCli,
  type RunningFixture,
} from '../helpers.js';

describe('forward http --upstream in front of an SDK Streamable HTTP server', () => {
  let fixture: RunningFixture;
  let proxy: RunningCli;
  beforeAll(async () => {
    fixture = await startFixture('httpServer.mjs');
    proxy = await startHttpProxy([
      '--upstream',
      fixture.url,
      '--upstream-header',
      'Authorization: Bearer upstream-secret',
    ]);
  });
  afterAll(async () => {
    await proxy.stop();
    await fixture.stop();
  });

  it('relays tools, progress, logging and sampling', async () => {
    const c = await connectHttp(proxy.url);
    expect(c.client.getServerVersion()?.name).toBe('fixture-http');
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['echo', 'slow', 'sample', 'whoami']),
    );
    expect((await c.client.callTool({ name: 'echo', arguments: { message: 'via http' } })).content).toEqual([
      { type: 'text', text: 'via http' },
    ]);
    await expect.poll(() => c.logs.map((l) => l.data)).toContain('echo via http');
    const progress: number[] = [];
    const slow = await c.client.callTool({ name: 'slow', arguments: { ms: 150 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(slow.content).toEqual([{ type: 'text', text: 'slept 150' }]);
    expect(progress).toEqual([1]);
    expect((await c.client.callTool({ name: 'sample', arguments: { prompt: 'up' } })).content).toEqual([
      { type: 'text', text: 'sampled: up' },
    ]);
    await c.transport.terminateSession();
    await c.client.close();
  });

  it("sends the configured upstream credentials, never the client's bearer token", async () => {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport } =
      await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const client = new Client({ name: 'token-holder', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(proxy.url), {
      requestInit: { headers: { authorization: 'Bearer client-secret' } },
    });
    await client.connect(transport);
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    expect(who.content).toEqual([{ type: 'text', text: 'Bearer upstream-secret' }]);
    await client.close();
  });

  it('keeps several sessions apart, each with its own upstream session', async () => {
    const clients = await Promise.all(Array.from({ length: 5 }, (_, i) => connectHttp(proxy.url, `c${i}`)));
    const texts = await Promise.all(
      clients.map((c, i) => c.client.callTool({ name: 'echo', arguments: { message: `m${i}` } })),
    );
    texts.forEach((t, i) => expect(t.content).toEqual([{ type: 'text', text: `m${i}` }]));
    await Promise.all(clients.map((c) => c.client.close()));
  });

  it('holds more sessions than a connection pool would (each keeps an upstream GET stream open)', async () => {
    const { rawSession, post } = await import('../helpers.js');
    const ids: string[] = [];
    for (let i = 0; i < 160; i++) ids.push(await rawSession(proxy.url));
    const res = await post(
      proxy.url,
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { 'mcp-session-id': ids.at(-1) ?? '' },
    );
    expect(res.status).toBe(200);
    await res.text();
    await Promise.all(
      ids.map((id) => fetch(proxy.url, { method: 'DELETE', headers: { 'mcp-session-id': id } })),
    );
  });

  it('answers with UPSTREAM_UNREACHABLE when the upstream is down, and recovers when it is back', async () => {
    const port = new URL(fixture.url).port;
    const c = await connectHttp(proxy.url);
    await fixture.stop();
    const err = await c.client
      .callTool({ name: 'echo', arguments: { message: 'x' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).data).toMatchObject({ source: 'mcpscope', code: 'UPSTREAM_UNREACHABLE' });
    expect((err as McpError).message).toMatch(/could not be reached/);
    await c.client.close();
    // Same port again: a new session works.
    fixture = await startFixture('httpServer.mjs', [port]);
    const again = await connectHttp(proxy.url);
    expect((await again.client.callTool({ name: 'echo', arguments: { message: 'back' } })).content).toEqual([
      { type: 'text', text: 'back' },
    ]);
    await again.client.close();
  });
});
