import { performance } from 'node:perf_hooks';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import type { McpscopeError } from '../jsonrpc/errors.js';
import { outcomeOf } from '../session/outcome.js';
import { TRANSIENT_EVENTS, type SessionEvent } from '../session/events.js';
import { withMessage, type Frame, type PendingRequest } from '../jsonrpc/framing.js';
import {
  FORWARD,
  type Direction,
  type ObserverStage,
  type TransformerStage,
  type Verdict,
} from '../pipeline/stage.js';
import type { Session } from '../session/session.js';
import { VERSION } from '../version.js';

/** How often finished spans are sent (ms). */
export const EXPORT_DELAY_MS = 1_000;

export interface TracingOptions {
  /** OTLP/HTTP base URL, e.g. http://127.0.0.1:4318 (spans go to `/v1/traces`). */
  endpoint: string;
  /** Share of new traces sampled, 0–1 (a client's sampled parent is always followed). Default 1. */
  sampleRatio?: number;
  /** `service.name`. Default 'mcpscope'. */
  serviceName?: string;
}

type Meta = { traceparent?: unknown; tracestate?: unknown };
type WithMeta = { params?: { _meta?: Meta } & Record<string, unknown> } & Record<string, unknown>;

const metaGetter: TextMapGetter<Meta> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const v = carrier[key as keyof Meta];
    return typeof v === 'string' ? v : undefined;
  },
};

/** Wall-clock milliseconds for a performance.now() reading (OTel takes epoch times). */
const epochMs = (perfNow: number): number => performance.timeOrigin + perfNow;

/**
 * OpenTelemetry traces: a span per session (`mcp.session`) and per request (`mcp.request`), with a child
 * span for the upstream round trip and one for parsing. An incoming `params._meta.traceparent` becomes the
 * request span's parent, and ours is written into the request sent upstream, so the client's, mcpscope's
 * and the server's spans join one trace. Two stages share this object: a transformer that starts request
 * spans and propagates their context (which needs a rewrite), and an observer that ends them.
 */
export class Tracing {
  readonly #provider: BasicTracerProvider;
  readonly #tracer: Tracer;
  readonly #propagator = new W3CTraceContextPropagator();
  /** Keyed by the Session's own pairing objects: no request map of our own. */
  readonly #requests = new WeakMap<PendingRequest, { span: Span; forwardedAt: number }>();
  readonly #sessions = new WeakMap<Session, Span>();
  readonly propagate: TransformerStage;
  readonly observe: ObserverStage;

