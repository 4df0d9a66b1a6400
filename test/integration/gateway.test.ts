// mcpscope gateway with two upstreams of different transports (the v1 SDK fixture over stdio, paging its
// tools/list, and the same fixture as a Streamable HTTP server), through the real CLI and the real SDK
// client: merged lists, routing, filters, server → client requests, notifications, cancellation, one
// upstream killed while the other serves, metrics per upstream; and the config's errors.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  McpError,
  ToolListChangedNotificationSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import {
  V2_SERVER,
  adminUrlFrom,
  childrenOf,
  spawnCli,
  startFixture,
  startListening,
  type RunningCli,
  type RunningFixture,
  callTool as call,
  toolText as text,
} from '../helpers.js';

const V1_SERVER = path.join(path.dirname(V2_SERVER), 'v1Server.mjs');
const V1_TOOLS = ['echo', 'add', 'slow', 'confirm', 'ask_llm', 'roots', 'wizard', 'both', 'touch'];

/** One series' value in a Prometheus text exposition; undefined when the series is not there. */
function series(metrics: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf('}'));
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

interface Connected {
  client: Client;
  sampled: Array<Record<string, unknown> | undefined>;
  elicited: string[];
  changed: Array<Record<string, unknown> | undefined>;
}

async function connect(url: string): Promise<Connected> {
  const client = new Client(
    { name: 'gateway-test', version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: {} } },
  );
  const out: Connected = { client, sampled: [], elicited: [], changed: [] };
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    out.sampled.push(req.params._meta);
    return { model: 'test', role: 'assistant', content: { type: 'text', text: 'Paris' } };
  });
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    out.elicited.push(req.params.message);
    return { action: 'accept', content: { ok: true } };
  });
  client.setNotificationHandler(ToolListChangedNotificationSchema, (n) => {
    out.changed.push(n.params?._meta);
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return out;
}

async function rpcError(promise: Promise<unknown>): Promise<McpError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof McpError) return err;
    throw err;
  }
  throw new Error('expected a JSON-RPC error');
}

