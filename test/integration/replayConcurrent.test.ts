// Replay that any client can drive: concurrent calls answered out of order, over stdio and HTTP.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readTape } from '../../src/tape/tapeReader.js';
import {
  CLI,
  EXAMPLE,
  connectHttp,
  connectCliStdio,
  makeClient,
  post,
  rawSession,
  sseEvents,
  recordedHandshake,
  startFixture,
  startHttpProxy,
  startListening,
  writeTape,
  type TestClient,
} from '../helpers.js';

/** Concurrent calls in the recording: slow and fast ones mixed, so the server answers out of order. */
const CALLS = 20;
/**
 * How long call `i` sleeps: every fourth one slow (800 ms and more), the rest fast (100–195 ms; not less,
 * so that its two progress notifications and its answer, 50 ms apart or more, reach the client in separate
 * reads even on a busy machine: an SDK client loses progress read in the same chunk as its answer).
 */
const sleepMs = (i: number): number => (i % 4 === 0 ? 800 + i * 10 : 100 + i * 5);

interface Outcome {
  /** Call index → the text it was answered with. */
  texts: Map<number, string>;
  /** Call index → the progress it saw. */
  progress: Map<number, number[]>;
  /** Call indexes in the order their answers came. */
  answered: number[];
}

/**
 * Send every call without waiting for any answer, in `order`, `gapMs` apart (0: all at once), and collect
 * what comes back.
 */
async function callAll(c: TestClient, order: readonly number[], gapMs = 0): Promise<Outcome> {
  const out: Outcome = { texts: new Map(), progress: new Map(), answered: [] };
  await Promise.all(
    order.map(async (i, k) => {
      if (gapMs > 0) await new Promise((r) => setTimeout(r, k * gapMs));
      const seen: number[] = [];
      out.progress.set(i, seen);
      const result = await c.client.callTool(
        { name: 'slow', arguments: { ms: sleepMs(i), steps: 2 } },
        undefined,
        { onprogress: (p) => seen.push(p.progress) },
      );
      out.answered.push(i);
      out.texts.set(i, (result.content as Array<{ text: string }>)[0]?.text ?? '');
    }),
  );
  return out;
}