  constructor(options: TracingOptions) {
    const ratio = options.sampleRatio ?? 1;
    this.#provider = new BasicTracerProvider({
      resource: resourceFromAttributes({
        'service.name': options.serviceName ?? 'mcpscope',
        'service.version': VERSION,
      }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }),
      spanProcessors: [
        new BatchSpanProcessor(
          new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/$/, '')}/v1/traces` }),
          { scheduledDelayMillis: EXPORT_DELAY_MS },
        ),
      ],
    });
    this.#tracer = this.#provider.getTracer('mcpscope', VERSION);
    this.propagate = {
      kind: 'transformer',
      name: 'trace-context',
      transform: (frame, session, direction) => this.#startRequest(frame, session, direction),
    };
    this.observe = {
      kind: 'observer',
      name: 'tracing',
      observe: (frame, session, direction, verdict) => this.#observe(frame, session, direction, verdict),
      onSessionOpen: (session) => this.#openSession(session),
      onSessionClose: (session, reason) => this.#closeSession(session, reason),
      onEvent: (session, event) => this.#event(session, event),
    };
  }

  /** What the wires and the process report become events of the session's span (per-message ones aside). */
  #event(session: Session, event: SessionEvent): void {
    if (TRANSIENT_EVENTS.has(event.type)) return;
    const span = this.#sessions.get(session);
    if (!span) return;
    const attributes: Record<string, string | number | boolean> = {};
    for (const [key, value] of Object.entries(event)) {
      if (key === 'type') continue;
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        attributes[`mcp.event.${key}`] = value;
      }
    }
    span.addEvent(`mcp.${event.type}`, attributes);
  }

  #openSession(session: Session): void {
    const span = this.#tracer.startSpan('mcp.session', {
      kind: SpanKind.SERVER,
      attributes: {
        'mcp.session.id': session.id,
        'mcp.transport': session.inbound.kind,
        'mcp.upstream': session.upstream,
      },
    });
    this.#sessions.set(session, span);
  }

  #closeSession(session: Session, reason: McpscopeError | undefined): void {
    const span = this.#sessions.get(session);
    if (!span) return;
    if (session.clientInfo?.name) span.setAttribute('mcp.client.name', session.clientInfo.name);
    if (session.serverInfo?.name) span.setAttribute('mcp.server.name', session.serverInfo.name);
    if (reason) span.setStatus({ code: SpanStatusCode.ERROR, message: reason.message });
    span.end();
    this.#sessions.delete(session);
  }

  /** Client → server requests: start their span under the client's trace (or the session's), pass ours on. */
  #startRequest(frame: Frame, session: Session, direction: Direction): Verdict {
    if (direction !== 'client-to-server' || frame.kind !== 'request' || !frame.related) return FORWARD;
    const msg = frame.msg as WithMeta;
    const meta = msg.params?._meta;
    // The body's _meta wins over an HTTP header: it is the MCP way and survives every transport.
    const incoming: Meta | undefined =
      meta && typeof meta.traceparent === 'string'
        ? meta
        : frame.traceparent
          ? { traceparent: frame.traceparent }
          : undefined;
    let parent: Context;
    if (incoming) parent = this.#propagator.extract(ROOT_CONTEXT, incoming, metaGetter);
    else {
      const sessionSpan = this.#sessions.get(session);
      parent = sessionSpan ? trace.setSpan(ROOT_CONTEXT, sessionSpan) : ROOT_CONTEXT;
    }
    const related = frame.related;
    const attributes: Record<string, string | number> = {
      'rpc.system': 'jsonrpc',
      'rpc.method': related.method,
      'rpc.jsonrpc.request_id': String(related.id),
      'mcp.session.id': session.id,
    };
    if (related.method === 'tools/call' && related.target) attributes['mcp.tool.name'] = related.target;
    const span = this.#tracer.startSpan(
      'mcp.request',
      { kind: SpanKind.SERVER, attributes, startTime: epochMs(frame.receivedAt) },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    this.#tracer
      .startSpan('mcp.parse', { startTime: epochMs(frame.receivedAt - frame.codecMs) }, ctx)
      .end(epochMs(frame.receivedAt));
    this.#requests.set(related, { span, forwardedAt: performance.now() });
    const ids = span.spanContext();
    // A sampled span is exported: tapes and exemplars may name it (an unsampled one would lead nowhere).
    if (ids.traceFlags & TraceFlags.SAMPLED) related.trace = { traceId: ids.traceId, spanId: ids.spanId };
    if (!ids.traceFlags && !incoming) return FORWARD;
    // Propagate: the upstream sees our request span as its parent.
    const carrier: Record<string, string> = {};
    this.#propagator.inject(ctx, carrier, { set: (c, k, v) => (c[k] = v) });
    const rewritten = { ...msg, params: { ...msg.params, _meta: { ...meta, ...carrier } } };
    return { action: 'rewrite', frame: withMessage(frame, rewritten) };
  }

  #observe(frame: Frame, _session: Session, direction: Direction, verdict: Verdict): void {
    const intercept = frame.intercept;
    if (intercept !== undefined) {
      // A rule or breakpoint acted: the request's span says which and what, whichever way the message went.
      const entry = frame.related ? this.#requests.get(frame.related) : undefined;
      entry?.span.setAttributes({
        'mcp.intercept.rule': intercept.rule,
        'mcp.intercept.action': intercept.action,
      });
    }
    if (direction === 'client-to-server') {
      if (verdict.action === 'reply') this.#endRequest(verdict.frame);
      else if (verdict.action === 'drop' && frame.related) this.#endRequest(frame, verdict.reason);
      return;
    }
    // A dropped answer never reached the client: the request is not answered (yet).
    if ((frame.kind === 'response' || frame.kind === 'error') && verdict.action !== 'drop')
      this.#endRequest(frame);
  }

  #endRequest(answer: Frame, dropped?: string): void {
    const related = answer.related;
    const entry = related ? this.#requests.get(related) : undefined;
    if (!related || !entry) return;
    this.#requests.delete(related);
    const { span, forwardedAt } = entry;
    const ctx = trace.setSpan(ROOT_CONTEXT, span);
    // Time inside mcpscope each way, and the upstream's share in between.
    this.#tracer
      .startSpan(
        'mcp.queue',
        { attributes: { 'mcp.direction': 'client_to_server' }, startTime: epochMs(related.startedAt) },
        ctx,
      )
      .end(epochMs(forwardedAt));
    this.#tracer
      .startSpan('mcp.upstream', { kind: SpanKind.CLIENT, startTime: epochMs(forwardedAt) }, ctx)
      .end(epochMs(answer.receivedAt));
    this.#tracer
      .startSpan(
        'mcp.queue',
        { attributes: { 'mcp.direction': 'server_to_client' }, startTime: epochMs(answer.receivedAt) },
        ctx,
      )
      .end(epochMs(performance.now()));
    if (dropped) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: `dropped: ${dropped}` });
    } else if (answer.kind === 'error') {
      const error = (answer.msg as { error?: { code?: unknown; message?: unknown } }).error;
      if (typeof error?.code === 'number') span.setAttribute('rpc.jsonrpc.error_code', error.code);
      span.setAttribute('mcp.outcome.side', outcomeOf(answer).side);
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(error?.message ?? 'error') });
    } else if (outcomeOf(answer).failed) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'the tool reported an error (isError)' });
    }
    span.end(epochMs(performance.now()));
  }

  /** Send what is buffered and stop. */
  async shutdown(): Promise<void> {
    await this.#provider.shutdown();
  }
}
