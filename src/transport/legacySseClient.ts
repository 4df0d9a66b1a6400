import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { McpscopeError, errorMessage, upstreamProtocolError } from '../jsonrpc/errors.js';
import { parseFrame, type Frame } from '../jsonrpc/framing.js';
import type { EventSink } from '../session/events.js';
import { UpstreamWireEvents } from './wireEvents.js';
import { HEADER_LAST_EVENT_ID } from '../protocol.js';
import { DeliveredEvents, SSE_RECONNECT_MAX_ATTEMPTS, reconnectDelayMs, sleep } from './reconnect.js';
import { SseDataReader } from './sseReader.js';
import { FlowGate } from './flowGate.js';
import { upstreamRequest } from './upstreamRequest.js';
import type { Transport } from './transport.js';

/** How long the upstream may take to send its `endpoint` event after the GET (10 s). */
export const ENDPOINT_TIMEOUT_MS = 10_000;
/** How much of an upstream HTTP error body is quoted in the error (500 chars). */
const ERROR_BODY_CHARS = 500;

export interface LegacySseClientTransportOptions {
  /** The SSE URL (e.g. http://host/sse). */
  url: string;
  /** Extra headers for every upstream request. Never the client's. */
  headers?: Record<string, string>;
  maxMessageBytes: number;
  dispatcher: Dispatcher;
  logger: Logger;
}

/**
 * Outbound legacy HTTP+SSE (protocol revision 2024-11-05): a GET opens the server's event stream, whose
 * first `endpoint` event names the URL that client messages are POSTed to; every answer comes down the
 * stream. A dropped stream is reconnected with backoff (and `Last-Event-ID` when the server numbers its
 * events); if the server then names a new endpoint, its session is gone and ours closes with
 * UPSTREAM_STREAM_LOST.
 */
export class LegacySseClientTransport implements Transport {
  readonly kind = 'sse' as const;
  readonly #options: LegacySseClientTransportOptions;
  readonly #events = new UpstreamWireEvents('sse', this);
  readonly #abort = new AbortController();
  /** Flow control: the upstream stream is not read while the client is behind. */
  readonly #flow = new FlowGate();
  #endpoint: string | undefined;
  #lastEventId: string | undefined;
  #retryMs: number | undefined;
  #delivered: DeliveredEvents | undefined;
  #lastEventAt = 0;
  /** Set while start() waits for the first endpoint event. */
  #endpointWaiter: ((err?: McpscopeError) => void) | undefined;
  #closed = false;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;
  onevent?: EventSink;
  httpExchanges?: boolean;

  constructor(options: LegacySseClientTransportOptions) {
    this.#options = options;
  }

  /** The POST endpoint the upstream named. */
  get endpoint(): string | undefined {
    return this.#endpoint;
  }

