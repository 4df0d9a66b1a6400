// The tape commands (show, export, replay …) on tapes written to disk, run as the built CLI.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI, INIT, jsonLines, recordedHandshake, tapeHeader, writeTape } from '../helpers.js';

const run = promisify(execFile);
const ID = '20260101T000000Z-abcd1234';
/** Pairs of concurrent tool calls in the large tape: 20 events each, 200,000 in all. */
const PAIRS = 10_000;

/**
 * A tape of 200,000 events (about 30 MB): the handshake, a request never answered, then pairs of calls
 * answered in reverse order, each with its progress and 14 log notifications.
 */
function writeLargeTape(dir: string): string {
  const path = join(dir, 'large.tape.jsonl');
  const fd = openSync(path, 'w');
  const line = (v: unknown) => `${JSON.stringify(v)}\n`;
  writeSync(fd, [tapeHeader('large'), ...recordedHandshake()].map(line).join(''));
  writeSync(fd, line({ t: 4, dir: 'c2s', msg: { jsonrpc: '2.0', id: 'lost', method: 'tools/list' } }));
  const call = (t: number, id: number) => ({
    t,
    dir: 'c2s',
    msg: { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'add', arguments: { a: id, b: 1 } } },
  });
  const progress = (t: number, id: number) => ({
    t,
    dir: 's2c',
    msg: { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: id, progress: 1 } },
    rel: id,
  });
  const log = (t: number) => ({
    t,
    dir: 's2c',
    msg: { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'working' } },
  });
  const answer = (t: number, id: number) => ({
    t,
    dir: 's2c',
    msg: { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: String(id + 1) }] } },
  });
  for (let k = 0; k < PAIRS; k++) {
    const t = 10 + k * 2;
    const [a, b] = [2 * k + 1, 2 * k + 2];
    const events: object[] = [call(t, a), call(t, b), progress(t + 0.1, a), progress(t + 0.1, b)];
    for (let i = 0; i < 14; i++) events.push(log(t + 0.2));
    events.push(answer(t + 0.5, b), answer(t + 1, a));
    writeSync(fd, events.map(line).join(''));
  }
  writeSync(fd, line({ t: 10 + PAIRS * 2, edge: 'closed', complete: true }));
  closeSync(fd);
  return path;
}

/** Run the CLI with a 64 MB heap, counting the lines it prints (its stdout is never held whole). */
async function smallHeapCli(
  args: string[],
): Promise<{ code: number | null; lines: number; tail: string[]; stderr: string }> {
  const proc = spawn(process.execPath, ['--max-old-space-size=64', CLI, ...args], { stdio: 'pipe' });
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let lines = 0;
  let tail: string[] = [];
  let partial = '';
  proc.stdout.on('data', (c: Buffer) => {
    const parts = (partial + c.toString()).split('\n');
    partial = parts.pop() as string;
    lines += parts.length;
    tail = [...tail, ...parts].slice(-5);
  });
  const code = await new Promise<number | null>((r) => proc.once('exit', r));
  if (code !== 0) throw new Error(`mcpscope ${args.join(' ')} exited with ${code}:\n${stderr.slice(-2000)}`);
  return { code, lines, tail, stderr };
}

/** A replay over stdio answers the recorded handshake, and exits 0 when its input ends. */
async function replaysHandshake(replay: ChildProcessWithoutNullStreams): Promise<void> {
  const out = jsonLines(replay);
  replay.stdin.write(`${JSON.stringify(INIT)}\n`);
  expect(await out.next()).toMatchObject({ id: 0, result: { serverInfo: { name: 'recorded-server' } } });
  replay.stdin.end();
  expect(await new Promise((r) => replay.once('exit', r))).toBe(0);
}

