import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EXAMPLE,
  adminUrlFrom,
  connectHttp,
  rawSession,
  startHttpProxy,
  type RunningCli,
} from '../helpers.js';

/** GET a stats path and return status and JSON. */
async function get(base: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('stats API', () => {
  let proxy: RunningCli;
  let admin: string;
  beforeAll(async () => {
    // 200 ms buckets: the five-minute window (and the trends) span six seconds, the hour 72.
    proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--stats-bucket-ms',
      '200',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    admin = await adminUrlFrom(proxy.stderr);
  });
  afterAll(async () => {
    await proxy.stop();
  });

  it('a tool that starts failing loses health and shows up in /trends as error rate rising', async () => {
    const c = await connectHttp(proxy.url);
    // Successes, then failures, a call or two per bucket.
    for (let i = 0; i < 15; i++) {
      await c.client.callTool({ name: 'flaky', arguments: { fail: false } });
      await sleep(50);
    }
    const before = await get(admin, '/stats/tools/flaky');
    expect(before.status).toBe(200);
    expect(before.body.health).toBe(100);
    for (let i = 0; i < 15; i++) {
      await c.client.callTool({ name: 'flaky', arguments: { fail: true } });
      await sleep(50);
    }
    // /trends has not been asked before, so nothing cached stands in the way.
    const trends = (await get(admin, '/trends')).body.items as Array<Record<string, unknown>>;
    expect(trends).toContainEqual(
      expect.objectContaining({ kind: 'tool', name: 'flaky', metric: 'errorRate', direction: 'rising' }),
    );
    await sleep(1_100); // past the 1-second cache of /stats/tools/flaky
    const after = await get(admin, '/stats/tools/flaky');
    expect(after.body.health as number).toBeLessThan(80);
    const windows = after.body.windows as Record<string, { calls: number; errors: number }>;
    expect(windows['1h']).toMatchObject({ calls: 30, errors: 15 });
    const system = await get(admin, '/stats');
    expect(system.body).toMatchObject({ sessions: { active: 1 } });
    const systemWindows = system.body.windows as Record<string, { calls: number }>;
    expect(systemWindows['1h']?.calls).toBeGreaterThanOrEqual(31); // initialize, tools and the calls
    await c.client.close();
  });

  it('pages through sessions exactly once, and sorts and filters', async () => {
    const ids = await Promise.all(Array.from({ length: 7 }, () => rawSession(proxy.url)));
    await sleep(1_100);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(admin, `/stats/sessions?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      const items = page.body.items as Array<{ id: string }>;
      expect(items.length).toBeLessThanOrEqual(3);
      seen.push(...items.map((i) => i.id));
      cursor = page.body.next_cursor as string | null;
    } while (cursor);
    for (const id of ids) expect(seen.filter((s) => s === id)).toHaveLength(1);
    expect(new Set(seen).size).toBe(seen.length);
    const filtered = await get(admin, '/stats/sessions?filter=transport=streamable-http&sort=-messages');
    expect((filtered.body.items as unknown[]).length).toBe(seen.length);
    const tools = await get(admin, '/stats/tools?filter=health<101&sort=-health');
    expect((tools.body.items as Array<{ name: string }>).map((t) => t.name)).toContain('flaky');
  });

  it('answers bad parameters with 400 naming the parameter, and unknown names with 404', async () => {
    for (const [query, parameter] of [
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['cursor=%%%', 'cursor'],
      ['sort=colour', 'sort'],
      ['filter=health~70', 'filter'],
      ['filter=colour=red', 'filter'],
      ['page=2', 'page'],
    ]) {
      const res = await get(admin, `/stats/tools?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body).toMatchObject({ parameter, allowed: expect.any(String) });
    }
    expect((await get(admin, '/stats/tools/no-such-tool')).status).toBe(404);
    expect((await get(admin, '/stats/sessions/no-such-session')).status).toBe(404);
    expect((await get(admin, '/stats/widgets')).status).toBe(404);
    expect((await get(admin, '/stats/tools/%E0%A4%A')).status).toBe(400);
  });
});

