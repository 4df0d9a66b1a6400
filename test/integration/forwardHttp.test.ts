import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  EXAMPLE,
  INIT,
  MCP_HEADERS,
  connectHttp,
  post,
  rawSession,
  sseEvents,
  startHttpProxy,
  type RunningCli,
} from '../helpers.js';

const call = (
  id: number | string,
  name: string,
  args: Record<string, unknown>,
  meta?: Record<string, unknown>,
) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
});

describe('forward http in front of the example server', () => {
  let proxy: RunningCli;
  beforeAll(async () => {
    proxy = await startHttpProxy(['--', process.execPath, EXAMPLE]);
  });
  afterAll(async () => {
    expect(await proxy.stop()).toBe(0);
  });

  it('relays tools, resources, prompts, progress, logging and sampling to an SDK client', async () => {
    const c = await connectHttp(proxy.url);
    expect(c.transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(c.client.getServerVersion()?.name).toBe('mcpscope-example');
    const tools = await c.client.listTools();
    expect(tools.tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['echo', 'add', 'slow', 'fail', 'sample']),
    );
    expect((await c.client.callTool({ name: 'echo', arguments: { message: 'hi' } })).content).toEqual([
      { type: 'text', text: 'hi' },
    ]);
    await expect.poll(() => c.logs.map((l) => l.data)).toContain('echo called with 2 characters');
    const progress: number[] = [];
    const slow = await c.client.callTool({ name: 'slow', arguments: { ms: 400, steps: 4 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(slow.content).toEqual([{ type: 'text', text: 'slept 400 ms' }]);
    expect(progress).toEqual([1, 2, 3, 4]);
    const sampled = await c.client.callTool({ name: 'sample', arguments: { prompt: 'pong' } });
    expect(sampled.content).toEqual([{ type: 'text', text: 'sampled: pong' }]);
    expect((await c.client.callTool({ name: 'fail', arguments: {} })).isError).toBe(true);
    const resource = await c.client.readResource({ uri: 'example://items/42' });
    expect(resource.contents[0]).toMatchObject({ text: 'item 42' });
    const prompt = await c.client.getPrompt({ name: 'greet', arguments: { name: 'Lin' } });
    expect(prompt.messages[0]?.content).toEqual({ type: 'text', text: 'Say hello to Lin' });
    await c.transport.terminateSession();
    await c.client.close();
  });

  it('keeps 20 concurrent sessions isolated', async () => {
    const clients = await Promise.all(
      Array.from({ length: 20 }, (_, i) => connectHttp(proxy.url, `client-${i}`)),
    );
    expect(new Set(clients.map((c) => c.transport.sessionId)).size).toBe(20);
    const results = await Promise.all(
      clients.map((c, i) => c.client.callTool({ name: 'add', arguments: { a: i, b: 1000 } })),
    );
    results.forEach((r, i) => expect(r.content).toEqual([{ type: 'text', text: String(i + 1000) }]));
    await Promise.all(
      clients.map(async (c) => (await c.transport.terminateSession(), await c.client.close())),
    );
  });

  it('answers 404 after DELETE, and for an unknown session', async () => {
    const id = await rawSession(proxy.url);
    const del = await fetch(proxy.url, { method: 'DELETE', headers: { 'mcp-session-id': id } });
    expect(del.status).toBe(200);
    const after = await post(proxy.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { 'mcp-session-id': id });
    expect(after.status).toBe(404);
    expect(await after.json()).toMatchObject({ error: { data: { code: 'SESSION_NOT_FOUND' } } });
    const unknown = await post(
      proxy.url,
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { 'mcp-session-id': 'nope' },
    );
    expect(unknown.status).toBe(404);
    await unknown.text();
  });

  it('answers 400 for a missing session header and for an unsupported protocol version', async () => {
    const missing = await post(proxy.url, { jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { data: { code: 'SESSION_REQUIRED' } } });
    const id = await rawSession(proxy.url);
    const bad = await post(
      proxy.url,
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { 'mcp-session-id': id, 'mcp-protocol-version': '1999-01-01' },
    );
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { message: string; data: { code: string } } };
    expect(body.error.data.code).toBe('UNSUPPORTED_PROTOCOL_VERSION');
    expect(body.error.message).toContain('2025-11-25');
  });

  it('rejects foreign Origins and Hosts with 403, and allows localhost origins', async () => {
    const evil = await post(proxy.url, INIT, { origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(await evil.json()).toMatchObject({ error: { data: { code: 'ORIGIN_FORBIDDEN' } } });
    const local = await post(proxy.url, INIT, { origin: 'http://localhost:3000' });
    expect(local.status).toBe(200);
    await local.text();
  });

  it('answers malformed JSON with 400/-32700 and a batch with 400/-32600; the session keeps working', async () => {
    const id = await rawSession(proxy.url);
    const h = { 'mcp-session-id': id };
    const broken = await post(proxy.url, '{"jsonrpc":"2.0","id":1,', h);
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ id: null, error: { code: -32700 } });
    const batch = await post(proxy.url, [{ jsonrpc: '2.0', id: 1, method: 'ping' }], h);
    expect(batch.status).toBe(400);
    expect(await batch.json()).toMatchObject({
      error: { code: -32600, data: { code: 'BATCH_NOT_SUPPORTED' } },
    });
    const ok = await post(proxy.url, { jsonrpc: '2.0', id: 2, method: 'ping' }, h);
    expect(ok.status).toBe(200);
    expect(sseEvents(await ok.text()).map((e) => JSON.parse(e.data))).toEqual([
      { jsonrpc: '2.0', id: 2, result: {} },
    ]);
  });

  it('answers an oversized body with 413 before reading it, and the session keeps working', async () => {
    const id = await rawSession(proxy.url);
    const big = JSON.stringify(call(1, 'echo', { message: 'x'.repeat(5 * 1024 * 1024) }));
    const res = await post(proxy.url, big, { 'mcp-session-id': id });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: -32600, data: { code: 'MESSAGE_TOO_LARGE' } } });
    const ok = await post(proxy.url, call(2, 'add', { a: 1, b: 2 }), { 'mcp-session-id': id });
    expect(sseEvents(await ok.text()).map((e) => JSON.parse(e.data).result?.content)).toEqual([
      [{ type: 'text', text: '3' }],
    ]);
  });

  it('answers a chunked oversized body (no Content-Length) with 413 too', async () => {
    const id = await rawSession(proxy.url);
    const chunk = new TextEncoder().encode('x'.repeat(1024 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 6) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(proxy.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': id },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { data: { code: 'MESSAGE_TOO_LARGE' } } });
  });

  it('survives a client that disconnects in the middle of a request body', async () => {
    const { connect } = await import('node:net');
    const { port } = new URL(proxy.url);
    await new Promise<void>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
            'Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{"jsonrpc":',
        );
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 50);
      });
    });
    const id = await rawSession(proxy.url);
    const ok = await post(proxy.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { 'mcp-session-id': id });
    expect(ok.status).toBe(200);
    await ok.text();
  });

  it('resumes a POST stream from Last-Event-ID after the client drops it mid-call', async () => {
    const id = await rawSession(proxy.url);
    const abort = new AbortController();
    const res = await fetch(proxy.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': id },
      body: JSON.stringify(call(5, 'slow', { ms: 600, steps: 3 }, { progressToken: 'p5' })),
      signal: abort.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    const first = sseEvents(text)[0];
    expect(JSON.parse(first?.data ?? '{}')).toMatchObject({
      method: 'notifications/progress',
      params: { progress: 1 },
    });

    // Meanwhile the session serves other requests.
    const ping = await post(proxy.url, { jsonrpc: '2.0', id: 6, method: 'ping' }, { 'mcp-session-id': id });
    expect(sseEvents(await ping.text())).toHaveLength(1);

    const resumed = await fetch(proxy.url, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': id, 'last-event-id': first?.id ?? '' },
    });
    expect(resumed.status).toBe(200);
    const rest = sseEvents(await resumed.text()).map((e) => JSON.parse(e.data));
    expect(rest.map((m) => m.params?.progress ?? m.result?.content?.[0]?.text)).toEqual([
      2,
      3,
      'slept 600 ms',
    ]);
    expect(rest.at(-1)).toMatchObject({ id: 5 });

    const unknown = await fetch(proxy.url, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': id, 'last-event-id': '999999' },
    });
    expect(unknown.status).toBe(400);
    await unknown.text();
  });

  it('answers a call the server never answers with -32001, and the session keeps working', async () => {
    const impatient = await startHttpProxy(['--request-timeout-ms', '3000', '--', process.execPath, EXAMPLE]);
    const c = await connectHttp(impatient.url);
    const err = await c.client
      .callTool({ name: 'slow', arguments: { ms: 30_000, steps: 1 } }, undefined, { timeout: 40_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32001);
    expect((err as McpError).data).toMatchObject({ code: 'UPSTREAM_TIMEOUT' });
    expect((await c.client.callTool({ name: 'add', arguments: { a: 2, b: 2 } })).content).toEqual([
      { type: 'text', text: '4' },
    ]);
    await c.transport.terminateSession();
    await c.client.close();
    expect(await impatient.stop()).toBe(0);
  });

  it("fails the pending call when the session's server crashes, closes that session only", async () => {
    const victim = await connectHttp(proxy.url);
    const bystander = await connectHttp(proxy.url);
    const err = await victim.client
      .callTool({ name: 'crash', arguments: { code: 7 } })
      .catch((e: unknown) => e);
    expect((err as McpError).code).toBe(-32000);
    expect((err as McpError).data).toMatchObject({ code: 'UPSTREAM_EXITED', exitCode: 7 });
    expect((err as McpError).message).toMatch(/exited with code 7/);
    const after = await post(
      proxy.url,
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      {
        'mcp-session-id': victim.transport.sessionId ?? '',
      },
    );
    expect(after.status).toBe(404);
    await after.text();
    expect((await bystander.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).content).toEqual([
      { type: 'text', text: '3' },
    ]);
    await bystander.transport.terminateSession();
    await Promise.all([victim.client.close(), bystander.client.close()]);
  });
});

