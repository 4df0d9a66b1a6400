/**
 * One error base for everything mcpscope itself causes, with a stable string `code`.
 * Upstream JSON-RPC errors are never wrapped: they pass through untouched.
 * The mapping to JSON-RPC error objects and HTTP statuses lives here, and only here.
 */

export type ErrorCode =
  | 'PARSE_ERROR'
  | 'INVALID_REQUEST'
  | 'INVALID_PARAMS'
  | 'BATCH_NOT_SUPPORTED'
  | 'MESSAGE_TOO_LARGE'
  | 'SESSION_REQUIRED'
  | 'SESSION_NOT_FOUND'
  | 'TOO_MANY_SESSIONS'
  | 'UNSUPPORTED_PROTOCOL_VERSION'
  | 'HEADER_MISMATCH'
  | 'INVALID_ENVELOPE'
  | 'ORIGIN_FORBIDDEN'
  | 'NOT_ACCEPTABLE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'METHOD_NOT_ALLOWED'
  | 'STREAM_CONFLICT'
  | 'UPSTREAM_EXITED'
  | 'UPSTREAM_UNREACHABLE'
  | 'UPSTREAM_HTTP_ERROR'
  | 'UPSTREAM_PROTOCOL_ERROR'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_BACKPRESSURE'
  | 'CLIENT_BACKPRESSURE'
  | 'UPSTREAM_STREAM_LOST'
  | 'SESSION_CLOSED'
  | 'CONFIG_INVALID'
  | 'TAPE_MISS'
  | 'TAPE_INVALID'
  | 'TAPE_NO_OFFER'
  | 'RATE_LIMITED'
  | 'CIRCUIT_OPEN'
  | 'STAGE_TIMEOUT'
  | 'PIPELINE_FULL'
  | 'DROPPED_AT_BREAKPOINT'
  | 'SHUTTING_DOWN'
  | 'BRIDGE_UNSUPPORTED'
  | 'BRIDGE_STATE_INVALID'
  | 'BRIDGE_INPUT_FAILED'
  | 'BRIDGE_ROUNDS_EXCEEDED'
  | 'BRIDGE_HANDSHAKE_FAILED'
  | 'GATEWAY_UPSTREAM_UNAVAILABLE'
  | 'GATEWAY_UPSTREAM_DOWN'
  | 'GATEWAY_UNKNOWN_NAME'
  | 'GATEWAY_NAME_HIDDEN'
  | 'GATEWAY_UNKNOWN_RESOURCE'
  | 'GATEWAY_CURSOR_INVALID'
  | 'GATEWAY_UNROUTABLE'
  | 'UNAUTHORIZED'
  | 'INSUFFICIENT_SCOPE'
  | 'AUTH_UNAVAILABLE';

/** JSON-RPC 2.0 and MCP error codes used by mcpscope. */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** MCP SDK `ErrorCode.ConnectionClosed`. */
  ConnectionClosed: -32000,
  /** MCP SDK `ErrorCode.RequestTimeout`; also what the SDK's HTTP server uses for "session not found". */
  RequestTimeout: -32001,
  /** MCP 2026-07-28: the HTTP headers disagree with the body (or a required one is missing). */
  HeaderMismatch: -32020,
  /** MCP 2026-07-28: the request names a protocol version the receiver does not carry. */
  UnsupportedProtocolVersion: -32022,
  /** mcpscope: the upstream is unavailable for now (circuit breaker open); retry after `data.retryAfterMs`. */
  Unavailable: -32003,
  /** mcpscope: over a rate limit (429); retry after `data.retryAfterMs`. */
  RateLimited: -32029,
  /** mcpscope: a person dropped the message at a breakpoint (admin `POST /paused/{id}/drop`). */
  DroppedAtBreakpoint: -32004,
  /** MCP: the resource named by a URI does not exist. */
  ResourceNotFound: -32002,
  /** mcpscope: no valid access token (HTTP 401); `data.resourceMetadata` says where to get one. */
  Unauthorized: -32041,
  /** mcpscope: the access token lacks a scope the request needs (HTTP 403); `data.scope` lists them. */
  Forbidden: -32043,
} as const;

/**
 * Who an error is down to: the client (its input, its limits, its slowness), the upstream (a fault of the
 * server or the way to it), or mcpscope itself (its state: shutting down, breaker open, no such tape).
 */
export type ErrorSide = 'client' | 'upstream' | 'local';

