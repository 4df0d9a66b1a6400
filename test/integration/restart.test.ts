import { afterAll, describe, expect, it } from 'vitest';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { EXAMPLE, adminUrlFrom, childrenOf, connectStdio } from '../helpers.js';
import { prometheusMissing, startPrometheus } from '../prometheus.js';

const missing = prometheusMissing();
if (missing)
  console.warn(`restart metric checks skipped (the restart behaviour is still tested): ${missing}`);

describe('forward stdio --restart on-failure', () => {
  // One proxy for the crash and its metrics: the behaviour runs everywhere, the metrics need Prometheus.
  let c: Awaited<ReturnType<typeof connectStdio>> | undefined;
  let admin = '';
  afterAll(async () => {
    await c?.client.close();
  });

  it('restarts a SIGKILLed server, fails what was in flight, and keeps the session', async () => {
    c = await connectStdio(['--restart', 'on-failure', '--admin-port', '0', '--', process.execPath, EXAMPLE]);
    admin = await adminUrlFrom(c.stderr);
    expect((await c.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).content).toEqual([
      { type: 'text', text: '3' },
    ]);
    const proxyPid = c.transport.pid as number;
    const [child] = childrenOf(proxyPid);
    expect(child).toBeGreaterThan(0);

    const inFlight = c.client
      .callTool({ name: 'slow', arguments: { ms: 10_000, steps: 1 } })
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(child as number, 'SIGKILL');

    // /ready says not ready while the server restarts, then ready again.
    const seen: number[] = [];
    for (let i = 0; i < 400 && !(seen.includes(503) && seen.at(-1) === 200); i++) {
      const res = await fetch(`${admin}/ready`);
      await res.text();
      if (seen.at(-1) !== res.status) seen.push(res.status);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(seen.slice(-2)).toEqual([503, 200]);

    const err = await inFlight;
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).data).toMatchObject({
      code: 'UPSTREAM_EXITED',
      signal: 'SIGKILL',
      restart: 1,
    });
    expect((err as McpError).message).toMatch(/killed by SIGKILL.*restarting it \(1 of 5\)/);

    // Same client session, new server process, no new handshake from the client.
    expect((await c.client.callTool({ name: 'add', arguments: { a: 2, b: 2 } })).content).toEqual([
      { type: 'text', text: '4' },
    ]);
    const [replacement] = childrenOf(proxyPid);
    expect(replacement).not.toBe(child);
  });

  it.skipIf(missing)(
    'counts the restart, the crash and the running process (read by Prometheus)',
    async () => {
      expect(admin, 'the restart test above must run first').not.toBe('');
      const prom = await startPrometheus([admin]);
      try {
        await prom.scrapedAfter();
        expect(await prom.value('mcpscope_process_restarts_total')).toBe(1);
        expect(await prom.value('mcpscope_upstream_errors_total{error_type="exited"}')).toBe(1);
        expect(await prom.value('mcpscope_process_lifetime_seconds_count{result="crashed"}')).toBe(1);
        expect(await prom.value('mcpscope_processes_active')).toBe(1);
        expect(await prom.value('mcpscope_active_sessions{transport="stdio"}')).toBe(1);
      } finally {
        await prom.stop();
      }
    },
  );

  it('gives up after --max-restarts and says so', async () => {
    const c = await connectStdio([
      '--restart',
      'on-failure',
      '--max-restarts',
      '1',
      '--admin-port',
      '0',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    const first = await c.client.callTool({ name: 'crash', arguments: { code: 4 } }).catch((e: unknown) => e);
    expect((first as McpError).message).toMatch(/exited with code 4.*restarting it \(1 of 1\)/);
    const second = await c.client
      .callTool({ name: 'crash', arguments: { code: 4 } })
      .catch((e: unknown) => e);
    expect((second as McpError).data).toMatchObject({ code: 'UPSTREAM_EXITED', exitCode: 4 });
    expect((second as McpError).message).toMatch(/gave up after 1 restarts/);
    await expect.poll(() => c.stderr()).toMatch(/gave up after 1 restarts/);
    await c.client.close();
  });
});
