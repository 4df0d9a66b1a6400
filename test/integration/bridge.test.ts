// --bridge auto with real peers of both eras: a v1 SDK client (1.32.2) in front of a v2 server that serves
// only 2026-07-28, and a v2 client pinned to 2026-07-28 in front of v1-only servers (the v1 fixture and
// server-everything), over stdio and Streamable HTTP, through the real CLI.
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import {
  CLI,
  EVERYTHING,
  MODERN_VERSION,
  ROOT,
  V2_SERVER,
  adminUrlFrom,
  connectV2Http,
  connectV2Stdio,
  startFixture,
  startHttpProxy,
  type RunningCli,
  type RunningFixture,
  type V2TestClient,
} from '../helpers.js';

const V1_SERVER = path.join(path.dirname(V2_SERVER), 'v1Server.mjs');
/** mcpscope's flags in every bridged run here: an admin server on a free port, and the bridge. */
const BRIDGE_FLAGS = ['--admin-port', '0', '--bridge', 'auto'];
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
  'io.modelcontextprotocol/clientInfo': { name: 'raw-client', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} }, sampling: {} },
};

function text(result: object): string {
  const [first] = ((result as { content?: unknown }).content ?? []) as Array<{ type: string; text?: string }>;
  return first?.text ?? '';
}

/** The fixtures' tools that need the client's input, through any client: one round, several, each kind. */
async function expectInputRounds(
  call: (name: string, args: Record<string, unknown>) => Promise<object>,
): Promise<void> {
  expect(text(await call('confirm', { action: 'deploy' }))).toBe('did deploy');
  expect(text(await call('ask_llm', { q: 'Capital?' }))).toBe('llm said: Paris');
  expect(text(await call('roots', {}))).toBe('file:///tmp/project');
  expect(text(await call('wizard', {}))).toBe('Ada likes teal');
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await wait(20);
  }
}

/** `forward stdio --bridge auto` (plus `extra`) in front of `server`, over stdio, as a v1 client launches it; its stderr kept. */
function bridgedStdio(
  server: string[],
  extra: string[] = [],
): { transport: StdioClientTransport; stderr(): string } {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'forward', 'stdio', ...BRIDGE_FLAGS, ...extra, '--', process.execPath, ...server],
    stderr: 'pipe',
  });
  let err = '';
  transport.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  return { transport, stderr: () => err };
}

/** A fixture server over HTTP, and `forward http --bridge auto --upstream` to it, for a describe block. */
function bridgedHttp(fixture: string): { fixture: RunningFixture; proxy: RunningCli } {
  const ctx = {} as { fixture: RunningFixture; proxy: RunningCli };
  beforeAll(async () => {
    ctx.fixture = await startFixture(fixture, ['http']);
    ctx.proxy = await startHttpProxy([...BRIDGE_FLAGS, '--upstream', ctx.fixture.url]);
  });
  afterAll(async () => {
    await ctx.proxy?.stop();
    await ctx.fixture?.stop();
  });
  return ctx;
}

/** A v1 SDK client that can be asked for elicitation, sampling and roots, collecting what it was sent. */
interface V1Peer {
  client: Client;
  asked: string[];
  logs: string[];
  changes: string[];
}

function v1Peer(): V1Peer {
  const client = new Client(
    { name: 'v1-peer', version: '1.32.2' },
    { capabilities: { elicitation: {}, sampling: {}, roots: { listChanged: true } } },
  );
  const peer: V1Peer = { client, asked: [], logs: [], changes: [] };
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    const message = req.params.message;
    peer.asked.push(message);
    if (message === 'Name?') return { action: 'accept', content: { name: 'Ada' } };
    if (message === 'Color?') return { action: 'accept', content: { color: 'teal' } };
    // "Really <action>?": yes unless the action says no.
    return { action: 'accept', content: { ok: !message.includes('nope') } };
  });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    const first = req.params.messages[0]?.content;
    peer.asked.push(`sampling: ${first && 'text' in first ? first.text : ''}`);
    return { role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'm', stopReason: 'endTurn' };
  });
  client.setRequestHandler(ListRootsRequestSchema, async () => ({
    roots: [{ uri: 'file:///tmp/project', name: 'project' }],
  }));
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    peer.logs.push(String(n.params.data));
  });
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    peer.changes.push('tools/list_changed');
  });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    peer.changes.push(`resources/updated ${n.params.uri}`);
  });
  return peer;
}

