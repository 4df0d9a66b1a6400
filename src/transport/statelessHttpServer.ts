import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { answersWithStatus, errorHeaders, type JsonRpcId, type McpscopeError } from '../jsonrpc/errors.js';
import { META_SUBSCRIPTION_ID, modernStatusOf } from '../jsonrpc/era.js';
import { syntheticFrame, type Frame } from '../jsonrpc/framing.js';
import type { EventSink } from '../session/events.js';
import { ClientWireEvents } from './wireEvents.js';
import { DEFAULT_CLIENT_BUFFER_BYTES, highWaterMark, type Transport } from './transport.js';

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;
const SSE_DATA = Buffer.from('event: message\ndata: ');
const SSE_END = Buffer.from('\n\n');
const KEEPALIVE = ': keepalive\n\n';
/** Prefix of the ids mcpscope gives requests whose own id is already in flight for this client. */
const REWRITTEN_ID_PREFIX = 'mcpscope-';

/** One POSTed request and the response that carries its answer. */
interface Exchange {
  /** The id the client gave it. */
  readonly clientId: JsonRpcId;
  /** The id the upstream sees: the client's, or a fresh one when the client's was already in flight. */
  readonly id: JsonRpcId;
  readonly res: ServerResponse;
  /** SSE headers are out: later messages are events on the same response. */
  streaming: boolean;
  /** Answered, or the client went away. */
  done: boolean;
  congested: boolean;
  /** performance.now() when the request arrived (for stream_connection_duration_seconds). */
  readonly openedAt: number;
}

export interface StatelessHttpServerTransportOptions {
  /** Answer the spec's validation errors with their HTTP status (400, 404): true when the upstream is not HTTP. */
  mapStatus: boolean;
  /** Bytes a client may leave unread on one response before the upstream is paused, then the response cut. */
  clientBufferBytes?: number;
  logger?: Logger;
}

/** Replace a frame's message (only where ids collide, so the common path never re-serialises). */
function rewrite(frame: Frame, msg: object): void {
  frame.msg = msg as unknown as Frame['msg'];
  frame.raw = Buffer.from(JSON.stringify(msg));
}

function withId(frame: Frame, id: JsonRpcId): void {
  rewrite(frame, { ...(frame.msg as object), id });
  frame.id = id;
}

/**
 * Inbound Streamable HTTP for MCP 2026-07-28, one instance per client identity (its Session): no session
 * header, no GET stream, no resumption. Each POSTed request is an exchange whose answer goes back on its own
 * response, as JSON when nothing came before it, else as the last event of an SSE stream. Requests from
 * different exchanges that reuse an id in flight get a fresh id upstream (and theirs back in the answer),
 * so clients of one identity never see each other's answers. A client that hangs up cancels its request.
 */
export class StatelessHttpServerTransport implements Transport {
  readonly kind = 'streamable-http' as const;
  readonly #options: StatelessHttpServerTransportOptions;
  readonly #events = new ClientWireEvents('streamable-http', this);
  readonly #highWater: number;
  readonly #limit: number;
  /** Open exchanges by the id the upstream sees. */
  readonly #open = new Map<JsonRpcId, Exchange>();
  #nextId = 1;
  #congested = 0;
  #closed = false;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;
  onbackpressure?: (congested: boolean) => void;
  onevent?: EventSink;

  constructor(options: StatelessHttpServerTransportOptions) {
    this.#options = options;
    this.#limit = options.clientBufferBytes ?? DEFAULT_CLIENT_BUFFER_BYTES;
    this.#highWater = highWaterMark(this.#limit);
  }

  async start(): Promise<void> {}

  /** True while an exchange is open: the session is in use, however quiet. */
  get busy(): boolean {
    return this.#open.size > 0;
  }

