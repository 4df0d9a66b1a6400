import { z } from 'zod';
import { DEFAULT_ADMIN_HOST, DEFAULT_ADMIN_PORT } from '../admin/adminServer.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../jsonrpc/framing.js';
import { DEFAULT_TAPE_QUEUE_BYTES } from '../tape/tapeWriter.js';
import {
  DEFAULT_CARDINALITY_LIMIT,
  DEFAULT_LATENCY_BUCKETS,
  DEFAULT_METRIC_PREFIX,
} from '../observe/metrics.js';
import { DEFAULT_GRACE_MS } from '../process/processManager.js';
import { DEFAULT_CLIENT_BUFFER_BYTES, MIN_CLIENT_BUFFER_BYTES } from '../transport/transport.js';
import {
  DEFAULT_BREAKER_ERROR_RATE,
  DEFAULT_BREAKER_FAILURES,
  DEFAULT_BREAKER_MIN_REQUESTS,
  DEFAULT_BREAKER_RESET_MS,
  DEFAULT_BREAKER_WINDOW_MS,
} from '../resilience/circuitBreaker.js';
import { parseRate } from '../resilience/tokenBucket.js';

import {
  DEFAULT_MAX_SESSIONS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SESSION_IDLE_MS,
  DEFAULT_SHUTDOWN_GRACE_MS,
} from '../session/sessionManager.js';

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

/** Every setting mcpscope reads, with its default. Flags, MCPSCOPE_* env and the config file all feed it. */
export const configSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: int(0, 65_535).default(8080),
    path: z.string().startsWith('/').default('/mcp'),
    upstream: z.url({ protocol: /^(https?|wss?)$/ }).optional(),
    upstreamTransport: z.enum(['auto', 'streamable-http', 'sse', 'websocket']).default('auto'),
    upstreamHeaders: z.record(z.string(), z.string()).default({}),
    allowedOrigins: z.array(z.string()).default([]),
    allowedHosts: z.array(z.string().toLowerCase()).default([]),
    httpHeadersTimeoutMs: int(100).default(10_000),
    httpBodyTimeoutMs: int(100).default(30_000),
    sseKeepaliveMs: int(100).default(25_000),
    jsonResponse: bool.default(false),
    legacySse: bool.default(true),
    websocket: bool.default(true),
    maxMessageBytes: int(1024).default(DEFAULT_MAX_MESSAGE_BYTES),
    clientBufferBytes: int(MIN_CLIENT_BUFFER_BYTES).default(DEFAULT_CLIENT_BUFFER_BYTES),
    requestTimeoutMs: int(1).default(DEFAULT_REQUEST_TIMEOUT_MS),
    sessionIdleMs: int(0).default(DEFAULT_SESSION_IDLE_MS),
    maxSessions: int(1).default(DEFAULT_MAX_SESSIONS),
    graceMs: int(0).default(DEFAULT_GRACE_MS),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    logFile: z.string().optional(),
    logMessages: bool.default(false),
    upstreamName: z.string().min(1).max(200).optional(),
    restart: z.enum(['never', 'on-failure']).default('never'),
    maxRestarts: int(0).default(5),
    admin: bool.default(true),
    adminHost: z.string().min(1).default(DEFAULT_ADMIN_HOST),
    adminPort: int(0, 65_535).default(DEFAULT_ADMIN_PORT),
    adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
    metrics: bool.default(true),
    metricsPath: z.string().startsWith('/').default('/metrics'),
    metricsPrefix: z
      .string()
      .regex(
        /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/,
        'must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)',
      )
      .default(DEFAULT_METRIC_PREFIX),
    metricsBuckets: z
      .array(z.coerce.number().positive())
      .min(1)
      .refine(
        (b) => b.every((v, i) => i === 0 || v > (b[i - 1] as number)),
        'buckets must be strictly increasing',
      )
      .default(DEFAULT_LATENCY_BUCKETS),
    metricsCardinalityLimit: int(1).default(DEFAULT_CARDINALITY_LIMIT),
    metricsIntervalMs: int(0).default(0),
    statsBucketMs: int(10).default(10_000),
    otlpEndpoint: z.url({ protocol: /^https?$/ }).optional(),
    traceSampleRatio: z.coerce.number().min(0).max(1).default(1),
    record: z.string().min(1).optional(),
    redact: bool.default(true),
    redactPaths: z.array(z.string().min(1)).default([]),
    redactPatterns: z.array(z.string().min(1)).default([]),
    tapeQueueBytes: int(4096).default(DEFAULT_TAPE_QUEUE_BYTES),
    breaker: bool.default(true),
    breakerFailures: int(1).default(DEFAULT_BREAKER_FAILURES),
    breakerErrorRate: z.coerce.number().min(0).max(1).default(DEFAULT_BREAKER_ERROR_RATE),
    breakerWindowMs: int(100).default(DEFAULT_BREAKER_WINDOW_MS),
    breakerMinRequests: int(1).default(DEFAULT_BREAKER_MIN_REQUESTS),
    breakerResetMs: int(10).default(DEFAULT_BREAKER_RESET_MS),
    rateLimitGlobal: rate.optional(),
    rateLimitClient: rate.optional(),
    rateLimitClientKey: z.enum(['session', 'address', 'subject']).default('session'),
    rateLimitTool: rate.optional(),
    rateLimitTools: z.record(z.string(), rate).default({}),
    shutdownGraceMs: int(0).default(DEFAULT_SHUTDOWN_GRACE_MS),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type ConfigKey = keyof Config;

export const CONFIG_KEYS = Object.keys(configSchema.shape) as ConfigKey[];