describe('mcpscope gateway: a stdio and an HTTP upstream', () => {
  let search: RunningFixture;
  let gateway: RunningCli;
  let admin: string;
  let c: Connected;

  beforeAll(async () => {
    search = await startFixture('v1Server.mjs', ['http', '0', '--name', 'search']);
    const dir = mkdtempSync(path.join(tmpdir(), 'mcpscope-gateway-'));
    const config = path.join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      [
        'listen: { host: 127.0.0.1, port: 0 }',
        'upstreamTimeoutMs: 5000',
        'adminPort: 0',
        'upstreams:',
        '  files:',
        `    command: [${process.execPath}, ${V1_SERVER}, stdio, --page-size, "3", --name, files]`,
        '    tools: { deny: ["roots"] }',
        '  search:',
        '    url: ${SEARCH_URL}',
        '    headers: { X-Search-Token: "${SEARCH_TOKEN}" }',
        '    tools: { allow: ["*"], deny: ["wiz*"] }',
      ].join('\n'),
    );
    gateway = await startListening(['gateway', '--config', config], {
      SEARCH_URL: search.url,
      SEARCH_TOKEN: 'token-1',
    });
    admin = await adminUrlFrom(gateway.stderr);
    c = await connect(gateway.url);
  });

  afterAll(async () => {
    await c?.client.close().catch(() => undefined);
    await gateway?.stop();
    await search?.stop();
  });

  it('answers initialize itself with the union of the upstreams’ capabilities', () => {
    expect(c.client.getServerVersion()?.name).toBe('mcpscope-gateway');
    const caps = c.client.getServerCapabilities();
    expect(caps?.tools).toEqual({ listChanged: true });
    expect(caps?.resources).toEqual({ subscribe: true, listChanged: true });
    expect(caps?.prompts).toEqual({ listChanged: true });
    expect(caps?.logging).toEqual({});
  });

  it('merges tools/list across upstreams, prefixed, filtered and paged with one cursor', async () => {
    const pages: Tool[][] = [];
    let cursor: string | undefined;
    do {
      const page = await c.client.listTools(cursor === undefined ? {} : { cursor });
      pages.push(page.tools);
      cursor = page.nextCursor;
    } while (cursor !== undefined && pages.length < 10);
    // files pages 3 at a time (9 tools): three pages; search answers whole on the first.
    expect(pages).toHaveLength(3);
    expect(pages[0]?.filter((t) => t.name.startsWith('files__'))).toHaveLength(3);
    expect(pages[0]?.filter((t) => t.name.startsWith('search__'))).toHaveLength(8);
    expect(pages[1]?.every((t) => t.name.startsWith('files__'))).toBe(true);
    const names = pages.flat().map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.sort()).toEqual(
      [
        ...V1_TOOLS.filter((t) => t !== 'roots').map((t) => `files__${t}`),
        ...V1_TOOLS.filter((t) => t !== 'wizard').map((t) => `search__${t}`),
      ].sort(),
    );
  });

  it('refuses a cursor it did not issue', async () => {
    const err = await rpcError(c.client.listTools({ cursor: 'bm90LWEtY3Vyc29y' }));
    expect(err.code).toBe(-32602);
    expect((err.data as { code?: string }).code).toBe('GATEWAY_CURSOR_INVALID');
  });

  it('routes calls by prefix to the right upstream', async () => {
    expect(await call(c.client, 'files__echo', { text: 'a' })).toBe('echo(files): a');
    expect(await call(c.client, 'search__echo', { text: 'b' })).toBe('echo(search): b');
    expect(await call(c.client, 'search__add', { a: 2, b: 3 })).toBe('5');
  });

  it('refuses a hidden tool with an error naming it and why, and an unknown prefix', async () => {
    const hidden = await rpcError(c.client.callTool({ name: 'files__roots', arguments: {} }));
    expect(hidden.code).toBe(-32602);
    expect((hidden.data as { code?: string; upstream?: string }).code).toBe('GATEWAY_NAME_HIDDEN');
    expect((hidden.data as { upstream?: string }).upstream).toBe('files');
    expect(hidden.message).toContain('files__roots');
    expect(hidden.message).toContain('deny');
    const denied = await rpcError(c.client.callTool({ name: 'search__wizard', arguments: {} }));
    expect((denied.data as { code?: string }).code).toBe('GATEWAY_NAME_HIDDEN');
    const unknown = await rpcError(c.client.callTool({ name: 'nowhere__echo', arguments: {} }));
    expect((unknown.data as { code?: string }).code).toBe('GATEWAY_UNKNOWN_NAME');
    expect(unknown.message).toContain('files, search');
  });

  it('routes prompts by prefix and resources by the URI each upstream listed', async () => {
    const prompts = await c.client.listPrompts();
    expect(prompts.prompts.map((p) => p.name).sort()).toEqual(['files__greet', 'search__greet']);
    const got = await c.client.getPrompt({ name: 'search__greet', arguments: { name: 'Ada' } });
    expect(got.messages[0]?.content).toEqual({ type: 'text', text: 'Hello, Ada' });
    const resources = await c.client.listResources();
    expect(resources.resources.map((r) => r.uri).sort()).toEqual(['config://files', 'config://search']);
    for (const uri of ['config://files', 'config://search']) {
      const read = await c.client.readResource({ uri });
      expect(read.contents[0]?.uri).toBe(uri);
    }
    const unknown = await rpcError(c.client.readResource({ uri: 'config://elsewhere' }));
    expect(unknown.code).toBe(-32002);
    expect((unknown.data as { code?: string }).code).toBe('GATEWAY_UNKNOWN_RESOURCE');
  });

  it('delivers sampling and elicitation from both upstreams to the client, and the answers back', async () => {
    expect(await call(c.client, 'files__ask_llm', { q: 'Capital?' })).toBe('llm said: Paris');
    expect(await call(c.client, 'search__ask_llm', { q: 'Capital?' })).toBe('llm said: Paris');
    expect(c.sampled.map((m) => m?.['io.mcpscope/upstream'])).toEqual(['files', 'search']);
    expect(await call(c.client, 'files__confirm', { action: 'go' })).toBe('did go');
    expect(await call(c.client, 'search__confirm', { action: 'ship' })).toBe('did ship');
    // Both at once from each upstream: ids remapped, so the four answers never cross.
    const [a, b] = await Promise.all([
      c.client.callTool({ name: 'files__both', arguments: {} }),
      c.client.callTool({ name: 'search__both', arguments: {} }),
    ]);
    expect(text(a)).toBe('accept + Paris');
    expect(text(b)).toBe('accept + Paris');
  });

  it('passes progress on, and list_changed named for its upstream', async () => {
    for (const name of ['files__slow', 'search__slow']) {
      const progress: number[] = [];
      const result = await c.client.callTool({ name, arguments: { steps: 3, ms: 5 } }, undefined, {
        onprogress: (p) => progress.push(p.progress),
      });
      expect(text(result)).toBe('done 3');
      expect(progress).toEqual([1, 2, 3]);
    }
    await c.client.callTool({ name: 'search__touch', arguments: {} });
    await c.client.callTool({ name: 'files__touch', arguments: {} });
    await expect.poll(() => c.changed.length).toBe(2);
    expect(c.changed.map((m) => m?.['io.mcpscope/upstream']).sort()).toEqual(['files', 'search']);
  });

  it('passes a cancellation to the upstream the request went to', async () => {
    const controller = new AbortController();
    const call = c.client.callTool({ name: 'search__slow', arguments: { steps: 100, ms: 50 } }, undefined, {
      signal: controller.signal,
      onprogress: () => controller.abort(),
    });
    await expect(call).rejects.toThrow();
    await expect.poll(() => search.stderr(), { timeout: 5_000 }).toContain('v1 fixture search: slow');
    expect(search.stderr()).toContain('cancelled');
  });

  it('labels metrics per upstream', async () => {
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(
      series(metrics, 'mcpscope_gateway_requests_total', { upstream: 'files', status: 'ok' }),
    ).toBeGreaterThan(0);
    expect(
      series(metrics, 'mcpscope_gateway_requests_total', { upstream: 'search', status: 'ok' }),
    ).toBeGreaterThan(0);
    expect(series(metrics, 'mcpscope_gateway_upstream_up', { upstream: 'files' })).toBe(1);
    expect(series(metrics, 'mcpscope_gateway_upstream_up', { upstream: 'search' })).toBe(1);
    expect(series(metrics, 'mcpscope_circuit_breaker_state', { upstream: 'search' })).toBe(0);
    expect(series(metrics, 'mcpscope_tool_calls_total', { tool: 'files__echo', status: 'ok' })).toBe(1);
    const ready = await fetch(`${admin}/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { reason: string }).reason).toContain('files, search');
    const stats = (await (await fetch(`${admin}/stats/upstreams`)).json()) as {
      items: Array<{ name: string }>;
    };
    expect(stats.items.map((i) => i.name).sort()).toEqual(['files', 'search']);
  });

  it('opens a crashed stdio upstream again at the next request after its backoff', async () => {
    const changed = c.changed.length;
    const [pid] = childrenOf(gateway.proc.pid as number);
    process.kill(pid as number, 'SIGKILL');
    const attempt = (): Promise<string> =>
      call(c.client, 'files__echo', { text: 'again' }).catch((e: unknown) => (e as Error).message);
    await expect.poll(attempt, { timeout: 5_000, interval: 50 }).toContain('upstream files');
    await expect.poll(attempt, { timeout: 10_000, interval: 200 }).toBe('echo(files): again');
    // Announced as it went, and as it came back.
    expect(c.changed.length).toBeGreaterThanOrEqual(changed + 2);
    expect(await call(c.client, 'search__echo', { text: 'meanwhile' })).toBe('echo(search): meanwhile');
  });

  // Last: the HTTP upstream goes away for good.
  it('keeps serving the other upstream when one is killed, and says which is missing', async () => {
    await search.stop();
    const err = await rpcError(c.client.callTool({ name: 'search__echo', arguments: { text: 'x' } }));
    expect(err.message).toContain('upstream search');
    expect((err.data as { upstream?: string }).upstream).toBe('search');
    const tools = await c.client.listTools();
    expect(tools.tools.some((t) => t.name.startsWith('files__'))).toBe(true);
    expect(tools.tools.some((t) => t.name.startsWith('search__'))).toBe(false);
    const missing = tools._meta?.['io.mcpscope/missing'] as Array<{ upstream: string; message: string }>;
    expect(missing.map((m) => m.upstream)).toEqual(['search']);
    expect(missing[0]?.message).toContain('upstream search');
    expect(await call(c.client, 'files__echo', { text: 'still' })).toBe('echo(files): still');
    // Ready while the stdio upstream serves; the reason names the one that does not answer.
    const ready = await fetch(`${admin}/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { reason: string }).reason).toContain('unreachable');
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(
      series(metrics, 'mcpscope_gateway_upstream_missing_total', { upstream: 'search' }),
    ).toBeGreaterThan(0);
    expect(series(metrics, 'mcpscope_gateway_upstream_up', { upstream: 'search' })).toBe(0);
    expect(
      series(metrics, 'mcpscope_upstream_errors_total', { upstream: 'search', error_type: 'refused' }),
    ).toBeGreaterThan(0);
  });
});

