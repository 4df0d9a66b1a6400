// Breakpoints through the real CLI with real SDK clients: a person (here, the test) holds a message over
// the admin API, looks at it, and lets it go unchanged, edited, dropped or answered; or nobody does and it
// is released after --breakpoint-timeout-ms. Rules with `break: true` hold messages the same way, and other
// sessions flow while one is held.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  EXAMPLE,
  adminUrlFrom,
  connectHttp,
  connectStdio,
  startHttpProxy,
  type RunningCli,
} from '../helpers.js';

interface Held {
  id: string;
  session: string;
  direction: string;
  kind: string;
  method?: string;
  messageId?: string | number;
  cause: string;
  message: Record<string, unknown> & { params?: Record<string, unknown> };
  heldMs: number;
  releasedInMs: number;
}

interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

async function call<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Wait until `count` messages are held, and return them. */
async function held(admin: string, count = 1): Promise<Held[]> {
  let paused: Held[] = [];
  await expect
    .poll(
      async () => {
        paused = (await call<{ paused: Held[] }>(admin, 'GET', '/paused')).body.paused;
        return paused.length;
      },
      { timeout: 10_000, interval: 20 },
    )
    .toBe(count);
  return paused;
}

async function gauge(admin: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const m = new RegExp(`^mcpscope_${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

async function setBreakpoint(admin: string, match: Record<string, unknown>): Promise<string> {
  const res = await call<{ id: string }>(admin, 'POST', '/breakpoints', { match });
  expect(res.status).toBe(201);
  return res.body.id;
}

const text = (result: unknown): string =>
  ((result as { content: Array<{ text: string }> }).content[0] as { text: string }).text;

/** Whether a promise has settled yet (without waiting for it). */
function tracked<T>(p: Promise<T>): { promise: Promise<T>; settled(): boolean } {
  let done = false;
  const promise = p.finally(() => (done = true));
  return { promise, settled: () => done };
}

describe('breakpoints, forward http', () => {
  let proxy: RunningCli;
  let admin: string;
  beforeAll(async () => {
    proxy = await startHttpProxy(['--admin-port', '0', '--', process.execPath, EXAMPLE]);
    admin = await adminUrlFrom(proxy.stderr);
  });
  afterAll(async () => {
    await proxy.stop();
  });
  afterEach(async () => {
    const { body } = await call<{ breakpoints: Array<{ id: string }> }>(admin, 'GET', '/breakpoints');
    for (const bp of body.breakpoints) await call(admin, 'DELETE', `/breakpoints/${bp.id}`);
    // Nothing a test held stays held for the next (let go, so one failure does not bring down the rest).
    const left = (await call<{ paused: Held[] }>(admin, 'GET', '/paused')).body.paused;
    for (const h of left) await call(admin, 'POST', `/paused/${h.id}/resume`);
    expect(left).toEqual([]);
  });

  it('holds a matching request until it is resumed unchanged, and the feed and the gauge say so', async () => {
    const c = await connectHttp(proxy.url);
    const bp = await setBreakpoint(admin, { method: 'tools/call', tool: 'echo' });
    // Other calls pass.
    expect(text(await c.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } }))).toBe('2');
    const pending = tracked(c.client.callTool({ name: 'echo', arguments: { message: 'hello' } }));
    const [h] = await held(admin);
    expect(h).toMatchObject({
      session: c.transport.sessionId,
      direction: 'client-to-server',
      kind: 'request',
      method: 'tools/call',
      cause: `breakpoint:${bp}`,
      message: { method: 'tools/call', params: { name: 'echo', arguments: { message: 'hello' } } },
    });
    expect(h?.releasedInMs).toBeGreaterThan(250_000);
    expect(await gauge(admin, 'paused_messages')).toBe(1);
    expect((await call(admin, 'GET', `/paused/${h?.id}`)).body).toMatchObject({ id: h?.id });
    expect(pending.settled()).toBe(false);

    expect(await call(admin, 'POST', `/paused/${h?.id}/resume`)).toEqual({
      status: 200,
      body: { id: h?.id, state: 'resumed' },
    });
    expect(text(await pending.promise)).toBe('hello');
    expect(await gauge(admin, 'paused_messages')).toBe(0);
    expect((await call<{ breakpoints: unknown[] }>(admin, 'GET', '/breakpoints')).body.breakpoints).toEqual([
      { id: bp, match: { method: 'tools/call', tool: 'echo' }, hits: 1 },
    ]);
    const events = (
      await call<{ events: Array<Record<string, unknown>> }>(
        admin,
        'GET',
        `/sessions/${c.transport.sessionId}/events?limit=1000`,
      )
    ).body.events.filter((e) => e.type === 'paused');
    expect(events).toEqual([
      expect.objectContaining({
        pause: h?.id,
        cause: `breakpoint:${bp}`,
        state: 'held',
        method: 'tools/call',
      }),
      expect.objectContaining({ pause: h?.id, state: 'resumed', heldMs: expect.any(Number) }),
    ]);
    await c.client.close();
  });

  it('sends an edited request instead: the server answers what the person wrote', async () => {
    const c = await connectHttp(proxy.url);
    await setBreakpoint(admin, { tool: 'add' });
    const pending = c.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
    const [h] = await held(admin);
    const edited = { ...h?.message, params: { ...h?.message.params, arguments: { a: 40, b: 2 } } };
    expect((await call(admin, 'POST', `/paused/${h?.id}/resume`, { message: edited })).body).toEqual({
      id: h?.id,
      state: 'edited',
    });
    expect(text(await pending)).toBe('42');
    await c.client.close();
  });

  it('refuses an invalid edit with 400 and a reason; the message stays held', async () => {
    const c = await connectHttp(proxy.url);
    await setBreakpoint(admin, { tool: 'add' });
    const pending = tracked(c.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }));
    const [h] = await held(admin);
    const message = h?.message as Record<string, unknown>;
    for (const bad of [
      { ...message, jsonrpc: '1.0' },
      { ...message, id: 'another' },
      { ...message, method: 'tools/list' },
      { jsonrpc: '2.0', id: message.id, result: {} },
    ]) {
      const res = await call<{ error: string }>(admin, 'POST', `/paused/${h?.id}/resume`, { message: bad });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/stays held/);
    }
    expect((await call(admin, 'POST', `/paused/${h?.id}/resume`, { message: 'text' })).status).toBe(400);
    expect((await call(admin, 'POST', `/paused/${h?.id}/resume`, '{not json')).status).toBe(400);
    expect(await held(admin)).toEqual([expect.objectContaining({ id: h?.id })]);
    expect(pending.settled()).toBe(false);
    await call(admin, 'POST', `/paused/${h?.id}/resume`);
    expect(text(await pending.promise)).toBe('3');
    await c.client.close();
  });

  it('drops a held request: the client gets a DROPPED_AT_BREAKPOINT error and does not hang', async () => {
    const c = await connectHttp(proxy.url);
    await setBreakpoint(admin, { tool: 'echo' });
    const pending = c.client.callTool({ name: 'echo', arguments: { message: 'never sent' } });
    const [h] = await held(admin);
    expect((await call(admin, 'POST', `/paused/${h?.id}/drop`)).body).toEqual({
      id: h?.id,
      state: 'dropped',
    });
    const err = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(McpError);
    expect(err).toMatchObject({ code: -32004, data: { source: 'mcpscope', code: 'DROPPED_AT_BREAKPOINT' } });
    // The session goes on.
    expect(text(await c.client.callTool({ name: 'add', arguments: { a: 2, b: 2 } }))).toBe('4');
    await c.client.close();
  });

  it('replies to a held request in the server’s name, with a result or an error', async () => {
    const c = await connectHttp(proxy.url);
    await setBreakpoint(admin, { tool: 'echo' });
    const first = c.client.callTool({ name: 'echo', arguments: { message: 'x' } });
    const [h] = await held(admin);
    const result = { content: [{ type: 'text', text: 'from a person' }] };
    expect((await call(admin, 'POST', `/paused/${h?.id}/reply`, { result })).body).toEqual({
      id: h?.id,
      state: 'replied',
    });
    expect(await first).toEqual(result);
    // Counted as an answer a person gave, not the server's.
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(
      /^mcpscope_requests_total\{[^}]*method="tools\/call"[^}]*status="ok"[^}]*source="breakpoint"[^}]*\} [1-9]/m,
    );

    const second = c.client.callTool({ name: 'echo', arguments: { message: 'y' } });
    const [h2] = await held(admin);
    const bad = await call(admin, 'POST', `/paused/${h2?.id}/reply`, { error: { code: 'x', message: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.problems).toEqual([
      { key: 'error.code', expected: expect.any(String) },
      { key: 'error.message', expected: expect.any(String) },
    ]);
    await call(admin, 'POST', `/paused/${h2?.id}/reply`, { error: { code: -32050, message: 'not today' } });
    await expect(second).rejects.toMatchObject({ code: -32050 });
    await c.client.close();
  });

  it("holds the server's answer: it cannot be replied to, but can be edited", async () => {
    const c = await connectHttp(proxy.url);
    // `method` too: the echo tool's log notification is about the call as well.
    await setBreakpoint(admin, { direction: 'response', method: 'tools/call', tool: 'echo' });
    const pending = c.client.callTool({ name: 'echo', arguments: { message: 'original' } });
    const [h] = await held(admin);
    expect(h).toMatchObject({ direction: 'server-to-client', kind: 'response', method: 'tools/call' });
    const refused = await call<{ error: string }>(admin, 'POST', `/paused/${h?.id}/reply`, { result: {} });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/not a request/);
    const message = { ...h?.message, result: { content: [{ type: 'text', text: 'edited answer' }] } };
    await call(admin, 'POST', `/paused/${h?.id}/resume`, { message });
    expect(text(await pending)).toBe('edited answer');
    await c.client.close();
  });

  it("holds one session's message while other sessions flow; its later messages wait behind it", async () => {
    const heldClient = await connectHttp(proxy.url, 'held-client');
    const free = await connectHttp(proxy.url, 'free-client');
    await setBreakpoint(admin, { session: 'held-client', tool: 'echo' });
    const first = tracked(heldClient.client.callTool({ name: 'echo', arguments: { message: 'first' } }));
    const [h] = await held(admin);
    expect(h?.session).toBe(heldClient.transport.sessionId);
    // Not a tools/call echo: not held itself, but it waits behind the held one (order is kept).
    const second = tracked(heldClient.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } }));
    for (let i = 0; i < 5; i++) {
      expect(text(await free.client.callTool({ name: 'echo', arguments: { message: `free ${i}` } }))).toBe(
        `free ${i}`,
      );
    }
    expect(first.settled()).toBe(false);
    expect(second.settled()).toBe(false);
    await call(admin, 'POST', `/paused/${h?.id}/resume`);
    expect(text(await first.promise)).toBe('first');
    expect(text(await second.promise)).toBe('2');
    await heldClient.client.close();
    await free.client.close();
  });

  it('answers bad requests with 400 naming the key, unknown ids with 404, other methods with 405', async () => {
    const bad = await call<{ error: string; problems: unknown[] }>(admin, 'POST', '/breakpoints', {
      match: { tool: 7, colour: 'red' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.problems).toEqual(
      expect.arrayContaining([
        { key: 'match.tool', expected: expect.stringMatching(/string/) },
        { key: 'match.colour', expected: 'nothing: not a known key' },
      ]),
    );
    expect(bad.body.error).toMatch(/match\.tool/);
    expect((await call(admin, 'POST', '/breakpoints', '{')).status).toBe(400);
    expect((await call(admin, 'DELETE', '/breakpoints/999')).status).toBe(404);
    expect((await call(admin, 'GET', '/paused/999')).status).toBe(404);
    for (const action of ['resume', 'drop']) {
      expect((await call(admin, 'POST', `/paused/999/${action}`)).status).toBe(404);
    }
    expect((await call(admin, 'POST', '/paused/999/reply', { result: 1 })).status).toBe(404);
    const put = await fetch(`${admin}/paused`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD');
    await put.text();
    // Everything else stays read-only.
    expect((await call(admin, 'POST', '/stats')).status).toBe(405);
    // A body over the bound is refused before it is buffered.
    const big = await call(admin, 'POST', '/breakpoints', { match: { tool: 'x'.repeat(5 * 1024 * 1024) } });
    expect(big.status).toBe(413);
  });
});

describe('breakpoints: the timeout, and rules that break', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mcpscope-bp-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('releases a held message unchanged after --breakpoint-timeout-ms, and the feed says so', async () => {
    const proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--breakpoint-timeout-ms',
      '1000',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    try {
      const admin = await adminUrlFrom(proxy.stderr);
      const c = await connectHttp(proxy.url);
      await setBreakpoint(admin, { tool: 'echo' });
      const t0 = performance.now();
      const pending = c.client.callTool({ name: 'echo', arguments: { message: 'waited' } });
      const [h] = await held(admin);
      expect(h?.releasedInMs).toBeLessThanOrEqual(1_000);
      expect(text(await pending)).toBe('waited');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(950);
      expect((await call<{ paused: Held[] }>(admin, 'GET', '/paused')).body.paused).toEqual([]);
      const events = (
        await call<{ events: Array<Record<string, unknown>> }>(
          admin,
          'GET',
          `/sessions/${c.transport.sessionId}/events?limit=1000`,
        )
      ).body.events.filter((e) => e.type === 'paused');
      expect(events.map((e) => e.state)).toEqual(['held', 'timed_out']);
      expect(proxy.stderr()).toMatch(/released unchanged/);
      await c.client.close();
    } finally {
      await proxy.stop();
    }
  });

  it('holds a message that a rule with `action: { break: true }` matches, under the rule’s name', async () => {
    const rules = join(dir, 'rules.yaml');
    writeFileSync(
      rules,
      [
        'rules:',
        '  - name: hold-add',
        '    match: { method: tools/call, tool: add }',
        '    action: { break: true }',
        '',
      ].join('\n'),
    );
    const proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--rules',
      rules,
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    try {
      const admin = await adminUrlFrom(proxy.stderr);
      const c = await connectHttp(proxy.url);
      const pending = c.client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
      const [h] = await held(admin);
      expect(h).toMatchObject({ cause: 'hold-add', method: 'tools/call' });
      const edited = { ...h?.message, params: { ...h?.message.params, arguments: { a: 20, b: 3 } } };
      await call(admin, 'POST', `/paused/${h?.id}/resume`, { message: edited });
      expect(text(await pending)).toBe('23');
      const metrics = await (await fetch(`${admin}/metrics`)).text();
      expect(metrics).toMatch(/^mcpscope_intercept_actions_total\{rule="hold-add",action="break"\} 1$/m);
      await c.client.close();
    } finally {
      await proxy.stop();
    }
  });
});

describe('breakpoints, forward stdio', () => {
  it('holds, edits and drops messages of the one stdio session', async () => {
    const c = await connectStdio(['--admin-port', '0', '--', process.execPath, EXAMPLE]);
    try {
      const admin = await adminUrlFrom(c.stderr);
      await setBreakpoint(admin, { tool: 'add' });
      const first = c.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
      const [h] = await held(admin);
      expect(h?.kind).toBe('request');
      const edited = { ...h?.message, params: { ...h?.message.params, arguments: { a: 100, b: 1 } } };
      await call(admin, 'POST', `/paused/${h?.id}/resume`, { message: edited });
      expect(text(await first)).toBe('101');

      const second = c.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
      const [h2] = await held(admin);
      await call(admin, 'POST', `/paused/${h2?.id}/drop`);
      await expect(second).rejects.toMatchObject({ data: { code: 'DROPPED_AT_BREAKPOINT' } });
      // Nothing held any more: calls flow again once the breakpoint is gone.
      await call(admin, 'DELETE', '/breakpoints/1');
      expect(text(await c.client.callTool({ name: 'add', arguments: { a: 3, b: 4 } }))).toBe('7');
    } finally {
      await c.client.close();
    }
  });
});
