import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { McpscopeError, type JsonRpcId } from '../jsonrpc/errors.js';
import { errorFrame, type Frame } from '../jsonrpc/framing.js';
import type { Metrics } from '../observe/metrics.js';
import { FORWARD, type Direction, type TransformerStage, type Verdict } from '../pipeline/stage.js';
import { TokenBucket, type RateSpec } from '../resilience/tokenBucket.js';
import type { Session } from '../session/session.js';

/** What identifies a client for its own limit. */
export type ClientKey = 'session' | 'address' | 'subject';
export type LimitType = 'global' | 'client' | 'tool';

/** Buckets kept per kind before idle (full) ones are forgotten. */
export const MAX_TRACKED_BUCKETS = 10_000;

export interface RateLimitOptions {
  /** All requests through this proxy together. */
  global?: RateSpec | null;
  /** Each client on its own (see `clientKey`). */
  client?: RateSpec | null;
  /**
   * What a client is: its session (default), its remote address, or its subject: the verified token's `sub`
   * with authorization on, else (a digest of) its bearer credential.
   */
  clientKey?: ClientKey;
  /** Each tool on its own (`tools/call` by tool name), all clients together. */
  tool?: RateSpec | null;
  /** Limits for named tools, in place of `tool`. */
  tools?: Readonly<Record<string, RateSpec>>;
}

const FLAG: Record<LimitType, string> = {
  global: '--rate-limit-global',
  client: '--rate-limit-client',
  tool: '--rate-limit-tool (or rateLimitTools in the config file)',
};

function describeRate(spec: RateSpec): string {
  const perSecond = spec.rate >= 1 || spec.rate * 60 < 1;
  const rate = perSecond ? `${+spec.rate.toFixed(3)}/s` : `${+(spec.rate * 60).toFixed(3)}/min`;
  return `${rate} (burst ${spec.burst})`;
}

/**
 * Token-bucket rate limits on client requests: global, per client and per tool. A request over a limit is
 * answered at once with RATE_LIMITED and `retryAfterMs` (HTTP wires answer 429 with Retry-After) and goes
 * no further. `initialize` is never limited, so a client can always open a session and be told.
 */
export class RateLimitStage implements TransformerStage {
  readonly kind = 'transformer' as const;
  readonly name = 'rate-limit';
  readonly #options: RateLimitOptions;
  readonly #metrics: Metrics | null;
  readonly #logger: Logger;
  readonly #global: TokenBucket | null;
  readonly #clients = new Map<string, TokenBucket>();
  readonly #tools = new Map<string, TokenBucket>();
  readonly #keys = new WeakMap<Session, string>();

  constructor(options: RateLimitOptions, metrics: Metrics | null, logger: Logger) {
    this.#options = options;
    this.#metrics = metrics;
    this.#logger = logger;
    this.#global = options.global ? new TokenBucket(options.global, performance.now()) : null;
  }

  transform(frame: Frame, session: Session, direction: Direction): Verdict {
    if (direction !== 'client-to-server' || frame.kind !== 'request' || frame.method === 'initialize')
      return FORWARD;
    const now = performance.now();
    const { global: globalSpec, client: clientSpec } = this.#options;
    const global = this.#global;
    if (global && globalSpec) {
      const wait = global.take(now);
      if (wait > 0) return this.#refuse(frame, session, 'global', globalSpec, 'global', wait);
    }
    let client: TokenBucket | undefined;
    if (clientSpec) {
      const key = this.#clientKey(session);
      client = this.#bucket(this.#clients, key, clientSpec, now);
      const wait = client.take(now);
      if (wait > 0) {
        global?.refund();
        return this.#refuse(frame, session, 'client', clientSpec, key, wait);
      }
    }
    if (frame.method === 'tools/call') {
      const tool = frame.related?.target;
      const spec = tool === undefined ? undefined : (this.#options.tools?.[tool] ?? this.#options.tool);
      if (spec && tool !== undefined) {
        const wait = this.#bucket(this.#tools, tool, spec, now).take(now);
        if (wait > 0) {
          global?.refund();
          client?.refund();
          return this.#refuse(frame, session, 'tool', spec, this.#clientKey(session), wait, tool);
        }
      }
    }
    return FORWARD;
  }

  onSessionClose(session: Session): void {
    if ((this.#options.clientKey ?? 'session') === 'session') this.#clients.delete(session.id);
  }

  #refuse(
    frame: Frame,
    session: Session,
    type: LimitType,
    spec: RateSpec,
    client: string,
    retryAfterMs: number,
    tool?: string,
  ): Verdict {
    const who =
      type === 'global' ? 'all clients together' : type === 'client' ? `client ${client}` : `tool ${tool}`;
    const err = new McpscopeError(
      'RATE_LIMITED',
      `rate limit exceeded: ${who} may make ${describeRate(spec)} requests; retry in ${retryAfterMs} ms. ` +
        `Slow down, or raise ${FLAG[type]}`,
      {
        details: { limit: type, retryAfterMs, rate: spec.rate, burst: spec.burst, ...(tool ? { tool } : {}) },
      },
    );
    this.#metrics?.rateLimited
      .labels(type, type === 'global' ? 'global' : this.#metrics.clients.value(client))
      .inc();
    this.#logger.debug({ session: session.id, limit: type, client, tool, retryAfterMs }, 'rate limited');
    return { action: 'reply', frame: errorFrame(frame.id as JsonRpcId, err) };
  }

  #bucket(map: Map<string, TokenBucket>, key: string, spec: RateSpec, now: number): TokenBucket {
    let bucket = map.get(key);
    if (!bucket) {
      if (map.size >= MAX_TRACKED_BUCKETS) {
        // A full bucket holds no history: forgetting it changes nothing.
        for (const [k, b] of map) if (b.idle(now)) map.delete(k);
      }
      bucket = new TokenBucket(spec, now);
      map.set(key, bucket);
    }
    return bucket;
  }

  #clientKey(session: Session): string {
    const mode = this.#options.clientKey ?? 'session';
    if (mode === 'session') return session.id;
    let key = this.#keys.get(session);
    if (key === undefined) {
      key = session.client?.remoteAddress ?? 'stdio';
      if (mode === 'subject') {
        const principal = session.client?.principal;
        const auth = session.client?.headers?.authorization;
        const value = Array.isArray(auth) ? auth[0] : auth;
        // With authorization on, the verified token's subject (bounded). Otherwise the credential itself
        // never becomes a label or a log field: a short digest of it does.
        if (principal) key = `sub:${principal.label}`;
        else if (value) key = `sub:${createHash('sha256').update(value).digest('hex').slice(0, 12)}`;
      }
      this.#keys.set(session, key);
    }
    return key;
  }
}
