import { z } from 'zod';
import { DEFAULT_ADMIN_HOST, DEFAULT_ADMIN_PORT } from '../admin/adminDefaults.js';
import { DEFAULT_FEED_BODY_BYTES, DEFAULT_FEED_CLOSED_SESSIONS, DEFAULT_FEED_EVENTS } from '../admin/feed.js';
import { authSetting } from '../auth/options.js';
import { McpscopeError } from '../jsonrpc/errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../jsonrpc/framing.js';
import {
  DEFAULT_CARDINALITY_LIMIT,
  DEFAULT_LATENCY_BUCKETS,
  DEFAULT_METRIC_PREFIX,
} from '../observe/metricDefaults.js';
import { DEFAULT_GRACE_MS } from '../process/processManager.js';
import {
  DEFAULT_BREAKER_ERROR_RATE,
  DEFAULT_BREAKER_FAILURES,
  DEFAULT_BREAKER_MIN_REQUESTS,
  DEFAULT_BREAKER_RESET_MS,
  DEFAULT_BREAKER_WINDOW_MS,
} from '../resilience/circuitBreaker.js';
import { parseRate } from '../resilience/tokenBucket.js';
import {
  DEFAULT_MAX_PROCESSES,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_PROCESS_IDLE_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SESSION_IDLE_MS,
  DEFAULT_SHUTDOWN_GRACE_MS,
} from '../session/sessionManager.js';
import { DEFAULT_TAPE_QUEUE_BYTES } from '../tape/tapeWriter.js';
import { DEFAULT_CLIENT_BUFFER_BYTES, MIN_CLIENT_BUFFER_BYTES } from '../transport/transport.js';

/** The commands that take settings. */
export type SettingCommand = 'forward stdio' | 'forward http' | 'replay' | 'gateway';

/** One setting, declared once: the config schema, the CLI flags and README's table are built from these. */
export interface Setting<T extends z.ZodType = z.ZodType> {
  /**
   * The flag, e.g. `--request-timeout-ms <ms>`, `--log-messages` or `--no-breaker`. Every flag also reads
   * the setting's `MCPSCOPE_*` variable (`envName`). None: a config-file key only, with no variable either.
   */
  flag?: string;
  /** One line for --help (and README's table). */
  help: string;
  /** What is allowed, with the default; flags and env give strings, so numbers coerce. */
  type: T;
  /** The commands whose --help lists the flag (a config file may set any setting for any command). */
  commands: readonly SettingCommand[];
  /**
   * Turns each flag value into the input of `type`, accumulating repeated flags (`list`, `header`); --help
   * then shows no default. None: the string as given, and --help shows the default.
   */
  parse?: (value: string, previous: never) => unknown;
  /** More for README's table than --help has room for (markdown). */
  docs?: string;
}

/** Every command that takes settings. */
const ALL: readonly SettingCommand[] = ['forward stdio', 'forward http', 'replay', 'gateway'];
/** The commands with one upstream (the gateway sets each of its upstreams' own in its config file). */
const ONE_UPSTREAM: readonly SettingCommand[] = ['forward stdio', 'forward http', 'replay'];
/** The commands that can listen on HTTP (`replay` does with --port). */
const HTTP: readonly SettingCommand[] = ['forward http', 'replay', 'gateway'];
/** The commands with a live upstream (not replay, whose upstream is a tape). */
const FORWARD: readonly SettingCommand[] = ['forward stdio', 'forward http'];
/** The commands that run upstreams of their own (not replay, whose upstream is a tape). */
const PROXYING: readonly SettingCommand[] = ['forward stdio', 'forward http', 'gateway'];
/** The commands that start server processes per session. */
const PROCESSES: readonly SettingCommand[] = ['forward http', 'gateway'];

