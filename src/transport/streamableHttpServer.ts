import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { answersWithStatus, errorHeaders, type McpscopeError } from '../jsonrpc/errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type Frame } from '../jsonrpc/framing.js';
import type { EventSink, SseIds, StreamKindLabel } from '../session/events.js';
import { ClientWireEvents } from './wireEvents.js';
import { HEADER_SESSION_ID } from '../protocol.js';
import { EventStore } from './eventStore.js';
import { DEFAULT_CLIENT_BUFFER_BYTES, highWaterMark, type Transport } from './transport.js';
import { COPY_BELOW_BYTES } from './ndjson.js';

/**
 * Bytes of events kept per session for `Last-Event-ID` resumption, at least (4 MiB). The buffer is sized to
 * hold everything a stream cut for backpressure left unsent (the client buffer limit plus one message) and
 * the last event its client got in full (one message), plus REPLAY_SLACK_BYTES for what was in flight
 * when the upstream was paused: with the defaults, 13 MiB.
 */
export const MAX_REPLAY_BYTES = 4 * 1024 * 1024;
/** What arrives after a pause (a read chunk, answers mcpscope makes itself) is covered by this (1 MiB). */
export const REPLAY_SLACK_BYTES = 1024 * 1024;
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
  /** The `seq` of the first event written on it in the resumption buffer (0: none yet). */
  firstSeq: number;
}

/** The stream a ServerResponse carries, so one shared 'close' (and 'drain') listener serves every response. */
const STREAM = Symbol('mcpscope.stream');
interface ResponseTag {
  readonly stream: Stream;
  readonly owner: StreamableHttpServerTransport;
  readonly openedAt: number;
  /** Past the high-water mark, waiting for 'drain'. */
  congested: boolean;
  /** Bytes replayed on resumption, not counted against the limit until the response drains. */
  replayed: number;
}
/** The SSE events written on a response, counted only when the session reports HTTP exchanges. */
const SSE_IDS = Symbol('mcpscope.sseIds');
type TaggedResponse = ServerResponse & { [STREAM]?: ResponseTag; [SSE_IDS]?: SseIds };

/** The SSE events a response of this transport carried (for its exchange summary), if it counted them. */
export function sseIdsOf(res: ServerResponse): SseIds | undefined {
  return (res as TaggedResponse)[SSE_IDS];
}

function countSse(res: TaggedResponse, eventId: number): void {
  const ids = res[SSE_IDS];
  if (ids === undefined) res[SSE_IDS] = { events: 1, firstId: eventId, lastId: eventId };
  else {
    ids.events++;
    ids.lastId = eventId;
  }
}

function onResponseClose(this: TaggedResponse): void {
  const tag = this[STREAM];
  if (tag) tag.owner.streamClosed(tag, this);
}

function onResponseDrain(this: TaggedResponse): void {
  const tag = this[STREAM];
  if (tag) tag.owner.streamDrained(tag);
}

/** Bytes one SSE event takes on the wire (`id: N`, the event line, the data, the blank line). */
function sseEventBytes(eventId: number, rawBytes: number): number {
  return 4 + String(eventId).length + SSE_DATA.length + rawBytes + SSE_END.length;
}

