import { performance } from 'node:perf_hooks';
import { request, type Dispatcher } from 'undici';
import { errorMessage } from '../jsonrpc/errors.js';
import type { EventSink } from '../session/events.js';
import { exchangeEvent } from './exchange.js';

type RequestOptions = { dispatcher: Dispatcher } & Omit<Dispatcher.RequestOptions, 'origin' | 'path'>;

/** An upstream client transport, as far as reporting its requests goes (the Session sets both). */
interface Reporter {
  onevent?: EventSink;
  httpExchanges?: boolean;
}

/**
 * undici's `request()` to an HTTP upstream, reported as an `http` event of the session (side `upstream`)
 * when its response's headers arrive, or when it fails (status 0 and the error), if the session asks for
 * exchanges; otherwise exactly `request()`.
 */
export async function upstreamRequest(
  url: URL,
  options: RequestOptions,
  owner: Reporter,
): Promise<Dispatcher.ResponseData> {
  if (owner.httpExchanges !== true) return request(url, options);
  const startedAt = performance.now();
  const method = options.method;
  const headers = (options.headers ?? {}) as Record<string, string>;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, options);
  } catch (err) {
    owner.onevent?.(
      exchangeEvent(
        'upstream',
        method,
        url.pathname,
        headers,
        0,
        {},
        startedAt,
        performance.now(),
        undefined,
        errorMessage(err),
      ),
    );
    throw err;
  }
  owner.onevent?.(
    exchangeEvent(
      'upstream',
      method,
      url.pathname,
      headers,
      res.statusCode,
      res.headers,
      startedAt,
      performance.now(),
    ),
  );
  return res;
}
