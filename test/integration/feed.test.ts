// The live feed on the admin port: a session's story (its messages and what its wires and server process
// report) in order, as pages and as one live SSE stream, with secrets redacted as tapes redact them.
import { request, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  EXAMPLE,
  adminUrlFrom,
  connectStdio,
  makeClient,
  sseEvents,
  startHttpProxy,
  type RunningCli,
} from '../helpers.js';

interface FeedEvent {
  seq: number;
  time: string;
  session: string;
  type: string;
  direction?: string;
  method?: string;
  id?: string | number;
  verdict?: string;
  durationMs?: number;
  requestSeq?: number;
  message?: Record<string, unknown>;
  kind?: string;
  line?: string;
  status?: number;
}

const CANARIES = ['canary-token-8121', 'canary-arg-3343', 'canary-77'];

async function getJson<T>(url: string): Promise<{ status: number; body: T; text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as T, text };
}

/** Open `/events` and collect what arrives, until stop(). */
function follow(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ text(): string; stop(): void }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { headers: { accept: 'text/event-stream', ...headers } },
      (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('error', () => undefined);
        resolve({ text: () => text, stop: () => req.destroy() });
      },
    );
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    req.end();
  });
}

const ids = (text: string): number[] => sseEvents(text).map((e) => Number(e.id));

