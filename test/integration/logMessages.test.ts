import { describe, expect, it } from 'vitest';
import { EXAMPLE, INIT, jsonLines, spawnCli } from '../helpers.js';

describe('--log-messages', () => {
  it('logs method, id, size and latency to stderr, never to stdout, and never the message body', async () => {
    const proc = spawnCli(['forward', 'stdio', '--log-messages', '--', process.execPath, EXAMPLE]);
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const out = jsonLines(proc);
    proc.stdin.write(`${JSON.stringify(INIT)}\n`);
    expect(await out.next()).toMatchObject({ id: 0, result: { serverInfo: { name: 'mcpscope-example' } } });
    proc.stdin.write(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"top-secret"}}}\n',
    );
    // stdout carries protocol bytes only: the log notification and the answer.
    expect(await out.next()).toMatchObject({ method: 'notifications/message' });
    expect(await out.next()).toMatchObject({ id: 1 });
    proc.stdin.end();
    await new Promise((r) => proc.once('exit', r));
    const lines = stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'message');
    const answer = lines.find((l) => l.dir === 's2c' && l.id === 1);
    expect(answer).toMatchObject({
      kind: 'response',
      method: 'tools/call',
      target: 'echo',
      verdict: 'forward',
    });
    expect(typeof answer?.ms).toBe('number');
    expect(typeof answer?.bytes).toBe('number');
    expect(lines.find((l) => l.dir === 'c2s' && l.id === 1)).toMatchObject({ method: 'tools/call' });
    expect(stderr).not.toContain('top-secret');
  });
});
