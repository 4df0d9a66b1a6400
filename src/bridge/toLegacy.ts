/**
 * A 2026-07-28 client with a server that speaks an older revision: mcpscope runs `initialize` upstream once
 * (for the session, which over HTTP is one client identity) and keeps that session, answers
 * `server/discover` from it, strips the envelope from each request, sets the server's log level from the
 * envelope's, turns the server's requests during a call (elicitation, sampling, roots) into an
 * input-required result for the client while it holds the call upstream, and resumes the call when the
 * client comes back with the answers and the request state (mcpscope's own, signed: see requestState.ts).
 * `subscriptions/listen` is served from the upstream session's notifications and resource subscriptions.
 */
import { McpscopeError, type JsonRpcId } from '../jsonrpc/errors.js';
import { errorFrame, syntheticFrame, withMessage, type Frame } from '../jsonrpc/framing.js';
import {
  LEGACY_PROTOCOL_VERSIONS,
  META_CLIENT_CAPABILITIES,
  META_CLIENT_INFO,
  META_LOG_LEVEL,
  META_PROTOCOL_VERSION,
  META_SERVER_INFO,
  META_SUBSCRIPTION_ID,
  MODERN_PROTOCOL_VERSIONS,
  mcpNameOf,
} from '../jsonrpc/era.js';
import {
  BRIDGE_CLIENT_INFO,
  INPUT_METHODS,
  MAX_BRIDGE_ROUNDS,
  isObject,
  objectOr,
  type BridgeHost,
  type ClientFacts,
  type Translator,
} from './bridge.js';

const NEWEST_LEGACY = LEGACY_PROTOCOL_VERSIONS[LEGACY_PROTOCOL_VERSIONS.length - 1] as string;

type Json = Record<string, unknown>;

/** Methods whose results 2026-07-28 caches: they carry ttlMs and cacheScope. */
const CACHEABLE: ReadonlySet<string> = new Set([
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
]);
/** The server → client requests a 2026-07-28 client answers as input requests, and the capability each needs. */
const ASKS: ReadonlyMap<string, string> = new Map([
  ['elicitation/create', 'elicitation'],
  ['sampling/createMessage', 'sampling'],
  ['roots/list', 'roots'],
]);
/** Methods a 2026-07-28 client has no use for: removed from the era. */
const REMOVED: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'logging/setLevel',
  'resources/subscribe',
  'resources/unsubscribe',
]);
/** How long a round of server questions waits for more before it goes to the client (10 ms). */
const ROUND_GATHER_MS = 10;
const ENVELOPE_KEYS = [META_PROTOCOL_VERSION, META_CLIENT_INFO, META_CLIENT_CAPABILITIES, META_LOG_LEVEL];

interface Ask {
  readonly serverId: JsonRpcId;
  readonly method: string;
  readonly params: unknown;
}

/** A client request upstream; held there while the client is asked for input. */
interface Call {
  readonly upstreamId: JsonRpcId;
  readonly method: string;
  readonly target: string | null;
  /** The client request now waiting for this call's answer; undefined while the client is away answering. */
  clientId: JsonRpcId | undefined;
  request: Frame;
  /** The client's capabilities in that request's envelope. */
  caps: Json;
  /** That request asked for log messages (its envelope has a log level). */
  logs: boolean;
  round: number;
  /** Server questions not yet handed to the client. */
  readonly asks: Map<string, Ask>;
  /** Questions handed to the client, by key, awaiting its answers. */
  readonly sent: Map<string, Ask>;
  /** The server's answer, when it came while the client was away. */
  final: Frame | undefined;
  timer: NodeJS.Timeout | undefined;
  flushing: boolean;
}

interface Listen {
  readonly honored: Json;
  readonly uris: readonly string[];
}

