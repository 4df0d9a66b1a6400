/**
 * What happens to a session besides its messages, as one ordered stream of typed events. Transports and the
 * process manager emit them to their Session (`Transport.onevent`), the Session hands them to every stage
 * (`Stage.onEvent`), and the consumers (metrics, stats, the live feed, …) read them there: no emitter knows
 * which consumers exist. Messages themselves reach stages through `observe`, with their verdict.
 *
 * Adding a kind of event: add it to the union below, emit it where it happens, and handle it in the
 * consumers that care (a `switch` on `type`); nothing in between changes.
 *
 * Events marked transient are emitted for every message on the hot path from one reused object: read them
 * during the call, never keep them.
 */
import type { JsonRpcId } from '../jsonrpc/errors.js';
import type { Direction } from '../pipeline/stage.js';
import type { TransportKind } from '../transport/transport.js';

/** post: a POST's answer stream; get: a standalone or legacy SSE stream; resume: Last-Event-ID; socket: a WebSocket. */
export type StreamKindLabel = 'post' | 'get' | 'resume' | 'socket';

/**
 * Why a message to a client was not delivered: `no_stream` (an answer whose client is gone for good),
 * `backlog_full` (no stream open and the backlog full, or a client cut for not reading on a wire without
 * resumption), `replay_evicted` (unsent when its stream was cut for backpressure, then evicted from the
 * resumption buffer before the client came back).
 */
export type DropReason = 'no_stream' | 'backlog_full' | 'replay_evicted';

/** Flow control toward a client: upstream `paused`, `resumed`, or a stream `closed` for being too far behind. */
export type BackpressureAction = 'paused' | 'resumed' | 'closed';

/** How one reconnection attempt to an upstream SSE stream ended (`exhausted`: the last one failed, gave up). */
export type ReconnectResult = 'ok' | 'failed' | 'exhausted';

export type ShutdownResult = 'graceful' | 'terminated' | 'killed';

/** A client stream of the session's inbound wire opened (an SSE response, a WebSocket). */
export interface StreamOpenedEvent {
  readonly type: 'stream-opened';
  readonly wire: TransportKind;
  readonly stream: StreamKindLabel;
}
export interface StreamClosedEvent {
  readonly type: 'stream-closed';
  readonly wire: TransportKind;
  readonly seconds: number;
}
/** Transient. One event written to a client stream; `idleSeconds`: the quiet time before it on a long-lived stream, else -1. */
export interface StreamSentEvent {
  readonly type: 'stream-sent';
  readonly wire: TransportKind;
  idleSeconds: number;
}
/** A client asked to resume a stream with Last-Event-ID; `ok`: the event was known. */
export interface StreamResumedEvent {
  readonly type: 'stream-resumed';
  readonly wire: TransportKind;
  readonly ok: boolean;
}
export interface UndeliveredEvent {
  readonly type: 'undelivered';
  readonly wire: TransportKind;
  readonly reason: DropReason;
}
export interface BackpressureEvent {
  readonly type: 'backpressure';
  readonly wire: TransportKind;
  readonly action: BackpressureAction;
}
/** An upstream SSE stream was reconnected (or an attempt failed). */
export interface UpstreamReconnectEvent {
  readonly type: 'upstream-reconnect';
  readonly wire: TransportKind;
  readonly result: ReconnectResult;
}
export interface UpstreamResumedEvent {
  readonly type: 'upstream-resumed';
  readonly wire: TransportKind;
  readonly ok: boolean;
}
/** Transient. An upstream event already delivered came again and was dropped. */
export interface UpstreamDeduplicatedEvent {
  readonly type: 'upstream-deduplicated';
  readonly wire: TransportKind;
}
/** Transient. The quiet time between two events of a long-lived upstream stream. */
export interface UpstreamIdleEvent {
  readonly type: 'upstream-idle';
  readonly wire: TransportKind;
  seconds: number;
}
export interface ProcessStartedEvent {
  readonly type: 'process-started';
  readonly pid: number | undefined;
  readonly command: string;
  readonly spawnSeconds: number;
}
export interface ProcessExitedEvent {
  readonly type: 'process-exited';
  readonly pid: number | undefined;
  readonly code: number | null;
  readonly signal: string | null;
  readonly lifetimeSeconds: number;
  /** It exited on its own, not because mcpscope stopped it. */
  readonly crashed: boolean;
}
export interface ProcessStoppedEvent {
  readonly type: 'process-stopped';
  readonly pid: number | undefined;
  readonly result: ShutdownResult;
  readonly seconds: number;
}
export interface ProcessRestartedEvent {
  readonly type: 'process-restarted';
  readonly attempt: number;
}
/** One line the server wrote to its stderr (at most STDERR_LINE_CHARS characters of it). */
export interface StderrEvent {
  readonly type: 'stderr';
  readonly line: string;
}
/** `client`: a client's request to mcpscope; `upstream`: mcpscope's request to an HTTP upstream. */
export type ExchangeSide = 'client' | 'upstream';

/** The SSE events an HTTP response carried: how many, and the ids of the first and the last. */
export interface SseIds {
  events: number;
  firstId: number;
  lastId: number;
}

/**
 * One HTTP request of the session and its response (see src/transport/exchange.ts): the headers of both,
 * credentials masked before the event is made. A client's request is reported when its response ends (a
 * stream, when it closes); a request to the upstream when its response's headers arrive (or it failed:
 * status 0 and `error`). Built only when a stage reads them (`Session.httpExchanges`).
 */
