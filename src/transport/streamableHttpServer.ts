import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { answersWithStatus, errorHeaders, type McpscopeError } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';
import type { StreamKindLabel, StreamObserver } from '../observe/hooks.js';
import { HEADER_SESSION_ID } from '../protocol.js';
import type { Transport } from './transport.js';

/** Events kept per session for `Last-Event-ID` resumption: at most this many… */
export const MAX_REPLAY_EVENTS = 256;
/** …and at most this many bytes (4 MiB). */
export const MAX_REPLAY_BYTES = 4 * 1024 * 1024;
/** Server → client messages kept while no stream is open to carry them. */
export const MAX_BACKLOG_MESSAGES = 1_000;

const SSE_DATA = Buffer.from('\nevent: message\ndata: ');
const SSE_END = Buffer.from('\n\n');
const KEEPALIVE = ': keepalive\n\n';

type StreamKind = 'post-sse' | 'post-json' | 'get';

/** One response channel to the client: a POST's SSE or JSON answer, or the standalone GET stream. */
interface Stream {
  readonly id: number;
  readonly kind: StreamKind;
  /** Null while the client is disconnected (it may come back with Last-Event-ID). */
  res: ServerResponse | null;
  headersSent: boolean;
  /** The request's answer has been sent or stored: nothing more belongs on this stream. */
  done: boolean;
  /** performance.now() of the last event written (for idle time on GET streams). */
  lastWriteAt: number;
}

/** The stream a ServerResponse carries, so one shared 'close' listener serves every response. */
const STREAM = Symbol('mcpscope.stream');
type TaggedResponse = ServerResponse & {
  [STREAM]?: { stream: Stream; owner: StreamableHttpServerTransport; openedAt: number };
};

function onResponseClose(this: TaggedResponse): void {
  const tag = this[STREAM];
  if (tag) tag.owner.streamClosed(tag.stream, this, tag.openedAt);
}

interface ReplayEvent {
  readonly eventId: number;
  readonly streamId: number;
  readonly raw: Buffer;
}

function sseHeaders(sessionId: string): Record<string, string> {
  return {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
    [HEADER_SESSION_ID]: sessionId,
  };
}

/**
 * Inbound Streamable HTTP, one instance per session: routes each server → client message to the stream
 * it belongs on (the POST that carried the request, else the GET stream, else a bounded backlog), writes
 * raw frames straight to the ServerResponse, and keeps a bounded event buffer for `Last-Event-ID`.
 */
export class StreamableHttpServerTransport implements Transport {
  readonly kind = 'streamable-http' as const;
  readonly sessionId: string;
  readonly #jsonResponse: boolean;
  readonly #observer: StreamObserver | null;
  #nextStreamId = 1;
  #nextEventId = 1;
  #getStream: Stream | null = null;
  readonly #open = new Set<Stream>();
  readonly #detached = new Map<number, Stream>();
  #replay: ReplayEvent[] = [];
  #replayBytes = 0;
  #backlog: Frame[] = [];
  #closed = false;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;

  constructor(sessionId: string, options: { jsonResponse: boolean; observer?: StreamObserver | null }) {
    this.sessionId = sessionId;
    this.#jsonResponse = options.jsonResponse;
    this.#observer = options.observer ?? null;
  }

