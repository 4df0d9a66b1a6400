// Held messages: a transformer that returns a Promise holds a message (and what follows it in the same
// session and direction). A hold has a timeout and the queue behind it a bound; what either refuses is
// answered with an error or shown to observers as dropped, never lost silently.
import { PassThrough } from 'node:stream';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Counter } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createProxy,
  FORWARD,
  type Direction,
  type Frame,
  type ProxyHandle,
  type ProxyOptions,
  type Stage,
  type TransformerStage,
  type Verdict,
} from '../../src/index.js';
import { EXAMPLE, INIT, connectHttp } from '../helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A transformer that holds the messages `pick` selects until the test opens it (or for ever). */
function gate(
  pick: (frame: Frame, direction: Direction) => boolean,
  name = 'gate',
): {
  stage: TransformerStage;
  held: number;
  open(): void;
} {
  const waiting: Array<(v: Verdict) => void> = [];
  const g = {
    held: 0,
    stage: {
      kind: 'transformer' as const,
      name,
      transform(frame: Frame, _session: unknown, direction: Direction) {
        if (!pick(frame, direction)) return FORWARD;
        g.held++;
        return new Promise<Verdict>((resolve) => waiting.push(resolve));
      },
    },
    open: () => {
      for (const resolve of waiting.splice(0)) resolve(FORWARD);
    },
  };
  return g;
}

/** Observers' view: `direction kind what verdict` per message, `what` being the echo message or method. */
function recorder(): Stage & { seen: string[] } {
  const rec = {
    kind: 'observer' as const,
    name: 'recorder',
    seen: [] as string[],
    observe(frame: Frame, _s: unknown, direction: Direction, verdict: Verdict) {
      const args = (frame.msg as { params?: { arguments?: { message?: string } } }).params?.arguments;
      const what = args?.message ?? frame.method ?? frame.related?.target ?? '';
      const detail = verdict.action === 'drop' ? `drop:${verdict.reason}` : verdict.action;
      rec.seen.push(`${direction} ${frame.kind} ${what} ${detail}`);
    },
  };
  return rec;
}

/** One series of a counter; a series that does not exist is an error, not 0. */
async function counted(metric: Counter | undefined, labels: Record<string, string>): Promise<number> {
  const values = (await metric?.get())?.values ?? [];
  const series = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  if (!series) throw new Error(`no series ${JSON.stringify(labels)} in ${JSON.stringify(values)}`);
  return series.value;
}

function textOf(result: unknown): unknown {
  return (result as { content?: unknown }).content;
}

const echo = (id: number, message: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'echo', arguments: { message } },
});

const messageIs =
  (message: string) =>
  (f: Frame, d: Direction): boolean =>
    d === 'client-to-server' &&
    (f.msg as { params?: { arguments?: { message?: string } } }).params?.arguments?.message === message;

let proxy: ProxyHandle | undefined;
let release: (() => void) | undefined;
afterEach(async () => {
  release?.();
  await proxy?.close();
  proxy = undefined;
  release = undefined;
});

/** `forward stdio` as a library, its client a pair of streams: raw lines in, parsed lines out, initialized. */
async function stdioProxy(options: Partial<ProxyOptions>): Promise<{
  send(msg: object): void;
  answers(): Array<Record<string, unknown>>;
}> {
  const input = new PassThrough();
  const output = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  let rest = '';
  output.on('data', (chunk: Buffer) => {
    rest += chunk.toString();
    for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
      lines.push(JSON.parse(rest.slice(0, nl)) as Record<string, unknown>);
      rest = rest.slice(nl + 1);
    }
  });
  proxy = await createProxy({
    inbound: 'stdio',
    upstream: { command: process.execPath, args: [EXAMPLE] },
    stdio: { input, output },
    ...options,
  });
  const send = (msg: object) => input.write(`${JSON.stringify(msg)}\n`);
  const answers = () => lines.filter((l) => 'result' in l || 'error' in l);
  send(INIT);
  await expect.poll(() => answers().length).toBe(1);
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return { send, answers };
}

