import { McpscopeError } from '../jsonrpc/errors.js';

/** Names that always mean this machine. */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Longest Origin or Host value quoted back in an error. */
const QUOTE_CHARS = 100;

export interface OriginPolicy {
  /** Origins allowed besides loopback ones; '*' allows any. */
  allowedOrigins: readonly string[];
  /** Host names (without port) allowed besides loopback ones when listening on loopback. */
  allowedHosts: readonly string[];
  /** Listening on a loopback address: then the Host header must name this machine (DNS rebinding). */
  loopbackOnly: boolean;
}

/** The host name of a Host header value: `[::1]:8080` → `[::1]`, `Example.COM:80` → `example.com`. */
export function hostnameOf(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

function quote(value: string): string {
  return JSON.stringify(value.length > QUOTE_CHARS ? `${value.slice(0, QUOTE_CHARS)}…` : value);
}

/**
 * Browser-facing checks, as the MCP transport spec asks: a present Origin must be loopback or allowed, and
 * on a loopback bind the Host must name this machine (so a page on a rebound DNS name cannot reach us).
 * Requests without an Origin (non-browser clients) pass the Origin check.
 */
export function checkOrigin(
  origin: string | undefined,
  host: string | undefined,
  policy: OriginPolicy,
): McpscopeError | undefined {
  if (origin !== undefined) {
    const allowed = policy.allowedOrigins;
    if (!allowed.includes('*') && !allowed.includes(origin)) {
      let hostname = '';
      if (origin !== 'null') {
        try {
          hostname = new URL(origin).hostname;
        } catch {
          hostname = '';
        }
      }
      if (!LOOPBACK_HOSTS.has(hostname) && !LOOPBACK_HOSTS.has(`[${hostname}]`)) {
        return new McpscopeError(
          'ORIGIN_FORBIDDEN',
          `Origin ${quote(origin)} is not allowed; add it with --allowed-origin if this page should reach the proxy`,
        );
      }
    }
  }
  if (policy.loopbackOnly && host !== undefined) {
    const name = hostnameOf(host);
    if (!LOOPBACK_HOSTS.has(name) && !policy.allowedHosts.includes(name)) {
      return new McpscopeError(
        'ORIGIN_FORBIDDEN',
        `Host ${quote(host)} is not a loopback name; add it with --allowed-host if this name should reach the proxy`,
      );
    }
  }
  return undefined;
}