describe('the admin API is described by /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, and every answer validates against it', async () => {
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const { Ajv2020 } = await import('ajv/dist/2020.js');
    const proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--stats-bucket-ms',
      '200',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    try {
      const admin = await adminUrlFrom(proxy.stderr);
      const c = await connectHttp(proxy.url);
      await c.client.callTool({ name: 'flaky', arguments: { fail: false } });
      await c.client.callTool({ name: 'flaky', arguments: { fail: true } });
      const doc = (await get(admin, '/openapi.json')).body;
      const result = await new Validator().validate(
        doc as Parameters<InstanceType<typeof Validator>['validate']>[0],
      );
      expect(result.errors ?? []).toEqual([]);
      expect(result.valid).toBe(true);

      const ajv = new Ajv2020({ strict: false });
      ajv.addSchema({ $id: 'mcpscope', components: (doc as { components: object }).components });
      const check = async (path: string, schema: string, status = 200) => {
        const res = await get(admin, path);
        expect(res.status, path).toBe(status);
        const validate = ajv.getSchema(`mcpscope#/components/schemas/${schema}`);
        if (!validate) throw new Error(`no schema ${schema}`);
        expect(validate(res.body) ? [] : validate.errors, `${path} against ${schema}`).toEqual([]);
      };
      await check('/health', 'Health');
      await check('/ready', 'Ready');
      await check('/stats', 'SystemStats');
      await check('/stats/upstreams', 'TargetList');
      await check('/stats/upstreams/node%20server.mjs', 'UpstreamStats');
      await check('/stats/tools?limit=5&sort=-calls', 'TargetList');
      await check('/stats/tools/flaky', 'ToolStats');
      await check('/stats/sessions', 'SessionList');
      await check(`/stats/sessions/${c.transport.sessionId}`, 'SessionRow');
      await check('/trends', 'Trends');
      await check('/stats/tools?limit=0', 'BadParameter', 400);
      await check('/stats/tools/nope', 'Error', 404);
      await check('/sessions', 'FeedSessions');

      // Breakpoints and held messages: what is sent validates against the request schemas, what comes
      // back against the answers'.
      const schema = (name: string) => {
        const validate = ajv.getSchema(`mcpscope#/components/schemas/${name}`);
        if (!validate) throw new Error(`no schema ${name}`);
        return validate;
      };
      const send = async (
        method: string,
        path: string,
        body: unknown,
        request: string | undefined,
        answer: string | undefined,
        status: number,
      ) => {
        if (request) expect(schema(request)(body) ? [] : schema(request).errors, `${path} body`).toEqual([]);
        const res = await fetch(`${admin}${path}`, {
          method,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        expect(res.status, `${method} ${path}`).toBe(status);
        const text = await res.text();
        if (answer) {
          const validate = schema(answer);
          expect(validate(JSON.parse(text)) ? [] : validate.errors, `${path} against ${answer}`).toEqual([]);
        } else expect(text).toBe('');
      };
      await send('POST', '/breakpoints', { match: { tool: 'echo' } }, 'BreakpointCreate', 'Breakpoint', 201);
      await send('POST', '/breakpoints', { match: { tool: 1 } }, undefined, 'Invalid', 400);
      await check('/breakpoints', 'BreakpointList');
      await check('/breakpoints/1', 'Breakpoint');
      await check('/breakpoints/9', 'Error', 404);
      const pending = c.client.callTool({ name: 'echo', arguments: { message: 'held' } });
      let held: Array<{ id: string }> = [];
      await expect
        .poll(async () => (held = (await get(admin, '/paused')).body.paused as typeof held).length)
        .toBe(1);
      const id = held[0]?.id as string;
      await check('/paused', 'PausedList');
      await check(`/paused/${id}`, 'Paused');
      await check('/paused/9', 'Error', 404);
      await send('POST', `/paused/${id}/resume`, { message: { jsonrpc: '1.0' } }, 'Resume', 'Invalid', 400);
      await send('POST', `/paused/${id}/reply`, { error: { code: 'x' } }, undefined, 'Invalid', 400);
      const reply = { result: { content: [{ type: 'text', text: 'a person' }] } };
      await send('POST', `/paused/${id}/reply`, reply, 'Reply', 'PauseAnswer', 200);
      await pending;
      await send('POST', `/paused/${id}/drop`, undefined, undefined, 'Error', 404);
      await send('DELETE', '/breakpoints/1', undefined, undefined, undefined, 204);
      // The feed's paused events are FeedEvents too.
      await check(`/sessions/${c.transport.sessionId}/events?limit=500`, 'FeedPage');
      await check(`/sessions/${c.transport.sessionId}/events?limit=0`, 'BadParameter', 400);
      await check('/sessions/nope/events', 'Error', 404);
      await c.client.close();
    } finally {
      await proxy.stop();
    }
  });
});

