// Interception rules (--rules FILE) with a real SDK client through the real CLI, in front of a real server.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CLI,
  V2_SERVER,
  adminUrlFrom,
  spawnCli,
  startHttpProxy,
  startListening,
  type RunningCli,
} from '../helpers.js';

const V1_SERVER = path.join(path.dirname(V2_SERVER), 'v1Server.mjs');

const RULES = `
rules:
  - name: mock-weather
    match: { method: tools/call, tool: get_weather, arguments: { city: Paris } }
    action: { mock: { result: { content: [{ type: text, text: sunny }] } } }
  - name: deny-delete
    match: { method: tools/call, tool: "delete_*" }
    action: { error: { code: -32050, message: delete is disabled here } }
  - name: slow-add
    match: { method: tools/call, tool: add, arguments: { a: { regex: "^7$" } } }
    action: { delay: 300ms }
  - name: force-big-a
    match: { method: tools/call, tool: add, arguments: { a: 1 } }
    action: { patch: [ { op: replace, path: /params/arguments/a, value: 100 } ] }
  - name: once
    match: { method: tools/call, tool: echo, arguments: { text: once } }
    times: 1
    action: { mock: { result: { content: [{ type: text, text: mocked once }] } } }
  - name: off
    enabled: false
    match: { method: tools/call, tool: echo }
    action: { error: { code: -32000, message: never } }
  - name: drop-progress
    match: { direction: response, method: notifications/progress }
    action: { drop: true }
  - name: by-path
    match: { path: "$.params.arguments.text", matches: "^secret" }
    action: { error: { code: -32051, message: no secrets } }
  - name: hang
    match: { method: tools/call, tool: echo, arguments: { text: hang } }
    action: { fault: { kind: timeout } }
  - name: cut
    match: { method: tools/call, tool: echo, arguments: { text: cut } }
    action: { fault: { kind: close } }
`;

function text(result: object): string {
  const [first] = ((result as { content?: unknown }).content ?? []) as Array<{ text?: string }>;
  return first?.text ?? '';
}

