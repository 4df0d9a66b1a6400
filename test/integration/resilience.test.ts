// Resilience: the circuit breaker, rate limits and graceful shutdown, through the real CLI with real SDK
// clients and servers on loopback.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  EXAMPLE,
  INIT,
  adminUrlFrom,
  childrenOf,
  connectHttp,
  connectStdio,
  connectWebSocket,
  post,
  jsonLines,
  spawnCli,
  startHttpProxy,
  type RunningCli,
} from '../helpers.js';
import { prometheusMissing, startPrometheus, type RunningPrometheus } from '../prometheus.js';

const missing = prometheusMissing();
if (missing) console.warn(`resilience metric checks skipped: ${missing}`);

interface FlakyUpstream {
  url: string;
  /** While true, every POST of an initialized session is answered HTTP 500. */
  down: boolean;
  /** POSTs that reached the server. */
  hits: number;
  close(): Promise<void>;
}

/** A real SDK Streamable HTTP server on loopback that can be told to fail. */
async function startFlakyUpstream(): Promise<FlakyUpstream> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const state: FlakyUpstream = { url: '', down: false, hits: 0, close: async () => {} };
  const http: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    if (req.method === 'POST') state.hits++;
    const id = req.headers['mcp-session-id'];
    if (state.down && typeof id === 'string') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('database is down');
      return;
    }
    let transport = typeof id === 'string' ? transports.get(id) : undefined;
    if (!transport) {
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid: string): void => {
          transports.set(sid, created);
        },
      });
      const server = new McpServer({ name: 'flaky', version: '1.0.0' });
      server.registerTool('echo', { inputSchema: { message: z.string() } }, async ({ message }) => ({
        content: [{ type: 'text', text: message }],
      }));
      await server.connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  state.close = async () => {
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  };
  return state;
}

function mcpscopeCode(err: unknown): unknown {
  return err instanceof McpError ? (err.data as { code?: unknown } | undefined)?.code : undefined;
}