describe('a held message times out', () => {
  it('a client request held too long is answered with STAGE_TIMEOUT; what queued behind it goes on; a late decision is ignored', async () => {
    const g = gate(messageIs('stuck'));
    release = g.open;
    const rec = recorder();
    proxy = await createProxy({
      inbound: 'http',
      port: 0,
      upstream: { command: process.execPath, args: [EXAMPLE] },
      holdTimeoutMs: 300,
      stages: [g.stage, rec],
    });
    const c = await connectHttp(proxy.url ?? '');
    const started = Date.now();
    const stuck = c.client
      .callTool({ name: 'echo', arguments: { message: 'stuck' } })
      .catch((e: unknown) => e);
    await sleep(50);
    const after = c.client.callTool({ name: 'echo', arguments: { message: 'after' } });
    const err = await stuck;
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32001);
    expect((err as McpError).data).toMatchObject({
      source: 'mcpscope',
      code: 'STAGE_TIMEOUT',
      stage: 'gate',
      holdTimeoutMs: 300,
    });
    expect(textOf(await after)).toEqual([{ type: 'text', text: 'after' }]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    // The stage decides at last: too late, the request was answered already and never goes upstream.
    g.open();
    await sleep(100);
    const calls = rec.seen.filter((s) => s.startsWith('client-to-server request'));
    expect(calls.slice(-2)).toEqual([
      'client-to-server request stuck reply',
      'client-to-server request after forward',
    ]);
    expect(rec.seen.filter((s) => s.includes('drop'))).toEqual([]);
    await c.client.close();

    const m = proxy.metrics;
    expect(await counted(m?.holdTimeouts, { stage: 'gate' })).toBe(1);
    expect(await counted(m?.errors, { code: 'STAGE_TIMEOUT' })).toBe(1);
    expect(await counted(m?.toolCalls, { tool: 'echo', status: 'timeout' })).toBe(1);
    expect(await counted(m?.toolCalls, { tool: 'echo', status: 'ok' })).toBe(1);
  });

  it('a held notification is dropped with reason hold_timeout; a held answer is replaced by STAGE_TIMEOUT for the client', async () => {
    const g = gate(
      (f, d) =>
        d === 'server-to-client' &&
        (f.method === 'notifications/message' || (f.kind === 'response' && f.related?.target === 'add')),
    );
    release = g.open;
    const rec = recorder();
    proxy = await createProxy({
      inbound: 'http',
      port: 0,
      upstream: { command: process.execPath, args: [EXAMPLE] },
      holdTimeoutMs: 300,
      stages: [g.stage, rec],
    });
    const c = await connectHttp(proxy.url ?? '');
    // echo logs a notification before it answers: the answer waits behind the held notification.
    expect(textOf(await c.client.callTool({ name: 'echo', arguments: { message: 'note' } }))).toEqual([
      { type: 'text', text: 'note' },
    ]);
    const err = await c.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).data).toMatchObject({ code: 'STAGE_TIMEOUT', stage: 'gate' });
    expect((err as McpError).message).toMatch(/held this answer to tools\/call for 300 ms/);
    expect(rec.seen).toContain('server-to-client notification notifications/message drop:hold_timeout');
    expect(rec.seen).toContain('server-to-client response add drop:hold_timeout');
    expect(rec.seen).toContain('server-to-client error add forward');
    await c.client.close();

    const m = proxy.metrics;
    expect(g.held).toBe(2);
    expect(await counted(m?.holdTimeouts, { stage: 'gate' })).toBe(2);
    const dropped = { direction: 'server_to_client', reason: 'hold_timeout' };
    expect(await counted(m?.messagesDropped, dropped)).toBe(2);
    // The dropped answer never reached the client: the call counts once, as the error it got.
    expect(await counted(m?.toolCalls, { tool: 'add', status: 'timeout' })).toBe(1);
    expect((await m?.toolCalls.get())?.values.filter((v) => v.labels.tool === 'add')).toHaveLength(1);
  });
});

describe('the queue behind a held message is bounded', () => {
  it('stdio: past maxHeld a request gets PIPELINE_FULL and a notification is dropped; the held ones then go in order', async () => {
    const g = gate(messageIs('gate'));
    release = g.open;
    const rec = recorder();
    const { send, answers } = await stdioProxy({ maxHeld: 2, stages: [g.stage, rec] });
    send(echo(1, 'gate'));
    send(echo(2, 'two'));
    send(echo(3, 'three'));
    send(echo(4, 'four'));
    send({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' });
    await expect.poll(() => answers().length).toBe(2);
    expect(answers()[1]).toMatchObject({
      id: 4,
      error: { code: -32000, data: { source: 'mcpscope', code: 'PIPELINE_FULL', stage: 'gate', maxHeld: 2 } },
    });
    expect(g.held).toBe(1);
    g.open();
    await expect.poll(() => answers().length).toBe(5);
    expect(answers().map((a) => a.id)).toEqual([0, 4, 1, 2, 3]);
    expect(answers().slice(2)).toMatchObject([
      { result: { content: [{ text: 'gate' }] } },
      { result: { content: [{ text: 'two' }] } },
      { result: { content: [{ text: 'three' }] } },
    ]);
    expect(rec.seen).toContain('client-to-server request four reply');
    expect(rec.seen).toContain(
      'client-to-server notification notifications/roots/list_changed drop:held_overflow',
    );

    const m = proxy?.metrics;
    expect(await counted(m?.heldOverflow, { stage: 'gate' })).toBe(2);
    expect(await counted(m?.errors, { code: 'PIPELINE_FULL' })).toBe(1);
    expect(
      await counted(m?.messagesDropped, { direction: 'client_to_server', reason: 'held_overflow' }),
    ).toBe(1);
  });
});

describe('a message held again by a later stage', () => {
  it('keeps what queued behind it waiting, in order (regression: the queue was lost)', async () => {
    const first = gate(messageIs('held twice'), 'first');
    const second = gate(messageIs('held twice'), 'second');
    release = () => (first.open(), second.open());
    const { send, answers } = await stdioProxy({ stages: [first.stage, second.stage] });
    send(echo(1, 'held twice'));
    send(echo(2, 'behind'));
    await sleep(100);
    first.open();
    await sleep(100);
    // Still held by the second stage: the message behind it must not overtake it.
    expect(second.held).toBe(1);
    expect(answers().map((a) => a.id)).toEqual([0]);
    second.open();
    await expect.poll(() => answers().length).toBe(3);
    expect(answers().map((a) => a.id)).toEqual([0, 1, 2]);
  });
});
