// A stdio client that writes its requests and ends its input (`printf … | mcpscope forward stdio -- …`)
// must get every answer, as it would from the server directly: mcpscope passes the end of input on, and
// stops the server only once what was asked has been answered.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, EXAMPLE, INIT } from '../helpers.js';

const INITIALIZED = { jsonrpc: '2.0', method: 'notifications/initialized' };
const LIST = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

/** Run mcpscope with `lines` on its stdin, ended; resolve with what it wrote and its exit code. */
function pipeThrough(
  server: string[],
  lines: object[],
): Promise<{
  answers: Array<{ id?: unknown; result?: unknown; error?: { message: string } }>;
  code: number | null;
}> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, 'forward', 'stdio', '--no-admin', '--', ...server], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.once('error', reject);
    proc.once('exit', (code) =>
      resolve({
        answers: out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { id?: unknown; result?: unknown; error?: { message: string } }),
        code,
      }),
    );
    proc.stdin.end(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  });
}

describe('a stdio client that ends its input', { timeout: 120_000 }, () => {
  it('gets every answer from a server that is still starting when the input ends, and mcpscope exits 0', async () => {
    // The server takes a second to start: the input has long ended by then.
    const slowStart = ['sh', '-c', `sleep 1; exec "${process.execPath}" "${EXAMPLE}"`];
    const { answers, code } = await pipeThrough(slowStart, [INIT, INITIALIZED, LIST]);
    expect(answers.map((a) => a.id)).toEqual([0, 1]);
    expect(answers.every((a) => a.result !== undefined)).toBe(true);
    expect(code).toBe(0);
  });

  it('gets the answer of a slow call made just before the end of input', async () => {
    const slow = {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'slow', arguments: { ms: 300 } },
    };
    const { answers, code } = await pipeThrough([process.execPath, EXAMPLE], [INIT, INITIALIZED, slow]);
    expect(answers.find((a) => a.id === 2)?.result).toMatchObject({ content: [{ type: 'text' }] });
    expect(code).toBe(0);
  });

  it('50 runs in a row: every request answered every time', async () => {
    const lost: string[] = [];
    for (let run = 0; run < 50; run++) {
      const { answers, code } = await pipeThrough([process.execPath, EXAMPLE], [INIT, INITIALIZED, LIST]);
      const answered = answers.filter((a) => a.result !== undefined).map((a) => a.id);
      if (answered.length !== 2 || code !== 0)
        lost.push(`run ${run}: ${JSON.stringify(answers).slice(0, 300)}`);
    }
    expect(lost).toEqual([]);
  });

  it('says the client ended its input, not that the server failed, when the server exits without answering', async () => {
    // A server that reads until its input ends, then exits without a word.
    const mute = [
      process.execPath,
      '-e',
      "process.stdin.resume(); process.stdin.on('end', () => process.exit(0))",
    ];
    const { answers } = await pipeThrough(mute, [INIT]);
    expect(answers).toHaveLength(1);
    expect(answers[0]?.error?.message).toMatch(/client ended its input/);
  });
});
