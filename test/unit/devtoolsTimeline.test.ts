// The DevTools page's pure parts: a session's feed folded into timeline rows, deep links, the curl and SDK
// snippets of a message, and how Network and Console read the feed.
import { describe, expect, it } from 'vitest';
import { consoleLine, describeNetwork, isMcpHeader } from '../../web/feedText.js';
import { buildRows, filterRows } from '../../web/timeline.js';
import { hrefOf, parseRoute, tapeHref } from '../../web/route.js';
import { curlSnippet, sdkSnippet, shellQuote } from '../../web/snippets.js';
import type { FeedEvent } from '../../web/types.js';

const at = '2026-12-03T10:00:00.000Z';
const ev = (seq: number, fields: Partial<FeedEvent>): FeedEvent => ({
  seq,
  time: at,
  session: 's1',
  type: 'message',
  ...fields,
});

describe('buildRows', () => {
  it('puts a request and its answer on one row, with the tool name, status and duration', () => {
    const rows = buildRows([
      ev(3, {
        direction: 'server-to-client',
        kind: 'response',
        id: 7,
        requestSeq: 2,
        outcome: { status: 'ok', failed: false, side: 'upstream' },
        durationMs: 12.5,
        bytes: 40,
        message: { jsonrpc: '2.0', id: 7, result: {} },
      }),
      ev(1, { type: 'session-opened' }),
      ev(2, {
        direction: 'client-to-server',
        kind: 'request',
        method: 'tools/call',
        id: 7,
        bytes: 60,
        message: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: {} } },
      }),
    ]);
    expect(rows.map((r) => [r.seq, r.kind, r.method])).toEqual([
      [1, 'event', 'session-opened'],
      [2, 'request', 'tools/call'],
    ]);
    const call = rows[1];
    expect(call).toMatchObject({ name: 'echo', status: 'ok', failed: false, durationMs: 12.5, bytes: 100 });
    expect(call?.answer?.seq).toBe(3);
  });

  it('keeps a request pending until its answer, and marks an error answer failed', () => {
    const request = ev(1, {
      kind: 'request',
      method: 'resources/read',
      message: { method: 'resources/read', params: { uri: 'file:///a' } },
    });
    expect(buildRows([request])[0]).toMatchObject({ status: 'pending', name: 'file:///a' });
    const error = ev(2, {
      kind: 'error',
      requestSeq: 1,
      outcome: { status: 'upstream_error', failed: true, side: 'upstream' },
    });
    expect(buildRows([request, error])[0]).toMatchObject({ status: 'upstream_error', failed: true });
  });

  it('marks a row with the rule that made or changed one of its messages', () => {
    const rows = buildRows([
      ev(1, {
        kind: 'request',
        direction: 'client-to-server',
        method: 'tools/call',
        id: 1,
        rule: 'mock-add',
        ruleAction: 'mock',
      }),
      ev(2, {
        kind: 'response',
        direction: 'server-to-client',
        id: 1,
        requestSeq: 1,
        synthetic: true,
        rule: 'mock-add',
        ruleAction: 'mock',
      }),
      ev(3, { type: 'paused', cause: 'breakpoint:1', state: 'held' }),
    ]);
    expect(rows[0]).toMatchObject({
      rule: { name: 'mock-add', action: 'mock' },
      synthetic: true,
      status: 'ok',
    });
    expect(rows[1]).toMatchObject({ kind: 'event', rule: { name: 'breakpoint:1', action: 'break' } });
  });

  it("pairs answers that name no request seq (a tape's) by sender and id", () => {
    const rows = buildRows([
      ev(1, { kind: 'request', direction: 'client-to-server', method: 'tools/call', id: 5 }),
      ev(2, { kind: 'request', direction: 'server-to-client', method: 'sampling/createMessage', id: 5 }),
      ev(3, { kind: 'response', direction: 'client-to-server', id: 5 }),
      ev(4, { kind: 'response', direction: 'server-to-client', id: 5 }),
    ]);
    expect(rows.map((r) => [r.seq, r.method, r.answer?.seq])).toEqual([
      [1, 'tools/call', 4],
      [2, 'sampling/createMessage', 3],
    ]);
  });

  it('shows an answer whose request the ring no longer holds on a row of its own', () => {
    const rows = buildRows([ev(9, { kind: 'response', id: 3, requestSeq: 2, durationMs: 4 })]);
    expect(rows[0]).toMatchObject({ kind: 'answer', method: '(answer to 3)', durationMs: 4 });
  });
});

