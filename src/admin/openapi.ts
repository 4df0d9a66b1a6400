import { VERSION } from '../version.js';

const num = { type: 'number' } as const;
const int = { type: 'integer', minimum: 0 } as const;
const nullableNum = { type: ['number', 'null'] } as const;

const trend = {
  type: 'object',
  required: ['direction', 'slope', 'change', 'confidence', 'points'],
  properties: {
    direction: { type: 'string', enum: ['rising', 'falling', 'stable'] },
    slope: num,
    change: num,
    confidence: { type: 'number', minimum: 0, maximum: 1 },
    points: int,
  },
  additionalProperties: false,
} as const;

const window = {
  type: 'object',
  required: ['windowS', 'calls', 'errors', 'errorRate', 'throughput', 'p50Ms', 'p95Ms', 'p99Ms'],
  properties: {
    windowS: num,
    calls: int,
    errors: int,
    errorRate: { type: 'number', minimum: 0, maximum: 1 },
    throughput: num,
    p50Ms: nullableNum,
    p95Ms: nullableNum,
    p99Ms: nullableNum,
  },
  additionalProperties: false,
} as const;

const targetProps = {
  windows: {
    type: 'object',
    required: ['1m', '5m', '1h'],
    properties: {
      '1m': { $ref: '#/components/schemas/Window' },
      '5m': { $ref: '#/components/schemas/Window' },
      '1h': { $ref: '#/components/schemas/Window' },
    },
    additionalProperties: false,
  },
  health: { type: 'integer', minimum: 0, maximum: 100 },
  trends: {
    type: 'object',
    required: ['latency', 'errorRate', 'traffic'],
    properties: {
      latency: { $ref: '#/components/schemas/Trend' },
      errorRate: { $ref: '#/components/schemas/Trend' },
      traffic: { $ref: '#/components/schemas/Trend' },
    },
    additionalProperties: false,
  },
} as const;

const listOf = (item: string) =>
  ({
    type: 'object',
    required: ['items', 'total', 'next_cursor'],
    properties: {
      items: { type: 'array', items: { $ref: `#/components/schemas/${item}` } },
      total: int,
      next_cursor: { type: ['string', 'null'] },
    },
    additionalProperties: false,
  }) as const;

const listParams = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } },
  {
    name: 'cursor',
    in: 'query',
    schema: { type: 'string' },
    description: 'next_cursor of the previous page',
  },
  {
    name: 'sort',
    in: 'query',
    schema: { type: 'string' },
    description: 'a field, prefixed with - for descending',
  },
  {
    name: 'filter',
    in: 'query',
    schema: { type: 'string' },
    description: '<field><op><value>; ops = != < <= > >=',
  },
];

const json = (schema: string, description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
});

const errors = {
  '400': json('BadParameter', 'a query parameter is not allowed or out of range'),
  '404': json('Error', 'no such name'),
};

const listPath = (summary: string, schema: string) => ({
  get: { summary, parameters: listParams, responses: { '200': json(schema, 'a page'), ...errors } },
});

const itemPath = (summary: string, param: string, schema: string) => ({
  get: {
    summary,
    parameters: [{ name: param, in: 'path', required: true, schema: { type: 'string' } }],
    responses: { '200': json(schema, 'figures'), '404': errors['404'] },
  },
});

