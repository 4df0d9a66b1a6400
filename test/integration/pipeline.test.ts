import { afterEach, describe, expect, it } from 'vitest';
import {
  createProxy,
  FORWARD,
  parseFrame,
  type Frame,
  type ProxyHandle,
  type Stage,
} from '../../src/index.js';
import { EXAMPLE, connectHttp, post, rawSession, sseEvents } from '../helpers.js';

/** Stages written the way real ones will be (rules, tapes), driven through the real proxy by an SDK client. */
function recorder(): Stage & { seen: string[]; opened: number; closed: number } {
  const stage = {
    kind: 'observer' as const,
    name: 'test-recorder',
    seen: [] as string[],
    opened: 0,
    closed: 0,
    observe(frame: Frame, _s: unknown, direction: string, verdict: { action: string }) {
      stage.seen.push(
        `${direction}:${frame.kind}:${frame.method ?? frame.related?.method}:${verdict.action}`,
      );
    },
    onSessionOpen() {
      stage.opened++;
    },
    onSessionClose() {
      stage.closed++;
    },
  };
  return stage;
}

describe('pipeline stages in a live proxy (library API)', () => {
  let proxy: ProxyHandle | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it('lets a transformer answer on the server’s behalf, hold messages in order, and observers see verdicts', async () => {
    const rec = recorder();
    const order: string[] = [];
    const mock: Stage = {
      kind: 'transformer',
      name: 'mock-add',
      transform(frame) {
        const msg = frame.msg as { params?: { name?: string; arguments?: { message?: string } } };
        if (frame.method === 'tools/call' && msg.params?.name === 'add') {
          const reply = JSON.stringify({
            jsonrpc: '2.0',
            id: frame.id,
            result: { content: [{ type: 'text', text: 'mocked' }] },
          });
          return { action: 'reply', frame: parseFrame(Buffer.from(reply), 1 << 20) };
        }
        if (frame.method === 'tools/call' && msg.params?.arguments?.message === 'hold me') {
          // Hold this one a while: later messages of the session must wait behind it.
          return new Promise((resolve) => setTimeout(() => (order.push('held'), resolve(FORWARD)), 150));
        }
        if (frame.method === 'tools/call') order.push(msg.params?.arguments?.message ?? '');
        return FORWARD;
      },
    };
    const throwing: Stage = {
      kind: 'observer',
      name: 'broken-observer',
      observe() {
        throw new Error('observer bug');
      },
    };
    proxy = await createProxy({
      inbound: 'http',
      port: 0,
      upstream: { command: process.execPath, args: [EXAMPLE] },
      stages: [mock, throwing, rec],
    });
    const c = await connectHttp(proxy.url ?? '');
    expect((await c.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).content).toEqual([
      { type: 'text', text: 'mocked' },
    ]);
    const heldCall = c.client.callTool({ name: 'echo', arguments: { message: 'hold me' } });
    await new Promise((r) => setTimeout(r, 50));
    const [held, after] = await Promise.all([
      heldCall,
      c.client.callTool({ name: 'echo', arguments: { message: 'after' } }),
    ]);
    expect(held.content).toEqual([{ type: 'text', text: 'hold me' }]);
    expect(after.content).toEqual([{ type: 'text', text: 'after' }]);
    expect(order).toEqual(['held', 'after']);
    expect(rec.seen).toContain('client-to-server:request:tools/call:reply');
    expect(rec.seen).toContain('server-to-client:response:tools/call:forward');
    expect(rec.opened).toBe(1);
    await c.transport.terminateSession();
    expect(rec.closed).toBe(1);
    await c.client.close();
  });

  it('counts a stage that throws in stage_errors_total{stage,hook}, and the message still flows', async () => {
    const failing: Stage = {
      kind: 'transformer',
      name: 'broken-transformer',
      transform(frame) {
        const message = (frame.msg as { params?: { arguments?: { message?: string } } }).params?.arguments
          ?.message;
        if (message === 'throw') throw new Error('transformer bug');
        if (message === 'reject') return Promise.reject(new Error('held, then failed'));
        return FORWARD;
      },
      onSessionOpen() {
        throw new Error('hook bug');
      },
    };
    proxy = await createProxy({
      inbound: 'http',
      port: 0,
      upstream: { command: process.execPath, args: [EXAMPLE] },
      stages: [failing],
    });
    const c = await connectHttp(proxy.url ?? '');
    for (const message of ['throw', 'reject', 'throw']) {
      expect((await c.client.callTool({ name: 'echo', arguments: { message } })).content).toEqual([
        { type: 'text', text: message },
      ]);
    }
    await c.client.close();
    const counted = (await proxy.metrics?.stageErrors.get())?.values ?? [];
    expect(counted.map((v) => [v.labels.stage, v.labels.hook, v.value])).toEqual([
      ['broken-transformer', 'onSessionOpen', 1],
      ['broken-transformer', 'transform', 3],
    ]);
  });

  it('a rewrite keeps the frame’s context (related request, route, traceparent, arrival time), even from a frame built from scratch', async () => {
    const original: Frame[] = [];
    const seen: Frame[] = [];
    const rewriter: Stage = {
      kind: 'transformer',
      name: 'rewriter',
      transform(frame) {
        if (frame.method !== 'tools/call') return FORWARD;
        original.push(frame);
        const msg = frame.msg as unknown as { params: { arguments: { message: string } } };
        const changed = {
          ...msg,
          params: { ...msg.params, arguments: { message: `${msg.params.arguments.message}, rewritten` } },
        };
        // Built from scratch: none of the original's context is on it.
        return { action: 'rewrite', frame: parseFrame(Buffer.from(JSON.stringify(changed)), 1 << 20) };
      },
    };
    const witness: Stage = {
      kind: 'observer',
      name: 'witness',
      observe(frame, _session, direction) {
        if (direction === 'client-to-server' && frame.method === 'tools/call') seen.push(frame);
      },
    };
    proxy = await createProxy({
      inbound: 'http',
      port: 0,
      upstream: { command: process.execPath, args: [EXAMPLE] },
      stages: [rewriter, witness],
    });
    const url = proxy.url ?? '';
    const session = await rawSession(url);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const res = await post(
      url,
      { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } },
      { 'mcp-session-id': session, traceparent },
    );
    const answer = sseEvents(await res.text())
      .map((e) => JSON.parse(e.data) as { id?: number; result?: unknown })
      .find((m) => m.id === 5);
    expect(answer?.result).toMatchObject({ content: [{ type: 'text', text: 'hi, rewritten' }] });
    const [before] = original;
    const [after] = seen;
    expect(after?.msg).toMatchObject({ params: { arguments: { message: 'hi, rewritten' } } });
    expect(after?.traceparent).toBe(traceparent);
    expect(after?.related).toBe(before?.related);
    expect(after?.related?.target).toBe('echo');
    expect(after?.route).toBe(before?.route);
    expect(after?.route).toBeDefined();
    expect(after?.receivedAt).toBe(before?.receivedAt);
  });

  it('logs each message with --log-messages semantics (LogMessagesStage) without breaking the flow', async () => {
    proxy = await createProxy({
      inbound: 'http',
      port: 0,
      upstream: { command: process.execPath, args: [EXAMPLE] },
      logMessages: true,
    });
    expect(proxy.pipeline.stages.map((s) => s.name)).toEqual([
      'circuit-breaker',
      'metrics',
      'drift-watch',
      'log-messages',
    ]);
    const c = await connectHttp(proxy.url ?? '');
    expect((await c.client.callTool({ name: 'add', arguments: { a: 5, b: 5 } })).content).toEqual([
      { type: 'text', text: '10' },
    ]);
    await c.client.close();
  });
});