  /** Bytes held for replay and in the backlog. */
  get bufferedBytes(): number {
    let backlog = 0;
    for (const f of this.#backlog) backlog += f.raw.length;
    return this.#replayBytes + backlog;
  }

  async start(): Promise<void> {}

  /** True while any stream is connected: the session is in use, however quiet. */
  get busy(): boolean {
    return this.#open.size > 0;
  }

  /** A POSTed request: its answer (and related messages) go back on `res`. */
  acceptRequest(frame: Frame, res: ServerResponse): void {
    const stream: Stream = {
      id: this.#nextStreamId++,
      kind: this.#jsonResponse ? 'post-json' : 'post-sse',
      res,
      headersSent: false,
      done: false,
      lastWriteAt: 0,
    };
    this.#attach(stream, res, this.#jsonResponse ? null : 'post');
    frame.route = stream;
    this.onmessage?.(frame);
  }

  /** A POSTed notification or response: accepted (202) once handed on. */
  acceptMessage(frame: Frame, res: ServerResponse): void {
    this.onmessage?.(frame);
    res.writeHead(202, { [HEADER_SESSION_ID]: this.sessionId }).end();
  }

  /** Open the standalone GET stream. Returns false if one is open already. */
  openGetStream(res: ServerResponse): boolean {
    if (this.#getStream?.res) return false;
    const stream: Stream = {
      id: this.#nextStreamId++,
      kind: 'get',
      res,
      headersSent: true,
      done: false,
      lastWriteAt: performance.now(),
    };
    res.writeHead(200, sseHeaders(this.sessionId));
    res.flushHeaders();
    this.#getStream = stream;
    this.#attach(stream, res, 'get');
    const backlog = this.#backlog;
    this.#backlog = [];
    for (const frame of backlog) this.#writeEvent(stream, frame.raw, false);
    return true;
  }

  /**
   * Resume the stream that event `lastEventId` was sent on: replay what came after it, then keep the stream
   * live on `res` if its answer is still to come. Returns false if the event is unknown or evicted.
   */
  resume(lastEventId: string, res: ServerResponse): boolean {
    const after = Number(lastEventId);
    const from = this.#replay.find((e) => e.eventId === after);
    this.#observer?.resumed(from !== undefined);
    if (!Number.isSafeInteger(after) || !from) return false;
    const streamId = from.streamId;
    const stream =
      this.#detached.get(streamId) ??
      (this.#getStream?.id === streamId ? this.#getStream : undefined) ??
      ({
        id: streamId,
        kind: 'post-sse',
        res: null,
        headersSent: true,
        done: true,
        lastWriteAt: 0,
      } satisfies Stream);
    if (stream.res) stream.res.end();
    res.writeHead(200, sseHeaders(this.sessionId));
    for (const event of this.#replay) {
      if (event.streamId === streamId && event.eventId > after) this.#writeSse(res, event.eventId, event.raw);
    }
    if (stream.done) {
      res.end();
      return true;
    }
    this.#detached.delete(streamId);
    stream.headersSent = true;
    this.#attach(stream, res, 'resume');
    if (stream.kind === 'get') this.#getStream = stream;
    return true;
  }

  send(frame: Frame): void {
    if (this.#closed) return;
    const isAnswer = frame.kind === 'response' || frame.kind === 'error';
    let stream = frame.related?.route as Stream | undefined;
    if (stream && stream.done) stream = undefined;
    if (isAnswer) {
      if (stream && frame.error !== undefined && !stream.headersSent && answersWithStatus(frame.error)) {
        this.#writeStatus(stream, frame.raw, frame.error);
        return;
      }
      if (stream) this.#writeEvent(stream, frame.raw, true);
      // An answer without its stream (the client went away for good) has nowhere to go.
      else this.#observer?.dropped('no_stream');
      return;
    }
    if (stream && stream.kind === 'post-json') stream = undefined;
    stream ??= this.#getStream?.res ? this.#getStream : this.#newestOpenPost();
    if (!stream) {
      if (this.#backlog.length >= MAX_BACKLOG_MESSAGES) {
        this.#backlog.shift();
        this.#observer?.dropped('backlog_full');
      }
      this.#backlog.push(frame);
      return;
    }
    this.#writeEvent(stream, frame.raw, false);
  }

  /** Refused before reaching the upstream (rate limit, breaker, shutdown): the HTTP status says so too. */
  #writeStatus(stream: Stream, raw: Buffer, err: McpscopeError): void {
    stream.done = true;
    const res = stream.res;
    if (!res || res.headersSent) return;
    const headers = errorHeaders(err, raw.length);
    headers[HEADER_SESSION_ID] = this.sessionId;
    res.writeHead(err.httpStatus, headers);
    res.end(raw);
  }

  /** Write an SSE comment on the GET stream so intermediaries keep it open. */
  keepAlive(): void {
    const res = this.#getStream?.res;
    if (res && !res.writableEnded) res.write(KEEPALIVE);
  }

  #newestOpenPost(): Stream | undefined {
    let newest: Stream | undefined;
    for (const s of this.#open)
      if (s.kind === 'post-sse' && !s.done && (!newest || s.id > newest.id)) newest = s;
    return newest;
  }

  #attach(stream: Stream, res: TaggedResponse, kind: StreamKindLabel | null): void {
    stream.res = res;
    this.#open.add(stream);
    const observer = kind === null ? null : this.#observer;
    observer?.opened(kind as StreamKindLabel);
    res[STREAM] = { stream, owner: this, openedAt: observer ? performance.now() : -1 };
    res.once('close', onResponseClose);
  }

  /** @internal A response closed: its stream is detached (resumable) unless its answer was delivered. */
  streamClosed(stream: Stream, res: ServerResponse, openedAt: number): void {
    if (openedAt >= 0) this.#observer?.closed((performance.now() - openedAt) / 1000);
    if (stream.res !== res) return;
    stream.res = null;
    this.#open.delete(stream);
    if (stream.done) return;
    if (stream.kind === 'post-json') {
      stream.done = true;
    } else {
      this.#detached.set(stream.id, stream);
      if (stream.kind === 'get') this.#getStream = null;
    }
  }

  /** The SSE event id of the last message sent on any stream of this session (0: none yet). */
  get lastEventId(): number {
    return this.#nextEventId - 1;
  }

  #writeEvent(stream: Stream, raw: Buffer, final: boolean): void {
    if (stream.kind === 'post-json') {
      // JSON mode carries only the answer itself.
      stream.done = true;
      const res = stream.res;
      if (res && !res.headersSent) {
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': raw.length,
          [HEADER_SESSION_ID]: this.sessionId,
        });
        res.end(raw);
      }
      return;
    }
    const eventId = this.#nextEventId++;
    this.#remember(eventId, stream.id, raw);
    if (final) {
      stream.done = true;
      this.#detached.delete(stream.id);
    }
    const res = stream.res;
    if (!res || res.writableEnded) return;
    const observer = this.#observer;
    if (observer) {
      const now = performance.now();
      observer.sent(stream.kind === 'get' ? (now - stream.lastWriteAt) / 1000 : -1);
      stream.lastWriteAt = now;
    }
    if (!stream.headersSent && final) {
      // The whole answer is known at once: one write, with a length, no chunked framing.
      const head = Buffer.from(`id: ${eventId}`);
      const body = Buffer.concat(
        [head, SSE_DATA, raw, SSE_END],
        head.length + SSE_DATA.length + raw.length + 2,
      );
      const headers = sseHeaders(this.sessionId);
      headers['content-length'] = String(body.length);
      res.writeHead(200, headers);
      res.end(body);
      return;
    }
    if (!stream.headersSent) {
      stream.headersSent = true;
      res.writeHead(200, sseHeaders(this.sessionId));
    }
    this.#writeSse(res, eventId, raw);
    if (final) res.end();
  }

  #writeSse(res: ServerResponse, eventId: number, raw: Buffer): void {
    res.cork();
    res.write(`id: ${eventId}`);
    res.write(SSE_DATA);
    res.write(raw);
    res.write(SSE_END);
    res.uncork();
  }

  #remember(eventId: number, streamId: number, raw: Buffer): void {
    this.#replay.push({ eventId, streamId, raw });
    this.#replayBytes += raw.length;
    while (this.#replay.length > MAX_REPLAY_EVENTS || this.#replayBytes > MAX_REPLAY_BYTES) {
      const old = this.#replay.shift();
      if (!old) break;
      this.#replayBytes -= old.raw.length;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of this.#open) {
      const res = stream.res;
      if (!res || res.writableEnded) continue;
      if (res.headersSent) res.end();
      else res.writeHead(404, { 'content-type': 'application/json' }).end();
    }
    this.#open.clear();
    this.#detached.clear();
    this.#replay = [];
    this.#backlog = [];
    this.onclose?.();
  }
}
