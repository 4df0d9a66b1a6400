import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EXAMPLE,
  INIT,
  adminUrlFrom,
  connectHttp,
  connectStdio,
  jsonLines,
  spawnCli,
  type RunningCli,
} from '../helpers.js';
import {
  PROMTOOL,
  prometheusMissing,
  startObservedProxy,
  startPrometheus,
  type ObservedProxy,
  type RunningPrometheus,
} from '../prometheus.js';

const missing = prometheusMissing();
if (missing) console.warn(`metrics tests skipped: ${missing}`);

async function scrapeText(adminUrl: string): Promise<string> {
  const res = await fetch(`${adminUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe.skipIf(missing)('metrics through forward http, read by a real Prometheus', () => {
  let proxy: RunningCli;
  let admin: string;
  let prom: RunningPrometheus;
  let observed: ObservedProxy;
  beforeAll(async () => {
    observed = await startObservedProxy(['--request-timeout-ms', '3000']);
    ({ proxy, admin, prom } = observed);
  });
  afterAll(async () => {
    await observed?.stop();
  });

  it('counts requests, tool calls, errors, sessions and streams exactly', async () => {
    const c = await connectHttp(proxy.url);
    for (let i = 0; i < 5; i++) await c.client.callTool({ name: 'echo', arguments: { message: `m${i}` } });
    await c.client.callTool({ name: 'fail', arguments: {} });
    await c.client.callTool({ name: 'slow', arguments: { ms: 20_000, steps: 1 } }).catch(() => undefined);

    await prom.scrapedAfter();
    expect(await prom.value('mcpscope_active_sessions{transport="streamable_http"}')).toBe(1);
    expect(await prom.value('mcpscope_stream_active_connections{transport="streamable_http"}')).toBe(1); // GET
    await c.transport.terminateSession();
    await c.client.close();
    await prom.scrapedAfter();

    const v = (q: string) => prom.value(q);
    expect(await v('mcpscope_tool_calls_total{tool="echo",status="ok"}')).toBe(5);
    expect(await v('mcpscope_tool_calls_total{tool="fail",status="error"}')).toBe(1);
    expect(await v('mcpscope_tool_calls_total{tool="slow",status="timeout"}')).toBe(1);
    expect(await v('mcpscope_tool_call_duration_seconds_count{tool="echo"}')).toBe(5);
    expect(await v('mcpscope_tool_call_duration_seconds_bucket{tool="echo",le="+Inf"}')).toBe(5);
    expect(await v('mcpscope_requests_total{method="tools/call",status="ok"}')).toBe(6);
    expect(await v('mcpscope_requests_total{method="tools/call",status="timeout"}')).toBe(1);
    expect(
      await v('mcpscope_requests_total{method="initialize",transport="streamable_http",status="ok"}'),
    ).toBe(1);
    expect(await v('mcpscope_request_duration_seconds_count{method="tools/call",status="ok"}')).toBe(6);
    expect(await v('mcpscope_request_size_bytes_count{method="tools/call"}')).toBe(7);
    expect(await v('mcpscope_response_size_bytes_count{method="tools/call"}')).toBe(7);
    expect(await v('mcpscope_upstream_errors_total{upstream="node server.mjs",error_type="timeout"}')).toBe(
      1,
    );
    expect(await v('mcpscope_active_sessions{transport="streamable_http"}')).toBe(0);
    expect(await v('mcpscope_sessions_total{transport="streamable_http"}')).toBe(1);
    expect(await v('mcpscope_session_duration_seconds_count')).toBe(1);
    // initialize, tools/call ×7 (5 echo, fail, slow): 8 requests; the timed-out one is answered by mcpscope.
    expect(await v('mcpscope_messages_total{direction="client_to_server",kind="request"}')).toBe(8);
    expect(await v('mcpscope_messages_total{direction="server_to_client",kind="response"}')).toBe(7);
    expect(await v('mcpscope_messages_total{direction="server_to_client",kind="error"}')).toBe(1);
    // initialized + the timeout's notifications/cancelled; 5 echo log notifications back.
    expect(await v('mcpscope_messages_total{direction="client_to_server",kind="notification"}')).toBe(2);
    expect(await v('mcpscope_messages_total{direction="server_to_client",kind="notification"}')).toBe(5);
    expect(await v('mcpscope_proxy_overhead_seconds_count{upstream="node server.mjs"}')).toBe(21);
    expect(await v('mcpscope_deserialize_seconds_count')).toBe(21);
    expect(await v('mcpscope_serialize_seconds_count')).toBe(2);
    expect(await v('mcpscope_stream_connections_total{kind="post"}')).toBe(8);
    expect(await v('mcpscope_stream_connections_total{kind="get"}')).toBe(1);
    expect(await v('mcpscope_stream_active_connections')).toBe(0);
    expect(await v('mcpscope_stream_connection_duration_seconds_count')).toBe(9);
    expect(await v('mcpscope_stream_messages_sent_total')).toBe(13); // 7 answers, 5 logs, 1 timeout error
    expect(await v('mcpscope_transport_connect_seconds_count{transport="stdio"}')).toBe(1);
    expect(await v('mcpscope_process_shutdowns_total{result="graceful"}')).toBe(1);
    expect(await v('mcpscope_process_shutdown_seconds_count')).toBe(1);
    expect(await v('mcpscope_process_lifetime_seconds_count{result="stopped"}')).toBe(1);
    expect(await v('mcpscope_processes_active')).toBe(0);
    expect(await v('mcpscope_process_restarts_total')).toBe(0);
    expect(await v('mcpscope_uptime_seconds')).toBeGreaterThan(0);
    expect(await v('mcpscope_nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(await v('mcpscope_process_resident_memory_bytes')).toBeGreaterThan(1e6);
    expect((await prom.query('mcpscope_metrics_collection_seconds')).length).toBe(1);
  });

  it('counts requests refused before a session by their error code', async () => {
    const res = await fetch(proxy.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(res.status).toBe(400);
    await res.text();
    await prom.scrapedAfter();
    expect(await prom.value('mcpscope_errors_total{code="SESSION_REQUIRED"}')).toBe(1);
  });

  it('passes promtool check metrics', async () => {
    const text = await scrapeText(admin);
    const file = join(mkdtempSync(join(tmpdir(), 'mcpscope-metrics-')), 'metrics.txt');
    writeFileSync(file, text);
    const { stdout, stderr } = await promisify(execFile)('sh', [
      '-c',
      `${PROMTOOL} check metrics < ${file} 2>&1`,
    ]);
    expect(`${stdout}${stderr}`).toBe('');
  });

  it('answers /health and /ready, and nothing else', async () => {
    const health = await fetch(`${admin}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', version: '0.1.0' });
    const ready = await fetch(`${admin}/ready`);
    expect(ready.status).toBe(200);
    await ready.text();
    const post = await fetch(`${admin}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    await post.text();
    const cors = await fetch(`${admin}/metrics`, { headers: { origin: 'https://evil.example' } });
    expect(cors.headers.get('access-control-allow-origin')).toBeNull();
    await cors.text();
  });
});

describe.skipIf(missing)('metrics in forward stdio', () => {
  it('keeps stdout for protocol bytes, serves /ready 503 until the server is initialized', async () => {
    const proc = spawnCli(['forward', 'stdio', '--admin-port', '0', '--', process.execPath, EXAMPLE]);
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const admin = await adminUrlFrom(() => stderr);
    const before = await fetch(`${admin}/ready`);
    expect(before.status).toBe(503);
    expect(await before.json()).toMatchObject({
      status: 'not_ready',
      reason: expect.stringMatching(/not initialized/),
    });
    const out = jsonLines(proc);
    proc.stdin.write(`${JSON.stringify(INIT)}\n`);
    expect(await out.next()).toMatchObject({ id: 0, result: { serverInfo: { name: 'mcpscope-example' } } });
    const after = await fetch(`${admin}/ready`);
    expect(after.status).toBe(200);
    await after.text();
    proc.stdin.end();
    expect(await new Promise((r) => proc.once('exit', r))).toBe(0);
  });

  it('keeps proxying when the admin port is taken, with one warning naming the port and the flag', async () => {
    const first = await connectStdio(['--admin-port', '0', '--', process.execPath, EXAMPLE]);
    const taken = Number(new URL(await adminUrlFrom(first.stderr)).port);
    const second = await connectStdio(['--admin-port', String(taken), '--', process.execPath, EXAMPLE]);
    expect((await second.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })).content).toEqual([
      { type: 'text', text: '2' },
    ]);
    const warnings = second
      .stderr()
      .split('\n')
      .filter((l) => l.includes('admin server could not listen'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`127.0.0.1:${taken}`);
    expect(warnings[0]).toContain('--admin-port 0');
    await Promise.all([first.client.close(), second.client.close()]);
  });

  it('folds 20,000 distinct bogus methods into "other" past the cardinality limit and keeps answering', async () => {
    const proc = spawnCli([
      'forward',
      'stdio',
      '--admin-port',
      '0',
      '--metrics-cardinality-limit',
      '100',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const admin = await adminUrlFrom(() => stderr);
    const out = jsonLines(proc);
    proc.stdin.write(`${JSON.stringify(INIT)}\n`);
    await out.next();
    const N = 20_000;
    let batch = '';
    for (let i = 1; i <= N; i++) batch += `{"jsonrpc":"2.0","id":${i},"method":"bogus/method-${i}"}\n`;
    proc.stdin.write(batch);
    for (let i = 1; i <= N; i++) {
      const answer = await out.next();
      expect(answer.error).toMatchObject({ code: -32601 });
    }
    // An answer to nothing: dropped, and counted.
    proc.stdin.write('{"jsonrpc":"2.0","id":"ghost","result":{}}\n');
    const prom = await startPrometheus([admin]);
    try {
      await prom.scrapedAfter();
      expect(
        await prom.value(
          'mcpscope_messages_dropped_total{direction="client_to_server",reason="unmatched_response"}',
        ),
      ).toBe(1);
      // 100 bogus methods, then everything else as "other", plus initialize: the limit holds.
      expect(await prom.value('count(count by (method) (mcpscope_requests_total))')).toBe(102);
      expect(await prom.value('mcpscope_requests_total{method="other",status="method_not_found"}')).toBe(
        N - 100,
      );
      expect(await prom.value('mcpscope_metric_labels_folded_total{label="method"}')).toBe(2 * (N - 100));
    } finally {
      await prom.stop();
    }
    proc.stdin.write('{"jsonrpc":"2.0","id":"last","method":"ping"}\n');
    expect(await out.next()).toEqual({ jsonrpc: '2.0', id: 'last', result: {} });
    proc.stdin.end();
    await new Promise((r) => proc.once('exit', r));
  });
});

describe('metric help texts', () => {
  it('tool_calls_total names the statuses it emits (ok, error for isError, the error classes), not tool_error', async () => {
    const { Metrics } = await import('../../src/observe/metrics.js');
    const text = await new Metrics().scrape();
    const help = text.split('\n').find((l) => l.startsWith('# HELP mcpscope_tool_calls_total')) ?? '';
    expect(help).toContain('error (a result with isError)');
    expect(help).not.toContain('tool_error');
  });
});
