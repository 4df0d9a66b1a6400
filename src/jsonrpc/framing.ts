import { isUtf8 } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Principal } from '../auth/principal.js';
import type { Outcome } from '../session/outcome.js';
import { McpscopeError, errorResponse, type JsonRpcId } from './errors.js';

/** Default cap on one JSON-RPC message, in bytes (4 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export type MessageKind = 'request' | 'notification' | 'response' | 'error';

/** What the session knows about a request in flight; shared by every stage (see session/pending.ts). */
export interface PendingRequest {
  readonly id: JsonRpcId;
  readonly method: string;
  /** `params.name` for `tools/call` and `prompts/get`, `params.uri` for `resources/read`. */
  readonly target: string | undefined;
  readonly progressToken: string | number | undefined;
  /** performance.now() when the request reached mcpscope. */
  readonly startedAt: number;
  /** A request that stays open as long as either side wants (`subscriptions/listen`): never timed out. */
  readonly streaming: boolean;
  /** Opaque slot for the inbound transport (e.g. the HTTP stream that carries the answer). */
  route: unknown;
  /**
   * Set by the gateway's outbound transport on a request it routes to one of its upstreams: that upstream's
   * name (metrics and stats label answers with it). Undefined elsewhere.
   */
  upstream: string | undefined;
  /** With tracing on, the request span's ids when it is sampled (tapes and exemplars name it). */
  trace: TraceIds | undefined;
}

/** A sampled span's W3C ids, lowercase hex: trace (32 digits) and span (16). */
export interface TraceIds {
  readonly traceId: string;
  readonly spanId: string;
}

/**
 * One JSON-RPC message, parsed exactly once. `raw` holds the bytes as received, so an unmodified message is
 * forwarded without re-serialising. Invariant: `raw` never contains a newline (a pretty-printed body is
 * re-serialised once, at parse time), so every transport can frame it as is.
 */
export interface Frame {
  raw: Buffer;
  msg: JSONRPCMessage;
  kind: MessageKind;
  id: JsonRpcId | undefined;
  method: string | undefined;
  /** performance.now() when the message was complete on the receiving side. */
  receivedAt: number;
  /** Milliseconds spent parsing and validating it (for a message mcpscope built: serialising it). */
  codecMs: number;
  /** True for a message mcpscope built itself (errors, cancellations) rather than one it received. */
  synthetic: boolean;
  /** The request this message answers or relates to (responses, progress), set once by the Session. */
  related: PendingRequest | undefined;
  /**
   * Set by an inbound transport on a request: where its answer must go; the Session keeps it in `related`.
   * On a message from an HTTP upstream: the id of the request whose answer stream carried it; on a replayed
   * one: the live id of the request the tape relates it to. The Session relates the message to it.
   */
  route: unknown;
  /** A W3C `traceparent` that came with the message outside its body (an HTTP header). */
  traceparent: string | undefined;
  /**
   * With authorization on: who the access token of the HTTP request that carried the message speaks for
   * (each request brings its own token; a WebSocket's messages have their session's).
   */
  principal: Principal | undefined;
  /** On an error answer mcpscope made itself: the error, so wires can map it (HTTP 429 with Retry-After). */
  error: McpscopeError | undefined;
  /**
   * A 2026-07-28 request that came over HTTP: its MCP-Protocol-Version and Mcp-* headers, passed to an HTTP
   * upstream as they came.
   */
  mcpHeaders: Record<string, string> | undefined;
  /** An answer an HTTP upstream sent with a non-2xx status: the status, relayed to an HTTP client as is. */
  httpStatus: number | undefined;
  /** On an answer: how its request ended, computed once (see session/outcome.ts `outcomeOf`). */
  outcome: Outcome | undefined;
  /**
   * A message an interception rule or a breakpoint made, changed or held (see src/stages/interceptStage.ts):
   * the rule's name (or `breakpoint:<id>`) and what it did. Labels it in the feed, tapes and traces.
   */
  intercept: { readonly rule: string; readonly action: string } | undefined;
  /**
   * A replayed server message recorded over Streamable HTTP: the SSE id it had, which an inbound Streamable
   * HTTP transport sends it under again when that id is free in the session.
   */
  sseId: number | undefined;
}

