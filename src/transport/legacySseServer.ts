import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { McpscopeError } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';
import { ClientWireEvents } from './wireEvents.js';
import type { EventSink } from '../session/events.js';
import type { Transport } from './transport.js';
import { ClientCongestion } from './congestion.js';

const SSE_DATA = Buffer.from('event: message\ndata: ');
const SSE_END = Buffer.from('\n\n');
const KEEPALIVE = ': keepalive\n\n';

/**
 * Inbound legacy HTTP+SSE (protocol revision 2024-11-05), one per session: the client's GET stream carries
 * the `endpoint` event and then every server → client message; client messages arrive by POST to that
 * endpoint (see legacySseRoutes.ts) and are handed on with `accept`.
 */
export class LegacySseServerTransport implements Transport {
  readonly kind = 'sse' as const;
  readonly sessionId: string;
  readonly #res: ServerResponse;
  readonly #endpoint: string;
  readonly #events = new ClientWireEvents('sse', this);
  readonly #limit: number;
  /** Past the high-water mark, waiting for 'drain' (the upstream is paused meanwhile). */
  readonly #congestion: ClientCongestion;
  #openedAt = 0;
  #lastWriteAt = 0;
  #closed = false;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;
  onbackpressure?: (congested: boolean) => void;
  onevent?: EventSink;

  /**
   * `endpoint` is the path (with query) the client must POST to. `clientBufferBytes`: past a quarter of it
   * (at most 1 MiB) unread, the upstream is paused until the stream drains; past all of it the client is
   * cut (this wire has no resumption, so what was unsent is lost and counted).
   */
  constructor(sessionId: string, res: ServerResponse, endpoint: string, clientBufferBytes: number) {
    this.sessionId = sessionId;
    this.#res = res;
    this.#endpoint = endpoint;
    this.#limit = clientBufferBytes;
    this.#congestion = new ClientCongestion(clientBufferBytes, this.#events, (c) => this.onbackpressure?.(c));
  }

  /** Send the headers and the endpoint event: from here on the client may POST. */
  async start(): Promise<void> {
    const res = this.#res;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    });
    res.write(`event: endpoint\ndata: ${this.#endpoint}\n\n`);
    this.#openedAt = this.#lastWriteAt = performance.now();
    this.#events.opened('get');
    res.once('close', () => {
      this.#events.closed((performance.now() - this.#openedAt) / 1000);
      if (this.#closed) return;
      this.#closed = true;
      this.onclose?.();
    });
  }

  /** Bytes written to the client and not yet taken by it. */
  get bufferedBytes(): number {
    return this.#res.writableLength;
  }

  /** A client message POSTed to the endpoint. */
  accept(frame: Frame): void {
    if (!this.#closed) this.onmessage?.(frame);
  }

  send(frame: Frame): void {
    const res = this.#res;
    if (this.#closed || res.writableEnded) return;
    if (res.writableLength > this.#limit) {
      // Still behind although the upstream is paused: cut it (the session ends).
      this.#events.dropped('backlog_full');
      this.#events.backpressure('closed');
      res.destroy();
      return;
    }
    const observer = this.#events;
    if (observer.active) {
      const now = performance.now();
      observer.sent((now - this.#lastWriteAt) / 1000);
      this.#lastWriteAt = now;
    }
    res.cork();
    res.write(SSE_DATA);
    res.write(frame.raw);
    res.write(SSE_END);
    res.uncork();
    this.#congestion.check(res, res.writableLength);
  }

  /** Write an SSE comment so intermediaries keep the stream open. */
  keepAlive(): void {
    if (!this.#closed && !this.#res.writableEnded) this.#res.write(KEEPALIVE);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#res.writableEnded) this.#res.end();
    this.onclose?.();
  }
}