/** The OpenAPI 3.1 document of the admin API, served at /openapi.json. */
export function openApiDocument(metricsPath: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'mcpscope admin API',
      version: VERSION,
      description: 'Metrics, health, readiness and statistics of a running mcpscope. Read-only.',
    },
    paths: {
      [metricsPath]: {
        get: {
          summary: 'Prometheus metrics (text exposition format)',
          responses: {
            '200': { description: 'metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
          },
        },
      },
      '/health': { get: { summary: 'Liveness', responses: { '200': json('Health', 'alive') } } },
      '/ready': {
        get: {
          summary: 'Readiness: the upstream can serve',
          responses: { '200': json('Ready', 'ready'), '503': json('Ready', 'not ready, with the reason') },
        },
      },
      '/stats': { get: { summary: 'The whole proxy', responses: { '200': json('SystemStats', 'figures') } } },
      '/stats/upstreams': listPath('Upstreams', 'TargetList'),
      '/stats/upstreams/{name}': itemPath('One upstream', 'name', 'UpstreamStats'),
      '/stats/tools': listPath('Tools', 'TargetList'),
      '/stats/tools/{name}': itemPath('One tool', 'name', 'ToolStats'),
      '/stats/sessions': listPath('Active sessions', 'SessionList'),
      '/stats/sessions/{id}': itemPath('One session', 'id', 'SessionRow'),
      '/trends': {
        get: {
          summary: 'What is rising or falling',
          responses: { '200': json('Trends', 'most significant first') },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
    },
    components: {
      schemas: {
        Window: window,
        Trend: trend,
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
        BadParameter: {
          type: 'object',
          required: ['error', 'parameter', 'allowed'],
          properties: {
            error: { type: 'string' },
            parameter: { type: 'string' },
            allowed: { type: 'string' },
          },
          additionalProperties: false,
        },
        Health: {
          type: 'object',
          required: ['status', 'uptime_s', 'version'],
          properties: { status: { const: 'ok' }, uptime_s: int, version: { type: 'string' } },
          additionalProperties: false,
        },
        Ready: {
          type: 'object',
          required: ['status', 'reason'],
          properties: { status: { enum: ['ready', 'not_ready'] }, reason: { type: 'string' } },
          additionalProperties: false,
        },
        SystemStats: {
          type: 'object',
          required: [
            'uptime_s',
            'sessions',
            'restarts_15m',
            'memory',
            'event_loop_lag_ms',
            'proxy_overhead_ms',
            'delivery_ratio',
            'bucket_s',
            'windows',
            'health',
            'trends',
          ],
          properties: {
            uptime_s: int,
            sessions: {
              type: 'object',
              required: ['active', 'total'],
              properties: { active: int, total: int },
              additionalProperties: false,
            },
            restarts_15m: int,
            memory: {
              type: 'object',
              required: ['rss_bytes', 'heap_used_bytes'],
              properties: { rss_bytes: int, heap_used_bytes: int },
              additionalProperties: false,
            },
            event_loop_lag_ms: {
              type: 'object',
              required: ['p50', 'p99'],
              properties: { p50: num, p99: num },
              additionalProperties: false,
            },
            proxy_overhead_ms: {
              type: 'object',
              required: ['p50', 'p99'],
              properties: { p50: nullableNum, p99: nullableNum },
              additionalProperties: false,
            },
            delivery_ratio: { type: 'number', minimum: 0, maximum: 1 },
            bucket_s: num,
            ...targetProps,
          },
          additionalProperties: false,
        },
        UpstreamStats: {
          type: 'object',
          required: ['name', 'restarts_15m', 'windows', 'health', 'trends'],
          properties: { name: { type: 'string' }, restarts_15m: int, ...targetProps },
          additionalProperties: false,
        },
        ToolStats: {
          type: 'object',
          required: ['name', 'windows', 'health', 'trends'],
          properties: { name: { type: 'string' }, ...targetProps },
          additionalProperties: false,
        },
        TargetRow: {
          type: 'object',
          required: ['name', 'health', 'calls', 'errorRate', 'p95Ms'],
          properties: {
            name: { type: 'string' },
            health: int,
            calls: int,
            errorRate: num,
            p95Ms: nullableNum,
          },
          additionalProperties: false,
        },
        TargetList: listOf('TargetRow'),
        SessionRow: {
          type: 'object',
          required: ['id', 'transport', 'client', 'startedAt', 'messages', 'idleMs'],
          properties: {
            id: { type: 'string' },
            transport: { type: 'string' },
            client: { type: ['string', 'null'] },
            startedAt: { type: 'string' },
            messages: int,
            idleMs: int,
          },
          additionalProperties: false,
        },
        SessionList: listOf('SessionRow'),
        Trends: {
          type: 'object',
          required: ['items'],
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object',
                required: [
                  'kind',
                  'name',
                  'metric',
                  'window_s',
                  'direction',
                  'slope',
                  'change',
                  'confidence',
                  'points',
                ],
                properties: {
                  kind: { enum: ['upstream', 'tool'] },
                  name: { type: 'string' },
                  metric: { enum: ['latency', 'errorRate', 'traffic'] },
                  window_s: num,
                  ...trend.properties,
                },
                additionalProperties: false,
              },
            },
          },
          additionalProperties: false,
        },
      },
    },
  };
}
