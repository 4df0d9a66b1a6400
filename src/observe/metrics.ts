import {
  Gauge,
  Registry,
  collectDefaultMetrics,
  type Counter,
  type Histogram,
  type RegistryContentType,
} from 'prom-client';
import { BoundCounter, BoundHistogram } from './boundMetrics.js';
import { performance } from 'node:perf_hooks';
import {
  EVENT_LOOP_RESOLUTION_MS,
  EVENT_LOOP_WINDOW_MS,
  eventLoopDelay,
  type EventLoopFigures,
} from './eventLoop.js';
import { LabelGuard, MCP_METHODS } from './labelGuard.js';
import type { ExpositionFormat } from './exposition.js';
import {
  DEFAULT_CARDINALITY_LIMIT,
  DEFAULT_LATENCY_BUCKETS,
  DEFAULT_METRIC_PREFIX,
} from './metricDefaults.js';

export { DEFAULT_CARDINALITY_LIMIT, DEFAULT_LATENCY_BUCKETS, DEFAULT_METRIC_PREFIX };

/** Size buckets in bytes: 64 B to 16 MiB. */
export const SIZE_BUCKETS = [64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];
/** Finer buckets for time spent inside mcpscope: 5 µs to 100 ms. */
export const OVERHEAD_BUCKETS = [
  0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1,
];
/** Lifetimes in seconds: 1 s to 1 day. */
const LIFETIME_BUCKETS = [1, 10, 60, 300, 900, 3600, 14_400, 86_400];

export interface MetricsOptions {
  /** Default 'mcpscope_'. */
  prefix?: string;
  /** Latency histogram buckets, seconds. Default DEFAULT_LATENCY_BUCKETS. */
  buckets?: number[];
  /** Most distinct values of an untrusted label (method, tool) before folding into `other`. Default 10,000. */
  cardinalityLimit?: number;
  /** Event-loop lag sampling precision in ms for the default metrics. Default 10. */
  eventLoopPrecisionMs?: number;
}

/** Current values read at scrape time from the parts that hold them. */
export interface MetricCollectors {
  processesActive?: () => number;
  streamBufferBytes?: () => number;
}

/**
 * The whole metric catalogue, declared once with help text, in a registry of its own (never prom-client's
 * global one). Every other module records through this object; features added later register here too.
 */
export class Metrics {
  readonly registry = new Registry<RegistryContentType>();
  readonly startedAt = performance.now();
  readonly methods: LabelGuard;
  readonly tools: LabelGuard;
  /** Drop reasons come from stages: bounded like any other label that code outside mcpscope picks. */
  readonly dropReasons: LabelGuard;
  #lastCollectSeconds = 0;
  #scraping: Promise<unknown> = Promise.resolve();
  #collectors: MetricCollectors = {};

