// The DevTools page's pure parts: a session's feed folded into timeline rows, and its deep links.
import { describe, expect, it } from 'vitest';
import { buildRows, filterRows } from '../../web/timeline.js';
import { hrefOf, parseRoute } from '../../web/route.js';
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
});