/** A fixed shuffle (the same every run): a different order from the recording's. */
function shuffled(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let seed = 7;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = seed % (i + 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

function expectAllAnswered(out: Outcome): void {
  expect(out.answered).toHaveLength(CALLS);
  for (let i = 0; i < CALLS; i++) {
    expect(out.texts.get(i), `call ${i}`).toBe(`slept ${sleepMs(i)} ms`);
    expect(out.progress.get(i), `progress of call ${i}`).toEqual([1, 2]);
  }
}

describe('replay of concurrent calls', () => {
  let path = '';
  let recorded: Outcome;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-concurrent-'));
    const live = await connectCliStdio([
      'forward',
      'stdio',
      '--no-admin',
      '--record',
      dir,
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    recorded = await callAll(
      live,
      Array.from({ length: CALLS }, (_, i) => i),
    );
    await live.client.close();
    const files = readdirSync(dir).filter((f) => f.endsWith('.tape.jsonl'));
    path = join(dir, files[0] as string);
    for (let tries = 0; !(await readTape(path)).complete; tries++) {
      if (tries > 100) throw new Error(`the tape ${path} was never closed`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close().catch(() => undefined);
  });
  afterAll(async () => {
    for (const close of closers.splice(0)) await close().catch(() => undefined);
  });

  it('was recorded out of order: the server answered the fast calls first', () => {
    expectAllAnswered(recorded);
    expect(recorded.answered).not.toEqual([...recorded.answered].sort((a, b) => a - b));
  });

  it('answers 20 concurrent calls sent in another order over stdio, each with its own answer and progress', async () => {
    const replay = await connectCliStdio(['replay', path, '--no-admin']);
    closers.push(() => replay.client.close());
    expectAllAnswered(await callAll(replay, shuffled(CALLS)));
  });

  it('answers 20 calls sent over stdio one after another without waiting, in reverse order', async () => {
    const replay = await connectCliStdio(['replay', path, '--no-admin']);
    closers.push(() => replay.client.close());
    // The recording answered the first calls after the last ones were sent: each answer still comes.
    expectAllAnswered(await callAll(replay, shuffled(CALLS).reverse(), 5));
  });

  it('answers fast calls before slow ones at --speed 1, whatever order they were sent in', async () => {
    const replay = await connectCliStdio(['replay', path, '--no-admin', '--speed', '1']);
    closers.push(() => replay.client.close());
    // The slow ones first: a replay that kept to the order of the requests would answer them first too.
    const order = [...shuffled(CALLS)].sort((a, b) => sleepMs(b) - sleepMs(a));
    const out = await callAll(replay, order, 5);
    expectAllAnswered(out);
    const slow = out.answered.filter((i) => sleepMs(i) >= 800);
    const fast = out.answered.filter((i) => sleepMs(i) < 800);
    // Every fast call is answered before any slow one.
    expect(out.answered.slice(0, fast.length).sort((a, b) => a - b)).toEqual(fast.sort((a, b) => a - b));
    expect(slow).toHaveLength(CALLS / 4);
  });

  it('sends nothing more for a call the client cancels, and goes on answering the others', async () => {
    const replay = await connectCliStdio(['replay', path, '--no-admin', '--speed', '1']);
    closers.push(() => replay.client.close());
    const abort = new AbortController();
    const progress: number[] = [];
    // Call 16 sleeps 960 ms at --speed 1: cancelled after its first progress.
    const cancelled = replay.client
      .callTool({ name: 'slow', arguments: { ms: sleepMs(16), steps: 2 } }, undefined, {
        signal: abort.signal,
        onprogress: (p) => {
          progress.push(p.progress);
          abort.abort();
        },
      })
      .catch((e: unknown) => e);
    const others = callAll(
      replay,
      shuffled(CALLS).filter((i) => i !== 16),
    );
    expect(await cancelled).toBeInstanceOf(Error);
    const out = await others;
    expect(out.answered).toHaveLength(CALLS - 1);
    expect(progress).toEqual([1]);
    // Its answer was never sent: mcpscope saw no answer to a request that is no longer pending.
    await new Promise((r) => setTimeout(r, sleepMs(16)));
    expect(replay.stderr()).not.toMatch(/not pending/);
  });

  it('answers 20 concurrent calls over HTTP, two sessions replaying the same tape at once', async () => {
    const replay = await startListening(['replay', path, '--port', '0', '--no-admin']);
    closers.push(() => replay.stop());
    const [a, b] = await Promise.all([connectHttp(replay.url), connectHttp(replay.url)]);
    closers.push(
      () => a.client.close(),
      () => b.client.close(),
    );
    const [outA, outB] = await Promise.all([
      callAll(a, shuffled(CALLS)),
      callAll(b, [...shuffled(CALLS)].reverse(), 3),
    ]);
    expectAllAnswered(outA);
    expectAllAnswered(outB);
  });
});

describe('replay of a server request made for one of two concurrent calls', () => {
  it('sends the sampling request only once its call has come, and the answer of that call after the reply', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-asked-'));
    const call = (t: number, id: number, name: string, args: object) => ({
      t,
      dir: 'c2s',
      msg: { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } },
    });
    const text = (t: number, id: number, value: string) => ({
      t,
      dir: 's2c',
      msg: { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: value }] } },
    });
    // Recorded: `sample` and `add` sent at once; the server asked the client to sample for the first,
    // answered `add` while it waited, and answered `sample` once the client replied.
    const path = writeTape(dir, '20260101T000000Z-asked000', [
      ...recordedHandshake(),
      call(10, 1, 'sample', { prompt: 'ping' }),
      call(11, 2, 'add', { a: 1, b: 2 }),
      {
        t: 12,
        dir: 's2c',
        msg: {
          jsonrpc: '2.0',
          id: 0,
          method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: { type: 'text', text: 'ping' } }], maxTokens: 10 },
        },
        rel: 1,
      },
      text(13, 2, '3'),
      {
        t: 20,
        dir: 'c2s',
        msg: {
          jsonrpc: '2.0',
          id: 0,
          result: { model: 'm', role: 'assistant', content: { type: 'text', text: 'sampled: ping' } },
        },
      },
      text(21, 1, 'sampled: ping'),
      { t: 22, edge: 'closed', complete: true },
    ]);
    const tc = makeClient();
    const asked: string[] = [];
    tc.client.setRequestHandler(CreateMessageRequestSchema, async () => {
      asked.push('asked');
      // A slow reply: the answer to `sample` must wait for it, as it did live.
      await new Promise((r) => setTimeout(r, 200));
      asked.push('replied');
      return { model: 'm', role: 'assistant', content: { type: 'text', text: 'sampled: ping' } };
    });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'replay', path, '--no-admin'],
      stderr: 'pipe',
    });
    await tc.client.connect(transport);
    try {
      // `add` alone first: answered, and the server asks nothing, since `sample` has not been called.
      const sum = await tc.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
      expect(sum.content).toEqual([{ type: 'text', text: '3' }]);
      await new Promise((r) => setTimeout(r, 100));
      expect(asked).toEqual([]);
      const sampled = await tc.client.callTool({ name: 'sample', arguments: { prompt: 'ping' } });
      expect(asked).toEqual(['asked', 'replied']);
      expect(sampled.content).toEqual([{ type: 'text', text: 'sampled: ping' }]);
    } finally {
      await tc.client.close();
    }
  });
});

