import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.js';
import { McpscopeError, type JsonRpcId } from '../jsonrpc/errors.js';
import { errorFrame, syntheticFrame, type Frame, type PendingRequest } from '../jsonrpc/framing.js';
import type { Pipeline, PipelineTarget } from '../pipeline/pipeline.js';
import type { Direction } from '../pipeline/stage.js';
import type { Transport } from '../transport/transport.js';
import { TRANSIENT_EVENTS, type SessionEvent } from './events.js';

import {
  META_CLIENT_INFO,
  META_PROTOCOL_VERSION,
  META_SERVER_INFO,
  META_SUBSCRIPTION_ID,
  STREAMING_METHODS,
  resultMetaOf,
  type Era,
} from '../jsonrpc/era.js';

/** Events kept while a session starts, before its stages see it open. */
const MAX_EARLY_EVENTS = 100;

export interface SessionOptions {
  id: string;
  inbound: Transport;
  outbound: Transport;
  pipeline: Pipeline;
  logger: Logger;
  /** Upstream described for people and errors, e.g. "node server.js" or a URL. */
  upstream: string;
  /** How the client connected, when the wire says (HTTP: remote address and request headers). */
  client?: ClientConnection;
  /** performance.now() of the message that opened it, when one did (HTTP). Default: now. */
  openedAt?: number;
}

export interface ClientConnection {
  remoteAddress?: string;
  /** The headers of the request that opened the session. May hold credentials: redact before storing. */
  headers?: Record<string, string | string[] | undefined>;
  /** The URL the client reached mcpscope at (HTTP wires), without its query. */
  endpoint?: string;
  /** With authorization on: who the token of the request that opened the session speaks for. */
  principal?: Principal;
}

export interface PeerInfo {
  name?: string;
  version?: string;
}

type ParamsWithMeta =
  { name?: unknown; uri?: unknown; _meta?: { progressToken?: unknown; [key: string]: unknown } } | undefined;

function targetOf(method: string, params: ParamsWithMeta): string | undefined {
  if (!params) return undefined;
  if (method === 'tools/call' || method === 'prompts/get')
    return typeof params.name === 'string' ? params.name : undefined;
  if (method === 'resources/read') return typeof params.uri === 'string' ? params.uri : undefined;
  return undefined;
}

function describe(p: PendingRequest): string {
  return p.target === undefined ? p.method : `${p.method} (${p.target})`;
}

/**
 * One logical MCP conversation: its two transports, its pending requests in both directions (paired once,
 * here, and handed to every stage as `frame.related`), and its lifecycle. Independent of any HTTP session
 * header, so a stateless protocol era can be bridged later.
 */
export class Session implements PipelineTarget {
  readonly id: string;
  readonly inbound: Transport;
  readonly outbound: Transport;
  readonly upstream: string;
  readonly client: ClientConnection | undefined;
  /** Wall-clock start: when the message that opened it arrived, or when it was created. */
  readonly startedAt: number;
  /** The same moment on the monotonic clock (performance.now()), for offsets. */
  readonly openedAt: number;
  protocolVersion: string | undefined;
  /** 'modern' once a client request carried a 2026-07-28 envelope; 'legacy' until then. */
  era: Era = 'legacy';
  clientInfo: PeerInfo | undefined;
  serverInfo: PeerInfo | undefined;
  /** The server answered `initialize` (2026-07-28: `server/discover`, or any request): it is up. */
  serverAnswered = false;
  /** performance.now() of the last message either way. */
  lastActivity = performance.now();
  /** Messages received from either side. */
  messages = 0;
  /** mcpscope is shutting down: new client requests are refused with SHUTTING_DOWN; answers still flow. */
  draining = false;

  readonly #pipeline: Pipeline;
  readonly #logger: Logger;
  /** Client → server requests awaiting an answer, oldest first. */
  readonly #pending = new Map<JsonRpcId, PendingRequest>();
  /** Server → client requests (sampling, elicitation, roots) awaiting the client's answer. */
  readonly #serverPending = new Map<JsonRpcId, PendingRequest>();
  readonly #byProgressToken = new Map<string | number, PendingRequest>();
  /** Events emitted before the stages saw the session open; null once they have. */
  #early: SessionEvent[] | null = [];
  /** Pending requests that stream (listen): not in flight in the timeout's or the drain's sense. */
  #streaming = 0;
  #closed = false;
  #warnedUnmatched = false;
  /** The client ended its input (stdin EOF): once nothing is pending, the upstream's input is closed too. */
  #inputEnded = false;
  /** The client is behind and the upstream paused for it (see #backpressure). */
  #clientBehind = false;
  #closeListeners: Array<(reason: McpscopeError | undefined) => void> = [];

