/**
 * HTTP exchange summaries (`http` session events): a client's request to mcpscope, or mcpscope's request to
 * an HTTP upstream, with its status and both sides' headers, credentials masked before the event exists.
 * Built only when a stage reads them (`Session.httpExchanges`, `Transport.httpExchanges`): the live feed
 * and tapes do; with neither, no request pays for them.
 */
import { HEADER_SESSION_ID } from '../protocol.js';
import type { ExchangeSide, HttpExchangeEvent, SseIds } from '../session/events.js';
import { REDACTED, secretHeader } from '../tape/redact.js';

type HeaderValue = string | string[] | number | undefined;

/** Headers whose value an exchange shows although their name sounds like a credential's. */
export const SHOWN_HEADERS: ReadonlySet<string> = new Set([HEADER_SESSION_ID]);

/**
 * Headers as an exchange shows them: every one (names lower-cased, repeated values joined with `, `), the
 * value of any whose name suggests a credential (`Authorization`, `Cookie`, `Set-Cookie`, `X-Api-Key`, …:
 * see `secretHeader`) replaced by `[REDACTED]`, whatever `--no-redact` says. `Mcp-Session-Id` is kept: it
 * identifies the session (ours is the feed's own session id, shown everywhere already).
 */
export function maskHeaders(headers: Readonly<Record<string, HeaderValue>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    const lower = name.toLowerCase();
    out[lower] =
      !SHOWN_HEADERS.has(lower) && secretHeader(lower)
        ? REDACTED
        : Array.isArray(v)
          ? v.join(', ')
          : String(v);
  }
  return out;
}

/** One exchange as a session event. `startedAt` is a performance.now() time. */
export function exchangeEvent(
  side: ExchangeSide,
  method: string,
  path: string,
  requestHeaders: Readonly<Record<string, HeaderValue>>,
  status: number,
  responseHeaders: Readonly<Record<string, HeaderValue>>,
  startedAt: number,
  now: number,
  sse?: SseIds,
  error?: string,
): HttpExchangeEvent {
  return {
    type: 'http',
    side,
    method,
    path,
    status,
    headers: maskHeaders(requestHeaders),
    responseHeaders: maskHeaders(responseHeaders),
    durationMs: Math.round((now - startedAt) * 1000) / 1000,
    ...(sse === undefined || sse.events === 0 ? {} : { sse }),
    ...(error === undefined ? {} : { error }),
  };
}
