// Hardening checklist: what clients, servers and tape files control is never printed raw to a terminal.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { safeText } from '../../src/cli/terminal.js';
import { CLI, EXAMPLE, adminUrlFrom, connectHttp, startHttpProxy, type RunningCli } from '../helpers.js';

const run = promisify(execFile);

/** Clear the screen, set the window title, an OSC 8 link, an 8-bit CSI, DEL, a bidi override, a fake line. */
const HOSTILE =
  '\u001b[2J\u001b]0;pwned\u0007\u001b]8;;https://evil.example/\u001b\\click\u001b]8;;\u001b\\' +
  '\u009b31m\u007f\u202egnp.exe\u2066\r\nfake line';

/** Anything a terminal could act on, except the newlines between lines. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function hostileTape(): { dir: string; path: string; id: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mcpscope-escapes-'));
  const id = '20260101T000000Z-e5cape00';
  const lines = [
    {
      format: 'mcpscope-tape',
      version: 1,
      mcpscope: '0.1.0',
      id,
      sessionId: `s${HOSTILE}`,
      transport: 'stdio',
      upstream: `node ${HOSTILE}`,
      startedAt: '2026-01-01T00:00:00.000Z',
      redaction: { enabled: true, paths: [], patterns: [] },
    },
    {
      t: 1,
      dir: 'c2s',
      msg: {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: HOSTILE, version: '1' },
        },
      },
    },
    {
      t: 2,
      dir: 's2c',
      msg: {
        jsonrpc: '2.0',
        id: 0,
        result: {
          protocolVersion: '2025-11-25',
          capabilities: { tools: {} },
          serverInfo: { name: 'mcpscope-example', version: '1.0.0' },
        },
      },
    },
    {
      t: 3,
      edge: 'initialized',
      protocolVersion: HOSTILE,
      clientInfo: { name: HOSTILE, version: HOSTILE },
      serverInfo: { name: HOSTILE, version: HOSTILE },
    },
    { t: 4, dir: 'c2s', msg: { jsonrpc: '2.0', method: 'notifications/initialized' } },
    {
      t: 5,
      dir: 'c2s',
      msg: {
        jsonrpc: '2.0',
        id: `x${HOSTILE}`,
        method: 'tools/call',
        params: { name: HOSTILE, arguments: {} },
      },
    },
    {
      t: 6,
      dir: 's2c',
      msg: { jsonrpc: '2.0', id: `x${HOSTILE}`, error: { code: -32602, message: HOSTILE } },
      drop: HOSTILE,
    },
    { t: 7, dir: 'c2s', msg: { jsonrpc: '2.0', id: 2, method: HOSTILE, params: { uri: HOSTILE } } },
    { t: 8, edge: 'error', code: HOSTILE, message: HOSTILE },
    { t: 9, edge: 'closed', complete: true, reason: HOSTILE },
  ];
  const path = join(dir, `${id}.tape.jsonl`);
  writeFileSync(path, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return { dir, path, id };
}

function expectSafe(output: string): void {
  expect(output).not.toMatch(UNSAFE);
}

describe('hardening: terminal escapes from peers and tapes', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close().catch(() => undefined);
  });

  it('safeText shows every control character, DEL, C1 and bidi control as a visible escape', () => {
    expect(safeText('a\u001b[2Jb')).toBe('a\\u001b[2Jb');
    expect(safeText('\u0000\t\n\r\u007f\u0080\u009b\u202a\u202e\u2066\u2069')).toBe(
      '\\u0000\\u0009\\u000a\\u000d\\u007f\\u0080\\u009b\\u202a\\u202e\\u2066\\u2069',
    );
    expect(safeText('naïve — café ✓ 日本')).toBe('naïve — café ✓ 日本');
    expect(safeText(42)).toBe('42');
    expectSafe(safeText(HOSTILE));
  });

  it('tape show, list, stats and export print a hostile tape with every escape made visible', async () => {
    const { dir, path } = hostileTape();
    const show = await run(process.execPath, [CLI, 'tape', 'show', path]);
    expectSafe(show.stdout);
    expect(show.stdout).toContain('\\u001b]0;pwned\\u0007');
    expect(show.stdout).toContain('\\u202egnp.exe');
    // One value never spans lines: the "fake line" stays on the line of the value it came with.
    expect(show.stdout.split('\n').filter((l) => l.startsWith('fake line'))).toEqual([]);
    for (const args of [
      ['tape', 'list', dir],
      ['tape', 'list', dir, '--json'],
      ['tape', 'stats', dir],
      ['tape', 'stats', dir, '--json'],
      ['tape', 'export', path],
      ['tape', 'export', path, '--format', 'har'],
    ]) {
      const out = await run(process.execPath, [CLI, ...args]);
      expectSafe(out.stdout);
      expectSafe(out.stderr);
    }
    // JSON output stays JSON, with the same values.
    const json = await run(process.execPath, [CLI, 'tape', 'export', path]);
    const doc = JSON.parse(json.stdout) as { header: { serverInfo: { name: string } } };
    expect(doc.header.serverInfo.name).toBe(HOSTILE);
  });

  it('a damaged tape line quoted in an error message is escaped too', async () => {
    const { path } = hostileTape();
    // V8 quotes the start of a line it cannot parse in its message.
    writeFileSync(path, `{"format":x\u001b]0;pwned\u0007}\n{}\n`);
    const failed = await run(process.execPath, [CLI, 'tape', 'show', path]).then(
      () => {
        throw new Error('tape show of a damaged tape exited 0');
      },
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/mcpscope: /);
    expectSafe(failed.stderr);
  });

  it('replay --against prints methods, targets and differences from the tape and the server escaped', async () => {
    const { path } = hostileTape();
    const out = await run(process.execPath, [
      CLI,
      'replay',
      path,
      '--against',
      '--',
      process.execPath,
      EXAMPLE,
    ]).then(
      (r) => r,
      (e: { stdout: string; stderr: string }) => e,
    );
    expect(out.stdout).toMatch(/DIFF/);
    expect(out.stdout).toContain('\\u001b[2J');
    expectSafe(out.stdout);
  });

  it('mcpscope stats prints tool names that clients chose escaped', async () => {
    const proxy: RunningCli = await startHttpProxy(['--admin-port', '0', '--', process.execPath, EXAMPLE]);
    closers.push(() => proxy.stop());
    const admin = await adminUrlFrom(proxy.stderr);
    const c = await connectHttp(proxy.url);
    closers.push(() => c.client.close());
    await c.client.callTool({ name: HOSTILE, arguments: {} }).catch(() => undefined);
    await expect
      .poll(async () => JSON.stringify(await (await fetch(`${admin}/stats/tools`)).json()))
      .toContain('pwned');
    const table = await run(process.execPath, [CLI, 'stats', '--url', admin]);
    expect(table.stdout).toContain('\\u001b[2J');
    expectSafe(table.stdout);
    const json = await run(process.execPath, [CLI, 'stats', '--url', admin, '--json']);
    expectSafe(json.stdout);
    const names = (JSON.parse(json.stdout) as { tools: Array<{ name: string }> }).tools.map((t) => t.name);
    expect(names).toContain(HOSTILE);
  });
});
