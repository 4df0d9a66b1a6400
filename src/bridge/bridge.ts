/**
 * `--bridge`: mcpscope speaks each side's protocol era. The bridge wraps a session's outbound transport, so
 * the Session, its stages, the feed and tapes see the client's era on the client's side, while the upstream
 * sees its own; what crosses is reported as `bridge` events (with the upstream side's message).
 *
 * At a session's first request the bridge asks the upstream `server/discover` (the spec's probe for a
 * dual-era client): a DiscoverResult (or a modern -32022 naming a modern version) means a 2026-07-28
 * server, anything else (an error, no answer within the probe timeout) an older one. Then:
 * - client and server in one era: nothing is translated, every message passes as it does without --bridge;
 * - an older client, a 2026-07-28 server: ToModern (src/bridge/toModern.ts);
 * - a 2026-07-28 client, an older server: ToLegacy (src/bridge/toLegacy.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { McpscopeError, errorSide, type JsonRpcId } from '../jsonrpc/errors.js';
import { errorFrame, syntheticFrame, type Frame } from '../jsonrpc/framing.js';
import {
  META_CLIENT_CAPABILITIES,
  META_CLIENT_INFO,
  META_LOG_LEVEL,
  META_PROTOCOL_VERSION,
  MODERN_PROTOCOL_VERSIONS,
  eraOf,
  metaOf,
  type Era,
} from '../jsonrpc/era.js';
import type { BridgeDirection, EventSink, SessionEvent } from '../session/events.js';
import type { Transport } from '../transport/transport.js';
import { VERSION } from '../version.js';
import { RequestStateCodec } from './requestState.js';
import { ToLegacy } from './toLegacy.js';
import { ToModern } from './toModern.js';

export type BridgeMode = 'off' | 'auto';

/** How long the probe waits for the upstream's answer to `server/discover` before taking it as older (5 s). */
export const DEFAULT_BRIDGE_PROBE_MS = 5_000;
/** Methods that may answer input-required (the spec allows it on these only). */
export const INPUT_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read']);
/** Most input-required rounds one request may take (the v2 SDK client stops at 10). */
export const MAX_BRIDGE_ROUNDS = 16;
/** How long an older server's call may wait for a 2026-07-28 client to come back with input (10 min). */
export const DEFAULT_BRIDGE_INPUT_MS = 10 * 60_000;

/**
 * The bounded `kind` label of bridge events and `bridge_translations_total`:
 * probe (the era probe and its verdict), initialize (answered from server/discover), discover (answered
 * from initialize), envelope (a request given or stripped of the _meta envelope), input_required (a
 * round of server questions), input_answer (the client's answers carried back), listen (subscriptions
 * opened or served), notification (a change notification carried across), subscribe, log_level, ping,
 * error_code (an error code renamed), cancel, refused (no faithful equivalent: an error said so).
 */
export type BridgeKind =
  | 'probe'
  | 'initialize'
  | 'discover'
  | 'envelope'
  | 'input_required'
  | 'input_answer'
  | 'listen'
  | 'notification'
  | 'subscribe'
  | 'log_level'
  | 'ping'
  | 'error_code'
  | 'cancel'
  | 'refused';

export interface BridgeOptions {
  logger: Logger;
  /** Signs the request states handed to 2026-07-28 clients; one per proxy. */
  codec: RequestStateCodec;
  /** Default DEFAULT_BRIDGE_PROBE_MS. */
  probeTimeoutMs?: number;
  /** Default DEFAULT_BRIDGE_INPUT_MS. */
  inputTimeoutMs?: number;
}

/** What a translator may do: the bridge's two ends and its report. */
export interface BridgeHost {
  readonly logger: Logger;
  readonly codec: RequestStateCodec;
  readonly sessionId: string;
  readonly inputTimeoutMs: number;
  /** The upstream is an HTTP server (headers matter; answers carry statuses). */
  readonly httpUpstream: boolean;
  /** Send a message to the upstream. */
  toUpstream(frame: Frame): void;
  /** Hand a message to the Session as if the upstream had said it. */
  toClient(frame: Frame): void;
  /** Report an error about a client request (details.id names it) or the session. */
  error(err: McpscopeError): void;
  /** A new id for a request the bridge makes (never one a client uses: a prefix of mcpscope's own). */
  nextId(): string;
  event(kind: BridgeKind, detail?: string, edge?: 'upstream-out' | 'upstream-in', message?: unknown): void;
}