  constructor(options: SessionOptions) {
    this.id = options.id;
    this.inbound = options.inbound;
    this.outbound = options.outbound;
    this.upstream = options.upstream;
    this.client = options.client;
    // The message that opened the session came before it (a server process started meanwhile): time
    // starts with that message, so no event of the session is older than its start.
    const now = performance.now();
    this.openedAt = Math.min(now, options.openedAt ?? now);
    this.startedAt = Date.now() - (now - this.openedAt);
    this.#pipeline = options.pipeline;
    this.#logger = options.logger;
    this.inbound.onmessage = (frame) => this.#fromClient(frame);
    this.outbound.onmessage = (frame) => this.#fromServer(frame);
    this.inbound.onerror = (err) => this.#inboundError(err);
    this.outbound.onerror = (err) => this.#outboundError(err);
    this.inbound.onclose = (reason) => this.#clientClosed(reason);
    this.outbound.onclose = (reason) => this.#upstreamClosed(reason);
    this.outbound.onreset = (reason) => this.#upstreamReset(reason);
    this.outbound.onrestored = () => this.#pipeline.upstreamRestored(this);
    const emit = (event: SessionEvent): void => {
      // Until the stages have seen the session open, its events wait (in order, bounded): a server
      // process starts, and may write to stderr, before that.
      if (this.#early === null) this.#pipeline.event(this, event);
      else if (this.#early.length < MAX_EARLY_EVENTS && !TRANSIENT_EVENTS.has(event.type))
        this.#early.push(event);
    };
    this.inbound.onevent = emit;
    this.outbound.onevent = emit;
    if (this.#pipeline.httpExchanges) this.inbound.httpExchanges = this.outbound.httpExchanges = true;
    this.inbound.onbackpressure = (congested) => this.#backpressure(congested);
  }

  /** Some stage reads HTTP exchange summaries: the HTTP endpoints report this session's (see exchange.ts). */
  get httpExchanges(): boolean {
    return this.#pipeline.httpExchanges;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Client requests waiting for their answer, not counting open subscriptions. */
  get pendingCount(): number {
    return this.#pending.size - this.#streaming;
  }

  /**
   * A request either way waits for its answer (an open subscription included): the session is in use
   * whatever its last message, so it is neither expired nor evicted for being idle.
   */
  get awaitingAnswers(): boolean {
    return this.#pending.size > 0 || this.#serverPending.size > 0;
  }

  /** Start the upstream first, so the client's first message has somewhere to go. */
  async start(): Promise<void> {
    await this.outbound.start();
    await this.inbound.start();
    this.#pipeline.sessionOpened(this);
    const early = this.#early ?? [];
    this.#early = null;
    for (const event of early) this.#pipeline.event(this, event);
  }

  /** Report an event of this session that no transport sees by itself (e.g. an HTTP exchange's summary). */
  event(event: SessionEvent): void {
    if (!this.#closed) this.#pipeline.event(this, event);
  }

  onClose(listener: (reason: McpscopeError | undefined) => void): void {
    this.#closeListeners.push(listener);
  }

  /** Entry point for a message from the client (also used by transports that parse on their own). */
  #fromClient(frame: Frame): void {
    if (this.#closed) return;
    this.lastActivity = frame.receivedAt;
    this.messages++;
    const msg = frame.msg as { params?: ParamsWithMeta; result?: { protocolVersion?: string } };
    if (frame.kind === 'request') {
      const method = frame.method as string;
      const params = msg.params;
      const token = params?._meta?.progressToken;
      const streaming = STREAMING_METHODS.has(method);
      const pending: PendingRequest = {
        id: frame.id as JsonRpcId,
        method,
        target: targetOf(method, params),
        progressToken: typeof token === 'string' || typeof token === 'number' ? token : undefined,
        startedAt: frame.receivedAt,
        streaming,
        route: frame.route,
        upstream: undefined,
        trace: undefined,
      };
      const meta = params?._meta;
      if (meta !== undefined && META_PROTOCOL_VERSION in meta) this.#envelope(meta);
      else if (method === 'initialize') {
        const p = params as { protocolVersion?: unknown; clientInfo?: PeerInfo } | undefined;
        if (typeof p?.protocolVersion === 'string') this.protocolVersion = p.protocolVersion;
        this.clientInfo = p?.clientInfo;
      }
      if (streaming) this.#streaming++;
      this.#pending.set(pending.id, pending);
      if (pending.progressToken !== undefined) this.#byProgressToken.set(pending.progressToken, pending);
      frame.related = pending;
      if (this.draining) {
        this.#refuseWhileDraining(frame, pending);
        return;
      }
    } else if (frame.kind === 'notification') {
      if (frame.method === 'notifications/cancelled') this.#clientCancelled(frame);
    } else {
      // The client's answer to a server → client request.
      const related = frame.id === undefined ? undefined : this.#serverPending.get(frame.id);
      if (!related) {
        this.#unmatched(frame, 'client-to-server', 'client answered a request the server never sent');
        return;
      }
      this.#serverPending.delete(related.id);
      frame.related = related;
    }
    this.#pipeline.process(this, frame, 'client-to-server');
  }

  #fromServer(frame: Frame): void {
    if (this.#closed) return;
    this.lastActivity = frame.receivedAt;
    this.messages++;
    if (frame.kind === 'response' || frame.kind === 'error') {
      const related = frame.id === undefined ? undefined : this.#pending.get(frame.id);
      if (!related) {
        this.#unmatched(
          frame,
          'server-to-client',
          'upstream answered a request that is not pending (answered, cancelled or timed out already)',
        );
        return;
      }
      this.#settle(related);
      frame.related = related;
      if (frame.kind === 'response') {
        if (related.method === 'initialize') {
          const result = (frame.msg as { result?: { protocolVersion?: unknown; serverInfo?: PeerInfo } })
            .result;
          if (typeof result?.protocolVersion === 'string') this.protocolVersion = result.protocolVersion;
          this.serverInfo = result?.serverInfo;
          this.serverAnswered = true;
        } else if (
          this.era === 'modern' &&
          (this.serverInfo === undefined || related.method === 'server/discover')
        ) {
          // 2026-07-28: the server names itself in its results' _meta (server/discover above all).
          const info = resultMetaOf(frame.msg)?.[META_SERVER_INFO];
          if (info !== null && typeof info === 'object') this.serverInfo = info as PeerInfo;
          // No handshake in 2026-07-28 (a v2 stdio client probes with server/discover in a process of its
          // own): any answer shows the server is up.
          this.serverAnswered = true;
        }
      }
    } else if (frame.kind === 'request') {
      const pending: PendingRequest = {
        id: frame.id as JsonRpcId,
        method: frame.method as string,
        target: undefined,
        progressToken: undefined,
        startedAt: frame.receivedAt,
        streaming: false,
        route: undefined,
        upstream: undefined,
        trace: undefined,
      };
      this.#serverPending.set(pending.id, pending);
      // A request the bridge made for a client request names it already (see src/bridge/toModern.ts).
      frame.related ??= this.#carrier(frame) ?? this.#soleInFlight();
    } else if (frame.method === 'notifications/progress') {
      const token = (frame.msg as { params?: { progressToken?: unknown } }).params?.progressToken;
      if (typeof token === 'string' || typeof token === 'number')
        frame.related = this.#byProgressToken.get(token);
    } else {
      frame.related = this.#subscriptionOf(frame) ?? this.#carrier(frame) ?? this.#soleInFlight();
    }
    this.#pipeline.process(this, frame, 'server-to-client');
  }

  /** An answer that matches no pending request: dropped, shown to observers, logged once per session. */
  #unmatched(frame: Frame, direction: Direction, why: string): void {
    this.#pipeline.dropped(this, frame, direction, 'unmatched_response');
    const level = this.#warnedUnmatched ? 'debug' : 'warn';
    this.#warnedUnmatched = true;
    this.#logger[level](
      { session: this.id, id: frame.id },
      `${why}; dropped (further ones are logged at debug)`,
    );
  }

  /** A new request during shutdown: observers see it dropped (a tape keeps it), the client gets an error. */
  #refuseWhileDraining(frame: Frame, pending: PendingRequest): void {
    this.#pipeline.dropped(this, frame, 'client-to-server', 'shutting_down');
    const err = new McpscopeError(
      'SHUTTING_DOWN',
      `mcpscope is shutting down and takes no new requests (${describe(pending)} was not sent upstream); retry against another instance or once it is back`,
    );
    this.failRequest(pending, err);
  }

  /**
   * Fail every client request still waiting with `err` (a shutdown's end, a lost upstream); `report` as in
   * failRequest. Returns how many.
   */
  failPending(err: McpscopeError, report = true): number {
    const pending = [...this.#pending.values()];
    for (const p of pending) this.failRequest(p, err, report);
    return pending.length;
  }

  /** What a 2026-07-28 envelope says of the client, on every request (no handshake states it once). */
  #envelope(meta: Record<string, unknown>): void {
    this.era = 'modern';
    const version = meta[META_PROTOCOL_VERSION];
    if (typeof version === 'string') this.protocolVersion = version;
    const info = meta[META_CLIENT_INFO];
    if (info !== null && typeof info === 'object') this.clientInfo = info as PeerInfo;
  }

  /** A notification on a listen subscription names it (the listen request's id) in its _meta. */
  #subscriptionOf(frame: Frame): PendingRequest | undefined {
    if (this.#streaming === 0) return undefined;
    const meta = (frame.msg as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
    const id = meta?.[META_SUBSCRIPTION_ID];
    if (typeof id !== 'string' && typeof id !== 'number') return undefined;
    // Some servers send the id as a string whatever its type: match either.
    return this.#pending.get(id) ?? this.#pending.get(typeof id === 'string' ? Number(id) : String(id));
  }

  /**
   * The pending client request the upstream says a message belongs to (`route`): the one whose answer
   * stream carried it from an HTTP server, or the one a replayed tape relates it to.
   */
  #carrier(frame: Frame): PendingRequest | undefined {
    const via = frame.route;
    return typeof via === 'string' || typeof via === 'number' ? this.#pending.get(via) : undefined;
  }

  #soleInFlight(): PendingRequest | undefined {
    // Over stdio a server request or log notification carries no link to the client request that caused
    // it; when exactly one client request is in flight (open subscriptions aside), that one is the cause.
    if (this.#pending.size - this.#streaming !== 1) return undefined;
    for (const p of this.#pending.values()) if (!p.streaming) return p;
    return undefined;
  }

  /** Called by the pipeline with the final message for one direction. */
  deliver(frame: Frame, direction: Direction): void {
    if (this.#closed) return;
    if (direction === 'client-to-server') {
      // A stage's answer to a server → client request (a rule's mock, a breakpoint's reply or drop): the
      // server's request is settled as the client's own answer would have settled it.
      if (frame.synthetic && frame.id !== undefined && (frame.kind === 'response' || frame.kind === 'error'))
        this.#serverPending.delete(frame.id);
      this.outbound.send(frame);
      return;
    }
    // A reply made by a stage answers a pending request too.
    if (
      (frame.kind === 'response' || frame.kind === 'error') &&
      frame.related === undefined &&
      frame.id !== undefined
    ) {
      const related = this.#pending.get(frame.id);
      if (related) {
        this.#settle(related);
        frame.related = related;
      }
    }
    this.inbound.send(frame);
    // A session whose initialize failed (upstream down, breaker open, no such tape) is no session: over
    // the network wires the client starts a new one, so this one is released now rather than at expiry.
    if (frame.kind === 'error' && frame.related?.method === 'initialize' && this.inbound.kind !== 'stdio') {
      void this.close();
    }
  }

  #settle(pending: PendingRequest): void {
    if (!this.#pending.delete(pending.id)) return;
    if (pending.streaming) this.#streaming--;
    if (this.#inputEnded && this.pendingCount === 0 && !this.#closed) void this.outbound.close();
    if (pending.progressToken !== undefined) this.#byProgressToken.delete(pending.progressToken);
  }

  #clientCancelled(frame: Frame): void {
    const requestId = (frame.msg as { params?: { requestId?: unknown } }).params?.requestId;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    const pending = this.#pending.get(requestId);
    if (!pending) return;
    this.#settle(pending);
    frame.related = pending;
  }

  /** Answer a pending client request with an mcpscope error (and, unless told not to, tell the stages). */
  failRequest(pending: PendingRequest, err: McpscopeError, report = true): void {
    this.#settle(pending);
    const frame = errorFrame(pending.id, err);
    frame.related = pending;
    if (report) this.#pipeline.error(this, err);
    this.#pipeline.process(this, frame, 'server-to-client');
  }

  /**
   * Fail every request older than `timeoutMs` with UPSTREAM_TIMEOUT and cancel it upstream.
   * Pending requests are kept oldest first, so the scan stops at the first one still in time.
   */
  expireRequests(now: number, timeoutMs: number): void {
    for (const pending of this.#pending.values()) {
      if (pending.streaming) continue;
      const elapsed = now - pending.startedAt;
      if (elapsed < timeoutMs) break;
      const ms = Math.round(elapsed);
      const err = new McpscopeError(
        'UPSTREAM_TIMEOUT',
        `${describe(pending)} got no answer from the upstream within ${ms} ms (limit ${timeoutMs} ms); ` +
          'the request was cancelled upstream. Raise --request-timeout-ms or check why the server hangs',
        { details: { method: pending.method, elapsedMs: ms, timeoutMs } },
      );
      this.failRequest(pending, err);
      const cancel = syntheticFrame({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: pending.id, reason: `mcpscope: request timed out after ${ms} ms` },
      });
      this.#pipeline.process(this, cancel, 'client-to-server');
    }
  }

  #inboundError(err: McpscopeError): void {
    this.#logger.warn({ session: this.id, code: err.code }, err.message);
    this.#pipeline.error(this, err);
  }

  #outboundError(upstreamErr: McpscopeError): void {
    const err = this.#blame(upstreamErr);
    const id = err.details?.id;
    const pending = typeof id === 'string' || typeof id === 'number' ? this.#pending.get(id) : undefined;
    this.#logger.warn({ session: this.id, code: err.code, id }, err.message);
    if (pending) this.failRequest(pending, err);
    else this.#pipeline.error(this, err);
  }