async function metricsText(adminUrl: string): Promise<string> {
  return (await fetch(`${adminUrl}/metrics`)).text();
}

describe.each(['stdio', 'http'] as const)('older client → 2026-07-28-only server, over %s', (wire) => {
  let fixture: RunningFixture | undefined;
  let proxy: RunningCli | undefined;
  let peer: V1Peer;
  let adminUrl: string;
  let tapes: string;
  let stderr: () => string;

  beforeAll(async () => {
    tapes = mkdtempSync(path.join(tmpdir(), 'mcpscope-bridge-'));
    peer = v1Peer();
    const common = [...BRIDGE_FLAGS, '--record', tapes];
    if (wire === 'http') {
      fixture = await startFixture('v2Server.mjs', ['http', '--reject']);
      proxy = await startHttpProxy([...common, '--upstream', fixture.url]);
      stderr = proxy.stderr;
      await peer.client.connect(new StreamableHTTPClientTransport(new URL(proxy.url)));
    } else {
      const bridged = bridgedStdio([V2_SERVER, 'stdio', '--reject'], ['--record', tapes]);
      stderr = bridged.stderr;
      await peer.client.connect(bridged.transport);
    }
    adminUrl = await adminUrlFrom(stderr);
  });

  afterAll(async () => {
    await peer?.client.close();
    await proxy?.stop();
    await fixture?.stop();
  });

  it('initializes from the server’s server/discover', () => {
    expect(peer.client.getServerVersion()).toEqual({ name: 'v2-fixture', version: '1.0.0' });
    expect(peer.client.getServerCapabilities()).toMatchObject({
      tools: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      logging: {},
    });
  });

  it('lists and calls tools, answers without the 2026-07-28 resultType', async () => {
    const tools = await peer.client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('confirm');
    const result = await peer.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect(text(result)).toBe('echo(modern): hi');
    expect(result).not.toHaveProperty('resultType');
    await expect(peer.client.ping()).resolves.toEqual({});
  });

  it('turns input-required into real elicitation, sampling and roots requests, for as many rounds as asked', async () => {
    await expectInputRounds((name, args) => peer.client.callTool({ name, arguments: args }));
    expect(peer.asked).toEqual(
      expect.arrayContaining(['Really deploy?', 'sampling: Capital?', 'Name?', 'Color?']),
    );
  });

  it('mirrors x-mcp-header arguments into Mcp-Param-* headers, fetching tools/list again when refused', async () => {
    // Over HTTP a new session that calls before it lists: the server refuses (-32020), mcpscope lists
    // the tools and sends the call again with the header. Over stdio there are no headers to send.
    const fresh = wire === 'http' ? v1Peer() : peer;
    if (wire === 'http')
      await fresh.client.connect(new StreamableHTTPClientTransport(new URL(proxy?.url ?? '')));
    try {
      const result = await fresh.client.callTool({
        name: 'region',
        arguments: { region: 'eu-west', query: 'SELECT 1' },
      });
      expect(text(result)).toBe('SELECT 1 ran in eu-west');
    } finally {
      if (wire === 'http') await fresh.client.close();
    }
  });

  it('keeps concurrent calls’ questions apart', async () => {
    const [yes, no] = await Promise.all([
      peer.client.callTool({ name: 'confirm', arguments: { action: 'ship' } }),
      peer.client.callTool({ name: 'confirm', arguments: { action: 'nope' } }),
    ]);
    expect(text(yes)).toBe('did ship');
    expect(text(no)).toBe('skipped nope');
  });

  it('carries progress, and logs at the level the client set', async () => {
    const progress: number[] = [];
    await peer.client.setLoggingLevel('info');
    const result = await peer.client.callTool({ name: 'slow', arguments: { steps: 2 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(text(result)).toBe('done 2');
    expect(progress).toEqual([1, 2]);
    await until(() => peer.logs.includes('step 2'), 'the log lines');
    expect(peer.logs).toEqual(expect.arrayContaining(['step 1', 'step 2']));
  });

  it('delivers list_changed and subscribed resource updates from a listen it holds upstream', async () => {
    await peer.client.subscribeResource({ uri: 'config://app' });
    await peer.client.callTool({ name: 'touch', arguments: {} });
    await until(
      () =>
        peer.changes.includes('tools/list_changed') &&
        peer.changes.includes('resources/updated config://app'),
      'the change notifications',
    );
    const read = await peer.client.readResource({ uri: 'config://app' });
    expect(read.contents[0]).toMatchObject({ uri: 'config://app', text: '{"theme":"dark"}' });
    await peer.client.unsubscribeResource({ uri: 'config://app' });
  });

  it('refuses what has no 2026-07-28 equivalent, naming it', async () => {
    const err = await peer.client
      .request({ method: 'tasks/list', params: {} }, ToolListChangedNotificationSchema as never)
      .then(
        () => undefined,
        (e: unknown) => e as { code?: number; message?: string },
      );
    expect(err?.code).toBe(-32601);
    expect(err?.message).toMatch(/tasks\/list has no equivalent in 2026-07-28/);
  });

  it('counts what it translated', async () => {
    const text = await metricsText(adminUrl);
    for (const kind of [
      'initialize',
      'envelope',
      'input_required',
      'input_answer',
      'listen',
      'log_level',
      'ping',
    ]) {
      expect(text).toMatch(
        new RegExp(`mcpscope_bridge_translations_total\\{direction="to_modern",kind="${kind}"\\} [1-9]`),
      );
    }
  });

  it('shows the translations in the live feed, as its OpenAPI document describes them', async () => {
    const { Ajv2020 } = await import('ajv/dist/2020.js');
    const doc = (await (await fetch(`${adminUrl}/openapi.json`)).json()) as { components: object };
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ $id: 'mcpscope', components: doc.components });
    const sessions = (await (await fetch(`${adminUrl}/sessions`)).json()) as {
      sessions: Array<{ id: string; bridge?: string }>;
    };
    const validSessions = ajv.getSchema('mcpscope#/components/schemas/FeedSessions');
    expect(validSessions?.(sessions) ? [] : validSessions?.errors).toEqual([]);
    const session = sessions.sessions.find((s) => s.bridge === 'to-modern');
    expect(session).toBeDefined();
    const page = (await (await fetch(`${adminUrl}/sessions/${session?.id}/events?limit=1000`)).json()) as {
      events: Array<{ type: string; translation?: string; message?: { method?: string } }>;
    };
    const validPage = ajv.getSchema('mcpscope#/components/schemas/FeedPage');
    expect(validPage?.(page) ? [] : validPage?.errors).toEqual([]);
    const bridged = page.events.filter((e) => e.type === 'bridge');
    expect(bridged.map((e) => e.translation)).toEqual(
      expect.arrayContaining(['probe', 'initialize', 'envelope', 'input_required', 'input_answer', 'listen']),
    );
    expect(bridged.find((e) => e.translation === 'listen' && e.message)?.message?.method).toBe(
      'subscriptions/listen',
    );
  });

  it('records both sides: the client’s messages and the upstream’s, marked as bridged', async () => {
    // The session that went through input rounds (over HTTP another session called `region`).
    let file = '';
    await until(() => {
      for (const f of readdirSync(tapes).filter((n) => n.endsWith('.jsonl'))) {
        if (readFileSync(path.join(tapes, f), 'utf8').includes('"translation":"input_required"')) file = f;
      }
      return file !== '';
    }, 'the tape to be written');
    const lines = readFileSync(path.join(tapes, file), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    // Every line, the bridge's included, is what the tape's JSON Schema describes.
    const { Ajv2020 } = await import('ajv/dist/2020.js');
    const schema = JSON.parse(readFileSync(path.join(ROOT, 'docs/tape.schema.json'), 'utf8')) as object;
    const valid = new Ajv2020({ allErrors: true, allowUnionTypes: true }).compile(schema);
    for (const line of lines) expect(valid(line) ? [] : valid.errors).toEqual([]);
    const bridged = lines
      .filter((l) => l.edge === 'event' && (l.event as { type?: string }).type === 'bridge')
      .map(
        (l) =>
          l.event as { translation: string; bridge: string; message?: { method?: string; params?: unknown } },
      );
    expect(bridged.some((e) => e.translation === 'probe' && e.message?.method === 'server/discover')).toBe(
      true,
    );
    const call = bridged.find((e) => e.translation === 'envelope' && e.message?.method === 'tools/call');
    expect(call?.bridge).toBe('to-modern');
    expect(JSON.stringify(call?.message)).toContain('"io.modelcontextprotocol/protocolVersion":"2026-07-28"');
    // The client's side is the tape's message stream, as without --bridge: it never saw an envelope.
    const clientCall = lines.find(
      (l) => l.dir === 'c2s' && (l.msg as { method?: string } | undefined)?.method === 'tools/call',
    );
    expect(clientCall).toBeDefined();
    expect(JSON.stringify(clientCall)).not.toContain('io.modelcontextprotocol/protocolVersion');
  });
});

describe('older client → a server of both eras whose older side is stateless (the v2 SDK’s default, over HTTP)', () => {
  const bridged = bridgedHttp('v2Server.mjs');

  it('is bridged to the 2026-07-28 side, so the client gets the server’s questions', async () => {
    const peer = v1Peer();
    await peer.client.connect(new StreamableHTTPClientTransport(new URL(bridged.proxy.url)));
    try {
      // Served statelessly in its own era, this server could not ask the client anything.
      expect(text(await peer.client.callTool({ name: 'confirm', arguments: { action: 'go' } }))).toBe(
        'did go',
      );
      expect(text(await peer.client.callTool({ name: 'echo', arguments: { text: 'x' } }))).toBe(
        'echo(modern): x',
      );
      const admin = await adminUrlFrom(bridged.proxy.stderr);
      const sessions = (await (await fetch(`${admin}/sessions`)).json()) as {
        sessions: Array<{ bridge?: string }>;
      };
      expect(sessions.sessions.map((s) => s.bridge)).toContain('to-modern');
    } finally {
      await peer.client.close();
    }
  });

  it('while an older server with sessions is not bridged', async () => {
    const older = await startFixture('v1Server.mjs', ['http']);
    const front = await startHttpProxy([...BRIDGE_FLAGS, '--upstream', older.url]);
    const peer = v1Peer();
    try {
      await peer.client.connect(new StreamableHTTPClientTransport(new URL(front.url)));
      expect(text(await peer.client.callTool({ name: 'confirm', arguments: { action: 'go' } }))).toBe(
        'did go',
      );
      const metrics = await metricsText(await adminUrlFrom(front.stderr));
      expect(metrics).not.toMatch(/mcpscope_bridge_translations_total\{/);
    } finally {
      await peer.client.close();
      await front.stop();
      await older.stop();
    }
  });
});

describe('older client → 2026-07-28-only server: what the client cannot answer', () => {
  async function connect(client: Client): Promise<void> {
    await client.connect(bridgedStdio([V2_SERVER, 'stdio', '--reject']).transport);
  }

  it('a client that answers the server’s question with an error gets BRIDGE_INPUT_FAILED, and the session goes on', async () => {
    const client = new Client({ name: 'refuser', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, async () => {
      throw new Error('the user closed the dialog');
    });
    await connect(client);
    try {
      const err = await client.callTool({ name: 'confirm', arguments: { action: 'x' } }).then(
        () => undefined,
        (e: unknown) => e as { code?: number; message?: string; data?: { code?: string } },
      );
      expect(err?.code).toBe(-32603);
      expect(err?.message).toMatch(/answered with an error .*the user closed the dialog/);
      expect(err?.data?.code).toBe('BRIDGE_INPUT_FAILED');
      expect(text(await client.callTool({ name: 'echo', arguments: { text: 'still here' } }))).toBe(
        'echo(modern): still here',
      );
    } finally {
      await client.close();
    }
  });

  it('a client without the capability gets the server’s own -32021 naming it', async () => {
    const client = new Client({ name: 'plain', version: '1.0.0' }, { capabilities: {} });
    await connect(client);
    try {
      const err = await client.callTool({ name: 'ask_llm', arguments: { q: 'x' } }).then(
        () => undefined,
        (e: unknown) => e as { code?: number; message?: string },
      );
      expect(err?.code).toBe(-32021);
      expect(err?.message).toMatch(/sampling/);
    } finally {
      await client.close();
    }
  });
});

describe.each(['stdio', 'http'] as const)('2026-07-28 client → older server, over %s', (wire) => {
  let fixture: RunningFixture | undefined;
  let proxy: RunningCli | undefined;
  let tc: V2TestClient;
  let adminUrl: string;

  beforeAll(async () => {
    if (wire === 'http') {
      fixture = await startFixture('v1Server.mjs', ['http']);
      proxy = await startHttpProxy([...BRIDGE_FLAGS, '--upstream', fixture.url]);
      tc = await connectV2Http(proxy.url);
      adminUrl = await adminUrlFrom(proxy.stderr);
    } else {
      const c = await connectV2Stdio([...BRIDGE_FLAGS, '--', process.execPath, V1_SERVER, 'stdio']);
      tc = c;
      adminUrl = await adminUrlFrom(c.stderr);
    }
  });

  afterAll(async () => {
    await tc?.client.close();
    await proxy?.stop();
    await fixture?.stop();
  });

  it('discovers a 2026-07-28 server made of the older server’s initialize', () => {
    expect(tc.client.getProtocolEra()).toBe('modern');
    expect(tc.client.getNegotiatedProtocolVersion()).toBe(MODERN_VERSION);
    expect(tc.client.getServerVersion()?.name).toBe('v1-fixture');
  });

  it('lists and calls tools; cacheable results carry cache hints', async () => {
    const list = await tc.client.listTools();
    expect(list.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['confirm', 'both', 'wizard']));
    expect(list).toMatchObject({ ttlMs: 0, cacheScope: 'private' });
    expect(text(await tc.client.callTool({ name: 'echo', arguments: { text: 'hi' } }))).toBe(
      'echo(legacy): hi',
    );
    const read = await tc.client.readResource({ uri: 'config://app' });
    expect(read).toMatchObject({ ttlMs: 0, cacheScope: 'private' });
  });

  it('turns the server’s requests during a call into input-required rounds', async () => {
    await expectInputRounds((name, args) => tc.client.callTool({ name, arguments: args }));
    // An elicitation and a sampling request the server sends at once (one round when they come together).
    expect(text(await tc.client.callTool({ name: 'both', arguments: {} }))).toBe('accept + Paris');
    const rounds =
      /mcpscope_bridge_translations_total\{direction="to_legacy",kind="input_required"\} (\d+)/.exec(
        await metricsText(adminUrl),
      );
    expect(Number(rounds?.[1])).toBeGreaterThanOrEqual(6);
  });

  it('carries progress; logs only for a request that asks', async () => {
    const progress: number[] = [];
    expect(
      text(
        await tc.client.callTool(
          { name: 'slow', arguments: { steps: 2 } },
          { onprogress: (p: { progress: number }) => progress.push(p.progress) },
        ),
      ),
    ).toBe('done 2');
    expect(progress).toEqual([1, 2]);
    expect(tc.logs).toEqual([]);
    await tc.client.callTool({
      name: 'slow',
      arguments: { steps: 2 },
      _meta: { 'io.modelcontextprotocol/logLevel': 'info' },
    });
    await until(() => tc.logs.length >= 2, 'the log lines');
    expect(tc.logs.map((l) => l.data)).toEqual(['step 1', 'step 2']);
  });

  it('serves subscriptions/listen from the server’s session', async () => {
    const sub = await tc.client.listen({ toolsListChanged: true, resourceSubscriptions: ['config://app'] });
    expect(sub.honoredFilter).toEqual({ toolsListChanged: true, resourceSubscriptions: ['config://app'] });
    await tc.client.callTool({ name: 'touch', arguments: {} });
    await until(
      () =>
        tc.changes.some((c) => c.method === 'notifications/tools/list_changed') &&
        tc.changes.some((c) => c.method === 'notifications/resources/updated'),
      'the change notifications',
    );
    await sub.close();
  });
});

describe('2026-07-28 client → server-everything (2025 only), over stdio', () => {
  let tc: V2TestClient & { stderr(): string };

  beforeAll(async () => {
    tc = await connectV2Stdio([...BRIDGE_FLAGS, '--', process.execPath, EVERYTHING, 'stdio']);
  });

  afterAll(async () => {
    await tc?.client.close();
  });

  it('calls a tool that asks the client for sampling mid-call', async () => {
    expect(tc.client.getProtocolEra()).toBe('modern');
    const tools = await tc.client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('trigger-sampling-request');
    const result = await tc.client.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'Hi' },
    });
    expect(JSON.stringify(result.content)).toContain('Paris');
    expect(text(await tc.client.callTool({ name: 'echo', arguments: { message: 'x' } }))).toContain('x');
  });
});

