import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { McpscopeError } from '../jsonrpc/errors.js';

/** Time one request to the authorization server (metadata, keys, introspection) may take (5 s). */
export const AUTH_SERVER_TIMEOUT_MS = 5_000;
/** After a failed metadata lookup, requests are refused (503) for this long before it is tried again (5 s). */
export const DISCOVERY_RETRY_MS = 5_000;
/** Keys fetched from the JWKS are used for at most this long before they are fetched again (10 min). */
export const JWKS_MAX_AGE_MS = 600_000;

/** The authorization server's metadata that mcpscope uses (RFC 8414 / OpenID Connect Discovery). */
export interface IssuerMetadata {
  issuer: string;
  jwks_uri?: string;
  introspection_endpoint?: string;
}

/**
 * Where an issuer's metadata may be, in order: RFC 8414 (`/.well-known/oauth-authorization-server` before
 * the issuer's path), then OpenID Connect Discovery (`/.well-known/openid-configuration` after the path, and
 * before it as RFC 8414 allows).
 */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/$/, '');
  const urls = [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
  if (path !== '') urls.push(`${url.origin}/.well-known/openid-configuration${path}`);
  return urls;
}

function unavailable(message: string, cause?: unknown): McpscopeError {
  return new McpscopeError('AUTH_UNAVAILABLE', message, {
    cause,
    details: { retryAfterMs: DISCOVERY_RETRY_MS },
  });
}

/** Fetch the issuer's metadata (see metadataUrls); AUTH_UNAVAILABLE when none answers or it names another issuer. */
export async function discoverIssuer(issuer: string): Promise<IssuerMetadata> {
  const tried: string[] = [];
  for (const url of metadataUrls(issuer)) {
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(AUTH_SERVER_TIMEOUT_MS),
      });
    } catch (err) {
      throw unavailable(
        `cannot reach the authorization server at ${url} (${(err as Error).message}); check auth.issuer`,
        err,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      tried.push(`${url} (${res.status})`);
      continue;
    }
    const meta = (await res.json().catch(() => undefined)) as Partial<IssuerMetadata> | undefined;
    if (meta?.issuer !== issuer) {
      throw unavailable(
        `the metadata at ${url} names issuer ${JSON.stringify(meta?.issuer)}, not ${JSON.stringify(issuer)}; set auth.issuer to exactly the issuer its tokens carry in iss`,
      );
    }
    return meta as IssuerMetadata;
  }
  throw unavailable(
    `no authorization server metadata for ${issuer}: ${tried.join(', ')}; check auth.issuer, or set auth.jwksUri`,
  );
}

/**
 * The issuer's signing keys, with jose's cache: fetched at the first token, kept up to JWKS_MAX_AGE_MS, and
 * fetched again at once for a token signed with an unknown `kid` (key rotation), at most once per cooldown.
 */
export function issuerKeys(jwksUri: string, cooldownMs: number): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL(jwksUri), {
    cooldownDuration: cooldownMs,
    cacheMaxAge: JWKS_MAX_AGE_MS,
    timeoutDuration: AUTH_SERVER_TIMEOUT_MS,
  });
}