describe('mcpscope gateway: config errors', () => {
  /** Run the gateway on a config and return its exit code and stderr. */
  async function fails(
    yaml: string,
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ code: number | null; stderr: string }> {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcpscope-gateway-bad-'));
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(file, yaml);
    const proc = spawnCli(['gateway', '--config', file, '--admin-port', '0'], env);
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    return { code, stderr };
  }

  it('is also `mcpscope reverse`, and a bad config fails the same way under that name', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcpscope-gateway-bad-'));
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(file, 'upstreams: {}\nlisten: { port: nope }\n');
    const proc = spawnCli(['reverse', '--config', file]);
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await new Promise((resolve) => proc.once('exit', resolve))).toBe(2);
    expect(stderr).toMatch(/listen\.port|port/);
  });

  it('names a bad key', async () => {
    const r = await fails(
      'upstreams:\n  files:\n    comand: [node, server.js]\n    url: http://127.0.0.1:1/mcp\n',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('upstreams.files.comand');
    expect(r.stderr).toContain('unknown key');
  });

  it('names a missing environment variable and the key that refers to it', async () => {
    const r = await fails(
      'upstreams:\n  search:\n    url: http://127.0.0.1:1/mcp\n    headers: { Authorization: "Bearer ${MCPSCOPE_TEST_UNSET_TOKEN}" }\n',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('upstreams.search.headers.Authorization');
    expect(r.stderr).toContain('MCPSCOPE_TEST_UNSET_TOKEN');
  });

  it('names an unknown upstream transport', async () => {
    const none = await fails('upstreams:\n  files:\n    socket: /tmp/mcp.sock\n');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('upstreams.files');
    expect(none.stderr).toContain('unknown upstream transport');
    const grpc = await fails('upstreams:\n  search:\n    url: http://127.0.0.1:1/mcp\n    transport: grpc\n');
    expect(grpc.code).toBe(2);
    expect(grpc.stderr).toContain('upstreams.search.transport');
  });
});

describe('examples/gateway.yaml', () => {
  it('runs with the bundled example server as a stdio and an HTTP upstream', async () => {
    // examples/server.mjs --http 0, started the way test fixtures are (a path from test/fixtures/servers).
    const remote = await startFixture('../../../examples/server.mjs', ['--http', '0']);
    const gw = await startListening(
      ['gateway', '--config', 'examples/gateway.yaml', '--port', '0', '--admin-port', '0'],
      { EXAMPLE_REMOTE_URL: remote.url },
    );
    try {
      const { client } = await connect(gw.url);
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('local__fail');
      expect(names).not.toContain('local__crash');
      expect(names).toEqual(
        expect.arrayContaining(['remote__echo', 'remote__add', 'remote__slow', 'remote__sample']),
      );
      expect(names.filter((n) => n.startsWith('remote__'))).toHaveLength(4);
      expect(text(await client.callTool({ name: 'remote__add', arguments: { a: 2, b: 2 } }))).toBe('4');
      await client.close();
    } finally {
      await gw.stop();
      await remote.stop();
    }
  });
});