export interface Translator {
  fromClient(frame: Frame): void;
  fromUpstream(frame: Frame): void;
  /** An error the upstream wire raised; true when it concerned a request of the translator's own. */
  upstreamError(err: McpscopeError): boolean;
  /** The server restarted: everything in flight is gone (the Session fails it). */
  reset(): void;
  /** The restarted server answers again. */
  restored(): void;
  close(): void;
}

/** What the client said of itself in its first request: for the probe, and for the translation after it. */
export interface ClientFacts {
  era: Era;
  capabilities: Record<string, unknown>;
  info: { name: string; version: string } | undefined;
}

function clientFacts(frame: Frame): ClientFacts {
  const era = eraOf(frame);
  if (era === 'modern') {
    const meta = metaOf(frame.msg) ?? {};
    return {
      era,
      capabilities: objectOr(meta[META_CLIENT_CAPABILITIES]),
      info: infoOf(meta[META_CLIENT_INFO]),
    };
  }
  const params = (frame.msg as { params?: { capabilities?: unknown; clientInfo?: unknown } }).params;
  return {
    era,
    capabilities: frame.method === 'initialize' ? objectOr(params?.capabilities) : {},
    info: frame.method === 'initialize' ? infoOf(params?.clientInfo) : undefined,
  };
}

/** A JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `value` when it is a JSON object, else an empty one. */
export function objectOr(value: unknown): Record<string, unknown> {
  return isObject(value) ? value : {};
}

function infoOf(value: unknown): { name: string; version: string } | undefined {
  const v = value as { name?: unknown; version?: unknown } | null | undefined;
  return v && typeof v.name === 'string' && typeof v.version === 'string'
    ? (v as { name: string; version: string })
    : undefined;
}

/** The ids of the probes' server/discover requests. */
const PROBE_PREFIX = 'mcpscope-probe-';

/**
 * A 2026-07-28 request's `_meta`: what it already had (`existing`), with the envelope: the newest modern
 * protocol version, the client's info and capabilities, and a log level when one is asked for.
 */
export function envelopeMeta(
  info: unknown,
  capabilities: Record<string, unknown>,
  existing?: unknown,
  logLevel?: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...objectOr(existing) };
  out[META_PROTOCOL_VERSION] = MODERN_PROTOCOL_VERSIONS[MODERN_PROTOCOL_VERSIONS.length - 1];
  out[META_CLIENT_INFO] = info;
  out[META_CLIENT_CAPABILITIES] = capabilities;
  if (logLevel !== undefined) out[META_LOG_LEVEL] = logLevel;
  return out;
}

/** mcpscope's own name in the envelope of requests it makes when the client gave none. */
export const BRIDGE_CLIENT_INFO = { name: 'mcpscope-bridge', version: VERSION };

/** The upstream's answer to the probe, when it serves 2026-07-28. */
export interface DiscoverFacts {
  result: Record<string, unknown>;
}

type State = 'new' | 'probing' | 'pass' | 'translate';

/**
 * The outbound transport of a session with `--bridge`: probes the upstream's era at the first request, then
 * passes messages through (same era) or hands them to a translator.
 */
export class BridgeTransport implements Transport, BridgeHost {
  readonly logger: Logger;
  readonly codec: RequestStateCodec;
  readonly sessionId: string;
  readonly inputTimeoutMs: number;
  readonly #inner: Transport;
  readonly #probeTimeoutMs: number;
  #state: State = 'new';
  #direction: BridgeDirection = 'none';
  #translator: Translator | undefined;
  /** Client messages that came while the probe was out, in order. */
  #queue: Frame[] = [];
  #probeId: string | undefined;
  /** An older client's initialize, sent first; its answer decides (see #probe). */
  #initialize: Frame | undefined;
  /** A stateless HTTP server's answer to that initialize, held while server/discover is asked. */
  #initializeAnswer: Frame | undefined;
  #probeTimer: NodeJS.Timeout | undefined;
  #client: ClientFacts | undefined;
  #ids = 0;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;
  onreset?: (reason: McpscopeError) => void;
  onrestored?: () => void;
  onevent?: EventSink;
  endInput?: () => void;

