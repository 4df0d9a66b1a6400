import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/**
 * The tape format: JSON Lines, one header line, then one line per event, appended as traffic flows.
 * Documented in docs/tapes.md, with a JSON Schema in docs/tape.schema.json.
 */
export const TAPE_FORMAT = 'mcpscope-tape';
/** Bumped on any change an older reader could misread; readers accept every version up to their own. */
export const TAPE_VERSION = 1;
/** File name suffix of a tape. */
export const TAPE_EXTENSION = '.tape.jsonl';

export interface PeerInfoRecord {
  name?: string;
  version?: string;
}

export interface TapeHeader {
  format: typeof TAPE_FORMAT;
  version: number;
  /** The mcpscope version that wrote it. */
  mcpscope: string;
  /** The tape's own id: also its file name, less TAPE_EXTENSION. */
  id: string;
  /** mcpscope's session id. */
  sessionId: string;
  /** How the client reached mcpscope: 'stdio', 'streamable-http', … */
  transport: string;
  /** The upstream, described: a command line or a URL (no credentials). */
  upstream: string;
  /** Wall-clock start, ISO 8601. Event offsets count from here. */
  startedAt: string;
  /**
   * The client's connection as it arrived (remote address, headers), secrets redacted; with authorization
   * on, the bounded label of its token's subject (never the token).
   */
  client?: { remoteAddress?: string; headers?: Record<string, string>; endpoint?: string; subject?: string };
  /** Known once the handshake completes; the `initialized` event carries them (see TapeInfoEvent). */
  /** 'legacy' (2024-11-05 … 2025-11-25, initialize) or 'modern' (2026-07-28, an envelope per request). */
  era?: 'legacy' | 'modern';
  protocolVersion?: string;
  clientInfo?: PeerInfoRecord;
  serverInfo?: PeerInfoRecord;
  upstreamSessionId?: string;
  /**
   * Whether values were redacted before writing, and by which rules beyond the built-in ones (never the
   * values themselves). The built-in rules apply whenever `enabled` is true.
   */
  redaction: { enabled: boolean; paths: string[]; patterns: string[] };
}

export type TapeDirection = 'c2s' | 's2c';

/** A message as it passed mcpscope. `t` is milliseconds since the header's startedAt (monotonic clock). */
export interface TapeMessageEvent {
  t: number;
  dir: TapeDirection;
  msg: JSONRPCMessage;
  /** mcpscope built this message itself (an error, a cancellation, a stage's reply). */
  synthetic?: true;
  /**
   * An interception rule or a breakpoint made, changed, delayed, dropped or held it: the rule's name (or
   * `breakpoint:<id>`) and what it did (mock, error, delay, patch, drop, fault_*, break).
   */
  rule?: { rule: string; action: string };
  /** The message went no further, and why (`reply` means a stage answered it). */
  drop?: string;
  /** For server → client messages: the JSON-RPC id of the client request it belongs to, when known. */
  rel?: string | number;
  /** For server → client messages over Streamable HTTP: the SSE event id the client saw it under. */
  sse?: number;
  /** With tracing on: the trace and span ids of the request span this message belongs to. */
  trace?: string;
  span?: string;
}

/** A transport edge or tape bookkeeping. */
export interface TapeEdgeEvent {
  t: number;
  edge: 'initialized' | 'error' | 'dropped' | 'closed' | 'event';
  /** `initialized`: the handshake's outcome (merged into the header by readers). */
  era?: 'legacy' | 'modern';
  protocolVersion?: string;
  clientInfo?: PeerInfoRecord;
  serverInfo?: PeerInfoRecord;
  upstreamSessionId?: string;
  /** `error`: an mcpscope error code (UPSTREAM_EXITED, UPSTREAM_TIMEOUT, …) and its message. */
  code?: string;
  message?: string;
  /** `event`: a session event (see src/session/events.ts): a restart, a cut stream, a stderr line, … */
  event?: { type: string } & Record<string, unknown>;
  /** `dropped`: events the writer could not keep up with and left out. */
  count?: number;
  /** `closed`: why the session ended (absent for a clean end), and whether the tape is whole. */
  reason?: string;
  complete?: boolean;
}

export type TapeEvent = TapeMessageEvent | TapeEdgeEvent;

export function isMessageEvent(event: TapeEvent): event is TapeMessageEvent {
  return 'msg' in event;
}

/** `20261125T101502Z-1a2b3c4d`: sorts by start time, unique per session. */
export function tapeId(startedAt: Date, sessionId: string): string {
  const stamp = startedAt
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${sessionId.replace(/[^A-Za-z0-9]/g, '').slice(0, 8)}`;
}