describe('filterRows', () => {
  const rows = buildRows([
    ev(1, { kind: 'request', method: 'tools/call', message: { params: { name: 'Search' } } }),
    ev(2, {
      kind: 'error',
      requestSeq: 1,
      outcome: { status: 'upstream_error', failed: true, side: 'upstream' },
    }),
    ev(3, { kind: 'request', method: 'tools/list' }),
    ev(4, { kind: 'notification', method: 'notifications/message' }),
  ]);
  const seqs = (query: string): number[] => filterRows(rows, query).map((r) => r.seq);

  it('keeps the rows whose method, name or status hold every word, in any case', () => {
    expect(seqs('')).toEqual([1, 3, 4]);
    expect(seqs('tools')).toEqual([1, 3]);
    expect(seqs('search')).toEqual([1]);
    expect(seqs('tools/call upstream_error')).toEqual([1]);
    expect(seqs('tools nothing')).toEqual([]);
  });

  it('keeps only failed rows for "failed"', () => {
    expect(seqs('failed')).toEqual([1]);
  });

  it('finds words in the messages themselves, and rule-made rows for "synthetic"', () => {
    const more = buildRows([
      ev(1, {
        kind: 'request',
        method: 'tools/call',
        message: { params: { arguments: { city: 'Lisbon' } } },
      }),
      ev(2, { kind: 'request', method: 'tools/call', rule: 'mock-x', ruleAction: 'mock' }),
    ]);
    expect(filterRows(more, 'lisbon').map((r) => r.seq)).toEqual([1]);
    expect(filterRows(more, 'synthetic').map((r) => r.seq)).toEqual([2]);
    expect(filterRows(more, 'mock-x').map((r) => r.seq)).toEqual([2]);
  });
});

describe('deep links', () => {
  it('name a session and a message, and read back what they name', () => {
    const route = { view: 'protocol' as const, session: 'a b/c', message: 12 };
    expect(hrefOf(route)).toBe('#/session/a%20b%2Fc/message/12');
    expect(parseRoute(hrefOf(route))).toEqual(route);
    expect(parseRoute('#/session/x')).toEqual({ view: 'protocol', session: 'x', message: undefined });
    expect(parseRoute('#/breakpoints')).toEqual({
      view: 'breakpoints',
      session: undefined,
      message: undefined,
    });
    const nowhere = { view: 'protocol', session: undefined, message: undefined };
    expect(parseRoute('#/elsewhere')).toEqual(nowhere);
    expect(parseRoute('#/session/%E0%A4%A')).toEqual(nowhere);
  });

  it("name a session's Network and Console, Health, the tapes, and a tape's message", () => {
    expect(hrefOf({ session: 's', message: undefined, view: 'network' })).toBe('#/session/s/network');
    expect(parseRoute('#/session/s/console')).toEqual({ view: 'console', session: 's', message: undefined });
    expect(parseRoute('#/health').view).toBe('health');
    expect(parseRoute('#/tapes').view).toBe('tapes');
    expect(tapeHref('20261203T1-ab', 4)).toBe('#/tape/20261203T1-ab/message/4');
    expect(parseRoute(tapeHref('20261203T1-ab', 4))).toEqual({
      view: 'tape',
      session: undefined,
      tape: '20261203T1-ab',
      message: 4,
    });
    expect(parseRoute('#/session/s/elsewhere').session).toBeUndefined();
  });
});