describe('tape commands', () => {
  it('finds a tape by id or prefix with --dir ./tapes (the default), x/, and an absolute dir; replay too', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'mcpscope-lookup-'));
    for (const dir of ['tapes', 'x']) {
      mkdirSync(join(cwd, dir));
      writeTape(join(cwd, dir), ID, [...recordedHandshake(), { t: 4, edge: 'closed', complete: true }]);
    }
    const cli = (...args: string[]) => run(process.execPath, [CLI, ...args], { cwd });
    const cases: Array<[string, string[]]> = [
      [ID, []],
      ['20260101T000000Z-ab', ['--dir', './tapes']],
      [`${ID}.tape.jsonl`, ['--dir', 'x/']],
      [ID, ['--dir', './x/']],
      ['20260101T', ['--dir', join(cwd, 'x')]],
    ];
    for (const [name, dirArgs] of cases) {
      const show = await cli('tape', 'show', name, ...dirArgs);
      expect(show.stdout, `tape show ${name} ${dirArgs.join(' ')}`).toContain(`tape ${ID}`);
    }
    const exported = await cli('tape', 'export', ID, '--dir', 'x/');
    expect(JSON.parse(exported.stdout)).toMatchObject({ header: { id: ID } });

    // replay <id> looks the tape up the same way (default --dir ./tapes) and stands in for the server.
    await replaysHandshake(
      spawn(process.execPath, [CLI, 'replay', '20260101T', '--no-admin'], { cwd, stdio: 'pipe' }),
    );
  });

  it('shows and exports a 200,000-event tape in bounded memory (64 MB heap), as valid JSON and HAR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-large-'));
    const path = writeLargeTape(dir);
    const events = 3 + 1 + PAIRS * 20 + 1;

    const show = await smallHeapCli(['tape', 'show', path]);
    expect(show.lines).toBe(6 + events); // the header, a blank line, one line per event
    expect(show.tail.at(-2)).toMatch(/← {2}result #19999 {2}\(1\.0 ms\)$/);
    expect(show.tail.at(-1)).toMatch(/closed clean end$/);

    const harPath = join(dir, 'large.har');
    const exported = await smallHeapCli(['tape', 'export', path, '--format', 'har', '-o', harPath]);
    expect(exported.stderr).not.toMatch(/exporting/); // progress only on a terminal
    const har = JSON.parse(readFileSync(harPath, 'utf8')) as {
      log: {
        entries: Array<{
          request: { postData: { text: string } };
          response: { status: number };
          time: number;
          _mcp: { notifications: unknown[] };
        }>;
      };
    };
    const entries = har.log.entries;
    expect(entries).toHaveLength(2 + 2 * PAIRS);
    // In request order, though each pair was answered the other way round; the lost request too.
    const ids = entries.map((e) => (JSON.parse(e.request.postData.text) as { id: unknown }).id);
    expect(ids.slice(0, 4)).toEqual([0, 'lost', 1, 2]);
    expect(ids.at(-1)).toBe(2 * PAIRS);
    expect(entries[1]?.response.status).toBe(0);
    expect(entries[2]).toMatchObject({ time: 1, response: { status: 200 }, _mcp: { notifications: [{}] } });
    expect(entries[3]).toMatchObject({ time: 0.5, response: { status: 200 } });

    const jsonPath = join(dir, 'large.json');
    await smallHeapCli(['tape', 'export', path, '-o', jsonPath]);
    const doc = JSON.parse(readFileSync(jsonPath, 'utf8')) as { events: unknown[]; complete: boolean };
    expect(doc.events).toHaveLength(events);
    expect(doc.complete).toBe(true);
  });

  it('refuses flags that do nothing in replay with exit 2, naming each flag', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-flags-'));
    const path = writeTape(dir, ID, [...recordedHandshake(), { t: 4, edge: 'closed', complete: true }]);
    const refused: Array<[string[], string[]]> = [
      [['--restart', 'on-failure'], ['--restart']],
      [
        ['--no-breaker', '--breaker-failures', '3'],
        ['--no-breaker', '--breaker-failures'],
      ],
      [['--upstream-transport', 'websocket'], ['--upstream-transport']],
      [
        ['--grace-ms', '100', '--tape-queue-bytes', '100000'],
        ['--grace-ms', '--tape-queue-bytes'],
      ],
      // HTTP settings without --port: replay speaks stdio.
      [
        ['--host', '0.0.0.0', '--json-response'],
        ['--host', '--json-response'],
      ],
      // --against's own flags without it, and the player's with it.
      [
        ['--port', '0', '--timeout-ms', '5', '--fail-on', 'info'],
        ['--timeout-ms', '--fail-on'],
      ],
      [
        ['--against', '--speed', '2', '--match', 'strict', '--no-admin'],
        ['--speed', '--match', '--no-admin'],
      ],
      [['--against-url', 'http://127.0.0.1:1/mcp', '--request-timeout-ms', '5'], ['--request-timeout-ms']],
    ];
    for (const [flags, named] of refused) {
      const err = await run(process.execPath, [CLI, 'replay', path, ...flags]).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(err.code, flags.join(' ')).toBe(2);
      for (const flag of named) expect(err.stderr, flags.join(' ')).toContain(`${flag} does nothing`);
    }
    // Variables are shared with forward, so they are not refused: this replay starts and answers.
    await replaysHandshake(
      spawn(process.execPath, [CLI, 'replay', path, '--no-admin'], {
        env: { ...process.env, MCPSCOPE_RESTART: 'on-failure', MCPSCOPE_HOST: '0.0.0.0' },
        stdio: 'pipe',
      }),
    );
  });

  it.skipIf(!existsSync('/usr/bin/script'))('reports progress on stderr when it is a terminal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-progress-'));
    const path = writeTape(dir, ID, recordedHandshake());
    // script(1) gives the command a terminal; -o keeps the export itself off it.
    const { stdout } = await run('/usr/bin/script', [
      '-qec',
      `"${process.execPath}" "${CLI}" tape export "${path}" --format har -o "${join(dir, 'out.har')}"`,
      '/dev/null',
    ]);
    expect(stdout).toMatch(/exporting [\d.]+\/[\d.]+ MB \(100%\)/);
  });
});