/** Alive: /proc has it and it is not a zombie. */
function alive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(
  done: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe('circuit breaker', () => {
  it('opens after 5 upstream failures (fast-fail, upstream untouched), half-opens after the reset time, closes after a success', async () => {
    const upstream = await startFlakyUpstream();
    cleanups.push(() => upstream.close());
    const proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--upstream',
      upstream.url,
      '--breaker-failures',
      '5',
      '--breaker-reset-ms',
      '1500',
    ]);
    cleanups.push(() => proxy.stop());
    const admin = await adminUrlFrom(proxy.stderr);
    let prom: RunningPrometheus | undefined;
    if (!missing) {
      prom = await startPrometheus([admin]);
      cleanups.push(() => (prom as RunningPrometheus).stop());
    }
    const c = await connectHttp(proxy.url);
    cleanups.push(() => c.client.close());
    const call = (message: string) => c.client.callTool({ name: 'echo', arguments: { message } });
    expect(await call('before')).toMatchObject({ content: [{ text: 'before' }] });

    upstream.down = true;
    for (let i = 0; i < 5; i++) {
      const err = await call(`down ${i}`).catch((e: unknown) => e);
      expect(mcpscopeCode(err)).toBe('UPSTREAM_HTTP_ERROR');
    }
    const hits = upstream.hits;
    // Open: the next request fails fast, HTTP 503 with Retry-After, and never reaches the upstream.
    const res = await post(
      proxy.url,
      {
        jsonrpc: '2.0',
        id: 'x1',
        method: 'tools/call',
        params: { name: 'echo', arguments: { message: 'x' } },
      },
      { 'mcp-session-id': c.transport.sessionId as string },
    );
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as {
      id: string;
      error: { code: number; message: string; data: Record<string, unknown> };
    };
    expect(body.id).toBe('x1');
    expect(body.error.data).toMatchObject({ source: 'mcpscope', code: 'CIRCUIT_OPEN', state: 'open' });
    const retryAfterMs = body.error.data.retryAfterMs as number;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(1500);
    expect(body.error.code).toBe(-32003);
    expect(body.error.message).toMatch(/5 consecutive failures \(last: UPSTREAM_HTTP_ERROR\)/);
    expect(upstream.hits).toBe(hits);
    // A new client is refused at initialize, and no half-made session is left behind.
    const init = await post(proxy.url, INIT);
    expect(init.status).toBe(503);
    expect(((await init.json()) as { error: { data: { code: string } } }).error.data.code).toBe(
      'CIRCUIT_OPEN',
    );
    await until(async () => {
      const stats = (await (await fetch(`${admin}/stats`)).json()) as { sessions: { active: number } };
      return stats.sessions.active === 1;
    }, 'the refused session to be released');
    // Every session of this upstream is affected, so the proxy says it is not ready.
    const ready = await fetch(`${admin}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/circuit breaker .* is open/);
    // Its health score loses the breaker's share (docs/stats.md): most calls failed, so success counts 0,
    // latency 20 and restarts 10; the open breaker 0 of its 10.
    const health = async () => {
      const name = encodeURIComponent(new URL(upstream.url).host);
      const res = await fetch(`${admin}/stats/upstreams/${name}`);
      return ((await res.json()) as { health: number }).health;
    };
    expect(await health()).toBe(30);

    // The upstream recovers; after the reset time one probe goes through and closes the breaker.
    upstream.down = false;
    await new Promise((r) => setTimeout(r, retryAfterMs + 100));
    expect(await call('probe')).toMatchObject({ content: [{ text: 'probe' }] });
    expect(await call('after')).toMatchObject({ content: [{ text: 'after' }] });
    expect(upstream.hits).toBe(hits + 2);
    // Closed again: the breaker's share is back (the stats answer was cached for a second only).
    expect(await health()).toBe(40);
    expect(proxy.stderr()).toMatch(/circuit breaker opened: 5 consecutive failures/);
    expect(proxy.stderr()).toMatch(/circuit breaker closed: the probe request succeeded/);

    if (prom) {
      await prom.scrapedAfter();
      const label = `upstream="${new URL(upstream.url).host}"`;
      expect(await prom.value(`mcpscope_circuit_breaker_state{${label}}`)).toBe(0);
      for (const to of ['open', 'half_open', 'closed'])
        expect(await prom.value(`mcpscope_circuit_breaker_transitions_total{${label},to="${to}"}`)).toBe(1);
    }
  });
});

describe('rate limits', () => {
  it('HTTP: a burst over the client limit gets 429 with Retry-After; another client is unaffected', async () => {
    const proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--rate-limit-client',
      '1/s:3',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    cleanups.push(() => proxy.stop());
    const admin = await adminUrlFrom(proxy.stderr);
    const a = await connectHttp(proxy.url, 'client-a');
    cleanups.push(() => a.client.close());
    const session = a.transport.sessionId as string;
    const burst = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        post(
          proxy.url,
          { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'add', arguments: { a: i, b: 1 } } },
          { 'mcp-session-id': session },
        ),
      ),
    );
    const statuses = burst.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    for (const res of burst) {
      if (res.status !== 429) {
        expect(await res.text()).toMatch(/"result"/);
        continue;
      }
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const body = (await res.json()) as {
        error: { code: number; message: string; data: Record<string, unknown> };
      };
      expect(body.error.code).toBe(-32029);
      expect(body.error.data).toMatchObject({ code: 'RATE_LIMITED', limit: 'client', rate: 1, burst: 3 });
      expect(body.error.data.retryAfterMs).toBeGreaterThan(0);
      expect(body.error.message).toMatch(/--rate-limit-client/);
    }

    // Another session has its own bucket: under its limit, nothing changes for it.
    const b = await connectHttp(proxy.url, 'client-b');
    cleanups.push(() => b.client.close());
    for (let i = 0; i < 3; i++)
      expect(await b.client.callTool({ name: 'add', arguments: { a: i, b: 2 } })).toMatchObject({
        content: [{ text: String(i + 2) }],
      });

    if (!missing) {
      const prom = await startPrometheus([admin]);
      cleanups.push(() => prom.stop());
      await prom.scrapedAfter();
      expect(await prom.value('sum(mcpscope_rate_limit_exceeded_total{limit_type="client"})')).toBe(3);
      expect(
        await prom.value(`mcpscope_rate_limit_exceeded_total{limit_type="client",client="${session}"}`),
      ).toBe(3);
    }
  });

  it('by address: two WebSocket clients from one address share one bucket', async () => {
    const proxy = await startHttpProxy([
      '--no-admin',
      '--rate-limit-client',
      '1/m:2',
      '--rate-limit-client-key',
      'address',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    cleanups.push(() => proxy.stop());
    const ws = proxy.url.replace(/^http/, 'ws');
    const a = await connectWebSocket(ws, 'ws-a');
    cleanups.push(() => a.client.close());
    const b = await connectWebSocket(ws, 'ws-b');
    cleanups.push(() => b.client.close());
    const add = (c: typeof a) => c.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
    await add(a);
    await add(b);
    const err = await add(a).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).data).toMatchObject({ code: 'RATE_LIMITED', limit: 'client' });
    expect((err as McpError).message).toMatch(/client 127\.0\.0\.1 may make/);
  });

  it('stdio: over a tool limit the client gets a JSON-RPC error with retryAfterMs; other tools still go', async () => {
    const c = await connectStdio(['--rate-limit-tool', '60/m:2', '--', process.execPath, EXAMPLE]);
    cleanups.push(() => c.client.close());
    const echo = (m: string) => c.client.callTool({ name: 'echo', arguments: { message: m } });
    await echo('one');
    await echo('two');
    const err = await echo('three').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    const e = err as McpError;
    expect(e.code).toBe(-32029);
    expect(e.data).toMatchObject({ code: 'RATE_LIMITED', limit: 'tool', tool: 'echo' });
    const retry = (e.data as { retryAfterMs: number }).retryAfterMs;
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(1000);
    expect(await c.client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).toMatchObject({
      content: [{ text: '5' }],
    });
    // The refused call never reached the server: once the bucket refills, echo works again.
    await new Promise((r) => setTimeout(r, retry + 50));
    expect(await echo('four')).toMatchObject({ content: [{ text: 'four' }] });
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM with 10 requests in flight on 3 sessions: each gets its answer or SHUTTING_DOWN, exit 0, no server left', async () => {
    const proxy: RunningCli = await startHttpProxy([
      '--shutdown-grace-ms',
      '3000',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    cleanups.push(() => proxy.stop());
    const clients = await Promise.all([0, 1, 2].map((i) => connectHttp(proxy.url, `client-${i}`)));
    cleanups.push(() => Promise.all(clients.map((c) => c.client.close())));
    const servers = childrenOf(proxy.proc.pid as number);
    expect(servers).toHaveLength(3);

    // 7 calls that finish inside the grace period (all still running when SIGTERM comes), 3 that cannot.
    const plan: Array<[number, number]> = [
      [0, 900],
      [0, 1200],
      [0, 60_000],
      [1, 700],
      [1, 1000],
      [1, 800],
      [1, 60_000],
      [2, 600],
      [2, 1100],
      [2, 60_000],
    ];
    // Each call is known to be at the server once its first progress notification is back.
    let atServer = 0;
    const calls = plan.map(([i, ms]) =>
      (clients[i] as (typeof clients)[number]).client
        .callTool({ name: 'slow', arguments: { ms, steps: 1 } }, undefined, {
          timeout: 120_000,
          onprogress: () => atServer++,
        })
        .then(
          (r) => ({ ms, ok: true as const, text: (r.content as Array<{ text: string }>)[0]?.text }),
          (e: unknown) => ({ ms, ok: false as const, code: mcpscopeCode(e), message: String(e) }),
        ),
    );
    await until(() => atServer === plan.length, 'every call to reach the server');
    proxy.proc.kill('SIGTERM');
    await until(() => /waiting for requests in flight/.test(proxy.stderr()), 'the drain to start');
    // A new request during the drain is refused at once, with a reason.
    const late = await (clients[0] as (typeof clients)[number]).client
      .callTool({ name: 'add', arguments: { a: 1, b: 1 } })
      .catch((e: unknown) => e);
    expect(mcpscopeCode(late)).toBe('SHUTTING_DOWN');

    const results = await Promise.all(calls);
    for (const r of results) {
      if (r.ms < 60_000) expect(r).toMatchObject({ ok: true, text: `slept ${r.ms} ms` });
      else {
        expect(r).toMatchObject({ ok: false, code: 'SHUTTING_DOWN' });
        expect((r as { message: string }).message).toMatch(/3000 ms shutdown grace period/);
      }
    }
    const { code } = await proxy.exited;
    expect(code).toBe(0);
    expect(servers.filter(alive)).toEqual([]);
    expect(proxy.stderr()).toMatch(/3 request\(s\) were still in flight after 3000 ms/);
  });

  it('stdio: SIGTERM lets the call in flight finish, refuses a new one, and exits 0', async () => {
    const proc = spawnCli(['forward', 'stdio', '--no-admin', '--', process.execPath, EXAMPLE]);
    cleanups.push(async () => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const out = jsonLines(proc);
    const send = (msg: object) => proc.stdin.write(`${JSON.stringify(msg)}\n`);
    send(INIT);
    expect(await out.next()).toMatchObject({ id: 0, result: { serverInfo: { name: 'mcpscope-example' } } });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'slow', arguments: { ms: 800, steps: 1 }, _meta: { progressToken: 'p' } },
    });
    // At the server once its progress is back.
    expect(await out.next()).toMatchObject({ method: 'notifications/progress' });
    proc.kill('SIGTERM');
    await until(() => /waiting for requests in flight/.test(stderr), 'the drain to start');
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } });
    const answers = [await out.next(), await out.next()];
    expect(answers).toContainEqual(
      expect.objectContaining({
        id: 2,
        error: expect.objectContaining({ data: expect.objectContaining({ code: 'SHUTTING_DOWN' }) }),
      }),
    );
    expect(answers).toContainEqual(
      expect.objectContaining({
        id: 1,
        result: expect.objectContaining({ content: [{ type: 'text', text: 'slept 800 ms' }] }),
      }),
    );
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/every request in flight was answered/);
  });
});