describe('forward http limits', () => {
  it('answers 503 past --max-sessions and keeps serving the sessions it has', async () => {
    const proxy = await startHttpProxy(['--max-sessions', '1', '--', process.execPath, EXAMPLE]);
    try {
      const first = await connectHttp(proxy.url);
      const second = await post(proxy.url, INIT);
      expect(second.status).toBe(503);
      const body = (await second.json()) as { error: { message: string; data: { code: string } } };
      expect(body.error.data.code).toBe('TOO_MANY_SESSIONS');
      expect(body.error.message).toMatch(/--max-sessions/);
      expect((await first.client.callTool({ name: 'add', arguments: { a: 3, b: 4 } })).content).toEqual([
        { type: 'text', text: '7' },
      ]);
      await first.client.close();
    } finally {
      await proxy.stop();
    }
  });

  it('answers with JSON bodies under --json-response', async () => {
    const proxy = await startHttpProxy(['--json-response', '--', process.execPath, EXAMPLE]);
    try {
      const id = await rawSession(proxy.url);
      const res = await post(proxy.url, call(1, 'add', { a: 20, b: 22 }), { 'mcp-session-id': id });
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toMatchObject({ id: 1, result: { content: [{ type: 'text', text: '42' }] } });
      const c = await connectHttp(proxy.url);
      expect((await c.client.callTool({ name: 'echo', arguments: { message: 'json' } })).content).toEqual([
        { type: 'text', text: 'json' },
      ]);
      await c.client.close();
    } finally {
      await proxy.stop();
    }
  });

  it('exits 2 naming the setting, the value and its source for an invalid setting', async () => {
    const { spawnCli } = await import('../helpers.js');
    const proc = spawnCli(['forward', 'http', '--', process.execPath, EXAMPLE], { MCPSCOPE_PORT: 'eighty' });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    expect(await new Promise((r) => proc.once('exit', r))).toBe(2);
    expect(stderr).toMatch(/invalid setting port = "eighty" \(from MCPSCOPE_PORT\)/);
  });
});