describe('replay of concurrent calls that log before they answer, over HTTP', () => {
  it("sends each log notification on its call's stream, before that call's answer", async () => {
    // Recorded in front of an HTTP server, which sends each call's log on that call's stream: the tape
    // relates each log to its call, though ten calls were in flight.
    const fixture = await startFixture('httpServer.mjs');
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-logs-'));
    const proxy = await startHttpProxy(['--no-admin', '--record', dir, '--upstream', fixture.url]);
    const messages = Array.from({ length: 10 }, (_, i) => `m${i}`);
    /** Each call, and whether its log had come when its answer did. */
    const run = async (c: TestClient, order: string[]): Promise<Map<string, boolean>> => {
      const seen = new Map<string, boolean>();
      await Promise.all(
        order.map(async (message) => {
          const r = await c.client.callTool({ name: 'echo', arguments: { message } });
          expect(r.content).toEqual([{ type: 'text', text: message }]);
          seen.set(
            message,
            c.logs.some((l) => l.data === `echo ${message}`),
          );
        }),
      );
      return seen;
    };
    try {
      const live = await connectHttp(proxy.url);
      await run(live, messages);
      await live.transport.terminateSession();
      await live.client.close();
    } finally {
      await proxy.stop();
      await fixture.stop();
    }
    const path = join(dir, readdirSync(dir).find((f) => f.endsWith('.tape.jsonl')) as string);
    const tape = await readTape(path);
    const logs = tape.events.filter(
      (e) => 'msg' in e && (e.msg as { method?: string }).method === 'notifications/message',
    );
    expect(logs).toHaveLength(10);
    for (const e of logs) expect('rel' in e && e.rel !== undefined).toBe(true);

    const replay = await startListening(['replay', path, '--port', '0', '--no-admin']);
    const listen = new AbortController();
    try {
      const c = await connectHttp(replay.url);
      const seen = await run(c, [...messages].reverse());
      expect([...seen.values()].every(Boolean), JSON.stringify([...seen])).toBe(true);
      await c.client.close();
      // Raw, to see the streams: a GET stream open, two calls in flight; each call's log comes on its own
      // POST stream, before its answer, not on the GET stream.
      const session = await rawSession(replay.url);
      const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
      const get = await fetch(replay.url, {
        headers: { ...headers, accept: 'text/event-stream' },
        signal: listen.signal,
      });
      expect(get.status).toBe(200);
      const call = async (id: number, message: string): Promise<unknown[]> => {
        const body = {
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'echo', arguments: { message } },
        };
        const res = await post(replay.url, body, headers);
        return sseEvents(await res.text()).map((e) => JSON.parse(e.data) as unknown);
      };
      const [seven, three] = await Promise.all([call(1, 'm7'), call(2, 'm3')]);
      for (const [events, id, message] of [
        [seven, 1, 'm7'],
        [three, 2, 'm3'],
      ] as const) {
        expect(events).toEqual([
          expect.objectContaining({
            method: 'notifications/message',
            params: expect.objectContaining({ data: `echo ${message}` }) as unknown,
          }),
          expect.objectContaining({ id, result: { content: [{ type: 'text', text: message }] } }),
        ]);
      }
    } finally {
      listen.abort();
      await replay.stop();
    }
  });
});
