// Breakpoints with a real Session, Pipeline and InterceptStage; only the two wires are stand-ins that
// record what they are sent (the integration tests, test/integration/breakpoints.test.ts, drive the same
// through the real CLI with SDK clients). Here: every way an edit is refused, held answers, notifications
// and server requests, session close, the timeout, and the admin API's validation.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BreakpointsApi } from '../../src/admin/breakpointsApi.js';
import { Breakpoints, MAX_BREAKPOINTS } from '../../src/intercept/breakpoints.js';
import { parseFrame, type Frame } from '../../src/jsonrpc/framing.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/observe/metrics.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { Direction, ObserverStage, Verdict } from '../../src/pipeline/stage.js';
import type { PausedEvent, SessionEvent } from '../../src/session/events.js';
import type { Session } from '../../src/session/session.js';
import { SessionManager } from '../../src/session/sessionManager.js';
import { InterceptStage } from '../../src/stages/interceptStage.js';
import { Redactor } from '../../src/tape/redact.js';
import type { Transport } from '../../src/transport/transport.js';

interface Wire extends Transport {
  readonly sent: Array<Record<string, unknown>>;
  /** Hand the session a message from this side. */
  receive(msg: object): void;
}

function wire(): Wire {
  const sent: Array<Record<string, unknown>> = [];
  const w: Wire = {
    kind: 'stdio',
    sent,
    start: async () => undefined,
    send: (frame: Frame) => sent.push(frame.msg as unknown as Record<string, unknown>),
    close: async () => undefined,
    receive: (msg) => w.onmessage?.(parseFrame(Buffer.from(JSON.stringify(msg)), 1_000_000)),
  };
  return w;
}

/** A held message goes on when its hold's Promise settles: a microtask later. */
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

const call = (id: number, args: Record<string, unknown> = { a: 1, b: 2 }) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'add', arguments: args },
});

