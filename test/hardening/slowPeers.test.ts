// Hardening checklist, items 6–8: slow and hanging peers.
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXAMPLE, connectStdio, jsonLines, rawSession, spawnCli, startHttpProxy } from '../helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/servers/${name}`, import.meta.url));

/** Open a raw socket, send `head`, then trickle one byte every `everyMs`; resolve with what came back at close. */
function trickle(url: string, head: string, everyMs: number): Promise<{ text: string; ms: number }> {
  const { port } = new URL(url);
  const t0 = Date.now();
  return new Promise((resolve) => {
    let text = '';
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(head));
    const timer = setInterval(() => socket.writable && socket.write('a'), everyMs);
    socket.on('data', (d) => (text += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ text, ms: Date.now() - t0 });
    });
  });
}

describe('hardening: slow and hanging peers', () => {
  it('6. slowloris headers and a slow body are cut at the configured timeouts (408)', async () => {
    const proxy = await startHttpProxy([
      '--no-admin',
      '--http-headers-timeout-ms',
      '500',
      '--http-body-timeout-ms',
      '1500',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    try {
      const headers = await trickle(proxy.url, 'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', 100);
      expect(headers.text).toMatch(/^HTTP\/1\.1 408/);
      expect(headers.ms).toBeLessThan(10_000);
      const body = await trickle(
        proxy.url,
        'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
          'Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{',
        100,
      );
      expect(body.text).toMatch(/^HTTP\/1\.1 408/);
      // Other clients are unaffected.
      await rawSession(proxy.url);
    } finally {
      await proxy.stop();
    }
  });

  it('7. a server that stops reading stdin: writes queue up to a bound, then requests fail with a clear error', async () => {
    const proc = spawnCli([
      'forward',
      'stdio',
      '--no-admin',
      '--',
      process.execPath,
      fixture('noReadStdin.mjs'),
    ]);
    const out = jsonLines(proc);
    proc.stdin.on('error', () => undefined); // our own queued writes may hit the killed proxy
    const payload = 'x'.repeat(3 * 1024 * 1024);
    for (let i = 1; i <= 10; i++) {
      proc.stdin.write(
        `${JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: payload } } })}\n`,
      );
    }
    const err = await out.next();
    expect(err).toMatchObject({
      error: { code: -32000, data: { source: 'mcpscope', code: 'UPSTREAM_BACKPRESSURE' } },
    });
    expect((err.error as { message: string }).message).toMatch(/not reading its stdin/);
    proc.kill('SIGTERM');
    expect(await new Promise((r) => proc.once('exit', r))).toBe(0);
  });

  it('7. a server that writes 10 MB to stderr: drained, the proxy keeps answering, only a tail is kept', async () => {
    const c = await connectStdio(['--no-admin', '--', process.execPath, fixture('stderrFlood.mjs')]);
    try {
      expect((await c.client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).content).toEqual([
        { type: 'text', text: '5' },
      ]);
      await expect.poll(() => c.stderr()).toContain('stderr flood done');
      // Passed through to our stderr in full…
      expect(c.stderr().length).toBeGreaterThan(10 * 1024 * 1024);
      // …while the crash report quotes only the tail (at most 500 characters of the last 8 KiB).
      const err = await c.client.callTool({ name: 'crash', arguments: { code: 2 } }).catch((e: unknown) => e);
      const message = (err as Error).message;
      expect(message).toMatch(/exited with code 2/);
      expect(message.length).toBeLessThan(1_000);
    } finally {
      await c.client.close();
    }
  });

  it('8. a quiet SSE stream gets keep-alive comments, and X-Accel-Buffering: no', async () => {
    const proxy = await startHttpProxy([
      '--no-admin',
      '--sse-keepalive-ms',
      '150',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    try {
      const sid = await rawSession(proxy.url);
      const abort = new AbortController();
      const res = await fetch(proxy.url, {
        headers: { accept: 'text/event-stream', 'mcp-session-id': sid },
        signal: abort.signal,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-accel-buffering')).toBe('no');
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while ((text.match(/: keepalive/g) ?? []).length < 2)
        text += new TextDecoder().decode((await reader.read()).value);
      abort.abort();
      expect(text).toMatch(/^: keepalive\n\n: keepalive\n\n/);
    } finally {
      await proxy.stop();
    }
  });
});
