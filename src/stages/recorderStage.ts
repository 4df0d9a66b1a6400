import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { McpscopeError } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';
import type { Metrics } from '../observe/metrics.js';
import type { Direction, ObserverStage, Verdict } from '../pipeline/stage.js';
import type { Session } from '../session/session.js';
import { TRANSIENT_EVENTS, type SessionEvent } from '../session/events.js';
import { SHOWN_HEADERS } from '../transport/exchange.js';
import { TAPE_EXTENSION, TAPE_FORMAT, TAPE_VERSION, tapeId, type TapeHeader } from '../tape/format.js';
import { Redactor } from '../tape/redact.js';
import { DEFAULT_TAPE_QUEUE_BYTES, TapeWriter } from '../tape/tapeWriter.js';
import { VERSION } from '../version.js';

export interface RecorderOptions {
  /** Directory the tapes go to; created if missing. */
  dir: string;
  /** Default: the default rules, on. */
  redactor?: Redactor;
  logger: Logger;
  metrics?: Metrics | null;
  /** Bytes one tape may queue in memory before dropping events. Default DEFAULT_TAPE_QUEUE_BYTES. */
  maxQueueBytes?: number;
}

interface Recording {
  readonly writer: TapeWriter;
  /** performance.now() at the header's startedAt. */
  readonly origin: number;
  initialized: boolean;
  /** The last SSE event id seen on the client's side, to tell which message got a new one. */
  lastSse: number;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * `--record DIR`: one tape per session, written as messages flow. An observer: it sees each message with
 * its final verdict, turns it into one line (the raw bytes when nothing needs redacting) and hands it to
 * the tape's background writer. A disk that is slow, full or read-only never holds a message up.
 */
export class RecorderStage implements ObserverStage {
  readonly kind = 'observer' as const;
  readonly name = 'recorder';
  readonly httpExchanges = true;
  readonly dir: string;
  readonly #redactor: Redactor;
  readonly #logger: Logger;
  readonly #metrics: Metrics | null;
  readonly #maxQueueBytes: number;
  readonly #recordings = new Map<Session, Recording>();
  readonly #closing = new Set<Promise<void>>();
  #errorLogged = false;

  constructor(options: RecorderOptions) {
    this.dir = options.dir;
    this.#redactor = options.redactor ?? new Redactor();
    this.#logger = options.logger.child({ stage: 'recorder' });
    this.#metrics = options.metrics ?? null;
    this.#maxQueueBytes = options.maxQueueBytes ?? DEFAULT_TAPE_QUEUE_BYTES;
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (err) {
      // Reported once, by the first tape that cannot be created; traffic flows regardless.
      this.#logger.debug({ err: String(err) }, 'could not create the tape directory');
    }
  }

