import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { AdminServer, ReadyState } from './admin/adminServer.js';
import type { Breakpoints } from './intercept/breakpoints.js';
import { McpscopeError } from './jsonrpc/errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from './jsonrpc/framing.js';
import { silentLogger } from './log.js';
import type { Metrics, MetricsOptions } from './observe/metrics.js';
import { MetricsStage } from './observe/metricsStage.js';
import type { StatsCollector } from './observe/statsCollector.js';
import type { Feed, FeedOptions } from './admin/feed.js';
import type { Tracing, TracingOptions } from './observe/tracing.js';
import { Pipeline } from './pipeline/pipeline.js';
import type { Stage } from './pipeline/stage.js';
import { ProcessManager, commandProblem } from './process/processManager.js';
import type { Session } from './session/session.js';
import { SessionManager } from './session/sessionManager.js';
import { DriftWatchStage } from './stages/driftWatchStage.js';
import { LogMessagesStage } from './stages/logMessages.js';
import type { HttpListener, UpstreamFactory } from './transport/httpListener.js';
import type { HttpUpstream, UpstreamTransport } from './transport/httpUpstream.js';
import type { Transport } from './transport/transport.js';
import { StdioClientTransport, type RestartPolicy } from './transport/stdioClient.js';
import { StdioServerTransport } from './transport/stdioServer.js';
import type { RecorderStage } from './stages/recorderStage.js';
import { BreakerStage } from './stages/breakerStage.js';
import type { InterceptStage } from './stages/interceptStage.js';
import { DEFAULT_HOLD_TIMEOUT_MS } from './pipeline/refusal.js';
import { RateLimitStage, type RateLimitOptions } from './stages/rateLimitStage.js';
import { AuthStage } from './stages/authStage.js';
import type { AuthOptions } from './auth/options.js';
import type { ResourceServer } from './auth/resourceServer.js';
import type { CircuitBreakerOptions } from './resilience/circuitBreaker.js';
import { DEFAULT_SHUTDOWN_GRACE_MS } from './session/sessionManager.js';
import type { RedactionOptions } from './tape/redact.js';
import type { TapePlayerOptions } from './tape/tapePlayer.js';
import type { TapeScript } from './tape/tapeScript.js';
import { VERSION } from './version.js';
import type { BridgeMode, BridgeTransport } from './bridge/bridge.js';
import type { Gateway, GatewayOptions } from './gateway/gateway.js';

export type UpstreamOptions =
  | { command: string; args?: readonly string[]; env?: NodeJS.ProcessEnv; cwd?: string }
  | {
      /** http(s):// for Streamable HTTP or legacy HTTP+SSE, ws(s):// for WebSocket. */
      url: string;
      headers?: Record<string, string>;
      /** Which wire the URL speaks. Default 'auto' (detected; ws:// URLs are WebSocket). */
      transport?: UpstreamTransport;
    }
  /** Replay: a tape stands in for the server (one player per session, all on the same tape). */
  | { tape: TapeScript; player?: TapePlayerOptions }
  /** The gateway: several upstreams behind one endpoint, their names prefixed (see src/gateway/). */
  | { gateway: GatewayOptions };

export interface RecordOptions {
  /** Directory for the tapes (one per session); created if missing. */
  dir: string;
  /** Secrets to remove before writing. Default: the default rules, on. */
  redaction?: RedactionOptions;
  /** Bytes one tape may queue in memory before dropping events. Default 4 MiB. */
  maxQueueBytes?: number;
}

export interface AdminOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 9090; 0 picks a free port. */
  port?: number;
  /** Default '/metrics'. */
  metricsPath?: string;
  /** Serve one collection for this long (ms) to every scrape. Default 0 (collect on every scrape). */
  metricsIntervalMs?: number;
  /** Bearer token for the admin API; without one, the admin server only listens on loopback. */
  token?: string;
  /** Width of a stats bucket in ms (default 10 s; tests shorten it). */
  statsBucketMs?: number;
}

