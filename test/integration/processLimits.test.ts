// Sessions that own a server process (forward http with a command): most clients never DELETE their
// session, so an idle process is stopped after --process-idle-ms, and at --max-processes a new session
// stops the least recently used idle one instead of being refused.
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EXAMPLE,
  adminUrlFrom,
  V2_SERVER,
  childrenOf,
  connectHttp,
  connectV2Http,
  post,
  INIT,
  startHttpProxy,
  type RunningCli,
} from '../helpers.js';

/** True while `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One series of the admin server's /metrics; throws when it is absent (absent is not 0). */
async function metric(admin: string, series: string): Promise<number> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no series ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

interface FeedEvent {
  type: string;
  reason?: string;
  idleSeconds?: number;
  stream?: string;
}

async function feedEvents(admin: string, session: string): Promise<FeedEvent[]> {
  const res = await fetch(`${admin}/sessions/${session}/events?limit=1000`);
  return ((await res.json()) as { events: FeedEvent[] }).events;
}

type Connected = Awaited<ReturnType<typeof connectHttp>>;

/** Connect an SDK client and return it with the pid of the server process its session started. */
async function connectWithChild(proxy: RunningCli): Promise<{ c: Connected; child: number }> {
  const before = new Set(childrenOf(proxy.proc.pid as number));
  const c = await connectHttp(proxy.url);
  const child = childrenOf(proxy.proc.pid as number).find((pid) => !before.has(pid));
  if (child === undefined) throw new Error('no new server process for the session');
  return { c, child };
}