interface Mapping {
  readonly rpc: number;
  readonly http: number;
  readonly side: ErrorSide;
  /**
   * Set when the error is a fault of the upstream (the server, or the way to it): its `error_type` label in
   * `upstream_errors_total`. The circuit breaker counts exactly these; errors a client causes (its own
   * backpressure, bad input, limits it hits) and mcpscope's own refusals never count against the upstream.
   */
  readonly upstreamFailure?: string;
}

const MAPPING: Readonly<Record<ErrorCode, Mapping>> = {
  PARSE_ERROR: { rpc: JsonRpcCode.ParseError, http: 400, side: 'client' },
  INVALID_REQUEST: { rpc: JsonRpcCode.InvalidRequest, http: 400, side: 'client' },
  INVALID_PARAMS: { rpc: JsonRpcCode.InvalidParams, http: 400, side: 'client' },
  BATCH_NOT_SUPPORTED: { rpc: JsonRpcCode.InvalidRequest, http: 400, side: 'client' },
  MESSAGE_TOO_LARGE: { rpc: JsonRpcCode.InvalidRequest, http: 413, side: 'client' },
  SESSION_REQUIRED: { rpc: JsonRpcCode.ConnectionClosed, http: 400, side: 'client' },
  SESSION_NOT_FOUND: { rpc: JsonRpcCode.RequestTimeout, http: 404, side: 'client' },
  TOO_MANY_SESSIONS: { rpc: JsonRpcCode.ConnectionClosed, http: 503, side: 'local' },
  UNSUPPORTED_PROTOCOL_VERSION: { rpc: JsonRpcCode.UnsupportedProtocolVersion, http: 400, side: 'client' },
  HEADER_MISMATCH: { rpc: JsonRpcCode.HeaderMismatch, http: 400, side: 'client' },
  INVALID_ENVELOPE: { rpc: JsonRpcCode.InvalidParams, http: 400, side: 'client' },
  ORIGIN_FORBIDDEN: { rpc: JsonRpcCode.ConnectionClosed, http: 403, side: 'client' },
  NOT_ACCEPTABLE: { rpc: JsonRpcCode.ConnectionClosed, http: 406, side: 'client' },
  UNSUPPORTED_MEDIA_TYPE: { rpc: JsonRpcCode.ConnectionClosed, http: 415, side: 'client' },
  METHOD_NOT_ALLOWED: { rpc: JsonRpcCode.ConnectionClosed, http: 405, side: 'client' },
  STREAM_CONFLICT: { rpc: JsonRpcCode.ConnectionClosed, http: 409, side: 'client' },
  UPSTREAM_EXITED: {
    rpc: JsonRpcCode.ConnectionClosed,
    http: 502,
    upstreamFailure: 'exited',
    side: 'upstream',
  },
  UPSTREAM_UNREACHABLE: {
    rpc: JsonRpcCode.ConnectionClosed,
    http: 502,
    upstreamFailure: 'refused',
    side: 'upstream',
  },
  UPSTREAM_HTTP_ERROR: { rpc: JsonRpcCode.ConnectionClosed, http: 502, side: 'upstream' },
  UPSTREAM_PROTOCOL_ERROR: {
    rpc: JsonRpcCode.InternalError,
    http: 502,
    upstreamFailure: 'protocol',
    side: 'upstream',
  },
  UPSTREAM_TIMEOUT: {
    rpc: JsonRpcCode.RequestTimeout,
    http: 504,
    upstreamFailure: 'timeout',
    side: 'upstream',
  },
  UPSTREAM_BACKPRESSURE: {
    rpc: JsonRpcCode.ConnectionClosed,
    http: 503,
    upstreamFailure: 'backpressure',
    side: 'upstream',
  },
  CLIENT_BACKPRESSURE: { rpc: JsonRpcCode.ConnectionClosed, http: 503, side: 'client' },
  UPSTREAM_STREAM_LOST: {
    rpc: JsonRpcCode.ConnectionClosed,
    http: 502,
    upstreamFailure: 'stream_lost',
    side: 'upstream',
  },
  SESSION_CLOSED: {
    rpc: JsonRpcCode.ConnectionClosed,
    http: 404,
    upstreamFailure: 'closed',
    side: 'upstream',
  },
  CONFIG_INVALID: { rpc: JsonRpcCode.InvalidParams, http: 500, side: 'local' },
  TAPE_MISS: { rpc: JsonRpcCode.InternalError, http: 404, side: 'local' },
  TAPE_INVALID: { rpc: JsonRpcCode.InternalError, http: 500, side: 'local' },
  TAPE_NO_OFFER: { rpc: JsonRpcCode.InternalError, http: 500, side: 'local' },
  RATE_LIMITED: { rpc: JsonRpcCode.RateLimited, http: 429, side: 'client' },
  CIRCUIT_OPEN: { rpc: JsonRpcCode.Unavailable, http: 503, side: 'local' },
  STAGE_TIMEOUT: { rpc: JsonRpcCode.RequestTimeout, http: 504, side: 'local' },
  PIPELINE_FULL: { rpc: JsonRpcCode.ConnectionClosed, http: 503, side: 'local' },
  // A person dropped the held message over the admin API: nothing was sent on; never the upstream's fault.
  DROPPED_AT_BREAKPOINT: { rpc: JsonRpcCode.DroppedAtBreakpoint, http: 409, side: 'local' },
  SHUTTING_DOWN: { rpc: JsonRpcCode.ConnectionClosed, http: 503, side: 'local' },
  // --bridge: a message with no faithful equivalent in the other era is refused, naming what is missing.
  BRIDGE_UNSUPPORTED: { rpc: JsonRpcCode.MethodNotFound, http: 400, side: 'client' },
  // A retry whose requestState mcpscope did not issue for this call and round (altered, expired, replayed).
  BRIDGE_STATE_INVALID: { rpc: JsonRpcCode.InvalidParams, http: 400, side: 'client' },
  // The client answered the server's question (elicitation, sampling, roots) with an error.
  BRIDGE_INPUT_FAILED: { rpc: JsonRpcCode.InternalError, http: 400, side: 'client' },
  // The server asked for input more times than --bridge allows for one request.
  BRIDGE_ROUNDS_EXCEEDED: { rpc: JsonRpcCode.InternalError, http: 502, side: 'upstream' },
  // An older server refused the initialize mcpscope ran for a 2026-07-28 client.
  BRIDGE_HANDSHAKE_FAILED: { rpc: JsonRpcCode.InternalError, http: 502, side: 'upstream' },
  // gateway: one upstream is down, could not be opened or did not answer in time; only its names fail.
  GATEWAY_UPSTREAM_UNAVAILABLE: {
    rpc: JsonRpcCode.ConnectionClosed,
    http: 502,
    upstreamFailure: 'unavailable',
    side: 'upstream',
  },
  // gateway: the upstream went down and is not tried again before `retryAfterMs`: refused without asking
  // it (what took it down was counted then), as the circuit breaker refuses.
  GATEWAY_UPSTREAM_DOWN: { rpc: JsonRpcCode.Unavailable, http: 503, side: 'local' },
  // gateway: a tool or prompt name without a known `<upstream><separator>` prefix.
  GATEWAY_UNKNOWN_NAME: { rpc: JsonRpcCode.InvalidParams, http: 400, side: 'client' },
  // gateway: a tool or prompt the configuration hides (allow / deny globs).
  GATEWAY_NAME_HIDDEN: { rpc: JsonRpcCode.InvalidParams, http: 400, side: 'client' },
  // gateway: a resource URI no upstream listed and no template matches.
  GATEWAY_UNKNOWN_RESOURCE: { rpc: JsonRpcCode.ResourceNotFound, http: 404, side: 'client' },
  // gateway: a list cursor the gateway did not issue (or for another list).
  GATEWAY_CURSOR_INVALID: { rpc: JsonRpcCode.InvalidParams, http: 400, side: 'client' },
  // gateway: a request the gateway cannot route to one upstream (an unknown method).
  GATEWAY_UNROUTABLE: { rpc: JsonRpcCode.MethodNotFound, http: 400, side: 'client' },
  // OAuth resource server (src/auth): no valid token, a token without a needed scope, and the authorization
  // server's keys or introspection endpoint out of reach (never the client's fault, nor the upstream's).
  UNAUTHORIZED: { rpc: JsonRpcCode.Unauthorized, http: 401, side: 'client' },
  INSUFFICIENT_SCOPE: { rpc: JsonRpcCode.Forbidden, http: 403, side: 'client' },
  AUTH_UNAVAILABLE: { rpc: JsonRpcCode.Unavailable, http: 503, side: 'local' },
};

