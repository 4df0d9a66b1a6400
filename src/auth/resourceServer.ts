import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import picomatch from 'picomatch';
import type { Logger } from 'pino';
import { McpscopeError } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';
import { Introspector } from './introspection.js';
import { DISCOVERY_RETRY_MS, discoverIssuer, issuerKeys } from './issuer.js';
import type { AuthOptions } from './options.js';
import { setPrincipal, subjectLabel, type Principal } from './principal.js';

/** Signature algorithms accepted: asymmetric ones only (a JWKS publishes public keys; never `none` or HMAC). */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];
/** RFC 9728: where the protected resource's metadata is (also with the resource's path after it). */
export const METADATA_PATH = '/.well-known/oauth-protected-resource';
/** How long clients may cache the metadata document (5 min). */
const METADATA_MAX_AGE_S = 300;
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export interface ResourceServerOptions {
  auth: AuthOptions;
  /** The listener's endpoint path (e.g. '/mcp'): the metadata is served with it as a suffix too. */
  endpointPath: string;
  logger: Logger;
}

type Claims = JWTPayload & Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** A token's scopes: `scope` (RFC 9068, space-separated) or `scp` (a list or a string, as some servers send). */
function scopesOf(claims: Claims): Set<string> {
  const raw = claims.scope ?? claims.scp;
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(' ') : [];
  return new Set(list.filter((s): s is string => typeof s === 'string' && s !== ''));
}

/** Who a verified token speaks for; undefined when it names no one (no `sub`, `client_id` or `azp`). */
function principalOf(claims: Claims): Principal | undefined {
  const clientId = str(claims.client_id) ?? str(claims.azp);
  const subject = str(claims.sub) ?? clientId;
  if (subject === undefined) return undefined;
  return {
    subject,
    label: subjectLabel(subject),
    scopes: scopesOf(claims),
    clientId,
    expiresAt: typeof claims.exp === 'number' ? claims.exp : undefined,
  };
}

/**
 * mcpscope as an OAuth 2.1 resource server (the MCP authorization spec, revisions 2025-11-25 and 2026-07-28):
 * serves its RFC 9728 metadata, and checks the bearer token of every request before any endpoint sees it:
 * a JWT against the issuer's keys (`iss`, `aud`, `exp`, `nbf` with a small clock skew), or an opaque token by
 * RFC 7662 introspection; then the scopes every request needs, and per tool those of `toolScopes`. Refusals
 * are 401 / 403 with a `WWW-Authenticate` challenge naming the metadata. The token is never kept, logged or
 * sent on: requests carry a Principal (its subject, bounded label, scopes) instead.
 */