describe('server processes of sessions that are never deleted', () => {
  let proxy: RunningCli | undefined;
  const clients: Array<{ client: { close(): Promise<unknown> } }> = [];
  afterEach(async () => {
    // Closing an SDK client does not DELETE its session: the proxy's shutdown stops what is left.
    await Promise.allSettled(clients.map((c) => c.client.close()));
    clients.length = 0;
    await proxy?.stop();
    proxy = undefined;
  });

  it('stops the process of a session idle past --process-idle-ms with its GET stream open, and keeps those in use', async () => {
    proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--process-idle-ms',
      '1500',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    const admin = await adminUrlFrom(proxy.stderr);
    const idle = await connectWithChild(proxy);
    clients.push(idle.c);
    const busy = await connectWithChild(proxy);
    clients.push(busy.c);
    const waiting = await connectWithChild(proxy);
    clients.push(waiting.c);
    // Traffic keeps one process (a call every 100 ms: far inside the 1.5 s expiry even on a loaded
    // machine); a call the server takes over 2 expiry periods to answer, silent meanwhile, keeps the other.
    const slow = waiting.c.client.callTool({ name: 'slow', arguments: { ms: 3_500, steps: 1 } });
    let calling = true;
    let callFailed: unknown;
    const calls = (async () => {
      while (calling) {
        await busy.c.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
        await sleep(100);
      }
    })().catch((err: unknown) => (callFailed = err));
    try {
      await expect.poll(() => alive(idle.child), { timeout: 10_000, interval: 100 }).toBe(false);
      expect((await slow).content).toEqual([{ type: 'text', text: 'slept 3500 ms' }]);
      expect(alive(waiting.child)).toBe(true);
      // Several expiry periods later, the session with traffic still has its process.
      await sleep(2_000);
      expect(alive(busy.child)).toBe(true);
    } finally {
      calling = false;
      await calls;
    }
    expect(callFailed).toBeUndefined();
    // The idle session's GET stream (the SDK client opens one) was open when it expired: its POST streams
    // had all closed, so one stream opened more than closed before the session-expired event.
    const events = await feedEvents(admin, idle.c.transport.sessionId as string);
    const expired = events.findIndex((e) => e.type === 'session-expired');
    expect(events[expired]).toMatchObject({ reason: 'process_idle' });
    expect(events.slice(0, expired).some((e) => e.type === 'stream-opened' && e.stream === 'get')).toBe(true);
    const before = events.slice(0, expired);
    const open = before.filter((e) => e.type === 'stream-opened').length;
    expect(open - before.filter((e) => e.type === 'stream-closed').length).toBe(1);
    expect((events[expired]?.idleSeconds as number) >= 1.5).toBe(true);
    expect(
      await metric(admin, 'mcpscope_sessions_expired_total{reason="process_idle"}'),
    ).toBeGreaterThanOrEqual(1);
    // The idle client's session is gone: its next request is answered 404, and it may start a new one.
    await expect(idle.c.client.listTools()).rejects.toThrow();
    const again = await connectHttp(proxy.url);
    clients.push(again);
    expect((await again.client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it('a 2026-07-28 client, whose session is its identity, gets a new process at its next request', async () => {
    proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--process-idle-ms',
      '500',
      '--',
      process.execPath,
      V2_SERVER,
      'stdio',
    ]);
    const admin = await adminUrlFrom(proxy.stderr);
    const pid = proxy.proc.pid as number;
    const tc = await connectV2Http(proxy.url);
    clients.push(tc);
    expect((await tc.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })).content).toEqual([
      { type: 'text', text: '2' },
    ]);
    const [first] = childrenOf(pid);
    expect(first).toBeDefined();
    await expect.poll(() => alive(first as number), { timeout: 10_000, interval: 100 }).toBe(false);
    expect(await metric(admin, 'mcpscope_sessions_expired_total{reason="process_idle"}')).toBe(1);
    // No session id to lose: the same client's next call opens a session and a process again.
    expect((await tc.client.callTool({ name: 'add', arguments: { a: 2, b: 2 } })).content).toEqual([
      { type: 'text', text: '4' },
    ]);
    expect(childrenOf(pid).filter((p) => p !== first && alive(p))).toHaveLength(1);
  });

  it('at --max-processes, a new session stops the least recently used idle one; with none idle, 503', async () => {
    proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--max-processes',
      '2',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    const admin = await adminUrlFrom(proxy.stderr);
    const first = await connectWithChild(proxy);
    clients.push(first.c);
    const second = await connectWithChild(proxy);
    clients.push(second.c);
    // The first is used again after the second: the second is now the least recently used.
    await first.c.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } });

    const third = await connectWithChild(proxy);
    clients.push(third.c);
    await expect.poll(() => alive(second.child), { timeout: 10_000, interval: 100 }).toBe(false);
    expect(alive(first.child)).toBe(true);
    expect(alive(third.child)).toBe(true);
    expect((await third.c.client.callTool({ name: 'add', arguments: { a: 2, b: 2 } })).content).toEqual([
      { type: 'text', text: '4' },
    ]);
    expect(await metric(admin, 'mcpscope_processes_evicted_total')).toBe(1);
    expect(await metric(admin, 'mcpscope_sessions_expired_total{reason="evicted"}')).toBe(1);
    const events = await feedEvents(admin, second.c.transport.sessionId as string);
    expect(events.find((e) => e.type === 'session-expired')).toMatchObject({ reason: 'evicted' });
    await expect(second.c.client.listTools()).rejects.toThrow();

    // Both live sessions busy with a call in flight: no idle process to stop, so a new session is refused.
    const slow = [first, third].map((s) =>
      s.c.client.callTool({ name: 'slow', arguments: { ms: 3_000, steps: 1 } }),
    );
    await sleep(300);
    const refused = await post(proxy.url, INIT);
    expect(refused.status).toBe(503);
    const body = (await refused.json()) as { error: { message: string; data: Record<string, unknown> } };
    expect(body.error.data).toMatchObject({ code: 'TOO_MANY_SESSIONS', setting: 'maxProcesses' });
    expect(body.error.message).toContain('--max-processes');
    await Promise.all(slow);
    expect(alive(first.child)).toBe(true);
    expect(alive(third.child)).toBe(true);
  });
});
