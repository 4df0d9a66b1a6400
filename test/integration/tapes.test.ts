import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { readTape } from '../../src/tape/tapeReader.js';
import {
  CLI,
  EXAMPLE,
  adminUrlFrom,
  childrenOf,
  connectHttp,
  connectCliStdio,
  makeClient,
  post,
  rawSession,
  sseEvents,
  startHttpProxy,
  startListening,
  type RunningCli,
  type TestClient,
} from '../helpers.js';

const run = promisify(execFile);
const OFF_BY_ONE = fileURLToPath(new URL('../fixtures/servers/offByOne.mjs', import.meta.url));
const PASSWORD = 'hunter2-correct-horse';
const API_KEY = 'sk-live0123456789abcdefghij';
const BEARER = 'client-bearer-0123456789abcdef';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mcpscope-tapes-'));
}

function onlyTape(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.tape.jsonl'));
  expect(files).toHaveLength(1);
  return join(dir, files[0] as string);
}

interface Observed {
  results: unknown[];
  progress: number[];
  logs: unknown[];
}

/** The session every recording test plays: tools, a resource, a prompt, progress, logging and sampling. */
async function exercise(c: TestClient): Promise<Observed> {
  const progress: number[] = [];
  const results: unknown[] = [];
  results.push((await c.client.listTools()).tools.map((t) => t.name));
  results.push(
    await c.client.callTool({ name: 'echo', arguments: { message: `key ${API_KEY}`, password: PASSWORD } }),
  );
  results.push(await c.client.callTool({ name: 'add', arguments: { a: 2, b: 40 } }));
  results.push(
    await c.client.callTool({ name: 'slow', arguments: { ms: 200, steps: 4 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    }),
  );
  results.push(await c.client.callTool({ name: 'sample', arguments: { prompt: 'ping' } }));
  results.push(await c.client.readResource({ uri: 'example://greeting' }));
  results.push(await c.client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } }));
  return { results, progress, logs: c.logs.map((l) => l.data) };
}

/** What the client saw, with the API key that the echo tool sent back replaced as the tape replaces it. */
function redactedEcho(results: unknown[]): unknown[] {
  return JSON.parse(JSON.stringify(results).replaceAll(API_KEY, '[REDACTED]')) as unknown[];
}

