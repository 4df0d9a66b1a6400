import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import {
  CreateMessageRequestSchema,
  LoggingMessageNotificationSchema,
  type LoggingMessageNotification,
} from '@modelcontextprotocol/sdk/types.js';
import WebSocket from 'ws';
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2HttpClientTransport,
  type ClientCapabilities as V2ClientCapabilities,
  type LoggingMessageNotification as V2LoggingMessageNotification,
  type Transport as V2Transport,
} from '@modelcontextprotocol/client';
import { StdioClientTransport as V2StdioClientTransport } from '@modelcontextprotocol/client/stdio';

// Node 20 has no global WebSocket; the SDK's WebSocketClientTransport uses the `ws` package's, which has
// the same browser-style API.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
export const EXAMPLE = fileURLToPath(new URL('../examples/server.mjs', import.meta.url));
/** The v2 SDK fixture server (protocol revision 2026-07-28 and the 2025 era): `stdio` or `http [port]`. */
export const V2_SERVER = fileURLToPath(new URL('./fixtures/servers/v2Server.mjs', import.meta.url));
export const EVERYTHING = fileURLToPath(
  new URL('../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url),
);

export interface RunningCli {
  proc: ChildProcessWithoutNullStreams;
  url: string;
  stderr(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawn the built CLI and collect its stderr. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
}

/** Start `mcpscope forward http --port 0 …` and wait for the endpoint line it prints. */
export async function startHttpProxy(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningCli> {
  return startListening(['forward', 'http', '--port', '0', ...args], env);
}

/** Start any mcpscope command that serves HTTP (forward http, replay --port) and wait for its endpoint line. */
export async function startListening(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningCli> {
  const proc = spawnCli(args, env);
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /MCP endpoint (\S+)/.exec(stderr);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then(({ code }) =>
      reject(new Error(`mcpscope exited with ${code} before listening:\n${stderr}`)),
    );
  });
  return {
    proc,
    url,
    stderr: () => stderr,
    exited,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return (await exited).code;
    },
  };
}

export interface TestClient {
  client: Client;
  logs: LoggingMessageNotification['params'][];
}

/** A real SDK client that answers sampling requests and collects log notifications. */
export function makeClient(name = 'mcpscope-test'): TestClient {
  const client = new Client({ name, version: '1.0.0' }, { capabilities: { sampling: {} } });
  const logs: LoggingMessageNotification['params'][] = [];
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    const first = req.params.messages[0]?.content;
    const text = first && 'text' in first ? first.text : '';
    return { model: 'test-model', role: 'assistant', content: { type: 'text', text: `sampled: ${text}` } };
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push(n.params);
  });
  return { client, logs };
}

/** A real SDK client on a real mcpscope CLI process (`cliArgs`) over stdio, with its stderr kept. */
export async function connectCliStdio(
  cliArgs: string[],
): Promise<TestClient & { transport: StdioClientTransport; stderr(): string }> {
  const tc = makeClient();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, ...cliArgs],
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await tc.client.connect(transport);
  return { ...tc, transport, stderr: () => stderr };
}

export async function connectHttp(
  url: string,
  name?: string,
): Promise<TestClient & { transport: StreamableHTTPClientTransport }> {
  const tc = makeClient(name);
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await tc.client.connect(transport);
  return { ...tc, transport };
}

/** A real SDK client over the legacy HTTP+SSE transport (protocol revision 2024-11-05). */
export async function connectSse(
  url: string,
  name?: string,
): Promise<TestClient & { transport: SSEClientTransport }> {
  const tc = makeClient(name);
  const transport = new SSEClientTransport(new URL(url));
  await tc.client.connect(transport);
  return { ...tc, transport };
}

/** A real SDK client over WebSocket (subprotocol "mcp"). */
export async function connectWebSocket(
  url: string,
  name?: string,
): Promise<TestClient & { transport: WebSocketClientTransport }> {
  const tc = makeClient(name);
  const transport = new WebSocketClientTransport(new URL(url));
  await tc.client.connect(transport);
  return { ...tc, transport };
}

export interface RunningFixture {
  proc: ChildProcess;
  url: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** The text of a tool result's first content block ('' when it has none). */
export function toolText(result: object): string {
  const [first] = ((result as { content?: unknown }).content ?? []) as Array<{ text?: string }>;
  return first?.text ?? '';
}

/** Call a tool (v1 or v2 SDK client) and return the text of its answer. */
export async function callTool(
  client: { callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<object> },
  name: string,
  args: Record<string, unknown> = {},
): Promise<string> {
  return toolText(await client.callTool({ name, arguments: args }));
}

/** Start a fixture server from test/fixtures/servers and wait for the "listening <url>" line it prints. */
export async function startFixture(name: string, args: string[] = []): Promise<RunningFixture> {
  const script = fileURLToPath(new URL(`./fixtures/servers/${name}`, import.meta.url));
  const proc = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`fixture ${name} exited with ${code}:\n${stderr}`)));
  });
  return {
    proc,
    url,
    stderr: () => stderr,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

export async function connectStdio(
  args: string[],
): Promise<TestClient & { transport: StdioClientTransport; stderr(): string }> {
  const tc = makeClient();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'forward', 'stdio', ...args],
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await tc.client.connect(transport);
  return { ...tc, transport, stderr: () => stderr };
}

