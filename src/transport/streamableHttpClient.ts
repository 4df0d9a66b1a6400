import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { McpscopeError, errorMessage, type JsonRpcId, upstreamProtocolError } from '../jsonrpc/errors.js';
import { parseFrame, type Frame } from '../jsonrpc/framing.js';
import type { EventSink } from '../session/events.js';
import { UpstreamWireEvents } from './wireEvents.js';
import { HEADER_LAST_EVENT_ID, HEADER_PROTOCOL_VERSION, HEADER_SESSION_ID } from '../protocol.js';
import { buildMcpHeaders, eraOf } from '../jsonrpc/era.js';
import { DeliveredEvents, SSE_RECONNECT_MAX_ATTEMPTS, reconnectDelayMs, sleep } from './reconnect.js';
import { SseDataReader } from './sseReader.js';
import { FlowGate } from './flowGate.js';
import { upstreamRequest } from './upstreamRequest.js';
import type { Transport } from './transport.js';

/** How long a DELETE of the upstream session may take on close (2 s). */
export const DELETE_TIMEOUT_MS = 2_000;
/** How much of an upstream HTTP error body is quoted in the error (500 chars). */
const ERROR_BODY_CHARS = 500;
/** Statuses to a POSTed initialize that mean "not Streamable HTTP here" (the spec's fallback signal). */
export const LEGACY_FALLBACK_STATUSES: ReadonlySet<number> = new Set([400, 404, 405]);

export interface StreamableHttpClientTransportOptions {
  url: string;
  /** Extra headers for every upstream request (e.g. the upstream's own credentials). Never the client's. */
  headers?: Record<string, string>;
  maxMessageBytes: number;
  dispatcher: Dispatcher;
  logger: Logger;
  /**
   * Detection: called instead of failing when the upstream answers the POSTed initialize with 400, 404 or
   * 405 (it may speak the legacy HTTP+SSE transport). Default: none (such an answer is an error).
   */
  onLegacyHint?: (initialize: Frame, status: number) => void;
}

/** One SSE stream from the upstream: a POST's answer stream, or the standalone GET stream. */
interface StreamState {
  /** The request whose answer the stream carries; undefined for the GET stream. */
  readonly requestId: JsonRpcId | undefined;
  answered: boolean;
  lastEventId: string | undefined;
  retryMs: number | undefined;
  /** Created with the first event id: streams without ids cost nothing. */
  delivered: DeliveredEvents | undefined;
  /** performance.now() of the last event, for stream_idle_seconds (0 before the first). */
  lastEventAt: number;
}

type StreamEnd = 'ended' | 'dropped' | 'closed';

/**
 * Outbound Streamable HTTP over undici: one POST per client message, JSON or SSE answers parsed into frames,
 * the upstream's Mcp-Session-Id kept, and the standalone GET stream opened once the session is initialized.
 * A stream that drops before its answer is resumed by GET with `Last-Event-ID`, with bounded backoff, and
 * events the upstream replays twice are delivered once.
 */
export class StreamableHttpClientTransport implements Transport {
  readonly kind = 'streamable-http' as const;
  readonly #options: StreamableHttpClientTransportOptions;
  readonly #url: URL;
  readonly #events = new UpstreamWireEvents('streamable-http', this);
  readonly #abort = new AbortController();
  /** Flow control: upstream streams are not read while the client is behind. */
  readonly #flow = new FlowGate();
  #upstreamSessionId: string | undefined;
  #protocolVersion: string | undefined;
  #initializeId: JsonRpcId | undefined;
  /** Open POSTs of 2026-07-28 requests, to close when the client cancels one. */
  readonly #modernPosts = new Map<JsonRpcId, AbortController>();
  #closed = false;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;
  onevent?: EventSink;
  httpExchanges?: boolean;

  constructor(options: StreamableHttpClientTransportOptions) {
    this.#options = options;
    this.#url = new URL(options.url);
  }