describe('the live feed, forward http in front of a stdio server', () => {
  let proxy: RunningCli;
  let admin: string;
  beforeAll(async () => {
    proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--redact-pattern',
      'canary-[0-9]+',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    admin = await adminUrlFrom(proxy.stderr);
  });
  afterAll(async () => {
    await proxy.stop();
  });

  it('shows a request and its answer, its POST stream and a stderr line, in order, live and paged, with secrets redacted', async () => {
    const live = await follow(`${admin}/events`);
    const tc = makeClient('feed-test');
    const transport = new StreamableHTTPClientTransport(new URL(proxy.url), {
      requestInit: { headers: { authorization: `Bearer ${CANARIES[0]}` } },
    });
    await tc.client.connect(transport);
    const sessionId = transport.sessionId as string;
    const echoed = await tc.client.callTool({
      name: 'echo',
      arguments: { message: `say ${CANARIES[2]}`, password: CANARIES[1] },
    });
    expect(echoed.content).toEqual([{ type: 'text', text: `say ${CANARIES[2]}` }]);
    // A cancelled call makes the server write a line to its stderr.
    const abort = new AbortController();
    const slow = tc.client
      .callTool({ name: 'slow', arguments: { ms: 5_000, steps: 1 } }, undefined, { signal: abort.signal })
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    abort.abort();
    await slow;

    const page = async () =>
      (await getJson<{ events: FeedEvent[] }>(`${admin}/sessions/${sessionId}/events?limit=1000`)).body
        .events;
    await expect.poll(async () => (await page()).some((e) => e.type === 'stderr')).toBe(true);
    const events = await page();
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const call = events.find(
      (e) => e.type === 'message' && e.method === 'tools/call' && e.direction === 'client-to-server',
    ) as FeedEvent;
    expect(call).toMatchObject({
      verdict: 'forward',
      kind: 'request',
      message: { params: { name: 'echo' } },
    });
    const answer = events.find(
      (e) =>
        e.type === 'message' &&
        e.direction === 'server-to-client' &&
        e.id === call.id &&
        e.kind === 'response',
    ) as FeedEvent;
    expect(answer.requestSeq).toBe(call.seq);
    expect(answer.durationMs).toBeGreaterThanOrEqual(0);
    expect(answer.seq).toBeGreaterThan(call.seq);
    // Its POST: a stream opened before the request, closed after the answer, and the HTTP exchange.
    const opened = events.filter((e) => e.type === 'stream-opened' && e.seq < call.seq).at(-1) as FeedEvent;
    expect(opened).toMatchObject({ stream: 'post' });
    expect(events.some((e) => e.type === 'stream-closed' && e.seq > answer.seq)).toBe(true);
    expect(events.some((e) => e.type === 'http' && e.status === 200 && e.seq > answer.seq)).toBe(true);
    expect(events.find((e) => e.type === 'stderr')?.line).toMatch(/slow call .* cancelled/);
    expect(events.some((e) => e.type === 'process-started')).toBe(true);

    const sessions = await getJson<{ sessions: Array<Record<string, unknown>> }>(`${admin}/sessions`);
    expect(sessions.body.sessions.find((s) => s.id === sessionId)).toMatchObject({
      state: 'open',
      transport: 'streamable-http',
      era: 'legacy',
      client: { name: 'feed-test' },
      server: { name: 'mcpscope-example' },
    });

    // The live stream carried the same events of this session, in the same order.
    await expect
      .poll(() => sseEvents(live.text()).filter((e) => e.data.includes(sessionId)).length)
      .toBeGreaterThanOrEqual(events.length);
    const streamed = sseEvents(live.text())
      .map((e) => JSON.parse(e.data) as FeedEvent)
      .filter((e) => e.session === sessionId);
    expect(streamed.slice(0, events.length).map((e) => e.seq)).toEqual(events.map((e) => e.seq));
    live.stop();

    const everything = `${JSON.stringify(events)}${live.text()}${sessions.text}`;
    for (const canary of CANARIES) expect(everything).not.toContain(canary);
    expect(everything).toContain('[REDACTED]');
    await transport.terminateSession();
    await tc.client.close();
  });

  it('resumes /events after Last-Event-ID with nothing lost or repeated', async () => {
    const first = await follow(`${admin}/events`);
    const a = makeClient('resume-a');
    const ta = new StreamableHTTPClientTransport(new URL(proxy.url));
    await a.client.connect(ta);
    await a.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
    await expect.poll(() => sseEvents(first.text()).length).toBeGreaterThan(3);
    first.stop();
    const seen = ids(first.text());
    const last = seen.at(-1) as number;
    // Meanwhile, more happens.
    await a.client.callTool({ name: 'add', arguments: { a: 3, b: 4 } });
    const again = await follow(`${admin}/events`, { 'last-event-id': String(last) });
    await expect.poll(() => sseEvents(again.text()).some((e) => e.data.includes('"id":2'))).toBe(true);
    again.stop();
    const resumed = ids(again.text());
    expect(resumed[0]).toBe(last + 1);
    expect(resumed).toEqual(resumed.map((_, i) => last + 1 + i));
    await ta.terminateSession();
    await a.client.close();
  });

  it('answers bad paging with 400 and an unknown session with 404', async () => {
    expect((await getJson(`${admin}/sessions/nope/events`)).status).toBe(404);
    expect((await getJson(`${admin}/sessions/nope/events?limit=0`)).status).toBe(400);
    expect((await getJson(`${admin}/sessions/nope/events?after=-1`)).status).toBe(400);
    const res = await fetch(`${admin}/events`, { headers: { 'last-event-id': 'abc' } });
    expect(res.status).toBe(400);
    await res.text();
  });
});

describe('the live feed, forward stdio', () => {
  it('shows the session with its server process and messages', async () => {
    const c = await connectStdio(['--admin-port', '0', '--', process.execPath, EXAMPLE]);
    try {
      const admin = await adminUrlFrom(c.stderr);
      await c.client.callTool({ name: 'add', arguments: { a: 2, b: 2 } });
      const { body } = await getJson<{ sessions: Array<{ id: string; transport: string }> }>(
        `${admin}/sessions`,
      );
      expect(body.sessions).toHaveLength(1);
      expect(body.sessions[0]?.transport).toBe('stdio');
      const page = await getJson<{ events: FeedEvent[] }>(
        `${admin}/sessions/${body.sessions[0]?.id as string}/events`,
      );
      const types = page.body.events.map((e) => e.type);
      // The session opens with its server process, before any message.
      expect(types.slice(0, 2)).toEqual(['session-opened', 'process-started']);
      expect(types).toContain('message');
      expect(page.body.events.some((e) => e.method === 'tools/call')).toBe(true);
    } finally {
      await c.client.close();
    }
  });
});

