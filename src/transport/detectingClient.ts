import { McpscopeError, errorMessage } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';
import type { Transport, TransportKind } from './transport.js';
import type { EventSink } from '../session/events.js';

/** Messages held while switching to the legacy transport (the client normally sends none before the answer). */
export const MAX_HELD_WHILE_DETECTING = 100;

export interface DetectingClientTransportOptions {
  /** A Streamable HTTP transport that calls `hint` instead of failing on a 400/404/405 to initialize. */
  streamable(hint: (initialize: Frame, status: number) => void): Transport;
  /** The legacy HTTP+SSE transport to fall back to. */
  legacy(): Transport;
  /** Told once which transport the upstream speaks, so later sessions skip detection. */
  detected(kind: TransportKind): void;
}

/**
 * The spec's backwards-compatibility rule for clients, as a transport: POST the initialize request as
 * Streamable HTTP; if the upstream answers 400, 404 or 405, open the URL as a legacy HTTP+SSE stream
 * (GET, expecting an `endpoint` event) and send the initialize there instead.
 */
export class DetectingClientTransport implements Transport {
  readonly #options: DetectingClientTransportOptions;
  #current: Transport;
  /** Non-null while switching: what the client sent meanwhile. */
  #held: Frame[] | null = null;
  #known = false;
  #paused = false;
  #closed = false;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;
  onreset?: (reason: McpscopeError) => void;
  onevent?: EventSink;
  #httpExchanges = false;

  constructor(options: DetectingClientTransportOptions) {
    this.#options = options;
    this.#current = options.streamable((initialize, status) => void this.#fallBack(initialize, status));
    this.#wire(this.#current);
  }

  /** The upstream's Streamable HTTP session, once it gave one (tapes and --bridge read it). */
  get upstreamSessionId(): unknown {
    return (this.#current as { upstreamSessionId?: unknown }).upstreamSessionId;
  }

  get httpExchanges(): boolean {
    return this.#httpExchanges;
  }

  set httpExchanges(on: boolean) {
    this.#httpExchanges = on;
    this.#current.httpExchanges = on;
  }

  get kind(): TransportKind {
    return this.#current.kind;
  }

  #wire(t: Transport): void {
    t.onmessage = (frame) => {
      if (!this.#known) {
        this.#known = true;
        this.#options.detected(t.kind);
      }
      this.onmessage?.(frame);
    };
    t.onerror = (err) => this.onerror?.(err);
    t.onclose = (reason) => this.onclose?.(reason);
    t.onreset = (reason) => this.onreset?.(reason);
    t.onevent = (event) => this.onevent?.(event);
    t.httpExchanges = this.#httpExchanges;
  }

  async start(): Promise<void> {
    await this.#current.start();
  }

  send(frame: Frame): void {
    const held = this.#held;
    if (!held) {
      this.#current.send(frame);
      return;
    }
    if (held.length < MAX_HELD_WHILE_DETECTING) {
      held.push(frame);
      return;
    }
    this.onerror?.(
      new McpscopeError(
        'UPSTREAM_BACKPRESSURE',
        'the upstream transport is still being detected and too many messages are waiting; message not sent',
        { details: { id: frame.kind === 'request' ? frame.id : undefined } },
      ),
    );
  }

  async #fallBack(initialize: Frame, status: number): Promise<void> {
    if (this.#closed || this.#held) return;
    this.#held = [];
    const old = this.#current;
    old.onmessage = old.onerror = old.onclose = old.onreset = old.onevent = undefined;
    void old.close();
    const legacy = this.#options.legacy();
    this.#current = legacy;
    this.#wire(legacy);
    if (this.#paused) legacy.pause?.();
    try {
      await legacy.start();
    } catch (err) {
      this.#held = null;
      const e = new McpscopeError(
        'UPSTREAM_PROTOCOL_ERROR',
        `the upstream answered the Streamable HTTP initialize with HTTP ${status}, and as a legacy HTTP+SSE endpoint: ${errorMessage(err)}; check the URL (Streamable HTTP endpoints are often /mcp, legacy ones /sse)`,
        { cause: err, details: { id: initialize.id, status } },
      );
      this.onerror?.(e);
      this.onclose?.(e);
      return;
    }
    const held = this.#held;
    this.#held = null;
    if (this.#closed) return;
    legacy.send(initialize);
    for (const frame of held) legacy.send(frame);
  }

  pause(): void {
    this.#paused = true;
    this.#current.pause?.();
  }

  resume(): void {
    this.#paused = false;
    this.#current.resume?.();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#held = null;
    await this.#current.close();
  }
}