describe('breakpoints', () => {
  let manager: SessionManager;
  let breakpoints: Breakpoints;
  let api: BreakpointsApi;
  let metrics: Metrics;
  let session: Session;
  let client: Wire;
  let server: Wire;
  const events: SessionEvent[] = [];
  const seen: Array<{ msg: unknown; direction: Direction; verdict: Verdict }> = [];

  async function setUp(timeoutMs = 60_000): Promise<void> {
    metrics = new Metrics();
    breakpoints = new Breakpoints({
      upstreamName: 'test',
      timeoutMs,
      maxMessageBytes: 1_024,
      redactor: new Redactor(),
      metrics,
      logger: silentLogger(),
    });
    api = new BreakpointsApi(breakpoints);
    const intercept = new InterceptStage({
      upstreamName: 'test',
      breakpoints,
      metrics,
      logger: silentLogger(),
      holdTimeoutMs: 30_000,
    });
    const observer: ObserverStage = {
      kind: 'observer',
      name: 'observer',
      observe: (frame, _s, direction, verdict) => seen.push({ msg: frame.msg, direction, verdict }),
      onEvent: (_s, event) => events.push(event),
    };
    manager = new SessionManager({
      pipeline: new Pipeline([intercept, observer], silentLogger()),
      logger: silentLogger(),
      requestTimeoutMs: 60_000,
    });
    client = wire();
    server = wire();
    session = await manager.create(manager.reserve(), {
      inbound: client,
      outbound: server,
      upstream: 'test',
    });
  }

  const paused = (): PausedEvent[] => events.filter((e): e is PausedEvent => e.type === 'paused');
  const gauge = async (): Promise<number | undefined> =>
    (await metrics.pausedMessages.get()).values[0]?.value;
  const set = (match: object) => api.handle('POST', '/breakpoints', { match });

  beforeEach(() => {
    events.length = 0;
    seen.length = 0;
  });
  afterEach(async () => {
    await manager.closeAll();
    breakpoints.close();
  });

  it('the InterceptStage may hold as long as the breakpoint timeout, and a margin', async () => {
    await setUp(120_000);
    const stage = new InterceptStage({
      upstreamName: 'test',
      breakpoints,
      metrics: null,
      logger: silentLogger(),
      holdTimeoutMs: 30_000,
    });
    expect(stage.holdTimeoutMs).toBeGreaterThan(120_000);
    expect(
      new InterceptStage({ upstreamName: 't', metrics: null, logger: silentLogger(), holdTimeoutMs: 1 })
        .holdTimeoutMs,
    ).toBeUndefined();
  });

  it('refuses every edit that is not the same kind of message with the same id, and keeps it held', async () => {
    await setUp();
    expect(set({ method: 'tools/call' }).status).toBe(201);
    client.receive(call(1));
    expect(server.sent).toEqual([]);
    expect(await gauge()).toBe(1);
    const [held] = breakpoints.pausedMessages();
    expect(held).toMatchObject({
      kind: 'request',
      method: 'tools/call',
      messageId: 1,
      cause: 'breakpoint:1',
    });
    const id = held?.id as string;
    const refused = [
      'not an object',
      { jsonrpc: '1.0', id: 1, method: 'tools/call', params: {} },
      { jsonrpc: '2.0', method: 'tools/call', params: {} },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: {} },
      { jsonrpc: '2.0', id: '1', method: 'tools/call', params: {} },
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: 1, result: {} },
      call(1, { big: 'x'.repeat(2_000) }),
    ];
    for (const message of refused) {
      const res = api.handle('POST', `/paused/${id}/resume`, { message });
      expect(res.status, JSON.stringify(message).slice(0, 80)).toBe(400);
    }
    expect(breakpoints.pausedMessages()).toHaveLength(1);
    expect(server.sent).toEqual([]);
    const ok = api.handle('POST', `/paused/${id}/resume`, { message: call(1, { a: 40, b: 2 }) });
    expect(ok).toEqual({ status: 200, body: { id, state: 'edited' } });
    await tick();
    expect(server.sent).toEqual([call(1, { a: 40, b: 2 })]);
    expect(await gauge()).toBe(0);
    expect(paused().map((e) => e.state)).toEqual(['held', 'edited']);
    // Let go already: 404 for everything.
    expect(api.handle('POST', `/paused/${id}/resume`, undefined).status).toBe(404);
    expect(api.handle('POST', `/paused/${id}/drop`, undefined).status).toBe(404);
    expect(api.handle('POST', `/paused/${id}/reply`, { result: {} }).status).toBe(404);
  });

  it('holds later messages of the same direction behind a held one, not the other direction', async () => {
    await setUp();
    set({ method: 'tools/call', arguments: { a: 1 } });
    client.receive(call(1));
    client.receive(call(2, { a: 2, b: 2 }));
    server.receive({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } });
    expect(server.sent).toEqual([]);
    expect(client.sent).toHaveLength(1);
    api.handle('POST', `/paused/${breakpoints.pausedMessages()[0]?.id}/resume`, undefined);
    await tick();
    expect(server.sent.map((m) => m.id)).toEqual([1, 2]);
  });

  it("holds the server's answer: an edit may turn it into an error, a drop answers with DROPPED_AT_BREAKPOINT, a reply is refused", async () => {
    await setUp();
    set({ direction: 'response', method: 'tools/call' });
    client.receive(call(1));
    client.receive(call(2));
    expect(server.sent).toHaveLength(2);
    server.receive({ jsonrpc: '2.0', id: 1, result: { content: [] } });
    const [first] = breakpoints.pausedMessages();
    expect(first).toMatchObject({ kind: 'response', direction: 'server-to-client', method: 'tools/call' });
    const id = first?.id as string;
    expect(api.handle('POST', `/paused/${id}/reply`, { result: {} }).status).toBe(400);
    const edited = { jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'edited into an error' } };
    expect(api.handle('POST', `/paused/${id}/resume`, { message: edited }).status).toBe(200);
    await tick();
    expect(client.sent).toEqual([edited]);

    server.receive({ jsonrpc: '2.0', id: 2, result: { content: [] } });
    const second = breakpoints.pausedMessages()[0]?.id as string;
    expect(api.handle('POST', `/paused/${second}/drop`, undefined).status).toBe(200);
    await tick();
    expect(client.sent[1]).toMatchObject({
      id: 2,
      error: { code: -32004, data: { source: 'mcpscope', code: 'DROPPED_AT_BREAKPOINT' } },
    });
    expect(session.pendingCount).toBe(0);
  });

  it('drops a notification without a word, and answers a dropped server request so the server does not wait', async () => {
    await setUp();
    set({ direction: 'response', any: [{ method: 'notifications/*' }, { method: 'sampling/*' }] });
    server.receive({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } });
    api.handle('POST', `/paused/${breakpoints.pausedMessages()[0]?.id}/drop`, undefined);
    await tick();
    expect(client.sent).toEqual([]);
    expect(seen.at(-1)?.verdict).toEqual({ action: 'drop', reason: 'dropped_at_breakpoint' });

    server.receive({ jsonrpc: '2.0', id: 'q', method: 'sampling/createMessage', params: { messages: [] } });
    expect(session.awaitingAnswers).toBe(true);
    api.handle('POST', `/paused/${breakpoints.pausedMessages()[0]?.id}/drop`, undefined);
    await tick();
    expect(server.sent).toEqual([
      expect.objectContaining({ id: 'q', error: expect.objectContaining({ code: -32004 }) }),
    ]);
    // The server's request is settled by that answer: the session does not wait for a client answer.
    expect(session.awaitingAnswers).toBe(false);
  });

  it('answers a held request with a reply, a result or an error', async () => {
    await setUp();
    set({ tool: 'add' });
    client.receive(call(1));
    const id = breakpoints.pausedMessages()[0]?.id as string;
    expect(api.handle('POST', `/paused/${id}/reply`, { error: { code: 'x' } }).status).toBe(400);
    expect(api.handle('POST', `/paused/${id}/reply`, { result: 1, error: 2 }).status).toBe(400);
    expect(api.handle('POST', `/paused/${id}/reply`, {}).status).toBe(400);
    expect(api.handle('POST', `/paused/${id}/reply`, { error: { code: -1, message: 'no' } })).toEqual({
      status: 200,
      body: { id, state: 'replied' },
    });
    await tick();
    expect(client.sent).toEqual([{ jsonrpc: '2.0', id: 1, error: { code: -1, message: 'no' } }]);
    expect(server.sent).toEqual([]);
    expect(session.pendingCount).toBe(0);
  });

  it('releases a held message unchanged after the timeout, and says so', async () => {
    await setUp(50);
    set({});
    client.receive(call(1));
    await expect.poll(() => server.sent.length, { timeout: 2_000 }).toBe(1);
    expect(paused().map((e) => e.state)).toEqual(['held', 'timed_out']);
    expect(paused()[1]?.heldMs).toBeGreaterThanOrEqual(45);
  });

  it('lets go what a closing session holds', async () => {
    await setUp();
    set({});
    client.receive(call(1));
    expect(await gauge()).toBe(1);
    await session.close();
    expect(breakpoints.pausedMessages()).toEqual([]);
    expect(await gauge()).toBe(0);
    expect(server.sent).toEqual([]);
  });

  it('shows held messages redacted, as the live feed does', async () => {
    await setUp();
    set({});
    client.receive(call(1, { api_key: 'hunter2', note: 'Bearer abcdefghijklmnop' }));
    const shown = JSON.stringify(breakpoints.pausedMessages()[0]?.message);
    expect(shown).not.toContain('hunter2');
    expect(shown).not.toContain('abcdefghijklmnop');
    expect(shown).toContain('[REDACTED]');
  });
});

