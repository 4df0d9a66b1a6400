/**
 * The gateway's outbound transport: one client session's view of several upstreams, as one Transport, so
 * the Session, its stages, metrics, the feed, tapes, rules and limits work as in every other mode.
 *
 * - `initialize` (2025 era) and `server/discover` (2026-07-28) are answered by the gateway with the union
 *   of the upstreams' capabilities. Each upstream's session is opened at the client's first request
 *   (initialize, or a 2026-07-28 client's first request), all in parallel, with the client's own
 *   capabilities and info, so that lists, change notifications and server → client requests work from
 *   the start; one that fails is opened again at the next request that needs it, with backoff.
 * - Lists are merged: names prefixed, hidden ones left out, one cursor carrying each upstream's own.
 * - Calls are routed by their name's prefix (one Map lookup), resources by the URI the upstreams listed
 *   or the templates that cover it. Client request ids pass through unchanged (each upstream has its own
 *   session); the gateway's own requests use ids of its own; server → client requests get ids that are
 *   unique in the session, mapped back when the client answers.
 * - One upstream that is down, slow or whose circuit is open costs only its own names: merged answers go
 *   without it (and say so in `_meta`), requests for it get an error naming it.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { isObject, objectOr } from '../bridge/bridge.js';
import { McpscopeError, type JsonRpcId } from '../jsonrpc/errors.js';
import { META_SERVER_INFO, encodeHeaderValue, eraOf, type Era } from '../jsonrpc/era.js';
import {
  errorFrame,
  syntheticFrame,
  withMessage,
  type Frame,
  type PendingRequest,
} from '../jsonrpc/framing.js';
import type { EventSink, GatewayEvent } from '../session/events.js';
import type { Transport } from '../transport/transport.js';
import {
  GATEWAY_INFO,
  discoverResult,
  errorText,
  initializeResult,
  listResult,
  type AnswerHost,
} from './answers.js';
import { GatewayListens } from './listen.js';
import { MAX_WAITING, Member, openError, type UpstreamDef } from './member.js';
import { LISTS, type ListKind } from './merge.js';
import { META_UPSTREAM, type NameRouter } from './names.js';
import { ResourceRoutes } from './resources.js';

type Json = Record<string, unknown>;

/** The ids of the gateway's own requests to upstreams (never one a client uses: mcpscope's prefix). */
export const INTERNAL_PREFIX = 'mcpscope-gateway-';

export interface AggregateOptions {
  upstreams: readonly UpstreamDef[];
  /** Upstream names to their index in `upstreams`, with the separator. */
  router: NameRouter<number>;
  /** Longest wait for one upstream's part of a merged answer, and for it to open, ms. */
  upstreamTimeoutMs: number;
  logger: Logger;
  /** Whether an upstream's circuit breaker is open (merged answers then go without it). */
  circuitOpen?: (upstream: string) => boolean;
}

interface Route {
  readonly member: Member;
  readonly transport: Transport;
  readonly pending: PendingRequest | undefined;
}

interface Ask {
  readonly member: Member;
  readonly transport: Transport;
  readonly resolve: (frame: Frame) => void;
  readonly reject: (err: McpscopeError) => void;
  readonly timer: NodeJS.Timeout;
}

/** A server → client request, by the id the client sees. */
interface Asked {
  readonly member: Member;
  readonly transport: Transport;
  readonly id: JsonRpcId;
}

export class AggregateTransport implements Transport {
  readonly kind = 'gateway' as const;
  readonly #members: readonly Member[];
  readonly #router: NameRouter<number>;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #circuitOpen: ((upstream: string) => boolean) | undefined;
  /** Client requests routed to one upstream, by their id (the same id upstream). */
  readonly #routes = new Map<JsonRpcId, Route>();
  /** The gateway's own requests upstream, by their id. */
  readonly #asks = new Map<string, Ask>();
  /** Server → client requests, by the id the client sees. */
  readonly #asked = new Map<JsonRpcId, Asked>();
  /** Client requests the gateway answers by merging, while their parts are out: cancelled ones are dropped. */
  readonly #merges = new Map<JsonRpcId, { cancelled: boolean }>();
  /** Where resource URIs go, learnt from the lists. */
  readonly #resources = new ResourceRoutes();
  readonly #host: AnswerHost;
  readonly #listens: GatewayListens;
  #era: Era | undefined;
  /** A 2025-era client's initialize params, sent to each upstream as it opens. */
  #clientInit: Json | undefined;
  /** The client has its initialize answer: upstreams that come and go are announced (list_changed). */
  #announced = false;
  #logLevel: Json | undefined;
  #ids = 0;
  #serverIds = 0;
  #paused = false;
  #closed = false;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;
  onevent?: EventSink;

