import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { WebSocketServer, type WebSocket } from 'ws';
import { McpscopeError, errorHeaders, errorResponseJson } from '../jsonrpc/errors.js';
import { parseFrame, type Frame } from '../jsonrpc/framing.js';
import { ClientWireEvents } from './wireEvents.js';
import type { HttpEndpoint } from './httpEndpoint.js';
import type { EventSink } from '../session/events.js';
import { openSession, type EndpointContext } from './endpointContext.js';
import { checkOrigin } from './originCheck.js';
import type { Transport } from './transport.js';
import { MCP_SUBPROTOCOL, TEXT_FRAME, WS_CLOSE_TIMEOUT_MS } from './webSocketClient.js';
import { ClientCongestion } from './congestion.js';

/** Client messages held while the session's upstream starts (they are handed on once it has). */
export const MAX_EARLY_MESSAGES = 100;
/** Close codes: policy violation (a client that does not read), internal error (no upstream). */
const NORMAL_CLOSURE = 1000;
const GOING_AWAY = 1001;
const CLOSE_POLICY = 1008;
const CLOSE_INTERNAL = 1011;
/** Longest reason a WebSocket close frame may carry (123 bytes, by RFC 6455). */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Inbound WebSocket, one per connection and session: one JSON-RPC message per text frame, raw bytes both
 * ways. A frame that is not an acceptable message is answered with a JSON-RPC error on the socket and the
 * session goes on; a frame over the size limit closes the socket (1009, by `ws`).
 */
export class WebSocketServerTransport implements Transport {
  readonly kind = 'websocket' as const;
  readonly #socket: WebSocket;
  readonly #maxBytes: number;
  readonly #events = new ClientWireEvents('websocket', this);
  /** The connection under the WebSocket: its 'drain' ends a congestion. */
  readonly #raw: Duplex;
  readonly #limit: number;
  /** Past the high-water mark, waiting for 'drain' (the upstream is paused meanwhile). */
  readonly #congestion: ClientCongestion;
  /** Non-null until start(): messages that arrived while the upstream was starting. */
  #early: Frame[] | null = [];
  #alive = true;
  /** performance.now() when its session started and its opening was reported (0 before). */
  #openedAt = 0;
  #lastSendAt = 0;
  #closed = false;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;
  onbackpressure?: (congested: boolean) => void;
  onevent?: EventSink;