export interface ProxyOptions {
  /** Where clients connect: 'stdio' (our stdin/stdout) or 'http' (Streamable HTTP, legacy SSE, WebSocket). */
  inbound: 'stdio' | 'http';
  /** The real server: a command to spawn (one per session) or a URL (Streamable HTTP, legacy SSE, WebSocket). */
  upstream: UpstreamOptions;
  /** The `upstream` metric label. Default: the URL's host, or the command and its script's base names. */
  upstreamName?: string;
  /** Listen address for 'http'. Default 127.0.0.1. */
  host?: string;
  /** Listen port for 'http'; 0 picks a free one. Default 8080. */
  port?: number;
  /** Endpoint path for 'http'. Default '/mcp'. */
  path?: string;
  /** Origins allowed besides localhost ones ('*' for any). Default none. */
  allowedOrigins?: readonly string[];
  /** Host names allowed besides loopback ones when listening on loopback. Default none. */
  allowedHosts?: readonly string[];
  /** Time a client may take to send request headers, ms. Default 10,000. */
  httpHeadersTimeoutMs?: number;
  /** Time a client may take to send a whole request, ms. Default 30,000. */
  httpBodyTimeoutMs?: number;
  /** Interval of SSE keep-alive comments on idle GET streams, ms. Default 25,000. */
  sseKeepaliveMs?: number;
  /** Serve legacy HTTP+SSE clients on `GET /sse` + `POST /messages` ('http' only). Default true. */
  legacySse?: boolean;
  /** Accept WebSocket upgrades (subprotocol `mcp`) on the endpoint path ('http' only). Default true. */
  webSocket?: boolean;
  /** Answer POSTed requests with JSON instead of SSE (related messages then use the GET stream). Default false. */
  jsonResponse?: boolean;
  /** Largest accepted message in bytes. Default 4 MiB. */
  maxMessageBytes?: number;
  /**
   * Bytes a client may leave unread, per session (per stream over Streamable HTTP). Past a quarter of it
   * (at most 1 MiB) the upstream is no longer read until the client catches up; past all of it a Streamable
   * HTTP stream is closed (resumable with Last-Event-ID), a legacy SSE stream or WebSocket cut. Default 4 MiB.
   */
  clientBufferBytes?: number;
  /** Per-request timeout in ms. Default 60,000. */
  requestTimeoutMs?: number;
  /** Idle session expiry in ms (0 = never). Default 30 min. */
  sessionIdleMs?: number;
  /** Concurrent session cap. Default 10,000. */
  maxSessions?: number;
  /**
   * 'http' with a command: a session's server process idle this long (no traffic, no request in flight,
   * open streams or not) is stopped and its session closed; 0 = never. Default 5 min.
   */
  processIdleMs?: number;
  /**
   * 'http' with a command: most server processes at once; at the limit a new session stops the least
   * recently used idle one, or is refused (HTTP 503) when none is idle. Default 100.
   */
  maxProcesses?: number;
  /** SIGTERM → SIGKILL grace for children, in ms. Default 5,000. */
  graceMs?: number;
  /**
   * Translate between protocol eras (see src/bridge/bridge.ts): 'auto' probes each session's upstream and
   * translates when the client's era differs. Default 'off'. Not on replay (a tape is in the client's era).
   */
  bridge?: BridgeMode;
  /** Interception rules (see src/stages/interceptStage.ts): the file, watched unless `watch` is false. */
  rules?: { file: string; watch?: boolean };
  /** A message held at a breakpoint is released unchanged after this long, ms. Default 300,000. */
  breakpointTimeoutMs?: number;
  /** Restart a crashed server process (replaying the client's handshake). Default: never. */
  restart?: RestartPolicy | null;
  /** Log one line per message (method, id, size). Default false. */
  logMessages?: boolean;
  /** Prometheus metrics: options, or false for none. Default on with defaults. */
  metrics?: MetricsOptions | false;
  /** The admin server (/metrics, /health, /ready): options, or false for none. Default false in the library. */
  admin?: AdminOptions | false;
  /** OpenTelemetry traces to an OTLP/HTTP endpoint. Default off. */
  tracing?: TracingOptions | null;
  /**
   * The live feed of every session's events on the admin server: bounds, or false for none. Default on
   * with defaults (served only when there is an admin server).
   */
  feed?: FeedOptions | false;
  /** Secrets removed from tapes and from the live feed. Default: the built-in rules (or `record.redaction`). */
  redaction?: RedactionOptions;
  /** Record every session to a tape. Default: no recording. */
  record?: RecordOptions | null;
  /** Circuit breaker on the upstream: options, or false for none. Default on with defaults (not on replay). */
  breaker?: CircuitBreakerOptions | false;
  /** Token-bucket rate limits on client requests. Default none. */
  rateLimits?: RateLimitOptions | null;
  /**
   * 'http': mcpscope as an OAuth 2.1 resource server (see src/auth): every request needs a valid bearer
   * token from this issuer for this audience. Default none (no authorization).
   */
  auth?: AuthOptions;
  /** On shutdown(), time in-flight requests get before they are failed, ms. Default 10,000. */
  shutdownGraceMs?: number;
  /** Extra pipeline stages, run after the built-in ones, in order. */
  stages?: readonly Stage[];
  /** Longest a stage may hold one message, ms. Default 30,000 (DEFAULT_HOLD_TIMEOUT_MS). */
  holdTimeoutMs?: number;
  /** Messages that may wait behind a held one, per session and direction. Default 1,000 (DEFAULT_MAX_HELD). */
  maxHeld?: number;
  /** Default: a silent logger. */
  logger?: Logger;
  /** For 'stdio': the client's streams. Default process.stdin / fd 1. */
  stdio?: { input?: Readable; output?: Writable };
}

