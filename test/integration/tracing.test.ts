import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTape } from '../../src/tape/tapeReader.js';
import { adminUrlFrom, connectHttp, spawnCli, startHttpProxy, type RunningCli } from '../helpers.js';
import { prometheusMissing, startPrometheus, type RunningPrometheus } from '../prometheus.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/servers/httpServer.mjs', import.meta.url));

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>;
  status?: { code?: number; message?: string };
}

/** A real OTLP/HTTP (JSON) receiver on loopback: collects every span it is sent. */
async function startReceiver(): Promise<{ url: string; spans: OtlpSpan[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      expect(req.url).toBe('/v1/traces');
      expect(req.headers['content-type']).toMatch(/application\/json/);
      const body = JSON.parse(Buffer.concat(chunks).toString()) as {
        resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
      };
      for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((r) => server.close(() => r())) };
}

const attr = (span: OtlpSpan | undefined, key: string) => {
  const v = span?.attributes?.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue === undefined ? undefined : Number(v.intValue));
};

describe('OpenTelemetry traces', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let upstream: ChildProcess;
  let proxy: RunningCli;
  let upstreamUrl: string;
  beforeAll(async () => {
    receiver = await startReceiver();
    upstream = spawn(process.execPath, [FIXTURE], { stdio: ['ignore', 'pipe', 'inherit'] });
    upstreamUrl = await new Promise<string>((resolve) => {
      upstream.stdout?.on('data', (c: Buffer) => {
        const m = /listening (\S+)/.exec(c.toString());
        if (m?.[1]) resolve(m[1]);
      });
    });
    proxy = await startHttpProxy(['--no-admin', '--upstream', upstreamUrl, '--otlp-endpoint', receiver.url]);
  });
  afterAll(async () => {
    await proxy?.stop();
    upstream?.kill();
    await receiver?.close();
  });

  it('exports session and request spans, joins the client’s trace, propagates ours upstream, marks failures', async () => {
    const c = await connectHttp(proxy.url);
    const sessionId = c.transport.sessionId;
    const clientTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const clientSpan = '00f067aa0ba902b7';
    const seen = await c.client.callTool({
      name: 'meta',
      arguments: {},
      _meta: { traceparent: `00-${clientTrace}-${clientSpan}-01` },
    });
    const upstreamMeta = JSON.parse((seen.content as Array<{ text: string }>)[0]?.text ?? '{}') as {
      traceparent?: string;
    };
    // The upstream got our span as its parent, in the client's trace.
    expect(upstreamMeta.traceparent).toMatch(new RegExp(`^00-${clientTrace}-[0-9a-f]{16}-01$`));
    expect(upstreamMeta.traceparent).not.toContain(clientSpan);

    // A traceparent HTTP header (no _meta) is honoured too.
    const headerTrace = 'aaaabbbbccccddddeeeeffff00001111';
    const viaHeader = await fetch(proxy.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': sessionId ?? '',
        'mcp-protocol-version': '2025-11-25',
        traceparent: `00-${headerTrace}-1111222233334444-01`,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'h1',
        method: 'tools/call',
        params: { name: 'meta', arguments: {} },
      }),
    });
    expect(await viaHeader.text()).toContain(headerTrace);

    const failed = await c.client.callTool({ name: 'boom', arguments: {} });
    expect(failed.isError).toBe(true);
    await c.transport.terminateSession();
    await c.client.close();

    await expect
      .poll(() => receiver.spans.filter((s) => s.name === 'mcp.session').length, { timeout: 15_000 })
      .toBe(1);
    const requests = receiver.spans.filter((s) => s.name === 'mcp.request');
    const metaSpan = requests.find((s) => attr(s, 'mcp.tool.name') === 'meta');
    expect(metaSpan).toBeDefined();
    expect(metaSpan?.traceId).toBe(clientTrace);
    expect(metaSpan?.parentSpanId).toBe(clientSpan);
    expect(upstreamMeta.traceparent).toContain(metaSpan?.spanId);
    expect(attr(metaSpan, 'rpc.system')).toBe('jsonrpc');
    expect(attr(metaSpan, 'rpc.method')).toBe('tools/call');
    expect(attr(metaSpan, 'mcp.session.id')).toBe(sessionId);
    const children = receiver.spans.filter((s) => s.parentSpanId === metaSpan?.spanId).map((s) => s.name);
    expect(children.sort()).toEqual(['mcp.parse', 'mcp.queue', 'mcp.queue', 'mcp.upstream']);
    for (const child of ['mcp.upstream', 'mcp.parse']) {
      expect(receiver.spans.some((s) => s.name === child && s.parentSpanId === metaSpan?.spanId)).toBe(true);
    }

    expect(requests.some((s) => s.traceId === headerTrace && s.parentSpanId === '1111222233334444')).toBe(
      true,
    );
    const session = receiver.spans.find((s) => s.name === 'mcp.session');
    const boomSpan = requests.find((s) => attr(s, 'mcp.tool.name') === 'boom');
    expect(boomSpan?.parentSpanId).toBe(session?.spanId); // no client context: under the session
    expect(boomSpan?.status?.code).toBe(2); // ERROR
    const init = requests.find((s) => attr(s, 'rpc.method') === 'initialize');
    expect(init?.status?.code ?? 0).not.toBe(2);
  });

  it('samples new traces by --trace-sample-ratio, and always follows a client’s sampled trace', async () => {
    const quiet = await startReceiver();
    const sampled = await startHttpProxy([
      '--no-admin',
      '--upstream',
      upstreamUrl,
      '--otlp-endpoint',
      quiet.url,
      '--trace-sample-ratio',
      '0',
    ]);
    try {
      const c = await connectHttp(sampled.url);
      await c.client.callTool({ name: 'meta', arguments: {} });
      const clientTrace = '0af7651916cd43dd8448eb211c80319c';
      await c.client.callTool({
        name: 'meta',
        arguments: {},
        _meta: { traceparent: `00-${clientTrace}-b7ad6b7169203331-01` },
      });
      await c.transport.terminateSession();
      await c.client.close();
      await expect.poll(() => quiet.spans.length, { timeout: 15_000 }).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 1_500)); // one more export round: nothing else may arrive
      expect(new Set(quiet.spans.map((s) => s.traceId))).toEqual(new Set([clientTrace]));
      expect(quiet.spans.some((s) => s.name === 'mcp.session')).toBe(false);
    } finally {
      await sampled.stop();
      await quiet.close();
    }
  });
});

