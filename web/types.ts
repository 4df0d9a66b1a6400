/** What the admin API's feed answers (src/admin/feed.ts; described in /openapi.json). No DOM here. */

export interface SessionRow {
  id: string;
  transport: string;
  upstream: string;
  era: string;
  protocolVersion?: string;
  /** HTTP wires: the URL the client reached mcpscope at. */
  endpoint?: string;
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

/** A rule of the --rules file (`GET /rules`). */
export interface RuleRow {
  name: string;
  action: string;
  match: Record<string, unknown>;
  enabled: boolean;
  overridden?: boolean;
  times?: number;
  hits: number;
}

/** A recorded tape (`GET /tapes`). */
export interface TapeRow {
  id: string;
  file: string;
  sizeBytes: number;
  startedAt: string;
  modifiedAt: string;
  session: string;
  transport: string;
  upstream: string;
  client: { name: string; version: string } | null;
  server: { name: string; version: string } | null;
}

export interface Trend {
  direction: 'rising' | 'falling' | 'stable';
  change: number;
  confidence: number;
}

/** `?series=1h`: the hour step by step, oldest first. */
export interface StatsSeries {
  step_s: number;
  end: string;
  calls: number[];
  errorRate: Array<number | null>;
  p50Ms: Array<number | null>;
  p95Ms: Array<number | null>;
  health: number[];
}

export interface WindowFigures {
  calls: number;
  errors: number;
  errorRate: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** The figures of the proxy, an upstream or a tool (`/stats`, `/stats/upstreams/{name}`, `/stats/tools/{name}`). */
export interface TargetStats {
  name?: string;
  health: number;
  windows: { '1m': WindowFigures; '5m': WindowFigures; '1h': WindowFigures };
  trends: { latency: Trend; errorRate: Trend; traffic: Trend };
  series?: StatsSeries;
}