export interface StreamableHttpServerTransportOptions {
  jsonResponse: boolean;
  /**
   * Bytes a client may leave unread on one stream: past a quarter of it (at most 1 MiB) the upstream is
   * paused until the stream drains; past all of it the stream is closed and its events kept for
   * `Last-Event-ID`. Default DEFAULT_CLIENT_BUFFER_BYTES (4 MiB).
   */
  clientBufferBytes?: number;
  /** Sizes the resumption buffer. Default DEFAULT_MAX_MESSAGE_BYTES. */
  maxMessageBytes?: number;
  /** Where a stream closed for backpressure is reported. Default: not logged. */
  logger?: Logger;
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
  readonly #events = new ClientWireEvents('streamable-http', this);
  readonly #logger: Logger | undefined;
  readonly #limit: number;
  readonly #highWater: number;
  /** Responses past the high-water mark, waiting for 'drain'. */
  #congested = 0;
  /** Streams closed for backpressure and not resumed yet → the `seq` of the first event they left unsent. */
  readonly #cut = new Map<number, number>();
  /** What the Session was last told: the upstream is paused. */
  #paused = false;
  #nextStreamId = 1;
  #getStream: Stream | null = null;
  readonly #open = new Set<Stream>();
  readonly #detached = new Map<number, Stream>();
  /** What was sent, for Last-Event-ID. */
  readonly #replay: EventStore;
  #backlog: Frame[] = [];
  #closed = false;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;
  onbackpressure?: (congested: boolean) => void;
  onevent?: EventSink;
  httpExchanges?: boolean;