  onSessionOpen(session: Session): void {
    const started = new Date(session.startedAt);
    const id = tapeId(started, session.id);
    const origin = session.openedAt;
    const writer = new TapeWriter(
      join(this.dir, `${id}${TAPE_EXTENSION}`),
      {
        failed: (err, path) => this.#failed(err, path),
        wrote: (bytes) => this.#metrics?.tapeSize.inc(bytes),
        dropped: (count) => this.#metrics?.tapeOperations.labels('drop').inc(count),
      },
      (count) => `{"t":${round(performance.now() - origin)},"edge":"dropped","count":${count}}`,
      this.#maxQueueBytes,
    );
    const client = session.client;
    const header: TapeHeader = {
      format: TAPE_FORMAT,
      version: TAPE_VERSION,
      mcpscope: VERSION,
      id,
      sessionId: session.id,
      transport: session.inbound.kind,
      upstream: this.#redactor.text(session.upstream),
      startedAt: started.toISOString(),
      client: client && {
        remoteAddress: client.remoteAddress,
        headers: client.headers && this.#redactor.headers(client.headers),
        ...(client.endpoint === undefined ? {} : { endpoint: this.#redactor.text(client.endpoint) }),
        ...(client.principal === undefined ? {} : { subject: this.#redactor.text(client.principal.label) }),
      },
      redaction: this.#redactor.describe(),
    };
    writer.append(JSON.stringify(header));
    this.#recordings.set(session, { writer, origin, initialized: false, lastSse: 0 });
    this.#metrics?.tapeOperations.labels('open').inc();
  }

  observe(frame: Frame, session: Session, direction: Direction, verdict: Verdict): void {
    const rec = this.#recordings.get(session);
    if (!rec) return;
    this.#write(
      rec,
      frame,
      direction,
      verdict.action === 'forward' ? undefined : dropReason(verdict),
      direction === 'server-to-client' && verdict.action === 'forward'
        ? this.#sseId(rec, session)
        : undefined,
    );
    // A stage's reply went to the sender: the sender saw it, so the tape keeps it too.
    if (verdict.action === 'reply') {
      this.#write(
        rec,
        verdict.frame,
        direction === 'client-to-server' ? 'server-to-client' : 'client-to-server',
      );
    }
    // The handshake's outcome: an initialize (or server/discover) answer; in 2026-07-28, which needs no
    // handshake, the first answer the server sends.
    if (
      !rec.initialized &&
      (session.serverInfo !== undefined || (session.era === 'modern' && direction === 'server-to-client'))
    )
      this.#initialized(rec, session);
  }

  onError(session: Session, err: McpscopeError): void {
    const rec = this.#recordings.get(session);
    if (!rec) return;
    rec.writer.append(
      `{"t":${round(performance.now() - rec.origin)},"edge":"error","code":${JSON.stringify(err.code)},` +
        `"message":${JSON.stringify(this.#redactor.text(err.message))}}`,
    );
  }

  /**
   * What the wires and the process report (a restart, a cut stream, a reconnection, a stderr line) joins
   * the tape as an `event` edge, in order with the messages; per-message events are left out.
   */
  onEvent(session: Session, event: SessionEvent): void {
    if (TRANSIENT_EVENTS.has(event.type)) return;
    const rec = this.#recordings.get(session);
    if (!rec) return;
    const fields =
      event.type === 'stderr'
        ? { ...event, line: this.#redactor.text(event.line) }
        : event.type === 'bridge' && event.message !== undefined
          ? { ...event, message: this.#redactor.messageValue(event.message) }
          : event.type === 'http'
            ? {
                ...event,
                headers: this.#redactor.headers(event.headers, SHOWN_HEADERS),
                responseHeaders: this.#redactor.headers(event.responseHeaders, SHOWN_HEADERS),
              }
            : event;
    rec.writer.append(
      `{"t":${round(performance.now() - rec.origin)},"edge":"event","event":${JSON.stringify(fields)}}`,
    );
  }

  onSessionClose(session: Session, reason: McpscopeError | undefined): void {
    const rec = this.#recordings.get(session);
    if (!rec) return;
    this.#recordings.delete(session);
    const last = JSON.stringify({
      t: round(performance.now() - rec.origin),
      edge: 'closed',
      // SESSION_CLOSED is the ordinary end (one side hung up); anything else says what went wrong.
      reason:
        reason && reason.code !== 'SESSION_CLOSED'
          ? `${reason.code}: ${this.#redactor.text(reason.message)}`
          : undefined,
      complete: true,
    });
    const closing = rec.writer.close(last).then(() => {
      this.#metrics?.tapeSize.dec(rec.writer.written);
      this.#metrics?.tapeOperations.labels('close').inc();
      this.#closing.delete(closing);
    });
    this.#closing.add(closing);
  }

  /** Resolves when every tape of a closed session is on disk (graceful shutdown waits for this). */
  async flush(): Promise<void> {
    while (this.#closing.size > 0) await Promise.all([...this.#closing]);
  }

  /** The SSE event id the client's wire gave the message just delivered, if it gave one. */
  #sseId(rec: Recording, session: Session): number | undefined {
    const id = (session.inbound as { lastEventId?: unknown }).lastEventId;
    if (typeof id !== 'number' || id === rec.lastSse) return undefined;
    rec.lastSse = id;
    return id;
  }

  #write(rec: Recording, frame: Frame, direction: Direction, drop?: string, sse?: number): void {
    const dir = direction === 'client-to-server' ? 'c2s' : 's2c';
    let line = `{"t":${round(frame.receivedAt - rec.origin)},"dir":"${dir}","msg":${this.#redactor.message(frame.raw, frame.msg)}`;
    if (frame.synthetic) line += ',"synthetic":true';
    const intercept = frame.intercept;
    if (intercept !== undefined) line += `,"rule":${JSON.stringify(intercept)}`;
    if (drop !== undefined) line += `,"drop":${JSON.stringify(drop)}`;
    if (sse !== undefined) line += `,"sse":${sse}`;
    const related = frame.related;
    if (dir === 's2c' && related !== undefined && (frame.kind === 'notification' || frame.kind === 'request'))
      line += `,"rel":${JSON.stringify(related.id)}`;
    // With tracing on: the request span this message belongs to (its request, answer, progress).
    const trace = related?.trace;
    if (trace !== undefined) line += `,"trace":"${trace.traceId}","span":"${trace.spanId}"`;
    rec.writer.append(`${line}}`);
    this.#metrics?.tapeOperations.labels('write').inc();
  }

  #initialized(rec: Recording, session: Session): void {
    rec.initialized = true;
    const outbound = session.outbound as { upstreamSessionId?: unknown };
    rec.writer.append(
      JSON.stringify({
        t: round(performance.now() - rec.origin),
        edge: 'initialized',
        era: session.era,
        protocolVersion: session.protocolVersion,
        clientInfo: session.clientInfo,
        serverInfo: session.serverInfo,
        upstreamSessionId:
          typeof outbound.upstreamSessionId === 'string' ? outbound.upstreamSessionId : undefined,
      }),
    );
  }

  #failed(err: Error, path: string): void {
    this.#metrics?.tapeWriteErrors.inc();
    const code = (err as NodeJS.ErrnoException).code;
    const what =
      code === 'EACCES' || code === 'EROFS' || code === 'EPERM' || code === 'ENOTDIR' || code === 'EEXIST'
        ? `the tape directory ${this.dir} is not writable`
        : code === 'ENOSPC'
          ? 'the disk is full'
          : code === 'ENOENT'
            ? `the tape directory ${this.dir} does not exist and could not be created`
            : err.message;
    const message = `could not write tape ${path}: ${what}; traffic keeps flowing, but this tape is incomplete. Fix the directory or pass another --record`;
    // One clear error, then quieter: a read-only directory would otherwise log once per session.
    if (this.#errorLogged) this.#logger.debug({ code }, message);
    else this.#logger.error({ code }, message);
    this.#errorLogged = true;
  }
}

function dropReason(verdict: Verdict): string {
  if (verdict.action === 'drop') return verdict.reason;
  return verdict.action;
}
