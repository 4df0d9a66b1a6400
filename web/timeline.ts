/** A session's feed events folded into timeline rows: a request and its answer on one row. Pure, no DOM. */
import type { FeedEvent } from './types.js';

export interface Row {
  /** The seq of the row's first event (the request, or the lone message): its id in deep links. */
  seq: number;
  time: string;
  kind: 'request' | 'notification' | 'answer' | 'event';
  /** Who sent the first message: 'client-to-server' for a client's call, the other way for sampling. */
  direction: FeedEvent['direction'];
  method: string;
  /** tools/call and prompts/get: the name; resources/read: the uri. */
  name: string;
  /** 'pending' until the answer arrives; else the outcome's status ('ok', or an error's). */
  status: string;
  failed: boolean;
  durationMs: number | undefined;
  bytes: number;
  synthetic: boolean;
  /** The interception rule (or `breakpoint:<id>`) that made, changed or held a message of the row, and how. */
  rule: { name: string; action: string } | undefined;
  request: FeedEvent | undefined;
  answer: FeedEvent | undefined;
  /** For a row that is not a message (session opened, an error, a held message…). */
  event: FeedEvent | undefined;
}

function paramsOf(e: FeedEvent | undefined): Record<string, unknown> {
  const msg = e?.message;
  if (msg === null || typeof msg !== 'object') return {};
  const params = (msg as { params?: unknown }).params;
  return params !== null && typeof params === 'object' ? (params as Record<string, unknown>) : {};
}

/** What a call is about: a tool's or prompt's name, a resource's uri. */
export function nameOf(method: string, e: FeedEvent | undefined): string {
  const p = paramsOf(e);
  if (method === 'tools/call' || method === 'prompts/get') return typeof p.name === 'string' ? p.name : '';
  if (method.startsWith('resources/')) return typeof p.uri === 'string' ? p.uri : '';
  return '';
}

const SHOWN_EVENTS = new Set(['session-opened', 'session-closed', 'error', 'paused', 'process-exited']);

function ruleOf(e: FeedEvent): Row['rule'] {
  return typeof e.rule === 'string' ? { name: e.rule, action: String(e.ruleAction ?? '') } : undefined;
}

/** A request's key for answers that do not name it by seq (tapes): its sender and its JSON-RPC id. */
const keyOf = (direction: FeedEvent['direction'], id: unknown): string =>
  `${direction}:${JSON.stringify(id)}`;
const opposite = (d: FeedEvent['direction']): FeedEvent['direction'] =>
  d === 'client-to-server' ? 'server-to-client' : 'client-to-server';

/** Rows in feed order. Events must be one session's, in any order, without duplicates by seq. */
export function buildRows(events: readonly FeedEvent[]): Row[] {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  const rows: Row[] = [];
  const bySeq = new Map<number, Row>();
  /** Requests still unanswered, by sender and id. */
  const open = new Map<string, Row>();
  for (const e of sorted) {
    if (e.type !== 'message') {
      if (!SHOWN_EVENTS.has(e.type)) continue;
      rows.push({
        seq: e.seq,
        time: e.time,
        kind: 'event',
        direction: undefined,
        method: e.type,
        name: typeof e.code === 'string' ? e.code : '',
        status: '',
        failed: e.type === 'error',
        durationMs: undefined,
        bytes: 0,
        synthetic: false,
        rule: typeof e.cause === 'string' ? { name: e.cause, action: 'break' } : undefined,
        request: undefined,
        answer: undefined,
        event: e,
      });
      continue;
    }
    if (e.kind === 'response' || e.kind === 'error') {
      const key = keyOf(opposite(e.direction), e.id);
      const row = e.requestSeq === undefined ? open.get(key) : bySeq.get(e.requestSeq);
      if (row && row.answer === undefined) {
        open.delete(key);
        row.answer = e;
        row.status = e.outcome?.status ?? (e.kind === 'error' ? 'error' : 'ok');
        row.failed = e.outcome?.failed ?? e.kind === 'error';
        row.durationMs = e.durationMs;
        row.bytes += e.bytes ?? 0;
        row.synthetic ||= e.synthetic === true;
        row.rule ??= ruleOf(e);
        continue;
      }
    }
    const method = e.method ?? '';
    const row: Row = {
      seq: e.seq,
      time: e.time,
      kind: e.kind === 'request' ? 'request' : e.kind === 'notification' ? 'notification' : 'answer',
      direction: e.direction,
      method:
        e.kind === 'request' || e.kind === 'notification' ? method : `(answer to ${String(e.id ?? '?')})`,
      name: nameOf(method, e),
      status: e.kind === 'request' ? (e.verdict === 'drop' ? 'dropped' : 'pending') : '',
      failed: e.kind === 'error' || e.verdict === 'drop',
      durationMs: e.kind === 'request' ? undefined : e.durationMs,
      bytes: e.bytes ?? 0,
      synthetic: e.synthetic === true,
      rule: ruleOf(e),
      request: e.kind === 'request' || e.kind === 'notification' ? e : undefined,
      answer: e.kind === 'response' || e.kind === 'error' ? e : undefined,
      event: undefined,
    };
    if (e.kind === 'response' || e.kind === 'error') {
      row.status = e.outcome?.status ?? e.kind;
      row.failed = e.outcome?.failed ?? e.kind === 'error';
    }
    rows.push(row);
    if (e.kind === 'request') {
      bySeq.set(e.seq, row);
      open.set(keyOf(e.direction, e.id), row);
    }
  }
  return rows;
}

/** Each row's searchable text (its method, name, status, rule and both messages), made once per row. */
const searchText = new WeakMap<Row, string>();

function textOf(r: Row): string {
  let text = searchText.get(r);
  if (text === undefined) {
    const body = (e: FeedEvent | undefined): string =>
      e === undefined ? '' : e.message !== undefined ? JSON.stringify(e.message) : (e.preview ?? '');
    text = [r.method, r.name, r.status, r.rule?.name ?? '', body(r.request ?? r.event), body(r.answer)]
      .join(' ')
      .toLowerCase();
    searchText.set(r, text);
  }
  return text;
}

/**
 * Rows that hold every word of `query` (case-insensitive) in their method, name, status, rule or either
 * message's text; `failed` keeps the rows that failed, `synthetic` those a rule or mcpscope made. An empty
 * query keeps all.
 */
export function filterRows(rows: readonly Row[], query: string): Row[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...rows];
  return rows.filter((r) =>
    words.every((w) =>
      w === 'failed'
        ? r.failed
        : w === 'synthetic'
          ? r.synthetic || r.rule !== undefined
          : textOf(r).includes(w),
    ),
  );
}