  constructor(sessionId: string, options: StreamableHttpServerTransportOptions) {
    this.sessionId = sessionId;
    this.#jsonResponse = options.jsonResponse;
    this.#logger = options.logger;
    this.#limit = options.clientBufferBytes ?? DEFAULT_CLIENT_BUFFER_BYTES;
    this.#highWater = highWaterMark(this.#limit);
    const maxReplayBytes = Math.max(
      MAX_REPLAY_BYTES,
      // What a cut stream left unsent (the limit, the replay it was given, one message) and the last
      // event the client got in full, which a resumption names.
      this.#limit + 2 * (options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES) + REPLAY_SLACK_BYTES,
    );
    this.#replay = new EventStore(maxReplayBytes, (old) => {
      // Unsent on a cut stream and now gone: the client can no longer get it.
      if (this.#cut.size > 0 && old.seq >= (this.#cut.get(old.streamId) ?? Infinity))
        this.#events.dropped('replay_evicted');
    });
  }

  /** Bytes held for replay, in the backlog, and written to open streams but not yet sent. */
  get bufferedBytes(): number {
    let bytes = this.#replay.bytes;
    for (const f of this.#backlog) bytes += f.raw.length;
    for (const s of this.#open) bytes += s.res?.writableLength ?? 0;
    return bytes;
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
      firstSeq: 0,
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
      firstSeq: 0,
    };
    res.writeHead(200, sseHeaders(this.sessionId));
    res.flushHeaders();
    this.#getStream = stream;
    this.#attach(stream, res, 'get');
    const backlog = this.#backlog;
    this.#backlog = [];
    for (const frame of backlog) this.#writeEvent(stream, frame.raw, false, frame.sseId);
    return true;
  }

  /**
   * Resume the stream that event `lastEventId` was sent on: replay what came after it, then keep the stream
   * live on `res` if its answer is still to come. Returns false if the event is unknown or evicted.
   */
  resumeStream(lastEventId: string, res: ServerResponse): boolean {
    const after = Number(lastEventId);
    const streamId = Number.isSafeInteger(after) ? this.#replay.streamOf(after) : undefined;
    this.#events.resumed(streamId !== undefined);
    if (streamId === undefined) return false;
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
        firstSeq: 0,
      } satisfies Stream);
    if (stream.res) stream.res.end();
    res.writeHead(200, sseHeaders(this.sessionId));
    for (const event of this.#replay.after(streamId, after)) this.#writeSse(res, event.eventId, event.raw);
    const wasCut = this.#cut.delete(streamId);
    if (stream.done) {
      res.end();
    } else {
      this.#detached.delete(streamId);
      stream.headersSent = true;
      this.#attach(stream, res, 'resume');
      if (stream.kind === 'get') this.#getStream = stream;
    }
    if (wasCut) {
      // The client is back: the replayed events hold the upstream until they drain, and do not count
      // against the limit (else a replay larger than the limit would be cut again and again).
      const tag = (res as TaggedResponse)[STREAM];
      if (tag) tag.replayed = res.writableLength;
      this.#congest(res as TaggedResponse);
      this.#updateFlow();
    }
    return true;
  }

  send(frame: Frame): void {
    if (this.#closed) return;
    const isAnswer = frame.kind === 'response' || frame.kind === 'error';
    let stream = frame.related?.route as Stream | undefined;
    if (stream && stream.done) stream = undefined;
    if (isAnswer) {
      if (stream && !stream.headersSent) {
        if (frame.error !== undefined && answersWithStatus(frame.error)) {
          this.#writeStatus(
            stream,
            frame.raw,
            frame.error.httpStatus,
            errorHeaders(frame.error, frame.raw.length),
          );
          return;
        }
        if (frame.httpStatus !== undefined) {
          // The upstream answered with an HTTP error status: so does mcpscope.
          const headers = { 'content-type': 'application/json', 'content-length': frame.raw.length };
          this.#writeStatus(stream, frame.raw, frame.httpStatus, headers);
          return;
        }
      }
      if (stream) this.#writeEvent(stream, frame.raw, true, frame.sseId);
      // An answer without its stream (the client went away for good) has nowhere to go.
      else this.#events.dropped('no_stream');
      return;
    }
    if (stream && stream.kind === 'post-json') stream = undefined;
    stream ??= this.#getStream?.res ? this.#getStream : this.#newestOpenPost();
    if (!stream) {
      if (this.#backlog.length >= MAX_BACKLOG_MESSAGES) {
        this.#backlog.shift();
        this.#events.dropped('backlog_full');
      }
      this.#backlog.push(frame);
      return;
    }
    this.#writeEvent(stream, frame.raw, false, frame.sseId);
  }

  /** An answer that is an HTTP status too: refused before the upstream (rate limit, breaker), or relayed. */
  #writeStatus(stream: Stream, raw: Buffer, status: number, headers: Record<string, string | number>): void {
    stream.done = true;
    const res = stream.res;
    if (!res || res.headersSent) return;
    headers[HEADER_SESSION_ID] = this.sessionId;
    res.writeHead(status, headers);
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
    const events = kind === null || !this.#events.active ? null : this.#events;
    events?.opened(kind as StreamKindLabel);
    res[STREAM] = {
      stream,
      owner: this,
      openedAt: events ? performance.now() : -1,
      congested: false,
      replayed: 0,
    };
    res.once('close', onResponseClose);
  }

  /** @internal A response closed: its stream is detached (resumable) unless its answer was delivered. */
  streamClosed(tag: ResponseTag, res: ServerResponse): void {
    if (tag.openedAt >= 0) this.#events.closed((performance.now() - tag.openedAt) / 1000);
    if (tag.congested) this.streamDrained(tag);
    const stream = tag.stream;
    if (stream.res !== res) return;
    this.#detach(stream);
  }

  /** @internal A congested response drained (or closed): the upstream may go on once none is left. */
  streamDrained(tag: ResponseTag): void {
    if (!tag.congested) return;
    tag.congested = false;
    tag.replayed = 0;
    this.#congested--;
    this.#updateFlow();
  }

  /** Wait for `res` to drain before the upstream goes on, if it is past the high-water mark. */
  #congest(res: TaggedResponse): void {
    const tag = res[STREAM];
    if (!tag || tag.congested || res.writableLength < this.#highWater || !res.writableNeedDrain) return;
    tag.congested = true;
    this.#congested++;
    res.once('drain', onResponseDrain);
  }

  /** Tell the Session when the upstream must pause (a congested or cut stream) or may go on. */
  #updateFlow(): void {
    const paused = this.#congested > 0 || this.#cut.size > 0;
    if (paused === this.#paused) return;
    this.#paused = paused;
    this.#events.backpressure(paused ? 'paused' : 'resumed');
    this.onbackpressure?.(paused);
  }

  /** After a write: past the high-water mark, pause the upstream; past the limit, cut the stream. */
  #checkBuffer(stream: Stream, res: TaggedResponse): void {
    const unsent = res.writableLength;
    if (unsent < this.#highWater) return;
    if (
      unsent <= this.#limit + (res[STREAM]?.replayed ?? 0) ||
      res.writableEnded ||
      !this.#cutStream(stream, res, unsent)
    )
      this.#congest(res);
    this.#updateFlow();
  }

  /**
   * The client is more than the limit behind on this stream although the upstream is paused: close it
   * (freeing what it holds) and keep the upstream paused until the client resumes with `Last-Event-ID`.
   * Its unsent events stay in the resumption buffer, sized so that nothing is evicted meanwhile. Returns
   * false, leaving the stream open, when the client has not received one whole event on it yet.
   */
  #cutStream(stream: Stream, res: TaggedResponse, unsent: number): boolean {
    const from = this.#replay.unsentFrom(stream.id, unsent, (e) => sseEventBytes(e.eventId, e.raw.length));
    // A client without one complete event on the stream could not name where to resume: it waits instead.
    if (from <= stream.firstSeq) return false;
    this.#cut.set(stream.id, from);
    this.#events.backpressure('closed');
    this.#logger?.warn(
      { session: this.sessionId, unsentBytes: unsent, limitBytes: this.#limit, fromEventId: from },
      'client is not reading its stream: closed it; its events are kept for Last-Event-ID resumption ' +
        '(raise --client-buffer-bytes if clients are slow but steady)',
    );
    this.#detach(stream);
    res.destroy();
    return true;
  }

  #detach(stream: Stream): void {
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
    return this.#replay.lastEventId;
  }

  /** `sseId`: the SSE id to send it under if free (a replayed message's recorded one); else the next. */
  #writeEvent(stream: Stream, raw: Buffer, final: boolean, sseId: number | undefined): void {
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
    const { eventId, seq } = this.#replay.store(stream.id, raw, sseId);
    if (stream.firstSeq === 0) stream.firstSeq = seq;
    if (final) {
      stream.done = true;
      this.#detached.delete(stream.id);
    }
    const res = stream.res;
    if (!res || res.writableEnded) return;
    const observer = this.#events;
    if (observer.active) {
      const now = performance.now();
      observer.sent(stream.kind === 'get' ? (now - stream.lastWriteAt) / 1000 : -1);
      stream.lastWriteAt = now;
    }
    if (!stream.headersSent && final) {
      // The whole answer is known at once: with a length, no chunked framing. A small one in one write; a
      // large one's bytes are not copied (the corked writes go out as one writev).
      const head = Buffer.from(`id: ${eventId}`);
      const length = head.length + SSE_DATA.length + raw.length + SSE_END.length;
      const headers = sseHeaders(this.sessionId);
      headers['content-length'] = String(length);
      if (this.httpExchanges) countSse(res, eventId);
      res.writeHead(200, headers);
      if (raw.length < COPY_BELOW_BYTES) res.end(Buffer.concat([head, SSE_DATA, raw, SSE_END], length));
      else {
        res.cork();
        res.write(head);
        res.write(SSE_DATA);
        res.write(raw);
        res.end(SSE_END);
      }
      if (res.writableLength >= this.#highWater) this.#checkBuffer(stream, res);
      return;
    }
    if (!stream.headersSent) {
      stream.headersSent = true;
      res.writeHead(200, sseHeaders(this.sessionId));
    }
    this.#writeSse(res, eventId, raw);
    if (final) res.end();
    if (res.writableLength >= this.#highWater) this.#checkBuffer(stream, res);
  }

  #writeSse(res: ServerResponse, eventId: number, raw: Buffer): void {
    if (this.httpExchanges) countSse(res, eventId);
    res.cork();
    res.write(`id: ${eventId}`);
    res.write(SSE_DATA);
    res.write(raw);
    res.write(SSE_END);
    res.uncork();
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
    this.#cut.clear();
    this.#replay.clear();
    this.#backlog = [];
    this.onclose?.();
  }
}
