/**
 * What transports and the process manager report for metrics: things only they see. Each is optional and
 * null when metrics are off, so the hot path pays one check.
 */

export type StreamKindLabel = 'post' | 'get' | 'resume';

export interface StreamObserver {
  opened(kind: StreamKindLabel): void;
  closed(seconds: number): void;
  /** One event written; `idleSeconds` is the quiet time before it on a long-lived stream, else -1. */
  sent(idleSeconds: number): void;
  dropped(reason: 'no_stream' | 'backlog_full'): void;
  resumed(ok: boolean): void;
}

export type ShutdownResult = 'graceful' | 'terminated' | 'killed';

export interface ProcessObserver {
  started(spawnSeconds: number): void;
  exited(lifetimeSeconds: number, crashed: boolean): void;
  stopped(result: ShutdownResult, seconds: number): void;
  restarted(): void;
}