describe('the breakpoints API', () => {
  const make = () =>
    new BreakpointsApi(
      new Breakpoints({
        upstreamName: 'test',
        maxMessageBytes: 1_024,
        redactor: new Redactor(),
        metrics: null,
        logger: silentLogger(),
      }),
    );

  it('answers an invalid breakpoint with 400, naming each key and what was expected', () => {
    const api = make();
    const problems = (body: unknown) => {
      const res = api.handle('POST', '/breakpoints', body);
      expect(res.status).toBe(400);
      return (res.body as { problems: Array<{ key: string; expected: string }> }).problems;
    };
    expect(problems({ match: { tool: 3 } })).toEqual([
      { key: 'match.tool', expected: expect.stringMatching(/string/) },
    ]);
    expect(problems({ match: { colour: 'red' } })).toEqual([
      { key: 'match.colour', expected: 'nothing: not a known key' },
    ]);
    expect(problems({})).toEqual([{ key: 'match', expected: expect.any(String) }]);
    expect(problems({ match: { direction: 'sideways' } })[0]?.key).toBe('match.direction');
    expect(problems({ match: { any: [{ arguments: { q: { regex: '(' } } }] } })).toEqual([
      { key: 'match.any.0.arguments.q.regex', expected: expect.stringMatching(/regular expression/) },
    ]);
    expect(problems({ match: { equals: 1 } })[0]?.expected).toMatch(/path/);
    expect(problems(undefined)[0]?.key).toBe('the body');
  });

  it('sets, lists, shows and deletes breakpoints, up to the most at once', () => {
    const api = make();
    const created = api.handle('POST', '/breakpoints', { match: { method: 'tools/*' } });
    expect(created).toEqual({
      status: 201,
      body: { id: '1', match: { method: 'tools/*' }, hits: 0 },
      headers: { location: '/breakpoints/1' },
    });
    expect(api.handle('GET', '/breakpoints', undefined).body).toEqual({ breakpoints: [created.body] });
    expect(api.handle('GET', '/breakpoints/1', undefined).status).toBe(200);
    expect(api.handle('PUT', '/breakpoints/1', undefined).status).toBe(405);
    expect(api.handle('DELETE', '/breakpoints/1', undefined).status).toBe(204);
    expect(api.handle('DELETE', '/breakpoints/1', undefined).status).toBe(404);
    expect(api.handle('GET', '/breakpoints/%E0%A4%A', undefined).status).toBe(404);
    for (let i = 0; i < MAX_BREAKPOINTS; i++) api.handle('POST', '/breakpoints', { match: {} });
    expect(api.handle('POST', '/breakpoints', { match: {} }).status).toBe(409);
  });

  it('answers unknown held messages with 404 and other methods with 405', () => {
    const api = make();
    expect(api.handle('GET', '/paused', undefined)).toEqual({ status: 200, body: { paused: [] } });
    expect(api.handle('GET', '/paused/7', undefined).status).toBe(404);
    expect(api.handle('POST', '/paused/7/resume', undefined).status).toBe(404);
    expect(api.handle('POST', '/paused/7/drop', undefined).status).toBe(404);
    expect(api.handle('POST', '/paused/7/reply', { result: null }).status).toBe(404);
    expect(api.handle('GET', '/paused/7/resume', undefined)).toMatchObject({
      status: 405,
      headers: { allow: 'POST' },
    });
    expect(api.handle('POST', '/paused/7/resume', { message: 'x' }).status).toBe(400);
    expect(BreakpointsApi.owns('/paused/7/explode')).toBe(false);
  });
});