/**
 * Deepest nesting of arrays and objects accepted in a message: 128 levels (serde_json's default limit too).
 * JSON.parse reads any depth, but JSON.stringify and every recursive walk after it (redaction, replay
 * matching, exports) overflow the stack a few thousand levels down, so a deeper message is refused at the
 * door (-32600) and never reaches a tape its own tools could not read. Real MCP traffic, JSON Schemas of
 * tools included, stays far below it.
 */
export const MAX_DEPTH = 128;

const NEWLINE = 0x0a;
const ID_SNIFF_BYTES = 512;
/**
 * The value of an `"id":` key, whole: a string, or a complete JSON number followed by the end of the member
 * (a number cut off by the end of the prefix, `7` of `7.5` or `1` of `1e308`, must never pass for an id).
 */
const ID_VALUE = /\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?=\s*[,}]))/y;

/** Where the string starting at `start` (a quote) ends: its closing quote, or -1 if the text ends first. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i;
  }
  return -1;
}

/**
 * Best effort: find the JSON-RPC id in the first bytes of a message that cannot be parsed or is too large,
 * so that the error answers the right request instead of leaving the client waiting. Only the message's
 * own `"id"` counts (an `"id"` inside params does not), and only a value that is a valid id: a string, or
 * a number that is a safe integer once parsed as JSON would parse it. Anything else is `null`, as JSON-RPC
 * answers a request whose id cannot be determined.
 */
export function sniffId(prefix: Buffer): JsonRpcId | null {
  const text = prefix.subarray(0, ID_SNIFF_BYTES).toString('utf8');
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x22) {
      const end = stringEnd(text, i);
      if (end === -1) return null;
      if (depth === 1 && text.slice(i, end + 1) === '"id"') {
        ID_VALUE.lastIndex = end + 1;
        const token = ID_VALUE.exec(text)?.[1];
        if (token !== undefined) return idFrom(token);
      }
      i = end;
    }
  }
  return null;
}

function idFrom(token: string): JsonRpcId | null {
  let value: unknown;
  try {
    value = JSON.parse(token);
  } catch {
    return null;
  }
  return isValidId(value) ? value : null;
}

/**
 * Whether a parsed JSON value nests arrays and objects more than `max` levels deep. A walk that gives up
 * `max` levels down, so it never recurses deeper than that itself; primitives are skipped with a typeof.
 * Measured (bench/framingDepth.mjs): parseFrame skips it for messages up to 256 bytes; beyond, it costs
 * about 2% of parseFrame for a 2 KB text result, 5% for a 15 KB tools/list, 0% for a 1 MB string, and
 * 7–10% for a 1 MB array of numbers (the worst shape). A byte scan of the text instead cost 9%, 16% and 43%.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  return value !== null && typeof value === 'object' && deeper(value, max);
}

function deeper(node: object, levelsLeft: number): boolean {
  if (levelsLeft === 0) return true;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const child: unknown = node[i];
      if (typeof child === 'object' && child !== null && deeper(child, levelsLeft - 1)) return true;
    }
    return false;
  }
  const record = node as Record<string, unknown>;
  for (const key in record) {
    const child = record[key];
    if (typeof child === 'object' && child !== null && deeper(child, levelsLeft - 1)) return true;
  }
  return false;
}

/** The message parsed, so its id is known exactly: the error answers it when it is a valid id, else null. */
function invalid(message: string, value: unknown): McpscopeError {
  const id = (value as { id?: unknown } | null)?.id;
  return new McpscopeError('INVALID_REQUEST', message, { details: { id: isValidId(id) ? id : null } });
}

function isValidId(id: unknown): id is JsonRpcId {
  return typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id));
}

/**
 * What a JSON value is as a JSON-RPC 2.0 message (kind, id, method), or the McpscopeError that says why it
 * is none; `size` is its length in bytes, which lets short messages skip the nesting walk.
 */
