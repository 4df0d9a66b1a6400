// MCP 2026-07-28 through mcpscope: the v2 SDK client pinned to 2026-07-28 and the v2 SDK server, with
// mcpscope between them in each of its modes. The same checks pass with no mcpscope (v2Peers.test.ts).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MODERN_VERSION,
  V2_SERVER,
  adminUrlFrom,
  childrenOf,
  connectV2Http,
  connectV2Stdio,
  post,
  startFixture,
  startHttpProxy,
  startListening,
  type RunningCli,
  type RunningFixture,
  type V2TestClient,
} from '../helpers.js';

const LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';
/**
 * Shorter than the listen hold below (a listen must outlive the request timeout), and long enough that a
 * call on a loaded 2-core machine is never cut by it (1 s was, once, in CI).
 */
const REQUEST_TIMEOUT_MS = 3_000;

function text(result: { content?: unknown }): string {
  const [first] = (result.content ?? []) as Array<{ type: string; text?: string }>;
  return first?.text ?? '';
}

interface Mode {
  name: string;
  start(): Promise<{ tc: V2TestClient; admin: string; proxy?: RunningCli; stop(): Promise<void> }>;
}

let upstream: RunningFixture | undefined;
const TIMEOUT = ['--request-timeout-ms', String(REQUEST_TIMEOUT_MS), '--admin-port', '0'];

const MODES: Mode[] = [
  {
    name: 'forward stdio -- v2 server (stdio)',
    start: async () => {
      const tc = await connectV2Stdio([...TIMEOUT, '--', process.execPath, V2_SERVER, 'stdio']);
      return { tc, admin: await adminUrlFrom(tc.stderr), stop: () => tc.client.close() };
    },
  },
  {
    name: 'forward http -- v2 server (stdio)',
    start: async () => {
      const proxy = await startHttpProxy([...TIMEOUT, '--', process.execPath, V2_SERVER, 'stdio']);
      const tc = await connectV2Http(proxy.url);
      return {
        tc,
        proxy,
        admin: await adminUrlFrom(proxy.stderr),
        stop: async () => {
          await tc.client.close();
          await proxy.stop();
        },
      };
    },
  },
  {
    name: 'forward http --upstream (v2 server over HTTP)',
    start: async () => {
      upstream ??= await startFixture('v2Server.mjs', ['http']);
      const proxy = await startHttpProxy([...TIMEOUT, '--upstream', upstream.url]);
      const tc = await connectV2Http(proxy.url);
      return {
        tc,
        proxy,
        admin: await adminUrlFrom(proxy.stderr),
        stop: async () => {
          await tc.client.close();
          await proxy.stop();
        },
      };
    },
  },
];

afterAll(async () => {
  await upstream?.stop();
});

describe.each(MODES)('2026-07-28 through mcpscope: $name', (mode) => {
  let run: Awaited<ReturnType<Mode['start']>>;
  beforeAll(async () => {
    run = await mode.start();
  });
  afterAll(async () => {
    await run?.stop();
  });

  it('discovers the server as 2026-07-28, and /ready says ready once it answered', async () => {
    expect(run.tc.client.getProtocolEra()).toBe('modern');
    expect(run.tc.client.getNegotiatedProtocolVersion()).toBe(MODERN_VERSION);
    expect(run.tc.client.getServerVersion()?.name).toBe('v2-fixture');
    await run.tc.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
    const ready = await fetch(`${run.admin}/ready`);
    expect(ready.status).toBe(200);
    await ready.text();
  });

  it('lists tools with the caching hints unchanged', async () => {
    const list = await run.tc.client.listTools();
    expect(list.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'confirm', 'wizard']));
    expect(list).toMatchObject({ ttlMs: 60_000, cacheScope: 'public' });
  });

  it('calls tools, and runs elicitation, sampling and roots as input-required rounds', async () => {
    expect(text(await run.tc.client.callTool({ name: 'echo', arguments: { text: 'hi' } }))).toBe(
      'echo(modern): hi',
    );
    expect(text(await run.tc.client.callTool({ name: 'confirm', arguments: { action: 'deploy' } }))).toBe(
      'did deploy',
    );
    expect(text(await run.tc.client.callTool({ name: 'ask_llm', arguments: { q: 'Capital?' } }))).toBe(
      'llm said: Paris',
    );
    expect(text(await run.tc.client.callTool({ name: 'roots', arguments: {} }))).toBe('file:///tmp/project');
    expect(text(await run.tc.client.callTool({ name: 'wizard', arguments: {} }))).toBe('Ada likes teal');
  });

  it('relays progress, and logging when the request asks for it', async () => {
    const progress: number[] = [];
    const before = run.tc.logs.length;
    const result = await run.tc.client.callTool(
      { name: 'slow', arguments: { steps: 3 }, _meta: { [LOG_LEVEL]: 'info' } },
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(text(result)).toBe('done 3');
    expect(progress).toEqual([1, 2, 3]);
    expect(run.tc.logs.slice(before).map((l) => l.data)).toEqual(['step 1', 'step 2', 'step 3']);
  });

  it('cancels a call the client gives up on, quietly, and goes on', async () => {
    const abort = new AbortController();
    const call = run.tc.client
      .callTool({ name: 'slow', arguments: { steps: 50, ms: 100 } }, { signal: abort.signal })
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 250));
    abort.abort();
    expect(await call).toBeInstanceOf(Error);
    expect(text(await run.tc.client.callTool({ name: 'add', arguments: { a: 20, b: 22 } }))).toBe('42');
    const stderr = run.proxy?.stderr() ?? '';
    expect(stderr).not.toContain('UPSTREAM_HTTP_ERROR');
  });

  it('keeps a listen open past --request-timeout-ms and delivers list_changed caused by another request', async () => {
    const sub = await run.tc.client.listen({
      toolsListChanged: true,
      resourceSubscriptions: ['config://app'],
    });
    try {
      await new Promise((r) => setTimeout(r, REQUEST_TIMEOUT_MS * 2));
      const seen = run.tc.changes.length;
      await run.tc.client.callTool({ name: 'touch', arguments: {} });
      await expect
        .poll(() =>
          run.tc.changes
            .slice(seen)
            .map((c) => c.method)
            .sort(),
        )
        .toEqual(['notifications/resources/updated', 'notifications/tools/list_changed']);
      for (const change of run.tc.changes.slice(seen)) {
        expect(change.params?._meta).toHaveProperty([SUBSCRIPTION_ID]);
      }
    } finally {
      await sub.close();
    }
  });
});