describe('the live feed keeps to its bounds', () => {
  it('--feed-events, --feed-body-bytes and --feed-closed-sessions bound what is kept; --no-feed turns it off', async () => {
    const proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--feed-events',
      '6',
      '--feed-body-bytes',
      '300',
      '--feed-closed-sessions',
      '1',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    try {
      const admin = await adminUrlFrom(proxy.stderr);
      const sessionIds: string[] = [];
      for (let i = 0; i < 3; i++) {
        const tc = makeClient(`bounded-${i}`);
        const transport = new StreamableHTTPClientTransport(new URL(proxy.url));
        await tc.client.connect(transport);
        sessionIds.push(transport.sessionId as string);
        const big = 'x'.repeat(2_000);
        await tc.client.callTool({ name: 'echo', arguments: { password: 'canary-big-9090', message: big } });
        if (i === 2) {
          const page = await getJson<{
            events: Array<FeedEvent & { truncated?: boolean; preview?: string; bytes?: number }>;
            oldestSeq: number;
            lastSeq: number;
          }>(`${admin}/sessions/${sessionIds[2] as string}/events?limit=1000`);
          expect(page.body.events.length).toBeLessThanOrEqual(6);
          expect(page.body.oldestSeq).toBeGreaterThan(1);
          expect(page.body.events[0]?.seq).toBe(page.body.oldestSeq);
          expect(page.body.events.at(-1)?.seq).toBe(page.body.lastSeq);
          const answer = page.body.events.find((e) => e.type === 'message' && e.kind === 'response');
          expect(answer).toMatchObject({ truncated: true });
          expect(answer?.preview?.length).toBeLessThanOrEqual(300);
          expect(answer?.bytes).toBeGreaterThan(2_000);
          expect(answer?.message).toBeUndefined();
          // The cut request is redacted as a fragment: its secret argument never shows.
          const request = page.body.events.find(
            (e) => e.type === 'message' && e.kind === 'request' && e.method === 'tools/call',
          );
          expect(request).toMatchObject({ truncated: true });
          expect(page.text).not.toContain('canary-big-9090');
          expect(page.text).toContain('[REDACTED]');
        }
        await transport.terminateSession();
        await tc.client.close();
      }
      await expect
        .poll(async () =>
          (
            await getJson<{ sessions: Array<{ id: string; state: string }> }>(`${admin}/sessions`)
          ).body.sessions
            .filter((s) => s.state === 'closed')
            .map((s) => s.id),
        )
        .toEqual([sessionIds[2]]);
    } finally {
      await proxy.stop();
    }

    const off = await startHttpProxy(['--admin-port', '0', '--no-feed', '--', process.execPath, EXAMPLE]);
    try {
      const admin = await adminUrlFrom(off.stderr);
      const res = await fetch(`${admin}/sessions`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: expect.stringContaining('--no-feed') as unknown });
    } finally {
      await off.stop();
    }
  });
});

describe('the live feed redacts HTTP exchange headers', () => {
  it('an Mcp-Param-* header that copies a secret argument never shows', async () => {
    const { post } = await import('../helpers.js');
    const proxy = await startHttpProxy(['--admin-port', '0', '--', process.execPath, EXAMPLE]);
    try {
      const admin = await adminUrlFrom(proxy.stderr);
      const meta = {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientInfo': { name: 'param', version: '1' },
        'io.modelcontextprotocol/clientCapabilities': {},
      };
      const res = await post(
        proxy.url,
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'echo', arguments: { message: 'x' }, _meta: meta },
        },
        {
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'echo',
          'mcp-param-api-key': 'canary-param-7731',
        },
      );
      await res.text();
      const sessions = await getJson<{ sessions: Array<{ id: string }> }>(`${admin}/sessions`);
      const id = sessions.body.sessions[0]?.id as string;
      await expect
        .poll(async () =>
          (await getJson<{ events: FeedEvent[] }>(`${admin}/sessions/${id}/events`)).body.events.some(
            (e) => e.type === 'http',
          ),
        )
        .toBe(true);
      const page = await getJson(`${admin}/sessions/${id}/events`);
      expect(page.text).toContain('mcp-param-api-key');
      expect(page.text).not.toContain('canary-param-7731');
    } finally {
      await proxy.stop();
    }
  });
});