function classify(
  value: unknown,
  size: number,
): { kind: MessageKind; id: JsonRpcId | undefined; method: string | undefined } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('message must be a JSON-RPC object', null);
  }
  const obj = value as Record<string, unknown>;
  if (obj.jsonrpc !== '2.0') throw invalid('"jsonrpc" must be "2.0"', obj);

  let kind: MessageKind;
  let id: JsonRpcId | undefined;
  let method: string | undefined;
  if ('method' in obj) {
    if (typeof obj.method !== 'string') throw invalid('"method" must be a string', obj);
    method = obj.method;
    if ('id' in obj) {
      if (!isValidId(obj.id)) throw invalid('"id" must be a string or an integer', obj);
      id = obj.id;
      kind = 'request';
    } else {
      kind = 'notification';
    }
    if ('params' in obj && (obj.params === null || typeof obj.params !== 'object')) {
      throw invalid('"params" must be an object', obj);
    }
  } else if ('result' in obj || 'error' in obj) {
    if (!isValidId(obj.id) && !('error' in obj && obj.id === null)) {
      throw invalid('a response needs a string or integer "id"', obj);
    }
    id = obj.id === null ? undefined : (obj.id as JsonRpcId);
    kind = 'result' in obj ? 'response' : 'error';
  } else {
    throw invalid('message is neither a request, a notification nor a response', obj);
  }
  // Each level takes two bytes at least, so short messages (most requests) skip the walk.
  if (size > 2 * MAX_DEPTH && nestsDeeperThan(obj, MAX_DEPTH)) {
    throw new McpscopeError(
      'INVALID_REQUEST',
      `message nests arrays and objects more than ${MAX_DEPTH} levels deep (MAX_DEPTH); send flatter data`,
      { details: { id: id ?? null, maxDepth: MAX_DEPTH } },
    );
  }
  return { kind, id, method };
}

/**
 * Parse and structurally validate one JSON-RPC 2.0 message. Throws McpscopeError (PARSE_ERROR,
 * INVALID_REQUEST, BATCH_NOT_SUPPORTED, MESSAGE_TOO_LARGE); `details.id` carries the request id when known.
 * Nesting deeper than MAX_DEPTH is INVALID_REQUEST.
 */