  get bufferedBytes(): number {
    let bytes = 0;
    for (const e of this.#open.values()) bytes += e.res.writableLength;
    return bytes;
  }

  /** A POSTed request: its answer (and the notifications that belong to it) go back on `res`. */
  acceptRequest(frame: Frame, res: ServerResponse): void {
    const clientId = frame.id as JsonRpcId;
    let id = clientId;
    if (this.#open.has(id)) {
      id = `${REWRITTEN_ID_PREFIX}${this.#nextId++}`;
      withId(frame, id);
    }
    const exchange: Exchange = {
      clientId,
      id,
      res,
      streaming: false,
      done: false,
      congested: false,
      openedAt: frame.receivedAt,
    };
    this.#open.set(id, exchange);
    res.once('close', () => this.#hungUp(exchange));
    this.#events.opened('post');
    frame.route = exchange;
    this.onmessage?.(frame);
  }

  /** A POSTed notification: handed on, then 202. A cancellation names the request by the client's id. */
  acceptMessage(frame: Frame, res: ServerResponse): void {
    if (frame.method === 'notifications/cancelled') this.#cancelledByClient(frame);
    this.onmessage?.(frame);
    res.writeHead(202).end();
  }

  #cancelledByClient(frame: Frame): void {
    const params = (frame.msg as { params?: { requestId?: unknown } }).params;
    const requestId = params?.requestId;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    if (this.#open.get(requestId)?.clientId === requestId) return;
    for (const e of this.#open.values()) {
      if (e.clientId === requestId) {
        rewrite(frame, { ...(frame.msg as object), params: { ...params, requestId: e.id } });
        return;
      }
    }
  }

  send(frame: Frame): void {
    if (this.#closed) return;
    const answer = frame.kind === 'response' || frame.kind === 'error';
    let exchange = frame.related?.route as Exchange | undefined;
    if (exchange?.done) exchange = undefined;
    if (answer) {
      if (!exchange) {
        this.#events.dropped('no_stream');
        return;
      }
      if (exchange.id !== exchange.clientId) withId(frame, exchange.clientId);
      this.#answer(exchange, frame);
      return;
    }
    exchange ??= this.#newestOpen();
    if (!exchange) {
      // Nothing is open to carry it (2026-07-28 has no standalone stream): a server that notifies out of
      // any request's scope is not heard.
      this.#events.dropped('no_stream');
      return;
    }
    if (exchange.id !== exchange.clientId) this.#restoreSubscriptionId(frame, exchange);
    this.#event(exchange, frame.raw);
  }

  #answer(exchange: Exchange, frame: Frame): void {
    exchange.done = true;
    this.#open.delete(exchange.id);
    const res = exchange.res;
    if (res.writableEnded || res.destroyed) return;
    if (exchange.streaming) {
      this.#writeEvent(res, frame.raw);
      res.end();
      return;
    }
    const err = frame.error;
    if (err && answersWithStatus(err)) {
      res.writeHead(err.httpStatus, errorHeaders(err, frame.raw.length));
      res.end(frame.raw);
      return;
    }
    const status = frame.httpStatus ?? (this.#options.mapStatus ? modernStatusOf(frame) : 200);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': frame.raw.length });
    res.end(frame.raw);
  }

  /** A notification for the client, as an SSE event on its exchange's response. */
  #event(exchange: Exchange, raw: Buffer): void {
    const res = exchange.res;
    if (res.writableEnded || res.destroyed) return;
    if (!exchange.streaming) {
      exchange.streaming = true;
      res.writeHead(200, SSE_HEADERS);
    }
    this.#events.sent(-1);
    this.#writeEvent(res, raw);
    if (res.writableLength >= this.#highWater) this.#checkBuffer(exchange);
  }

  #writeEvent(res: ServerResponse, raw: Buffer): void {
    res.cork();
    res.write(SSE_DATA);
    res.write(raw);
    res.write(SSE_END);
    res.uncork();
  }

  /** Listen notifications name the listen request: by the id the client gave it. */
  #restoreSubscriptionId(frame: Frame, exchange: Exchange): void {
    const params = (frame.msg as { params?: { _meta?: Record<string, unknown> } }).params;
    const meta = params?._meta;
    if (meta?.[META_SUBSCRIPTION_ID] !== exchange.id) return;
    rewrite(frame, {
      ...(frame.msg as object),
      params: { ...params, _meta: { ...meta, [META_SUBSCRIPTION_ID]: exchange.clientId } },
    });
  }

  /** Past the high-water mark the upstream waits for this response to drain; past the limit it is cut. */
  #checkBuffer(exchange: Exchange): void {
    const res = exchange.res;
    if (res.writableLength > this.#limit) {
      this.#events.backpressure('closed');
      this.#options.logger?.warn(
        { unsentBytes: res.writableLength, limitBytes: this.#limit },
        'client is not reading its stream: closed it and cancelled its request (2026-07-28 streams cannot be resumed); raise --client-buffer-bytes if clients are slow but steady',
      );
      res.destroy();
      return;
    }
    if (exchange.congested || !res.writableNeedDrain) return;
    exchange.congested = true;
    if (this.#congested++ === 0) this.#flow(true);
    res.once('drain', () => this.#drained(exchange));
  }

  #drained(exchange: Exchange): void {
    if (!exchange.congested) return;
    exchange.congested = false;
    if (--this.#congested === 0) this.#flow(false);
  }

  #flow(paused: boolean): void {
    this.#events.backpressure(paused ? 'paused' : 'resumed');
    this.onbackpressure?.(paused);
  }

  #newestOpen(): Exchange | undefined {
    let newest: Exchange | undefined;
    for (const e of this.#open.values()) newest = e;
    return newest;
  }

  /**
   * The response closed. After its answer that is the end of the exchange; before it, the client hung up,
   * which in 2026-07-28 is how a request is cancelled: the upstream is told, and its answer is not awaited.
   */
  #hungUp(exchange: Exchange): void {
    this.#events.closed((performance.now() - exchange.openedAt) / 1000);
    this.#drained(exchange);
    if (exchange.done) return;
    exchange.done = true;
    this.#open.delete(exchange.id);
    if (this.#closed) return;
    this.onmessage?.(
      syntheticFrame({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: exchange.id, reason: 'the client closed its HTTP stream' },
      }),
    );
  }

  /** Every open exchange gets a keep-alive comment (long-lived listen streams above all). */
  keepAlive(): void {
    for (const e of this.#open.values()) {
      if (e.streaming && !e.res.writableEnded) e.res.write(KEEPALIVE);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const e of this.#open.values()) {
      const res = e.res;
      if (res.writableEnded) continue;
      if (res.headersSent) res.end();
      else res.writeHead(503, { 'content-type': 'application/json' }).end();
    }
    this.#open.clear();
    this.onclose?.();
  }
}
