/**
 * The two protocol eras mcpscope carries: 2024-11-05 … 2025-11-25 ('legacy': `initialize`, sessions) and
 * 2026-07-28 ('modern': no handshake, a `_meta` envelope on every request, `Mcp-*` headers over HTTP).
 * The era is decided per message, from the body's envelope (and over HTTP its MCP-Protocol-Version header).
 */
import { McpscopeError } from './errors.js';
import type { Frame } from './framing.js';

export type Era = 'legacy' | 'modern';

/** Revisions of the legacy era, oldest first (2024-11-05 is also the HTTP+SSE transport's). */
export const LEGACY_PROTOCOL_VERSIONS: readonly string[] = [
  '2024-11-05',
  '2025-03-26',
  '2025-06-18',
  '2025-11-25',
];
/** Revisions of the modern era. */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = ['2026-07-28'];
/** Every revision mcpscope carries, oldest first. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = [
  ...LEGACY_PROTOCOL_VERSIONS,
  ...MODERN_PROTOCOL_VERSIONS,
];

/** The per-request envelope's keys (`params._meta`). */
export const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
export const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';
export const META_CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
export const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
/** On results: the server's identity. On listen notifications: the listen request's id. */
export const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';
export const META_SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

/** Requests that stay open for as long as either side wants: no request timeout, no shutdown grace. */
export const STREAMING_METHODS: ReadonlySet<string> = new Set(['subscriptions/listen']);

/** HTTP headers of the modern era (lower case, as node:http gives them). */
export const HEADER_MCP_METHOD = 'mcp-method';
export const HEADER_MCP_NAME = 'mcp-name';
export const HEADER_MCP_PARAM_PREFIX = 'mcp-param-';

const LOG_LEVELS: ReadonlySet<string> = new Set([
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
]);

type Meta = Record<string, unknown>;

/** A message's `params._meta`, when it has one. */
export function metaOf(msg: unknown): Meta | undefined {
  const meta = (msg as { params?: { _meta?: unknown } }).params?._meta;
  return meta !== null && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Meta) : undefined;
}

/** A result's `_meta`, when it has one. */
export function resultMetaOf(msg: unknown): Meta | undefined {
  const meta = (msg as { result?: { _meta?: unknown } }).result?._meta;
  return meta !== null && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Meta) : undefined;
}

export function isModernVersion(version: string): boolean {
  return MODERN_PROTOCOL_VERSIONS.includes(version);
}

/**
 * The era of a client message: modern when its envelope claims a protocol version (any value: a malformed
 * claim is a modern request with a bad envelope), or, over HTTP, when its MCP-Protocol-Version header names
 * a modern revision.
 */
export function eraOf(frame: Frame, headerVersion?: string): Era {
  const meta = metaOf(frame.msg);
  if (meta !== undefined && META_PROTOCOL_VERSION in meta) return 'modern';
  return headerVersion !== undefined && isModernVersion(headerVersion) ? 'modern' : 'legacy';
}

/** The -32022 answer: the revision asked for is not one of `supported`. */
export function unsupportedVersion(
  requested: string,
  supported: readonly string[] = SUPPORTED_PROTOCOL_VERSIONS,
): McpscopeError {
  return new McpscopeError(
    'UNSUPPORTED_PROTOCOL_VERSION',
    `protocol version ${requested} is not supported; supported versions: ${supported.join(', ')}`,
    { details: { supported, requested } },
  );
}

function invalidEnvelope(key: string, problem: string): McpscopeError {
  return new McpscopeError(
    'INVALID_ENVELOPE',
    `invalid _meta envelope: ${key} ${problem}; every 2026-07-28 request carries its protocol version and client capabilities in params._meta`,
    { details: { envelope: { key, problem } } },
  );
}

/**
 * Check a modern request's envelope: the keys the spec requires are there and well-formed (-32602). With
 * `checkVersion` (mcpscope is the HTTP server: its upstream is not HTTP), the version it claims must be a
 * modern revision (-32022, listing them); in front of an HTTP server, that server accepts or refuses it.
 */
export function checkEnvelope(frame: Frame, checkVersion: boolean): McpscopeError | undefined {
  const meta = metaOf(frame.msg);
  if (meta === undefined) return invalidEnvelope('_meta', 'is missing');
  const version = meta[META_PROTOCOL_VERSION];
  if (typeof version !== 'string') return invalidEnvelope(META_PROTOCOL_VERSION, 'must be a string');
  if (checkVersion && !isModernVersion(version)) return unsupportedVersion(version, MODERN_PROTOCOL_VERSIONS);
  if (frame.kind !== 'request') return undefined;
  const caps = meta[META_CLIENT_CAPABILITIES];
  if (caps === null || typeof caps !== 'object' || Array.isArray(caps)) {
    return invalidEnvelope(META_CLIENT_CAPABILITIES, caps === undefined ? 'is missing' : 'must be an object');
  }
  const info = meta[META_CLIENT_INFO];
  if (info !== undefined) {
    const i = info as { name?: unknown; version?: unknown } | null;
    if (i === null || typeof i !== 'object' || typeof i.name !== 'string' || typeof i.version !== 'string') {
      return invalidEnvelope(META_CLIENT_INFO, 'must be an object with a string name and version');
    }
  }
  const level = meta[META_LOG_LEVEL];
  if (level !== undefined && (typeof level !== 'string' || !LOG_LEVELS.has(level))) {
    return invalidEnvelope(META_LOG_LEVEL, `must be one of ${[...LOG_LEVELS].join(', ')}`);
  }
  return undefined;
}