export class McpscopeError extends Error {
  readonly code: ErrorCode;
  /** Extra, JSON-safe facts for the client (`error.data`), e.g. the limit that was hit. */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'McpscopeError';
    this.code = code;
    this.details = options?.details;
  }

  get httpStatus(): number {
    return MAPPING[this.code].http;
  }

  get rpcCode(): number {
    return MAPPING[this.code].rpc;
  }
}

/** Who `err` is down to; an upstream's HTTP 4xx answers the client's request, so it is the client's. */
export function errorSide(err: McpscopeError): ErrorSide {
  if (err.code === 'UPSTREAM_HTTP_ERROR') return upstreamFailure(err) === undefined ? 'client' : 'upstream';
  return MAPPING[err.code].side;
}

/**
 * What an mcpscope error says of the upstream: the `error_type` of an upstream fault, or undefined when the
 * client or mcpscope itself caused it. One list for the circuit breaker and `upstream_errors_total`. An
 * upstream's HTTP 4xx answers the client's request (bad input, credentials): not a fault of the upstream.
 */
export function upstreamFailure(err: McpscopeError): string | undefined {
  if (err.code === 'UPSTREAM_HTTP_ERROR') {
    const status = Number(err.details?.status);
    return status >= 500 || !(status >= 400) ? 'http_5xx' : undefined;
  }
  return MAPPING[err.code].upstreamFailure;
}