async function rejection(p: Promise<unknown>): Promise<{ code?: number; message?: string }> {
  return p.then(
    () => ({}),
    (e: unknown) => e as { code?: number; message?: string },
  );
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('--rules over Streamable HTTP', () => {
  let dir: string;
  let tapes: string;
  let rulesFile: string;
  let proxy: RunningCli;
  let admin: string;
  let client: Client;

  const connect = async (): Promise<Client> => {
    const c = new Client({ name: 'rules-test', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(proxy.url)));
    return c;
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mcpscope-rules-'));
    tapes = path.join(dir, 'tapes');
    rulesFile = path.join(dir, 'rules.yaml');
    writeFileSync(rulesFile, RULES);
    proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--rules',
      rulesFile,
      '--record',
      tapes,
      '--request-timeout-ms',
      '1500',
      '--',
      process.execPath,
      V1_SERVER,
      'stdio',
    ]);
    admin = await adminUrlFrom(proxy.stderr);
    client = await connect();
  });

  afterAll(async () => {
    await client?.close();
    await proxy?.stop();
  });

  it('mocks a tool the server does not have, and fails one with a JSON-RPC error', async () => {
    expect(text(await client.callTool({ name: 'get_weather', arguments: { city: 'Paris' } }))).toBe('sunny');
    // Other arguments: no rule acts, and the server says it has no such tool.
    expect(
      JSON.stringify(await client.callTool({ name: 'get_weather', arguments: { city: 'Oslo' } })),
    ).toMatch(/not found|Tool get_weather/i);
    const err = await rejection(client.callTool({ name: 'delete_all', arguments: {} }));
    expect(err.code).toBe(-32050);
    expect(err.message).toMatch(/delete is disabled here/);
  });

  it('delays, then forwards; other sessions flow meanwhile', async () => {
    const other = await connect();
    try {
      const order: string[] = [];
      const t0 = Date.now();
      await Promise.all([
        client
          .callTool({ name: 'add', arguments: { a: 7, b: 1 } })
          .then((r) => order.push(`slow ${text(r)}`)),
        other.callTool({ name: 'echo', arguments: { text: 'fast' } }).then((r) => order.push(text(r))),
      ]);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
      expect(order).toEqual(['echo(legacy): fast', 'slow 8']);
    } finally {
      await other.close();
    }
  });

  it('patches a request (RFC 6902) before the server sees it', async () => {
    expect(text(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))).toBe('102');
  });

  it('acts `times` times, never when disabled, and matches by JSONPath', async () => {
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'once' } }))).toBe('mocked once');
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'once' } }))).toBe(
      'echo(legacy): once',
    );
    const err = await rejection(client.callTool({ name: 'echo', arguments: { text: 'secret-1' } }));
    expect(err.code).toBe(-32051);
  });

  it('drops what the server sends (progress), while the answer arrives', async () => {
    const progress: number[] = [];
    const result = await client.callTool({ name: 'slow', arguments: { steps: 3, ms: 5 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(text(result)).toBe('done 3');
    expect(progress).toEqual([]);
  });

  it('faults: a request that is never answered times out, a closed connection ends the session', async () => {
    const hung = await rejection(client.callTool({ name: 'echo', arguments: { text: 'hang' } }));
    expect(hung.message).toMatch(/no answer from the upstream within/);
    const victim = await connect();
    await rejection(
      victim.callTool({ name: 'echo', arguments: { text: 'cut' } }, undefined, { timeout: 3_000 }),
    );
    const after = await rejection(
      victim.callTool({ name: 'echo', arguments: { text: 'x' } }, undefined, { timeout: 3_000 }),
    );
    expect(after.message).toBeDefined();
    await victim.close().catch(() => undefined);
    // The other session is untouched.
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'still' } }))).toBe(
      'echo(legacy): still',
    );
  });

  it('labels what it did: metrics, the feed, and tapes (which replay the same answers)', async () => {
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/mcpscope_intercept_actions_total\{rule="mock-weather",action="mock"\} 1/);
    expect(metrics).toMatch(/mcpscope_intercept_actions_total\{rule="drop-progress",action="drop"\} 3/);
    expect(metrics).toMatch(/mcpscope_intercept_actions_total\{rule="once",action="mock"\} 1/);
    expect(metrics).not.toMatch(/rule="off"/);
    // Who answered: dashboards tell staged answers from the server's.
    expect(metrics).toMatch(/mcpscope_tool_calls_total\{tool="get_weather",status="ok",source="rule"\} 1/);
    expect(metrics).toMatch(/mcpscope_tool_calls_total\{tool="delete_all",status="error",source="rule"\} 1/);
    expect(metrics).toMatch(/mcpscope_tool_calls_total\{tool="add",status="ok",source="upstream"\} [1-9]/);
    expect(metrics).toMatch(/mcpscope_tool_calls_total\{tool="echo",status="timeout",source="proxy"\} 1/);
    const sessions = (await (await fetch(`${admin}/sessions`)).json()) as { sessions: Array<{ id: string }> };
    const labelled: Array<{ rule?: string; ruleAction?: string; synthetic?: boolean }> = [];
    for (const s of sessions.sessions) {
      const page = (await (await fetch(`${admin}/sessions/${s.id}/events?limit=1000`)).json()) as {
        events: typeof labelled;
      };
      labelled.push(...page.events.filter((e) => e.rule !== undefined));
    }
    expect(labelled).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ rule: 'mock-weather', ruleAction: 'mock', synthetic: true }),
        expect.objectContaining({ rule: 'force-big-a', ruleAction: 'patch' }),
      ]),
    );

    // The first session's tape: the mocked answer is marked, and a replay gives it again.
    await until(
      () =>
        readdirSync(tapes).some((f) => readFileSync(path.join(tapes, f), 'utf8').includes('"mock-weather"')),
      'the tape',
    );
    const tape = readdirSync(tapes)
      .map((f) => path.join(tapes, f))
      .find((f) => readFileSync(f, 'utf8').includes('"mock-weather"')) as string;
    const lines = readFileSync(tape, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          dir: 's2c',
          synthetic: true,
          rule: { rule: 'mock-weather', action: 'mock' },
        }),
      ]),
    );
    const show = spawnCli(['tape', 'show', tape]);
    let shown = '';
    show.stdout.on('data', (c: Buffer) => (shown += c.toString()));
    await new Promise((r) => show.once('exit', r));
    expect(shown).toContain('[rule mock-weather: mock]');
    const replay = await startListening(['replay', tape, '--port', '0', '--no-admin']);
    const c = new Client({ name: 'rules-test', version: '1.0.0' });
    try {
      await c.connect(new StreamableHTTPClientTransport(new URL(replay.url)));
      expect(text(await c.callTool({ name: 'get_weather', arguments: { city: 'Paris' } }))).toBe('sunny');
    } finally {
      await c.close();
      await replay.stop();
    }
  });

  it('reloads the file when it changes; an invalid version is refused and the rules in force stay', async () => {
    const reloads = async (result: string): Promise<number> => {
      const m = new RegExp(`mcpscope_rules_reloads_total\\{result="${result}"\\} (\\d+)`).exec(
        await (await fetch(`${admin}/metrics`)).text(),
      );
      return Number(m?.[1] ?? 0);
    };
    writeFileSync(rulesFile, RULES.replace('text: sunny', 'text: rainy'));
    await until(async () => (await reloads('ok')) >= 1, 'the reload');
    expect(text(await client.callTool({ name: 'get_weather', arguments: { city: 'Paris' } }))).toBe('rainy');
    writeFileSync(rulesFile, 'rules:\n  - name: broken\n    action: { delay: soon }\n');
    await until(async () => (await reloads('invalid')) >= 1, 'the refused reload');
    expect(proxy.stderr()).toMatch(/rules not reloaded, the previous ones stay in force.*rule \\"broken\\"/);
    expect(text(await client.callTool({ name: 'get_weather', arguments: { city: 'Paris' } }))).toBe('rainy');
  });
});