describe('snippets', () => {
  const call = {
    jsonrpc: '2.0',
    id: 3,
    method: 'tools/call',
    params: { name: 'echo', arguments: { message: "it's" } },
  };
  const http = { endpoint: 'http://127.0.0.1:8080/mcp', session: 'abc', protocolVersion: '2025-11-25' };

  it('quote for a POSIX shell, single quotes included', () => {
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });

  it('POST the message again with curl, in the same session', () => {
    const curl = curlSnippet(call, http);
    expect(curl).toContain("curl -sN 'http://127.0.0.1:8080/mcp'");
    expect(curl).toContain("-H 'mcp-session-id: abc'");
    expect(curl).toContain("-H 'mcp-protocol-version: 2025-11-25'");
    expect(curl).toContain(`--data ${shellQuote(JSON.stringify(call))}`);
    expect(curlSnippet(call, {})).toMatch(/^# this session was not over HTTP/);
  });

  it("make the same call with the SDK's helper, over the session's wire", () => {
    const sdk = sdkSnippet(call, http);
    expect(sdk).toContain('new StreamableHTTPClientTransport(new URL("http://127.0.0.1:8080/mcp"))');
    expect(sdk).toContain('await client.callTool({');
    expect(sdk).toContain('"message": "it\'s"');
    const stdio = sdkSnippet({ method: 'x/custom', params: { a: 1 } }, { upstream: 'node server.js --flag' });
    expect(stdio).toContain('new StdioClientTransport({ command: "node", args: ["server.js","--flag"] })');
    expect(stdio).toContain('await client.request(');
    expect(stdio).toContain('ResultSchema');
  });
});

describe('Network and Console read the feed', () => {
  it('say what an HTTP exchange was: side, method, path, status, resumption and SSE ids', () => {
    const d = describeNetwork(
      ev(1, {
        type: 'http',
        side: 'client',
        method: 'GET',
        path: '/mcp',
        status: 200,
        headers: { 'last-event-id': '4' },
        sse: { events: 2, firstId: 5, lastId: 6 },
      }),
    );
    expect(d.what).toMatch(/^client → mcpscope\s+GET \/mcp\s+200$/);
    expect(d.detail).toBe('resumes after event 4; 2 SSE events (ids 5–6)');
    expect(
      describeNetwork(ev(2, { type: 'http', side: 'upstream', method: 'POST', path: '/mcp', status: 0 })),
    ).toMatchObject({ failed: true });
    expect(isMcpHeader('mcp-session-id')).toBe(true);
    expect(isMcpHeader('authorization')).toBe(false);
  });

  it("show the server's stderr and mcpscope's warnings, and nothing else", () => {
    expect(consoleLine(ev(1, { type: 'stderr', line: 'listening' }))).toEqual({
      level: 'stderr',
      text: 'listening',
    });
    expect(
      consoleLine(ev(2, { type: 'paused', state: 'timed_out', cause: 'breakpoint:1', method: 'tools/call' }))
        ?.level,
    ).toBe('warn');
    expect(consoleLine(ev(3, { type: 'process-restarted', attempt: 2 }))?.text).toContain('attempt 2');
    expect(consoleLine(ev(4, { type: 'process-exited', crashed: true, code: 1, signal: null }))?.level).toBe(
      'error',
    );
    expect(consoleLine(ev(5, { type: 'message', kind: 'request' }))).toBeUndefined();
    expect(consoleLine(ev(6, { type: 'paused', state: 'held' }))).toBeUndefined();
    // The gateway's upstreams coming and going.
    expect(
      consoleLine(ev(7, { type: 'gateway', upstream: 'search', state: 'missing', detail: 'tools/list' })),
    ).toEqual({ level: 'warn', text: 'gateway: upstream search missing: tools/list' });
    expect(consoleLine(ev(8, { type: 'gateway', upstream: 'files', state: 'failed' }))?.level).toBe('error');
  });
});