describe('exit codes', () => {
  it('every usage error exits 2 (unknown flag, command or missing command, invalid value); --help and --version 0; --help lists the codes', async () => {
    const { spawnCli } = await import('../helpers.js');
    const exit = async (args: string[]) => {
      const proc = spawnCli(args);
      let out = '';
      proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
      proc.stderr.resume();
      const code = await new Promise((r) => proc.once('exit', r));
      return { code, out };
    };
    expect((await exit(['forward', 'stdio', '--bogus'])).code).toBe(2);
    expect((await exit(['nosuchcommand'])).code).toBe(2);
    expect((await exit(['forward'])).code).toBe(2);
    expect((await exit(['forward', 'stdio', '--request-timeout-ms', 'abc', '--', 'node', 'x'])).code).toBe(2);
    expect((await exit(['--version'])).code).toBe(0);
    const help = await exit(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Exit codes:[\s\S]*2 {2}a usage error/);
  });
});

describe('/ready and server processes that cannot start', () => {
  it('says not ready once a server process failed to start, and ready again once one starts', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { adminUrlFrom, post, INIT } = await import('../helpers.js');
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-ready-'));
    const script = join(dir, 'server.sh');
    const write = () =>
      writeFileSync(script, `#!/bin/sh\nexec "${process.execPath}" "${EXAMPLE}"\n`, { mode: 0o755 });
    write();
    const proxy = await startHttpProxy(['--admin-port', '0', '--', script]);
    try {
      const admin = await adminUrlFrom(proxy.stderr);
      const ready = async () =>
        (await (await fetch(`${admin}/ready`)).json()) as { status: string; reason: string };
      expect((await ready()).status).toBe('ready');
      rmSync(script);
      const failed = await post(proxy.url, INIT);
      await failed.text();
      expect(failed.status).toBeGreaterThanOrEqual(400);
      expect(await ready()).toMatchObject({
        status: 'not_ready',
        reason: expect.stringMatching(/could not start/) as unknown,
      });
      write();
      const ok = await post(proxy.url, INIT);
      await ok.text();
      expect(ok.status).toBe(200);
      expect((await ready()).status).toBe('ready');
    } finally {
      await proxy.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
