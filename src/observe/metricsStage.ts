import { performance } from 'node:perf_hooks';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { upstreamFailure, type McpscopeError } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';
import type { Direction, ObserverStage, Verdict } from '../pipeline/stage.js';
import type { Session } from '../session/session.js';
import type { SessionEvent } from '../session/events.js';
import { outcomeOf } from '../session/outcome.js';
import type { TransportKind } from '../transport/transport.js';
import type { Metrics } from './metrics.js';
import type { BoundHistogramChild } from './boundMetrics.js';

/**
 * Who answered a request: the upstream, an interception rule, a person at a breakpoint, mcpscope itself
 * (its errors: limits, breaker, timeouts), or a tape standing in for the server. Dashboards and alerts
 * tell real server behaviour from staged behaviour with it.
 */
export type AnswerSource = 'upstream' | 'rule' | 'breakpoint' | 'proxy' | 'tape';

export function sourceOf(frame: Frame, session: Session): AnswerSource {
  const intercept = frame.intercept;
  if (intercept !== undefined) {
    return intercept.action === 'break' || intercept.rule.startsWith('breakpoint:') ? 'breakpoint' : 'rule';
  }
  if (frame.synthetic) return 'proxy';
  return (session.outbound as { replaying?: boolean }).replaying === true ? 'tape' : 'upstream';
}

/** Prometheus label for a transport kind. */
export function transportLabel(kind: TransportKind): string {
  return kind === 'streamable-http' ? 'streamable_http' : kind;
}

type KindCounters = Record<Frame['kind'], Counter.Internal>;

interface MethodChildren {
  requestSize: Histogram.Internal<string>;
  responseSize: Histogram.Internal<string>;
  byStatus: Map<string, { counts: Map<AnswerSource, Counter.Internal>; duration: BoundHistogramChild }>;
}

/** The children of one client wire's stream metrics, bound once. */
interface WireChildren {
  active: Gauge.Internal<string>;
  sent: Counter.Internal;
  idle: Histogram.Internal<string>;
  duration: Histogram.Internal<string>;
}

interface ToolChildren {
  duration: BoundHistogramChild;
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
  readonly #serialize: Histogram.Internal<string>;
  readonly #deserialize: Histogram.Internal<string>;
  readonly #messages: Record<Direction, KindCounters>;
  /** Per transport label, per method (both bounded by the label guards). */
  readonly #methods = new Map<string, Map<string, MethodChildren>>();
  readonly #tools = new Map<string, ToolChildren>();
  readonly #wires = new Map<TransportKind, WireChildren>();
  readonly #upstreamIdle = new Map<TransportKind, Histogram.Internal<string>>();
  /** Behind the gateway: per upstream and status. */
  readonly #gateway = new Map<string, Counter.Internal>();

  constructor(metrics: Metrics, upstream: string) {
    this.#m = metrics;
    this.#upstream = upstream;
    this.#overhead = metrics.proxyOverhead.labels(upstream);
    this.#serialize = metrics.serialize.labels();
    this.#deserialize = metrics.deserialize.labels();
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
    if (frame.synthetic) this.#serialize.observe(frame.codecMs / 1000);
    else {
      this.#deserialize.observe(frame.codecMs / 1000);
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
      if (verdict.action === 'reply') this.#answer(verdict.frame, transport, session);
      return;
    }
    // A dropped answer never reached the client: the request is not answered (yet).
    if ((frame.kind === 'response' || frame.kind === 'error') && verdict.action !== 'drop')
      this.#answer(frame, transport, session);
  }