/** Read stdout of a raw CLI process line by line as parsed JSON. */
export function jsonLines(proc: ChildProcessWithoutNullStreams): {
  next(): Promise<Record<string, unknown>>;
} {
  const rl = createInterface({ input: proc.stdout });
  const queue: Record<string, unknown>[] = [];
  const waiters: Array<(v: Record<string, unknown>) => void> = [];
  rl.on('line', (line) => {
    const value = JSON.parse(line) as Record<string, unknown>;
    const w = waiters.shift();
    if (w) w(value);
    else queue.push(value);
  });
  return {
    next: () => {
      const v = queue.shift();
      return v ? Promise.resolve(v) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

export const INIT = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

export const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};

/** POST one message to the endpoint with plain fetch (for the cases an SDK client never produces). */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { ...MCP_HEADERS, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Initialize a raw session and return its id. */
export async function rawSession(url: string): Promise<string> {
  const res = await post(url, INIT);
  await res.text();
  const id = res.headers.get('mcp-session-id');
  if (!id) throw new Error(`initialize returned ${res.status} without a session id`);
  const ack = await post(
    url,
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { 'mcp-session-id': id },
  );
  await ack.text();
  return id;
}

/** Parse an SSE body into its events. */
export function sseEvents(text: string): Array<{ id?: string; data: string }> {
  return text
    .split('\n\n')
    .filter((block) => block.includes('data:'))
    .map((block) => {
      const id = /^id: (.*)$/m.exec(block)?.[1];
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      return id === undefined ? { data } : { id, data };
    });
}

/** Wait for the admin server URL that mcpscope logs on stderr. */
export async function adminUrlFrom(
  stderr: () => string,
  timeoutMs = 10_000,
  host = '127.0.0.1',
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const pattern = new RegExp(
    `"url":"(http://${host.replace(/\./g, '\\.')}:\\d+)","msg":"admin server listening"`,
  );
  for (;;) {
    const m = pattern.exec(stderr());
    if (m?.[1]) return m[1];
    if (Date.now() > deadline) throw new Error(`no admin server URL in stderr:\n${stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `mcpscope forward http` with an admin server on a free port in front of the example server, and its admin URL. */
export async function startExampleProxy(flags: string[] = []): Promise<{ proxy: RunningCli; admin: string }> {
  const proxy = await startHttpProxy(['--admin-port', '0', ...flags, '--', process.execPath, EXAMPLE]);
  return { proxy, admin: await adminUrlFrom(proxy.stderr) };
}

/** A rules file (YAML) whose rule `mock-add` answers every tools/call of `add` with `text`; `more` lines follow. */
export function mockAddRules(text: string, more: string[] = []): string {
  return [
    'rules:',
    '  - name: mock-add',
    '    match: { method: tools/call, tool: add }',
    '    action:',
    '      mock:',
    `        result: { content: [{ type: text, text: ${text} }] }`,
    ...more,
    '',
  ].join('\n');
}

/** Child pids of a process, from /proc. */
export function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
}

/** The modern protocol revision the v2 helpers pin. */
export const MODERN_VERSION = '2026-07-28';

/** A server notification the v2 helpers collect, in arrival order. */
export interface V2Notification {
  method: string;
  params?: Record<string, unknown>;
}

export interface V2TestClient {
  /** A v2 SDK client pinned to 2026-07-28 (no fallback to the 2025 era). */
  client: V2Client;
  /** notifications/message params (only sent for requests whose _meta carries a logLevel). */
  logs: V2LoggingMessageNotification['params'][];
  /** tools/prompts/resources list_changed and resources/updated notifications (listen stream). */
  changes: V2Notification[];
  /** The message of every elicitation the client answered. */
  elicitations: string[];
}

export interface V2ClientOptions {
  name?: string;
  /** Defaults to elicitation (form), sampling and roots, so every fixture tool can be fulfilled. */
  capabilities?: V2ClientCapabilities;
}

/** Canned answers for the fixture's elicitation fields; other string fields get "yes". */
const ELICIT_ANSWERS: Record<string, string> = { name: 'Ada', color: 'teal' };

/**
 * A v2 SDK client pinned to 2026-07-28 that fulfils input_required rounds (elicitation accepts with a value
 * per requested field, sampling answers "Paris", roots lists file:///tmp/project) and collects log and
 * change notifications. Connects over the given transport.
 */
export async function connectV2(transport: V2Transport, opts: V2ClientOptions = {}): Promise<V2TestClient> {
  const client = new V2Client(
    { name: opts.name ?? 'mcpscope-v2-test', version: '1.0.0' },
    {
      versionNegotiation: { mode: { pin: MODERN_VERSION } },
      capabilities: opts.capabilities ?? { elicitation: { form: {} }, sampling: {}, roots: {} },
    },
  );
  const tc: V2TestClient = { client, logs: [], changes: [], elicitations: [] };
  client.setRequestHandler('elicitation/create', async (req) => {
    tc.elicitations.push(req.params.message);
    const schema = 'requestedSchema' in req.params ? req.params.requestedSchema : undefined;
    const content: Record<string, string | number | boolean> = {};
    for (const [key, prop] of Object.entries(schema?.properties ?? {})) {
      const type = (prop as { type?: string }).type;
      content[key] =
        type === 'boolean'
          ? true
          : type === 'number' || type === 'integer'
            ? 1
            : (ELICIT_ANSWERS[key] ?? 'yes');
    }
    return { action: 'accept', content };
  });
  client.setRequestHandler('sampling/createMessage', async () => ({
    role: 'assistant',
    content: { type: 'text', text: 'Paris' },
    model: 'test-model',
    stopReason: 'endTurn',
  }));
  client.setRequestHandler('roots/list', async () => ({
    roots: [{ uri: 'file:///tmp/project', name: 'project' }],
  }));
  client.setNotificationHandler('notifications/message', (n) => {
    tc.logs.push(n.params);
  });
  for (const method of [
    'notifications/tools/list_changed',
    'notifications/prompts/list_changed',
    'notifications/resources/list_changed',
    'notifications/resources/updated',
  ] as const) {
    client.setNotificationHandler(method, (n) => {
      tc.changes.push({ method, params: n.params as Record<string, unknown> | undefined });
    });
  }
  await client.connect(transport);
  return tc;
}

/** A pinned v2 client over Streamable HTTP (no session, headers per request) to `url`. */
export async function connectV2Http(
  url: string,
  opts?: V2ClientOptions,
): Promise<V2TestClient & { transport: V2HttpClientTransport }> {
  const transport = new V2HttpClientTransport(new URL(url));
  return { ...(await connectV2(transport, opts)), transport };
}

/**
 * A pinned v2 client over stdio to `mcpscope forward stdio …args`. NB: the v2 client spawns the command
 * twice, once for its server/discover probe and once for the session.
 */
export async function connectV2Stdio(
  args: string[],
  opts?: V2ClientOptions,
): Promise<V2TestClient & { transport: V2StdioClientTransport; stderr(): string }> {
  const transport = new V2StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'forward', 'stdio', ...args],
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { ...(await connectV2(transport, opts)), transport, stderr: () => stderr };
}

/** The header line of a tape written by hand (tests of the tape commands on tapes no proxy recorded). */
export function tapeHeader(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 'mcpscope-tape',
    version: 1,
    mcpscope: '0.1.0',
    id,
    sessionId: `${id}-session`,
    transport: 'stdio',
    upstream: 'node server.js',
    startedAt: '2026-01-01T00:00:00.000Z',
    redaction: { enabled: true, paths: [], patterns: [] },
    ...extra,
  };
}

/**
 * A recorded `initialize` exchange (at t = 1 and 2 ms) and `notifications/initialized`, as a tape holds them:
 * the opening of every hand-written tape that is replayed.
 */
export function recordedHandshake(): Array<Record<string, unknown>> {
  return [
    { t: 1, dir: 'c2s', msg: INIT },
    {
      t: 2,
      dir: 's2c',
      msg: {
        jsonrpc: '2.0',
        id: 0,
        result: {
          protocolVersion: '2025-11-25',
          capabilities: { tools: {} },
          serverInfo: { name: 'recorded-server', version: '1.0.0' },
        },
      },
    },
    { t: 3, dir: 'c2s', msg: { jsonrpc: '2.0', method: 'notifications/initialized' } },
  ];
}

/** Write `DIR/<id>.tape.jsonl`: the header, then one line per event. Returns its path. */
export function writeTape(dir: string, id: string, events: unknown[], header = tapeHeader(id)): string {
  const path = join(dir, `${id}.tape.jsonl`);
  writeFileSync(path, [header, ...events].map((line) => `${JSON.stringify(line)}\n`).join(''));
  return path;
}