  /** Open the stream and wait for the endpoint event. */
  async start(): Promise<void> {
    const res = await this.#open(undefined).catch((err: unknown) => {
      throw new McpscopeError(
        'UPSTREAM_UNREACHABLE',
        `upstream ${this.#options.url} could not be reached: ${errorMessage(err)}; check that it is running`,
        { cause: err },
      );
    });
    if (res.statusCode !== 200 || !isSse(res.headers['content-type'])) {
      const text = (await res.body.text()).slice(0, ERROR_BODY_CHARS);
      throw new McpscopeError(
        'UPSTREAM_HTTP_ERROR',
        `upstream ${this.#options.url} answered the SSE GET with HTTP ${res.statusCode} (${String(res.headers['content-type'] ?? 'no type')}): ${text}; is this a legacy HTTP+SSE endpoint?`,
        { details: { status: res.statusCode } },
      );
    }
    const ready = new Promise<McpscopeError | undefined>((resolve) => {
      const timer = setTimeout(
        () =>
          resolve(
            new McpscopeError(
              'UPSTREAM_PROTOCOL_ERROR',
              `upstream ${this.#options.url} sent no endpoint event within ${ENDPOINT_TIMEOUT_MS} ms; it does not speak the legacy HTTP+SSE transport`,
            ),
          ),
        ENDPOINT_TIMEOUT_MS,
      );
      this.#endpointWaiter = (err) => {
        clearTimeout(timer);
        this.#endpointWaiter = undefined;
        resolve(err);
      };
    });
    void this.#run(res.body);
    const err = await ready;
    if (err) {
      await this.close();
      throw err;
    }
  }

  #open(lastEventId: string | undefined): ReturnType<typeof upstreamRequest> {
    const headers: Record<string, string> = { ...this.#options.headers, accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers[HEADER_LAST_EVENT_ID] = lastEventId;
    return upstreamRequest(
      new URL(this.#options.url),
      { method: 'GET', headers, dispatcher: this.#options.dispatcher, signal: this.#abort.signal },
      this,
    );
  }

  /** Read the stream for as long as it lasts, then reconnect. */
  async #run(body: AsyncIterable<Buffer>): Promise<void> {
    let end = await this.#read(body);
    let failures = 0;
    while (!this.#closed) {
      this.#options.logger.debug({ end }, 'upstream SSE stream ended; reconnecting');
      if (!(await sleep(reconnectDelayMs(failures, this.#retryMs), this.#abort.signal))) return;
      const resuming = this.#lastEventId;
      try {
        const res = await this.#open(resuming);
        if (res.statusCode === 200 && isSse(res.headers['content-type'])) {
          this.#events.reconnect('ok');
          if (resuming !== undefined) this.#events.resumed(true);
          const before = this.#lastEventId;
          end = await this.#read(res.body);
          if (this.#lastEventId !== before) failures = 0;
          else failures++;
          continue;
        }
        await res.body.dump();
        if (resuming !== undefined && res.statusCode >= 400 && res.statusCode < 500) {
          this.#events.resumed(false);
          this.#lastEventId = undefined;
        }
        end = `HTTP ${res.statusCode}`;
      } catch (err) {
        if (this.#closed) return;
        end = errorMessage(err);
      }
      failures++;
      if (failures >= SSE_RECONNECT_MAX_ATTEMPTS) {
        this.#events.reconnect('exhausted');
        this.#lost(
          `the stream from upstream ${this.#options.url} dropped and ${SSE_RECONNECT_MAX_ATTEMPTS} reconnection attempts failed (last: ${end})`,
        );
        return;
      }
      this.#events.reconnect('failed');
    }
  }

  async #read(body: AsyncIterable<Buffer>): Promise<string> {
    const reader = new SseDataReader((data, id) => this.#message(data, id), {
      onOther: (event, data) => {
        if (event === 'endpoint') this.#endpointEvent(data);
      },
      onId: (id) => (this.#lastEventId = id),
      onRetry: (ms) => (this.#retryMs = ms),
    });
    try {
      for await (const chunk of body) {
        reader.push(chunk);
        const gate = this.#flow.gate;
        if (gate) await gate;
      }
    } catch (err) {
      return `dropped: ${errorMessage(err)}`;
    }
    reader.end();
    return 'ended';
  }

  #endpointEvent(data: string): void {
    let url: URL;
    try {
      url = new URL(data.trim(), this.#options.url);
    } catch {
      this.#endpointWaiter?.(
        new McpscopeError(
          'UPSTREAM_PROTOCOL_ERROR',
          `upstream sent an invalid endpoint URL: ${data.slice(0, 200)}`,
        ),
      );
      return;
    }
    // Never POST a client's messages to another origin than the one configured.
    if (url.origin !== new URL(this.#options.url).origin) {
      const err = new McpscopeError(
        'UPSTREAM_PROTOCOL_ERROR',
        `upstream named an endpoint on another origin (${url.origin}); refused`,
      );
      if (this.#endpointWaiter) this.#endpointWaiter(err);
      else this.#lost(err.message);
      return;
    }
    const endpoint = url.href;
    if (this.#endpoint === undefined) {
      this.#endpoint = endpoint;
      this.#endpointWaiter?.();
    } else if (endpoint !== this.#endpoint) {
      this.#lost(
        `upstream ${this.#options.url} started a new session when its stream was reconnected (the old session's state is gone)`,
      );
    }
  }

  #message(data: string, id: string | undefined): void {
    if (id !== undefined) {
      this.#delivered ??= new DeliveredEvents();
      if (this.#delivered.seen(id)) {
        this.#events.deduplicated();
        return;
      }
    }
    const observer = this.#events;
    if (observer.active) {
      const now = performance.now();
      if (this.#lastEventAt > 0) observer.idle((now - this.#lastEventAt) / 1000);
      this.#lastEventAt = now;
    }
    let frame: Frame;
    try {
      frame = parseFrame(Buffer.from(data), this.#options.maxMessageBytes, performance.now());
    } catch (err) {
      const e = err as McpscopeError;
      this.onerror?.(upstreamProtocolError(e));
      return;
    }
    this.onmessage?.(frame);
  }

  #lost(why: string): void {
    if (this.#closed) return;
    const err = new McpscopeError('UPSTREAM_STREAM_LOST', `${why}; the session is closed, start a new one`);
    this.#options.logger.error({ code: err.code }, err.message);
    this.#closed = true;
    this.#abort.abort();
    this.onclose?.(err);
  }

  send(frame: Frame): void {
    if (this.#closed) return;
    this.#post(frame).catch((err: unknown) => {
      if (this.#closed) return;
      const e =
        err instanceof McpscopeError
          ? err
          : new McpscopeError(
              'UPSTREAM_UNREACHABLE',
              `upstream ${this.#options.url} could not be reached: ${errorMessage(err)}; check that it is running`,
              { cause: err },
            );
      this.onerror?.(
        new McpscopeError(e.code, e.message, {
          cause: e.cause,
          details: { ...e.details, id: frame.kind === 'request' ? frame.id : undefined },
        }),
      );
    });
  }

  async #post(frame: Frame): Promise<void> {
    const endpoint = this.#endpoint;
    if (!endpoint)
      throw new McpscopeError('UPSTREAM_PROTOCOL_ERROR', 'the upstream has named no endpoint yet');
    const res = await upstreamRequest(
      new URL(endpoint),
      {
        method: 'POST',
        headers: { ...this.#options.headers, 'content-type': 'application/json' },
        body: frame.raw,
        dispatcher: this.#options.dispatcher,
        signal: this.#abort.signal,
      },
      this,
    );
    if (res.statusCode >= 200 && res.statusCode < 300) {
      await res.body.dump();
      return;
    }
    const text = (await res.body.text()).slice(0, ERROR_BODY_CHARS);
    throw new McpscopeError(
      res.statusCode === 404 ? 'SESSION_CLOSED' : 'UPSTREAM_HTTP_ERROR',
      `upstream ${endpoint} answered HTTP ${res.statusCode}: ${text}`,
      { details: { status: res.statusCode } },
    );
  }

  /** Stop reading the upstream's stream (between chunks) until resume(). */
  pause(): void {
    this.#flow.pause();
  }

  resume(): void {
    this.#flow.resume();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#flow.resume();
    this.#endpointWaiter?.(
      new McpscopeError('SESSION_CLOSED', 'closed before the upstream named its endpoint'),
    );
    this.#abort.abort();
    this.onclose?.();
  }
}

function isSse(type: unknown): boolean {
  return String(type ?? '').startsWith('text/event-stream');
}