  constructor(inner: Transport, options: BridgeOptions) {
    this.#inner = inner;
    this.logger = options.logger;
    this.codec = options.codec;
    this.sessionId = randomUUID();
    this.#probeTimeoutMs = options.probeTimeoutMs ?? DEFAULT_BRIDGE_PROBE_MS;
    this.inputTimeoutMs = options.inputTimeoutMs ?? DEFAULT_BRIDGE_INPUT_MS;
    inner.onmessage = (frame) => this.#fromUpstream(frame);
    inner.onerror = (err) => this.#upstreamError(err);
    inner.onclose = (reason) => this.onclose?.(reason);
    inner.onreset = (reason) => {
      // The server restarts: what was in flight is failed by the Session. Its era stays what it was (the
      // same command), and an older server is re-initialized by the stdio transport with the handshake
      // the bridge sent it; a probe in flight is asked again at the next request.
      if (this.#state === 'probing') {
        clearTimeout(this.#probeTimer);
        this.#probeTimer = undefined;
        this.#probeId = undefined;
        this.#initialize = undefined;
        this.#initializeAnswer = undefined;
        this.#queue = [];
        this.#state = 'new';
      }
      this.#translator?.reset();
      this.onreset?.(reason);
    };
    inner.onrestored = () => {
      this.#translator?.restored();
      this.onrestored?.();
    };
    inner.onevent = (event) => this.onevent?.(event);
    if (inner.endInput) this.endInput = () => inner.endInput?.();
  }

  /** The wire under the bridge (it may change: an HTTP upstream detected as legacy HTTP+SSE). */
  get kind(): Transport['kind'] {
    return this.#inner.kind;
  }

  /** The upstream is a Streamable HTTP server (headers matter; answers carry statuses). */
  get httpUpstream(): boolean {
    return this.#inner.kind === 'streamable-http';
  }

  /** The transport to the upstream, under the bridge. */
  get inner(): Transport {
    return this.#inner;
  }

  /** The upstream's Streamable HTTP session, when it has one (tapes name it). */
  get upstreamSessionId(): unknown {
    return (this.#inner as { upstreamSessionId?: unknown }).upstreamSessionId;
  }

  get direction(): BridgeDirection {
    return this.#direction;
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  pause(): void {
    this.#inner.pause?.();
  }

  resume(): void {
    this.#inner.resume?.();
  }

  send(frame: Frame): void {
    switch (this.#state) {
      case 'pass':
        this.#inner.send(frame);
        return;
      case 'translate':
        (this.#translator as Translator).fromClient(frame);
        return;
      case 'probing':
        this.#queue.push(frame);
        return;
      case 'new':
        this.#queue.push(frame);
        if (frame.kind === 'request') this.#probe(frame);
        return;
    }
  }

  async close(reason?: McpscopeError): Promise<void> {
    clearTimeout(this.#probeTimer);
    this.#translator?.close();
    await this.#inner.close(reason);
  }

  // BridgeHost

  toUpstream(frame: Frame): void {
    this.#inner.send(frame);
  }

  toClient(frame: Frame): void {
    this.onmessage?.(frame);
  }

  error(err: McpscopeError): void {
    this.onerror?.(err);
  }

  nextId(): string {
    return `mcpscope-bridge-${++this.#ids}`;
  }

  event(kind: BridgeKind, detail?: string, edge?: 'upstream-out' | 'upstream-in', message?: unknown): void {
    const event: SessionEvent = {
      type: 'bridge',
      bridge: this.#direction,
      translation: kind,
      edge,
      message,
      detail,
    };
    this.onevent?.(event);
  }

  // The probe

  #probe(first: Frame): void {
    this.#state = 'probing';
    this.#client = clientFacts(first);
    if (this.#client.era === 'legacy' && first.method === 'initialize') {
      // An older client: its initialize goes first, as is. A server that serves the client's era answers
      // it (nothing more to do, at no cost); a 2026-07-28-only one refuses it with -32022 naming its
      // versions, and only then is it asked server/discover. See #initializeAnswered for a stateless
      // HTTP answer.
      this.#queue.shift();
      this.#initialize = first;
      this.event('probe', 'the older client’s initialize sent first, as is');
      this.#inner.send(first);
      return;
    }
    this.#discover();
  }

  #discover(): void {
    const client = this.#client as ClientFacts;
    const id = `${PROBE_PREFIX}${++this.#ids}`;
    this.#probeId = id;
    const msg = {
      jsonrpc: '2.0',
      id,
      method: 'server/discover',
      params: {
        _meta: envelopeMeta(client.info ?? BRIDGE_CLIENT_INFO, client.capabilities),
      },
    };
    this.event(
      'probe',
      `asked the upstream server/discover (the client speaks ${client.era === 'modern' ? '2026-07-28' : 'an older revision'})`,
      'upstream-out',
      msg,
    );
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      this.#decide(undefined, `no answer to server/discover within ${this.#probeTimeoutMs} ms`);
    }, this.#probeTimeoutMs);
    this.#probeTimer.unref();
    this.#inner.send(syntheticFrame(msg));
  }

  #fromUpstream(frame: Frame): void {
    switch (this.#state) {
      case 'pass':
        this.onmessage?.(frame);
        return;
      case 'translate':
        (this.#translator as Translator).fromUpstream(frame);
        return;
      default:
        if (this.#state === 'probing' && this.#initialize && this.#answersInitialize(frame)) {
          this.#initializeAnswered(frame);
          return;
        }
        if (this.#state === 'probing' && this.#isProbeAnswer(frame)) {
          this.event('probe', undefined, 'upstream-in', frame.msg);
          this.#decide(frame, undefined);
          return;
        }
        this.onmessage?.(frame);
    }
  }

  #answersInitialize(frame: Frame): boolean {
    return (frame.kind === 'response' || frame.kind === 'error') && frame.id === this.#initialize?.id;
  }

  /**
   * The answer to an older client's initialize sent first: a refusal that names 2026-07-28 versions
   * (-32022) means a 2026-07-28-only server, asked server/discover next (the client's initialize waits
   * for the translation); anything else is the server's own answer, and nothing is translated.
   */
  #initializeAnswered(frame: Frame): void {
    const initialize = this.#initialize as Frame;
    this.#initialize = undefined;
    if (frame.kind === 'error' && modernAnswer(frame)) {
      this.event(
        'probe',
        'the server refused the older initialize, naming 2026-07-28',
        'upstream-in',
        frame.msg,
      );
      this.#queue.unshift(initialize);
      this.#discover();
      return;
    }
    if (frame.kind === 'response' && this.httpUpstream && this.upstreamSessionId === undefined) {
      // An HTTP server that answered without a session serves the older client statelessly: it cannot
      // send it elicitation or sampling requests. If it also speaks 2026-07-28 (the v2 SDK's default
      // fallback), the bridge serves the client better; server/discover tells. Its answer waits.
      this.event(
        'probe',
        'the server answered the older initialize without a session: is it a 2026-07-28 server too?',
        'upstream-in',
        frame.msg,
      );
      this.#initializeAnswer = frame;
      this.#queue.unshift(initialize);
      this.#discover();
      return;
    }
    this.#state = 'pass';
    this.#direction = 'none';
    this.event('probe', 'the server answered the older client’s initialize: nothing is translated');
    this.onmessage?.(frame);
    const queue = this.#queue;
    this.#queue = [];
    for (const queued of queue) this.#inner.send(queued);
  }

