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

// Node 20 has no global WebSocket; the SDK's WebSocketClientTransport uses the `ws` package's, which has
// the same browser-style API.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
export const EXAMPLE = fileURLToPath(new URL('../examples/server.mjs', import.meta.url));
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

/** Child pids of a process, from /proc. */
export function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
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