export interface ProxyHandle {
  /** The endpoint clients connect to ('http' only). */
  readonly url: string | undefined;
  /** The admin server's base URL, when it is listening. */
  readonly adminUrl: string | undefined;
  readonly sessions: SessionManager;
  readonly pipeline: Pipeline;
  /** Null when metrics are off. */
  readonly metrics: Metrics | null;
  /** What /ready answers. */
  ready(): Promise<ReadyState>;
  /**
   * Resolves when a stdio proxy's session ends, with the exit code mcpscope should exit with (the child's,
   * when it died); for 'http', when close() completes, with 0.
   */
  readonly done: Promise<number>;
  /**
   * Graceful stop (SIGTERM): take no new sessions or requests, let in-flight requests finish within the
   * grace period, fail the rest with SHUTTING_DOWN, then close() (sessions, tapes, server processes).
   */
  shutdown(graceMs?: number): Promise<ShutdownReport>;
  close(): Promise<void>;
}

export interface ShutdownReport {
  /** drained: every request in flight was answered in time; forced: some were failed at the deadline. */
  result: 'drained' | 'forced';
  /** Requests failed with SHUTTING_DOWN at the deadline. */
  failed: number;
  seconds: number;
}

function describeUpstream(upstream: UpstreamOptions, gateway?: Gateway): string {
  if ('tape' in upstream) return `tape ${upstream.tape.tape.path}`;
  if ('gateway' in upstream) return gateway?.description ?? 'gateway';
  return 'url' in upstream ? upstream.url : [upstream.command, ...(upstream.args ?? [])].join(' ');
}

/** A short, bounded label for the upstream: the URL's host, or `node server.js` from a command line. */
export function upstreamLabel(upstream: UpstreamOptions): string {
  if ('tape' in upstream) return `tape ${upstream.tape.tape.header.id}`;
  if ('gateway' in upstream) return 'gateway';
  if ('url' in upstream) return new URL(upstream.url).host;
  const script = upstream.args?.find((a) => !a.startsWith('-'));
  return script ? `${basename(upstream.command)} ${basename(script)}` : basename(upstream.command);
}

/** undici and the remote clients, loaded only for a remote upstream: a stdio-only proxy saves ~11 MB. */
async function loadHttpUpstream(): Promise<typeof HttpUpstream> {
  return (await import('./transport/httpUpstream.js')).HttpUpstream;
}

