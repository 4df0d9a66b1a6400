import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { HEADER_LAST_EVENT_ID } from '../protocol.js';
import { mcpHeadersOf } from '../jsonrpc/era.js';
import type { Session } from '../session/session.js';

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

/** Once `res` is answered, its summary joins the session's events (method, path, status, MCP headers). */
export function reportExchange(
  session: Session,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): void {
  res.once('finish', () => {
    const headers = mcpHeadersOf(req.headers);
    const last = req.headers[HEADER_LAST_EVENT_ID];
    if (typeof last === 'string') headers[HEADER_LAST_EVENT_ID] = last;
    session.event({ type: 'http', method: req.method ?? 'GET', path, status: res.statusCode, headers });
  });
}
