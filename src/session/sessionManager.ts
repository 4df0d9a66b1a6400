import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { McpscopeError } from '../jsonrpc/errors.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Transport } from '../transport/transport.js';
import type { ExpiryReason } from './events.js';
import { Session, type ClientConnection } from './session.js';

/** Default per-request timeout (60 s). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Default idle expiry of a session with no traffic and no open stream (30 min). */
export const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;
/** Default idle expiry of a session that owns a server process, whatever streams it has open (5 min). */
export const DEFAULT_PROCESS_IDLE_MS = 5 * 60_000;
/** Default cap on concurrent server processes, one per session (forward http with a command). */
export const DEFAULT_MAX_PROCESSES = 100;
/** Default cap on concurrent sessions. */
export const DEFAULT_MAX_SESSIONS = 10_000;
/** Default time in-flight requests get to finish when mcpscope is asked to stop (10 s). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
/** How often a draining shutdown checks whether every request has been answered. */
const DRAIN_POLL_MS = 20;
/** Finest and coarsest resolution of the timeout sweep. */
const MIN_SWEEP_MS = 10;
const MAX_SWEEP_MS = 1_000;

export interface SessionManagerOptions {
  pipeline: Pipeline;
  logger: Logger;
  /** Default DEFAULT_REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
  /** Default DEFAULT_SESSION_IDLE_MS; 0 disables expiry. */
  sessionIdleMs?: number;
  /** Default DEFAULT_MAX_SESSIONS. */
  maxSessions?: number;
  /**
   * Every session owns a server process of its own (forward http with a command): `processIdleMs` and
   * `maxProcesses` apply. Default false.
   */
  ownsProcesses?: boolean;
  /**
   * With `ownsProcesses`: close a session (stopping its process) once it has had no traffic and no request
   * in flight for this long, open streams or not. Default DEFAULT_PROCESS_IDLE_MS; 0 disables it.
   */
  processIdleMs?: number;
  /**
   * With `ownsProcesses`: at this many sessions, a new one closes the least recently used session with no
   * request in flight (stopping its process) or, when there is none, is refused. Default DEFAULT_MAX_PROCESSES.
   */
  maxProcesses?: number;
}

export interface CreateSessionOptions {
  inbound: Transport;
  outbound: Transport;
  upstream: string;
  client?: ClientConnection;
  /** Sessions with an open stream are not idle, whatever their last message. */
  isBusy?: () => boolean;
  /** performance.now() of the message that opened it (an HTTP initialize), when one did. */
  openedAt?: number;
}

function shuttingDown(what: string): McpscopeError {
  return new McpscopeError(
    'SHUTTING_DOWN',
    `mcpscope is shutting down: ${what}; retry against another instance or once it is back`,
  );
}

/**
 * Owns every live session: ids, the cap, idle expiry and request timeouts. One sweep timer serves all
 * sessions, so no message allocates a timer of its own.
 */
export class SessionManager {
  readonly #sessions = new Map<string, Session>();
  readonly #busy = new Map<string, () => boolean>();
  /** Sessions whose upstream is still starting: neither idle nor evictable yet. */
  readonly #starting = new Set<Session>();
  readonly #pipeline: Pipeline;
  readonly #logger: Logger;
  readonly #requestTimeoutMs: number;
  readonly #idleMs: number;
  readonly #maxSessions: number;
  /** 0 when sessions own no process or the process idle expiry is off. */
  readonly #processIdleMs: number;
  /** Infinity when sessions own no process. */
  readonly #maxProcesses: number;
  readonly #sweep: NodeJS.Timeout;
  #total = 0;
  #draining = false;