describe('mcpscope stats', () => {
  it('prints the health table, worst first, and the raw JSON with --json', async () => {
    const { spawnCli } = await import('../helpers.js');
    const proxy = await startHttpProxy(['--admin-port', '0', '--', process.execPath, EXAMPLE]);
    try {
      const admin = await adminUrlFrom(proxy.stderr);
      const c = await connectHttp(proxy.url);
      await c.client.callTool({ name: 'echo', arguments: { message: 'x' } });
      await c.client.callTool({ name: 'fail', arguments: {} });
      const run = async (args: string[]) => {
        const p = spawnCli(['stats', '--url', admin, ...args]);
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        expect(await new Promise((r) => p.once('exit', r))).toBe(0);
        return out;
      };
      const table = await run([]);
      expect(table).toMatch(/health +\d+, 1 active sessions/);
      const rows = table.split('\n').filter((l) => l.startsWith('tool'));
      expect(rows[0]).toMatch(/^tool +fail +40 /); // worst first
      expect(rows.some((r) => /^tool +echo +100 /.test(r))).toBe(true);
      const json = JSON.parse(await run(['--json'])) as { tools: Array<{ name: string; health: number }> };
      expect(json.tools.find((t) => t.name === 'fail')?.health).toBe(40);
      await c.client.close();
    } finally {
      await proxy.stop();
    }
  });
});

describe('the admin API rate limit', () => {
  it('answers a flood with 429 and Retry-After, while the proxy keeps proxying', async () => {
    const proxy = await startHttpProxy(['--admin-port', '0', '--', process.execPath, EXAMPLE]);
    try {
      const admin = await adminUrlFrom(proxy.stderr);
      const statuses = await Promise.all(
        Array.from({ length: 300 }, async () => {
          const res = await fetch(`${admin}/health`);
          await res.text();
          return [res.status, res.headers.get('retry-after')] as const;
        }),
      );
      expect(statuses.filter(([s]) => s === 200).length).toBeGreaterThanOrEqual(100);
      const limited = statuses.filter(([s]) => s === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(limited[0]?.[1]).toBe('1');
      const c = await connectHttp(proxy.url);
      expect((await c.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).content).toEqual([
        { type: 'text', text: '3' },
      ]);
      await c.client.close();
    } finally {
      await proxy.stop();
    }
  });
});

describe('event-loop lag: one measurement', () => {
  it('/stats and /metrics report the same figures, with the resolution and window stated', async () => {
    const proxy = await startHttpProxy(['--admin-port', '0', '--', process.execPath, EXAMPLE]);
    try {
      const admin = await adminUrlFrom(proxy.stderr);
      const figures = async () => {
        const stats = (await get(admin, '/stats')).body as {
          event_loop_lag_ms: { p50: number; p99: number; resolution_ms: number; window_s: number };
        };
        const text = await (await fetch(`${admin}/metrics`)).text();
        const read = (name: string) =>
          Number(/^\S+ (\S+)$/m.exec(text.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[1]);
        return {
          stats: stats.event_loop_lag_ms,
          p50: Math.round(read('mcpscope_nodejs_eventloop_lag_p50_seconds') * 1e5) / 100,
          p99: Math.round(read('mcpscope_nodejs_eventloop_lag_p99_seconds') * 1e5) / 100,
        };
      };
      // The first window closes after 10 s; then both read it.
      await expect
        .poll(async () => (await figures()).stats.p50, { timeout: 20_000, interval: 500 })
        .toBeGreaterThan(0);
      await expect
        .poll(async () => {
          const f = await figures();
          return f.stats.p50 === f.p50 && f.stats.p99 === f.p99;
        })
        .toBe(true);
      const f = await figures();
      expect(f.stats).toMatchObject({ resolution_ms: 10, window_s: 10 });
      // An idle proxy's figures are about one timer interval (the resolution), not twice it.
      expect(f.stats.p50).toBeLessThan(20);
    } finally {
      await proxy.stop();
    }
  });
});
