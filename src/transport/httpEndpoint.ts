import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { SseIds } from '../session/events.js';
import type { Session } from '../session/session.js';
import { exchangeEvent } from './exchange.js';

/**
 * One kind of client endpoint on the HTTP listener (Streamable HTTP, legacy HTTP+SSE, WebSocket): the
 * listener is a thin router that offers each request (and each upgrade) to its endpoints in turn.
 */
export interface HttpEndpoint {
  /** Take the request if `path` is one of this endpoint's; false leaves it to the next. */
  handle(req: IncomingMessage, res: ServerResponse, path: string, query: string): boolean;
  /** Take a connection upgrade on `path`; false leaves it to the next. Default: none taken. */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, path: string): boolean;
  /** Write keep-alive comments on idle long-lived streams. */
  keepAlive(): void;
  /** Bytes held for clients: resumption buffers, backlogs, unsent output. */
  readonly bufferedBytes: number;
  close(): void;
}

/**
 * Once `res` has ended (or its client went away), its summary joins the session's events: method, path,
 * status, both sides' headers (credentials masked), time taken and, for an SSE response, the events it
 * carried (`sse`: what the wire counted on it). Nothing is done when no stage reads exchanges.
 */
export function reportExchange(
  session: Session,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  sse?: (res: ServerResponse) => SseIds | undefined,
): void {
  if (!session.httpExchanges) return;
  const startedAt = performance.now();
  res.once('close', () => {
    session.event(
      exchangeEvent(
        'client',
        req.method ?? 'GET',
        path,
        req.headers,
        res.headersSent ? res.statusCode : 0,
        responseHeaders(res),
        startedAt,
        performance.now(),
        sse?.(res),
      ),
    );
  });
}

/**
 * The headers a response was sent with. `writeHead(status, headers)` sends what it is given without keeping
 * it (`getHeaders()` then knows only those set with `setHeader`), so the header block as written is read
 * back: `_header`, which Node keeps on every sent response (and which morgan and on-headers read too).
 */
function responseHeaders(res: ServerResponse): Record<string, string | string[]> {
  const block = (res as unknown as { _header?: unknown })._header;
  if (typeof block !== 'string') return res.getHeaders() as Record<string, string | string[]>;
  const out: Record<string, string | string[]> = {};
  for (const line of block.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const had = out[name];
    out[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return out;
}
