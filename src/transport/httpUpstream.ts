import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import { errorMessage } from '../jsonrpc/errors.js';
import { StreamableHttpClientTransport } from './streamableHttpClient.js';
import type { Transport } from './transport.js';

/** How long a readiness probe waits for a remote upstream to answer (2 s). */
export const READY_PROBE_TIMEOUT_MS = 2_000;

export interface HttpUpstreamOptions {
  url: string;
  headers?: Record<string, string>;
  maxMessageBytes: number;
  logger: Logger;
}

/**
 * Everything a remote Streamable HTTP upstream needs: one undici dispatcher shared by its sessions, a
 * transport per session, a readiness probe. Loaded only when an upstream URL is configured (undici costs a
 * stdio-only proxy about 11 MB of memory for nothing).
 */
export class HttpUpstream {
  readonly #options: HttpUpstreamOptions;
  // No cap on connections per upstream: every session holds one for its GET stream.
  readonly #dispatcher = new Agent({ keepAliveTimeout: 10_000 });

  constructor(options: HttpUpstreamOptions) {
    this.#options = options;
  }

  create(): Transport {
    const { url, headers, maxMessageBytes, logger } = this.#options;
    return new StreamableHttpClientTransport({
      url,
      headers,
      maxMessageBytes,
      dispatcher: this.#dispatcher,
      logger,
    });
  }

  /** Does the upstream answer HTTP at all? Any status counts: it is reachable. */
  async probe(): Promise<{ ready: boolean; reason: string }> {
    const { url } = this.#options;
    try {
      const res = await request(url, {
        method: 'GET',
        headers: { accept: 'text/event-stream' },
        dispatcher: this.#dispatcher,
        signal: AbortSignal.timeout(READY_PROBE_TIMEOUT_MS),
      });
      await res.body.dump();
      return { ready: true, reason: `upstream ${url} answered (HTTP ${res.statusCode})` };
    } catch (err) {
      return { ready: false, reason: `upstream ${url} is unreachable: ${errorMessage(err)}` };
    }
  }

  async close(): Promise<void> {
    await this.#dispatcher.close().catch(() => undefined);
  }
}
