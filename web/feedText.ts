/**
 * How the Network and Console views read the feed: which events are network events and what each says,
 * and which are console lines. Pure, no DOM.
 */
import type { FeedEvent } from './types.js';

/** Feed events the Network view shows. */
export const NETWORK_EVENTS = new Set([
  'http',
  'stream-opened',
  'stream-closed',
  'stream-resumed',
  'upstream-reconnect',
  'upstream-resumed',
  'undelivered',
  'backpressure',
]);

/** What the masking puts in place of a credential (src/tape/redact.ts REDACTED). */
export const MASKED = '[REDACTED]';

export type Headers = Record<string, string>;

/** Headers MCP defines or relies on: marked in the tables. */
export const isMcpHeader = (name: string): boolean => name.startsWith('mcp-') || name === 'last-event-id';

/** One row: what happened, in a few words. */
export function describeNetwork(e: FeedEvent): { what: string; detail: string; failed: boolean } {
  switch (e.type) {
    case 'http': {
      const side = e.side === 'upstream' ? 'mcpscope → upstream' : 'client → mcpscope';
      const headers = (e.headers ?? {}) as Headers;
      const sse = e.sse as { events: number; firstId: number; lastId: number } | undefined;
      const parts: string[] = [];
      if (headers['last-event-id'] !== undefined)
        parts.push(`resumes after event ${headers['last-event-id']}`);
      if (sse)
        parts.push(
          sse.events === 1
            ? `1 SSE event (id ${sse.firstId})`
            : `${sse.events} SSE events (ids ${sse.firstId}–${sse.lastId})`,
        );
      if (typeof e.error === 'string') parts.push(e.error);
      const status = Number(e.status ?? 0);
      return {
        what: `${side}  ${String(e.method)} ${String(e.path)}  ${status === 0 ? 'no response' : status}`,
        detail: parts.join('; '),
        failed: status === 0 || status >= 400,
      };
    }
    case 'stream-opened':
      return { what: `stream opened (${String(e.stream)})`, detail: String(e.wire ?? ''), failed: false };
    case 'stream-closed':
      return { what: 'stream closed', detail: `after ${Number(e.seconds ?? 0).toFixed(1)} s`, failed: false };
    case 'stream-resumed':
      return {
        what: 'client resumed a stream (Last-Event-ID)',
        detail: e.ok ? 'replayed what it missed' : 'unknown event id: refused',
        failed: !e.ok,
      };
    case 'upstream-reconnect':
      return { what: 'upstream stream reconnected', detail: String(e.result), failed: e.result !== 'ok' };
    case 'upstream-resumed':
      return {
        what: 'upstream stream resumed (Last-Event-ID)',
        detail: e.ok ? 'ok' : 'refused: what was missed is lost',
        failed: !e.ok,
      };
    case 'undelivered':
      return { what: 'a message could not be delivered', detail: String(e.reason), failed: true };
    default:
      return {
        what: `backpressure: ${String(e.action)}`,
        detail: String(e.wire ?? ''),
        failed: e.action === 'closed',
      };
  }
}

export type Level = 'stderr' | 'error' | 'warn' | 'info';

/** A feed event as a console line, or undefined when it is not one. */
export function consoleLine(e: FeedEvent): { level: Level; text: string } | undefined {
  switch (e.type) {
    case 'stderr':
      return { level: 'stderr', text: String(e.line ?? '') };
    case 'error':
      return { level: 'error', text: `${String(e.code ?? 'error')}: ${String(e.message ?? '')}` };
    case 'session-closed':
      return typeof e.code === 'string'
        ? { level: 'error', text: `session closed: ${e.code}: ${String(e.message ?? '')}` }
        : undefined;
    case 'process-started':
      return {
        level: 'info',
        text: `server process ${String(e.pid ?? '')} started: ${String(e.command ?? '')}`,
      };
    case 'process-exited': {
      const how = e.signal ? `signal ${String(e.signal)}` : `code ${String(e.code)}`;
      return {
        level: e.crashed ? 'error' : 'info',
        text: `server process ${String(e.pid ?? '')} exited (${how}) after ${Number(e.lifetimeSeconds ?? 0).toFixed(1)} s`,
      };
    }
    case 'process-restarted':
      return { level: 'warn', text: `server process restarted (attempt ${String(e.attempt)})` };
    case 'process-stopped':
      return {
        level: e.result === 'killed' ? 'warn' : 'info',
        text: `server process stopped (${String(e.result)})`,
      };
    case 'session-expired':
      return {
        level: 'warn',
        text: `mcpscope closed the session (${String(e.reason)}) after ${Number(e.idleSeconds ?? 0).toFixed(0)} s idle`,
      };
    case 'paused':
      return e.state === 'timed_out'
        ? {
            level: 'warn',
            text: `${String(e.method ?? 'a message')} held by ${String(e.cause)} was released unchanged at the breakpoint timeout`,
          }
        : undefined;
    case 'undelivered':
      return { level: 'warn', text: `a message to the client could not be delivered (${String(e.reason)})` };
    case 'backpressure':
      return e.action === 'closed'
        ? { level: 'warn', text: 'the client was not reading: its stream was closed (it may resume)' }
        : undefined;
    case 'stream-resumed':
      return e.ok ? undefined : { level: 'warn', text: 'a client asked to resume from an unknown event id' };
    case 'upstream-reconnect':
      return e.result === 'ok'
        ? { level: 'info', text: 'the upstream stream reconnected' }
        : {
            level: e.result === 'exhausted' ? 'error' : 'warn',
            text: `upstream reconnection ${String(e.result)}`,
          };
    case 'upstream-resumed':
      return e.ok
        ? undefined
        : { level: 'warn', text: 'the upstream refused to resume its stream: events were lost' };
    case 'bridge':
      return e.translation === 'refused'
        ? { level: 'warn', text: `--bridge refused: ${String(e.detail ?? '')}` }
        : undefined;
    case 'gateway':
      return e.state === 'opened'
        ? { level: 'info', text: `gateway: upstream ${String(e.upstream)} opened` }
        : {
            level: e.state === 'missing' ? 'warn' : 'error',
            text: `gateway: upstream ${String(e.upstream)} ${String(e.state)}${e.detail ? `: ${String(e.detail)}` : ''}`,
          };
    default:
      return undefined;
  }
}