/**
 * Refusals decided before a request reaches the upstream, with a time to retry: HTTP wires answer them with
 * their own status (429, 503) and Retry-After instead of an SSE event. Every other error about one request
 * stays a JSON-RPC error on its stream, tied to its id.
 */
const STATUS_ANSWERS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'RATE_LIMITED',
  'CIRCUIT_OPEN',
  'UNAUTHORIZED',
  'INSUFFICIENT_SCOPE',
]);

export function answersWithStatus(err: McpscopeError): boolean {
  return STATUS_ANSWERS.has(err.code);
}

/** A quoted-string of a WWW-Authenticate parameter: printable ASCII, without `"` and `\`. */
function quoted(value: string): string {
  return `"${value.replace(/[^\x20-\x7e]|["\\]/g, "'")}"`;
}

/**
 * The `WWW-Authenticate` challenge of a 401 or 403 (RFC 6750, RFC 9728): where the resource's metadata is,
 * and when a token was presented, what was wrong with it and the scopes needed.
 */
function bearerChallenge(err: McpscopeError): string | undefined {
  const d = err.details;
  if (typeof d?.resourceMetadata !== 'string') return undefined;
  const params = [`resource_metadata=${quoted(d.resourceMetadata)}`];
  if (typeof d.error === 'string') {
    params.push(`error=${quoted(d.error)}`, `error_description=${quoted(err.message)}`);
  }
  if (typeof d.scope === 'string' && d.scope !== '') params.push(`scope=${quoted(d.scope)}`);
  return `Bearer ${params.join(', ')}`;
}

/**
 * HTTP headers for an error answer: `Retry-After` (whole seconds, rounded up) when the error says when, and
 * the bearer challenge of a refused token.
 */
export function errorHeaders(err: McpscopeError, length: number): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': length,
  };
  const after = err.details?.retryAfterMs;
  if (typeof after === 'number') headers['retry-after'] = String(Math.max(1, Math.ceil(after / 1000)));
  if (err.code === 'UNAUTHORIZED' || err.code === 'INSUFFICIENT_SCOPE') {
    const challenge = bearerChallenge(err);
    if (challenge) headers['www-authenticate'] = challenge;
  }
  return headers;
}

export type JsonRpcId = string | number;

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data: { source: 'mcpscope'; code: ErrorCode } & Record<string, unknown>;
}

/** The one place where an mcpscope error becomes a JSON-RPC error object. */
export function toJsonRpcError(err: McpscopeError): JsonRpcErrorObject {
  const data: JsonRpcErrorObject['data'] = { source: 'mcpscope', code: err.code };
  if (err.details) {
    for (const key of Object.keys(err.details)) if (key !== 'id') data[key] = err.details[key];
  }
  return { code: err.rpcCode, message: err.message, data };
}

/** A complete JSON-RPC error response for an mcpscope error. */
export function errorResponse(id: JsonRpcId | null, err: McpscopeError): object {
  return { jsonrpc: '2.0', id, error: toJsonRpcError(err) };
}

/** The same, serialised. */
export function errorResponseJson(id: JsonRpcId | null, err: McpscopeError): string {
  return JSON.stringify(errorResponse(id, err));
}

/** A message from the upstream that failed parsing or validation (`cause`), as the error to report. */
export function upstreamProtocolError(cause: McpscopeError): McpscopeError {
  return new McpscopeError(
    'UPSTREAM_PROTOCOL_ERROR',
    `upstream sent an unacceptable message: ${cause.message}`,
    {
      cause,
      details: cause.details,
    },
  );
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