describe('tapes', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close().catch(() => undefined);
  });

  it('records a stdio session and replays it without the server: same results, same notification order', async () => {
    const dir = tmp();
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
    const recorded = await exercise(live);
    await live.client.close();
    await expect.poll(() => readdirSync(dir).length).toBe(1);
    const path = onlyTape(dir);
    await expect.poll(async () => (await readTape(path)).complete, { timeout: 5_000 }).toBe(true);

    // Every line is valid against the published JSON Schema.
    const schema = JSON.parse(
      readFileSync(new URL('../../docs/tape.schema.json', import.meta.url), 'utf8'),
    ) as object;
    const validate = new Ajv2020({ allErrors: true, allowUnionTypes: true }).compile(schema);
    for (const line of readFileSync(path, 'utf8').trimEnd().split('\n')) {
      expect(validate(JSON.parse(line)), `${line}\n${JSON.stringify(validate.errors)}`).toBe(true);
    }
    const tape = await readTape(path);
    expect(tape.header).toMatchObject({
      format: 'mcpscope-tape',
      version: 1,
      transport: 'stdio',
      clientInfo: { name: 'mcpscope-test' },
      serverInfo: { name: 'mcpscope-example' },
    });
    expect(recorded.progress).toEqual([1, 2, 3, 4]);
    // The sampling round trip is on the tape: the server's request and the client's answer.
    const methods = tape.events.map((e) => ('msg' in e ? (e.msg as { method?: string }).method : undefined));
    expect(methods).toContain('sampling/createMessage');

    // The server is absent: the tape stands in for it.
    const replay = await connectCliStdio(['replay', path, '--no-admin']);
    closers.push(() => replay.client.close());
    expect(replay.client.getServerVersion()?.name).toBe('mcpscope-example');
    const replayed = await exercise(replay);
    // The tape never held the API key the client sent, so the echo of it comes back redacted.
    expect(replayed.results[1]).toEqual({ content: [{ type: 'text', text: 'key [REDACTED]' }] });
    expect(replayed.results).toEqual(redactedEcho(recorded.results));
    expect(replayed.progress).toEqual(recorded.progress);
    expect(replayed.logs).toEqual(recorded.logs);
  });

  it('answers an unrecorded request with TAPE_MISS naming the closest recording and the difference', async () => {
    const dir = tmp();
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
    await live.client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    await live.client.close();
    const path = onlyTape(dir);
    await expect.poll(async () => (await readTape(path)).complete, { timeout: 5_000 }).toBe(true);

    const strict = await connectCliStdio(['replay', path, '--match', 'strict', '--no-admin']);
    closers.push(() => strict.client.close());
    const err = await strict.client
      .callTool({ name: 'add', arguments: { a: 2, b: 41 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).data).toMatchObject({
      source: 'mcpscope',
      code: 'TAPE_MISS',
      differences: ['arguments.b: recorded 40, got 41'],
    });
    // The session goes on: a recorded request still gets its recorded answer.
    const sum = await strict.client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    expect(sum.content).toEqual([{ type: 'text', text: '42' }]);

    // Lenient matching takes the same tool with other arguments, but not a tool that was never called.
    const lenient = await connectCliStdio(['replay', path, '--no-admin']);
    closers.push(() => lenient.client.close());
    const near = await lenient.client.callTool({ name: 'add', arguments: { a: 2, b: 41 } });
    expect(near.content).toEqual([{ type: 'text', text: '42' }]);
    const never = await lenient.client
      .callTool({ name: 'echo', arguments: { message: 'x' } })
      .catch((e: unknown) => e);
    expect((never as McpError).data).toMatchObject({ code: 'TAPE_MISS' });
  });

  it('replay --against finds the answers a changed server gives, and passes the unchanged one', async () => {
    const dir = tmp();
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
    await live.client.callTool({ name: 'echo', arguments: { message: 'same' } });
    await live.client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    await live.client.close();
    const path = onlyTape(dir);
    await expect.poll(async () => (await readTape(path)).complete, { timeout: 5_000 }).toBe(true);

    const same = await run(process.execPath, [
      CLI,
      'replay',
      path,
      '--against',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    expect(same.stdout).toMatch(/3 requests: 3 same, 0 different/);

    const changed = await run(process.execPath, [
      CLI,
      'replay',
      path,
      '--against',
      '--',
      process.execPath,
      OFF_BY_ONE,
    ]).then(
      () => {
        throw new Error('replay --against a changed server exited 0');
      },
      (e: { code: number; stdout: string }) => e,
    );
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(/DIFF {2}#3 tools\/call add/);
    expect(changed.stdout).toContain('result.content[0].text: recorded "42", got "43"');
    expect(changed.stdout).toMatch(/3 requests: 2 same, 1 different/);
  });

  it('keeps every whole line when mcpscope is killed with SIGKILL mid-session', async () => {
    const dir = tmp();
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
    for (let i = 0; i < 20; i++) await live.client.callTool({ name: 'add', arguments: { a: i, b: 1 } });
    const path = onlyTape(dir);
    // Wait for the background writer to catch up with the 20 answers, then kill without warning.
    await expect
      .poll(
        () =>
          readFileSync(path, 'utf8')
            .split('\n')
            .filter((l) => l.includes('"result"')).length,
        { timeout: 5_000 },
      )
      .toBeGreaterThanOrEqual(21);
    process.kill(live.transport.pid as number, 'SIGKILL');
    await live.client.close().catch(() => undefined);
    // A torn last line, as a kill in the middle of a write leaves it.
    appendFileSync(path, '{"t":99999,"dir":"c2s","msg":{"jsonrpc":"2.0","id":99,"meth');

    const tape = await readTape(path);
    expect(tape.torn).toBe(true);
    expect(tape.complete).toBe(false);
    expect(
      tape.events.filter((e) => 'msg' in e && (e.msg as { id?: number }).id !== undefined).length,
    ).toBeGreaterThanOrEqual(42);

    const show = await run(process.execPath, [CLI, 'tape', 'show', path]);
    expect(show.stdout).toMatch(/last line torn/);
    expect(show.stdout).toMatch(/tools\/call add #\d+/);
    const list = await run(process.execPath, [CLI, 'tape', 'list', dir]);
    expect(list.stdout).toMatch(/\(torn\)/);

    // What was recorded replays.
    const replay = await connectCliStdio(['replay', path, '--no-admin']);
    closers.push(() => replay.client.close());
    const sum = await replay.client.callTool({ name: 'add', arguments: { a: 5, b: 1 } });
    expect(sum.content).toEqual([{ type: 'text', text: '6' }]);
  });

  it('answers a request whose answer the recording never got with TAPE_MISS at once, not at the timeout', async () => {
    const dir = tmp();
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
    await live.client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    // A slow call in flight (its first progress sent) when mcpscope is killed: the tape ends there.
    const progressed = new Promise<void>((resolve) => {
      void live.client
        .callTool({ name: 'slow', arguments: { ms: 20_000, steps: 2 } }, undefined, {
          onprogress: () => resolve(),
        })
        .catch(() => undefined);
    });
    await progressed;
    const path = onlyTape(dir);
    await expect.poll(() => readFileSync(path, 'utf8')).toContain('notifications/progress');
    const server = childrenOf(live.transport.pid as number);
    process.kill(live.transport.pid as number, 'SIGKILL');
    await live.client.close().catch(() => undefined);
    for (const pid of server) process.kill(pid, 'SIGKILL'); // orphaned mid-call: no one else stops it

    const replay = await connectCliStdio(['replay', path, '--no-admin', '--request-timeout-ms', '20000']);
    closers.push(() => replay.client.close());
    const progress: number[] = [];
    const started = performance.now();
    const err = await replay.client
      .callTool({ name: 'slow', arguments: { ms: 20_000, steps: 2 } }, undefined, {
        onprogress: (p) => progress.push(p.progress),
      })
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).data).toMatchObject({ code: 'TAPE_MISS', answerRecorded: false });
    expect((err as McpError).message).toMatch(/recording ends there/);
    // What the server did say before the cut still comes, first.
    expect(progress).toEqual([1]);
    // The session goes on.
    const sum = await replay.client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    expect(sum.content).toEqual([{ type: 'text', text: '42' }]);
  });

  it('never writes secrets from arguments or headers, and records over HTTP for replay over HTTP', async () => {
    const dir = tmp();
    const proxy = await startHttpProxy([
      '--no-admin',
      '--record',
      dir,
      '--redact-path',
      'params.arguments.pin',
      '--redact-header',
      'X-Tenant-Secretish',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    closers.push(() => proxy.stop());
    const tc = makeClient();
    const transport = new StreamableHTTPClientTransport(new URL(proxy.url), {
      requestInit: {
        headers: {
          Authorization: `Bearer ${BEARER}`,
          Cookie: 'sid=cookie-secret-value',
          // Credentials under other names: redacted by their name's words, or by --redact-header.
          'X-Auth-Token': 'auth-token-canary-1',
          'Api-Key': 'api-key-canary-2',
          'X-Tenant-Secretish': 'named-canary-3',
          Keyboard: 'not-a-secret',
        },
      },
    });
    await tc.client.connect(transport);
    const recorded = await exercise(tc);
    await tc.client.callTool({ name: 'echo', arguments: { message: 'pin', pin: '2468-1357' } });
    await transport.terminateSession();
    await tc.client.close();
    const path = onlyTape(dir);
    await expect.poll(async () => (await readTape(path)).complete, { timeout: 5_000 }).toBe(true);

    const bytes = readFileSync(path, 'utf8');
    for (const secret of [
      PASSWORD,
      API_KEY,
      BEARER,
      'cookie-secret-value',
      '2468-1357',
      'auth-token-canary-1',
      'api-key-canary-2',
      'named-canary-3',
    ]) {
      expect(bytes).not.toContain(secret);
    }
    const tape = await readTape(path);
    expect(tape.header.transport).toBe('streamable-http');
    // Time starts with the initialize that opened the session, not after its server process started.
    expect(Math.min(...tape.events.map((e) => e.t))).toBeGreaterThanOrEqual(0);
    // The URL the client used, in the tape and as the HAR entries' URL.
    expect(tape.header.client?.endpoint).toBe(proxy.url);
    const har = JSON.parse(
      (await run(process.execPath, [CLI, 'tape', 'export', path, '--format', 'har'])).stdout,
    ) as {
      log: { entries: Array<{ request: { url: string } }> };
    };
    expect(har.log.entries.length).toBeGreaterThan(0);
    for (const entry of har.log.entries) expect(entry.request.url.startsWith(proxy.url)).toBe(true);
    expect(tape.header.client?.headers).toMatchObject({
      authorization: '[REDACTED]',
      cookie: '[REDACTED]',
      'x-auth-token': '[REDACTED]',
      'api-key': '[REDACTED]',
      'x-tenant-secretish': '[REDACTED]',
      keyboard: 'not-a-secret',
    });
    expect(tape.header.redaction).toMatchObject({ enabled: true, paths: ['params.arguments.pin'] });

    const replay: RunningCli = await startListening(['replay', path, '--port', '0', '--no-admin']);
    closers.push(() => replay.stop());
    const again = await connectHttp(replay.url);
    closers.push(() => again.client.close());
    const replayed = await exercise(again);
    expect(replayed.results).toEqual(redactedEcho(recorded.results));
    expect(replayed.progress).toEqual([1, 2, 3, 4]);
  });

  it('keeps answering when the tape directory cannot be written, and says so once', async () => {
    const blocker = join(tmp(), 'not-a-directory');
    writeFileSync(blocker, 'a file where the tape directory should be');
    const proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--record',
      join(blocker, 'tapes'),
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    closers.push(() => proxy.stop());
    for (let i = 0; i < 2; i++) {
      const c = await connectHttp(proxy.url);
      const sum = await c.client.callTool({ name: 'add', arguments: { a: i, b: 1 } });
      expect(sum.content).toEqual([{ type: 'text', text: String(i + 1) }]);
      await c.client.close();
    }
    const admin = await adminUrlFrom(proxy.stderr);
    await expect
      .poll(
        async () =>
          (await (await fetch(`${admin}/metrics`)).text()).match(
            /^mcpscope_tape_write_errors_total (\d+)/m,
          )?.[1],
      )
      .toBe('2');
    const errors = proxy
      .stderr()
      .split('\n')
      .filter((l) => l.includes('could not write tape') && l.includes('"level":50'));
    expect(errors).toHaveLength(1);
  });

  it('replays over HTTP with the recorded SSE event ids, and at the recorded pace with --speed 1', async () => {
    const dir = tmp();
    const proxy = await startHttpProxy(['--no-admin', '--record', dir, '--', process.execPath, EXAMPLE]);
    closers.push(() => proxy.stop());
    /** A raw client: one slow call with progress, and the SSE event ids it is answered with. */
    const slowCall = async (url: string): Promise<{ ids: string[]; ms: number }> => {
      const session = await rawSession(url);
      const started = performance.now();
      const res = await post(
        url,
        {
          jsonrpc: '2.0',
          id: 7,
          method: 'tools/call',
          params: { name: 'slow', arguments: { ms: 600, steps: 3 }, _meta: { progressToken: 'p1' } },
        },
        { 'mcp-session-id': session },
      );
      const events = sseEvents(await res.text());
      const ms = performance.now() - started;
      await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': session } });
      return { ids: events.map((e) => e.id ?? '-'), ms };
    };
    const recorded = await slowCall(proxy.url);
    expect(recorded.ids).toHaveLength(4);
    const path = onlyTape(dir);
    await expect.poll(async () => (await readTape(path)).complete, { timeout: 5_000 }).toBe(true);
    const tape = await readTape(path);
    const taped = tape.events.flatMap((e) => ('sse' in e && e.sse !== undefined ? [String(e.sse)] : []));
    expect(taped.slice(-4)).toEqual(recorded.ids);

    const replay = await startListening(['replay', path, '--port', '0', '--no-admin', '--speed', '1']);
    closers.push(() => replay.stop());
    const replayed = await slowCall(replay.url);
    expect(replayed.ids).toEqual(recorded.ids);
    // The recorded call took at least 600 ms; at --speed 1 the replay keeps that pace (a lower bound only).
    expect(replayed.ms).toBeGreaterThanOrEqual(500);
  });

  it('keeps the session events in order with the messages: the server process and its stderr lines, shown by tape show', async () => {
    const dir = tmp();
    const c = await connectCliStdio(['forward', 'stdio', '--record', dir, '--', process.execPath, EXAMPLE]);
    closers.push(() => c.client.close());
    const abort = new AbortController();
    const slow = c.client
      .callTool({ name: 'slow', arguments: { ms: 5_000, steps: 1 } }, undefined, { signal: abort.signal })
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    abort.abort();
    await slow;
    const path = onlyTape(dir);
    await expect.poll(() => readFileSync(path, 'utf8')).toMatch(/"edge":"event","event":\{"type":"stderr"/);
    const lines = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { edge?: string; event?: { type: string; line?: string } });
    const events = lines.filter((l) => l.edge === 'event').map((l) => l.event);
    // The server process started before the session opened: its event waited, and leads the tape's.
    expect(events[0]?.type).toBe('process-started');
    expect(events.find((e) => e?.type === 'stderr')?.line).toMatch(/slow call .* cancelled/);
    const shown = await run(process.execPath, [CLI, 'tape', 'show', path]);
    expect(shown.stdout).toMatch(/stderr: example server: slow call .* cancelled/);
    expect(shown.stdout).toMatch(/process-started pid=\d+/);
  });
});
