import { VERSION } from '../version.js';
import { isMessageEvent } from './format.js';
import { exchanges } from './summary.js';
import type { Tape } from './tapeReader.js';

export type ExportFormat = 'json' | 'har';

/** The whole tape as one JSON document: header, events, and whether it is whole. */
function asJson(tape: Tape): object {
  return { header: tape.header, complete: tape.complete, torn: tape.torn, events: tape.events };
}

function at(startedAt: string, offsetMs: number): string {
  return new Date(Date.parse(startedAt) + offsetMs).toISOString();
}

/**
 * HAR 1.2, one entry per client request and its answer, so HTTP tools (browser devtools, HAR viewers) can
 * show an MCP session. JSON-RPC bodies are the request's postData and the response's content; the MCP
 * method and target are in `_mcp`; server notifications tied to a request are in `_mcp.notifications`.
 */
function asHar(tape: Tape): object {
  const { header } = tape;
  const base = /^https?:\/\//.test(header.upstream)
    ? header.upstream
    : `mcp://${encodeURIComponent(header.serverInfo?.name ?? 'stdio')}/`;
  const related = new Map<string | number, unknown[]>();
  for (const e of tape.events) {
    if (isMessageEvent(e) && e.dir === 's2c' && e.rel !== undefined) {
      related.set(e.rel, [...(related.get(e.rel) ?? []), e.msg]);
    }
  }
  const entries = exchanges(tape.events).map((x) => {
    const requestText = JSON.stringify(x.request.msg);
    const responseText = x.answer ? JSON.stringify(x.answer.msg) : '';
    const wait = Math.max(0, x.latencyMs ?? 0);
    const id = (x.request.msg as { id: string | number }).id;
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
      _mcp: { method: x.method, target: x.target, error: x.error, notifications: related.get(id) ?? [] },
    };
  });
  return {
    log: {
      version: '1.2',
      creator: { name: 'mcpscope', version: VERSION },
      pages: [
        {
          startedDateTime: header.startedAt,
          id: header.id,
          title: `${header.transport} session ${header.sessionId} with ${header.upstream}`,
          pageTimings: {},
        },
      ],
      entries,
    },
  };
}

export function exportTape(tape: Tape, format: ExportFormat): string {
  return JSON.stringify(format === 'har' ? asHar(tape) : asJson(tape), null, 2);
}