export class ToLegacy implements Translator {
  readonly #host: BridgeHost;
  readonly #client: ClientFacts;
  #state: 'new' | 'initializing' | 'ready' = 'new';
  #initId: JsonRpcId | undefined;
  #queue: Frame[] = [];
  #init: Json = {};
  #serverInfo: unknown;
  #level: string | undefined;
  /** Calls by their id upstream (the id of the client request that started them). */
  readonly #calls = new Map<JsonRpcId, Call>();
  /** The same calls by the client request now waiting on each. */
  readonly #byClient = new Map<JsonRpcId, Call>();
  readonly #listens = new Map<JsonRpcId, Listen>();
  readonly #uris = new Map<string, number>();
  /** Requests mcpscope made upstream (log level, subscriptions): their answers are its own. */
  readonly #internal = new Set<JsonRpcId>();
  #keys = 0;

  constructor(host: BridgeHost, client: ClientFacts) {
    this.#host = host;
    this.#client = client;
  }

  fromClient(frame: Frame): void {
    if (frame.kind === 'response' || frame.kind === 'error') return; // a 2026-07-28 client answers nothing
    if (this.#state !== 'ready') {
      this.#queue.push(frame);
      if (this.#state === 'new' && frame.kind === 'request') this.#initialize();
      return;
    }
    if (frame.kind === 'request') this.#request(frame);
    else if (frame.method === 'notifications/cancelled') this.#cancelled(frame);
    else this.#host.toUpstream(this.#stripped(frame));
  }

  #initialize(): void {
    this.#state = 'initializing';
    const id = this.#host.nextId();
    this.#initId = id;
    const msg = {
      jsonrpc: '2.0',
      id,
      method: 'initialize',
      params: {
        protocolVersion: NEWEST_LEGACY,
        capabilities: this.#client.capabilities,
        clientInfo: this.#client.info ?? BRIDGE_CLIENT_INFO,
      },
    };
    this.#host.event('discover', 'initialize run upstream for the 2026-07-28 client', 'upstream-out', msg);
    this.#host.toUpstream(syntheticFrame(msg));
  }

