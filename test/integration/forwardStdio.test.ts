import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { EXAMPLE, INIT, connectStdio, jsonLines, spawnCli } from '../helpers.js';

type Connected = Awaited<ReturnType<typeof connectStdio>>;

describe('forward stdio in front of the example server', () => {
  let c: Connected | undefined;
  afterEach(async () => {
    await c?.client.close();
    c = undefined;
  });

  it('relays initialize, tools, resources, prompts, progress, logging and sampling', async () => {
    c = await connectStdio(['--', process.execPath, EXAMPLE]);
    expect(c.client.getServerVersion()?.name).toBe('mcpscope-example');

    const tools = await c.client.listTools();
    expect(tools.tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['echo', 'add', 'slow', 'fail', 'sample']),
    );

    const echo = await c.client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    expect(echo.content).toEqual([{ type: 'text', text: 'hello' }]);
    expect(c.logs.some((l) => l.data === 'echo called with 5 characters')).toBe(true);

    const sum = await c.client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    expect(sum.content).toEqual([{ type: 'text', text: '42' }]);

    const failed = await c.client.callTool({ name: 'fail', arguments: { reason: 'on purpose' } });
    expect(failed.isError).toBe(true);
    expect(failed.content).toEqual([{ type: 'text', text: 'on purpose' }]);

    const progress: number[] = [];
    const slow = await c.client.callTool({ name: 'slow', arguments: { ms: 400, steps: 4 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(slow.content).toEqual([{ type: 'text', text: 'slept 400 ms' }]);
    expect(progress).toEqual([1, 2, 3, 4]);

    const sampled = await c.client.callTool({ name: 'sample', arguments: { prompt: 'ping' } });
    expect(sampled.content).toEqual([{ type: 'text', text: 'sampled: ping' }]);

    const resource = await c.client.readResource({ uri: 'example://greeting' });
    expect(resource.contents[0]).toMatchObject({ text: 'Hello from the mcpscope example server' });

    const prompt = await c.client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
    expect(prompt.messages[0]?.content).toEqual({ type: 'text', text: 'Say hello to Ada' });
  });

  it('passes cancellation to the server and keeps serving', async () => {
    c = await connectStdio(['--', process.execPath, EXAMPLE]);
    const abort = new AbortController();
    const call = c.client.callTool({ name: 'slow', arguments: { ms: 5_000, steps: 1 } }, undefined, {
      signal: abort.signal,
    });
    await new Promise((r) => setTimeout(r, 200));
    abort.abort('user gave up');
    await expect(call).rejects.toThrow();
    await expect.poll(() => c?.stderr() ?? '', { timeout: 5_000 }).toMatch(/slow call \d+ cancelled/);
    const echo = await c.client.callTool({ name: 'echo', arguments: { message: 'still here' } });
    expect(echo.content).toEqual([{ type: 'text', text: 'still here' }]);
  });

  it('answers a request the server never answers with -32001 and cancels it upstream', async () => {
    c = await connectStdio(['--request-timeout-ms', '2500', '--', process.execPath, EXAMPLE]);
    const err = await c.client
      .callTool({ name: 'slow', arguments: { ms: 30_000, steps: 1 } }, undefined, { timeout: 40_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32001);
    expect((err as McpError).data).toMatchObject({
      source: 'mcpscope',
      code: 'UPSTREAM_TIMEOUT',
      method: 'tools/call',
    });
    expect((err as McpError).message).toMatch(/tools\/call \(slow\) got no answer/);
    await expect.poll(() => c?.stderr() ?? '', { timeout: 5_000 }).toMatch(/slow call \d+ cancelled/);
    const sum = await c.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
    expect(sum.content).toEqual([{ type: 'text', text: '2' }]);
  });
});

describe('forward stdio with bad input', () => {
  it('answers an unparseable line with -32700 and id null, then keeps working', async () => {
    const proc = spawnCli(['forward', 'stdio', '--', process.execPath, EXAMPLE]);
    const out = jsonLines(proc);
    proc.stdin.write(`${JSON.stringify(INIT)}\n`);
    expect((await out.next()).id).toBe(0);
    proc.stdin.write('{"jsonrpc":"2.0","id":1,"method":\n');
    const parseError = await out.next();
    expect(parseError).toMatchObject({ id: null, error: { code: -32700, data: { code: 'PARSE_ERROR' } } });
    proc.stdin.write('{"jsonrpc":"2.0","id":2.5,"method":"ping"}\n');
    expect(await out.next()).toMatchObject({ error: { code: -32600, data: { code: 'INVALID_REQUEST' } } });
    proc.stdin.write('[{"jsonrpc":"2.0","id":3,"method":"ping"}]\n');
    expect(await out.next()).toMatchObject({
      id: null,
      error: { code: -32600, data: { code: 'BATCH_NOT_SUPPORTED' } },
    });
    proc.stdin.write('{"jsonrpc":"2.0","id":4,"method":"ping"}\n');
    expect(await out.next()).toEqual({ jsonrpc: '2.0', id: 4, result: {} });
    proc.stdin.end();
    expect(await new Promise((r) => proc.once('exit', r))).toBe(0);
  });

  it('rejects an oversized message with -32600 naming the limit, for the right id, and resyncs', async () => {
    const proc = spawnCli([
      'forward',
      'stdio',
      '--max-message-bytes',
      '2048',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    const out = jsonLines(proc);
    proc.stdin.write(`${JSON.stringify(INIT)}\n`);
    await out.next();
    const big = JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'echo', arguments: { message: 'x'.repeat(100_000) } },
    });
    // Send it in pieces, as a pipe would.
    for (let i = 0; i < big.length; i += 16_384) proc.stdin.write(big.slice(i, i + 16_384));
    proc.stdin.write('\n');
    const err = await out.next();
    expect(err).toMatchObject({
      id: 7,
      error: { code: -32600, data: { code: 'MESSAGE_TOO_LARGE', limitBytes: 2048 } },
    });
    expect((err.error as { message: string }).message).toMatch(/2048-byte limit/);
    proc.stdin.write('{"jsonrpc":"2.0","id":8,"method":"ping"}\n');
    expect(await out.next()).toEqual({ jsonrpc: '2.0', id: 8, result: {} });
    proc.stdin.end();
    await new Promise((r) => proc.once('exit', r));
  });

  it('fails the pending call when the server crashes, naming the code and stderr, and exits with its code', async () => {
    const proc = spawnCli(['forward', 'stdio', '--', process.execPath, EXAMPLE]);
    const out = jsonLines(proc);
    const exited = new Promise((r) => proc.once('exit', r));
    proc.stdin.write(`${JSON.stringify(INIT)}\n`);
    await out.next();
    proc.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
    proc.stdin.write(
      '{"jsonrpc":"2.0","id":"crash-1","method":"tools/call","params":{"name":"crash","arguments":{"code":3}}}\n',
    );
    const err = await out.next();
    expect(err).toMatchObject({
      id: 'crash-1',
      error: { code: -32000, data: { source: 'mcpscope', code: 'UPSTREAM_EXITED', exitCode: 3 } },
    });
    expect((err.error as { message: string }).message).toMatch(
      /exited with code 3.*crashing with code 3 on request/s,
    );
    expect(await exited).toBe(3);
  });

  it('exits 2 with a clear message when the server command does not resolve, in forward stdio and forward http alike', async () => {
    for (const [mode, command] of [
      ['stdio', '/nonexistent/server-binary'],
      ['http', 'nod'],
    ] as const) {
      const port = mode === 'http' ? ['--port', '0'] : [];
      const proc = spawnCli(['forward', mode, ...port, '--no-admin', '--', command, 'server.mjs']);
      let stderr = '';
      proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise((r) => proc.once('exit', r));
      expect(code, mode).toBe(2);
      expect(stderr).toMatch(
        /could not start upstream server `.* server\.mjs`: .* (not an executable file|not found on PATH); check the command and PATH/,
      );
    }
  });

  it('starts the server once, before loading the rest, and leaves none behind after a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-early-'));
    // The server notes its pid in a file of its own, then serves as the example does.
    const server = join(dir, 'server.mjs');
    writeFileSync(
      server,
      `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(join(dir, 'pids'))}, process.pid + '\\n');\nawait import(${JSON.stringify(EXAMPLE)});\n`,
    );
    const pids = (): number[] =>
      existsSync(join(dir, 'pids'))
        ? readFileSync(join(dir, 'pids'), 'utf8').trim().split('\n').map(Number)
        : [];
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      const proc = spawnCli(['forward', 'stdio', '--no-admin', '--', process.execPath, server]);
      const out = jsonLines(proc);
      proc.stdin.write(`${JSON.stringify(INIT)}\n`);
      expect(await out.next()).toMatchObject({ id: INIT.id, result: { serverInfo: {} } });
      expect(pids()).toHaveLength(1);
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      // A flag that does not exist: exit 2, and the server started early is stopped with mcpscope.
      const bad = spawnCli(['forward', 'stdio', '--no-such-flag', '--', process.execPath, server]);
      expect(await new Promise((r) => bad.once('exit', r))).toBe(2);
      // The early server is stopped with mcpscope: on a busy machine, before it even ran this script (then
      // it wrote no pid). Whichever, none is left.
      await new Promise((r) => setTimeout(r, 500));
      expect(pids().length).toBeGreaterThanOrEqual(1);
      expect(pids().length).toBeLessThanOrEqual(2);
      await expect.poll(() => pids().filter(alive)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops the server and exits 0 on SIGTERM', async () => {
    const proc = spawnCli(['forward', 'stdio', '--', process.execPath, EXAMPLE]);
    const out = jsonLines(proc);
    proc.stdin.write(`${JSON.stringify(INIT)}\n`);
    await out.next();
    proc.kill('SIGTERM');
    expect(await new Promise((r) => proc.once('exit', r))).toBe(0);
  });
});
