/**
 * What transports and the process manager report for metrics: things only they see. Each is optional and
 * null when metrics are off, so the hot path pays one check.
 */

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

export interface StreamObserver {
  opened(kind: StreamKindLabel): void;
  closed(seconds: number): void;
  /** One event written; `idleSeconds` is the quiet time before it on a long-lived stream, else -1. */
  sent(idleSeconds: number): void;
  dropped(reason: DropReason): void;
  resumed(ok: boolean): void;
  backpressure(action: BackpressureAction): void;
}

/** How one reconnection attempt to an upstream SSE stream ended (`exhausted`: the last one failed, gave up). */
export type ReconnectResult = 'ok' | 'failed' | 'exhausted';

/**
 * What outbound SSE clients report about their upstream streams: reconnections, `Last-Event-ID`
 * resumptions (`upstream_ok` or `upstream_rejected`), events dropped as already delivered, and the quiet
 * time between two events on a long-lived stream.
 */
export interface UpstreamStreamObserver {
  reconnect(result: ReconnectResult): void;
  resumed(ok: boolean): void;
  deduplicated(): void;
  idle(seconds: number): void;
}

export type ShutdownResult = 'graceful' | 'terminated' | 'killed';

export interface ProcessObserver {
  started(spawnSeconds: number): void;
  exited(lifetimeSeconds: number, crashed: boolean): void;
  stopped(result: ShutdownResult, seconds: number): void;
  restarted(): void;
}
