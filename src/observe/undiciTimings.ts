import diagnostics from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { Metrics } from './metrics.js';

const TRANSPORT = 'streamable_http';

interface RequestLike {
  origin?: unknown;
  method?: unknown;
}

/**
 * Upstream HTTP timings from undici's diagnostics channels, so no code in the transport pays for them:
 * connect (TCP/TLS), send (request start → body sent), first byte (start → headers), receive (headers →
 * end) and close (the DELETE that ends an upstream session). Only requests to `origins` are counted.
 * Returns a function that unsubscribes.
 */
export function observeUndici(metrics: Metrics, origins: ReadonlySet<string>): () => void {
  const started = new WeakMap<object, number>();
  const headersAt = new WeakMap<object, number>();
  const connecting = new WeakMap<object, number>();
  const connect = metrics.transportConnect.labels(TRANSPORT);
  const firstByte = metrics.transportFirstByte.labels(TRANSPORT);
  const send = metrics.transportTransfer.labels(TRANSPORT, 'send');
  const receive = metrics.transportTransfer.labels(TRANSPORT, 'receive');
  const close = metrics.transportTransfer.labels(TRANSPORT, 'close');
  const ours = (r: RequestLike): boolean => typeof r.origin === 'string' && origins.has(r.origin);

  const handlers: Record<string, (message: unknown) => void> = {
    'undici:request:create': (msg) => {
      const { request } = msg as { request: RequestLike };
      if (ours(request)) started.set(request, performance.now());
    },
    'undici:request:bodySent': (msg) => {
      const { request } = msg as { request: object };
      const t0 = started.get(request);
      if (t0 !== undefined) send.observe((performance.now() - t0) / 1000);
    },
    'undici:request:headers': (msg) => {
      const { request } = msg as { request: object };
      const t0 = started.get(request);
      if (t0 === undefined) return;
      const now = performance.now();
      headersAt.set(request, now);
      firstByte.observe((now - t0) / 1000);
    },
    'undici:request:trailers': (msg) => {
      const { request } = msg as { request: RequestLike & object };
      const t0 = started.get(request);
      const t1 = headersAt.get(request);
      if (t0 === undefined || t1 === undefined) return;
      const now = performance.now();
      if (request.method === 'DELETE') close.observe((now - t0) / 1000);
      else receive.observe((now - t1) / 1000);
    },
    // undici publishes a fresh connectParams object on each channel; the connector is the stable key.
    'undici:client:beforeConnect': (msg) => {
      const { connectParams, connector } = msg as {
        connectParams: { protocol?: string; host?: string };
        connector: object;
      };
      const origin = `${connectParams.protocol ?? ''}//${connectParams.host ?? ''}`;
      if (origins.has(origin)) connecting.set(connector, performance.now());
    },
    'undici:client:connected': (msg) => {
      const { connector } = msg as { connector: object };
      const t0 = connecting.get(connector);
      if (t0 === undefined) return;
      connecting.delete(connector);
      connect.observe((performance.now() - t0) / 1000);
    },
  };
  for (const [name, fn] of Object.entries(handlers)) diagnostics.subscribe(name, fn);
  return () => {
    for (const [name, fn] of Object.entries(handlers)) diagnostics.unsubscribe(name, fn);
  };
}