/*
 * What a run does not need is not loaded: prom-client (metrics), the stats windows, the admin server and its
 * live feed, the HTTP stack (the listener, WebSocket), tapes (recording, replay, redaction), the bridge and
 * OpenTelemetry are imported when the options ask for them, and after a stdio server's process has been
 * started (see createProxy), so that server boots while they load. Loading all of them up front made
 * `forward stdio` start its server about half a second later.
 */

/** Build the stage list, in the one place where its order is written. */
function buildStages(
  options: ProxyOptions,
  logger: Logger,
  metrics: Metrics | null,
  tracing: Tracing | undefined,
  stats: StatsCollector | undefined,
  recorder: RecorderStage | undefined,
  breaker: BreakerStage | undefined,
  feed: Feed | undefined,
  upstream: string,
  intercept: InterceptStage | undefined,
  auth: AuthStage | undefined,
): Stage[] {
  const stages: Stage[] = [];
  // Transformers: trace context first (its request span must cover what later stages do); authorization
  // next (a request without the scopes it needs spends no rate and shows as refused); rate limits before
  // the breaker (a refused request says nothing about the upstream); then the user's.
  if (tracing) stages.push(tracing.propagate);
  if (auth) stages.push(auth);
  if (options.rateLimits) stages.push(new RateLimitStage(options.rateLimits, metrics, logger));
  // Interception after the limits (a mocked request is still a request), before the breaker (what a rule
  // answers or holds says nothing about the upstream).
  if (intercept) stages.push(intercept);
  if (breaker) stages.push(breaker);
  if (options.stages) stages.push(...options.stages);
  // Observers last, so they see the final verdict of every transformer.
  if (metrics) stages.push(new MetricsStage(metrics, upstream));
  // A server whose tools change mid-run: counted and logged once. One check per message; with metrics
  // off it goes too, so that a proxy with no stages keeps its direct path.
  if (metrics) stages.push(new DriftWatchStage(metrics, logger));
  if (stats) stages.push(stats);
  if (tracing) stages.push(tracing.observe);
  if (recorder) stages.push(recorder);
  if (feed) stages.push(feed);
  if (options.logMessages) stages.push(new LogMessagesStage(logger));
  return stages;
}

/**
 * The interception stage, loaded only when there are rules or breakpoints (its YAML, JSONPath, glob and
 * JSON Patch libraries are not paid for otherwise). A rules file that is not valid is a usage error (exit 2).
 */