  constructor(options: AggregateOptions) {
    this.#members = options.upstreams.map((def, i) => new Member(def, i));
    this.#router = options.router;
    this.#timeoutMs = options.upstreamTimeoutMs;
    this.#logger = options.logger;
    this.#circuitOpen = options.circuitOpen;
    this.#host = {
      members: this.#members,
      router: this.#router,
      resources: this.#resources,
      era: () => this.#era,
      open: (m) => this.#open(m),
      ask: (m, method, params, like) => this.#ask(m, method, params, like),
      circuitOpen: (m) => this.#circuitOpen?.(m.name) === true,
      missing: (m, err, what) => this.#emit(m, 'missing', err, what),
    };
    this.#listens = new GatewayListens({
      open: (m) => this.#open(m),
      send: (m, msg, like) => this.#post(m, msg, like),
      nextId: () => this.#nextId(),
      toClient: (frame) => this.onmessage?.(frame),
      memberForUri: (uri) => this.#memberForUri(uri),
      circuitOpen: (m) => this.#circuitOpen?.(m.name) === true,
    });
  }

  /** Upstreams are opened at the client's first request, not with the session. */
  async start(): Promise<void> {}

  /** The upstream a request goes to, by its name or URI, when it goes to one (for the circuit breakers). */
  upstreamOf(frame: Frame): string | undefined {
    const params = (frame.msg as { params?: { name?: unknown; uri?: unknown; ref?: unknown } }).params;
    switch (frame.method) {
      case 'tools/call':
      case 'prompts/get': {
        const name = params?.name;
        const hit = typeof name === 'string' ? this.#router.route(name) : undefined;
        return hit === undefined ? undefined : this.#members[hit.upstream]?.name;
      }
      case 'resources/read':
      case 'resources/subscribe':
      case 'resources/unsubscribe':
        return typeof params?.uri === 'string' ? this.#memberForUri(params.uri)?.name : undefined;
      default:
        return undefined;
    }
  }

  send(frame: Frame): void {
    if (this.#closed) return;
    if (frame.kind === 'request') this.#request(frame);
    else if (frame.kind === 'notification') this.#notification(frame);
    else this.#clientAnswer(frame);
  }

  // Client → upstreams

  #request(frame: Frame): void {
    const method = frame.method as string;
    this.#era ??= method === 'initialize' ? 'legacy' : eraOf(frame);
    switch (method) {
      case 'tools/call':
        this.#byName(frame, 'tools', frame.msg as { params?: Json });
        return;
      case 'prompts/get':
        this.#byName(frame, 'prompts', frame.msg as { params?: Json });
        return;
      case 'resources/read':
      case 'resources/subscribe':
      case 'resources/unsubscribe':
        this.#byUri(frame, (frame.msg as { params?: { uri?: unknown } }).params?.uri);
        return;
      case 'initialize':
        void this.#initialize(frame);
        return;
      case 'server/discover':
        void this.#discover(frame);
        return;
      case 'ping':
        this.#reply(frame, {});
        return;
      case 'completion/complete':
        this.#completion(frame);
        return;
      case 'logging/setLevel':
        void this.#setLevel(frame);
        return;
      case 'subscriptions/listen':
        this.#listens.listen(frame, this.#members);
        return;
    }
    const list = LISTS.get(method);
    if (list) {
      void this.#list(frame, method, list);
      return;
    }
    this.#refuse(
      frame,
      new McpscopeError(
        'GATEWAY_UNROUTABLE',
        `the gateway does not know which upstream serves ${method}; it routes tools, prompts, resources, completions and lists`,
      ),
    );
  }

  #byName(frame: Frame, which: 'tools' | 'prompts', msg: { params?: Json }, ref?: Json): void {
    const holder = ref ?? msg.params;
    const name = holder?.name;
    const what = which === 'tools' ? 'tool' : 'prompt';
    const hit = typeof name === 'string' ? this.#router.route(name) : undefined;
    if (hit === undefined) {
      const names = this.#members.map((m) => m.name).join(', ');
      this.#refuse(
        frame,
        new McpscopeError(
          'GATEWAY_UNKNOWN_NAME',
          `no upstream serves ${what} ${JSON.stringify(name)}: the gateway names them <upstream>${this.#router.separator}<name>, and its upstreams are ${names}; list them (${which}/list) for the names`,
          { details: { name: typeof name === 'string' ? name : null } },
        ),
      );
      return;
    }
    const member = this.#members[hit.upstream] as Member;
    const filter = member.def[which];
    if (!filter.open && !filter.allows(hit.name)) {
      this.#refuse(
        frame,
        new McpscopeError(
          'GATEWAY_NAME_HIDDEN',
          `${what} ${String(name)} is hidden by the gateway's configuration (upstreams.${member.name}.${which}): ${filter.why(hit.name)}; it is not listed and cannot be called`,
          { details: { name, upstream: member.name } },
        ),
      );
      return;
    }
    const renamed = { ...holder, name: hit.name };
    const params = ref ? { ...msg.params, ref: renamed } : renamed;
    const out = withMessage(frame, { ...(frame.msg as object), params });
    if (frame.mcpHeaders && !ref)
      out.mcpHeaders = { ...frame.mcpHeaders, 'mcp-name': encodeHeaderValue(hit.name) };
    this.#forward(member, out);
  }

  #byUri(frame: Frame, uri: unknown): void {
    const member = typeof uri === 'string' ? this.#memberForUri(uri) : undefined;
    if (member === undefined) {
      this.#refuse(
        frame,
        new McpscopeError(
          'GATEWAY_UNKNOWN_RESOURCE',
          `no upstream listed resource ${JSON.stringify(uri)} and no resource template covers it; list resources (resources/list, resources/templates/list) first, or check the URI`,
          { details: { uri: typeof uri === 'string' ? uri : null } },
        ),
      );
      return;
    }
    this.#forward(member, frame);
  }

  #completion(frame: Frame): void {
    const msg = frame.msg as { params?: Json };
    const ref = objectOr(msg.params?.ref);
    if (ref.type === 'ref/prompt') this.#byName(frame, 'prompts', msg, ref);
    else {
      const owner = this.#resources.templateOwner(ref.uri);
      if (owner) this.#forward(owner, frame);
      else this.#byUri(frame, ref.uri);
    }
  }

  #memberForUri(uri: string): Member | undefined {
    return this.#resources.memberFor(uri, this.#members);
  }

  /** To one upstream: now when it is open, else once it is (opening it if need be). */
  #forward(member: Member, frame: Frame): void {
    if (member.state === 'open') {
      this.#deliver(member, frame);
      return;
    }
    const now = performance.now();
    if (member.state === 'down' && now < member.retryAt) {
      this.#fail(frame, member.down(now));
      return;
    }
    if (member.waiting.length >= MAX_WAITING) {
      this.#fail(frame, member.unavailable(`${MAX_WAITING} messages already wait for it to open`));
      return;
    }
    member.waiting.push(frame);
    this.#open(member).catch(() => undefined);
  }

  #deliver(member: Member, frame: Frame): void {
    const transport = member.transport as Transport;
    if (frame.kind === 'request') {
      const pending = frame.related;
      if (pending) pending.upstream = member.name;
      this.#routes.set(frame.id as JsonRpcId, { member, transport, pending });
      member.inflight++;
    }
    transport.send(frame);
  }

  #notification(frame: Frame): void {
    switch (frame.method) {
      case 'notifications/initialized':
        // Each upstream had its own when it answered the gateway's initialize.
        return;
      case 'notifications/cancelled':
        this.#cancelled(frame);
        return;
      default:
        // roots/list_changed and the like concern every upstream.
        for (const m of this.#members) if (m.state === 'open') m.transport?.send(frame);
    }
  }

  #cancelled(frame: Frame): void {
    const requestId = (frame.msg as { params?: { requestId?: unknown } }).params?.requestId;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    const route = this.#routes.get(requestId);
    if (route) {
      this.#routes.delete(requestId);
      route.member.inflight--;
      if (route.member.transport === route.transport) route.transport.send(frame);
      return;
    }
    const merge = this.#merges.get(requestId);
    if (merge) {
      merge.cancelled = true;
      return;
    }
    this.#listens.cancel(requestId);
  }

  /** The client's answer to a server → client request: back to the upstream that asked, with its id. */
  #clientAnswer(frame: Frame): void {
    const asked = frame.id === undefined ? undefined : this.#asked.get(frame.id);
    if (!asked) return;
    this.#asked.delete(frame.id as JsonRpcId);
    if (asked.member.transport !== asked.transport) return; // that upstream session is gone
    asked.transport.send(withMessage(frame, { ...(frame.msg as object), id: asked.id }));
  }

  // Upstreams → client

  #wire(member: Member, transport: Transport): void {
    transport.onmessage = (frame) => {
      if (member.transport === transport) this.#fromUpstream(member, frame);
    };
    transport.onerror = (err) => {
      if (member.transport === transport) this.#upstreamError(member, transport, err);
    };
    transport.onclose = (reason) => {
      if (member.transport !== transport) return;
      this.#lost(
        member,
        transport,
        member.named(reason ?? new McpscopeError('SESSION_CLOSED', 'the upstream closed the connection')),
        'down',
      );
    };
    transport.onreset = (reason) => {
      if (member.transport === transport) this.#failInFlight(member, member.named(reason));
    };
    transport.onevent = (event) => this.onevent?.(event);
  }

  #fromUpstream(member: Member, frame: Frame): void {
    if (frame.kind === 'response' || frame.kind === 'error') {
      const id = frame.id;
      if (typeof id === 'string' && id.startsWith(INTERNAL_PREFIX)) {
        this.#internalAnswer(id, frame);
        return;
      }
      const route = id === undefined ? undefined : this.#routes.get(id);
      if (route !== undefined) {
        if (route.member !== member) {
          this.#logger.debug(
            { upstream: member.name, id },
            'gateway: an answer from the wrong upstream; dropped',
          );
          return;
        }
        this.#routes.delete(id as JsonRpcId);
        member.inflight--;
      }
      // Unmatched answers go on too: the Session drops them and says so.
      this.onmessage?.(frame);
      return;
    }
    if (frame.kind === 'request') this.#serverRequest(member, frame);
    else this.#serverNotification(member, frame);
  }

  #serverRequest(member: Member, frame: Frame): void {
    const id = ++this.#serverIds;
    this.#asked.set(id, { member, transport: member.transport as Transport, id: frame.id as JsonRpcId });
    const msg = frame.msg as { params?: unknown };
    const out = withMessage(frame, { ...msg, id, ...tagged(msg.params, member.name) });
    // The client request it serves: the one whose stream carried it (HTTP), or the upstream's only one.
    out.related = this.#relatedOf(member, frame.route);
    this.onmessage?.(out);
  }

  #relatedOf(member: Member, route: unknown): PendingRequest | undefined {
    if (typeof route === 'string' || typeof route === 'number') {
      const r = this.#routes.get(route);
      if (r?.member === member) return r.pending;
    }
    if (member.inflight !== 1) return undefined;
    for (const r of this.#routes.values()) if (r.member === member) return r.pending;
    return undefined;
  }

  #serverNotification(member: Member, frame: Frame): void {
    const msg = frame.msg as { params?: Json };
    switch (frame.method) {
      case 'notifications/cancelled': {
        // The server gave up a request of its own: the client knows it by the gateway's id.
        const requestId = msg.params?.requestId;
        for (const [id, asked] of this.#asked) {
          if (asked.member !== member || asked.id !== requestId) continue;
          this.#asked.delete(id);
          this.onmessage?.(withMessage(frame, { ...msg, params: { ...msg.params, requestId: id } }));
          return;
        }
        return;
      }
      case 'notifications/resources/list_changed':
        this.#resources.forget(member);
      // falls through
      case 'notifications/tools/list_changed':
      case 'notifications/prompts/list_changed': {
        const out = withMessage(frame, { ...msg, ...tagged(msg.params ?? {}, member.name) });
        if (!this.#listens.relay(member, out)) this.onmessage?.(out);
        return;
      }
      default:
        if (this.#listens.relay(member, frame)) return;
        // Progress (the client's token), log messages, resources/updated (its URI): as they are.
        this.onmessage?.(frame);
    }
  }

  #upstreamError(member: Member, transport: Transport, err: McpscopeError): void {
    const named = member.named(err);
    const id = err.details?.id;
    if (typeof id === 'string' && id.startsWith(INTERNAL_PREFIX)) {
      const ask = this.#asks.get(id);
      if (ask) {
        this.#asks.delete(id);
        clearTimeout(ask.timer);
        ask.reject(named);
      } else this.#listens.partFailed(id, named);
    } else {
      const route = typeof id === 'string' || typeof id === 'number' ? this.#routes.get(id) : undefined;
      if (route?.member === member) {
        this.#routes.delete(id as JsonRpcId);
        member.inflight--;
      }
      // The Session fails the request it names (details.id), or reports the error.
      this.onerror?.(named);
    }
    // Nothing answers at that address: the upstream is down until opened again (while it is being opened,
    // the open fails instead).
    if (err.code === 'UPSTREAM_UNREACHABLE' && member.state === 'open')
      this.#lost(member, transport, named, 'down');
  }

  // Opening upstreams

  #open(member: Member): Promise<void> {
    if (member.state === 'open') return Promise.resolve();
    if (member.opening) return member.opening;
    const now = performance.now();
    if (member.state === 'down' && now < member.retryAt) return Promise.reject(member.down(now));
    member.state = 'opening';
    member.opening = this.#opening(member).finally(() => {
      member.opening = undefined;
    });
    return member.opening;
  }

  async #opening(member: Member): Promise<void> {
    const transport = member.def.create();
    member.transport = transport;
    this.#wire(member, transport);
    if (this.#paused) transport.pause?.();
    try {
      await this.#within(transport.start(), member);
      if (this.#era === 'legacy' && this.#clientInit) {
        const answer = await this.#ask(member, 'initialize', this.#clientInit, undefined);
        if (answer.kind !== 'response') {
          throw new McpscopeError(
            'GATEWAY_UPSTREAM_UNAVAILABLE',
            `refused the initialize: ${errorText(answer)}`,
          );
        }
        member.init = objectOr((answer.msg as { result?: unknown }).result);
        transport.send(syntheticFrame({ jsonrpc: '2.0', method: 'notifications/initialized' }));
        if (this.#logLevel && isObject(member.capabilities.logging))
          this.#ask(member, 'logging/setLevel', this.#logLevel, undefined).catch(() => undefined);
      }
    } catch (err) {
      const e = openError(member, err);
      if (member.transport === transport) this.#lost(member, transport, e, 'failed');
      throw e;
    }
    if (member.transport !== transport || this.#closed)
      throw member.unavailable('its session closed while it opened');
    member.opened();
    this.#emit(member, 'opened');
    const waiting = member.waiting;
    member.waiting = [];
    for (const frame of waiting) this.#deliver(member, frame);
    if (this.#announced) this.#announce(member);
  }

  #within(start: Promise<void>, member: Member): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new McpscopeError(
              'GATEWAY_UPSTREAM_UNAVAILABLE',
              `did not start within ${this.#timeoutMs} ms (upstreamTimeoutMs)`,
            ),
          ),
        this.#timeoutMs,
      );
      start.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(openError(member, err));
        },
      );
    });
  }

  /**
   * The upstream failed to open (`failed`) or went away (`down`): its transport is closed, what was in
   * flight to it is answered with `err` (one error: the breaker counts one failure), and it is down until
   * the next request that needs it, after a backoff.
   */
  #lost(member: Member, transport: Transport, err: McpscopeError, state: 'failed' | 'down'): void {
    transport.onmessage = transport.onerror = transport.onclose = transport.onreset = undefined;
    void transport.close();
    member.failed(err);
    this.#failInFlight(member, err);
    for (const frame of member.waiting) if (frame.kind === 'request') this.#fail(frame, err);
    member.waiting = [];
    this.#emit(member, state, err);
    this.onerror?.(withoutId(err));
    if (this.#announced && state === 'down') this.#announce(member);
  }

  #failInFlight(member: Member, err: McpscopeError): void {
    for (const [id, route] of this.#routes) {
      if (route.member !== member) continue;
      this.#routes.delete(id);
      this.onmessage?.(errorFrame(id, err));
    }
    member.inflight = 0;
    for (const [id, ask] of this.#asks) {
      if (ask.member !== member) continue;
      this.#asks.delete(id);
      clearTimeout(ask.timer);
      ask.reject(err);
    }
    for (const [id, asked] of this.#asked) if (asked.member === member) this.#asked.delete(id);
    this.#listens.memberLost(member, err);
  }

  /** After initialize: an upstream that came or went changes the lists (2025 era: list_changed). */
  #announce(member: Member): void {
    if (this.#era !== 'legacy') return;
    for (const category of ['tools', 'prompts', 'resources']) {
      if (category !== 'tools' && member.init !== undefined && !isObject(member.capabilities[category]))
        continue;
      this.onmessage?.(
        syntheticFrame({
          jsonrpc: '2.0',
          method: `notifications/${category}/list_changed`,
          params: { _meta: { [META_UPSTREAM]: member.name } },
        }),
      );
    }
  }

  // The gateway's own requests

  #nextId(): string {
    return `${INTERNAL_PREFIX}${++this.#ids}`;
  }

  /** Ask one open (or opening) upstream; resolves with its answer, rejects when it fails or times out. */
  #ask(member: Member, method: string, params: Json, like: Frame | undefined): Promise<Frame> {
    const transport = member.transport;
    if (!transport) return Promise.reject(member.unavailable('it is not open'));
    const id = this.#nextId();
    const frame = outbound({ jsonrpc: '2.0', id, method, params }, like);
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#asks.delete(id);
        transport.send(
          syntheticFrame({
            jsonrpc: '2.0',
            method: 'notifications/cancelled',
            params: { requestId: id, reason: `mcpscope gateway: no answer within ${this.#timeoutMs} ms` },
          }),
        );
        reject(
          new McpscopeError(
            'GATEWAY_UPSTREAM_UNAVAILABLE',
            `upstream ${member.name} did not answer ${method} within ${this.#timeoutMs} ms (upstreamTimeoutMs)`,
            { details: { upstream: member.name } },
          ),
        );
      }, this.#timeoutMs);
      timer.unref();
      this.#asks.set(id, { member, transport, resolve, reject, timer });
      transport.send(frame);
    });
  }

  /** A message of the gateway's own, not awaited (a listen, a cancellation). */
  #post(member: Member, msg: Json, like: Frame | undefined): void {
    member.transport?.send(outbound(msg, like));
  }

  #internalAnswer(id: string, frame: Frame): void {
    const ask = this.#asks.get(id);
    if (!ask) {
      this.#listens.answered(id, frame);
      return;
    }
    this.#asks.delete(id);
    clearTimeout(ask.timer);
    ask.resolve(frame);
  }

  // Answers the gateway makes

  async #initialize(frame: Frame): Promise<void> {
    const params = objectOr((frame.msg as { params?: unknown }).params);
    this.#clientInit = params;
    const result = await initializeResult(this.#host, params);
    if (this.#closed) return;
    this.#reply(frame, result);
    this.#announced = true;
  }

  async #discover(frame: Frame): Promise<void> {
    const params = objectOr((frame.msg as { params?: unknown }).params);
    const result = await discoverResult(this.#host, frame, params);
    if (!this.#closed) this.#reply(frame, result);
  }

  async #setLevel(frame: Frame): Promise<void> {
    const params = objectOr((frame.msg as { params?: unknown }).params);
    this.#logLevel = params;
    await Promise.all(
      this.#members
        .filter((m) => m.state === 'open' && (m.init === undefined || isObject(m.capabilities.logging)))
        .map((m) => this.#ask(m, 'logging/setLevel', params, frame).catch(() => undefined)),
    );
    if (!this.#closed) this.#reply(frame, {});
  }

  async #list(frame: Frame, method: string, kind: ListKind): Promise<void> {
    const params = objectOr((frame.msg as { params?: unknown }).params);
    const merge = { cancelled: false };
    this.#merges.set(frame.id as JsonRpcId, merge);
    const result = await listResult(this.#host, frame, method, kind, params);
    this.#merges.delete(frame.id as JsonRpcId);
    if (merge.cancelled || this.#closed) return;
    if (result instanceof McpscopeError) this.#refuse(frame, result);
    else this.#reply(frame, result);
  }

  #reply(frame: Frame, result: Json): void {
    if (this.#era === 'modern') {
      result.resultType ??= 'complete';
      result._meta = { ...objectOr(result._meta), [META_SERVER_INFO]: GATEWAY_INFO };
    }
    this.onmessage?.(syntheticFrame({ jsonrpc: '2.0', id: frame.id, result }));
  }

  /** A client request the gateway refuses (the client's doing: a hidden or unknown name, a bad cursor). */
  #refuse(frame: Frame, err: McpscopeError): void {
    this.onmessage?.(errorFrame(frame.id as JsonRpcId, err));
  }

  /** A client request that cannot reach its upstream. */
  #fail(frame: Frame, err: McpscopeError): void {
    this.onmessage?.(errorFrame(frame.id as JsonRpcId, err));
  }

  #emit(member: Member, state: GatewayEvent['state'], err?: McpscopeError, what?: string): void {
    const event: GatewayEvent = {
      type: 'gateway',
      upstream: member.name,
      state,
      code: err?.code,
      detail: what === undefined ? err?.message : `${what}: ${err?.message ?? ''}`,
    };
    this.onevent?.(event);
  }

  pause(): void {
    this.#paused = true;
    for (const m of this.#members) m.transport?.pause?.();
  }

  resume(): void {
    this.#paused = false;
    for (const m of this.#members) m.transport?.resume?.();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const ask of this.#asks.values()) clearTimeout(ask.timer);
    this.#asks.clear();
    this.#routes.clear();
    this.#asked.clear();
    this.#listens.close();
    const closing: Array<Promise<void>> = [];
    for (const m of this.#members) {
      const t = m.transport;
      m.transport = undefined;
      m.waiting = [];
      if (t) {
        t.onmessage = t.onerror = t.onclose = t.onreset = undefined;
        closing.push(t.close());
      }
    }
    await Promise.allSettled(closing);
  }
}

/** A message of the gateway's own; a 2026-07-28 one over HTTP carries the client's MCP-Protocol-Version. */
function outbound(msg: Json, like: Frame | undefined): Frame {
  const frame = syntheticFrame(msg);
  if (like?.mcpHeaders) frame.mcpHeaders = like.mcpHeaders;
  return frame;
}

/** `params` with the upstream named in its `_meta`, as the spread of a message's `params`. */
function tagged(params: unknown, upstream: string): { params?: unknown } {
  if (!isObject(params)) return params === undefined ? {} : { params };
  return { params: { ...params, _meta: { ...objectOr(params._meta), [META_UPSTREAM]: upstream } } };
}

/** The same error without a request id: about the upstream, not one request. */
function withoutId(err: McpscopeError): McpscopeError {
  if (err.details?.id === undefined) return err;
  const { id: _id, ...details } = err.details;
  return new McpscopeError(err.code, err.message, { cause: err, details });
}