/** The setting's environment variable: `requestTimeoutMs` → `MCPSCOPE_REQUEST_TIMEOUT_MS`. */
export function envName(key: string): string {
  return `MCPSCOPE_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** "a,b" and repeated flags become one list. */
export const list = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
];

/** Repeated flags become one list, each value whole (it may hold commas). */
const append = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** "Name: value" (repeatable) becomes a header record with lower-case names. */
export function header(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const colon = value.indexOf(':');
  if (colon <= 0)
    throw new McpscopeError('CONFIG_INVALID', `--upstream-header needs "Name: value", got "${value}"`);
  return { ...previous, [value.slice(0, colon).trim().toLowerCase()]: value.slice(colon + 1).trim() };
}

/** "10/s", "600/m", "5000/h", with ":BURST" for bursts ("10/s:20"). */
const rate = z.string().transform((value, ctx) => {
  try {
    return parseRate(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

const bool = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes'),
]);

const table = <const T extends Record<string, Setting>>(settings: T): T => settings;

/**
 * Every setting mcpscope reads, in --help order. To add one: an entry here, its use in `run()` in
 * src/cli/main.ts, then `npm run docs:settings` for README's table.
 */
export const SETTINGS = table({
  host: {
    flag: '--host <host>',
    help: 'address to listen on (0.0.0.0 exposes the proxy to the network)',
    type: z.string().min(1).default('127.0.0.1'),
    commands: HTTP,
  },
  port: {
    flag: '--port <port>',
    help: 'port to listen on (0 picks a free one)',
    type: int(0, 65_535).default(8080),
    commands: HTTP,
    docs: '`replay` listens on HTTP only when it is given',
  },
  path: {
    flag: '--path <path>',
    help: 'endpoint path',
    type: z.string().startsWith('/').default('/mcp'),
    commands: HTTP,
  },
  allowedOrigins: {
    flag: '--allowed-origin <origin>',
    help: 'Origin allowed besides localhost (repeatable, * for any)',
    type: z.array(z.string()).default([]),
    commands: HTTP,
    parse: list,
  },
  allowedHosts: {
    flag: '--allowed-host <name>',
    help: 'Host name allowed besides loopback ones (repeatable)',
    type: z.array(z.string().toLowerCase()).default([]),
    commands: HTTP,
    parse: list,
  },
  auth: {
    flag: '--auth-config <file>',
    help: 'require OAuth access tokens (mcpscope as an OAuth 2.1 resource server): a YAML or JSON file with issuer, audience, scopes, …',
    type: authSetting.optional(),
    commands: HTTP,
    docs: 'see docs/auth.md; in a config file, the `auth` block itself or a file name',
  },
  httpHeadersTimeoutMs: {
    flag: '--http-headers-timeout-ms <ms>',
    help: 'time a client may take to send request headers',
    type: int(100).default(10_000),
    commands: HTTP,
  },
  httpBodyTimeoutMs: {
    flag: '--http-body-timeout-ms <ms>',
    help: 'time a client may take to send a whole request',
    type: int(100).default(30_000),
    commands: HTTP,
  },
  sseKeepaliveMs: {
    flag: '--sse-keepalive-ms <ms>',
    help: 'interval of keep-alive comments on idle GET streams',
    type: int(100).default(25_000),
    commands: HTTP,
  },
  jsonResponse: {
    flag: '--json-response',
    help: 'answer requests with JSON instead of SSE',
    type: bool.default(false),
    commands: HTTP,
  },
  legacySse: {
    flag: '--no-legacy-sse',
    help: 'do not serve legacy HTTP+SSE clients (GET /sse, POST /messages)',
    type: bool.default(true),
    commands: HTTP,
  },
  websocket: {
    flag: '--no-websocket',
    help: 'do not accept WebSocket upgrades on the endpoint path',
    type: bool.default(true),
    commands: HTTP,
  },
  sessionIdleMs: {
    flag: '--session-idle-ms <ms>',
    help: 'close a session after this long without traffic (0 = never)',
    type: int(0).default(DEFAULT_SESSION_IDLE_MS),
    commands: HTTP,
  },
  maxSessions: {
    flag: '--max-sessions <n>',
    help: 'most concurrent sessions',
    type: int(1).default(DEFAULT_MAX_SESSIONS),
    commands: HTTP,
    docs: 'over it: HTTP 503',
  },
  processIdleMs: {
    flag: '--process-idle-ms <ms>',
    help: 'close a session and stop its server process after this long idle (0 = never)',
    type: int(0).default(DEFAULT_PROCESS_IDLE_MS),
    commands: PROCESSES,
    docs: 'only with a server command (one process per session); idle: no traffic and no request in flight, open streams or not; `--session-idle-ms` applies too',
  },
  maxProcesses: {
    flag: '--max-processes <n>',
    help: 'most server processes (one per session) at once',
    type: int(1).default(DEFAULT_MAX_PROCESSES),
    commands: PROCESSES,
    docs: 'only with a server command; at the limit a new session stops the least recently used idle one (no request in flight) and closes its session; with none idle: HTTP 503',
  },
  upstream: {
    flag: '--upstream <url>',
    help: 'a remote server instead of a command: http(s):// (Streamable HTTP or legacy SSE) or ws(s)://',
    type: z.url({ protocol: /^(https?|wss?)$/ }).optional(),
    commands: FORWARD,
  },
  upstreamTransport: {
    flag: '--upstream-transport <kind>',
    help: 'auto (detect Streamable HTTP, fall back to legacy SSE), streamable-http, sse or websocket',
    type: z.enum(['auto', 'streamable-http', 'sse', 'websocket']).default('auto'),
    commands: FORWARD,
  },
  bridge: {
    flag: '--bridge <mode>',
    help: 'translate between protocol eras: off, or auto (ask the server server/discover at each session, translate when client and server differ)',
    type: z.enum(['off', 'auto']).default('off'),
    commands: FORWARD,
    docs: 'an older client with a 2026-07-28 server, or a 2026-07-28 client with an older server: see docs/bridging.md',
  },
  upstreamHeaders: {
    flag: '--upstream-header <header>',
    help: 'header sent to the upstream, "Name: value" (repeatable)',
    type: z.record(z.string(), z.string()).default({}),
    commands: ONE_UPSTREAM,
    parse: header,
  },
  maxMessageBytes: {
    flag: '--max-message-bytes <bytes>',
    help: 'largest JSON-RPC message accepted',
    type: int(1024).default(DEFAULT_MAX_MESSAGE_BYTES),
    commands: ALL,
    docs: 'over it: JSON-RPC error -32600 / HTTP 413',
  },
  clientBufferBytes: {
    flag: '--client-buffer-bytes <bytes>',
    help: 'bytes a client may leave unread per session: the server is paused past a quarter, a stream cut past all',
    type: int(MIN_CLIENT_BUFFER_BYTES).default(DEFAULT_CLIENT_BUFFER_BYTES),
    commands: ALL,
    docs: 'the pause comes at most 1 MiB in; a cut SSE stream resumes with `Last-Event-ID`',
  },
  requestTimeoutMs: {
    flag: '--request-timeout-ms <ms>',
    help: 'time a request may wait for its answer',
    type: int(1).default(DEFAULT_REQUEST_TIMEOUT_MS),
    commands: ALL,
    docs: 'then error -32001, and the server gets `notifications/cancelled`',
  },
  graceMs: {
    flag: '--grace-ms <ms>',
    help: 'SIGTERM to SIGKILL grace when stopping a server process',
    type: int(0).default(DEFAULT_GRACE_MS),
    commands: PROXYING,
  },
  shutdownGraceMs: {
    flag: '--shutdown-grace-ms <ms>',
    help: 'on SIGTERM, time requests in flight get to finish before they are failed',
    type: int(0).default(DEFAULT_SHUTDOWN_GRACE_MS),
    commands: ALL,
    docs: 'the rest are answered `SHUTTING_DOWN`',
  },
  breaker: {
    flag: '--no-breaker',
    help: 'no circuit breaker on the upstream (on by default)',
    type: bool.default(true),
    commands: PROXYING,
  },
  breakerFailures: {
    flag: '--breaker-failures <n>',
    help: 'consecutive upstream failures that open the breaker',
    type: int(1).default(DEFAULT_BREAKER_FAILURES),
    commands: PROXYING,
  },
  breakerErrorRate: {
    flag: '--breaker-error-rate <ratio>',
    help: 'share of failed requests over the window that opens the breaker (0 = off)',
    type: z.coerce.number().min(0).max(1).default(DEFAULT_BREAKER_ERROR_RATE),
    commands: PROXYING,
  },
  breakerWindowMs: {
    flag: '--breaker-window-ms <ms>',
    help: 'window of the error-rate rule',
    type: int(100).default(DEFAULT_BREAKER_WINDOW_MS),
    commands: PROXYING,
  },
  breakerMinRequests: {
    flag: '--breaker-min-requests <n>',
    help: 'requests the window must hold before the error-rate rule applies',
    type: int(1).default(DEFAULT_BREAKER_MIN_REQUESTS),
    commands: PROXYING,
  },
  breakerResetMs: {
    flag: '--breaker-reset-ms <ms>',
    help: 'time open before one probe request is let through',
    type: int(10).default(DEFAULT_BREAKER_RESET_MS),
    commands: PROXYING,
  },
  rateLimitGlobal: {
    flag: '--rate-limit-global <rate>',
    help: 'limit on all requests together, e.g. 100/s or 100/s:200 (burst)',
    type: rate.optional(),
    commands: ALL,
    docs: 'over a limit: HTTP 429 with `Retry-After`, or JSON-RPC error -32029',
  },
  rateLimitClient: {
    flag: '--rate-limit-client <rate>',
    help: 'limit per client, e.g. 10/s:20',
    type: rate.optional(),
    commands: ALL,
  },
  rateLimitClientKey: {
    flag: '--rate-limit-client-key <key>',
    help: 'what a client is: session, address (remote IP) or subject (the token subject with --auth-config, else the bearer credential)',
    type: z.enum(['session', 'address', 'subject']).default('session'),
    commands: ALL,
  },
  rateLimitTool: {
    flag: '--rate-limit-tool <rate>',
    help: 'limit per tool (tools/call), all clients together, e.g. 600/m',
    type: rate.optional(),
    commands: ALL,
  },
  rateLimitTools: {
    help: 'limits of named tools, in place of --rate-limit-tool',
    type: z.record(z.string(), rate).default({}),
    commands: ALL,
    docs: 'config file only, e.g. `{ "search": "1/s" }`',
  },
  rules: {
    flag: '--rules <file>',
    help: 'interception rules (YAML or JSON) that mock, fail, delay, patch, drop or hold messages; reloaded when the file changes',
    type: z.string().min(1).optional(),
    commands: ALL,
    docs: 'see docs/interception.md; `mcpscope rules check FILE` validates one',
  },
  breakpointTimeoutMs: {
    flag: '--breakpoint-timeout-ms <ms>',
    help: 'a message held at a breakpoint is released unchanged after this long',
    type: int(1_000).default(300_000),
    commands: ALL,
  },
  restart: {
    flag: '--restart <policy>',
    help: 'never, or on-failure: restart a crashed server and replay its handshake',
    type: z.enum(['never', 'on-failure']).default('never'),
    commands: PROXYING,
  },
  maxRestarts: {
    flag: '--max-restarts <n>',
    help: 'most restarts of one server process (with --restart on-failure)',
    type: int(0).default(5),
    commands: PROXYING,
  },
  logLevel: {
    flag: '--log-level <level>',
    help: 'fatal, error, warn, info, debug, trace or silent',
    type: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    commands: ALL,
  },
  logFile: {
    flag: '--log-file <path>',
    help: 'write logs to this file (default: stderr; never stdout)',
    type: z.string().optional(),
    commands: ALL,
  },
  logMessages: {
    flag: '--log-messages',
    help: 'log each message: direction, method, id, size, latency',
    type: bool.default(false),
    commands: ALL,
  },
  upstreamName: {
    flag: '--upstream-name <name>',
    help: 'the upstream metric label (default: URL host or command)',
    type: z.string().min(1).max(200).optional(),
    commands: ALL,
  },
  admin: {
    flag: '--no-admin',
    help: 'do not start the admin server (/metrics, /health, /ready)',
    type: bool.default(true),
    commands: ALL,
  },
  adminHost: {
    flag: '--admin-host <host>',
    help: 'admin server address',
    type: z.string().min(1).default(DEFAULT_ADMIN_HOST),
    commands: ALL,
  },
  adminToken: {
    flag: '--admin-token <token>',
    help: 'bearer token for the admin API (required beyond loopback)',
    type: z.string().min(16, 'must be at least 16 characters').optional(),
    commands: ALL,
    docs: 'prefer `MCPSCOPE_ADMIN_TOKEN`: a flag shows in `ps`',
  },
  adminPort: {
    flag: '--admin-port <port>',
    help: 'admin server port (0 picks a free one; a taken port only warns)',
    type: int(0, 65_535).default(DEFAULT_ADMIN_PORT),
    commands: ALL,
  },
  feed: {
    flag: '--no-feed',
    help: 'no live feed of session events on the admin server (/sessions, /events)',
    type: bool.default(true),
    commands: ALL,
  },
  feedEvents: {
    flag: '--feed-events <n>',
    help: 'events kept per session in the live feed',
    type: int(1).default(DEFAULT_FEED_EVENTS),
    commands: ALL,
  },
  feedClosedSessions: {
    flag: '--feed-closed-sessions <n>',
    help: 'closed sessions the live feed keeps',
    type: int(0).default(DEFAULT_FEED_CLOSED_SESSIONS),
    commands: ALL,
  },
  feedBodyBytes: {
    flag: '--feed-body-bytes <bytes>',
    help: 'bytes of one message the live feed keeps; longer ones are truncated and marked',
    type: int(256).default(DEFAULT_FEED_BODY_BYTES),
    commands: ALL,
  },
  metrics: {
    flag: '--no-metrics',
    help: 'do not collect Prometheus metrics',
    type: bool.default(true),
    commands: ALL,
  },
  metricsPath: {
    flag: '--metrics-path <path>',
    help: 'path of the Prometheus endpoint on the admin server',
    type: z.string().startsWith('/').default('/metrics'),
    commands: ALL,
  },
  metricsPrefix: {
    flag: '--metrics-prefix <prefix>',
    help: 'prefix of every metric name',
    type: z
      .string()
      .regex(
        /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/,
        'must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)',
      )
      .default(DEFAULT_METRIC_PREFIX),
    commands: ALL,
  },
  metricsBuckets: {
    flag: '--metrics-buckets <seconds>',
    help: 'latency histogram buckets, comma-separated seconds',
    type: z
      .array(z.coerce.number().positive())
      .min(1)
      .refine(
        (b) => b.every((v, i) => i === 0 || v > (b[i - 1] as number)),
        'buckets must be strictly increasing',
      )
      .default(DEFAULT_LATENCY_BUCKETS),
    commands: ALL,
    parse: list,
  },
  metricsCardinalityLimit: {
    flag: '--metrics-cardinality-limit <n>',
    help: 'distinct methods or tools per label before the rest fold into "other"',
    type: int(1).default(DEFAULT_CARDINALITY_LIMIT),
    commands: ALL,
  },
  metricsIntervalMs: {
    flag: '--metrics-interval-ms <ms>',
    help: 'reuse one collection for scrapes within this time',
    type: int(0).default(0),
    commands: ALL,
  },
  otlpEndpoint: {
    flag: '--otlp-endpoint <url>',
    help: 'send OpenTelemetry traces (OTLP/HTTP) here; OTEL_EXPORTER_OTLP_ENDPOINT works too',
    type: z.url({ protocol: /^https?$/ }).optional(),
    commands: ALL,
  },
  traceSampleRatio: {
    flag: '--trace-sample-ratio <ratio>',
    help: 'share of new traces sampled, 0 to 1',
    type: z.coerce.number().min(0).max(1).default(1),
    commands: ALL,
  },
  record: {
    flag: '--record <dir>',
    help: 'record every session to a tape in this directory',
    type: z.string().min(1).optional(),
    commands: ['forward stdio', 'forward http', 'gateway'],
  },
  redact: {
    flag: '--no-redact',
    help: 'keep secrets in tapes and the live feed (redaction is on by default)',
    type: bool.default(true),
    commands: ALL,
  },
  redactPaths: {
    flag: '--redact-path <path>',
    help: 'also redact this JSON path in every message, e.g. params.arguments.password (repeatable)',
    type: z.array(z.string().min(1)).default([]),
    commands: ALL,
    parse: list,
  },
  redactPatterns: {
    flag: '--redact-pattern <regex>',
    help: 'also redact matches of this regular expression in any string (repeatable)',
    type: z.array(z.string().min(1)).default([]),
    commands: ALL,
    parse: append,
  },
  redactHeaders: {
    flag: '--redact-header <name>',
    help: 'also redact this header (repeatable); headers named like credentials (token, key, secret, auth, password, session, cookie) always are',
    type: z.array(z.string().min(1)).default([]),
    commands: ALL,
    parse: append,
  },
  tapeQueueBytes: {
    flag: '--tape-queue-bytes <bytes>',
    help: 'memory one tape may use waiting for the disk',
    type: int(4096).default(DEFAULT_TAPE_QUEUE_BYTES),
    commands: PROXYING,
  },
  statsBucketMs: {
    flag: '--stats-bucket-ms <ms>',
    help: 'width of one stats window bucket (the stats API keeps 360)',
    type: int(10).default(10_000),
    commands: ALL,
  },
});

export type SettingKey = keyof typeof SETTINGS;

/** The table's entries in order, with their keys. */
export const SETTING_ENTRIES = Object.entries(SETTINGS) as Array<[SettingKey, Setting]>;
