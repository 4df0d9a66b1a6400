// What the DevTools page reads from the admin API besides the feed and breakpoints, through the real CLI
// with real SDK clients: HTTP exchanges on both sides of mcpscope (credentials masked), interception rules
// listed and turned on and off, recorded tapes listed, paged, exported (path traversal refused), and the
// stats series for charts. Every answer validates against /openapi.json.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  adminUrlFrom,
  connectHttp,
  makeClient,
  mockAddRules,
  startExampleProxy,
  startFixture,
  startHttpProxy,
  type RunningCli,
  type RunningFixture,
} from '../helpers.js';
import { openApiChecker, type SchemaCheck } from '../openapi.js';

interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  text: string;
}

async function call<T = Record<string, unknown>>(url: string, init: RequestInit = {}): Promise<Answer<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body: body as T, text };
}

interface Exchange {
  type: 'http';
  side: 'client' | 'upstream';
  method: string;
  path: string;
  status: number;
  headers: Record<string, string>;
  responseHeaders: Record<string, string>;
  durationMs: number;
  sse?: { events: number; firstId: number; lastId: number };
}

const text = (result: unknown): string =>
  ((result as { content: Array<{ text: string }> }).content[0] as { text: string }).text;

describe('HTTP exchanges in the live feed', () => {
  let fixture: RunningFixture;
  let proxy: RunningCli;
  let admin: string;
  beforeAll(async () => {
    fixture = await startFixture('httpServer.mjs');
    proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--upstream',
      fixture.url,
      '--upstream-header',
      'X-Api-Key: upstream-canary-5521',
    ]);
    admin = await adminUrlFrom(proxy.stderr);
  });
  afterAll(async () => {
    await proxy?.stop();
    await fixture?.stop();
  });

  it("shows both sides' requests and responses, headers included, credentials masked", async () => {
    const tc = makeClient('exchanges');
    const transport = new StreamableHTTPClientTransport(new URL(proxy.url), {
      requestInit: { headers: { authorization: 'Bearer client-canary-9913' } },
    });
    await tc.client.connect(transport);
    try {
      expect(text(await tc.client.callTool({ name: 'echo', arguments: { message: 'x' } }))).toBe('x');
      const id = transport.sessionId as string;
      let events: Exchange[] = [];
      let page: Answer<{ events: Array<Record<string, unknown>> }> | undefined;
      await expect
        .poll(async () => {
          page = await call(`${admin}/sessions/${id}/events?limit=1000`);
          events = page.body.events.filter((e) => e.type === 'http') as unknown as Exchange[];
          return events.filter((e) => e.side === 'upstream' && e.method === 'POST').length;
        })
        .toBeGreaterThanOrEqual(3);
      const pageText = (page as Answer).text;
      expect(pageText).not.toContain('client-canary-9913');
      expect(pageText).not.toContain('upstream-canary-5521');

      // The client's side: every request the client made, its session id shown, its token masked.
      const clientPosts = events.filter((e) => e.side === 'client' && e.method === 'POST');
      expect(clientPosts.length).toBeGreaterThanOrEqual(3);
      for (const e of clientPosts) expect(e.headers.authorization).toBe('[REDACTED]');
      const call1 = clientPosts.find((e) => e.headers['mcp-session-id'] === id && e.sse);
      expect(call1).toMatchObject({
        path: '/mcp',
        status: 200,
        responseHeaders: { 'content-type': 'text/event-stream', 'mcp-session-id': id },
      });
      expect(call1?.sse?.events).toBeGreaterThanOrEqual(1);
      expect(call1?.sse?.lastId).toBeGreaterThanOrEqual(call1?.sse?.firstId as number);

      // The upstream's side: mcpscope's own requests, with the upstream's session id and its key masked.
      const upstream = events.filter((e) => e.side === 'upstream');
      for (const e of upstream) {
        expect(e.path).toBe('/mcp');
        expect(e.headers['x-api-key']).toBe('[REDACTED]');
        expect(e.headers.authorization).toBeUndefined(); // the client's token is never forwarded
        expect(e.durationMs).toBeGreaterThanOrEqual(0);
      }
      const initialize = upstream[0] as Exchange;
      const upstreamSession = initialize.responseHeaders['mcp-session-id'];
      expect(upstreamSession).toMatch(/^[0-9a-f-]{36}$/);
      expect(upstreamSession).not.toBe(id);
      expect(upstream.some((e) => e.headers['mcp-session-id'] === upstreamSession)).toBe(true);

      const check = await openApiChecker(admin);
      check(page?.body, 'FeedPage', 'events with exchanges');
    } finally {
      await tc.client.close();
    }
  });

  it('says /tapes needs --record when mcpscope does not record', async () => {
    const res = await call<{ error: string }>(`${admin}/tapes`);
    expect(res.status).toBe(404);
    expect(res.body.error).toContain('--record');
  });
});