  /** The answer to the probe (an HTTP server that cannot tell the id answers with id null). */
  #isProbeAnswer(frame: Frame): boolean {
    if (frame.kind !== 'response' && frame.kind !== 'error') return false;
    return frame.id === this.#probeId || (frame.kind === 'error' && frame.id === undefined);
  }

  #upstreamError(err: McpscopeError): void {
    if (this.#state === 'probing' && this.#initialize && err.details?.id === this.#initialize.id) {
      // The older client's initialize could not be delivered: the client gets why; nothing is decided.
      this.#initialize = undefined;
      this.#failQueue(err);
      this.onerror?.(err);
      return;
    }
    if (this.#state === 'probing' && err.details?.id === this.#probeId) {
      // The way to the upstream failed: no verdict on its era. What waited gets the error; the next
      // request probes again.
      if (errorSide(err) === 'upstream') {
        this.#failQueue(err);
        return;
      }
      this.event('probe', err.message);
      this.#decide(undefined, err.message);
      return;
    }
    if (typeof err.details?.id === 'string' && err.details.id.startsWith(PROBE_PREFIX)) {
      // About a probe already answered (an HTTP server that answers it with id null leaves the wire
      // thinking it went unanswered): the verdict stands, nothing is pending.
      this.logger.debug({ code: err.code }, `bridge: ${err.message} (the probe was answered already)`);
      return;
    }
    if (this.#state === 'translate' && (this.#translator as Translator).upstreamError(err)) return;
    this.onerror?.(err);
  }

  #failQueue(err: McpscopeError): void {
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    this.#probeId = undefined;
    this.#state = 'new';
    const queue = this.#queue;
    this.#queue = [];
    for (const frame of queue) {
      if (frame.kind !== 'request') continue;
      this.onerror?.(
        new McpscopeError(err.code, err.message, {
          cause: err,
          details: { ...err.details, id: frame.id as JsonRpcId },
        }),
      );
    }
  }

  #decide(answer: Frame | undefined, why: string | undefined): void {
    if (this.#state !== 'probing') return;
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    this.#probeId = undefined;
    const discover = answer ? modernAnswer(answer) : undefined;
    const client = this.#client as ClientFacts;
    const serverEra: Era = discover ? 'modern' : 'legacy';
    const heldAnswer = this.#initializeAnswer;
    this.#initializeAnswer = undefined;
    if (serverEra === client.era && heldAnswer) {
      // The stateless server's own answer to the initialize stands: nothing is translated.
      this.#queue.shift();
      this.onmessage?.(heldAnswer);
    }
    if (serverEra === client.era) {
      this.#state = 'pass';
      this.#direction = 'none';
      this.event(
        'probe',
        `client and server both speak ${serverEra === 'modern' ? '2026-07-28' : 'an older revision'}: nothing is translated`,
      );
    } else {
      this.#state = 'translate';
      this.#direction = client.era === 'legacy' ? 'to-modern' : 'to-legacy';
      this.#translator =
        client.era === 'legacy'
          ? new ToModern(this, client, (discover as DiscoverFacts).result)
          : new ToLegacy(this, client);
      this.event(
        'probe',
        client.era === 'legacy'
          ? 'the server speaks only 2026-07-28 (or prefers it): the older client is bridged to it'
          : `the server speaks an older revision (${why ?? 'server/discover was refused'}): the 2026-07-28 client is bridged to it`,
      );
    }
    const queue = this.#queue;
    this.#queue = [];
    for (const frame of queue) this.send(frame);
  }
}

/** The probe's answer, when it shows a 2026-07-28 server. */
function modernAnswer(frame: Frame): DiscoverFacts | undefined {
  if (frame.kind === 'response') {
    const result = (frame.msg as { result?: unknown }).result as Record<string, unknown> | undefined;
    const versions = result?.supportedVersions;
    if (
      result !== undefined &&
      Array.isArray(versions) &&
      versions.some((v) => MODERN_PROTOCOL_VERSIONS.includes(v as string))
    ) {
      return { result };
    }
    return undefined;
  }
  // A modern error names the versions it carries: a 2026-07-28 server that cannot serve this probe.
  const error = (frame.msg as { error?: { code?: unknown; data?: { supported?: unknown } } }).error;
  const supported = error?.data?.supported;
  if (
    error?.code === -32022 &&
    Array.isArray(supported) &&
    supported.some((v) => MODERN_PROTOCOL_VERSIONS.includes(v as string))
  ) {
    return { result: { supportedVersions: supported, capabilities: {} } };
  }
  return undefined;
}

/** An error answer to a client request made by the bridge. */
export function bridgeError(id: JsonRpcId, err: McpscopeError): Frame {
  return errorFrame(id, err);
}