export class ResourceServer {
  /** The metadata URL named in every challenge (the audience's own well-known URL, RFC 9728 §3.1). */
  readonly metadataUrl: string;
  readonly #auth: AuthOptions;
  readonly #logger: Logger;
  readonly #paths: ReadonlySet<string>;
  readonly #document: string;
  readonly #scope: string;
  readonly #toolScopes: ReadonlyArray<{
    readonly match: (tool: string) => boolean;
    readonly scopes: string[];
  }>;
  readonly #introspector: Introspector | undefined;
  #keys: Promise<JWTVerifyGetKey> | undefined;
  #keysFailure: { readonly at: number; readonly err: McpscopeError } | undefined;

  constructor(options: ResourceServerOptions) {
    const auth = options.auth;
    this.#auth = auth;
    this.#logger = options.logger;
    const resourcePath = new URL(auth.audience).pathname.replace(/\/$/, '');
    const endpointPath = options.endpointPath.replace(/\/$/, '');
    this.#paths = new Set([METADATA_PATH, METADATA_PATH + resourcePath, METADATA_PATH + endpointPath]);
    this.metadataUrl = new URL(METADATA_PATH + resourcePath, auth.audience).href;
    this.#scope = auth.scopes.join(' ');
    this.#toolScopes = Object.entries(auth.toolScopes).map(([glob, scopes]) => ({
      match: picomatch(glob),
      scopes,
    }));
    const supported = new Set([...auth.scopes, ...Object.values(auth.toolScopes).flat()]);
    this.#document = JSON.stringify({
      resource: auth.audience,
      authorization_servers: [auth.issuer],
      scopes_supported: [...supported],
      bearer_methods_supported: ['header'],
    });
    this.#introspector =
      auth.introspectionUrl && auth.clientId && auth.clientSecret
        ? new Introspector({
            url: auth.introspectionUrl,
            clientId: auth.clientId,
            clientSecret: auth.clientSecret,
          })
        : undefined;
  }

  /** Look the issuer's keys up now, so a wrong issuer shows in the log at start rather than at the first client. */
  start(): void {
    this.#signingKeys().then(
      () => this.#logger.info({ issuer: this.#auth.issuer }, 'authorization: issuer keys located'),
      (err: McpscopeError) => this.#logger.warn({ code: err.code }, `authorization: ${err.message}`),
    );
  }

  /** Is `path` one of the metadata URLs (served without a token)? */
  serves(path: string): boolean {
    return this.#paths.has(path);
  }

  /** Answer a request for the metadata: the document to anyone (CORS too: browser clients read it). */
  serveMetadata(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, HEAD, OPTIONS',
      'access-control-allow-headers': '*',
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD, OPTIONS', 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: `method ${req.method} is not allowed on the resource metadata; GET it` }),
      );
      return;
    }
    res.writeHead(200, {
      ...cors,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(this.#document),
      'cache-control': `public, max-age=${METADATA_MAX_AGE_S}`,
    });
    res.end(req.method === 'HEAD' ? undefined : this.#document);
  }

  /**
   * Check the request's bearer token. Resolves undefined when it may go on (its Principal is attached to it,
   * see principalOf), else with the error to answer: UNAUTHORIZED (401), INSUFFICIENT_SCOPE (403), or
   * AUTH_UNAVAILABLE (503) when the authorization server cannot be asked.
   */
  async authenticate(req: IncomingMessage): Promise<McpscopeError | undefined> {
    const err = await this.#check(req);
    // Why a token was refused, for whoever runs mcpscope; never the token (nor the header).
    if (err) this.#logger.debug({ code: err.code, remoteAddress: req.socket.remoteAddress }, err.message);
    return err;
  }

  async #check(req: IncomingMessage): Promise<McpscopeError | undefined> {
    const header = req.headers.authorization;
    if (header === undefined || header === '') {
      return this.#unauthorized(
        `this MCP endpoint needs an OAuth access token: send "Authorization: Bearer <token>" with a token from ${this.#auth.issuer} for the resource ${this.#auth.audience} (its metadata: ${this.metadataUrl})`,
      );
    }
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) {
      return this.#unauthorized(
        'the Authorization header must be "Bearer <token>" (one OAuth access token, no other scheme)',
        'invalid_request',
      );
    }
    let principal: Principal | McpscopeError;
    try {
      principal =
        token.split('.').length === 3 ? await this.#verifyJwt(token) : await this.#introspect(token);
    } catch (err) {
      if (err instanceof McpscopeError) return err;
      this.#logger.error({ err: String(err) }, 'authorization: unexpected failure checking a token');
      return new McpscopeError('AUTH_UNAVAILABLE', `the token could not be checked: ${String(err)}`, {
        cause: err,
      });
    }
    if (principal instanceof McpscopeError) return principal;
    const missing = this.#auth.scopes.filter((s) => !principal.scopes.has(s));
    if (missing.length > 0) return this.#insufficient(this.#auth.scopes, missing, 'this endpoint');
    setPrincipal(req, principal);
    return undefined;
  }

  /**
   * What a request carried by an authenticated principal still needs: its token must not have expired since
   * (a WebSocket carries a session's messages on its opening request's token), and a `tools/call` needs the
   * scopes `toolScopes` gives its tool. Undefined when it may go on.
   */
  checkRequest(frame: Frame, principal: Principal): McpscopeError | undefined {
    const exp = principal.expiresAt;
    if (exp !== undefined && exp + this.#auth.clockSkewSeconds < Date.now() / 1000) {
      return this.#unauthorized(
        'the access token of this connection has expired; reconnect with a fresh token',
        'invalid_token',
      );
    }
    if (frame.method !== 'tools/call' || this.#toolScopes.length === 0) return undefined;
    const tool = frame.related?.target;
    if (tool === undefined) return undefined;
    const needed = new Set(this.#auth.scopes);
    for (const rule of this.#toolScopes) if (rule.match(tool)) for (const s of rule.scopes) needed.add(s);
    const missing = [...needed].filter((s) => !principal.scopes.has(s));
    if (missing.length === 0) return undefined;
    return this.#insufficient([...needed], missing, `tool ${JSON.stringify(tool)}`);
  }

  async #verifyJwt(token: string): Promise<Principal | McpscopeError> {
    const keys = await this.#signingKeys();
    let claims: Claims;
    try {
      const verified = await jwtVerify(token, keys, {
        issuer: this.#auth.issuer,
        audience: this.#auth.audience,
        algorithms: JWT_ALGORITHMS,
        clockTolerance: this.#auth.clockSkewSeconds,
        requiredClaims: ['exp'],
      });
      claims = verified.payload as Claims;
    } catch (err) {
      return this.#rejected(err);
    }
    return (
      principalOf(claims) ?? this.#unauthorized('the access token names no subject (sub)', 'invalid_token')
    );
  }

  async #introspect(token: string): Promise<Principal | McpscopeError> {
    if (!this.#introspector) {
      return this.#unauthorized(
        'the access token is not a JWT, and opaque tokens are not accepted here (no auth.introspectionUrl); ask the authorization server for JWT access tokens',
        'invalid_token',
      );
    }
    const claims = (await this.#introspector.introspect(token)) as Claims;
    if (claims.active !== true)
      return this.#unauthorized(
        'the access token is not active (expired, revoked or unknown)',
        'invalid_token',
      );
    const problem = this.#claimsProblem(claims);
    if (problem) return this.#unauthorized(problem, 'invalid_token');
    return (
      principalOf(claims) ?? this.#unauthorized('the access token names no subject (sub)', 'invalid_token')
    );
  }

  /** The checks jose makes of a JWT, for an introspection answer (RFC 7662 names the same claims). */
  #claimsProblem(claims: Claims): string | undefined {
    const { issuer, audience, clockSkewSeconds: skew } = this.#auth;
    const now = Date.now() / 1000;
    if (claims.iss !== undefined && claims.iss !== issuer)
      return `the access token was issued by another authorization server, not ${issuer}`;
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(audience)) return this.#wrongAudience();
    if (typeof claims.exp === 'number' && claims.exp + skew < now) return 'the access token has expired';
    if (typeof claims.nbf === 'number' && claims.nbf - skew > now)
      return 'the access token is not valid yet (nbf)';
    return undefined;
  }

  #wrongAudience(): string {
    return `the access token is for another resource (aud); request one for ${this.#auth.audience} (the resource parameter, RFC 8707)`;
  }

  /** A token jose refused, as the error to answer: 401, or 503 when the keys could not be fetched. */
  #rejected(err: unknown): McpscopeError {
    if (err instanceof errors.JWTExpired)
      return this.#unauthorized('the access token has expired; get a new one', 'invalid_token');
    if (err instanceof errors.JWTClaimValidationFailed) {
      const what =
        err.claim === 'aud'
          ? this.#wrongAudience()
          : err.claim === 'iss'
            ? `the access token was issued by another authorization server, not ${this.#auth.issuer}`
            : err.claim === 'nbf'
              ? 'the access token is not valid yet (nbf)'
              : `the access token's ${err.claim} claim is ${err.reason === 'missing' ? 'missing' : 'not acceptable'}`;
      return this.#unauthorized(what, 'invalid_token');
    }
    if (err instanceof errors.JWKSNoMatchingKey)
      return this.#unauthorized(
        `the access token is signed with a key ${this.#auth.issuer} does not publish`,
        'invalid_token',
      );
    if (err instanceof errors.JWSSignatureVerificationFailed)
      return this.#unauthorized(
        `the access token's signature does not verify with the keys of ${this.#auth.issuer}`,
        'invalid_token',
      );
    if (err instanceof errors.JOSEAlgNotAllowed)
      return this.#unauthorized(
        `the access token is signed with an algorithm not accepted here (${JWT_ALGORITHMS.join(', ')})`,
        'invalid_token',
      );
    if (
      err instanceof errors.JWTInvalid ||
      err instanceof errors.JWSInvalid ||
      err instanceof errors.JOSENotSupported
    )
      return this.#unauthorized('the access token is not a well-formed signed JWT', 'invalid_token');
    // The keys could not be fetched (timeout, HTTP error, not a JWKS): not the client's fault.
    return new McpscopeError(
      'AUTH_UNAVAILABLE',
      `cannot get the signing keys of ${this.#auth.issuer} (${(err as Error).message}); the client may retry`,
      { cause: err, details: { retryAfterMs: DISCOVERY_RETRY_MS } },
    );
  }

  /**
   * The issuer's keys: from auth.jwksUri, else from its metadata, looked up once; after a failure, requests
   * are refused with it for DISCOVERY_RETRY_MS before the lookup is tried again.
   */
  #signingKeys(): Promise<JWTVerifyGetKey> {
    const failed = this.#keysFailure;
    if (failed && Date.now() - failed.at < DISCOVERY_RETRY_MS) return Promise.reject(failed.err);
    if (this.#keys) return this.#keys;
    const keys = this.#lookUpKeys().catch((err: unknown) => {
      const e =
        err instanceof McpscopeError
          ? err
          : new McpscopeError(
              'AUTH_UNAVAILABLE',
              `cannot locate the keys of ${this.#auth.issuer}: ${String(err)}`,
              {
                cause: err,
                details: { retryAfterMs: DISCOVERY_RETRY_MS },
              },
            );
      if (this.#keys === keys) this.#keys = undefined;
      this.#keysFailure = { at: Date.now(), err: e };
      throw e;
    });
    this.#keys = keys;
    return keys;
  }

  async #lookUpKeys(): Promise<JWTVerifyGetKey> {
    const { jwksUri, issuer, jwksCooldownSeconds } = this.#auth;
    const uri = jwksUri ?? (await discoverIssuer(issuer)).jwks_uri;
    if (uri === undefined) {
      throw new McpscopeError(
        'AUTH_UNAVAILABLE',
        `the metadata of ${issuer} has no jwks_uri; set auth.jwksUri`,
        {
          details: { retryAfterMs: DISCOVERY_RETRY_MS },
        },
      );
    }
    return issuerKeys(uri, jwksCooldownSeconds * 1000);
  }

  #unauthorized(message: string, error?: string): McpscopeError {
    return new McpscopeError('UNAUTHORIZED', message, {
      details: {
        resourceMetadata: this.metadataUrl,
        ...(error === undefined ? {} : { error }),
        ...(this.#scope === '' ? {} : { scope: this.#scope }),
      },
    });
  }

  #insufficient(needed: string[], missing: string[], what: string): McpscopeError {
    return new McpscopeError(
      'INSUFFICIENT_SCOPE',
      `the access token lacks scope ${missing.join(' ')}, which ${what} needs; ask for "${needed.join(' ')}"`,
      {
        details: { resourceMetadata: this.metadataUrl, error: 'insufficient_scope', scope: needed.join(' ') },
      },
    );
  }
}