describe('2026-07-28 sessions behind forward http', () => {
  let proxy: RunningCli;
  beforeAll(async () => {
    proxy = await startHttpProxy(['--', process.execPath, V2_SERVER, 'stdio']);
  });
  afterAll(async () => {
    await proxy.stop();
  });

  it('one server process per client identity, and concurrent requests with the same ids never mix', async () => {
    const pid = proxy.proc.pid as number;
    const a = await connectV2Http(proxy.url, { name: 'twin' });
    const b = await connectV2Http(proxy.url, { name: 'twin' });
    let other: V2TestClient | undefined;
    try {
      // Fresh clients number their requests alike: these calls go out with the same ids at once.
      const [ra, rb] = await Promise.all([
        a.client.callTool({ name: 'slow', arguments: { steps: 2 } }),
        b.client.callTool({ name: 'echo', arguments: { text: 'from b' } }),
      ]);
      expect(text(ra)).toBe('done 2');
      expect(text(rb)).toBe('echo(modern): from b');
      for (let i = 0; i < 5; i++) {
        expect(text(await a.client.callTool({ name: 'add', arguments: { a: i, b: 1 } }))).toBe(String(i + 1));
      }
      expect(childrenOf(pid)).toHaveLength(1);
      other = await connectV2Http(proxy.url, { name: 'other' });
      await other.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
      expect(childrenOf(pid)).toHaveLength(2);
    } finally {
      await Promise.all([a.client.close(), b.client.close(), other?.client.close()]);
    }
  });
});

describe('2026-07-28 tapes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpscope-era-tapes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('records a 2026-07-28 session with its era and identities, and replays it to a v2 client', async () => {
    const proxy = await startHttpProxy(['--record', dir, '--', process.execPath, V2_SERVER, 'stdio']);
    const live = await connectV2Http(proxy.url, { name: 'taper' });
    const calls = [
      { name: 'echo', arguments: { text: 'taped' } },
      { name: 'add', arguments: { a: 20, b: 22 } },
    ];
    const recorded: string[] = [];
    for (const c of calls) recorded.push(text(await live.client.callTool(c)));
    await live.client.close();
    await proxy.stop();

    const [file] = readdirSync(dir).filter((f) => f.endsWith('.tape.jsonl'));
    expect(file).toBeDefined();
    const lines = readFileSync(join(dir, file as string), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const initialized = lines.find((l) => l.edge === 'initialized');
    expect(initialized).toMatchObject({
      era: 'modern',
      protocolVersion: MODERN_VERSION,
      clientInfo: { name: 'taper' },
      serverInfo: { name: 'v2-fixture' },
    });

    const replay = await startListening(['replay', join(dir, file as string), '--port', '0']);
    try {
      const again = await connectV2Http(replay.url, { name: 'taper' });
      const replayed: string[] = [];
      for (const c of calls) replayed.push(text(await again.client.callTool(c)));
      expect(replayed).toEqual(recorded);
      await again.client.close();
    } finally {
      await replay.stop();
    }
  });
});

describe('a 2026-only upstream (v2 server with legacy: reject) behind forward http --upstream', () => {
  let only2026: RunningFixture;
  let proxy: RunningCli;
  beforeAll(async () => {
    only2026 = await startFixture('v2Server.mjs', ['http', '--reject']);
    proxy = await startHttpProxy(['--admin-port', '0', '--upstream', only2026.url]);
  });
  afterAll(async () => {
    await proxy.stop();
    await only2026.stop();
  });

  it('serves 2026-07-28 clients, and relays its -32022 to 2025 clients as it is, without tripping the breaker', async () => {
    const modern = await connectV2Http(proxy.url);
    expect(text(await modern.client.callTool({ name: 'echo', arguments: { text: 'x' } }))).toBe(
      'echo(modern): x',
    );
    await modern.client.close();
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'old', version: '1' } },
    };
    // More refusals than --breaker-failures: answers from the upstream, not failures of it.
    for (let i = 0; i < 8; i++) {
      const res = await post(proxy.url, init);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({
        id: 1,
        error: { code: -32022, data: { supported: [MODERN_VERSION], requested: '2025-11-25' } },
      });
    }
    const admin = await adminUrlFrom(proxy.stderr);
    expect(await (await fetch(`${admin}/ready`)).json()).toMatchObject({ status: 'ready' });
    expect(proxy.stderr()).not.toContain('"transport":"sse"');
  });
});
