import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { request, type Dispatcher } from 'undici';
import { McpscopeError, errorMessage, type JsonRpcId } from '../jsonrpc/errors.js';
import { parseFrame, type Frame } from '../jsonrpc/framing.js';
import { HEADER_PROTOCOL_VERSION, HEADER_SESSION_ID } from '../protocol.js';
import { SseDataReader } from './sseReader.js';
import type { Transport } from './transport.js';

/** How long a DELETE of the upstream session may take on close (2 s). */
export const DELETE_TIMEOUT_MS = 2_000;
/** How much of an upstream HTTP error body is quoted in the error (500 chars). */
const ERROR_BODY_CHARS = 500;

export interface StreamableHttpClientTransportOptions {
  url: string;
  /** Extra headers for every upstream request (e.g. the upstream's own credentials). Never the client's. */
  headers?: Record<string, string>;
  maxMessageBytes: number;
  dispatcher: Dispatcher;
  logger: Logger;
}

/**
 * Outbound Streamable HTTP over undici: one POST per client message, JSON or SSE answers parsed into frames,
 * the upstream's Mcp-Session-Id kept, and the standalone GET stream opened once the session is initialized.
 */
export class StreamableHttpClientTransport implements Transport {
  readonly kind = 'streamable-http' as const;
  readonly #options: StreamableHttpClientTransportOptions;
  readonly #abort = new AbortController();
  #upstreamSessionId: string | undefined;
  #protocolVersion: string | undefined;
  #initializeId: JsonRpcId | undefined;
  #closed = false;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;

  constructor(options: StreamableHttpClientTransportOptions) {
    this.#options = options;
  }

  get upstreamSessionId(): string | undefined {
    return this.#upstreamSessionId;
  }

  async start(): Promise<void> {}

  #headers(): Record<string, string> {
    const headers: Record<string, string> = {
      ...this.#options.headers,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    if (this.#upstreamSessionId) headers[HEADER_SESSION_ID] = this.#upstreamSessionId;
    if (this.#protocolVersion) headers[HEADER_PROTOCOL_VERSION] = this.#protocolVersion;
    return headers;
  }

  send(frame: Frame): void {
    if (this.#closed) return;
    if (frame.method === 'initialize' && frame.kind === 'request') this.#initializeId = frame.id;
    this.#post(frame).catch((err: unknown) => this.#failed(frame, err));
  }

  #failed(frame: Frame, err: unknown): void {
    if (this.#closed) return;
    const e =
      err instanceof McpscopeError
        ? err
        : new McpscopeError(
            'UPSTREAM_UNREACHABLE',
            `upstream ${this.#options.url} could not be reached: ${errorMessage(err)}; check that it is running`,
            { cause: err },
          );
    if (frame.kind === 'request' && e.details?.id === undefined) {
      this.onerror?.(
        new McpscopeError(e.code, e.message, { cause: e.cause, details: { ...e.details, id: frame.id } }),
      );
    } else {
      this.onerror?.(e);
    }
  }

  async #post(frame: Frame): Promise<void> {
    const headers = this.#headers();
    // Trace context travels in params._meta; HTTP servers that only read the header get it there too.
    const traceparent = (frame.msg as { params?: { _meta?: { traceparent?: unknown } } }).params?._meta
      ?.traceparent;
    if (typeof traceparent === 'string') headers.traceparent = traceparent;
    const res = await request(this.#options.url, {
      method: 'POST',
      headers,
      body: frame.raw,
      dispatcher: this.#options.dispatcher,
      signal: this.#abort.signal,
    });
    const sessionId = res.headers[HEADER_SESSION_ID];
    if (typeof sessionId === 'string' && this.#upstreamSessionId === undefined)
      this.#upstreamSessionId = sessionId;
    if (res.statusCode === 202) {
      await res.body.dump();
      if (frame.method === 'notifications/initialized') void this.#listen();
      return;
    }
    if (res.statusCode >= 400) {
      const text = (await res.body.text()).slice(0, ERROR_BODY_CHARS);
      const expired = res.statusCode === 404 && this.#upstreamSessionId !== undefined;
      const err = new McpscopeError(
        expired ? 'SESSION_CLOSED' : 'UPSTREAM_HTTP_ERROR',
        expired
          ? `upstream ${this.#options.url} no longer knows this session (HTTP 404); start a new session`
          : `upstream ${this.#options.url} answered HTTP ${res.statusCode}: ${text}`,
        { details: { id: frame.kind === 'request' ? frame.id : undefined, status: res.statusCode } },
      );
      this.onerror?.(err);
      if (expired) this.onclose?.(err);
      return;
    }
    const type = String(res.headers['content-type'] ?? '');
    if (type.startsWith('text/event-stream')) {
      await this.#readSse(res.body);
    } else if (type.startsWith('application/json')) {
      const body = Buffer.from(await res.body.arrayBuffer());
      this.#receive(body);
    } else {
      await res.body.dump();
      if (frame.kind === 'request') {
        throw new McpscopeError('UPSTREAM_PROTOCOL_ERROR', `upstream answered with Content-Type "${type}"`);
      }
    }
  }

  #receive(raw: Buffer): void {
    let frame: Frame;
    try {
      frame = parseFrame(raw, this.#options.maxMessageBytes, performance.now());
    } catch (err) {
      const e = err as McpscopeError;
      this.onerror?.(
        new McpscopeError('UPSTREAM_PROTOCOL_ERROR', `upstream sent an unacceptable message: ${e.message}`, {
          cause: e,
          details: e.details,
        }),
      );
      return;
    }
    if (frame.kind === 'response' && frame.id === this.#initializeId) {
      const version = (frame.msg as { result?: { protocolVersion?: unknown } }).result?.protocolVersion;
      if (typeof version === 'string') this.#protocolVersion = version;
    }
    this.onmessage?.(frame);
  }

  async #readSse(body: AsyncIterable<Buffer>): Promise<void> {
    const reader = new SseDataReader((data) => this.#receive(Buffer.from(data)));
    for await (const chunk of body) reader.push(chunk);
    reader.end();
  }

  /** The standalone GET stream for server-initiated messages; 405 means the upstream has none. */
  async #listen(): Promise<void> {
    try {
      const headers = this.#headers();
      headers.accept = 'text/event-stream';
      delete headers['content-type'];
      const res = await request(this.#options.url, {
        method: 'GET',
        headers,
        dispatcher: this.#options.dispatcher,
        signal: this.#abort.signal,
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        return;
      }
      await this.#readSse(res.body);
    } catch (err) {
      if (!this.#closed) this.#options.logger.debug({ err: errorMessage(err) }, 'upstream GET stream ended');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    if (this.#upstreamSessionId) {
      try {
        const res = await request(this.#options.url, {
          method: 'DELETE',
          headers: { ...this.#options.headers, [HEADER_SESSION_ID]: this.#upstreamSessionId },
          dispatcher: this.#options.dispatcher,
          signal: AbortSignal.timeout(DELETE_TIMEOUT_MS),
        });
        await res.body.dump();
      } catch {
        // best effort: the upstream expires it on its own
      }
    }
    this.onclose?.();
  }
}
