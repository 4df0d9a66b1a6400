import { performance } from 'node:perf_hooks';
import type { Counter, Histogram } from 'prom-client';
import { upstreamFailure, type McpscopeError } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';
import type { Direction, ObserverStage, Verdict } from '../pipeline/stage.js';
import type { Session } from '../session/session.js';
import type { TransportKind } from '../transport/transport.js';
import type { Metrics } from './metrics.js';

/** Prometheus label for a transport kind. */
export function transportLabel(kind: TransportKind): string {
  return kind === 'streamable-http' ? 'streamable_http' : kind;
}

const ERROR_CLASSES: Readonly<Record<number, string>> = {
  [-32700]: 'parse_error',
  [-32600]: 'invalid_request',
  [-32601]: 'method_not_found',
  [-32602]: 'invalid_params',
  [-32603]: 'internal_error',
  [-32000]: 'connection_closed',
  [-32001]: 'timeout',
  [-32002]: 'resource_not_found',
};

/** A bounded status label for an answer: ok, or the class of its JSON-RPC error code. */
export function errorClass(frame: Frame): string {
  const code = (frame.msg as { error?: { code?: unknown } }).error?.code;
  return (typeof code === 'number' && ERROR_CLASSES[code]) || 'error';
}

type KindCounters = Record<Frame['kind'], Counter.Internal>;

interface MethodChildren {
  requestSize: Histogram.Internal<string>;
  responseSize: Histogram.Internal<string>;
  byStatus: Map<string, { count: Counter.Internal; duration: Histogram.Internal<string> }>;
}

interface ToolChildren {
  duration: Histogram.Internal<string>;
  byStatus: Map<string, Counter.Internal>;
}

/**
 * The metrics observer: counts and times every message and session from what the Session already paired
 * (frame.related), so it keeps no request map of its own; label children are bound once and cached.
 */
export class MetricsStage implements ObserverStage {
  readonly kind = 'observer' as const;
  readonly name = 'metrics';
  readonly #m: Metrics;
  readonly #upstream: string;
  readonly #overhead;
  readonly #messages: Record<Direction, KindCounters>;
  /** Per transport label, per method (both bounded by the label guards). */
  readonly #methods = new Map<string, Map<string, MethodChildren>>();
  readonly #tools = new Map<string, ToolChildren>();

  constructor(metrics: Metrics, upstream: string) {
    this.#m = metrics;
    this.#upstream = upstream;
    this.#overhead = metrics.proxyOverhead.labels(upstream);
    const kinds = (direction: string): KindCounters => ({
      request: metrics.messages.labels(direction, 'request'),
      notification: metrics.messages.labels(direction, 'notification'),
      response: metrics.messages.labels(direction, 'response'),
      error: metrics.messages.labels(direction, 'error'),
    });
    this.#messages = {
      'client-to-server': kinds('client_to_server'),
      'server-to-client': kinds('server_to_client'),
    };
  }

  observe(frame: Frame, session: Session, direction: Direction, verdict: Verdict): void {
    const m = this.#m;
    this.#messages[direction][frame.kind].inc();
    if (verdict.action === 'drop') {
      const dir = direction === 'client-to-server' ? 'client_to_server' : 'server_to_client';
      m.messagesDropped.labels(dir, m.dropReasons.value(verdict.reason)).inc();
    }
    if (frame.synthetic) m.serialize.observe(frame.codecMs / 1000);
    else {
      m.deserialize.observe(frame.codecMs / 1000);
      if (verdict.action !== 'drop') this.#overhead.observe((performance.now() - frame.receivedAt) / 1000);
    }
    const transport = transportLabel(session.inbound.kind);
    if (direction === 'client-to-server') {
      if (frame.kind === 'request') {
        this.#method(transport, m.methods.value(frame.method as string)).requestSize.observe(
          frame.raw.length,
        );
      }
      // A stage answered on the server's behalf: that answer counts like any other.
      if (verdict.action === 'reply') this.#answer(verdict.frame, transport);
      return;
    }
    // A dropped answer never reached the client: the request is not answered (yet).
    if ((frame.kind === 'response' || frame.kind === 'error') && verdict.action !== 'drop')
      this.#answer(frame, transport);
  }

  #answer(frame: Frame, transport: string): void {
    const related = frame.related;
    if (!related) return;
    const m = this.#m;
    const seconds = (frame.receivedAt - related.startedAt) / 1000;
    const status = frame.kind === 'response' ? 'ok' : errorClass(frame);
    const method = m.methods.value(related.method);
    const children = this.#method(transport, method);
    // Label children are made once and kept: prom-client's labels() hashes the values on every call.
    let byStatus = children.byStatus.get(status);
    if (!byStatus) {
      byStatus = {
        count: m.requests.labels(method, transport, status),
        duration: m.requestDuration.labels(method, transport, status),
      };
      children.byStatus.set(status, byStatus);
    }
    byStatus.count.inc();
    byStatus.duration.observe(seconds);
    children.responseSize.observe(frame.raw.length);
    if (related.method === 'tools/call') this.#toolCall(frame, related.target ?? 'unknown', status, seconds);
  }

  #toolCall(frame: Frame, target: string, status: string, seconds: number): void {
    const m = this.#m;
    const tool = m.tools.value(target);
    let t = this.#tools.get(tool);
    if (!t) {
      t = { duration: m.toolCallDuration.labels(tool), byStatus: new Map() };
      this.#tools.set(tool, t);
    }
    const isError =
      frame.kind === 'response' && (frame.msg as { result?: { isError?: unknown } }).result?.isError === true;
    const toolStatus = isError ? 'error' : status;
    let counter = t.byStatus.get(toolStatus);
    if (!counter) {
      counter = m.toolCalls.labels(tool, toolStatus);
      t.byStatus.set(toolStatus, counter);
    }
    counter.inc();
    t.duration.observe(seconds);
  }

  #method(transport: string, method: string): MethodChildren {
    let perTransport = this.#methods.get(transport);
    if (!perTransport) {
      perTransport = new Map();
      this.#methods.set(transport, perTransport);
    }
    let children = perTransport.get(method);
    if (!children) {
      children = {
        requestSize: this.#m.requestSize.labels(method, transport),
        responseSize: this.#m.responseSize.labels(method, transport),
        byStatus: new Map(),
      };
      perTransport.set(method, children);
    }
    return children;
  }

  onSessionOpen(session: Session): void {
    const t = transportLabel(session.inbound.kind);
    this.#m.activeSessions.labels(t).inc();
    this.#m.sessionsTotal.labels(t).inc();
  }

  onSessionClose(session: Session): void {
    this.#m.activeSessions.labels(transportLabel(session.inbound.kind)).dec();
    this.#m.sessionDuration.observe((Date.now() - session.startedAt) / 1000);
  }

  onError(_session: Session, err: McpscopeError): void {
    const type = upstreamFailure(err);
    if (type) this.#m.upstreamErrors.labels(this.#upstream, type).inc();
    else this.#m.errors.labels(err.code).inc();
  }
}