/** One raw 2026-07-28 POST to `url`. */
async function postModern(
  url: string,
  id: number,
  method: string,
  params: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': MODERN_VERSION,
    'mcp-method': method,
  };
  if (method === 'tools/call') headers['mcp-name'] = String(params.name);
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: ENVELOPE } }),
  });
  const body = await res.text();
  const line = body.includes('data: ')
    ? (
        body
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .pop() as string
      ).slice(6)
    : body;
  return JSON.parse(line) as Record<string, unknown>;
}

interface InputRequired {
  resultType: string;
  inputRequests: Record<string, { method: string; params: { message?: string } }>;
  requestState: string;
}

describe('the request state mcpscope issues to a 2026-07-28 client (HTTP, older HTTP server)', () => {
  const bridged = bridgedHttp('v1Server.mjs');

  it('is refused when altered or replayed, and the genuine one still resumes the call', async () => {
    const first = (
      await postModern(bridged.proxy.url, 1, 'tools/call', { name: 'confirm', arguments: { action: 'x' } })
    ).result as InputRequired;
    expect(first.resultType).toBe('input_required');
    const [key] = Object.keys(first.inputRequests);
    const answers = { [key as string]: { action: 'accept', content: { ok: true } } };
    const [head, payload, mac] = first.requestState.split('.') as [string, string, string];
    const forged = Buffer.from(payload, 'base64url').toString().replace('"round":1', '"round":2');
    for (const state of [
      `${head}.${Buffer.from(forged).toString('base64url')}.${mac}`,
      `${head}.${payload}.${mac.slice(0, -2)}AA`,
      'v1.not-ours.x',
    ]) {
      const refused = await postModern(bridged.proxy.url, 2, 'tools/call', {
        name: 'confirm',
        arguments: { action: 'x' },
        inputResponses: answers,
        requestState: state,
      });
      expect(refused.error).toMatchObject({ code: -32602, data: { code: 'BRIDGE_STATE_INVALID' } });
    }
    const done = await postModern(bridged.proxy.url, 3, 'tools/call', {
      name: 'confirm',
      arguments: { action: 'x' },
      inputResponses: answers,
      requestState: first.requestState,
    });
    expect(text(done.result as { content?: unknown })).toBe('did x');
    const replayed = await postModern(bridged.proxy.url, 4, 'tools/call', {
      name: 'confirm',
      arguments: { action: 'x' },
      inputResponses: answers,
      requestState: first.requestState,
    });
    expect(replayed.error).toMatchObject({ code: -32602, data: { code: 'BRIDGE_STATE_INVALID' } });
  });

  it('takes input responses without a state as a new request, and refuses ones that are not answers', async () => {
    const fresh = (await postModern(bridged.proxy.url, 21, 'tools/call', {
      name: 'confirm',
      arguments: { action: 'y' },
      inputResponses: {},
    })) as { result?: InputRequired };
    expect(fresh.result?.resultType).toBe('input_required');
    const bad = await postModern(bridged.proxy.url, 22, 'tools/call', {
      name: 'confirm',
      arguments: { action: 'y' },
      inputResponses: { ok: 12345 },
    });
    expect(bad.error).toMatchObject({ code: -32602, data: { code: 'INVALID_PARAMS' } });
    // The probe's answer (HTTP 400, id null) is taken as the answer it is: no error about it is reported.
    expect(bridged.proxy.stderr()).not.toMatch(/mcpscope-probe/);
  });

  it('keeps concurrent held calls of one client apart', async () => {
    const [a, b] = (
      await Promise.all([
        postModern(bridged.proxy.url, 11, 'tools/call', { name: 'confirm', arguments: { action: 'alpha' } }),
        postModern(bridged.proxy.url, 12, 'tools/call', { name: 'confirm', arguments: { action: 'beta' } }),
      ])
    ).map((r) => r.result as InputRequired);
    const question = (r: InputRequired): string | undefined =>
      Object.values(r.inputRequests)[0]?.params.message;
    expect(question(a as InputRequired)).toBe('Really alpha?');
    expect(question(b as InputRequired)).toBe('Really beta?');
    const answer = (r: InputRequired, ok: boolean): Record<string, unknown> => ({
      [Object.keys(r.inputRequests)[0] as string]: { action: 'accept', content: { ok } },
    });
    // Answered in the other order, each with its own state.
    const [doneB, doneA] = await Promise.all([
      postModern(bridged.proxy.url, 13, 'tools/call', {
        name: 'confirm',
        arguments: { action: 'beta' },
        inputResponses: answer(b as InputRequired, false),
        requestState: (b as InputRequired).requestState,
      }),
      postModern(bridged.proxy.url, 14, 'tools/call', {
        name: 'confirm',
        arguments: { action: 'alpha' },
        inputResponses: answer(a as InputRequired, true),
        requestState: (a as InputRequired).requestState,
      }),
    ]);
    expect(text(doneA.result as { content?: unknown })).toBe('did alpha');
    expect(text(doneB.result as { content?: unknown })).toBe('skipped beta');
  });
});

