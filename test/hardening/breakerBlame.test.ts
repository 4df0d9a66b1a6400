// The circuit breaker is shared by every session of an upstream, so what it counts decides who can shut
// everyone out. These guard two ways it once opened for the wrong reason: a client that stopped reading
// (its own backpressure counted as upstream failures), and one crash counted once per request it ended.
import { request, type IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  EXAMPLE,
  MCP_HEADERS,
  adminUrlFrom,
  connectStdio,
  post,
  rawSession,
  startHttpProxy,
} from '../helpers.js';

const FLOOD = fileURLToPath(new URL('../fixtures/servers/flood.mjs', import.meta.url));

/** Requests of this size, sent while the server is blocked: the last 20 of 40 pass the 16 MiB stdin backlog cap. */
const REQUEST_PAD_BYTES = 1_000_000;
const REQUESTS = 40;

const call = (id: number, name: string, args: Record<string, unknown>) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

function open(url: string, headers: Record<string, string>, body: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, agent: false }, resolve);
    req.on('error', reject);
    req.end(body);
  });
}

describe('circuit breaker: what counts against the upstream', { timeout: 60_000 }, () => {
  it('a client that stops reading cannot open the breaker for every other session', async () => {
    const proxy = await startHttpProxy(['--admin-port', '0', '--', process.execPath, FLOOD]);
    try {
      const admin = await adminUrlFrom(proxy.stderr);
      // Session A asks for 50 MB and does not read it: mcpscope pauses A's server, which blocks writing.
      const a = await rawSession(proxy.url);
      const headers = { ...MCP_HEADERS, 'mcp-session-id': a };
      const stalled = await open(proxy.url, headers, call(1, 'flood', { count: 5_000, bytes: 10_240 }));
      stalled.pause();
      await expect
        .poll(
          async () => (await (await fetch(`${admin}/metrics`)).text()).match(/action="paused"} (\d+)/)?.[1],
          {
            timeout: 20_000,
          },
        )
        .toBe('1');
      // A goes on sending: its blocked server stops taking input, and the requests past the cap are refused.
      const answers: string[] = [];
      // (Answers to requests that reached the blocked server come later: nothing is awaited but the refusals.)
      for (let i = 0; i < REQUESTS; i++) {
        const body = call(100 + i, 'echo', { pad: 'x'.repeat(REQUEST_PAD_BYTES) });
        void post(proxy.url, body, { 'mcp-session-id': a })
          .then((res) => res.text())
          .then(
            (t) => answers.push(t),
            () => undefined,
          );
      }
      await expect.poll(() => answers.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(5);
      for (const answer of answers) {
        expect(answer).toContain('"code":"CLIENT_BACKPRESSURE"');
        expect(answer).not.toContain('UPSTREAM_BACKPRESSURE');
      }

      // Session B, with its own healthy server process, is served as if nothing happened.
      const b = await rawSession(proxy.url);
      const res = await post(proxy.url, call(1, 'flood', { count: 1, bytes: 10 }), { 'mcp-session-id': b });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('flooded 1');
      const ready = await fetch(`${admin}/ready`);
      expect(await ready.json()).toMatchObject({ status: 'ready' });
      stalled.destroy();
    } finally {
      await proxy.stop();
    }
  });

  it('one crash with five calls in flight is one failure, and a restarted server is served at once', async () => {
    const c = await connectStdio([
      '--restart',
      'on-failure',
      '--max-restarts',
      '10',
      '--admin-port',
      '0',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    try {
      const admin = await adminUrlFrom(c.stderr);
      const inFlight = Array.from({ length: 5 }, () =>
        c.client.callTool({ name: 'slow', arguments: { ms: 20_000, steps: 1 } }).catch((e: unknown) => e),
      );
      await new Promise((r) => setTimeout(r, 300));
      const crash = await c.client
        .callTool({ name: 'crash', arguments: { code: 3 } })
        .catch((e: unknown) => e);
      for (const err of [crash, ...(await Promise.all(inFlight))]) {
        expect((err as McpError).data).toMatchObject({ code: 'UPSTREAM_EXITED', exitCode: 3 });
      }
      // Six requests failed, but by one event: the restarted server takes the next call.
      expect((await c.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).content).toEqual([
        { type: 'text', text: '3' },
      ]);
      // Crashes that each end in a successful restart never add up to an open breaker either.
      for (let i = 0; i < 5; i++) {
        const err = await c.client
          .callTool({ name: 'crash', arguments: { code: 3 } })
          .catch((e: unknown) => e);
        expect((err as McpError).data).toMatchObject({ code: 'UPSTREAM_EXITED' });
        await expect
          .poll(async () => ((await (await fetch(`${admin}/ready`)).json()) as { status: string }).status)
          .toBe('ready');
      }
      expect((await c.client.callTool({ name: 'add', arguments: { a: 2, b: 2 } })).content).toEqual([
        { type: 'text', text: '4' },
      ]);
    } finally {
      await c.client.close();
    }
  });
});
