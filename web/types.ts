/** What the admin API's feed answers (src/admin/feed.ts; described in /openapi.json). No DOM here. */

export interface SessionRow {
  id: string;
  transport: string;
  upstream: string;
  era: string;
  bridge?: string;
  state: 'open' | 'closed';
  startedAt: string;
  closedAt: string | null;
  closeReason: string | null;
  client: { name: string; version: string } | null;
  server: { name: string; version: string } | null;
  requests: number;
  errors: number;
  lastActivity: string;
  lastSeq: number;
}

export interface Outcome {
  status: string;
  failed: boolean;
  side: string;
  by?: string;
}

/** One event of a session's feed (`/sessions/{id}/events`, `/events`). */
export interface FeedEvent {
  seq: number;
  time: string;
  session: string;
  type: string;
  direction?: 'client-to-server' | 'server-to-client';
  kind?: 'request' | 'response' | 'error' | 'notification';
  method?: string;
  id?: string | number;
  verdict?: string;
  synthetic?: boolean;
  rule?: string;
  outcome?: Outcome;
  durationMs?: number;
  requestSeq?: number;
  bytes?: number;
  truncated?: boolean;
  preview?: string;
  message?: unknown;
  [field: string]: unknown;
}

/** A breakpoint (`GET /breakpoints`). `match` is a rule's match (docs/interception.md). */
export interface BreakpointRow {
  id: string;
  match: Record<string, unknown>;
  hits: number;
}

/** A held message (`GET /paused`), its message redacted as the feed shows it. */
export interface PausedRow {
  id: string;
  session: string;
  direction: 'client-to-server' | 'server-to-client';
  kind: string;
  method?: string;
  messageId?: string | number;
  cause: string;
  message: unknown;
  heldMs: number;
  releasedInMs: number;
}