  constructor(options: SessionManagerOptions) {
    this.#pipeline = options.pipeline;
    this.#logger = options.logger;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#idleMs = options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;
    this.#maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    const owns = options.ownsProcesses ?? false;
    this.#processIdleMs = owns ? (options.processIdleMs ?? DEFAULT_PROCESS_IDLE_MS) : 0;
    this.#maxProcesses = owns ? (options.maxProcesses ?? DEFAULT_MAX_PROCESSES) : Infinity;
    const every = Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, Math.floor(this.#requestTimeoutMs / 20)));
    this.#sweep = setInterval(() => this.#sweepOnce(), every);
    this.#sweep.unref();
  }

  get size(): number {
    return this.#sessions.size;
  }

  get total(): number {
    return this.#total;
  }

  get(id: string): Session | undefined {
    return this.#sessions.get(id);
  }

  list(): IterableIterator<Session> {
    return this.#sessions.values();
  }

  /**
   * Throws TOO_MANY_SESSIONS when the cap is reached, before anything is spawned. At the process cap, the
   * least recently used session with no request in flight is closed (its process stopped) to make room.
   */
  reserve(): string {
    if (this.#draining) throw shuttingDown('no new sessions are accepted');
    if (this.#sessions.size >= this.#maxSessions) {
      throw new McpscopeError(
        'TOO_MANY_SESSIONS',
        `mcpscope already holds ${this.#sessions.size} sessions (the limit); close idle clients or raise --max-sessions`,
        { details: { limit: this.#maxSessions } },
      );
    }
    if (this.#maxProcesses !== Infinity) this.#makeRoom();
    return randomUUID();
  }

  /** At --max-processes, evict the least recently used session that waits for no answer. */
  #makeRoom(): void {
    let live = 0;
    let lru: Session | undefined;
    for (const session of this.#sessions.values()) {
      // A session being closed is on its way out (its process stopping): it no longer takes a place.
      if (session.closed) continue;
      live++;
      if (session.awaitingAnswers || this.#starting.has(session)) continue;
      if (!lru || session.lastActivity < lru.lastActivity) lru = session;
    }
    const max = this.#maxProcesses;
    if (live < max) return;
    if (!lru) {
      throw new McpscopeError(
        'TOO_MANY_SESSIONS',
        `all ${live} server processes (the --max-processes limit) have requests in flight, so none could be stopped to make room; retry shortly or raise --max-processes`,
        { details: { limit: max, setting: 'maxProcesses' } },
      );
    }
    this.#expire(
      lru,
      'evicted',
      `session closed to make room for a new one: its server process was the least recently used idle one when the --max-processes limit (${max}) was reached; start a new session`,
    );
  }

  /** Close a session on mcpscope's own account, telling its observers why first. */
  #expire(session: Session, reason: ExpiryReason, message: string): void {
    const idleSeconds = (performance.now() - session.lastActivity) / 1000;
    session.event({ type: 'session-expired', reason, idleSeconds });
    this.#logger.info({ session: session.id, reason, idleSeconds: Math.round(idleSeconds) }, message);
    void session.close(new McpscopeError('SESSION_NOT_FOUND', message, { details: { reason } }));
  }

  /** Create and start a session under an id from reserve(). */
  async create(id: string, options: CreateSessionOptions): Promise<Session> {
    const session = new Session({
      id,
      inbound: options.inbound,
      outbound: options.outbound,
      upstream: options.upstream,
      client: options.client,
      openedAt: options.openedAt,
      pipeline: this.#pipeline,
      logger: this.#logger,
    });
    this.#sessions.set(id, session);
    if (options.isBusy) this.#busy.set(id, options.isBusy);
    this.#total++;
    session.onClose(() => {
      this.#sessions.delete(id);
      this.#busy.delete(id);
    });
    this.#starting.add(session);
    try {
      await session.start();
    } catch (err) {
      await session.close(err instanceof McpscopeError ? err : undefined);
      throw err;
    } finally {
      this.#starting.delete(session);
    }
    // Idle from now: the time its process took to start was no one's idleness.
    session.lastActivity = Math.max(session.lastActivity, performance.now());
    return session;
  }

  /**
   * Graceful stop: refuse new sessions and new requests, give the requests in flight up to `graceMs` to be
   * answered, then fail what is left with SHUTTING_DOWN. Resolves with how many requests were failed.
   */
  async drain(graceMs: number): Promise<number> {
    this.#draining = true;
    for (const session of this.#sessions.values()) session.draining = true;
    const deadline = performance.now() + graceMs;
    while (this.inFlight > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
    let failed = 0;
    const err = shuttingDown(`the request was not answered within the ${graceMs} ms shutdown grace period`);
    for (const session of this.#sessions.values()) failed += session.failPending(err);
    return failed;
  }

  /** Client requests waiting for an answer, all sessions. */
  get inFlight(): number {
    let n = 0;
    for (const session of this.#sessions.values()) n += session.pendingCount;
    return n;
  }

  #sweepOnce(): void {
    const now = performance.now();
    for (const session of this.#sessions.values()) {
      if (session.closed) continue;
      if (session.pendingCount > 0) session.expireRequests(now, this.#requestTimeoutMs);
      // Its process still starting, a session is not idle: its idle time counts from the start (create()).
      if (this.#starting.has(session)) continue;
      const idle = now - session.lastActivity;
      // A server process is the costly part: an open but silent stream does not keep it.
      if (this.#processIdleMs > 0 && idle > this.#processIdleMs && !session.awaitingAnswers) {
        this.#expire(
          session,
          'process_idle',
          `session expired: its server process was idle for ${this.#processIdleMs} ms (--process-idle-ms); start a new session`,
        );
      } else if (this.#idleMs > 0 && idle > this.#idleMs && !this.#busy.get(session.id)?.()) {
        this.#expire(session, 'idle', `session expired after ${this.#idleMs} ms without traffic`);
      }
    }
  }

  /** Close every session and stop the sweep. */
  async closeAll(): Promise<void> {
    clearInterval(this.#sweep);
    await Promise.allSettled([...this.#sessions.values()].map((s) => s.close()));
  }
}