describe('concurrent held calls over stdio, where the wire does not say which call asks', () => {
  let proxy: RunningCli;

  beforeAll(async () => {
    proxy = await startHttpProxy([...BRIDGE_FLAGS, '--', process.execPath, V1_SERVER, 'stdio']);
  });

  afterAll(async () => {
    await proxy?.stop();
  });

  it('refuses the server’s question with a reason rather than guess, and a lone call still asks', async () => {
    const [a, b] = await Promise.all([
      postModern(proxy.url, 1, 'tools/call', { name: 'confirm', arguments: { action: 'one' } }),
      postModern(proxy.url, 2, 'tools/call', { name: 'confirm', arguments: { action: 'two' } }),
    ]);
    for (const answer of [a, b]) {
      const result = answer.result as { isError?: boolean; content?: unknown; resultType?: string };
      // Neither call was handed the other's question: the server was told why it could not ask.
      if (result.resultType === 'input_required') continue;
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/in flight and the wire does not say which one asks/);
    }
    const lone = (
      await postModern(proxy.url, 3, 'tools/call', { name: 'confirm', arguments: { action: 'solo' } })
    ).result as InputRequired;
    expect(Object.values(lone.inputRequests)[0]?.params.message).toBe('Really solo?');
  });
});

describe('same era on both sides', () => {
  it('passes an older client to an older server untranslated', async () => {
    const peer = v1Peer();
    const { transport, stderr } = bridgedStdio([V1_SERVER, 'stdio']);
    await peer.client.connect(transport);
    try {
      expect(peer.client.getServerVersion()?.name).toBe('v1-fixture');
      expect(text(await peer.client.callTool({ name: 'confirm', arguments: { action: 'go' } }))).toBe(
        'did go',
      );
      const admin = await adminUrlFrom(stderr);
      expect(await metricsText(admin)).not.toMatch(/mcpscope_bridge_translations_total\{/);
      // Over stdio the older client's initialize went first and was answered: no server/discover at all.
      const sessions = (await (await fetch(`${admin}/sessions`)).json()) as {
        sessions: Array<{ id: string; bridge?: string }>;
      };
      expect(sessions.sessions[0]?.bridge).toBe('none');
      const page = (await (await fetch(`${admin}/sessions/${sessions.sessions[0]?.id}/events`)).json()) as {
        events: Array<{ type: string; message?: { method?: string } }>;
      };
      expect(page.events.filter((e) => e.type === 'bridge').length).toBeGreaterThan(0);
      expect(page.events.some((e) => e.message?.method === 'server/discover')).toBe(false);
    } finally {
      await peer.client.close();
    }
  });

  it('passes a 2026-07-28 client to a 2026-07-28 server untranslated', async () => {
    const tc = await connectV2Stdio([
      ...BRIDGE_FLAGS,
      '--',
      process.execPath,
      V2_SERVER,
      'stdio',
      '--reject',
    ]);
    try {
      expect(text(await tc.client.callTool({ name: 'wizard', arguments: {} }))).toBe('Ada likes teal');
      const metrics = await metricsText(await adminUrlFrom(tc.stderr));
      expect(metrics).not.toMatch(/mcpscope_bridge_translations_total\{/);
    } finally {
      await tc.client.close();
    }
  });
});
