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
  const report = (status: number, headers: Dispatcher.ResponseData['headers'], error?: string): void => {
    owner.onevent?.(
      exchangeEvent(
        'upstream',
        options.method,
        url.pathname,
        (options.headers ?? {}) as Record<string, string>,
        status,
        headers,
        startedAt,
        performance.now(),
        undefined,
        error,
      ),
    );
  };
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, options);
  } catch (err) {
    report(0, {}, errorMessage(err));
    throw err;
  }
  report(res.statusCode, res.headers);
  return res;
}
