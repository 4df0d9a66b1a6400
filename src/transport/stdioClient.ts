import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { McpscopeError, errorMessage, upstreamProtocolError } from '../jsonrpc/errors.js';
import { syntheticFrame, type Frame } from '../jsonrpc/framing.js';
import type { ManagedProcess, ProcessManager, ProcessSpec } from '../process/processManager.js';
import { NdjsonChannel, type NdjsonHandler } from './ndjson.js';
import type { Transport } from './transport.js';
import { TRANSIENT_EVENTS, type EventSink, type SessionEvent } from '../session/events.js';

/** Cap on bytes queued for a child that is not reading its stdin (16 MiB). */
export const MAX_CHILD_BACKLOG_BYTES = 16 * 1024 * 1024;
/** Messages held while a crashed child restarts; past this, requests fail at once. */
export const MAX_RESTART_QUEUE = 1_000;
/** How long a restarted child may take to answer the replayed initialize (10 s). */
export const REINITIALIZE_TIMEOUT_MS = 10_000;
/** How long the rest of an exited child's stdout may take to be read (1 s). */
export const STDOUT_DRAIN_MS = 1_000;
/** Process events kept between prestart() and start() (its start, stderr lines); later ones are dropped. */
const MAX_EARLY_EVENTS = 100;
/** The id of the replayed initialize request, never one a client uses. */
const REINIT_ID = 'mcpscope-reinitialize';

/** Resolves once `stream` has ended or closed, or after `ms`. */
function ended(stream: Readable, ms: number): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      stream.off('end', done);
      stream.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stream.once('end', done);
    stream.once('close', done);
  });
}

export interface RestartPolicy {
  /** Restarts allowed over the transport's life. */
  maxRestarts: number;
  /** First backoff delay; doubles each restart. Default 100 ms. */
  initialDelayMs?: number;
  /** Longest backoff delay. Default 5 s. */
  maxDelayMs?: number;
}

export interface StdioClientTransportOptions {
  spec: ProcessSpec;
  processes: ProcessManager;
  maxMessageBytes: number;
  logger: Logger;
  /** Restart a crashed child (re-running the recorded initialize handshake). Default: never. */
  restart?: RestartPolicy | null;
}

/**
 * Outbound stdio: the upstream server is a child process spawned (and stopped) through the ProcessManager.
 * With a restart policy, a child that crashes is restarted with backoff and re-initialized with the
 * handshake the client sent, so the client's session goes on; requests in flight at the crash fail.
 */
