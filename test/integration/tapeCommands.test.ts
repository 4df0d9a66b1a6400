// The tape commands (show, export, replay …) on tapes written to disk, run as the built CLI.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI, INIT, jsonLines, recordedHandshake, writeTape } from '../helpers.js';

const run = promisify(execFile);
const ID = '20260101T000000Z-abcd1234';

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
    const replay = spawn(process.execPath, [CLI, 'replay', '20260101T', '--no-admin'], {
      cwd,
      stdio: 'pipe',
    });
    const out = jsonLines(replay);
    replay.stdin.write(`${JSON.stringify(INIT)}\n`);
    expect(await out.next()).toMatchObject({ id: 0, result: { serverInfo: { name: 'recorded-server' } } });
    replay.stdin.end();
    expect(await new Promise((r) => replay.once('exit', r))).toBe(0);
  });
});
