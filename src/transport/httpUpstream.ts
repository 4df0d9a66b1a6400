import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import { errorMessage } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';
import { DetectingClientTransport } from './detectingClient.js';
import { LegacySseClientTransport } from './legacySseClient.js';
import { StreamableHttpClientTransport } from './streamableHttpClient.js';
import type { Transport, TransportKind } from './transport.js';
import { WebSocketClientTransport } from './webSocketClient.js';

const ignoreError = (): void => undefined;

/** How long a readiness probe waits for a remote upstream to answer (2 s). */
export const READY_PROBE_TIMEOUT_MS = 2_000;

/** Which wire a remote upstream speaks; 'auto' detects Streamable HTTP vs legacy SSE (ws:// means websocket). */
export type UpstreamTransport = 'auto' | 'streamable-http' | 'sse' | 'websocket';

export interface HttpUpstreamOptions {
  url: string;
  headers?: Record<string, string>;
  /** Default 'auto'. */
  transport?: UpstreamTransport;
  maxMessageBytes: number;
  logger: Logger;
}

/** The wire a URL implies: ws:// and wss:// are WebSocket; anything else is decided by `requested`. */
export function impliedTransport(url: string, requested: UpstreamTransport = 'auto'): UpstreamTransport {
  const protocol = new URL(url).protocol;
  return protocol === 'ws:' || protocol === 'wss:' ? 'websocket' : requested;
}

/**
 * Everything a remote upstream needs: one undici dispatcher shared by its sessions, a transport per session
 * (Streamable HTTP, legacy HTTP+SSE or WebSocket; detected on the first session when not forced), a
 * readiness probe. Loaded only when an upstream URL is configured (undici costs a stdio-only proxy about
 * 11 MB of memory for nothing).
 */
export class HttpUpstream {
  readonly #options: HttpUpstreamOptions;
  // No cap on connections per upstream: every session holds one for its GET stream.
  readonly #dispatcher = new Agent({ keepAliveTimeout: 10_000 });
  #transport: UpstreamTransport;

  constructor(options: HttpUpstreamOptions) {
    this.#options = options;
    this.#transport = impliedTransport(options.url, options.transport);
  }

  /** The wire in use: 'auto' until the first session has found out. */
  get transport(): UpstreamTransport {
    return this.#transport;
  }

  create(): Transport {
    switch (this.#transport) {
      case 'websocket':
        return this.#webSocket();
      case 'sse':
        return this.#legacy();
      case 'streamable-http':
        return this.#streamable();
      case 'auto':
        return new DetectingClientTransport({
          streamable: (hint) => this.#streamable(hint),
          legacy: () => this.#legacy(),
          detected: (kind: TransportKind) => this.#detected(kind),
        });
    }
  }

  #detected(kind: TransportKind): void {
    if (this.#transport !== 'auto' || (kind !== 'sse' && kind !== 'streamable-http')) return;
    this.#transport = kind;
    this.#options.logger.info({ url: this.#options.url, transport: kind }, 'upstream transport detected');
  }

  #streamable(hint?: (initialize: Frame, status: number) => void): Transport {
    const { url, headers, maxMessageBytes, logger } = this.#options;
    return new StreamableHttpClientTransport({
      url,
      headers,
      maxMessageBytes,
      dispatcher: this.#dispatcher,
      logger,
      onLegacyHint: hint,
    });
  }

  #legacy(): Transport {
    const { url, headers, maxMessageBytes, logger } = this.#options;
    return new LegacySseClientTransport({
      url,
      headers,
      maxMessageBytes,
      dispatcher: this.#dispatcher,
      logger,
    });
  }

  #webSocket(): Transport {
    const { url, headers, maxMessageBytes, logger } = this.#options;
    return new WebSocketClientTransport({ url, headers, maxMessageBytes, logger });
  }

  /** Does the upstream answer HTTP at all? Any status counts: it is reachable. */
  async probe(): Promise<{ ready: boolean; reason: string }> {
    const { url } = this.#options;
    // A WebSocket endpoint answers a plain GET too (usually 426 Upgrade Required).
    const target = url.replace(/^ws(s?):/, 'http$1:');
    try {
      const res = await request(target, {
        method: 'GET',
        headers: { accept: 'text/event-stream' },
        dispatcher: this.#dispatcher,
        signal: AbortSignal.timeout(READY_PROBE_TIMEOUT_MS),
      });
      // A legacy SSE endpoint answers with a stream that never ends: stop reading at once. undici destroys
      // an unread body with an 'error' (UND_ERR_ABORTED); with no listener that would end the process.
      res.body.once('error', ignoreError);
      res.body.destroy();
      return { ready: true, reason: `upstream ${url} answered (HTTP ${res.statusCode})` };
    } catch (err) {
      return { ready: false, reason: `upstream ${url} is unreachable: ${errorMessage(err)}` };
    }
  }

  async close(): Promise<void> {
    await this.#dispatcher.close().catch(() => undefined);
  }
}
