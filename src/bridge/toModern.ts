/**
 * An older client (2024-11-05 … 2025-11-25) with a server that speaks 2026-07-28: mcpscope answers
 * `initialize` from the server's `server/discover`, gives every request the per-request `_meta` envelope
 * (protocol version, client info and capabilities, the log level the client set), turns an input-required
 * result into real requests to the client (elicitation, sampling, roots) and sends the original request
 * again with the answers and the request state, round after round, and holds a `subscriptions/listen`
 * upstream for the change notifications and resource subscriptions the client expects.
 */
import { McpscopeError, type JsonRpcId } from '../jsonrpc/errors.js';
import { errorFrame, syntheticFrame, withMessage, type Frame } from '../jsonrpc/framing.js';
import {
  LEGACY_PROTOCOL_VERSIONS,
  META_SERVER_INFO,
  META_SUBSCRIPTION_ID,
  HEADER_MCP_PARAM_PREFIX,
  buildMcpHeaders,
  encodeHeaderValue,
  metaOf,
} from '../jsonrpc/era.js';
import {
  BRIDGE_CLIENT_INFO,
  INPUT_METHODS,
  envelopeMeta,
  MAX_BRIDGE_ROUNDS,
  objectOr,
  type BridgeHost,
  type ClientFacts,
  type Translator,
} from './bridge.js';

const NEWEST_LEGACY = LEGACY_PROTOCOL_VERSIONS[LEGACY_PROTOCOL_VERSIONS.length - 1] as string;

type Json = Record<string, unknown>;

/** One client request on its way through input-required rounds. */
interface Call {
  readonly clientId: JsonRpcId;
  /** The client's request (its context: the request it is in the Session, its route). */
  readonly request: Frame;
  readonly method: string;
  /** Its params with the envelope, as first sent upstream (each round adds the answers to these). */
  readonly params: Json;
  /** The id of the round now upstream; undefined while the client is being asked. */
  upstreamId: JsonRpcId | undefined;
  rounds: number;
  requestState: string | undefined;
  /** Questions of this round the client has not answered yet. */
  waiting: number;
  responses: Json;
  /** Ids of this round's questions to the client. */
  asks: JsonRpcId[];
  /** The params of the round now upstream (sent again after a tools/list when headers were refused). */
  sent: Json;
  /** tools/list was fetched again for it once already (after a -32020). */
  refetched: boolean;
}

interface Ask {
  readonly call: Call;
  readonly key: string;
  readonly method: string;
}

/** Listen ids remembered after they were replaced. */
const MAX_OLD_LISTENS = 16;

export class ToModern implements Translator {
  readonly #host: BridgeHost;
  readonly #discover: Json;
  readonly #capabilities: Json;
  #clientCaps: Json;
  #clientInfo: { name: string; version: string };
  #logLevel: string | undefined;
  /** Calls by the id of their round upstream. */
  readonly #calls = new Map<JsonRpcId, Call>();
  /** The same calls by the client's id (cancellation). */
  readonly #byClient = new Map<JsonRpcId, Call>();
  readonly #asks = new Map<JsonRpcId, Ask>();
  /** The listen held upstream for this session, and every listen id ever opened (their ends are ours). */
  #listen: JsonRpcId | undefined;
  readonly #listens = new Set<JsonRpcId>();
  readonly #resources = new Set<string>();
  /** resources/(un)subscribe requests answered once the new listen is acknowledged. */
  #subscribing: Frame[] = [];
  /** tools/call arguments mirrored into Mcp-Param-* headers (HTTP upstreams), from tools/list results. */
  readonly #paramHeaders = new Map<string, Array<[header: string, argument: string]>>();
  readonly #toolsLists = new Set<JsonRpcId>();
  /** tools/list requests mcpscope sent for a call refused for its headers. */
  readonly #refetching = new Map<JsonRpcId, Call>();
  /** The client finished its handshake (the listen is held from then on). */
  #initialized = false;

  constructor(host: BridgeHost, client: ClientFacts, discover: Json) {
    this.#host = host;
    this.#discover = discover;
    this.#capabilities = objectOr(discover.capabilities);
    this.#clientCaps = client.capabilities;
    this.#clientInfo = client.info ?? BRIDGE_CLIENT_INFO;
  }