  #initialized(frame: Frame): void {
    this.#initId = undefined;
    const error = (frame.msg as { error?: { code?: unknown; message?: unknown } }).error;
    if (error) {
      this.#handshakeFailed(`${String(error.code)}: ${String(error.message)}`);
      return;
    }
    this.#init = objectOr((frame.msg as { result?: unknown }).result);
    this.#serverInfo = this.#init.serverInfo;
    this.#state = 'ready';
    const initialized = { jsonrpc: '2.0', method: 'notifications/initialized' };
    this.#host.event(
      'discover',
      'the server is initialized; its session is kept for the client',
      'upstream-out',
      initialized,
    );
    this.#host.toUpstream(syntheticFrame(initialized));
    const queue = this.#queue;
    this.#queue = [];
    for (const queued of queue) this.fromClient(queued);
  }

  #handshakeFailed(why: string): void {
    this.#initId = undefined;
    this.#state = 'new';
    const queue = this.#queue;
    this.#queue = [];
    const err = new McpscopeError(
      'BRIDGE_HANDSHAKE_FAILED',
      `the server speaks an older revision and refused the initialize mcpscope ran for this 2026-07-28 client (${why}); check the server, then send the request again`,
    );
    this.#host.event('refused', err.message);
    for (const frame of queue) {
      if (frame.kind === 'request') this.#host.toClient(errorFrame(frame.id as JsonRpcId, err));
    }
  }

  #request(frame: Frame): void {
    const method = frame.method as string;
    const params = objectOr((frame.msg as { params?: unknown }).params);
    if (method === 'server/discover') {
      this.#discover(frame);
      return;
    }
    if (method === 'subscriptions/listen') {
      this.#listen(frame, params);
      return;
    }
    if (REMOVED.has(method)) {
      this.#refuse(frame, `${method} is not part of protocol revision 2026-07-28`);
      return;
    }
    if (
      'inputResponses' in params &&
      (!isObject(params.inputResponses) || !Object.values(params.inputResponses as Json).every(isObject))
    ) {
      // What a 2026-07-28 server does with answers that are not a map of answers.
      this.#host.toClient(
        errorFrame(
          frame.id as JsonRpcId,
          new McpscopeError(
            'INVALID_PARAMS',
            'params.inputResponses must be an object mapping each input key to its answer (an object: an elicitation, sampling or roots result)',
          ),
        ),
      );
      return;
    }
    if (params.requestState !== undefined && INPUT_METHODS.has(method)) {
      this.#resume(frame, params);
      return;
    }
    if (params.inputResponses !== undefined) {
      // Answers with no state of mcpscope's name no held call: a new request, whose extra params the
      // older server would not understand (2026-07-28 servers ignore unexpected input responses too).
      const { inputResponses: _, ...rest } = params;
      frame = withMessage(frame, { ...(frame.msg as object), params: rest });
    }
    const meta = objectOr(params._meta);
    const level = meta[META_LOG_LEVEL];
    if (typeof level === 'string') this.#setLevel(level);
    const id = frame.id as JsonRpcId;
    const call: Call = {
      upstreamId: id,
      method,
      target: mcpNameOf(method, frame.msg) ?? null,
      clientId: id,
      request: frame,
      caps: objectOr(meta[META_CLIENT_CAPABILITIES]),
      logs: typeof level === 'string',
      round: 0,
      asks: new Map(),
      sent: new Map(),
      final: undefined,
      timer: undefined,
      flushing: false,
    };
    this.#calls.set(id, call);
    this.#byClient.set(id, call);
    const out = this.#stripped(frame);
    this.#host.event('envelope', undefined, 'upstream-out', out.msg);
    this.#host.toUpstream(out);
  }

  /** The message without the 2026-07-28 envelope (the older server has it from initialize). */
  #stripped(frame: Frame): Frame {
    const msg = frame.msg as { params?: Json };
    const meta = msg.params?._meta;
    if (meta === null || typeof meta !== 'object') return frame;
    const rest: Json = { ...(meta as Json) };
    for (const key of ENVELOPE_KEYS) delete rest[key];
    const params: Json = { ...msg.params };
    if (Object.keys(rest).length > 0) params._meta = rest;
    else delete params._meta;
    const out = withMessage(frame, { ...msg, params });
    // Headers of the 2026-07-28 request mean nothing to an older server (its own come from its session).
    out.mcpHeaders = undefined;
    return out;
  }

  #setLevel(level: string): void {
    if (level === this.#level || this.#init.capabilities === undefined) return;
    if (!objectOr(this.#init.capabilities).logging) return;
    this.#level = level;
    const id = this.#host.nextId();
    this.#internal.add(id);
    const msg = { jsonrpc: '2.0', id, method: 'logging/setLevel', params: { level } };
    this.#host.event(
      'log_level',
      `the envelope's log level ${level} set on the server's session`,
      'upstream-out',
      msg,
    );
    this.#host.toUpstream(syntheticFrame(msg));
  }

  #discover(frame: Frame): void {
    const result: Json = {
      supportedVersions: [...MODERN_PROTOCOL_VERSIONS],
      capabilities: objectOr(this.#init.capabilities),
      resultType: 'complete',
      ttlMs: 0,
      cacheScope: 'private',
      _meta: { [META_SERVER_INFO]: this.#serverInfo },
    };
    if (typeof this.#init.instructions === 'string') result.instructions = this.#init.instructions;
    this.#host.event(
      'discover',
      `server/discover answered from the server's initialize (${String(this.#init.protocolVersion)})`,
    );
    this.#host.toClient(syntheticFrame({ jsonrpc: '2.0', id: frame.id, result }));
  }

  #listen(frame: Frame, params: Json): void {
    const wanted = objectOr(params.notifications);
    const caps = objectOr(this.#init.capabilities);
    const honored: Json = {};
    if (wanted.toolsListChanged === true && objectOr(caps.tools).listChanged) honored.toolsListChanged = true;
    if (wanted.promptsListChanged === true && objectOr(caps.prompts).listChanged)
      honored.promptsListChanged = true;
    if (wanted.resourcesListChanged === true && objectOr(caps.resources).listChanged)
      honored.resourcesListChanged = true;
    const uris =
      Array.isArray(wanted.resourceSubscriptions) && objectOr(caps.resources).subscribe
        ? (wanted.resourceSubscriptions as unknown[]).filter((u): u is string => typeof u === 'string')
        : [];
    if (uris.length > 0) honored.resourceSubscriptions = uris;
    for (const uri of uris) {
      const n = this.#uris.get(uri) ?? 0;
      this.#uris.set(uri, n + 1);
      if (n === 0) this.#internalRequest('resources/subscribe', { uri });
    }
    const id = frame.id as JsonRpcId;
    this.#listens.set(id, { honored, uris });
    this.#host.event(
      'listen',
      `subscriptions/listen served from the server's session (honored: ${Object.keys(honored).join(', ') || 'nothing'})`,
    );
    this.#host.toClient(
      syntheticFrame({
        jsonrpc: '2.0',
        method: 'notifications/subscriptions/acknowledged',
        params: { notifications: honored, _meta: { [META_SUBSCRIPTION_ID]: id } },
      }),
    );
  }

  #internalRequest(method: string, params: Json): void {
    const id = this.#host.nextId();
    this.#internal.add(id);
    const msg = { jsonrpc: '2.0', id, method, params };
    this.#host.event('subscribe', `${method} ${String(params.uri)}`, 'upstream-out', msg);
    this.#host.toUpstream(syntheticFrame(msg));
  }

  #cancelled(frame: Frame): void {
    const requestId = objectOr((frame.msg as { params?: unknown }).params).requestId as JsonRpcId;
    const listen = this.#listens.get(requestId);
    if (listen) {
      this.#listens.delete(requestId);
      for (const uri of listen.uris) {
        const n = (this.#uris.get(uri) ?? 1) - 1;
        if (n > 0) this.#uris.set(uri, n);
        else {
          this.#uris.delete(uri);
          this.#internalRequest('resources/unsubscribe', { uri });
        }
      }
      this.#host.event('listen', 'the client closed its subscription');
      return;
    }
    const call = this.#byClient.get(requestId);
    if (!call) {
      this.#host.toUpstream(this.#stripped(frame));
      return;
    }
    this.#end(call);
    const cancel = syntheticFrame({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: call.upstreamId, reason: 'the client cancelled the request' },
    });
    this.#host.event('cancel', undefined, 'upstream-out', cancel.msg);
    this.#host.toUpstream(cancel);
  }

  /** A retry: the client's answers to the questions of a held call, and the state that names the call. */
  #resume(frame: Frame, params: Json): void {
    const state = this.#host.codec.verify(params.requestState);
    const call = typeof state === 'string' ? undefined : this.#calls.get(state.call);
    let why: string | undefined;
    if (typeof state === 'string') why = state;
    else if (state.session !== this.#host.sessionId) why = 'requestState was issued to another client';
    else if (!call) why = 'the call it resumes is no longer held (answered, cancelled or expired)';
    else if (state.round !== call.round)
      why = `it is from round ${state.round}; the call is at round ${call.round}`;
    else if (state.method !== frame.method || state.target !== (mcpNameOf(call.method, frame.msg) ?? null))
      why = 'the retry does not repeat the original request';
    else if (call.clientId !== undefined) why = 'the call was already resumed';
    if (why !== undefined || !call) {
      const err = new McpscopeError(
        'BRIDGE_STATE_INVALID',
        `requestState refused: ${why ?? 'unknown call'}; send the original request again, without inputResponses or requestState, to start over`,
        { details: { reason: 'invalid_request_state' } },
      );
      this.#host.event('refused', err.message);
      this.#host.toClient(errorFrame(frame.id as JsonRpcId, err));
      return;
    }
    clearTimeout(call.timer);
    call.timer = undefined;
    const id = frame.id as JsonRpcId;
    const meta = objectOr(params._meta);
    call.clientId = id;
    call.request = frame;
    call.caps = objectOr(meta[META_CLIENT_CAPABILITIES]);
    call.logs = typeof meta[META_LOG_LEVEL] === 'string';
    this.#byClient.set(id, call);
    const responses = objectOr(params.inputResponses);
    for (const [key, ask] of call.sent) {
      call.sent.delete(key);
      if (!(key in responses)) {
        call.asks.set(key, ask); // not answered: asked again (the spec's way for a missing response)
        continue;
      }
      const answer = { jsonrpc: '2.0', id: ask.serverId, result: responses[key] };
      this.#host.event(
        'input_answer',
        `the client's answer to ${ask.method} (${key})`,
        'upstream-out',
        answer,
      );
      this.#host.toUpstream(syntheticFrame(answer));
    }
    if (call.final) {
      this.#deliver(call, call.final);
      return;
    }
    if (call.asks.size > 0) this.#flush(call);
  }

  fromUpstream(frame: Frame): void {
    if (frame.kind === 'response' || frame.kind === 'error') {
      const id = frame.id as JsonRpcId;
      if (id === this.#initId) {
        this.#initialized(frame);
        return;
      }
      if (this.#internal.delete(id)) {
        if (frame.kind === 'error')
          this.#host.event(
            'refused',
            `the server refused a request mcpscope made for the bridge`,
            'upstream-in',
            frame.msg,
          );
        return;
      }
      const call = this.#calls.get(id);
      if (!call) {
        this.#host.toClient(frame);
        return;
      }
      if (call.clientId === undefined) {
        call.final = frame; // the client is away answering questions: delivered when it comes back
        return;
      }
      this.#deliver(call, frame);
      return;
    }
    if (frame.kind === 'request') {
      this.#serverRequest(frame);
      return;
    }
    this.#notification(frame);
  }

  #deliver(call: Call, frame: Frame): void {
    const clientId = call.clientId as JsonRpcId;
    this.#end(call);
    this.#host.toClient(this.#complete(frame, call.method, clientId));
  }

  /** An older server's answer as 2026-07-28 has it: resultType, cache hints, serverInfo; -32002 is -32602. */
  #complete(frame: Frame, method: string, clientId: JsonRpcId): Frame {
    const msg = frame.msg as { result?: Json; error?: Json };
    if (frame.kind === 'error') {
      if (msg.error?.code === -32002) {
        this.#host.event('error_code', 'resource not found: -32002 (2025) is -32602 in 2026-07-28');
        return withMessage(frame, { ...msg, id: clientId, error: { ...msg.error, code: -32602 } });
      }
      return frame.id === clientId ? frame : withMessage(frame, { ...msg, id: clientId });
    }
    const result: Json = { ...msg.result, resultType: 'complete' };
    if (CACHEABLE.has(method)) {
      result.ttlMs ??= 0;
      result.cacheScope ??= 'private';
    }
    result._meta = { ...objectOr(result._meta), [META_SERVER_INFO]: this.#serverInfo };
    return withMessage(frame, { ...msg, id: clientId, result });
  }

  #serverRequest(frame: Frame): void {
    const method = frame.method as string;
    const serverId = frame.id as JsonRpcId;
    if (method === 'ping') {
      this.#host.event('ping', 'the server pinged: mcpscope answered for the 2026-07-28 client');
      this.#host.toUpstream(syntheticFrame({ jsonrpc: '2.0', id: serverId, result: {} }));
      return;
    }
    const capability = ASKS.get(method);
    if (capability === undefined) {
      this.#refuseServer(
        serverId,
        `${method}: a 2026-07-28 client cannot be sent requests, and this one has no input-request equivalent`,
      );
      return;
    }
    const call = this.#callOf(frame);
    if (typeof call === 'string') {
      this.#refuseServer(serverId, `${method}: ${call}`);
      return;
    }
    if (call.caps[capability] === undefined || call.caps[capability] === null) {
      this.#refuseServer(
        serverId,
        `${method}: the client did not declare the ${capability} capability in this request's envelope`,
      );
      return;
    }
    const key = `${capability}-${++this.#keys}`;
    call.asks.set(key, { serverId, method, params: (frame.msg as { params?: unknown }).params });
    if (call.clientId !== undefined && !call.flushing) {
      // Questions a server sends together (Promise.all) go to the client together: they may come a few
      // reads apart, so the round waits a moment for the rest.
      call.flushing = true;
      setTimeout(() => this.#flush(call), ROUND_GATHER_MS).unref();
    }
  }

  /** The held call a server request belongs to: the request whose stream carried it, or the only one in flight. */
  #callOf(frame: Frame): Call | string {
    const via = frame.route as JsonRpcId | undefined;
    if (via !== undefined) {
      const call = this.#calls.get(via);
      if (call && INPUT_METHODS.has(call.method)) return call;
    }
    let found: Call | undefined;
    let count = 0;
    for (const call of this.#calls.values()) {
      if (!INPUT_METHODS.has(call.method) || call.final) continue;
      found = call;
      count++;
    }
    if (count === 1) return found as Call;
    return count === 0
      ? 'no tools/call, prompts/get or resources/read of the client is in flight to carry the question'
      : `${count} requests of the client are in flight and the wire does not say which one asks (stdio carries no link); mcpscope refuses rather than guess`;
  }

  /** Hand the call's pending questions to the client as an input-required answer to its waiting request. */
  #flush(call: Call): void {
    call.flushing = false;
    if (call.clientId === undefined || call.asks.size === 0 || !this.#calls.has(call.upstreamId)) return;
    if (call.round >= MAX_BRIDGE_ROUNDS) {
      const err = new McpscopeError(
        'BRIDGE_ROUNDS_EXCEEDED',
        `the server asked for input ${call.round + 1} times for one ${call.method}; --bridge stops at ${MAX_BRIDGE_ROUNDS} rounds`,
        { details: { rounds: call.round + 1 } },
      );
      this.#abandon(call, err.message);
      this.#host.event('refused', err.message);
      this.#host.toClient(errorFrame(call.clientId, err));
      return;
    }
    const inputRequests: Json = {};
    const questions: unknown[] = [];
    for (const [key, ask] of call.asks) {
      inputRequests[key] =
        ask.params === undefined ? { method: ask.method } : { method: ask.method, params: ask.params };
      questions.push({ jsonrpc: '2.0', id: ask.serverId, method: ask.method, params: ask.params });
      call.sent.set(key, ask);
    }
    call.asks.clear();
    call.round++;
    const requestState = this.#host.codec.sign({
      session: this.#host.sessionId,
      call: call.upstreamId,
      round: call.round,
      method: call.method,
      target: call.target,
      expires: Date.now() + this.#host.inputTimeoutMs,
    });
    const clientId = call.clientId;
    this.#byClient.delete(clientId);
    call.clientId = undefined;
    call.timer = setTimeout(() => {
      call.timer = undefined;
      this.#abandon(
        call,
        `the client did not come back with its answers within ${this.#host.inputTimeoutMs} ms`,
      );
    }, this.#host.inputTimeoutMs);
    call.timer.unref();
    this.#host.event(
      'input_required',
      `round ${call.round}: the server's ${questions.length} request(s) handed to the client as input requests; the call is held upstream`,
      'upstream-in',
      questions,
    );
    const answer = syntheticFrame({
      jsonrpc: '2.0',
      id: clientId,
      result: {
        resultType: 'input_required',
        inputRequests,
        requestState,
        _meta: { [META_SERVER_INFO]: this.#serverInfo },
      },
    });
    this.#host.toClient(answer);
  }

  /** Give up a held call: cancel it upstream and answer the server's open questions with an error. */
  #abandon(call: Call, why: string): void {
    this.#end(call);
    for (const ask of [...call.sent.values(), ...call.asks.values()]) {
      this.#host.toUpstream(
        syntheticFrame({
          jsonrpc: '2.0',
          id: ask.serverId,
          error: { code: -32603, message: `mcpscope --bridge: ${why}` },
        }),
      );
    }
    const cancel = syntheticFrame({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: call.upstreamId, reason: `mcpscope --bridge: ${why}` },
    });
    this.#host.event('cancel', why, 'upstream-out', cancel.msg);
    this.#host.toUpstream(cancel);
  }

  #end(call: Call): void {
    clearTimeout(call.timer);
    call.timer = undefined;
    this.#calls.delete(call.upstreamId);
    if (call.clientId !== undefined) this.#byClient.delete(call.clientId);
  }

  #notification(frame: Frame): void {
    const method = frame.method as string;
    switch (method) {
      case 'notifications/tools/list_changed':
        this.#toListens(frame, (l) => l.honored.toolsListChanged === true);
        return;
      case 'notifications/prompts/list_changed':
        this.#toListens(frame, (l) => l.honored.promptsListChanged === true);
        return;
      case 'notifications/resources/list_changed':
        this.#toListens(frame, (l) => l.honored.resourcesListChanged === true);
        return;
      case 'notifications/resources/updated': {
        const uri = objectOr((frame.msg as { params?: unknown }).params).uri;
        this.#toListens(frame, (l) => typeof uri === 'string' && l.uris.includes(uri));
        return;
      }
      case 'notifications/message': {
        // 2026-07-28: a server logs only for a request that asked (its envelope's log level).
        for (const call of this.#calls.values()) {
          if (call.logs && call.clientId !== undefined) {
            this.#host.toClient(frame);
            return;
          }
        }
        return;
      }
      case 'notifications/cancelled': {
        // The server withdrew a question: it is no longer asked.
        const requestId = objectOr((frame.msg as { params?: unknown }).params).requestId;
        for (const call of this.#calls.values()) {
          for (const [key, ask] of call.asks) if (ask.serverId === requestId) call.asks.delete(key);
        }
        return;
      }
      case 'notifications/elicitation/complete':
        this.#host.event(
          'refused',
          'notifications/elicitation/complete has no 2026-07-28 equivalent (URL elicitations carry no id there); not delivered',
          'upstream-in',
          frame.msg,
        );
        return;
      default:
        this.#host.toClient(frame);
    }
  }

  /** A change notification, to every subscription that asked for it, tagged with the subscription's id. */
  #toListens(frame: Frame, wants: (listen: Listen) => boolean): void {
    const msg = frame.msg as { params?: Json };
    let sent = false;
    for (const [id, listen] of this.#listens) {
      if (!wants(listen)) continue;
      const params: Json = {
        ...msg.params,
        _meta: { ...objectOr(msg.params?._meta), [META_SUBSCRIPTION_ID]: id },
      };
      this.#host.toClient(withMessage(frame, { ...msg, params }));
      sent = true;
    }
    if (sent)
      this.#host.event(
        'notification',
        `${String(frame.method)} carried to the client's subscriptions`,
        'upstream-in',
        frame.msg,
      );
  }

  upstreamError(err: McpscopeError): boolean {
    const id = err.details?.id as JsonRpcId | undefined;
    if (id === undefined) return false;
    if (id === this.#initId) {
      this.#handshakeFailed(err.message);
      return true;
    }
    if (this.#internal.delete(id)) {
      this.#host.event('refused', `a request mcpscope made for the bridge failed: ${err.message}`);
      return true;
    }
    const call = this.#calls.get(id);
    if (!call) return false;
    const clientId = call.clientId;
    this.#end(call);
    if (clientId === undefined) return true; // the client is away; its retry will find the call gone
    this.#host.error(
      new McpscopeError(err.code, err.message, { cause: err, details: { ...err.details, id: clientId } }),
    );
    return true;
  }

  #refuse(frame: Frame, message: string): void {
    this.#host.event('refused', message);
    this.#host.toClient(errorFrame(frame.id as JsonRpcId, new McpscopeError('BRIDGE_UNSUPPORTED', message)));
  }

  #refuseServer(serverId: JsonRpcId, message: string): void {
    this.#host.event('refused', message);
    this.#host.toUpstream(
      syntheticFrame({
        jsonrpc: '2.0',
        id: serverId,
        error: { code: -32601, message: `mcpscope --bridge: ${message}` },
      }),
    );
  }

  reset(): void {
    // The Session fails what was pending (held calls and subscriptions among them); the stdio transport
    // re-initializes the new process with the handshake this bridge sent.
    for (const call of this.#calls.values()) clearTimeout(call.timer);
    this.#calls.clear();
    this.#byClient.clear();
    this.#listens.clear();
    this.#uris.clear();
    this.#internal.clear();
    this.#level = undefined;
  }

  restored(): void {}

  close(): void {
    for (const call of this.#calls.values()) clearTimeout(call.timer);
    this.#calls.clear();
    this.#byClient.clear();
    this.#listens.clear();
    this.#queue = [];
  }
}