export class StdioClientTransport implements Transport, NdjsonHandler {
  readonly kind = 'stdio' as const;
  readonly #options: StdioClientTransportOptions;
  #proc: ManagedProcess | undefined;
  #channel: NdjsonChannel | undefined;
  #closing = false;
  /** Flow control: the child's stdout is not read while the client is behind. */
  #paused = false;
  #restarts = 0;
  /** Non-null while restarting: what the client sent meanwhile. */
  #held: Frame[] | null = null;
  #initialize: Frame | undefined;
  #initialized: Frame | undefined;
  #reinitialized: ((ok: boolean) => void) | undefined;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;
  onreset?: (reason: McpscopeError) => void;
  onrestored?: () => void;
  onevent?: EventSink;
  /** The first spawn, shared by prestart() and start(). */
  #spawning: Promise<void> | undefined;
  /**
   * Between prestart() and start(): the process's events, kept for the session (bounded; null once it has
   * them), and the promise that start() resolves. The child's stdout is not read meanwhile (its pipe holds
   * what it writes), nor is its exit reported before what it wrote.
   */
  #heldEvents: SessionEvent[] | null = null;
  #attach: (() => void) | undefined;
  #attached: Promise<void> = Promise.resolve();
  /** Hands the process's events to whoever listens now (the Session sets `onevent` after construction). */
  readonly #emit: EventSink = (event) => {
    const early = this.#heldEvents;
    if (early === null) this.onevent?.(event);
    else if (early.length < MAX_EARLY_EVENTS && !TRANSIENT_EVENTS.has(event.type)) early.push(event);
  };

  constructor(options: StdioClientTransportOptions) {
    this.#options = options;
  }

  get process(): ManagedProcess | undefined {
    return this.#proc;
  }

  /** True while a crashed child is being restarted. */
  get restarting(): boolean {
    return this.#held !== null;
  }

  /**
   * Start the server's process now, before there is a session to take what it says: its events are kept,
   * its stdout is left unread and its exit unreported until start(). For `forward stdio`, whose server can
   * then boot while the rest of mcpscope loads. A failure to spawn is thrown by start().
   */
  prestart(): void {
    if (this.#spawning) return;
    this.#heldEvents = [];
    this.#attached = new Promise((resolve) => (this.#attach = resolve));
    this.#spawning = this.#spawn();
    // Reported by start(), which awaits the same promise.
    this.#spawning.catch(() => undefined);
  }

  async start(): Promise<void> {
    this.#spawning ??= this.#spawn();
    await this.#spawning;
    const early = this.#heldEvents;
    if (early === null) return;
    this.#heldEvents = null;
    for (const event of early) this.onevent?.(event);
    this.#proc?.releaseStdout();
    this.#channel?.start();
    if (this.#paused) this.#channel?.pause();
    this.#attach?.();
  }

  async #spawn(): Promise<void> {
    const proc = await this.#options.processes.spawn(this.#options.spec, this.#emit);
    this.#proc = proc;
    const channel = new NdjsonChannel(
      proc.child.stdout,
      proc.child.stdin,
      this.#options.maxMessageBytes,
      this,
    );
    this.#channel = channel;
    // Prestarted: read once start() hands the process to its session.
    if (this.#heldEvents === null) {
      proc.releaseStdout();
      channel.start();
      if (this.#paused) channel.pause();
    }
    void proc.exited.then(async (info) => {
      await this.#attached;
      // What the child wrote before exiting is still in the pipe (more so when paused): read it to the
      // end first, in bounded time (a grandchild may hold the pipe open).
      channel.resume();
      await ended(proc.child.stdout, STDOUT_DRAIN_MS);
      if (this.#closing || proc.stopping) {
        this.onclose?.();
        return;
      }
      this.#crashed(proc.exitError(info));
    });
  }

  #crashed(err: McpscopeError): void {
    const policy = this.#options.restart;
    if (!policy || this.#restarts >= policy.maxRestarts) {
      this.#reinitialized?.(false);
      const final = policy
        ? new McpscopeError(err.code, `${err.message}; gave up after ${this.#restarts} restarts`, {
            cause: err,
            details: err.details,
          })
        : err;
      this.#options.logger.error({ code: final.code, ...final.details }, final.message);
      this.onclose?.(final);
      return;
    }
    this.#restarts++;
    const attempt = this.#restarts;
    const delay = Math.min((policy.initialDelayMs ?? 100) * 2 ** (attempt - 1), policy.maxDelayMs ?? 5_000);
    this.#held ??= [];
    this.#reinitialized?.(false);
    this.onreset?.(
      new McpscopeError(err.code, `${err.message}; restarting it (${attempt} of ${policy.maxRestarts})`, {
        cause: err,
        details: { ...err.details, restart: attempt },
      }),
    );
    this.#options.logger.warn({ attempt, delayMs: delay, code: err.code }, `${err.message}; restarting`);
    setTimeout(() => void this.#restart(), delay).unref();
  }

  async #restart(): Promise<void> {
    if (this.#closing) return;
    try {
      await this.#spawn();
    } catch (err) {
      this.#crashed(
        err instanceof McpscopeError
          ? err
          : new McpscopeError('UPSTREAM_EXITED', errorMessage(err), { cause: err }),
      );
      return;
    }
    this.onevent?.({ type: 'process-restarted', attempt: this.#restarts });
    if (this.#initialize && !(await this.#reinitialize(this.#initialize))) return;
    const held = this.#held ?? [];
    this.#held = null;
    this.onrestored?.();
    for (const frame of held) this.send(frame);
  }

  /** Replay the client's handshake to a fresh child; its answer is for us, not the client. */
  async #reinitialize(initialize: Frame): Promise<boolean> {
    const replay = syntheticFrame({ ...(initialize.msg as object), id: REINIT_ID });
    const answered = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), REINITIALIZE_TIMEOUT_MS);
      this.#reinitialized = (ok) => {
        clearTimeout(timer);
        this.#reinitialized = undefined;
        resolve(ok);
      };
    });
    this.#channel?.write(replay.raw);
    if (!(await answered)) {
      this.#options.logger.error('restarted upstream did not answer the replayed initialize');
      return false;
    }
    if (this.#initialized) this.#channel?.write(this.#initialized.raw);
    return true;
  }

  onFrame(frame: Frame): void {
    if (frame.id === REINIT_ID && (frame.kind === 'response' || frame.kind === 'error')) {
      this.#reinitialized?.(frame.kind === 'response');
      return;
    }
    this.onmessage?.(frame);
  }

  onBadLine(err: McpscopeError, line: Buffer): void {
    if (err.code === 'PARSE_ERROR') {
      this.#options.logger.warn(
        { pid: this.#proc?.pid, line: line.subarray(0, 200).toString('utf8') },
        'upstream wrote a line to stdout that is not JSON-RPC (servers must log to stderr); ignored',
      );
      return;
    }
    this.onerror?.(upstreamProtocolError(err));
  }

  send(frame: Frame): void {
    if (this.#closing) return;
    if (frame.kind === 'request' && frame.method === 'initialize') this.#initialize = frame;
    else if (frame.method === 'notifications/initialized') this.#initialized = frame;
    const held = this.#held;
    if (held) {
      if (held.length < MAX_RESTART_QUEUE) held.push(frame);
      else this.#refuse(frame, 'the upstream is restarting and too many messages are waiting');
      return;
    }
    const channel = this.#channel;
    if (!channel) return;
    if (channel.backlogBytes > MAX_CHILD_BACKLOG_BYTES) {
      this.#refuse(frame, `upstream is not reading its stdin (${channel.backlogBytes} bytes queued)`);
      return;
    }
    channel.write(frame.raw);
  }

  #refuse(frame: Frame, why: string): void {
    this.onerror?.(
      new McpscopeError('UPSTREAM_BACKPRESSURE', `${why}; message not sent`, {
        details: { id: frame.kind === 'request' ? frame.id : undefined },
      }),
    );
  }

  /** The client ended its input: so does the child's (what is queued for it is written first). */
  endInput(): void {
    this.#proc?.child.stdin.end();
  }

  /** Stop reading the child's stdout: its pipe fills and the child blocks on its writes. */
  pause(): void {
    this.#paused = true;
    this.#channel?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#channel?.resume();
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#held = null;
    await this.#proc?.stop();
  }
}