  fromClient(frame: Frame): void {
    if (frame.kind === 'request') this.#request(frame);
    else if (frame.kind === 'notification') this.#notification(frame);
    else this.#answer(frame);
  }

  #request(frame: Frame): void {
    const method = frame.method as string;
    const params = objectOr((frame.msg as { params?: unknown }).params);
    switch (method) {
      case 'initialize':
        this.#initialize(frame, params);
        return;
      case 'ping':
        this.#host.event('ping', 'ping answered by mcpscope: 2026-07-28 has no ping');
        this.#reply(frame, {});
        return;
      case 'logging/setLevel': {
        if (typeof params.level !== 'string') break;
        this.#logLevel = params.level;
        this.#host.event(
          'log_level',
          `log level ${params.level} goes in each request's envelope from now on`,
        );
        this.#reply(frame, {});
        return;
      }
      case 'resources/subscribe':
      case 'resources/unsubscribe':
        this.#subscribe(frame, method, params);
        return;
      default:
        if (method.startsWith('tasks/')) {
          this.#refuse(
            frame,
            `${method} has no equivalent in 2026-07-28 (tasks moved to the io.modelcontextprotocol/tasks extension, which --bridge does not translate); call the tool without task augmentation`,
          );
          return;
        }
    }
    this.#send(frame, method, params);
  }

  #initialize(frame: Frame, params: Json): void {
    const requested = params.protocolVersion;
    const version =
      typeof requested === 'string' && LEGACY_PROTOCOL_VERSIONS.includes(requested)
        ? requested
        : NEWEST_LEGACY;
    this.#clientCaps = objectOr(params.capabilities);
    const info = params.clientInfo as { name?: unknown; version?: unknown } | undefined;
    if (typeof info?.name === 'string' && typeof info.version === 'string') {
      this.#clientInfo = info as { name: string; version: string };
    }
    const serverInfo = objectOr(objectOr(this.#discover._meta)[META_SERVER_INFO]);
    const result: Json = {
      protocolVersion: version,
      capabilities: this.#capabilities,
      serverInfo: typeof serverInfo.name === 'string' ? serverInfo : { name: 'unknown', version: '0' },
    };
    if (typeof this.#discover.instructions === 'string') result.instructions = this.#discover.instructions;
    this.#host.event(
      'initialize',
      `initialize (${version}) answered from the server's server/discover: 2026-07-28 has no handshake`,
    );
    this.#reply(frame, result);
  }

  /** The envelope every request upstream carries, over what the request's _meta already has. */
  #envelope(meta: unknown): Json {
    return envelopeMeta(this.#clientInfo, this.#clientCaps, meta, this.#logLevel);
  }

  #send(frame: Frame, method: string, params: Json): void {
    const enveloped: Json = { ...params, _meta: this.#envelope(params._meta) };
    const out = withMessage(frame, { jsonrpc: '2.0', id: frame.id, method, params: enveloped });
    this.#headers(out, method, enveloped);
    const id = frame.id as JsonRpcId;
    if (INPUT_METHODS.has(method)) {
      const call: Call = {
        clientId: id,
        request: frame,
        method,
        params: enveloped,
        upstreamId: id,
        rounds: 0,
        requestState: undefined,
        waiting: 0,
        responses: {},
        asks: [],
        sent: enveloped,
        refetched: false,
      };
      this.#calls.set(id, call);
      this.#byClient.set(id, call);
    } else if (method === 'tools/list') {
      this.#toolsLists.add(id);
    }
    this.#host.event('envelope', undefined, 'upstream-out', out.msg);
    this.#host.toUpstream(out);
  }

  /** Over HTTP, a tools/call mirrors the arguments its tool marks with x-mcp-header into Mcp-Param-*. */
  #headers(out: Frame, method: string, params: Json): void {
    if (!this.#host.httpUpstream || method !== 'tools/call') return;
    const mirrored = typeof params.name === 'string' ? this.#paramHeaders.get(params.name) : undefined;
    if (!mirrored) return;
    const headers = buildMcpHeaders(out);
    const args = objectOr(params.arguments);
    for (const [header, argument] of mirrored) {
      const value = args[argument];
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        headers[`${HEADER_MCP_PARAM_PREFIX}${header.toLowerCase()}`] = encodeHeaderValue(String(value));
      }
    }
    out.mcpHeaders = headers;
  }

  #refetchTools(call: Call): void {
    call.upstreamId = undefined;
    const id = this.#host.nextId();
    this.#refetching.set(id, call);
    const msg = { jsonrpc: '2.0', id, method: 'tools/list', params: { _meta: this.#envelope(undefined) } };
    this.#host.event(
      'envelope',
      'the server refused a tools/call for its headers (-32020): tools/list fetched again for its x-mcp-header arguments',
      'upstream-out',
      msg,
    );
    this.#host.toUpstream(syntheticFrame(msg));
  }

  #refetched(call: Call, frame: Frame): void {
    if (this.#byClient.get(call.clientId) !== call) return;
    if (frame.kind === 'response') this.#learnTools(objectOr((frame.msg as { result?: unknown }).result));
    const id = this.#host.nextId();
    call.upstreamId = id;
    const out = withMessage(call.request, { jsonrpc: '2.0', id, method: call.method, params: call.sent });
    this.#headers(out, call.method, call.sent);
    this.#calls.set(id, call);
    this.#host.event(
      'envelope',
      'tools/call sent again with its Mcp-Param-* headers',
      'upstream-out',
      out.msg,
    );
    this.#host.toUpstream(out);
  }

  #learnTools(result: Json): void {
    const tools = result.tools;
    if (!Array.isArray(tools)) return;
    for (const tool of tools as Json[]) {
      if (typeof tool.name !== 'string') continue;
      const properties = objectOr(objectOr(tool.inputSchema).properties);
      const mirrored: Array<[string, string]> = [];
      for (const [argument, schema] of Object.entries(properties)) {
        const header = objectOr(schema)['x-mcp-header'];
        if (typeof header === 'string' && header.length > 0) mirrored.push([header, argument]);
      }
      if (mirrored.length > 0) this.#paramHeaders.set(tool.name, mirrored);
      else this.#paramHeaders.delete(tool.name);
    }
  }

  #notification(frame: Frame): void {
    switch (frame.method) {
      case 'notifications/initialized':
        this.#initialized = true;
        this.#host.event('initialize', 'notifications/initialized consumed: 2026-07-28 has no handshake');
        this.#relisten();
        return;
      case 'notifications/cancelled':
        this.#cancelled(frame);
        return;
      case 'notifications/roots/list_changed':
        this.#host.event(
          'notification',
          'notifications/roots/list_changed consumed: a 2026-07-28 server asks for roots with each request that needs them',
        );
        return;
      default:
        this.#host.toUpstream(frame);
    }
  }

  #cancelled(frame: Frame): void {
    const params = objectOr((frame.msg as { params?: unknown }).params);
    const requestId = params.requestId as JsonRpcId;
    const call = this.#byClient.get(requestId);
    if (!call) {
      this.#host.toUpstream(frame);
      return;
    }
    this.#drop(call);
    if (call.upstreamId !== undefined) {
      // Over HTTP a cancellation closes the request's POST (the era's way); over stdio it is sent.
      const cancel = syntheticFrame({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { ...params, requestId: call.upstreamId, _meta: this.#envelope(undefined) },
      });
      this.#host.event('cancel', undefined, 'upstream-out', cancel.msg);
      this.#host.toUpstream(cancel);
    }
    for (const askId of call.asks) {
      // The client's own questions for this request are moot now: tell it, as a server would.
      const cancelAsk = syntheticFrame({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: askId, reason: 'the request that asked was cancelled' },
      });
      this.#host.toClient(cancelAsk);
    }
  }

  /** The client's answer to a question mcpscope asked it for the server. */
  #answer(frame: Frame): void {
    const ask = frame.id === undefined ? undefined : this.#asks.get(frame.id);
    if (!ask) return;
    this.#asks.delete(frame.id as JsonRpcId);
    const call = ask.call;
    if (this.#byClient.get(call.clientId) !== call) return; // cancelled or failed meanwhile
    if (frame.kind === 'error') {
      const error = objectOr((frame.msg as { error?: unknown }).error);
      this.#drop(call);
      this.#fail(
        call,
        new McpscopeError(
          'BRIDGE_INPUT_FAILED',
          `the server needed the client's answer to ${ask.method} to go on, and the client answered with an error (${String(error.code)}: ${String(error.message)}); the request cannot complete without it`,
          { details: { inputMethod: ask.method, clientError: error } },
        ),
      );
      return;
    }
    call.responses[ask.key] = (frame.msg as { result?: unknown }).result;
    if (--call.waiting === 0) this.#retry(call);
  }

  #retry(call: Call): void {
    const id = this.#host.nextId();
    call.upstreamId = id;
    call.asks = [];
    const params: Json = { ...call.params, inputResponses: call.responses };
    if (call.requestState !== undefined) params.requestState = call.requestState;
    call.sent = params;
    const out = withMessage(call.request, { jsonrpc: '2.0', id, method: call.method, params });
    this.#headers(out, call.method, params);
    this.#calls.set(id, call);
    this.#host.event(
      'input_answer',
      `round ${call.rounds}: the client's answers sent again with the request (id ${JSON.stringify(id)})`,
      'upstream-out',
      out.msg,
    );
    this.#host.toUpstream(out);
  }

  fromUpstream(frame: Frame): void {
    if (frame.kind === 'response' || frame.kind === 'error') {
      const id = frame.id as JsonRpcId;
      if (this.#listens.has(id)) {
        this.#listenEnded(id, frame);
        return;
      }
      const call = this.#calls.get(id);
      if (call) {
        this.#calls.delete(id);
        this.#callAnswered(call, frame);
        return;
      }
      const refetching = this.#refetching.get(id);
      if (refetching) {
        this.#refetching.delete(id);
        this.#refetched(refetching, frame);
        return;
      }
      if (this.#toolsLists.delete(id) && frame.kind === 'response') {
        this.#learnTools(objectOr((frame.msg as { result?: unknown }).result));
      }
      this.#host.toClient(this.#complete(frame, id));
      return;
    }
    if (frame.kind === 'notification') {
      this.#upstreamNotification(frame);
      return;
    }
    this.#host.toClient(frame);
  }

  #callAnswered(call: Call, frame: Frame): void {
    if (this.#byClient.get(call.clientId) !== call) return; // cancelled meanwhile
    if (
      frame.kind === 'error' &&
      this.#host.httpUpstream &&
      call.method === 'tools/call' &&
      !call.refetched
    ) {
      const code = (frame.msg as { error?: { code?: unknown } }).error?.code;
      if (code === -32020) {
        // The server wants an argument in an Mcp-Param-* header that mcpscope did not know of: as the spec
        // tells clients, fetch tools/list again and retry once.
        call.refetched = true;
        this.#refetchTools(call);
        return;
      }
    }
    const result = objectOr((frame.msg as { result?: unknown }).result);
    if (frame.kind === 'response' && result.resultType === 'input_required') {
      this.#inputRequired(call, frame, result);
      return;
    }
    this.#drop(call);
    this.#host.toClient(this.#complete(frame, call.clientId));
  }

  /** An upstream answer for the client: its id, without the 2026-07-28 resultType. */
  #complete(frame: Frame, clientId: JsonRpcId): Frame {
    const msg = frame.msg as { result?: Json; id?: unknown };
    const strip = frame.kind === 'response' && msg.result !== undefined && 'resultType' in msg.result;
    if (!strip && frame.id === clientId) return frame;
    const copy: Json = { ...msg, id: clientId };
    if (strip) {
      const { resultType: _, ...rest } = msg.result as Json;
      copy.result = rest;
    }
    return withMessage(frame, copy);
  }

  #inputRequired(call: Call, frame: Frame, result: Json): void {
    call.upstreamId = undefined;
    call.rounds++;
    if (call.rounds > MAX_BRIDGE_ROUNDS) {
      this.#drop(call);
      this.#fail(
        call,
        new McpscopeError(
          'BRIDGE_ROUNDS_EXCEEDED',
          `the server asked for input ${call.rounds} times for one ${call.method}; --bridge stops at ${MAX_BRIDGE_ROUNDS} rounds (a server that never completes)`,
          { details: { rounds: call.rounds } },
        ),
      );
      return;
    }
    call.requestState = typeof result.requestState === 'string' ? result.requestState : undefined;
    call.responses = {};
    const requests = objectOr(result.inputRequests);
    const keys = Object.keys(requests);
    this.#host.event(
      'input_required',
      `round ${call.rounds}: the server asks the client ${keys.length} question(s) (${keys.map((k) => String(objectOr(requests[k]).method)).join(', ') || 'none: retry at once'})`,
      'upstream-in',
      frame.msg,
    );
    if (keys.length === 0) {
      this.#retry(call);
      return;
    }
    call.waiting = keys.length;
    for (const key of keys) {
      const request = objectOr(requests[key]);
      const method = typeof request.method === 'string' ? request.method : 'unknown';
      const askId = this.#host.nextId();
      call.asks.push(askId);
      this.#asks.set(askId, { call, key, method });
      const msg: Json = { jsonrpc: '2.0', id: askId, method };
      if (request.params !== undefined) {
        const params = { ...objectOr(request.params) };
        // A URL elicitation in 2025-11-25 names itself; 2026-07-28 dropped the id.
        if (method === 'elicitation/create' && params.mode === 'url' && params.elicitationId === undefined) {
          params.elicitationId = askId;
        }
        msg.params = params;
      }
      const ask = syntheticFrame(msg);
      // The question belongs to the client's request: an HTTP client gets it on that request's stream.
      ask.related = call.request.related;
      this.#host.toClient(ask);
    }
  }

  #upstreamNotification(frame: Frame): void {
    const method = frame.method as string;
    const subscription = metaOf(frame.msg)?.[META_SUBSCRIPTION_ID];
    if (method === 'notifications/subscriptions/acknowledged') {
      if (subscription === this.#listen || String(subscription) === String(this.#listen)) {
        this.#host.event('listen', 'the server acknowledged the subscriptions', 'upstream-in', frame.msg);
        this.#answerSubscribing(undefined);
      }
      return;
    }
    if (method === 'notifications/cancelled') {
      const requestId = objectOr((frame.msg as { params?: unknown }).params).requestId as JsonRpcId;
      if (this.#listens.has(requestId)) {
        this.#listenEnded(requestId, frame);
        return;
      }
    }
    if (subscription === undefined) {
      this.#host.toClient(frame);
      return;
    }
    // A notification of the listen mcpscope holds: the client knows no subscription, so its tag goes.
    if (String(subscription) !== String(this.#listen)) return; // a listen replaced since
    const msg = frame.msg as { params?: Json };
    const { [META_SUBSCRIPTION_ID]: _, ...meta } = objectOr(msg.params?._meta);
    const params: Json = { ...msg.params };
    if (Object.keys(meta).length > 0) params._meta = meta;
    else delete params._meta;
    this.#host.event('notification', `${method} from the listen mcpscope holds`, 'upstream-in', frame.msg);
    this.#host.toClient(withMessage(frame, { ...msg, params }));
  }

  #subscribe(frame: Frame, method: string, params: Json): void {
    if (!objectOr(this.#capabilities.resources).subscribe) {
      this.#refuse(
        frame,
        `${method}: the server offers no resource subscriptions (its server/discover capabilities have no resources.subscribe)`,
      );
      return;
    }
    if (typeof params.uri !== 'string') {
      this.#refuse(frame, `${method} needs params.uri (a string)`);
      return;
    }
    if (method === 'resources/subscribe') this.#resources.add(params.uri);
    else this.#resources.delete(params.uri);
    this.#host.event('subscribe', `${method} ${params.uri}: the listen held upstream is renewed with it`);
    this.#subscribing.push(frame);
    this.#relisten();
  }

  /** Open (or replace) the listen held upstream with what the client may be told of. */
  #relisten(): void {
    const caps = this.#capabilities;
    const filter: Json = {};
    if (objectOr(caps.tools).listChanged) filter.toolsListChanged = true;
    if (objectOr(caps.prompts).listChanged) filter.promptsListChanged = true;
    if (objectOr(caps.resources).listChanged) filter.resourcesListChanged = true;
    if (this.#resources.size > 0) filter.resourceSubscriptions = [...this.#resources];
    const old = this.#listen;
    if (old !== undefined) {
      this.#listen = undefined;
      const cancel = syntheticFrame({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: {
          requestId: old,
          reason: 'mcpscope: the subscriptions changed',
          _meta: this.#envelope(undefined),
        },
      });
      this.#host.toUpstream(cancel);
    }
    if (Object.keys(filter).length === 0) {
      this.#answerSubscribing(undefined);
      return;
    }
    const id = this.#host.nextId();
    this.#listen = id;
    this.#listens.add(id);
    // Ids of listens replaced long ago go (an answer to one of them is then merely unmatched).
    if (this.#listens.size > MAX_OLD_LISTENS)
      this.#listens.delete(this.#listens.values().next().value as JsonRpcId);
    const msg = {
      jsonrpc: '2.0',
      id,
      method: 'subscriptions/listen',
      params: { notifications: filter, _meta: this.#envelope(undefined) },
    };
    this.#host.event('listen', 'subscriptions/listen held upstream for the client', 'upstream-out', msg);
    this.#host.toUpstream(syntheticFrame(msg));
  }

  #listenEnded(id: JsonRpcId, frame: Frame): void {
    if (id !== this.#listen) return; // one replaced earlier, ending as asked
    this.#listen = undefined;
    const error = (frame.msg as { error?: { message?: unknown } }).error;
    this.#host.event(
      'listen',
      error
        ? `the server refused subscriptions/listen: ${String(error.message)}`
        : 'the server ended the listen',
      'upstream-in',
      frame.msg,
    );
    if (error) this.#answerSubscribing(`the server refused subscriptions/listen: ${String(error.message)}`);
  }

  #answerSubscribing(refusal: string | undefined): void {
    const waiting = this.#subscribing;
    this.#subscribing = [];
    for (const frame of waiting) {
      if (refusal === undefined) this.#reply(frame, {});
      else this.#refuse(frame, `${String(frame.method)}: ${refusal}`);
    }
  }

  upstreamError(err: McpscopeError): boolean {
    const id = err.details?.id as JsonRpcId | undefined;
    if (id === undefined) return false;
    if (this.#listens.has(id)) {
      if (id === this.#listen) {
        this.#listen = undefined;
        this.#host.event('listen', `the listen held upstream failed: ${err.message}`);
        this.#answerSubscribing(`the listen held upstream failed: ${err.message}`);
      }
      return true;
    }
    const call = this.#calls.get(id) ?? this.#refetching.get(id);
    if (!call) return false;
    this.#calls.delete(id);
    this.#refetching.delete(id);
    if (this.#byClient.get(call.clientId) !== call) return true;
    this.#drop(call);
    this.#host.error(
      new McpscopeError(err.code, err.message, {
        cause: err,
        details: { ...err.details, id: call.clientId },
      }),
    );
    return true;
  }

  #drop(call: Call): void {
    this.#byClient.delete(call.clientId);
    if (call.upstreamId !== undefined) this.#calls.delete(call.upstreamId);
    for (const askId of call.asks) this.#asks.delete(askId);
  }

  #fail(call: Call, err: McpscopeError): void {
    this.#host.event(err.code === 'BRIDGE_INPUT_FAILED' ? 'input_answer' : 'refused', err.message);
    this.#host.toClient(errorFrame(call.clientId, err));
  }

  #reply(frame: Frame, result: Json): void {
    this.#host.toClient(syntheticFrame({ jsonrpc: '2.0', id: frame.id, result }));
  }

  #refuse(frame: Frame, message: string): void {
    this.#host.event('refused', message);
    this.#host.toClient(errorFrame(frame.id as JsonRpcId, new McpscopeError('BRIDGE_UNSUPPORTED', message)));
  }

  reset(): void {
    this.#calls.clear();
    this.#byClient.clear();
    this.#asks.clear();
    this.#toolsLists.clear();
    this.#refetching.clear();
    this.#listen = undefined;
    this.#answerSubscribing('the server restarted');
  }

  restored(): void {
    // The listen held upstream went with the old process.
    if (this.#initialized) this.#relisten();
  }

  close(): void {
    this.#calls.clear();
    this.#byClient.clear();
    this.#asks.clear();
    this.#subscribing = [];
  }
}
