// Resilience: backpressure. A client that stops reading holds the server back; mcpscope's memory stays
// bounded and, once the client reads again (resuming with Last-Event-ID if its stream was closed), every
// message arrives exactly once, in order.
import { request, type IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { INIT, MCP_HEADERS, adminUrlFrom, rawSession, spawnCli, startHttpProxy } from '../helpers.js';

const FLOOD = fileURLToPath(new URL('../fixtures/servers/flood.mjs', import.meta.url));
/** 5,000 notifications of 10 KB: 50 MB. */
const COUNT = 5_000;
const PAD_BYTES = 10_240;
/** How long the client does not read. */
const STALL_MS = 4_000;
/**
 * RSS growth allowed during the stall. Buffering the 50 MB would add well over 50 MB (the raw bytes alone);
 * bounded, mcpscope holds about 1 MiB per client plus a read chunk, and the rest is GC noise.
 */
const RSS_BOUND_BYTES = 40 * 1024 * 1024;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** Sample a process's RSS every 100 ms for `ms`; resolves with the largest value seen. */
async function peakRss(pid: number, ms: number): Promise<number> {
  let peak = rssBytes(pid);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    peak = Math.max(peak, rssBytes(pid));
  }
  return peak;
}

/** The values of a metric's series in a /metrics text whose labels include `labels`. */
function series(text: string, name: string, labels: string): number[] {
  return text
    .split('\n')
    .filter((line) => (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && line.includes(labels))
    .map((line) => Number(line.split(' ').pop()));
}

/** One series' value from a /metrics text; a series that does not exist is an error, not 0. */
function metric(text: string, name: string, labels: string): number {
  const found = series(text, name, labels);
  if (found.length !== 1)
    throw new Error(`${name}{${labels}}: ${found.length} series in /metrics, expected one`);
  return found[0] as number;
}

/**
 * The sum of a counter's series whose labels include `labels`, 0 when there is none yet: a labelled
 * counter has no series before its first event, so here absent and zero both mean "never happened".
 */
function totalOr0(text: string, name: string, labels = ''): number {
  return series(text, name, labels).reduce((a, b) => a + b, 0);
}

const floodCall = (id: number, count: number, bytes: number, firstBytes = bytes) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'flood', arguments: { count, bytes, firstBytes } },
  });

/** Checks that notifications arrive numbered 0, 1, 2… exactly once, then the answer to `id`. */
class Sequence {
  next = 0;
  answered = false;
  constructor(readonly id: number) {}
  take(msg: { id?: unknown; method?: string; params?: { data?: { seq?: number } } }): void {
    if (this.answered) throw new Error(`message after the answer: ${JSON.stringify(msg).slice(0, 200)}`);
    if (msg.method === 'notifications/message') {
      const seq = msg.params?.data?.seq;
      if (seq !== this.next) throw new Error(`expected notification ${this.next}, got ${seq}`);
      this.next++;
    } else if (msg.id === this.id) this.answered = true;
  }
}