/** `=?base64?…?=`: how a header carries a value that is not plain visible ASCII. */
const BASE64_VALUE = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;

/** A header value as the spec encodes it, decoded (Mcp-Name, Mcp-Param-*). */
export function decodeHeaderValue(value: string): string {
  const m = BASE64_VALUE.exec(value);
  return m ? Buffer.from(m[1] as string, 'base64').toString('utf8') : value;
}

/** Encode a value for an Mcp-Name or Mcp-Param-* header: as is when plain visible ASCII, else base64. */
export function encodeHeaderValue(value: string): string {
  const plain = /^[\x20-\x7e\t]*$/.test(value) && value.trim() === value && !BASE64_VALUE.test(value);
  return plain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** What `Mcp-Name` carries for a request: the tool or prompt name, or the resource URI. */
export function mcpNameOf(method: string, msg: unknown): string | undefined {
  const params = (msg as { params?: { name?: unknown; uri?: unknown } }).params;
  const value =
    method === 'tools/call' || method === 'prompts/get'
      ? params?.name
      : method === 'resources/read'
        ? params?.uri
        : undefined;
  return typeof value === 'string' ? value : undefined;
}

function mismatch(header: string, got: string | undefined, body: string): McpscopeError {
  return new McpscopeError(
    'HEADER_MISMATCH',
    got === undefined
      ? `the required ${header} header is absent (the body says ${JSON.stringify(body)}); send it with every 2026-07-28 request`
      : `the ${header} header (${JSON.stringify(got)}) does not match the body (${JSON.stringify(body)})`,
    { details: { mismatch: { header, value: got ?? null, body } } },
  );
}

/**
 * Check a modern request's HTTP headers against its body, as a server must (-32020): MCP-Protocol-Version
 * equals the envelope's version, Mcp-Method the method, Mcp-Name the tool or prompt name or resource URI.
 * `Mcp-Param-*` headers need the tool's schema and are left to the server.
 */
export function checkHeaders(
  frame: Frame,
  headers: Record<string, string | string[] | undefined>,
): McpscopeError | undefined {
  const claim = metaOf(frame.msg)?.[META_PROTOCOL_VERSION];
  const version = single(headers['mcp-protocol-version']);
  if (typeof claim !== 'string') {
    // A modern header over a body without the envelope: the envelope check says what is missing.
    return undefined;
  }
  if (version !== claim) return mismatch('MCP-Protocol-Version', version, claim);
  if (frame.kind !== 'request') return undefined;
  const method = frame.method as string;
  const sentMethod = single(headers[HEADER_MCP_METHOD]);
  if (sentMethod !== method) return mismatch('Mcp-Method', sentMethod, method);
  const name = mcpNameOf(method, frame.msg);
  if (name === undefined) return undefined;
  const sentName = single(headers[HEADER_MCP_NAME]);
  if (sentName === undefined || decodeHeaderValue(sentName) !== name)
    return mismatch('Mcp-Name', sentName, name);
  return undefined;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The `MCP-Protocol-Version` and `Mcp-*` headers of a request, to pass upstream as they came. */
export function mcpHeadersOf(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (
      name === 'mcp-protocol-version' ||
      name === HEADER_MCP_METHOD ||
      name === HEADER_MCP_NAME ||
      name.startsWith(HEADER_MCP_PARAM_PREFIX)
    ) {
      out[name] = single(value) as string;
    }
  }
  return out;
}

/** The headers a modern request needs upstream when it did not come over HTTP (a stdio client). */
export function buildMcpHeaders(frame: Frame): Record<string, string> {
  const out: Record<string, string> = {};
  const claim = metaOf(frame.msg)?.[META_PROTOCOL_VERSION];
  if (typeof claim === 'string') out['mcp-protocol-version'] = claim;
  if (frame.kind === 'request' && frame.method !== undefined) {
    out[HEADER_MCP_METHOD] = frame.method;
    const name = mcpNameOf(frame.method, frame.msg);
    if (name !== undefined) out[HEADER_MCP_NAME] = encodeHeaderValue(name);
  }
  return out;
}

/**
 * The HTTP status a modern answer gets when mcpscope is the HTTP server in front of a non-HTTP upstream:
 * the spec's validation errors are 400 (-32020, -32021, -32022), an unknown method 404 (-32601); every
 * other answer, errors raised by a handler included, goes in band with 200.
 */
export function modernStatusOf(frame: Frame): number {
  if (frame.kind !== 'error') return 200;
  const code = (frame.msg as { error?: { code?: unknown } }).error?.code;
  if (code === -32020 || code === -32021 || code === -32022) return 400;
  return code === -32601 ? 404 : 200;
}