async function interceptStage(
  rules: { file: string; watch?: boolean } | undefined,
  breakpoints: Breakpoints | undefined,
  options: ProxyOptions,
  upstreamName: string,
  metrics: Metrics | null,
  logger: Logger,
): Promise<InterceptStage> {
  const [{ InterceptStage }, { RulesError }] = await Promise.all([
    import('./stages/interceptStage.js'),
    import('./intercept/rules.js'),
  ]);
  try {
    return new InterceptStage({
      file: rules?.file,
      watch: rules?.watch,
      breakpoints,
      upstreamName,
      metrics,
      logger,
      holdTimeoutMs: options.holdTimeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS,
    });
  } catch (err) {
    if (err instanceof RulesError)
      throw new McpscopeError('CONFIG_INVALID', `--rules ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * The gateway is ready while some upstream can serve: not when every upstream's breaker is open, nor when
 * no remote upstream answers (and there is no stdio one).
 */
async function gatewayReady(gateway: Gateway, breaker: BreakerStage | undefined): Promise<ReadyState> {
  const names = gateway.upstreams.map((u) => u.name);
  const open = breaker ? names.filter((name) => breaker.isOpen(name)) : [];
  if (open.length === names.length)
    return { ready: false, reason: `the circuit breaker of every upstream is open: ${open.join(', ')}` };
  const probe = await gateway.probe();
  const reason = open.length > 0 ? `${probe.reason}; circuit breaker open: ${open.join(', ')}` : probe.reason;
  return { ready: probe.ready, reason };
}

/**
 * The OAuth resource server, loaded only when authorization is on (jose is not paid for otherwise), and only
 * for an HTTP listener: a stdio client has no token to present.
 */
async function authorization(options: ProxyOptions, logger: Logger): Promise<ResourceServer | undefined> {
  if (!options.auth) return undefined;
  if (options.inbound !== 'http') {
    logger.warn('auth is set but clients connect over stdio, which carries no tokens: it is not used');
    return undefined;
  }
  const { ResourceServer } = await import('./auth/resourceServer.js');
  const server = new ResourceServer({ auth: options.auth, endpointPath: options.path ?? '/mcp', logger });
  server.start();
  return server;
}

/** Build and start a proxy: the same pipeline whatever the ends. */
export async function createProxy(options: ProxyOptions): Promise<ProxyHandle> {
  const logger = options.logger ?? silentLogger();
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const upstream = options.upstream;
  const processes = new ProcessManager({ logger, graceMs: options.graceMs });
  const spec =
    'command' in upstream
      ? { command: upstream.command, args: upstream.args ?? [], env: upstream.env, cwd: upstream.cwd }
      : undefined;
  // stdio in front of a command: the server's process starts first, and boots while the rest loads.
  let started: StdioClientTransport | undefined;
  if (spec) {
    // A mistyped command is found now, not at the first client (a usage error: exit 2).
    const problem = commandProblem(spec.command, { PATH: process.env.PATH, ...spec.env });
    if (problem !== undefined) {
      throw new McpscopeError(
        'CONFIG_INVALID',
        `could not start upstream server \`${[spec.command, ...spec.args].join(' ')}\`: ${problem}; check the command and PATH`,
      );
    }
    if (options.inbound === 'stdio') {
      started = new StdioClientTransport({
        spec,
        processes,
        maxMessageBytes,
        logger,
        restart: options.restart ?? null,
      });
      started.prestart();
    }
  }
  try {
    return await build(options, logger, processes, spec, started);
  } catch (err) {
    await processes.stopAll();
    throw err;
  }
}