  /**
   * `raw` is the upgraded connection `socket` writes to. `clientBufferBytes`: past a quarter of it (at
   * most 1 MiB) unread, the upstream is paused until the socket drains; past all of it the client is cut
   * (1008) and the session ends.
   */
  constructor(socket: WebSocket, raw: Duplex, maxMessageBytes: number, clientBufferBytes: number) {
    this.#socket = socket;
    this.#raw = raw;
    this.#maxBytes = maxMessageBytes;
    this.#limit = clientBufferBytes;
    this.#congestion = new ClientCongestion(clientBufferBytes, this.#events, (c) => this.onbackpressure?.(c));
    socket.on('message', (data: Buffer, isBinary: boolean) => this.#message(data, isBinary));
    socket.on('pong', () => (this.#alive = true));
    // Errors (a frame over maxPayload, a broken socket) are followed by 'close'.
    socket.on('error', () => undefined);
    socket.once('close', () => {
      // Reported only if its opening was (once its session started).
      if (this.#openedAt > 0) this.#events.closed((performance.now() - this.#openedAt) / 1000);
      if (this.#closed) return;
      this.#closed = true;
      this.onclose?.();
    });
  }

  get open(): boolean {
    return !this.#closed;
  }

  /** Bytes written to the client and not yet taken by it. */
  get bufferedBytes(): number {
    return this.#socket.bufferedAmount;
  }

  async start(): Promise<void> {
    if (!this.#closed) {
      this.#openedAt = this.#lastSendAt = performance.now();
      this.#events.opened('socket');
    }
    const early = this.#early ?? [];
    this.#early = null;
    for (const frame of early) this.onmessage?.(frame);
  }

  #message(data: Buffer, isBinary: boolean): void {
    let frame: Frame;
    try {
      if (isBinary) {
        throw new McpscopeError(
          'INVALID_REQUEST',
          'binary WebSocket frames are not accepted; send each JSON-RPC message as one text frame',
          { details: { id: null } },
        );
      }
      frame = parseFrame(data, this.#maxBytes, performance.now());
    } catch (err) {
      const e = err as McpscopeError;
      const id = e.details?.id;
      this.#write(errorResponseJson(typeof id === 'string' || typeof id === 'number' ? id : null, e));
      this.onerror?.(e);
      return;
    }
    const early = this.#early;
    if (!early) {
      this.onmessage?.(frame);
      return;
    }
    if (early.length < MAX_EARLY_MESSAGES) early.push(frame);
    else {
      const err = new McpscopeError(
        'UPSTREAM_BACKPRESSURE',
        'the upstream is still starting and too many messages are waiting; send again once initialize is answered',
        { details: { id: frame.id ?? null } },
      );
      if (frame.kind === 'request') this.#write(errorResponseJson(frame.id ?? null, err));
      this.onerror?.(err);
    }
  }

  send(frame: Frame): void {
    const events = this.#events;
    if (events.active) {
      const now = performance.now();
      events.sent((now - this.#lastSendAt) / 1000);
      this.#lastSendAt = now;
    }
    this.#write(frame.raw);
  }

  #write(raw: Buffer | string): void {
    const socket = this.#socket;
    if (this.#closed || socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > this.#limit) {
      // Still behind although the upstream is paused: close it (the session ends).
      this.#events.dropped('backlog_full');
      this.#events.backpressure('closed');
      socket.close(CLOSE_POLICY, 'client is not reading its messages');
      return;
    }
    socket.send(raw, TEXT_FRAME);
    this.#congestion.check(this.#raw, socket.bufferedAmount);
  }

  /** Ping the client; one that did not answer the previous ping is cut. */
  keepAlive(): void {
    if (this.#closed) return;
    if (!this.#alive) {
      this.#socket.terminate();
      return;
    }
    this.#alive = false;
    this.#socket.ping();
  }

  /** mcpscope is stopping: say so (1001), and cut the socket if the client does not answer in time. */
  goAway(): void {
    if (this.#closed) return;
    this.#socket.close(GOING_AWAY, 'mcpscope is shutting down');
    setTimeout(() => this.#socket.terminate(), WS_CLOSE_TIMEOUT_MS).unref();
  }

  async close(reason?: McpscopeError): Promise<void> {
    if (this.#closed) return;
    if (reason) {
      // Requests that never reached the upstream get the reason as their answer.
      for (const frame of this.#early ?? [])
        if (frame.kind === 'request') this.#write(errorResponseJson(frame.id ?? null, reason));
    }
    this.#closed = true;
    this.#early = null;
    if (reason) this.#socket.close(CLOSE_INTERNAL, closeReason(reason));
    else this.#socket.close(NORMAL_CLOSURE);
    this.onclose?.();
  }
}

/** A close frame's reason: the error code and as much of its message as fits in 123 bytes. */
function closeReason(err: McpscopeError): string {
  const text = `${err.code}: ${err.message}`;
  return Buffer.byteLength(text) <= MAX_CLOSE_REASON_BYTES
    ? text
    : Buffer.from(text)
        .subarray(0, MAX_CLOSE_REASON_BYTES - 3)
        .toString('utf8')
        .replace(/\uFFFD$/, '') + '...';
}

/**
 * Answer an upgrade request with an HTTP error on the raw socket, before any WebSocket exists: the status,
 * the error's headers (a bearer challenge, Retry-After) and a JSON-RPC error body.
 */
export function refuseUpgrade(socket: Duplex, err: McpscopeError): void {
  const body = errorResponseJson(null, err);
  const status = err.httpStatus;
  const headers = Object.entries(errorHeaders(err, Buffer.byteLength(body)))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${headers}Connection: close\r\n\r\n${body}`,
  );
}

/**
 * WebSocket upgrades on the MCP endpoint path: Origin/Host checked and the session cap applied before the
 * upgrade (refused with 403/503 and a JSON-RPC error body), subprotocol `mcp` chosen when offered, messages
 * capped at the message size limit, one session per connection.
 */
export class WebSocketEndpoint implements HttpEndpoint {
  readonly #ctx: EndpointContext;
  readonly #path: string;
  readonly #server: WebSocketServer;
  readonly #transports = new Set<WebSocketServerTransport>();

  constructor(ctx: EndpointContext, path: string) {
    this.#ctx = ctx;
    this.#path = path;
    this.#server = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: ctx.maxMessageBytes,
      handleProtocols: (protocols) => (protocols.has(MCP_SUBPROTOCOL) ? MCP_SUBPROTOCOL : false),
    });
  }

  /** Requests other than upgrades are not WebSocket's. */
  handle(): boolean {
    return false;
  }

  get bufferedBytes(): number {
    let total = 0;
    for (const t of this.#transports) total += t.bufferedBytes;
    return total;
  }

  /** Take an upgrade on the endpoint path. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, path: string): boolean {
    if (path !== this.#path) return false;
    this.#accept(req, socket, head);
    return true;
  }

  #accept(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const ctx = this.#ctx;
    const forbidden = checkOrigin(req.headers.origin, req.headers.host, ctx.originPolicy);
    if (forbidden) {
      ctx.rejected(forbidden);
      refuseUpgrade(socket, forbidden);
      return;
    }
    let id: string;
    try {
      id = ctx.sessions.reserve();
    } catch (err) {
      ctx.rejected(err as McpscopeError);
      refuseUpgrade(socket, err as McpscopeError);
      return;
    }
    this.#server.handleUpgrade(req, socket, head, (ws) => void this.#connected(id, ws, socket, req));
  }

  async #connected(id: string, ws: WebSocket, raw: Duplex, req: IncomingMessage): Promise<void> {
    const ctx = this.#ctx;
    const inbound = new WebSocketServerTransport(ws, raw, ctx.maxMessageBytes, ctx.clientBufferBytes);
    const session = await openSession(this.#ctx, id, inbound, req, () => inbound.open);
    // A session whose upstream could not start was closed with its reason, which the client got.
    if (session instanceof McpscopeError) return;
    this.#transports.add(inbound);
    session.onClose(() => this.#transports.delete(inbound));
  }

  keepAlive(): void {
    for (const t of this.#transports) t.keepAlive();
  }

  /** Stop: every connection is told mcpscope is going away (the listener waits for them to close). */
  close(): void {
    for (const t of this.#transports) t.goAway();
    this.#server.close();
  }
}