  get upstreamSessionId(): string | undefined {
    return this.#upstreamSessionId;
  }

  async start(): Promise<void> {}

  #headers(): Record<string, string> {
    const headers: Record<string, string> = {
      ...this.#options.headers,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    if (this.#upstreamSessionId) headers[HEADER_SESSION_ID] = this.#upstreamSessionId;
    if (this.#protocolVersion) headers[HEADER_PROTOCOL_VERSION] = this.#protocolVersion;
    return headers;
  }

  send(frame: Frame): void {
    if (this.#closed) return;
    if (frame.method === 'initialize' && frame.kind === 'request') this.#initializeId = frame.id;
    // A cancellation mcpscope made itself (the client hung up) for a 2026-07-28 request is said by closing
    // that request's POST, as the era does; one the client sent is passed on too.
    if (frame.method === 'notifications/cancelled' && this.#abortCancelled(frame) && frame.synthetic) return;
    this.#post(frame).catch((err: unknown) => this.#failed(frame, err));
  }

  /**
   * In 2026-07-28, closing a request's stream is how it is cancelled: a cancellation of a request whose
   * POST is still open closes that POST. Returns whether it did.
   */
  #abortCancelled(frame: Frame): boolean {
    const requestId = (frame.msg as { params?: { requestId?: unknown } }).params?.requestId;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return false;
    const controller = this.#modernPosts.get(requestId);
    if (!controller) return false;
    this.#modernPosts.delete(requestId);
    controller.abort();
    return true;
  }

  #failed(frame: Frame, err: unknown): void {
    if (this.#closed) return;
    const e =
      err instanceof McpscopeError
        ? err
        : new McpscopeError(
            'UPSTREAM_UNREACHABLE',
            `upstream ${this.#options.url} could not be reached: ${errorMessage(err)}; check that it is running`,
            { cause: err },
          );
    if (frame.kind === 'request' && e.details?.id === undefined) {
      this.onerror?.(
        new McpscopeError(e.code, e.message, { cause: e.cause, details: { ...e.details, id: frame.id } }),
      );
    } else {
      this.onerror?.(e);
    }
  }

  /**
   * A 2026-07-28 message: no session, its own MCP-Protocol-Version and Mcp-* headers (as the client sent
   * them over HTTP, or built from the body), and the upstream's answer relayed as it is, whatever its status.
   */
  async #postModern(frame: Frame): Promise<void> {
    const headers: Record<string, string> = {
      ...this.#options.headers,
      ...(frame.mcpHeaders ?? buildMcpHeaders(frame)),
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const traceparent = (frame.msg as { params?: { _meta?: { traceparent?: unknown } } }).params?._meta
      ?.traceparent;
    if (typeof traceparent === 'string') headers.traceparent = traceparent;
    const requestId = frame.kind === 'request' ? frame.id : undefined;
    const controller = new AbortController();
    const onClose = (): void => controller.abort();
    this.#abort.signal.addEventListener('abort', onClose, { once: true });
    if (requestId !== undefined) this.#modernPosts.set(requestId, controller);
    try {
      const res = await this.#postRaw(headers, frame.raw, controller.signal);
      res.body.once('error', ignore);
      const type = String(res.headers['content-type'] ?? '');
      if (res.statusCode === 202 || requestId === undefined) {
        await res.body.dump();
        return;
      }
      if (type.startsWith('text/event-stream')) {
        const state = newStream(requestId);
        const end = await this.#readSse(res.body, state);
        if (end === 'closed' || state.answered || controller.signal.aborted) return;
        throw new McpscopeError(
          'UPSTREAM_STREAM_LOST',
          `upstream ${this.#options.url} ${end === 'dropped' ? 'dropped' : 'ended'} the answer stream before the answer (2026-07-28 streams cannot be resumed); send the request again`,
        );
      }
      if (type.startsWith('application/json')) {
        // One JSON answer, or (some servers, for a listen) one JSON message per line as they come.
        if (await this.#readJsonLines(res.body, res.statusCode, requestId)) return;
        if (controller.signal.aborted || this.#closed) return;
      } else {
        await res.body.dump();
      }
      if (res.statusCode >= 400) {
        throw new McpscopeError(
          'UPSTREAM_HTTP_ERROR',
          `upstream ${this.#options.url} answered HTTP ${res.statusCode} with no JSON-RPC answer`,
          { details: { status: res.statusCode } },
        );
      }
      throw new McpscopeError(
        'UPSTREAM_PROTOCOL_ERROR',
        `upstream ${this.#options.url} answered HTTP ${res.statusCode} (Content-Type "${type}") with no JSON-RPC answer`,
      );
    } catch (err) {
      if (controller.signal.aborted && !this.#closed) return; // cancelled by the client
      throw err;
    } finally {
      this.#abort.signal.removeEventListener('abort', onClose);
      if (requestId !== undefined && this.#modernPosts.get(requestId) === controller) {
        this.#modernPosts.delete(requestId);
      }
    }
  }

  /**
   * Read an application/json body as it comes: each complete line that parses is a message; a document
   * that spans lines is parsed whole at the end. A non-2xx status travels with the messages, so the client
   * gets the upstream's answer with the upstream's status. Says whether the request was answered.
   */
  async #readJsonLines(body: AsyncIterable<Buffer>, status: number, requestId: JsonRpcId): Promise<boolean> {
    let answered = false;
    let pending: Buffer[] = [];
    const httpStatus = status >= 300 ? status : undefined;
    /** Parse and hand on one message; false when `raw` is only part of a document that spans lines. */
    const take = (raw: Buffer, last: boolean): boolean => {
      let frame: Frame;
      try {
        frame = parseFrame(raw, this.#options.maxMessageBytes, performance.now());
      } catch (err) {
        const e = err as McpscopeError;
        if (!last && e.code === 'PARSE_ERROR') return false;
        this.onerror?.(upstreamProtocolError(e));
        return true;
      }
      this.#deliver(frame, httpStatus);
      if (frame.id === requestId && (frame.kind === 'response' || frame.kind === 'error')) answered = true;
      return true;
    };
    try {
      for await (const chunk of body) {
        let start = 0;
        for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
          pending.push(chunk.subarray(start, nl));
          start = nl + 1;
          const line = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
          if (isBlank(line) || take(line, false)) pending = [];
          else pending = [line, NEWLINE_BYTE];
        }
        if (start < chunk.length) pending.push(chunk.subarray(start));
        const gate = this.#flow.gate;
        if (gate) await gate;
      }
    } catch (err) {
      if (this.#closed) return true;
      this.#options.logger.debug({ err: errorMessage(err) }, 'upstream JSON stream dropped');
    }
    const rest = Buffer.concat(pending);
    if (!isBlank(rest)) take(rest, true);
    return answered;
  }

  async #post(frame: Frame): Promise<void> {
    if (eraOf(frame) === 'modern') return this.#postModern(frame);
    const headers = this.#headers();
    // Trace context travels in params._meta; HTTP servers that only read the header get it there too.
    const traceparent = (frame.msg as { params?: { _meta?: { traceparent?: unknown } } }).params?._meta
      ?.traceparent;
    if (typeof traceparent === 'string') headers.traceparent = traceparent;
    const res = await this.#postRaw(headers, frame.raw, this.#abort.signal);
    const sessionId = res.headers[HEADER_SESSION_ID];
    if (typeof sessionId === 'string' && this.#upstreamSessionId === undefined)
      this.#upstreamSessionId = sessionId;
    if (res.statusCode === 202) {
      await res.body.dump();
      if (frame.method === 'notifications/initialized') void this.#listen();
      return;
    }
    if (res.statusCode >= 400) {
      const body = Buffer.from(await res.body.arrayBuffer());
      // A JSON-RPC error for this request is the upstream's answer: relayed as it is, status included. A
      // 2026-07-28 server's 400 (-32022 and its supported versions) is such an answer, never a legacy hint.
      const answer =
        frame.kind === 'request' ? errorAnswer(body, frame.id, this.#options.maxMessageBytes) : undefined;
      if (answer) {
        this.#deliver(answer, res.statusCode);
        return;
      }
      const hint = this.#options.onLegacyHint;
      if (
        hint &&
        frame.id === this.#initializeId &&
        frame.kind === 'request' &&
        LEGACY_FALLBACK_STATUSES.has(res.statusCode)
      ) {
        hint(frame, res.statusCode);
        return;
      }
      const text = body.toString('utf8').slice(0, ERROR_BODY_CHARS);
      const expired = res.statusCode === 404 && this.#upstreamSessionId !== undefined;
      const err = new McpscopeError(
        expired ? 'SESSION_CLOSED' : 'UPSTREAM_HTTP_ERROR',
        expired
          ? `upstream ${this.#options.url} no longer knows this session (HTTP 404); start a new session`
          : `upstream ${this.#options.url} answered HTTP ${res.statusCode}: ${text}`,
        { details: { id: frame.kind === 'request' ? frame.id : undefined, status: res.statusCode } },
      );
      this.onerror?.(err);
      if (expired) this.onclose?.(err);
      return;
    }
    const type = String(res.headers['content-type'] ?? '');
    if (type.startsWith('text/event-stream')) {
      const requestId = frame.kind === 'request' ? frame.id : undefined;
      const state = newStream(requestId);
      const end = await this.#readSse(res.body, state);
      if (end === 'closed' || state.answered || requestId === undefined) return;
      await this.#resumeAnswer(state, end);
    } else if (type.startsWith('application/json')) {
      const body = Buffer.from(await res.body.arrayBuffer());
      this.#receive(body);
    } else {
      await res.body.dump();
      if (frame.kind === 'request') {
        throw new McpscopeError('UPSTREAM_PROTOCOL_ERROR', `upstream answered with Content-Type "${type}"`);
      }
    }
  }

  /** `via`: the request whose answer stream carried the message (the bridge ties server requests to it). */
  #receive(raw: Buffer, via?: JsonRpcId): Frame | undefined {
    let frame: Frame;
    try {
      frame = parseFrame(raw, this.#options.maxMessageBytes, performance.now());
    } catch (err) {
      const e = err as McpscopeError;
      this.onerror?.(upstreamProtocolError(e));
      return undefined;
    }
    if (via !== undefined) frame.route = via;
    this.#deliver(frame, undefined);
    return frame;
  }

  #deliver(frame: Frame, httpStatus: number | undefined): void {
    frame.httpStatus = httpStatus;
    if (frame.kind === 'response' && frame.id === this.#initializeId) {
      const version = (frame.msg as { result?: { protocolVersion?: unknown } }).result?.protocolVersion;
      if (typeof version === 'string') this.#protocolVersion = version;
    }
    this.onmessage?.(frame);
  }

  /** Read one SSE body into frames; says whether it ended cleanly, dropped, or we are closing. */
  async #readSse(body: AsyncIterable<Buffer>, state: StreamState): Promise<StreamEnd> {
    const observer = this.#events;
    const reader = new SseDataReader(
      (data, id) => {
        if (id !== undefined) {
          state.delivered ??= new DeliveredEvents();
          if (state.delivered.seen(id)) {
            observer.deduplicated();
            return;
          }
        }
        if (observer.active) {
          const now = performance.now();
          if (state.lastEventAt > 0) observer.idle((now - state.lastEventAt) / 1000);
          state.lastEventAt = now;
        }
        const frame = this.#receive(Buffer.from(data), state.requestId);
        if (
          frame &&
          state.requestId !== undefined &&
          frame.id === state.requestId &&
          (frame.kind === 'response' || frame.kind === 'error')
        )
          state.answered = true;
      },
      {
        onId: (id) => (state.lastEventId = id),
        onRetry: (ms) => (state.retryMs = ms),
      },
    );
    try {
      for await (const chunk of body) {
        reader.push(chunk);
        const gate = this.#flow.gate;
        if (gate) await gate;
      }
    } catch (err) {
      if (this.#closed) return 'closed';
      this.#options.logger.debug({ err: errorMessage(err) }, 'upstream SSE stream dropped');
      return 'dropped';
    }
    reader.end();
    return this.#closed ? 'closed' : 'ended';
  }

  /** A POST's stream ended before its answer: resume it by GET with Last-Event-ID, or fail the request. */
  async #resumeAnswer(state: StreamState, end: StreamEnd): Promise<void> {
    if (state.lastEventId === undefined) {
      throw new McpscopeError(
        'UPSTREAM_STREAM_LOST',
        `upstream ${this.#options.url} ${end === 'dropped' ? 'dropped' : 'ended'} the answer stream before the answer, with no event id to resume from; send the request again`,
      );
    }
    await this.#reconnect(state);
  }

  /**
   * Reconnect a dropped stream with backoff until its answer arrives (POST streams) or for as long as the
   * session lives (the GET stream). Gives up after SSE_RECONNECT_MAX_ATTEMPTS failures in a row: the
   * session is then closed with UPSTREAM_STREAM_LOST, failing what is pending.
   */
  async #reconnect(state: StreamState): Promise<void> {
    const observer = this.#events;
    let failures = 0;
    let lastError = 'no attempt made';
    while (failures < SSE_RECONNECT_MAX_ATTEMPTS) {
      if (!(await sleep(reconnectDelayMs(failures, state.retryMs), this.#abort.signal))) return;
      const resuming = state.lastEventId;
      let status: number;
      try {
        const res = await this.#getStream(resuming);
        status = res.statusCode;
        const sse = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
        if (status === 200 && sse) {
          observer.reconnect('ok');
          if (resuming !== undefined) observer.resumed(true);
          const before = state.lastEventId;
          const end = await this.#readSse(res.body, state);
          if (end === 'closed' || state.answered) return;
          // A stream that delivered something earns a fresh budget; one that keeps ending at once does not.
          if (state.lastEventId !== before) failures = 0;
          else failures++;
          lastError = `the resumed stream ${end} again`;
          continue;
        }
        lastError = `HTTP ${status}`;
        await res.body.dump();
      } catch (err) {
        if (this.#closed) return;
        failures++;
        lastError = errorMessage(err);
        observer.reconnect(failures >= SSE_RECONNECT_MAX_ATTEMPTS ? 'exhausted' : 'failed');
        continue;
      }
      if (this.#rejected(state, status, resuming)) return;
      failures++;
      observer.reconnect(failures >= SSE_RECONNECT_MAX_ATTEMPTS ? 'exhausted' : 'failed');
    }
    if (this.#closed) return;
    const err = new McpscopeError(
      'UPSTREAM_STREAM_LOST',
      `the stream from upstream ${this.#options.url} dropped and ${SSE_RECONNECT_MAX_ATTEMPTS} reconnection attempts failed (last: ${lastError}); the session is closed, start a new one`,
      { details: { attempts: SSE_RECONNECT_MAX_ATTEMPTS } },
    );
    this.#options.logger.error({ code: err.code }, err.message);
    this.onclose?.(err);
    void this.close();
  }

  /**
   * A reconnection answered with an HTTP error. Returns true when nothing more can be done for this stream
   * (the failure is reported), false to try again.
   */
  #rejected(state: StreamState, status: number, resuming: string | undefined): boolean {
    if (status === 404 && this.#upstreamSessionId !== undefined) {
      const err = new McpscopeError(
        'SESSION_CLOSED',
        `upstream ${this.#options.url} no longer knows this session (HTTP 404 on reconnection); start a new session`,
        { details: { status } },
      );
      this.onclose?.(err);
      void this.close();
      return true;
    }
    if (status === 405 && state.requestId === undefined) return true; // no GET stream here after all
    if (resuming !== undefined && status >= 400 && status < 500) {
      this.#events.resumed(false);
      if (state.requestId !== undefined) {
        this.onerror?.(
          new McpscopeError(
            'UPSTREAM_STREAM_LOST',
            `upstream ${this.#options.url} refused to resume its answer stream from event ${resuming} (HTTP ${status}); send the request again`,
            { details: { id: state.requestId, status } },
          ),
        );
        return true;
      }
      // The GET stream: carry on without resumption (what was missed is lost, and counted as rejected).
      state.lastEventId = undefined;
      state.delivered = undefined;
    }
    return false;
  }

  #postRaw(
    headers: Record<string, string>,
    body: Buffer,
    signal: AbortSignal,
  ): ReturnType<typeof upstreamRequest> {
    return upstreamRequest(
      this.#url,
      { method: 'POST', headers, body, dispatcher: this.#options.dispatcher, signal },
      this,
    );
  }

  /** GET an SSE stream: the standalone one, or one resumed after event `lastEventId`. */
  #getStream(lastEventId: string | undefined): ReturnType<typeof upstreamRequest> {
    const headers = this.#headers();
    headers.accept = 'text/event-stream';
    delete headers['content-type'];
    if (lastEventId !== undefined) headers[HEADER_LAST_EVENT_ID] = lastEventId;
    return upstreamRequest(
      this.#url,
      { method: 'GET', headers, dispatcher: this.#options.dispatcher, signal: this.#abort.signal },
      this,
    );
  }

  /** The standalone GET stream for server-initiated messages; 405 means the upstream has none. */
  async #listen(): Promise<void> {
    const state = newStream(undefined);
    try {
      const res = await this.#getStream(undefined);
      if (res.statusCode !== 200) {
        await res.body.dump();
        return;
      }
      const end = await this.#readSse(res.body, state);
      if (end === 'closed') return;
    } catch (err) {
      if (!this.#closed) this.#options.logger.debug({ err: errorMessage(err) }, 'upstream GET stream ended');
      return;
    }
    await this.#reconnect(state);
  }

  /** Stop reading the upstream's streams (between chunks) until resume(). */
  pause(): void {
    this.#flow.pause();
  }

  resume(): void {
    this.#flow.resume();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#flow.resume();
    if (this.#upstreamSessionId) {
      try {
        const res = await upstreamRequest(
          this.#url,
          {
            method: 'DELETE',
            headers: { ...this.#options.headers, [HEADER_SESSION_ID]: this.#upstreamSessionId },
            dispatcher: this.#options.dispatcher,
            signal: AbortSignal.timeout(DELETE_TIMEOUT_MS),
          },
          this,
        );
        await res.body.dump();
      } catch {
        // best effort: the upstream expires it on its own
      }
    }
    this.onclose?.();
  }
}

const ignore = (): void => undefined;
const NEWLINE_BYTE = Buffer.from('\n');

/** The JSON-RPC error answer to request `id` in an HTTP error body, if that is what it holds. */
function errorAnswer(body: Buffer, id: JsonRpcId | undefined, maxBytes: number): Frame | undefined {
  if (body.length === 0 || body[0] !== 0x7b) return undefined;
  try {
    const frame = parseFrame(body, maxBytes, performance.now());
    return frame.kind === 'error' && frame.id === id ? frame : undefined;
  } catch {
    return undefined;
  }
}

function isBlank(raw: Buffer): boolean {
  for (const byte of raw) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d && byte !== 0x0a) return false;
  return true;
}

function newStream(requestId: JsonRpcId | undefined): StreamState {
  return {
    requestId,
    answered: false,
    lastEventId: undefined,
    retryMs: undefined,
    delivered: undefined,
    lastEventAt: 0,
  };
}