const promMissing = prometheusMissing();

describe.skipIf(promMissing)('traces linked to tapes and metrics', () => {
  it('names each request span on its tape lines, in tape show, and as the exemplar of the duration buckets read by a real Prometheus', async () => {
    const receiver = await startReceiver();
    const upstream = spawn(process.execPath, [FIXTURE], { stdio: ['ignore', 'pipe', 'inherit'] });
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-trace-tapes-'));
    let proxy: RunningCli | undefined;
    let prom: RunningPrometheus | undefined;
    try {
      const upstreamUrl = await new Promise<string>((resolve) => {
        upstream.stdout?.on('data', (c: Buffer) => {
          const m = /listening (\S+)/.exec(c.toString());
          if (m?.[1]) resolve(m[1]);
        });
      });
      proxy = await startHttpProxy([
        '--admin-port',
        '0',
        '--upstream',
        upstreamUrl,
        '--otlp-endpoint',
        receiver.url,
        '--record',
        dir,
      ]);
      const admin = await adminUrlFrom(proxy.stderr);
      // A scraper that asks for OpenMetrics gets it, with exemplars; one that does not, the text format.
      const plain = await fetch(`${admin}/metrics`);
      expect(plain.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      await plain.text();
      prom = await startPrometheus([admin], '/metrics', { exemplars: true });

      const c = await connectHttp(proxy.url);
      const traces = ['11111111111111111111111111111111', '22222222222222222222222222222222'];
      for (const [i, trace] of traces.entries()) {
        await c.client.callTool({
          name: 'meta',
          arguments: {},
          _meta: { traceparent: `00-${trace}-${String(i + 1).repeat(16)}-01` },
        });
      }
      const open = await fetch(`${admin}/metrics`, {
        headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' },
      });
      expect(open.headers.get('content-type')).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
      const text = await open.text();
      expect(text.trimEnd().endsWith('# EOF')).toBe(true);
      expect(text).toMatch(
        new RegExp(
          `mcpscope_tool_call_duration_seconds_bucket\\{[^}]*tool="meta"[^}]*\\} \\d+ # \\{trace_id="${traces[1]}"\\}`,
        ),
      );
      // Counters keep their names in the text format after an OpenMetrics scrape.
      const after = await (await fetch(`${admin}/metrics`)).text();
      expect(after).toMatch(/^mcpscope_requests_total\{/m);

      // Prometheus scrapes OpenMetrics (its first choice) and stores the exemplars.
      await prom.scrapedAfter(Date.now());
      await expect
        .poll(
          async () =>
            (await prom?.exemplars('mcpscope_tool_call_duration_seconds_bucket{tool="meta"}'))?.map(
              (e) => e.labels.trace_id,
            ),
          { timeout: 15_000 },
        )
        .toContain(traces[1]);
      const requestExemplars = await prom.exemplars(
        'mcpscope_request_duration_seconds_bucket{method="tools/call"}',
      );
      expect(requestExemplars.map((e) => e.labels.trace_id)).toContain(traces[1]);

      await c.transport.terminateSession();
      await c.client.close();
      await expect
        .poll(
          () => receiver.spans.filter((s) => s.name === 'mcp.request' && traces.includes(s.traceId)).length,
          {
            timeout: 15_000,
          },
        )
        .toBe(2);
      const spans = receiver.spans.filter((s) => s.name === 'mcp.request' && traces.includes(s.traceId));

      // The tape: each call's request and answer name the span that was exported for it.
      const file = readdirSync(dir).find((f) => f.endsWith('.tape.jsonl')) as string;
      await expect
        .poll(async () => (await readTape(join(dir, file))).complete, { timeout: 5_000 })
        .toBe(true);
      const lines = readFileSync(join(dir, file), 'utf8')
        .trim()
        .split('\n')
        .map(
          (l) =>
            JSON.parse(l) as {
              msg?: { id?: unknown; method?: string; result?: unknown };
              trace?: string;
              span?: string;
            },
        );
      for (const span of spans) {
        const linked = lines.filter((l) => l.trace === span.traceId);
        expect(linked.map((l) => l.span)).toEqual([span.spanId, span.spanId]);
        expect(linked[0]?.msg?.method).toBe('tools/call');
        expect(linked[1]?.msg?.result).toBeDefined();
      }
      // Lines of requests that had no sampled span (initialize was not traced by the client) still carry ours.
      expect(
        lines
          .filter((l) => l.msg?.method === 'initialize')
          .every((l) => /^[0-9a-f]{32}$/.test(l.trace ?? '')),
      ).toBe(true);

      // tape show prints the trace id on each exchange's request line.
      const show = spawnCli(['tape', 'show', join(dir, file)]);
      let out = '';
      show.stdout.on('data', (d: Buffer) => (out += d.toString()));
      expect(await new Promise((r) => show.once('exit', r))).toBe(0);
      for (const trace of traces) expect(out).toMatch(new RegExp(`tools/call.*trace ${trace}`));
    } finally {
      await prom?.stop();
      await proxy?.stop();
      upstream.kill();
      await receiver.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
