import type { JsonRpcId } from '../jsonrpc/errors.js';
import { VERSION } from '../version.js';
import { isMessageEvent, type TapeHeader, type TapeMessageEvent } from './format.js';
import { ExchangePairer, exchange, type Exchange } from './summary.js';
import type { TapeStream } from './tapeReader.js';

export type ExportFormat = 'json' | 'har';

/** Where export output goes, a piece at a time; resolves when there is room for more. */
export type WriteText = (text: string) => Promise<void>;

/**
 * Most HAR entries held back waiting for an earlier request's answer, so entries come out in request order
 * (10,000). Past it, the oldest is written as it is (unanswered, or without later notifications).
 */
export const MAX_HELD_ENTRIES = 10_000;

/** `value` as JSON.stringify(value, null, 2) would write it `level` levels deep in a document. */
function pretty(value: unknown, level: number): string {
  const pad = '  '.repeat(level);
  return pad + JSON.stringify(value, null, 2).replaceAll('\n', `\n${pad}`);
}

/**
 * The whole tape as one JSON document: header, events, and whether it is whole (`complete` and `torn` come
 * last: they are known once every event has been read). Written event by event, in constant memory.
 */
async function asJson(tape: TapeStream, write: WriteText): Promise<void> {
  await write(`{\n  "header": ${pretty(tape.header, 1).trimStart()},\n  "events": [`);
  let first = true;
  for await (const event of tape.events()) {
    await write(`${first ? '\n' : ',\n'}${pretty(event, 2)}`);
    first = false;
  }
  await write(`${first ? '' : '\n  '}],\n  "complete": ${tape.complete},\n  "torn": ${tape.torn}\n}\n`);
}

function at(startedAt: string, offsetMs: number): string {
  return new Date(Date.parse(startedAt) + offsetMs).toISOString();
}

/** One request on its way to a HAR entry: its answer and the server messages tied to it, once they come. */
interface Held {
  readonly request: TapeMessageEvent;
  answer: TapeMessageEvent | undefined;
  readonly notifications: unknown[];
}

function harEntry(header: TapeHeader, base: string, x: Exchange, notifications: unknown[]): object {
  const requestText = JSON.stringify(x.request.msg);
  const responseText = x.answer ? JSON.stringify(x.answer.msg) : '';
  const wait = Math.max(0, x.latencyMs ?? 0);
  return {
    pageref: header.id,
    startedDateTime: at(header.startedAt, x.request.t),
    time: wait,
    request: {
      method: 'POST',
      url: base,
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: [
        { name: 'content-type', value: 'application/json' },
        { name: 'mcp-method', value: x.method },
      ],
      queryString: [],
      postData: { mimeType: 'application/json', text: requestText },
      headersSize: -1,
      bodySize: Buffer.byteLength(requestText),
    },
    response: {
      status: x.answer ? 200 : 0,
      statusText: x.answer ? (x.error ? 'JSON-RPC error' : 'OK') : 'no answer recorded',
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: [{ name: 'content-type', value: 'application/json' }],
      content: { size: Buffer.byteLength(responseText), mimeType: 'application/json', text: responseText },
      redirectURL: '',
      headersSize: -1,
      bodySize: Buffer.byteLength(responseText),
    },
    cache: {},
    timings: { send: 0, wait, receive: 0 },
    _mcp: { method: x.method, target: x.target, error: x.error, notifications },
  };
}

/**
 * HAR 1.2, one entry per client request and its answer, so HTTP tools (browser devtools, HAR viewers) can
 * show an MCP session. JSON-RPC bodies are the request's postData and the response's content; the MCP
 * method and target are in `_mcp`; server notifications tied to a request are in `_mcp.notifications`.
 * Written entry by entry in request order: an entry waits for its answer, and at most MAX_HELD_ENTRIES wait.
 */
async function asHar(tape: TapeStream, write: WriteText): Promise<void> {
  const { header } = tape;
  // The URL the client used where it used one (HTTP), else the upstream's, else a name for a stdio session.
  const base =
    header.client?.endpoint ??
    (/^https?:\/\//.test(header.upstream)
      ? header.upstream
      : `mcp://${encodeURIComponent(header.serverInfo?.name ?? 'stdio')}/`);
  const page = {
    startedDateTime: header.startedAt,
    id: header.id,
    title: `${header.transport} session ${header.sessionId} with ${header.upstream}`,
    pageTimings: {},
  };
  const creator = { name: 'mcpscope', version: VERSION };
  await write(
    `{\n  "log": {\n    "version": "1.2",\n    "creator": ${pretty(creator, 2).trimStart()},\n` +
      `    "pages": [\n${pretty(page, 3)}\n    ],\n    "entries": [`,
  );
  const pairer = new ExchangePairer();
  /** Entries in request order from `next` on, waiting for the first one's answer. */
  let held: Array<Held | undefined> = [];
  let next = 0;
  /** The latest held entry of each request id, for the answer and notifications that name it. */
  const byId = new Map<JsonRpcId, Held>();
  let first = true;
  const emit = async (h: Held): Promise<void> => {
    const id = (h.request.msg as { id: JsonRpcId }).id;
    if (byId.get(id) === h) byId.delete(id);
    const entry = harEntry(header, base, exchange(h.request, h.answer), h.notifications);
    await write(`${first ? '\n' : ',\n'}${pretty(entry, 3)}`);
    first = false;
  };
  const drain = async (all: boolean): Promise<void> => {
    while (next < held.length) {
      const h = held[next] as Held;
      if (!all && h.answer === undefined && held.length - next <= MAX_HELD_ENTRIES) break;
      held[next++] = undefined;
      await emit(h);
    }
    // Drop what was written now and then, so the array does not grow with the tape.
    if (next >= 1024 && next * 2 >= held.length) {
      held = held.slice(next);
      next = 0;
    }
  };
  for await (const event of tape.events()) {
    if (!isMessageEvent(event)) continue;
    const request = pairer.request(event);
    if (request) {
      const h: Held = { request, answer: undefined, notifications: [] };
      held.push(h);
      byId.set((request.msg as { id: JsonRpcId }).id, h);
      await drain(false);
      continue;
    }
    const answered = pairer.answered(event);
    if (answered) {
      const h = byId.get((answered.msg as { id: JsonRpcId }).id);
      if (h?.request === answered) h.answer = event;
      await drain(false);
    } else if (event.dir === 's2c' && event.rel !== undefined) {
      byId.get(event.rel)?.notifications.push(event.msg);
    }
  }
  await drain(true);
  await write(`${first ? '' : '\n    '}]\n  }\n}\n`);
}

/** Write a tape as one JSON document or as HAR, a piece at a time, reading it once, in constant memory. */
export async function exportTape(tape: TapeStream, format: ExportFormat, write: WriteText): Promise<void> {
  if (format === 'har') await asHar(tape, write);
  else await asJson(tape, write);
}