  #answer(frame: Frame, transport: string, session: Session): void {
    const related = frame.related;
    if (!related) return;
    const m = this.#m;
    const seconds = (frame.receivedAt - related.startedAt) / 1000;
    const outcome = outcomeOf(frame);
    const status = outcome.status;
    const method = m.methods.value(related.method);
    const children = this.#method(transport, method);
    const source = sourceOf(frame, session);
    // Label children are made once and kept: prom-client's labels() hashes the values on every call.
    let byStatus = children.byStatus.get(status);
    if (!byStatus) {
      byStatus = { counts: new Map(), duration: m.requestDuration.child(method, transport, status) };
      children.byStatus.set(status, byStatus);
    }
    let count = byStatus.counts.get(source);
    if (!count) {
      count = m.requests.labels(method, transport, status, source);
      byStatus.counts.set(source, count);
    }
    count.inc();
    // With tracing on, the request's trace becomes the bucket's exemplar.
    const traceId = related.trace?.traceId;
    byStatus.duration.observe(seconds, traceId);
    children.responseSize.observe(frame.raw.length);
    if (related.upstream !== undefined) this.#gatewayAnswer(related.upstream, status);
    if (related.method === 'tools/call')
      this.#toolCall(frame, related.target ?? 'unknown', status, source, seconds, traceId);
  }

  #toolCall(
    frame: Frame,
    target: string,
    status: string,
    source: AnswerSource,
    seconds: number,
    traceId: string | undefined,
  ): void {
    const m = this.#m;
    const tool = m.tools.value(target);
    let t = this.#tools.get(tool);
    if (!t) {
      t = { duration: m.toolCallDuration.child(tool), byStatus: new Map() };
      this.#tools.set(tool, t);
    }
    // A tool that reported isError answered 'ok' on the wire, but failed.
    const toolStatus = outcomeOf(frame).failed && frame.kind === 'response' ? 'error' : status;
    const key = `${toolStatus}\0${source}`;
    let counter = t.byStatus.get(key);
    if (!counter) {
      counter = m.toolCalls.labels(tool, toolStatus, source);
      t.byStatus.set(key, counter);
    }
    counter.inc();
    t.duration.observe(seconds, traceId);
  }

  #gatewayAnswer(upstream: string, status: string): void {
    const key = `${upstream}\0${status}`;
    let counter = this.#gateway.get(key);
    if (!counter) {
      counter = this.#m.gatewayRequests.labels(upstream, status);
      this.#gateway.set(key, counter);
    }
    counter.inc();
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

  /** Everything the wires and the process manager report: the metrics that only they can see. */
  onEvent(_session: Session, event: SessionEvent): void {
    const m = this.#m;
    switch (event.type) {
      case 'stream-opened': {
        this.#wire(event.wire).active.inc();
        m.streamConnections.labels(transportLabel(event.wire), event.stream).inc();
        return;
      }
      case 'stream-closed': {
        const wire = this.#wire(event.wire);
        wire.active.dec();
        wire.duration.observe(event.seconds);
        return;
      }
      case 'stream-sent': {
        const wire = this.#wire(event.wire);
        wire.sent.inc();
        if (event.idleSeconds >= 0) wire.idle.observe(event.idleSeconds);
        return;
      }
      case 'stream-resumed':
        m.sseResumptions.labels(event.ok ? 'ok' : 'unknown_event').inc();
        return;
      case 'undelivered':
        m.streamDropped.labels(transportLabel(event.wire), event.reason).inc();
        return;
      case 'backpressure':
        m.streamBackpressure.labels(transportLabel(event.wire), event.action).inc();
        return;
      case 'upstream-reconnect':
        m.sseReconnects.labels(event.result).inc();
        return;
      case 'upstream-resumed':
        m.sseResumptions.labels(event.ok ? 'upstream_ok' : 'upstream_rejected').inc();
        return;
      case 'upstream-deduplicated':
        m.sseDeduplicated.inc();
        return;
      case 'upstream-idle': {
        let idle = this.#upstreamIdle.get(event.wire);
        if (!idle) {
          idle = m.streamIdle.labels(`upstream_${transportLabel(event.wire)}`);
          this.#upstreamIdle.set(event.wire, idle);
        }
        idle.observe(event.seconds);
        return;
      }
      case 'process-started':
        m.transportConnect.labels('stdio').observe(event.spawnSeconds);
        return;
      case 'process-exited':
        m.processLifetime.labels(event.crashed ? 'crashed' : 'stopped').observe(event.lifetimeSeconds);
        return;
      case 'process-stopped':
        m.processShutdowns.labels('server', event.result).inc();
        m.processShutdownSeconds.labels('server').observe(event.seconds);
        m.transportTransfer.labels('stdio', 'close').observe(event.seconds);
        return;
      case 'process-restarted':
        m.processRestarts.inc();
        return;
      case 'session-expired':
        m.sessionsExpired.labels(event.reason).inc();
        if (event.reason === 'evicted') m.processesEvicted.inc();
        return;
      case 'gateway':
        if (event.state === 'missing') m.gatewayMissing.labels(event.upstream).inc();
        else m.gatewayUpstreamUp.labels(event.upstream).set(event.state === 'opened' ? 1 : 0);
        return;
      case 'bridge':
        // The probe is not a translation; neither is anything said when both sides share an era.
        if (event.bridge !== 'none' && event.translation !== 'probe') {
          m.bridgeTranslations
            .labels(event.bridge === 'to-modern' ? 'to_modern' : 'to_legacy', event.translation)
            .inc();
        }
        return;
      case 'replay-fallback':
        m.tapeReplayFallbacks
          .labels(
            m.methods.value(event.method),
            event.method === 'tools/call' && event.target !== undefined ? m.tools.value(event.target) : '',
          )
          .inc();
        return;
      default:
        return;
    }
  }

  #wire(kind: TransportKind): WireChildren {
    let wire = this.#wires.get(kind);
    if (!wire) {
      const label = transportLabel(kind);
      const m = this.#m;
      wire = {
        active: m.streamActive.labels(label),
        sent: m.streamSent.labels(label),
        idle: m.streamIdle.labels(label),
        duration: m.streamDuration.labels(label),
      };
      this.#wires.set(kind, wire);
    }
    return wire;
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
    // Behind the gateway, the error names its upstream.
    const upstream = err.details?.upstream;
    if (type)
      this.#m.upstreamErrors.labels(typeof upstream === 'string' ? upstream : this.#upstream, type).inc();
    else this.#m.errors.labels(err.code).inc();
  }
}