// Each test takes 7–15 s alone; the timeout leaves room for a busy two-core machine.
describe('resilience: backpressure', { timeout: 60_000 }, () => {
  it('stdio: a client that stops reading while the server streams 50 MB → RSS stays bounded, nothing lost after it reads again', async () => {
    const proc = spawnCli(['forward', 'stdio', '--admin-port', '0', '--', process.execPath, FLOOD]);
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const seq = new Sequence(1);
    let initialized = false;
    let rest = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      rest += chunk.toString();
      for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
        const msg = JSON.parse(rest.slice(0, nl)) as { id?: unknown };
        rest = rest.slice(nl + 1);
        if (msg.id === 0) initialized = true;
        else seq.take(msg);
      }
    });
    try {
      const admin = await adminUrlFrom(() => stderr);
      proc.stdin.write(`${JSON.stringify(INIT)}\n`);
      await expect.poll(() => initialized).toBe(true);
      proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
      await new Promise((r) => setTimeout(r, 300));
      const baseline = rssBytes(proc.pid as number);

      proc.stdout.pause();
      proc.stdin.write(`${floodCall(1, COUNT, PAD_BYTES)}\n`);
      // The stall lasts STALL_MS and at least until mcpscope has paused the server (slow on a busy machine).
      const sampling = peakRss(proc.pid as number, STALL_MS);
      await expect
        .poll(
          async () =>
            totalOr0(
              await (await fetch(`${admin}/metrics`)).text(),
              'mcpscope_stream_backpressure_total',
              'action="paused"',
            ),
          { timeout: 20_000, interval: 200 },
        )
        .toBeGreaterThan(0);
      const peak = Math.max(await sampling, rssBytes(proc.pid as number));
      expect(seq.answered).toBe(false);

      proc.stdout.resume();
      await expect.poll(() => seq.answered, { timeout: 20_000 }).toBe(true);
      expect(seq.next).toBe(COUNT);
      expect(peak - baseline).toBeLessThan(RSS_BOUND_BYTES);
      const after = await (await fetch(`${admin}/metrics`)).text();
      expect(metric(after, 'mcpscope_stream_backpressure_total', 'action="resumed"')).toBeGreaterThan(0);
      expect(totalOr0(after, 'mcpscope_stream_messages_dropped_total')).toBe(0);
    } finally {
      proc.stdin.end();
      if (proc.exitCode === null) await new Promise((r) => proc.once('exit', r));
    }
  });

  /** Read one SSE response to its end, handing each message to `seq` and noting the last event id. */
  function readSse(res: IncomingMessage, seq: Sequence, last: { id: string | undefined }): Promise<void> {
    return new Promise((resolve) => {
      let rest = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        rest += text;
        for (let end = rest.indexOf('\n\n'); end >= 0; end = rest.indexOf('\n\n')) {
          const block = rest.slice(0, end);
          rest = rest.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data === undefined) continue;
          seq.take(JSON.parse(data) as { id?: unknown });
          last.id = /^id: (.*)$/m.exec(block)?.[1] ?? last.id;
        }
      });
      res.on('error', () => undefined);
      res.once('close', () => resolve());
      res.resume();
    });
  }

  function open(
    url: string,
    method: 'POST' | 'GET',
    headers: Record<string, string>,
    body?: string,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, agent: false }, resolve);
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Stall on the POST's stream, then read it and every resumption until the answer; returns resumptions. */
  async function stallThenRead(
    url: string,
    admin: string,
    pid: number,
    count: number,
    bytes: number,
    firstBytes = bytes,
  ): Promise<{ peak: number; baseline: number; resumptions: number; metrics: string }> {
    const sid = await rawSession(url);
    await new Promise((r) => setTimeout(r, 300));
    const baseline = rssBytes(pid);
    const headers = { ...MCP_HEADERS, 'mcp-session-id': sid };
    const res = await open(url, 'POST', headers, floodCall(1, count, bytes, firstBytes));
    expect(res.statusCode).toBe(200);
    res.pause();
    const peak = await peakRss(pid, STALL_MS);
    const seq = new Sequence(1);
    const last = { id: undefined as string | undefined };
    await readSse(res, seq, last);
    let resumptions = 0;
    while (!seq.answered) {
      // The stream was closed for being too far behind: resume after the last complete event.
      expect(last.id).toBeDefined();
      resumptions++;
      expect(resumptions).toBeLessThan(1_000);
      const again = await open(url, 'GET', {
        accept: 'text/event-stream',
        'mcp-session-id': sid,
        'last-event-id': last.id as string,
      });
      expect(again.statusCode).toBe(200);
      await readSse(again, seq, last);
    }
    expect(seq.next).toBe(count);
    return { peak, baseline, resumptions, metrics: await (await fetch(`${admin}/metrics`)).text() };
  }

  it('Streamable HTTP: a client that stops reading its SSE stream while the server streams 50 MB → RSS stays bounded, nothing lost after it reads again', async () => {
    const proxy = await startHttpProxy(['--admin-port', '0', '--', process.execPath, FLOOD]);
    try {
      const admin = await adminUrlFrom(proxy.stderr);
      const run = await stallThenRead(proxy.url, admin, proxy.proc.pid as number, COUNT, PAD_BYTES);
      expect(run.peak - run.baseline).toBeLessThan(RSS_BOUND_BYTES);
      expect(metric(run.metrics, 'mcpscope_stream_backpressure_total', 'action="paused"')).toBeGreaterThan(0);
      expect(totalOr0(run.metrics, 'mcpscope_stream_messages_dropped_total')).toBe(0);
    } finally {
      await proxy.stop();
    }
  });

  it('Streamable HTTP: a stream more than --client-buffer-bytes behind is closed, and Last-Event-ID resumption loses nothing', async () => {
    // Messages far larger than the limit: one written while the client is behind passes it at once. The
    // first is small, so that the client has an event id to resume from.
    const proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--client-buffer-bytes',
      '65536',
      '--',
      process.execPath,
      FLOOD,
    ]);
    try {
      const admin = await adminUrlFrom(proxy.stderr);
      const run = await stallThenRead(proxy.url, admin, proxy.proc.pid as number, 8, 4_000_000, 10);
      expect(run.resumptions).toBeGreaterThan(0);
      expect(metric(run.metrics, 'mcpscope_stream_backpressure_total', 'action="closed"')).toBeGreaterThan(0);
      expect(totalOr0(run.metrics, 'mcpscope_stream_messages_dropped_total')).toBe(0);
      expect(proxy.stderr()).toContain('client is not reading its stream');
    } finally {
      await proxy.stop();
    }
  });
});