  /**
   * An upstream that stopped reading while mcpscope holds it back for a client that stopped reading is the
   * client's doing: it must not count against the upstream (nor open the breaker every session shares).
   */
  #blame(err: McpscopeError): McpscopeError {
    if (err.code !== 'UPSTREAM_BACKPRESSURE' || !this.#clientBehind) return err;
    return new McpscopeError(
      'CLIENT_BACKPRESSURE',
      `the client is not reading what it was sent, so mcpscope paused the upstream, which then stopped taking input (${err.message}); read the answers already sent (or resume the stream), then retry`,
      { cause: err, details: err.details },
    );
  }

  /**
   * The client hung up. An abrupt end closes everything; a clean end of input (stdin EOF) is passed on to
   * the upstream, and what it still says is relayed until it has gone too.
   */
  #clientClosed(reason: McpscopeError | undefined): void {
    if (this.#closed) return;
    if (reason) {
      void this.close(reason);
      return;
    }
    this.#inputEnded = true;
    // A stdio client that ends its input still reads, as it would without mcpscope: the server's input
    // ends too, and the server is stopped only once what was asked is answered (or has timed out).
    if (this.inbound.kind === 'stdio' && this.pendingCount > 0 && this.outbound.endInput) {
      this.outbound.endInput();
      return;
    }
    void this.outbound.close();
  }

