import { createHash } from 'node:crypto';
import { McpscopeError } from '../jsonrpc/errors.js';
import { AUTH_SERVER_TIMEOUT_MS, DISCOVERY_RETRY_MS } from './issuer.js';

/** An active token's introspection answer is reused for at most this long (30 s), and never past its `exp`. */
export const INTROSPECTION_CACHE_MS = 30_000;
/**
 * An inactive token's answer is reused for this long (60 s): a token does not come back to life, and a
 * client retrying a dead token (or a flood of them) should not cost a round trip to the authorization server
 * each time.
 */
export const INACTIVE_CACHE_MS = 60_000;
/** Introspection answers kept at once; the oldest goes first (10,000). */
export const MAX_INTROSPECTION_CACHE = 10_000;

export interface IntrospectionOptions {
  url: string;
  clientId: string;
  clientSecret: string;
}

/** An introspection answer (RFC 7662 §2.2): `active`, and for an active token its claims. */
export type IntrospectionResult = Record<string, unknown> & { active?: unknown };

/** RFC 6749 §2.3.1: client id and secret are form-encoded before they are joined for Basic. */
function basic(id: string, secret: string): string {
  const enc = (v: string): string => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/**
 * RFC 7662 token introspection for opaque tokens, authenticated with mcpscope's client credentials
 * (client_secret_basic). Answers are cached by a digest of the token (never the token), briefly, and one
 * token asked about again while its question is out waits for that answer instead of asking again.
 */
export class Introspector {
  readonly #url: string;
  readonly #authorization: string;
  readonly #cache = new Map<string, { result: IntrospectionResult; until: number }>();
  readonly #inFlight = new Map<string, Promise<IntrospectionResult>>();

  constructor(options: IntrospectionOptions) {
    this.#url = options.url;
    this.#authorization = basic(options.clientId, options.clientSecret);
  }

  /** The answer for `token`; AUTH_UNAVAILABLE when the endpoint cannot be reached or refuses mcpscope. */
  async introspect(token: string): Promise<IntrospectionResult> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = Date.now();
    const hit = this.#cache.get(key);
    if (hit && hit.until > now) return hit.result;
    if (hit) this.#cache.delete(key);
    let asking = this.#inFlight.get(key);
    if (!asking) {
      asking = this.#ask(token, key, now).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, asking);
    }
    return asking;
  }

  async #ask(token: string, key: string, now: number): Promise<IntrospectionResult> {
    let res: Response;
    try {
      res = await fetch(this.#url, {
        method: 'POST',
        headers: {
          authorization: this.#authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        signal: AbortSignal.timeout(AUTH_SERVER_TIMEOUT_MS),
      });
    } catch (err) {
      throw this.#unavailable(`cannot reach it (${(err as Error).message})`, err);
    }
    if (!res.ok) {
      await res.body?.cancel();
      const hint =
        res.status === 401 || res.status === 403 ? '; check auth.clientId and auth.clientSecret' : '';
      throw this.#unavailable(`it answered HTTP ${res.status}${hint}`);
    }
    const result = (await res.json().catch(() => undefined)) as IntrospectionResult | undefined;
    if (result === null || typeof result !== 'object')
      throw this.#unavailable('its answer is not a JSON object');
    const exp = typeof result.exp === 'number' ? result.exp * 1000 : Infinity;
    const until =
      result.active === true ? Math.min(now + INTROSPECTION_CACHE_MS, exp) : now + INACTIVE_CACHE_MS;
    if (until > now) {
      if (this.#cache.size >= MAX_INTROSPECTION_CACHE) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
      this.#cache.set(key, { result, until });
    }
    return result;
  }

  #unavailable(what: string, cause?: unknown): McpscopeError {
    return new McpscopeError(
      'AUTH_UNAVAILABLE',
      `token introspection at ${this.#url} failed: ${what}; the client may retry`,
      { cause, details: { retryAfterMs: DISCOVERY_RETRY_MS } },
    );
  }
}