export function parseFrame(raw: Buffer, maxBytes: number, receivedAt = performance.now()): Frame {
  if (raw.length > maxBytes) {
    throw new McpscopeError(
      'MESSAGE_TOO_LARGE',
      `message of ${raw.length} bytes exceeds the ${maxBytes}-byte limit; raise --max-message-bytes or send less`,
      { details: { id: sniffId(raw), limitBytes: maxBytes, sizeBytes: raw.length } },
    );
  }
  if (!isUtf8(raw)) {
    throw new McpscopeError('PARSE_ERROR', 'message is not valid UTF-8; JSON-RPC messages must be UTF-8', {
      details: { id: null },
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new McpscopeError('PARSE_ERROR', `message is not valid JSON: ${(err as Error).message}`, {
      details: { id: null },
    });
  }
  if (Array.isArray(value)) {
    throw new McpscopeError(
      'BATCH_NOT_SUPPORTED',
      'JSON-RPC batches are not allowed since MCP 2025-06-18; send one message per request',
      { details: { id: null } },
    );
  }
  const { kind, id, method } = classify(value, raw.length);
  const obj = value as Record<string, unknown>;

  // Keep the framing invariant: one message, one line.
  const bytes = raw.indexOf(NEWLINE) === -1 ? raw : Buffer.from(JSON.stringify(obj));
  return {
    raw: bytes,
    msg: obj as unknown as JSONRPCMessage,
    kind,
    id,
    method,
    receivedAt,
    codecMs: performance.now() - receivedAt,
    synthetic: false,
    related: undefined,
    route: undefined,
    traceparent: undefined,
    principal: undefined,
    error: undefined,
    mcpHeaders: undefined,
    httpStatus: undefined,
    outcome: undefined,
    intercept: undefined,
    sseId: undefined,
  };
}

/**
 * `frame` with its message replaced by `msg`, serialised once and validated like a received one (throws as
 * parseFrame does): what a stage returns to rewrite a message. Everything else the frame carries is its
 * context (the request it relates to, route, trace context, arrival time, headers, HTTP status, …) and is
 * kept as is, whatever fields Frame gains; only `error` goes, since it described the old message.
 */
export function withMessage(frame: Frame, msg: object): Frame {
  const raw = Buffer.from(JSON.stringify(msg));
  const { kind, id, method } = classify(msg, raw.length);
  // A new message has its own outcome (decided again when asked).
  return {
    ...frame,
    raw,
    msg: msg as JSONRPCMessage,
    kind,
    id,
    method,
    error: undefined,
    outcome: undefined,
  };
}

/**
 * The message of `source` in the context of `frame`: how the pipeline applies a rewrite, so a stage that
 * built its frame from scratch (parseFrame) still keeps the original's context. The message is `raw`,
 * `msg`, `kind`, `id`, `method`, `error`, its `outcome` and what made it (`intercept`); every other field
 * comes from `frame`.
 */
export function withMessageOf(frame: Frame, source: Frame): Frame {
  if (source === frame) return frame;
  const { raw, msg, kind, id, method, error, outcome } = source;
  // What made the new message (an interception rule) is the message's too.
  const intercept = source.intercept ?? frame.intercept;
  return { ...frame, raw, msg, kind, id, method, error, outcome, intercept };
}

/** Build a frame for a message mcpscope itself creates (errors, cancellations), timing its serialisation. */
export function syntheticFrame(message: object): Frame {
  const t0 = performance.now();
  const frame = parseFrame(Buffer.from(JSON.stringify(message)), Number.MAX_SAFE_INTEGER, t0);
  frame.codecMs = performance.now() - t0;
  frame.synthetic = true;
  return frame;
}

/** The error answer to request `id` for an error mcpscope raised, carrying the error for the wires. */
export function errorFrame(id: JsonRpcId, err: McpscopeError): Frame {
  const frame = syntheticFrame(errorResponse(id, err));
  frame.error = err;
  return frame;
}

export interface LineHandler {
  onLine(line: Buffer): void;
  /** A line longer than the cap: its first bytes (for id sniffing) and its full length once known. */
  onOversize(prefix: Buffer, totalBytes: number): void;
}

/**
 * Splits a byte stream into newline-delimited lines with a hard cap per line. Bytes past the cap are
 * discarded until the next newline (memory stays bounded), then the stream resynchronises.
 */
export class LineSplitter {
  readonly #maxBytes: number;
  readonly #handler: LineHandler;
  #parts: Buffer[] = [];
  #length = 0;
  /** While discarding an oversized line: its prefix and the bytes seen so far. */
  #oversizePrefix: Buffer | null = null;
  #oversizeBytes = 0;

  constructor(maxBytes: number, handler: LineHandler) {
    this.#maxBytes = maxBytes;
    this.#handler = handler;
  }

  push(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(NEWLINE, start);
    while (nl !== -1) {
      this.#finish(chunk.subarray(start, nl));
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) this.#append(chunk.subarray(start));
  }

  /** Bytes buffered for an incomplete line. */
  get bufferedBytes(): number {
    return this.#length;
  }

  #append(part: Buffer): void {
    if (this.#oversizePrefix) {
      this.#oversizeBytes += part.length;
      return;
    }
    if (this.#length + part.length > this.#maxBytes) {
      const whole = Buffer.concat([...this.#parts, part]);
      this.#oversizePrefix = Buffer.from(whole.subarray(0, ID_SNIFF_BYTES));
      this.#oversizeBytes = whole.length;
      this.#parts = [];
      this.#length = 0;
      return;
    }
    this.#parts.push(part);
    this.#length += part.length;
  }

  #finish(tail: Buffer): void {
    if (this.#oversizePrefix) {
      const prefix = this.#oversizePrefix;
      const total = this.#oversizeBytes + tail.length;
      this.#oversizePrefix = null;
      this.#oversizeBytes = 0;
      this.#handler.onOversize(prefix, total);
      return;
    }
    let line: Buffer;
    if (this.#length === 0) {
      line = tail;
    } else {
      this.#parts.push(tail);
      line = Buffer.concat(this.#parts, this.#length + tail.length);
      this.#parts = [];
      this.#length = 0;
    }
    // Tolerate CRLF and blank lines.
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (line.length === 0) return;
    if (line.length > this.#maxBytes) {
      this.#handler.onOversize(Buffer.from(line.subarray(0, ID_SNIFF_BYTES)), line.length);
      return;
    }
    this.#handler.onLine(line);
  }
}