  // requests
  readonly requests: Counter<'method' | 'transport' | 'status' | 'source'>;
  readonly requestDuration: BoundHistogram<'method' | 'transport' | 'status'>;
  readonly requestSize: Histogram<'method' | 'transport'>;
  readonly responseSize: Histogram<'method' | 'transport'>;
  readonly toolCalls: Counter<'tool' | 'status' | 'source'>;
  readonly toolCallDuration: BoundHistogram<'tool'>;
  // proxy
  readonly proxyOverhead: Histogram<'upstream'>;
  readonly upstreamErrors: Counter<'upstream' | 'error_type'>;
  readonly errors: Counter<'code'>;
  readonly messages: Counter<'direction' | 'kind'>;
  readonly messagesDropped: Counter<'direction' | 'reason'>;
  readonly labelsFolded: Counter<'label'>;
  // pipeline
  readonly stageErrors: Counter<'stage' | 'hook'>;
  readonly holdTimeouts: Counter<'stage'>;
  readonly heldOverflow: Counter<'stage'>;
  // sessions
  readonly activeSessions: Gauge<'transport'>;
  readonly sessionsTotal: Counter<'transport'>;
  readonly sessionDuration: Histogram;
  // transport
  readonly transportConnect: Histogram<'transport'>;
  readonly transportFirstByte: Histogram<'transport'>;
  readonly transportTransfer: Histogram<'transport' | 'op'>;
  readonly serialize: Histogram;
  readonly deserialize: Histogram;
  // streams
  readonly streamActive: Gauge<'transport'>;
  readonly streamConnections: Counter<'transport' | 'kind'>;
  readonly streamDuration: Histogram<'transport'>;
  readonly streamSent: Counter<'transport'>;
  readonly streamDropped: Counter<'transport' | 'reason'>;
  readonly streamBackpressure: Counter<'transport' | 'action'>;
  readonly sseResumptions: Counter<'result'>;
  readonly sseReconnects: Counter<'result'>;
  readonly sseDeduplicated: Counter;
  readonly bridgeTranslations: Counter<'direction' | 'kind'>;
  // gateway
  readonly gatewayUpstreamUp: Gauge<'upstream'>;
  readonly gatewayRequests: Counter<'upstream' | 'status'>;
  readonly gatewayMissing: Counter<'upstream'>;
  readonly streamIdle: Histogram<'transport'>;
  // process
  readonly processLifetime: Histogram<'result'>;
  readonly processRestarts: Counter;
  readonly sessionsExpired: Counter<'reason'>;
  readonly processesEvicted: Counter;
  readonly processShutdowns: Counter<'process' | 'result'>;
  readonly processShutdownSeconds: Histogram<'process'>;
  // resilience
  readonly breakerState: Gauge<'upstream'>;
  readonly breakerTransitions: Counter<'upstream' | 'to'>;
  readonly rateLimited: Counter<'limit_type' | 'client'>;
  /** Rate-limited clients (session ids, addresses, subjects): bounded like methods and tools. */
  readonly clients: LabelGuard;
  // tapes
  readonly tapeOperations: Counter<'operation'>;
  readonly tapeSize: Gauge;
  readonly tapeWriteErrors: Counter;
  readonly tapeReplayFallbacks: Counter<'method' | 'tool'>;
  readonly schemaDrift: Counter<'kind'>;
  // intercept
  readonly interceptActions: Counter<'rule' | 'action'>;
  readonly rulesReloads: Counter<'result'>;
  readonly pausedMessages: Gauge;