  /**
   * The client is not keeping up (or has caught up): stop (or go on) reading the upstream, so a slow client
   * holds the server back instead of making mcpscope buffer without bound.
   */
  #backpressure(congested: boolean): void {
    if (this.#closed) return;
    this.#clientBehind = congested;
    this.#logger.debug(
      { session: this.id, congested },
      congested ? 'client behind: upstream paused' : 'client caught up: upstream resumed',
    );
    if (congested) this.outbound.pause?.();
    else this.outbound.resume?.();
  }

  /** The upstream lost its state (a restart): fail what was in flight, keep the session. */
  #upstreamReset(reason: McpscopeError): void {
    this.#pipeline.error(this, reason);
    this.failPending(reason, false);
    this.#serverPending.clear();
  }

  #upstreamClosed(reason: McpscopeError | undefined): void {
    if (this.#closed) return;
    if (this.#inputEnded && reason?.code === 'UPSTREAM_EXITED' && reason.details?.exitCode === 0) {
      // The server did what servers do when their input ends: not its failure.
      reason = new McpscopeError(
        'SESSION_CLOSED',
        `the client ended its input, and the upstream (${this.upstream}) exited (code 0) without answering this request`,
        { cause: reason, details: reason.details },
      );
    }
    const err =
      reason ??
      new McpscopeError(
        'SESSION_CLOSED',
        this.#inputEnded
          ? `the client ended its input, and the upstream (${this.upstream}) closed without answering this request`
          : `the upstream (${this.upstream}) closed the connection; start a new session`,
      );
    if (reason) this.#pipeline.error(this, reason);
    this.failPending(err, false);
    void this.close(err);
  }

  /** Close both ends and release everything. Idempotent. */
  async close(reason?: McpscopeError): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending.clear();
    this.#streaming = 0;
    this.#serverPending.clear();
    this.#byProgressToken.clear();
    this.#pipeline.sessionClosed(this, reason);
    await Promise.allSettled([this.inbound.close(reason), this.outbound.close()]);
    for (const listener of this.#closeListeners) listener(reason);
    this.#closeListeners = [];
  }
}
