// Lenient matching is visible: a replayed answer to a call the tape does not cover as made is counted,
// logged and shown in the feed, naming the differences.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTape } from '../../src/tape/tapeReader.js';
import {
  EXAMPLE,
  adminUrlFrom,
  connectHttp,
  connectStdio,
  startListening,
  type RunningCli,
} from '../helpers.js';
import { prometheusMissing, startPrometheus, type RunningPrometheus } from '../prometheus.js';

const missing = prometheusMissing();
/** A secret-shaped argument: redacted by the tape's rules before it is compared or quoted. */
const API_KEY = 'sk-live0123456789abcdefghij';

/** Record `add 2 40` and `echo hi` through forward stdio; returns the tape's path. */
async function record(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpscope-fallbacks-'));
  const live = await connectStdio(['--no-admin', '--record', dir, '--', process.execPath, EXAMPLE]);
  await live.client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
  await live.client.callTool({ name: 'echo', arguments: { message: 'hi' } });
  await live.client.close();
  const path = join(dir, readdirSync(dir).find((f) => f.endsWith('.tape.jsonl')) as string);
  await expect.poll(async () => (await readTape(path)).complete, { timeout: 5_000 }).toBe(true);
  return path;
}

describe.skipIf(missing)('replay --match lenient', () => {
  let replay: RunningCli | undefined;
  let prom: RunningPrometheus | undefined;
  afterEach(async () => {
    await prom?.stop();
    await replay?.stop();
  });

  it('answers a call whose arguments differ, and counts, logs and shows the fallback naming the differences', async () => {
    const path = await record();
    replay = await startListening([
      'replay',
      path,
      '--port',
      '0',
      '--admin-port',
      '0',
      '--log-level',
      'info',
    ]);
    const r = replay;
    const admin = await adminUrlFrom(() => r.stderr());
    prom = await startPrometheus([admin]);
    const c = await connectHttp(replay.url);
    try {
      // Covered as made: no fallback.
      const exact = await c.client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
      expect(exact.content).toEqual([{ type: 'text', text: '42' }]);
      // Not covered: answered all the same, from the recording of the same tool.
      const near = await c.client.callTool({ name: 'add', arguments: { a: 2, b: 41 } });
      expect(near.content).toEqual([{ type: 'text', text: '42' }]);
      const far = await c.client.callTool({ name: 'echo', arguments: { message: `bye ${API_KEY}` } });
      expect(far.content).toEqual([{ type: 'text', text: 'hi' }]);

      await prom.scrapedAfter();
      expect(await prom.value('mcpscope_tape_replay_fallbacks_total{method="tools/call",tool="add"}')).toBe(
        1,
      );
      expect(await prom.value('mcpscope_tape_replay_fallbacks_total{method="tools/call",tool="echo"}')).toBe(
        1,
      );
      expect(await prom.value('sum(mcpscope_tape_replay_fallbacks_total)')).toBe(2);

      // The log, at info, names the call and every difference.
      const lenientLines = (): string[] =>
        r
          .stderr()
          .split('\n')
          .filter((l) => l.includes('"level":30') && l.includes('--match lenient'));
      // The log is written apart from the answers: it may come a little after them.
      await expect.poll(() => lenientLines().length).toBe(2);
      const logged = lenientLines();
      expect(logged[0]).toContain('arguments.b: recorded 40, got 41');
      expect(logged[1]).toContain('arguments.message: recorded \\"hi\\", got \\"bye [REDACTED]\\"');
      expect(r.stderr()).not.toContain(API_KEY);

      // The feed shows it in the session's story.
      const sessions = (await (await fetch(`${admin}/sessions`)).json()) as {
        sessions: Array<{ id: string }>;
      };
      const id = sessions.sessions[0]?.id as string;
      const page = (await (
        await fetch(`${admin}/sessions/${encodeURIComponent(id)}/events?limit=1000`)
      ).json()) as {
        events: Array<{ type: string; method?: string; target?: string; differences?: string[] }>;
      };
      expect(JSON.stringify(page.events.filter((e) => e.type === 'replay-fallback'))).not.toContain(API_KEY);
      const fallbacks = page.events.filter((e) => e.type === 'replay-fallback');
      expect(fallbacks).toEqual([
        expect.objectContaining({
          method: 'tools/call',
          target: 'add',
          differences: ['arguments.b: recorded 40, got 41'],
        }),
        expect.objectContaining({
          method: 'tools/call',
          target: 'echo',
          differences: ['arguments.message: recorded "hi", got "bye [REDACTED]"'],
        }),
      ]);
    } finally {
      await c.client.close();
    }
  });
});