describe('rules, tapes and stats series over the admin API', () => {
  const TOKEN = 'devtools-api-token-4417';
  const auth = { authorization: `Bearer ${TOKEN}` };
  let dir: string;
  let tapes: string;
  let proxy: RunningCli;
  let admin: string;
  let check: SchemaCheck;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpscope-devtools-api-'));
    tapes = join(dir, 'tapes');
    const rules = join(dir, 'rules.yaml');
    writeFileSync(
      rules,
      mockAddRules('mocked', [
        '  - name: off-from-the-start',
        '    enabled: false',
        '    match: { method: tools/call, tool: echo }',
        '    action: { drop: true }',
      ]),
    );
    ({ proxy, admin } = await startExampleProxy([
      '--admin-token',
      TOKEN,
      '--rules',
      rules,
      '--record',
      tapes,
      '--stats-bucket-ms',
      '200',
    ]));
    check = await openApiChecker(admin, auth);
  });
  afterAll(async () => {
    await proxy?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = <T = Record<string, unknown>>(path: string) => call<T>(`${admin}${path}`, { headers: auth });
  const post = <T = Record<string, unknown>>(path: string) =>
    call<T>(`${admin}${path}`, { method: 'POST', headers: auth });

  it('lists the rules with their hits, and turns one off and on at once', async () => {
    expect((await call(`${admin}/rules`)).status).toBe(401);
    expect((await call(`${admin}/rules/mock-add/disable`, { method: 'POST' })).status).toBe(401);
    const hitsOf = async (name: string) => {
      const list = await get<{ rules: Array<{ name: string; hits: number; enabled: boolean }> }>('/rules');
      return list.body.rules.find((r) => r.name === name);
    };
    const list = await get('/rules');
    expect(list.status).toBe(200);
    check(list.body, 'RuleList', 'GET /rules');
    expect(list.body).toMatchObject({
      file: expect.stringContaining('rules.yaml'),
      rules: [
        { name: 'mock-add', action: 'mock', enabled: true, hits: 0, match: { tool: 'add' } },
        { name: 'off-from-the-start', action: 'drop', enabled: false, hits: 0 },
      ],
    });

    const c = await connectHttp(proxy.url, 'rules-client');
    try {
      expect(text(await c.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))).toBe('mocked');
      expect(await hitsOf('mock-add')).toMatchObject({ hits: 1, enabled: true });

      const off = await post('/rules/mock-add/disable');
      expect(off.status).toBe(200);
      check(off.body, 'Rule', 'POST disable');
      expect(off.body).toMatchObject({ name: 'mock-add', enabled: false, overridden: true, hits: 1 });
      expect(text(await c.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))).toBe('3');
      expect(await hitsOf('mock-add')).toMatchObject({ hits: 1, enabled: false });

      expect((await post('/rules/mock-add/enable')).body).toMatchObject({ enabled: true });
      expect(text(await c.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))).toBe('mocked');
      expect(await hitsOf('mock-add')).toMatchObject({ hits: 2 });
      // The counter of what rules did is unchanged in meaning: one per action taken.
      const metrics = await (await fetch(`${admin}/metrics`, { headers: auth })).text();
      expect(metrics).toMatch(/mcpscope_intercept_actions_total\{rule="mock-add",action="mock"\} 2/);

      const missing = await post('/rules/no-such-rule/enable');
      expect(missing.status).toBe(404);
      check(missing.body, 'Error', 'unknown rule');
      expect((await get('/rules/mock-add/enable')).status).toBe(405);
      expect((await call(`${admin}/rules`, { method: 'DELETE', headers: auth })).status).toBe(405);
    } finally {
      await c.client.close();
    }
  });

  it('lists the recorded tapes, pages one as feed events, and exports it as JSON and HAR', async () => {
    const c = await connectHttp(proxy.url, 'tapes-client');
    const id = c.transport.sessionId as string;
    await c.client.callTool({ name: 'echo', arguments: { message: 'on tape' } });
    await c.client.close();
    expect((await call(`${admin}/tapes`)).status).toBe(401);

    let tape: { id: string; session: string; client: { name: string } } | undefined;
    await expect
      .poll(async () => {
        const list = await get<{ tapes: Array<NonNullable<typeof tape>> }>('/tapes');
        tape = list.body.tapes.find((t) => t.session === id);
        return tape !== undefined;
      })
      .toBe(true);
    const list = await get('/tapes');
    check(list.body, 'TapeList', 'GET /tapes');
    expect(list.body).toMatchObject({ dir: tapes, total: expect.any(Number) });
    expect(tape?.client.name).toBe('tapes-client');
    const tapeId = (tape as { id: string }).id;

    // Paged: the same events, whatever the page size.
    const whole = await get<{ events: Array<Record<string, unknown>>; more: boolean; complete?: boolean }>(
      `/tapes/${tapeId}?limit=1000`,
    );
    expect(whole.status).toBe(200);
    check(whole.body, 'TapePage', 'GET /tapes/{id}');
    expect(whole.body.more).toBe(false);
    const events = whole.body.events;
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const request = events.find((e) => e.method === 'tools/call') as Record<string, unknown>;
    expect(request).toMatchObject({ type: 'message', direction: 'client-to-server', kind: 'request' });
    expect(events.find((e) => e.requestSeq === request.seq)).toMatchObject({
      kind: 'response',
      outcome: { status: 'ok', failed: false },
      message: { result: { content: [{ type: 'text', text: 'on tape' }] } },
    });
    const first = await get<{ events: Array<{ seq: number }>; more: boolean }>(`/tapes/${tapeId}?limit=3`);
    expect(first.body.more).toBe(true);
    const rest = await get<{ events: Array<{ seq: number }> }>(`/tapes/${tapeId}?after=3&limit=1000`);
    expect([...first.body.events, ...rest.body.events].map((e) => e.seq)).toEqual(events.map((e) => e.seq));

    const json = await get<{ header: { id: string }; events: unknown[] }>(`/tapes/${tapeId}/export`);
    expect(json.status).toBe(200);
    expect(json.body.header.id).toBe(tapeId);
    const har = await call<{ log: { entries: Array<{ request: { postData: { text: string } } }> } }>(
      `${admin}/tapes/${tapeId}/export?format=har`,
      { headers: auth },
    );
    expect(har.status).toBe(200);
    expect(har.body.log.entries.some((e) => e.request.postData.text.includes('on tape'))).toBe(true);
  });

  it('refuses anything but a tape id: no path reaches outside the --record directory', async () => {
    writeFileSync(join(dir, 'outside.tape.jsonl'), '{"format":"mcpscope-tape","version":1}\n');
    writeFileSync(join(tapes, 'broken.tape.jsonl'), 'not a tape\n');
    for (const path of [
      '/tapes/..%2Foutside',
      '/tapes/..%2F..%2Fetc%2Fpasswd',
      '/tapes/%2Fetc%2Fpasswd',
      '/tapes/.hidden',
      '/tapes/..%2Foutside/export',
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(400);
      check(res.body, 'BadParameter', path);
    }
    expect((await get('/tapes/no-such-tape')).status).toBe(404);
    expect((await get('/tapes/broken')).status).toBe(422);
    expect((await get('/tapes?limit=0')).status).toBe(400);
    const list = await get<{ tapes: Array<{ id: string }> }>('/tapes');
    expect((await get(`/tapes/${list.body.tapes[0]?.id}/export?format=xml`)).status).toBe(400);
  });

  it('gives the hour step by step for charts (?series=1h)', async () => {
    const c = await connectHttp(proxy.url, 'series-client');
    try {
      for (let i = 0; i < 3; i++) await c.client.callTool({ name: 'echo', arguments: { message: 'x' } });
      await c.client.callTool({ name: 'fail', arguments: {} });
    } finally {
      await c.client.close();
    }
    const system = await get<{ series: { calls: number[]; health: number[]; step_s: number } }>(
      '/stats?series=1h',
    );
    expect(system.status).toBe(200);
    check(system.body, 'SystemStats', '/stats?series=1h');
    expect(system.body.series.calls).toHaveLength(60);
    expect(system.body.series.step_s).toBeCloseTo(1.2); // 6 buckets of 200 ms
    const tool = await get<{
      series: { calls: number[]; errorRate: Array<number | null>; p95Ms: Array<number | null> };
    }>('/stats/tools/fail?series=1h');
    check(tool.body, 'ToolStats', '/stats/tools/fail?series=1h');
    expect(tool.body.series.calls.reduce((a, b) => a + b, 0)).toBe(1);
    expect(tool.body.series.errorRate.filter((r) => r !== null)).toEqual([1]);
    expect(tool.body.series.p95Ms.filter((p) => p !== null)).toHaveLength(1);
    expect((await get('/stats/tools/echo')).body.series).toBeUndefined();
    const bad = await get('/stats?series=2h');
    expect(bad.status).toBe(400);
    check(bad.body, 'BadParameter', '?series=2h');
  });
});