/** The rest of createProxy(), once a stdio server's process is on its way. */
async function build(
  options: ProxyOptions,
  logger: Logger,
  processes: ProcessManager,
  spec: { command: string; args: readonly string[]; env?: NodeJS.ProcessEnv; cwd?: string } | undefined,
  started: StdioClientTransport | undefined,
): Promise<ProxyHandle> {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const upstream = options.upstream;
  const upstreamName = options.upstreamName ?? upstreamLabel(upstream);

  let listener: HttpListener | undefined;
  const metrics =
    options.metrics === false ? null : new (await import('./observe/metrics.js')).Metrics(options.metrics);
  // The gateway's upstreams, each with a circuit breaker of its own (`breaker` below).
  const gateway: Gateway | undefined =
    'gateway' in upstream
      ? await (
          await import('./gateway/gateway.js')
        ).Gateway.create(upstream.gateway, {
          processes,
          maxMessageBytes,
          logger,
          restart: options.restart ?? null,
          circuitOpen: (name: string): boolean => breaker?.isOpen(name) === true,
        })
      : undefined;
  const redaction = options.redaction ?? options.record?.redaction;
  const redactor = async () => new (await import('./tape/redact.js')).Redactor(redaction);
  // Breakpoints are set over the admin API: with an admin server there is always an InterceptStage, whose
  // test costs one check per message while no breakpoint is set.
  const breakpoints = options.admin
    ? new (await import('./intercept/breakpoints.js')).Breakpoints({
        upstreamName,
        timeoutMs: options.breakpointTimeoutMs,
        maxMessageBytes,
        redactor: await redactor(),
        metrics,
        logger,
      })
    : undefined;
  // A rules file that is not valid stops mcpscope before anything starts (a usage error: exit 2).
  const intercept =
    options.rules || breakpoints
      ? await interceptStage(options.rules, breakpoints, options, upstreamName, metrics, logger)
      : undefined;
  const remoteUrls =
    'url' in upstream
      ? [upstream.url]
      : 'gateway' in upstream
        ? upstream.gateway.upstreams.flatMap((u) => ('url' in u ? [u.url] : []))
        : [];
  const stopUndici =
    metrics && remoteUrls.length > 0
      ? (await import('./observe/undiciTimings.js')).observeUndici(
          metrics,
          new Set(remoteUrls.map((url) => new URL(url.replace(/^ws(s?):/, 'http$1:')).origin)),
        )
      : null;

  // OpenTelemetry is loaded only when traces are wanted.
  const tracing = options.tracing
    ? new (await import('./observe/tracing.js')).Tracing(options.tracing)
    : undefined;
  // The stats windows serve the admin API: kept only when there is an admin server.
  const stats = options.admin
    ? new (await import('./observe/statsCollector.js')).StatsCollector(upstreamName, {
        bucketMs: options.admin.statsBucketMs,
      })
    : undefined;
  // The live feed serves the admin API: kept only when there is an admin server.
  const feed =
    options.admin && options.feed !== false
      ? new (await import('./admin/feed.js')).Feed(options.feed ?? {}, await redactor())
      : undefined;
  const recorder = options.record
    ? new (await import('./stages/recorderStage.js')).RecorderStage({
        dir: options.record.dir,
        redactor: await redactor(),
        logger,
        metrics,
        maxQueueBytes: options.record.maxQueueBytes,
      })
    : undefined;
  const breaker: BreakerStage | undefined =
    options.breaker === false || 'tape' in upstream
      ? undefined
      : new BreakerStage(
          upstreamName,
          options.breaker ?? {},
          metrics,
          logger,
          gateway && {
            upstreams: gateway.upstreams.map((u) => u.name),
            upstreamOf: (frame, session) => gateway.upstreamOf(frame, session),
          },
        );
  const resourceServer = await authorization(options, logger);
  const pipeline = new Pipeline(
    buildStages(
      options,
      logger,
      metrics,
      tracing,
      stats,
      recorder,
      breaker,
      feed,
      upstreamName,
      intercept,
      resourceServer && new AuthStage(resourceServer),
    ),
    logger,
    {
      holdTimeoutMs: options.holdTimeoutMs,
      maxHeld: options.maxHeld,
      hooks: metrics && {
        holdTimedOut: (stage) => metrics.holdTimeouts.labels(stage).inc(),
        heldOverflow: (stage) => metrics.heldOverflow.labels(stage).inc(),
        stageFailed: (stage, hook) => metrics.stageErrors.labels(stage, hook).inc(),
      },
    },
  );
  const sessions = new SessionManager({
    pipeline,
    logger,
    requestTimeoutMs: options.requestTimeoutMs,
    sessionIdleMs: options.inbound === 'stdio' ? 0 : options.sessionIdleMs,
    maxSessions: options.maxSessions,
    // One server process per session: only for 'http' with a command (stdio has one session for good).
    ownsProcesses: options.inbound === 'http' && ('command' in upstream || gateway?.ownsProcesses === true),
    processIdleMs: options.processIdleMs,
    maxProcesses: options.maxProcesses,
  });
  let remote: HttpUpstream | undefined;
  let create: () => Transport;
  if ('tape' in upstream) {
    const { tape, player } = upstream;
    const { TapePlayerTransport } = await import('./tape/tapePlayer.js');
    create = () => {
      metrics?.tapeOperations.labels('replay').inc();
      return new TapePlayerTransport(tape, { ...player, logger });
    };
  } else if (gateway) {
    create = () => gateway.create();
  } else if ('url' in upstream) {
    const http = new (await loadHttpUpstream())({
      url: upstream.url,
      headers: upstream.headers,
      transport: upstream.transport,
      maxMessageBytes,
      logger,
    });
    remote = http;
    create = () => http.create();
  } else if (spec) {
    const restart = options.restart ?? null;
    create = () => {
      // The one already started (stdio: the only session), else a new process.
      const transport =
        started ?? new StdioClientTransport({ spec, processes, maxMessageBytes, logger, restart });
      started = undefined;
      return transport;
    };
  } else {
    throw new McpscopeError('CONFIG_INVALID', 'no upstream: give a command, a URL or a tape');
  }
  // The gateway bridges per upstream (its `bridge` key).
  const bridging = options.bridge === 'auto' && !('tape' in upstream) && !gateway;
  let Bridge: typeof BridgeTransport | undefined;
  if (bridging) {
    const bridge = await import('./bridge/bridge.js');
    const codec = new (await import('./bridge/requestState.js')).RequestStateCodec();
    Bridge = bridge.BridgeTransport;
    const Wrapper = bridge.BridgeTransport;
    const unbridged = create;
    create = () => new Wrapper(unbridged(), { logger, codec });
  }
  const factory: UpstreamFactory = { description: describeUpstream(upstream, gateway), create };

  if (options.inbound === 'http') {
    const { HttpListener } = await import('./transport/httpListener.js');
    listener = new HttpListener({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 8080,
      path: options.path,
      allowedOrigins: options.allowedOrigins ?? [],
      allowedHosts: options.allowedHosts,
      headersTimeoutMs: options.httpHeadersTimeoutMs,
      bodyTimeoutMs: options.httpBodyTimeoutMs,
      keepAliveMs: options.sseKeepaliveMs,
      maxMessageBytes,
      clientBufferBytes: options.clientBufferBytes,
      jsonResponse: options.jsonResponse ?? false,
      // In front of an HTTP server, that server checks its headers; a bridged one may be an older server.
      // The gateway renames what it routes, so it is the server that checks.
      checkModernHeaders: !('url' in upstream) || bridging,
      sessions,
      upstream: factory,
      logger,
      legacySse: options.legacySse ?? true,
      webSocket: options.webSocket ?? true,
      onReject: metrics ? (err) => metrics.errors.labels(err.code).inc() : undefined,
      auth: resourceServer,
    });
  }

  metrics?.setCollectors({
    processesActive: () => processes.size,
    streamBufferBytes: () => listener?.bufferedBytes ?? 0,
  });

  let stdioSession: Session | undefined;
  let shuttingDown: Promise<ShutdownReport> | undefined;
  const ready = async (): Promise<ReadyState> => {
    if (shuttingDown) return { ready: false, reason: 'mcpscope is shutting down' };
    if (gateway) return gatewayReady(gateway, breaker);
    if (breaker && breaker.state !== 'closed') {
      return {
        ready: false,
        reason: `the circuit breaker for ${upstreamName} is ${breaker.state}: requests fail fast until a probe succeeds`,
      };
    }
    if (options.inbound === 'stdio') {
      if (!stdioSession || stdioSession.closed) {
        return { ready: false, reason: 'the upstream server has exited' };
      }
      const outbound =
        Bridge && stdioSession.outbound instanceof Bridge
          ? stdioSession.outbound.inner
          : stdioSession.outbound;
      if (outbound instanceof StdioClientTransport && outbound.restarting) {
        return { ready: false, reason: 'the upstream server crashed and is being restarted' };
      }
      if (!stdioSession.serverAnswered) {
        return {
          ready: false,
          reason:
            'the upstream server is started but not initialized yet (it has not answered initialize or server/discover)',
        };
      }
      return { ready: true, reason: 'the upstream server answered initialize or server/discover' };
    }
    if (!remote) {
      const failed = processes.lastStartFailure;
      if (failed)
        return { ready: false, reason: `the last server process could not start: ${failed.message}` };
      return { ready: true, reason: 'listening; a server process starts with each session' };
    }
    return remote.probe();
  };

  let admin: AdminServer | undefined;
  if (options.admin) {
    const { ADMIN_BODY_OVERHEAD_BYTES, AdminServer, DEFAULT_ADMIN_HOST, DEFAULT_ADMIN_PORT } =
      await import('./admin/adminServer.js');
    const { StatsApi } = await import('./admin/statsApi.js');
    const { BreakpointsApi } = await import('./admin/breakpointsApi.js');
    const { RulesApi } = await import('./admin/rulesApi.js');
    admin = new AdminServer({
      host: options.admin.host ?? DEFAULT_ADMIN_HOST,
      port: options.admin.port ?? DEFAULT_ADMIN_PORT,
      metrics,
      metricsPath: options.admin.metricsPath,
      metricsIntervalMs: options.admin.metricsIntervalMs,
      token: options.admin.token,
      stats: stats ? new StatsApi(stats, sessions, { breakerState: () => breaker?.state }) : undefined,
      feed,
      breakpoints: breakpoints ? new BreakpointsApi(breakpoints) : undefined,
      rules: intercept ? new RulesApi(intercept) : undefined,
      tapes: { dir: options.record?.dir, redactor: await redactor() },
      maxBodyBytes: maxMessageBytes + ADMIN_BODY_OVERHEAD_BYTES,
      version: VERSION,
      ready,
      logger,
    });
  }

  let closing: Promise<void> | undefined;
  let exitCode = 0;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await listener?.close();
      await sessions.closeAll();
      await recorder?.flush();
      await processes.stopAll();
      await admin?.close();
      breaker?.close();
      // Sessions are closed: what they held went with them; anything left is let go.
      breakpoints?.close();
      intercept?.close();
      stopUndici?.();
      await remote?.close();
      await gateway?.close();
      await tracing
        ?.shutdown()
        .catch((err: unknown) => logger.warn({ err: String(err) }, 'could not flush traces'));
      resolveDone(exitCode);
    })();
    return closing;
  };

  const shutdown = (
    graceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
  ): Promise<ShutdownReport> => {
    shuttingDown ??= (async () => {
      const t0 = performance.now();
      listener?.stopAccepting();
      logger.info(
        { sessions: sessions.size, inFlight: sessions.inFlight, graceMs },
        'shutting down: waiting for requests in flight',
      );
      const failed = await sessions.drain(graceMs);
      const result = failed > 0 ? 'forced' : 'drained';
      const seconds = (performance.now() - t0) / 1000;
      // Counted and logged before close(): it takes the admin server down and lets the process exit.
      metrics?.processShutdowns.labels('mcpscope', result).inc();
      metrics?.processShutdownSeconds.labels('mcpscope').observe(seconds);
      logger[failed > 0 ? 'warn' : 'info'](
        { result, failed, drainSeconds: Math.round(seconds * 1000) / 1000 },
        failed > 0
          ? `shutting down: ${failed} request(s) were still in flight after ${graceMs} ms and got SHUTTING_DOWN errors`
          : 'shutting down: every request in flight was answered',
      );
      await close();
      return { result, failed, seconds };
    })();
    return shuttingDown;
  };

  // The admin server must never stop the proxy: listen() logs and carries on when its port is taken.
  await admin?.listen();
  const handle = (url: string | undefined): ProxyHandle => ({
    url,
    get adminUrl() {
      return admin?.url;
    },
    sessions,
    pipeline,
    metrics,
    ready,
    done,
    shutdown,
    close,
  });

  if (!listener) {
    // stdio: one session for the life of the process.
    const inbound = new StdioServerTransport({
      input: options.stdio?.input,
      output: options.stdio?.output,
      maxMessageBytes,
      clientBufferBytes: options.clientBufferBytes,
    });
    try {
      stdioSession = await sessions.create(sessions.reserve(), {
        inbound,
        outbound: factory.create(),
        upstream: factory.description,
      });
    } catch (err) {
      await close();
      throw err;
    }
    stdioSession.onClose((reason) => {
      // The child died: exit with its code (1 when it was killed by a signal).
      if (reason?.code === 'UPSTREAM_EXITED') exitCode = (reason.details?.exitCode as number | null) ?? 1;
      void close();
    });
    return handle(undefined);
  }

  try {
    await listener.listen();
  } catch (err) {
    await close();
    throw err instanceof McpscopeError
      ? err
      : new McpscopeError('CONFIG_INVALID', String(err), { cause: err });
  }
  return handle(listener.url);
}