describe('--rules over stdio', () => {
  it('corrupts an answer on purpose: the client reads invalid JSON', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcpscope-rules-'));
    const file = path.join(dir, 'rules.json');
    writeFileSync(
      file,
      JSON.stringify({
        rules: [{ name: 'garble', match: { method: 'tools/list' }, action: { fault: { kind: 'corrupt' } } }],
      }),
    );
    const proc = spawn(
      process.execPath,
      [
        CLI,
        'forward',
        'stdio',
        '--admin-port',
        '0',
        '--rules',
        file,
        '--',
        process.execPath,
        V1_SERVER,
        'stdio',
      ],
      {
        stdio: 'pipe',
      },
    );
    const lines = createInterface({ input: proc.stdout });
    const next = (): Promise<string> => new Promise((r) => lines.once('line', r));
    try {
      proc.stdin.write(
        '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}\n',
      );
      expect(JSON.parse(await next())).toMatchObject({ id: 1 });
      proc.stdin.write('{"jsonrpc":"2.0","id":2,"method":"tools/list"}\n');
      const garbled = await next();
      expect(() => JSON.parse(garbled) as unknown).toThrow();
      // The session goes on.
      proc.stdin.write('{"jsonrpc":"2.0","id":3,"method":"ping"}\n');
      expect(JSON.parse(await next())).toMatchObject({ id: 3, result: {} });
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
  });

  it('a rules file that is not valid stops mcpscope at start with exit 2, naming the rule and the key', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcpscope-rules-'));
    const file = path.join(dir, 'rules.yaml');
    writeFileSync(
      file,
      'rules:\n  - name: typo\n    match: { method: tools/call }\n    action: { mokc: {} }\n',
    );
    const proc = spawnCli(['forward', 'stdio', '--rules', file, '--', process.execPath, V1_SERVER, 'stdio']);
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise((r) => proc.once('exit', r));
    expect(code).toBe(2);
    expect(stderr).toMatch(/rule "typo" \(#1\), action/);
  });
});