export interface HttpExchangeEvent {
  readonly type: 'http';
  readonly side: ExchangeSide;
  readonly method: string;
  /** The URL's path, never its query. */
  readonly path: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** Client side: from when mcpscope took the request to the response's end; upstream: to its headers. */
  readonly durationMs: number;
  /** An SSE response: the events it carried (a client's: the ids mcpscope gave them). */
  readonly sse?: Readonly<SseIds>;
  /** Upstream side: why no response came (the connection failed). */
  readonly error?: string;
}
/**
 * Why mcpscope closed a session on its own: `idle` (no traffic and no open stream for `--session-idle-ms`),
 * `process_idle` (its server process idle for `--process-idle-ms`), `evicted` (its idle server process was
 * the least recently used one when a new session needed room under `--max-processes`).
 */
export type ExpiryReason = 'idle' | 'process_idle' | 'evicted';

/** mcpscope is closing the session on its own (emitted just before it closes). */
export interface SessionExpiredEvent {
  readonly type: 'session-expired';
  readonly reason: ExpiryReason;
  /** Time since the session's last message, in seconds. */
  readonly idleSeconds: number;
}
/** An error mcpscope raised for this session (rejected input, upstream failure, timeout). */
export interface ErrorEvent {
  readonly type: 'error';
  readonly code: string;
  readonly message: string;
}

/**
 * Which way `--bridge` translates: `to-modern` (an older client, a 2026-07-28 server), `to-legacy` (a
 * 2026-07-28 client, an older server), `none` (the probe found both sides in one era: nothing translated).
 */
export type BridgeDirection = 'to-modern' | 'to-legacy' | 'none';

/**
 * What `--bridge` did: the probe of the upstream's era and its verdict, and each translation, with the
 * message as it went on the upstream's side (what the server was sent or said; the client's side is in
 * the message stream as always). `kind` is a bounded label (see src/bridge/bridge.ts `BridgeKind`).
 */
export interface BridgeEvent {
  readonly type: 'bridge';
  readonly bridge: BridgeDirection;
  /** What was translated (`bridge_translations_total`'s `kind`). */
  readonly translation: string;
  /** `upstream-out`: `message` was sent to the server; `upstream-in`: the server sent it; absent: none. */
  readonly edge?: 'upstream-out' | 'upstream-in';
  readonly message?: unknown;
  /** For people: what was translated into what, or why it could not be. */
  readonly detail?: string;
}

/**
 * What became of a message held at a breakpoint (see src/intercept/breakpoints.ts): `held` (it waits for a
 * person), then one of `resumed` (sent on unchanged), `edited` (sent on as a person changed it), `dropped`
 * (a request or an answer was replaced by a DROPPED_AT_BREAKPOINT error, a notification went no further),
 * `replied` (a person answered the request in the other side's name), `timed_out` (released unchanged
 * after `--breakpoint-timeout-ms`).
 */
export type PauseState = 'held' | 'resumed' | 'edited' | 'dropped' | 'replied' | 'timed_out';

/** A message held at a breakpoint, and how its hold ended (one event when held, one when it ends). */
export interface PausedEvent {
  readonly type: 'paused';
  /** The held message's id in the admin API (`/paused/{pause}`). */
  readonly pause: string;
  /** What held it: `breakpoint:<id>` (set over the admin API) or the name of a rule with `break: true`. */
  readonly cause: string;
  readonly state: PauseState;
  readonly direction: Direction;
  /** The message's method (an answer's: its request's), when it has one. */
  readonly method?: string;
  /** The message's JSON-RPC id, when it has one. */
  readonly id?: JsonRpcId;
  /** On the end of a hold: how long the message was held, ms. */
  readonly heldMs?: number;
}

/**
 * Replay with `--match lenient` answered a request with a recording whose params differ: the answer was
 * given, but the tape no longer covers the call as it was made.
 */
export interface ReplayFallbackEvent {
  readonly type: 'replay-fallback';
  readonly method: string;
  /** The tool, prompt or resource both name. */
  readonly target?: string;
  /** The live request's JSON-RPC id. */
  readonly id: JsonRpcId;
  /** Which recording answered: its position among the tape's client messages (from 0). */
  readonly recording: number;
  /** Every difference, `arguments.b: recorded 40, got 41` (at most 50). */
  readonly differences: readonly string[];
}

/**
 * What became of one of the gateway's upstreams in a session: `opened` (its session is up), `failed` (it
 * could not be opened), `down` (it closed, crashed or became unreachable), `missing` (a merged answer,
 * a list or the handshake, went without it). `upstream` is its name in the gateway config.
 */
export interface GatewayEvent {
  readonly type: 'gateway';
  readonly upstream: string;
  readonly state: 'opened' | 'failed' | 'down' | 'missing';
  /** The mcpscope error code behind `failed`, `down` or `missing`. */
  readonly code?: string;
  /** For people: why, or what was missing from. */
  readonly detail?: string;
}

export type SessionEvent =
  | StreamOpenedEvent
  | StreamClosedEvent
  | StreamSentEvent
  | StreamResumedEvent
  | UndeliveredEvent
  | BackpressureEvent
  | UpstreamReconnectEvent
  | UpstreamResumedEvent
  | UpstreamDeduplicatedEvent
  | UpstreamIdleEvent
  | ProcessStartedEvent
  | ProcessExitedEvent
  | ProcessStoppedEvent
  | ProcessRestartedEvent
  | StderrEvent
  | HttpExchangeEvent
  | SessionExpiredEvent
  | ErrorEvent
  | BridgeEvent
  | PausedEvent
  | ReplayFallbackEvent
  | GatewayEvent;

/** Event types that are emitted for every message from a reused object (not kept by the feed). */
export const TRANSIENT_EVENTS: ReadonlySet<SessionEvent['type']> = new Set([
  'stream-sent',
  'upstream-deduplicated',
  'upstream-idle',
]);

/** Where a transport or a process sends its events: set by the Session. */
export type EventSink = (event: SessionEvent) => void;