  constructor(options: MetricsOptions = {}) {
    const p = options.prefix ?? DEFAULT_METRIC_PREFIX;
    const registers = [this.registry];
    const buckets = options.buckets ?? DEFAULT_LATENCY_BUCKETS;
    const limit = options.cardinalityLimit ?? DEFAULT_CARDINALITY_LIMIT;

    this.labelsFolded = new BoundCounter({
      name: `${p}metric_labels_folded_total`,
      help: 'Label values folded into "other" because the label reached its cardinality limit',
      labelNames: ['label'],
      registers,
    });
    const foldedMethod = this.labelsFolded.labels('method');
    const foldedTool = this.labelsFolded.labels('tool');
    this.methods = new LabelGuard(limit, MCP_METHODS, () => foldedMethod.inc());
    this.tools = new LabelGuard(limit, [], () => foldedTool.inc());
    const foldedReason = this.labelsFolded.labels('reason');
    this.dropReasons = new LabelGuard(
      100,
      ['unmatched_response', 'shutting_down', 'hold_timeout', 'held_overflow'],
      () => foldedReason.inc(),
    );
    const foldedClient = this.labelsFolded.labels('client');
    this.clients = new LabelGuard(limit, ['global', 'stdio'], () => foldedClient.inc());

    this.requests = new BoundCounter({
      name: `${p}requests_total`,
      help: 'JSON-RPC requests answered, by method, client transport, status (ok or an error class) and source of the answer (upstream, rule, breakpoint, proxy: mcpscope itself, tape)',
      labelNames: ['method', 'transport', 'status', 'source'],
      registers,
    });
    this.requestDuration = new BoundHistogram({
      name: `${p}request_duration_seconds`,
      help: 'Time from a request reaching mcpscope to its answer reaching mcpscope',
      labelNames: ['method', 'transport', 'status'],
      buckets,
      // With tracing on: the trace of a recent request per bucket, in an OpenMetrics scrape.
      exemplars: true,
      registers,
    });
    this.requestSize = new BoundHistogram({
      name: `${p}request_size_bytes`,
      help: 'Size of JSON-RPC requests from clients',
      labelNames: ['method', 'transport'],
      buckets: SIZE_BUCKETS,
      registers,
    });
    this.responseSize = new BoundHistogram({
      name: `${p}response_size_bytes`,
      help: 'Size of JSON-RPC answers to clients',
      labelNames: ['method', 'transport'],
      buckets: SIZE_BUCKETS,
      registers,
    });
    this.toolCalls = new BoundCounter({
      name: `${p}tool_calls_total`,
      help: 'tools/call requests by tool, status (ok; error (a result with isError); or the JSON-RPC error class) and source of the answer (upstream, rule, breakpoint, proxy, tape)',
      labelNames: ['tool', 'status', 'source'],
      registers,
    });
    this.toolCallDuration = new BoundHistogram({
      name: `${p}tool_call_duration_seconds`,
      help: 'Duration of tools/call requests by tool',
      labelNames: ['tool'],
      buckets,
      exemplars: true,
      registers,
    });
    this.proxyOverhead = new BoundHistogram({
      name: `${p}proxy_overhead_seconds`,
      help: 'Time a message spends inside mcpscope, from received to handed to the other side (both directions)',
      labelNames: ['upstream'],
      buckets: OVERHEAD_BUCKETS,
      registers,
    });
    this.upstreamErrors = new BoundCounter({
      name: `${p}upstream_errors_total`,
      help: 'Failures of the upstream server by type (timeout, exited, refused, protocol, http_4xx, http_5xx, backpressure, stream_lost, closed)',
      labelNames: ['upstream', 'error_type'],
      registers,
    });
    this.errors = new BoundCounter({
      name: `${p}errors_total`,
      help: 'Errors mcpscope raised for client input or sessions, by stable error code',
      labelNames: ['code'],
      registers,
    });
    this.messages = new BoundCounter({
      name: `${p}messages_total`,
      help: 'JSON-RPC messages through the proxy by direction and kind',
      labelNames: ['direction', 'kind'],
      registers,
    });
    this.messagesDropped = new BoundCounter({
      name: `${p}messages_dropped_total`,
      help: 'Messages mcpscope did not pass on, by direction and reason (a stage dropped it, or it matched nothing)',
      labelNames: ['direction', 'reason'],
      registers,
    });
    this.interceptActions = new BoundCounter({
      name: `${p}intercept_actions_total`,
      help: 'Messages an interception rule or breakpoint acted on, by rule name (breakpoint:<id> for one set over the admin API) and action (mock, error, delay, patch, drop, fault_close, fault_timeout, fault_corrupt, break)',
      labelNames: ['rule', 'action'],
      registers,
    });
    this.rulesReloads = new BoundCounter({
      name: `${p}rules_reloads_total`,
      help: 'Reloads of the --rules file after it changed, by result: ok (the new rules are in force) or invalid (refused; the previous rules stay)',
      labelNames: ['result'],
      registers,
    });
    this.pausedMessages = new Gauge({
      name: `${p}paused_messages`,
      help: 'Messages held at a breakpoint now, waiting for a person (or --breakpoint-timeout-ms)',
      registers,
    });
    this.stageErrors = new BoundCounter({
      name: `${p}stage_errors_total`,
      help: 'Pipeline stages that threw (the message went on), by stage name and hook (transform, observe, onSessionOpen, …)',
      labelNames: ['stage', 'hook'],
      registers,
    });
    this.holdTimeouts = new BoundCounter({
      name: `${p}pipeline_hold_timeouts_total`,
      help: 'Messages a pipeline stage held past the hold timeout, by stage: refused (a request answered with STAGE_TIMEOUT, anything else dropped)',
      labelNames: ['stage'],
      registers,
    });
    this.heldOverflow = new BoundCounter({
      name: `${p}pipeline_held_overflow_total`,
      help: 'Messages refused because the queue behind a held one was full (maxHeld per session and direction), by the stage holding it',
      labelNames: ['stage'],
      registers,
    });
    this.activeSessions = new Gauge({
      name: `${p}active_sessions`,
      help: 'Sessions open now, by client transport',
      labelNames: ['transport'],
      registers,
    });
    this.sessionsTotal = new BoundCounter({
      name: `${p}sessions_total`,
      help: 'Sessions opened, by client transport',
      labelNames: ['transport'],
      registers,
    });
    this.sessionDuration = new BoundHistogram({
      name: `${p}session_duration_seconds`,
      help: 'Lifetime of closed sessions',
      buckets: LIFETIME_BUCKETS,
      registers,
    });
    this.transportConnect = new BoundHistogram({
      name: `${p}transport_connect_seconds`,
      help: 'Time to connect to the upstream (spawn a child, or the first HTTP exchange)',
      labelNames: ['transport'],
      buckets,
      registers,
    });
    this.transportFirstByte = new BoundHistogram({
      name: `${p}transport_first_byte_seconds`,
      help: 'Time from sending a request upstream to the first byte of its HTTP response',
      labelNames: ['transport'],
      buckets,
      registers,
    });
    this.transportTransfer = new BoundHistogram({
      name: `${p}transport_transfer_seconds`,
      help: 'Time spent moving bytes per operation: send (write until flushed), receive (body read), close',
      labelNames: ['transport', 'op'],
      buckets,
      registers,
    });
    this.serialize = new BoundHistogram({
      name: `${p}serialize_seconds`,
      help: 'Time to serialise a message mcpscope built or changed (unchanged messages are not re-serialised)',
      buckets: OVERHEAD_BUCKETS,
      registers,
    });
    this.deserialize = new BoundHistogram({
      name: `${p}deserialize_seconds`,
      help: 'Time to parse and validate one incoming message',
      buckets: OVERHEAD_BUCKETS,
      registers,
    });
    this.streamActive = new Gauge({
      name: `${p}stream_active_connections`,
      help: 'SSE streams open to clients now',
      labelNames: ['transport'],
      registers,
    });
    this.streamConnections = new BoundCounter({
      name: `${p}stream_connections_total`,
      help: 'SSE streams opened to clients, by kind (post, get, resume)',
      labelNames: ['transport', 'kind'],
      registers,
    });
    this.streamDuration = new BoundHistogram({
      name: `${p}stream_connection_duration_seconds`,
      help: 'Lifetime of SSE streams to clients',
      labelNames: ['transport'],
      buckets,
      registers,
    });
    this.streamSent = new BoundCounter({
      name: `${p}stream_messages_sent_total`,
      help: 'Messages written to client SSE streams',
      labelNames: ['transport'],
      registers,
    });
    this.streamDropped = new BoundCounter({
      name: `${p}stream_messages_dropped_total`,
      help: 'Messages for clients that could not be delivered, by reason',
      labelNames: ['transport', 'reason'],
      registers,
    });
    this.streamBackpressure = new BoundCounter({
      name: `${p}stream_backpressure_total`,
      help: 'Flow control toward slow clients, by action: upstream paused, resumed, or a client stream closed for being too far behind',
      labelNames: ['transport', 'action'],
      registers,
    });
    this.sseResumptions = new BoundCounter({
      name: `${p}sse_resumptions_total`,
      help: 'Last-Event-ID resumptions, by result: of client streams (ok, unknown_event) and of upstream streams (upstream_ok, upstream_rejected)',
      labelNames: ['result'],
      registers,
    });
    this.sseReconnects = new BoundCounter({
      name: `${p}sse_reconnects_total`,
      help: 'Reconnection attempts to dropped upstream SSE streams, by result (ok, failed, exhausted: the last attempt failed)',
      labelNames: ['result'],
      registers,
    });
    this.sseDeduplicated = new BoundCounter({
      name: `${p}sse_events_deduplicated_total`,
      help: 'Upstream SSE events dropped because their event id was already delivered (replayed after a resumption)',
      registers,
    });
    this.bridgeTranslations = new BoundCounter({
      name: `${p}bridge_translations_total`,
      help: '--bridge: what was translated between protocol eras, by direction (to_modern: an older client with a 2026-07-28 server; to_legacy: the reverse) and kind (initialize, discover, envelope, input_required, input_answer, listen, notification, subscribe, log_level, ping, error_code, cancel, refused)',
      labelNames: ['direction', 'kind'],
      registers,
    });
    this.streamIdle = new BoundHistogram({
      name: `${p}stream_idle_seconds`,
      help: 'Quiet time between two messages on a long-lived stream: client GET streams by client transport, upstream streams as upstream_<transport>',
      labelNames: ['transport'],
      buckets,
      registers,
    });
    this.processLifetime = new BoundHistogram({
      name: `${p}process_lifetime_seconds`,
      help: 'Lifetime of upstream server processes, by how they ended (stopped, crashed)',
      labelNames: ['result'],
      buckets: LIFETIME_BUCKETS,
      registers,
    });
    this.processRestarts = new BoundCounter({
      name: `${p}process_restarts_total`,
      help: 'Upstream server processes restarted after a crash',
      registers,
    });
    this.sessionsExpired = new BoundCounter({
      name: `${p}sessions_expired_total`,
      help: 'Sessions mcpscope closed on its own, by reason: idle (--session-idle-ms), process_idle (its server process idle for --process-idle-ms), evicted (its idle process stopped to make room under --max-processes)',
      labelNames: ['reason'],
      registers,
    });
    this.processesEvicted = new BoundCounter({
      name: `${p}processes_evicted_total`,
      help: 'Idle server processes stopped (their sessions closed) to make room for a new session at --max-processes',
      registers,
    });
    this.processShutdowns = new BoundCounter({
      name: `${p}process_shutdowns_total`,
      help: 'Shutdowns, by process: upstream server processes stopped by mcpscope (process="server"; result graceful, terminated, killed) and mcpscope itself on SIGTERM (process="mcpscope"; result drained: every request finished in the grace period, forced: some were failed at its end)',
      labelNames: ['process', 'result'],
      registers,
    });
    this.processShutdownSeconds = new BoundHistogram({
      name: `${p}process_shutdown_seconds`,
      help: 'Time to stop, by process: an upstream server process (server) or mcpscope itself (mcpscope)',
      labelNames: ['process'],
      buckets,
      registers,
    });
    this.gatewayUpstreamUp = new Gauge({
      name: `${p}gateway_upstream_up`,
      help: 'gateway: 1 while the upstream opens and serves (its last open in any session succeeded), 0 once it failed to open or went down',
      labelNames: ['upstream'],
      registers,
    });
    this.gatewayRequests = new BoundCounter({
      name: `${p}gateway_requests_total`,
      help: 'gateway: requests routed to one upstream (calls, prompts, resources) and answered, by upstream and status (ok or the JSON-RPC error class)',
      labelNames: ['upstream', 'status'],
      registers,
    });
    this.gatewayMissing = new BoundCounter({
      name: `${p}gateway_upstream_missing_total`,
      help: 'gateway: merged answers (lists, initialize, server/discover) that went without the upstream (down, slow, circuit open)',
      labelNames: ['upstream'],
      registers,
    });
    this.breakerState = new Gauge({
      name: `${p}circuit_breaker_state`,
      help: 'Circuit breaker state per upstream: 0 closed, 1 open (failing fast), 2 half-open (probing)',
      labelNames: ['upstream'],
      registers,
    });
    this.breakerTransitions = new BoundCounter({
      name: `${p}circuit_breaker_transitions_total`,
      help: 'Circuit breaker state changes per upstream, by the state entered (closed, open, half_open)',
      labelNames: ['upstream', 'to'],
      registers,
    });
    this.rateLimited = new BoundCounter({
      name: `${p}rate_limit_exceeded_total`,
      help: 'Requests refused by a rate limit, by limit (global, client, tool) and client (session id, address or subject; bounded)',
      labelNames: ['limit_type', 'client'],
      registers,
    });
    this.tapeOperations = new BoundCounter({
      name: `${p}tape_operations_total`,
      help: 'Tape operations, by operation (open, write, close, drop, replay)',
      labelNames: ['operation'],
      registers,
    });
    this.tapeSize = new Gauge({
      name: `${p}tape_size_bytes`,
      help: 'Bytes written so far to the tapes being recorded',
      registers,
    });
    this.tapeWriteErrors = new BoundCounter({
      name: `${p}tape_write_errors_total`,
      help: 'Tapes that could not be created or written (traffic kept flowing; the tape is incomplete)',
      registers,
    });
    this.tapeReplayFallbacks = new BoundCounter({
      name: `${p}tape_replay_fallbacks_total`,
      help: 'Requests replay answered with a recording whose arguments differ (--match lenient), by method and tool',
      labelNames: ['method', 'tool'],
      registers,
    });
    this.schemaDrift = new BoundCounter({
      name: `${p}schema_drift_total`,
      help: 'Changes in a live tools/list answer against the one seen before in this run (a server that changed its tools mid-flight), by kind: breaking, compatible, info',
      labelNames: ['kind'],
      registers,
    });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name: `${p}${name}`,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };
    gauge(
      'processes_active',
      'Upstream server processes running now',
      () => this.#collectors.processesActive?.() ?? 0,
    );
    gauge(
      'stream_buffer_bytes',
      'Bytes held for Last-Event-ID replay and undelivered backlog, all sessions',
      () => this.#collectors.streamBufferBytes?.() ?? 0,
    );
    gauge(
      'uptime_seconds',
      'Seconds since mcpscope started',
      () => (performance.now() - this.startedAt) / 1000,
    );
    gauge(
      'metrics_collection_seconds',
      'Time the previous scrape of /metrics took (self-monitoring)',
      () => this.#lastCollectSeconds,
    );
    collectDefaultMetrics({
      register: this.registry,
      prefix: p,
      eventLoopMonitoringPrecision: options.eventLoopPrecisionMs ?? 10,
    });
    // Event-loop delay: one measurement for /metrics and /stats (observe/eventLoop.ts) in place of
    // prom-client's own, under the same names.
    const loop = eventLoopDelay();
    for (const [name, help, read] of [
      ['nodejs_eventloop_lag_seconds', 'Mean event loop delay', (f: EventLoopFigures) => f.meanMs],
      ['nodejs_eventloop_lag_min_seconds', 'Minimum event loop delay', (f: EventLoopFigures) => f.minMs],
      ['nodejs_eventloop_lag_max_seconds', 'Maximum event loop delay', (f: EventLoopFigures) => f.maxMs],
      ['nodejs_eventloop_lag_mean_seconds', 'Mean event loop delay', (f: EventLoopFigures) => f.meanMs],
      [
        'nodejs_eventloop_lag_stddev_seconds',
        'Standard deviation of event loop delay',
        (f: EventLoopFigures) => f.stddevMs,
      ],
      ['nodejs_eventloop_lag_p50_seconds', 'Median event loop delay', (f: EventLoopFigures) => f.p50Ms],
      [
        'nodejs_eventloop_lag_p90_seconds',
        '90th percentile of event loop delay',
        (f: EventLoopFigures) => f.p90Ms,
      ],
      [
        'nodejs_eventloop_lag_p99_seconds',
        '99th percentile of event loop delay',
        (f: EventLoopFigures) => f.p99Ms,
      ],
    ] as const) {
      this.registry.removeSingleMetric(`${p}${name}`);
      gauge(
        name,
        `${help} in seconds, over the last ${EVENT_LOOP_WINDOW_MS / 1000} s (timer resolution ${EVENT_LOOP_RESOLUTION_MS} ms: includes up to one interval); the same figures as /stats`,
        () => read(loop.figures) / 1000,
      );
    }
    // prom-client names three gauges with a `_total` suffix, which promtool rejects; its
    // `nodejs_active_resources{type}` gauge already says the same, correctly named.
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ]) {
      this.registry.removeSingleMetric(`${p}${name}`);
    }
  }

  setCollectors(collectors: MetricCollectors): void {
    this.#collectors = collectors;
  }

  /**
   * The exposition, timing itself for `metrics_collection_seconds`: Prometheus text, or OpenMetrics (which
   * carries the duration histograms' exemplars) for a scraper that asks for it. One scrape at a time: an
   * OpenMetrics one switches the registry's format while it runs.
   */
  scrape(format: ExpositionFormat = 'prometheus'): Promise<string> {
    const run = this.#scraping.then(() => this.#render(format));
    this.#scraping = run.catch(() => undefined);
    return run;
  }

  async #render(format: ExpositionFormat): Promise<string> {
    const t0 = performance.now();
    let text: string;
    if (format === 'prometheus') text = await this.registry.metrics();
    else {
      // prom-client renames a counter in place for OpenMetrics (its name loses `_total`): put them back.
      const counters = (this.registry.getMetricsAsArray() as unknown as Array<{ type: string; name: string }>)
        .filter((m) => m.type === 'counter')
        .map((m) => [m, m.name] as const);
      this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
      try {
        text = await this.registry.metrics();
      } finally {
        this.registry.setContentType(Registry.PROMETHEUS_CONTENT_TYPE);
        for (const [metric, name] of counters) metric.name = name;
      }
    }
    this.#lastCollectSeconds = (performance.now() - t0) / 1000;
    return text;
  }

  /** The Content-Type of a scrape in that format. */
  contentType(format: ExpositionFormat = 'prometheus'): string {
    return format === 'prometheus' ? Registry.PROMETHEUS_CONTENT_TYPE : Registry.OPENMETRICS_CONTENT_TYPE;
  }
}
