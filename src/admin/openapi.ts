import { VERSION } from '../version.js';
import { FEED_EVENT_TYPES } from './feedTypes.js';
import { devtoolsPaths, devtoolsSchemas, seriesParam } from './openapiDevtools.js';
import { idParam, int, json, nullableNum, num, str } from './openapiParts.js';

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
  series: { $ref: '#/components/schemas/StatsSeries' },
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

const errors = {
  '400': json('BadParameter', 'a query parameter is not allowed or out of range'),
  '404': json('Error', 'no such name'),
};

const listPath = (summary: string, schema: string) => ({
  get: { summary, parameters: listParams, responses: { '200': json(schema, 'a page'), ...errors } },
});

const itemPath = (summary: string, param: string, schema: string, series = false) => ({
  get: {
    summary,
    parameters: [
      { name: param, in: 'path', required: true, schema: { type: 'string' } },
      ...(series ? [seriesParam] : []),
    ],
    responses: { '200': json(schema, 'figures'), ...errors },
  },
});

const jsonBody = (schema: string, required: boolean, description: string) => ({
  required,
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
});

const tooLarge = json('Error', 'the body is over --max-message-bytes (and 64 KiB)');
const notHeld = json('Error', 'no such held message (let go already, or never held)');

/** Breakpoints and held messages (src/admin/breakpointsApi.ts). */
const breakpointPaths = {
  '/breakpoints': {
    get: {
      summary: 'Breakpoints set over this API, in the order they are tried',
      responses: { '200': json('BreakpointList', 'breakpoints') },
    },
    post: {
      summary:
        'Set a breakpoint: messages its match fits are held (later messages of that session and direction wait behind them) until let go at /paused/{id}, or released unchanged after --breakpoint-timeout-ms',
      requestBody: jsonBody('BreakpointCreate', true, 'the match, as a rule’s (docs/interception.md)'),
      responses: {
        '201': json('Breakpoint', 'set; `Location` names it'),
        '400': json('Invalid', 'the body is not valid: each problem names the key and what was expected'),
        '409': json('Error', 'as many breakpoints are set as may be (100)'),
        '413': tooLarge,
      },
    },
  },
  '/breakpoints/{id}': {
    get: {
      summary: 'One breakpoint',
      parameters: [idParam('the breakpoint id')],
      responses: { '200': json('Breakpoint', 'the breakpoint'), '404': json('Error', 'no such breakpoint') },
    },
    delete: {
      summary: 'Remove a breakpoint (messages it holds stay held)',
      parameters: [idParam('the breakpoint id')],
      responses: { '204': { description: 'removed' }, '404': json('Error', 'no such breakpoint') },
    },
  },
  '/paused': {
    get: {
      summary: 'Messages held now (at a breakpoint or a rule with break: true), oldest first',
      responses: { '200': json('PausedList', 'held messages') },
    },
  },
  '/paused/{id}': {
    get: {
      summary: 'One held message',
      parameters: [idParam('the held message id')],
      responses: { '200': json('Paused', 'the held message'), '404': notHeld },
    },
  },
  '/paused/{id}/resume': {
    post: {
      summary:
        'Send it on: unchanged, or as `message` (valid JSON-RPC, of the same kind, with the same id; a request keeps its method)',
      parameters: [idParam('the held message id')],
      requestBody: jsonBody('Resume', false, 'none, or the edited message'),
      responses: {
        '200': json('PauseAnswer', 'sent on (state resumed or edited)'),
        '400': json('Invalid', 'the edit is refused (the reason says why); the message stays held'),
        '404': notHeld,
        '413': tooLarge,
      },
    },
  },
  '/paused/{id}/drop': {
    post: {
      summary:
        'Let it go no further: a request is answered with a DROPPED_AT_BREAKPOINT error, an answer replaced by it, a notification dropped',
      parameters: [idParam('the held message id')],
      responses: { '200': json('PauseAnswer', 'dropped'), '404': notHeld },
    },
  },
  '/paused/{id}/reply': {
    post: {
      summary: "Answer a held request in the other side's name",
      parameters: [idParam('the held message id')],
      requestBody: jsonBody('Reply', true, '`result`, or `error`'),
      responses: {
        '200': json('PauseAnswer', 'answered (state replied)'),
        '400': json('Invalid', 'the body is not valid, or the held message is not a request; it stays held'),
        '404': notHeld,
        '413': tooLarge,
      },
    },
  },
};

const match = {
  type: 'object',
  description:
    'Which messages: every key given must fit (docs/interception.md). Without `direction` anywhere, messages from the client.',
  properties: {
    direction: { enum: ['request', 'response'] },
    method: { type: 'string', minLength: 1, description: 'exact, or a glob such as resources/*' },
    tool: {
      type: 'string',
      minLength: 1,
      description: 'tools/call: params.name; prompts/get, resources/read: name or uri',
    },
    arguments: {
      type: 'object',
      description: 'each listed argument equals this value, or matches { "regex": "…" }',
    },
    path: { type: 'string', pattern: '^\\$', description: 'a JSONPath into the message' },
    equals: { description: 'with path: a value found there equals this' },
    matches: { type: 'string', description: 'with path: a string found there matches this regex' },
    session: { type: 'string', minLength: 1, description: "the session id or the client's name" },
    upstream: { type: 'string', minLength: 1 },
    all: { type: 'array', items: { $ref: '#/components/schemas/Match' } },
    any: { type: 'array', items: { $ref: '#/components/schemas/Match' } },
    not: { $ref: '#/components/schemas/Match' },
  },
  additionalProperties: false,
} as const;

const breakpointSchemas = {
  Match: match,
  BreakpointCreate: {
    type: 'object',
    required: ['match'],
    properties: { match: { $ref: '#/components/schemas/Match' } },
    additionalProperties: false,
  },
  Breakpoint: {
    type: 'object',
    required: ['id', 'match', 'hits'],
    properties: {
      id: str,
      match: { $ref: '#/components/schemas/Match' },
      hits: { ...int, description: 'messages it has held' },
    },
    additionalProperties: false,
  },
  BreakpointList: {
    type: 'object',
    required: ['breakpoints'],
    properties: { breakpoints: { type: 'array', items: { $ref: '#/components/schemas/Breakpoint' } } },
    additionalProperties: false,
  },
  Paused: {
    type: 'object',
    required: ['id', 'session', 'direction', 'kind', 'cause', 'message', 'heldMs', 'releasedInMs'],
    properties: {
      id: str,
      session: str,
      direction: { enum: ['client-to-server', 'server-to-client'] },
      kind: { enum: ['request', 'notification', 'response', 'error'] },
      method: { type: 'string', description: "the message's method (an answer's: its request's)" },
      messageId: { type: ['string', 'integer'], description: "the message's JSON-RPC id" },
      cause: { type: 'string', description: 'breakpoint:<id>, or the name of a rule with break: true' },
      message: { type: 'object', description: 'the JSON-RPC message, secrets redacted as in the live feed' },
      heldMs: int,
      releasedInMs: { ...int, description: 'time left before it is released unchanged' },
    },
    additionalProperties: false,
  },
  PausedList: {
    type: 'object',
    required: ['paused'],
    properties: { paused: { type: 'array', items: { $ref: '#/components/schemas/Paused' } } },
    additionalProperties: false,
  },
  PauseAnswer: {
    type: 'object',
    required: ['id', 'state'],
    properties: { id: str, state: { enum: ['resumed', 'edited', 'dropped', 'replied'] } },
    additionalProperties: false,
  },
  Resume: {
    type: 'object',
    properties: { message: { type: 'object', description: 'the edited JSON-RPC message' } },
    additionalProperties: false,
  },
  Reply: {
    oneOf: [
      {
        type: 'object',
        required: ['result'],
        properties: { result: {} },
        additionalProperties: false,
      },
      {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: { code: { type: 'integer' }, message: str, data: {} },
            additionalProperties: false,
          },
        },
        additionalProperties: false,
      },
    ],
  },
  Invalid: {
    type: 'object',
    required: ['error'],
    properties: {
      error: str,
      problems: {
        type: 'array',
        items: {
          type: 'object',
          required: ['key', 'expected'],
          properties: { key: str, expected: str },
          additionalProperties: false,
        },
      },
    },
    additionalProperties: false,
  },
};

/** The OpenAPI 3.1 document of the admin API, served at /openapi.json. */
export function openApiDocument(metricsPath: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'mcpscope admin API',
      version: VERSION,
      description:
        'Metrics, health, readiness, statistics, the live feed, breakpoints and held messages, rules and recorded tapes of a running mcpscope. Read-only but for /breakpoints, /paused and /rules.',
    },
    paths: {
      '/': {
        get: {
          summary:
            'The DevTools page (HTML; its script and style at /devtools/app.js and /devtools/app.css). With --admin-token, open it once as /?token=…: the token is swapped for an HttpOnly cookie and the browser sent to /',
          parameters: [
            {
              name: 'token',
              in: 'query',
              required: false,
              description: 'The --admin-token value, once; answered with 303 to / and the cookie',
              schema: { type: 'string' },
            },
          ],
          responses: {
            '200': { description: 'the page', content: { 'text/html': { schema: { type: 'string' } } } },
            '303': { description: 'token accepted: a cookie is set, go to /' },
            '401': json('Error', 'wrong or missing token'),
          },
        },
      },
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
      '/stats': {
        get: {
          summary: 'The whole proxy',
          parameters: [seriesParam],
          responses: { '200': json('SystemStats', 'figures'), '400': errors['400'] },
        },
      },
      '/stats/upstreams': listPath('Upstreams', 'TargetList'),
      '/stats/upstreams/{name}': itemPath('One upstream', 'name', 'UpstreamStats', true),
      '/stats/tools': listPath('Tools', 'TargetList'),
      '/stats/tools/{name}': itemPath('One tool', 'name', 'ToolStats', true),
      '/stats/sessions': listPath('Active sessions', 'SessionList'),
      '/stats/sessions/{id}': itemPath('One session', 'id', 'SessionRow'),
      '/trends': {
        get: {
          summary: 'What is rising or falling',
          responses: { '200': json('Trends', 'most significant first') },
        },
      },
      '/sessions': {
        get: {
          summary: 'Live feed: every live session, and the recently closed ones',
          responses: { '200': json('FeedSessions', 'sessions'), '404': json('Error', 'the feed is off') },
        },
      },
      '/sessions/{id}/events': {
        get: {
          summary: "Live feed: one session's events in order (messages, streams, process, stderr, errors)",
          parameters: [
            { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            },
          ],
          responses: {
            '200': json('FeedPage', 'events after `after`, oldest first'),
            '400': json('BadParameter', 'a query parameter is not allowed or out of range'),
            '404': json('Error', 'no such session kept'),
          },
        },
      },
      '/events': {
        get: {
          summary:
            "Live feed: every session's events as one SSE stream (event ids resume with Last-Event-ID)",
          parameters: [
            { name: 'session', in: 'query', schema: { type: 'string' } },
            { name: 'Last-Event-ID', in: 'header', schema: { type: 'string', pattern: '^[0-9]+$' } },
          ],
          responses: {
            '200': {
              description: 'SSE: `id` (resumable), `event` (the event type), `data` (a FeedEvent)',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            '400': json('BadParameter', 'Last-Event-ID is not an id of this stream'),
            '503': json('Error', 'too many streams open'),
          },
        },
      },
      ...breakpointPaths,
      ...devtoolsPaths,
      '/openapi.json': {
        get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
    },
    components: {
      schemas: {
        ...breakpointSchemas,
        ...devtoolsSchemas,
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
              description:
                'the same figures as /metrics nodejs_eventloop_lag_*: the last window_s seconds, at a timer resolution of resolution_ms (figures include up to one interval)',
              required: ['p50', 'p99', 'resolution_ms', 'window_s'],
              properties: { p50: num, p99: num, resolution_ms: num, window_s: num },
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
        FeedPeer: {
          type: ['object', 'null'],
          required: ['name', 'version'],
          properties: { name: { type: 'string' }, version: { type: 'string' } },
          additionalProperties: false,
        },
        FeedSession: {
          type: 'object',
          required: [
            'id',
            'transport',
            'upstream',
            'era',
            'state',
            'startedAt',
            'closedAt',
            'closeReason',
            'client',
            'server',
            'subject',
            'requests',
            'errors',
            'lastActivity',
            'lastSeq',
          ],
          properties: {
            id: { type: 'string' },
            transport: { enum: ['stdio', 'streamable-http', 'sse', 'websocket'] },
            upstream: { type: 'string' },
            era: { enum: ['legacy', 'modern'] },
            protocolVersion: { type: 'string', description: 'as agreed at initialize (legacy era)' },
            endpoint: {
              type: 'string',
              description: 'HTTP wires: the URL the client reached mcpscope at, without its query',
            },
            bridge: {
              enum: ['to-modern', 'to-legacy', 'none'],
              description: 'With --bridge: what the probe found (absent before it, and without --bridge)',
            },
            state: { enum: ['open', 'closed'] },
            startedAt: { type: 'string', format: 'date-time' },
            closedAt: { type: ['string', 'null'], format: 'date-time' },
            closeReason: { type: ['string', 'null'] },
            client: { $ref: '#/components/schemas/FeedPeer' },
            server: { $ref: '#/components/schemas/FeedPeer' },
            subject: {
              type: ['string', 'null'],
              description:
                'With --auth-config: the subject (sub) of the access token that opened the session, cut to 64 characters with a digest when longer; never the token',
            },
            requests: int,
            errors: int,
            lastActivity: { type: 'string', format: 'date-time' },
            lastSeq: int,
          },
          additionalProperties: false,
        },
        FeedSessions: {
          type: 'object',
          required: ['sessions'],
          properties: { sessions: { type: 'array', items: { $ref: '#/components/schemas/FeedSession' } } },
          additionalProperties: false,
        },
        FeedEvent: {
          type: 'object',
          description:
            'One event. Messages (type "message") carry direction, kind, method, id, verdict, the message (redacted; or `truncated` and a `preview` past --feed-body-bytes), and for answers durationMs and the requestSeq of their request. Other types carry their own fields.',
          required: ['seq', 'time', 'session', 'type'],
          properties: {
            seq: { type: 'integer', minimum: 1 },
            time: { type: 'string', format: 'date-time' },
            session: { type: 'string' },
            type: { enum: [...FEED_EVENT_TYPES] },
            direction: { enum: ['client-to-server', 'server-to-client'] },
            kind: { enum: ['request', 'notification', 'response', 'error'] },
            stream: { enum: ['post', 'get', 'resume', 'socket'] },
            wire: { enum: ['stdio', 'streamable-http', 'sse', 'websocket'] },
            method: { type: 'string' },
            id: { type: ['string', 'integer'] },
            verdict: { enum: ['forward', 'rewrite', 'reply', 'drop'] },
            dropReason: { type: 'string' },
            synthetic: { const: true },
            rule: {
              type: 'string',
              description:
                'The interception rule (or breakpoint:<id>) that made, changed or held this message',
            },
            ruleAction: {
              type: 'string',
              description:
                'What it did: mock, error, delay, patch, drop, fault_close, fault_timeout, fault_corrupt, break',
            },
            durationMs: { type: 'number', minimum: 0 },
            requestSeq: { type: 'integer', minimum: 1 },
            bytes: int,
            outcome: {
              type: 'object',
              required: ['status', 'failed', 'side'],
              properties: {
                status: { type: 'string' },
                failed: { type: 'boolean' },
                side: { enum: ['upstream', 'client', 'local'] },
                by: { type: 'string' },
              },
              additionalProperties: false,
            },
            message: {
              type: ['object', 'array', 'string'],
              description: 'a message: the JSON-RPC message; an error or a closed session: what happened',
            },
            code: {
              type: ['string', 'integer', 'null'],
              description: 'error: the mcpscope error code; process-exited: the exit code',
            },
            line: { type: 'string', description: 'stderr: one line of the server process' },
            side: {
              enum: ['client', 'upstream'],
              description: "http: a client's request to mcpscope, or mcpscope's request to the upstream",
            },
            status: { type: 'integer', description: 'http: the HTTP status (0: no response)' },
            headers: {
              type: 'object',
              additionalProperties: { type: 'string' },
              description: "http: the request's headers, credentials [REDACTED] (Mcp-Session-Id is shown)",
            },
            responseHeaders: {
              type: 'object',
              additionalProperties: { type: 'string' },
              description: "http: the response's headers, credentials [REDACTED]",
            },
            sse: {
              type: 'object',
              required: ['events', 'firstId', 'lastId'],
              properties: { events: int, firstId: int, lastId: int },
              additionalProperties: false,
              description: 'http: the SSE events the response carried, and their ids',
            },
            error: { type: 'string', description: 'http, upstream side: why no response came' },
            bridge: {
              enum: ['to-modern', 'to-legacy', 'none'],
              description:
                '--bridge: which way it translates (an older client with a 2026-07-28 server, the reverse), or none (same era)',
            },
            translation: {
              type: 'string',
              description: 'What --bridge translated (bridge_translations_total kind)',
            },
            edge: {
              enum: ['upstream-out', 'upstream-in'],
              description: "A bridge event's message: sent to the upstream, or said by it",
            },
            detail: { type: 'string' },
            pause: { type: 'string', description: 'paused: the held message id (/paused/{id})' },
            cause: {
              type: 'string',
              description: 'paused: breakpoint:<id>, or the name of a rule with break: true',
            },
            state: {
              enum: [
                'held',
                'resumed',
                'edited',
                'dropped',
                'replied',
                'timed_out',
                'opened',
                'failed',
                'down',
                'missing',
              ],
              description:
                'paused: held, then how the hold ended; gateway: what became of the upstream (opened, failed to open, down, missing from a merged answer)',
            },
            upstream: { type: 'string', description: 'gateway: the upstream, by its name in the config' },
            heldMs: { ...int, description: 'paused: how long it was held (on the end of a hold)' },
            target: {
              type: 'string',
              description: 'replay-fallback: the tool, prompt or resource the request and the recording name',
            },
            recording: {
              ...int,
              description:
                "replay-fallback: the recording that answered, by its position among the tape's client messages",
            },
            differences: {
              type: 'array',
              items: { type: 'string' },
              description: 'replay-fallback: each difference, `arguments.b: recorded 40, got 41`',
            },
            truncated: { const: true },
            preview: { type: 'string' },
          },
        },
        FeedPage: {
          type: 'object',
          required: ['session', 'events', 'oldestSeq', 'lastSeq', 'more'],
          properties: {
            session: { type: 'string' },
            events: { type: 'array', items: { $ref: '#/components/schemas/FeedEvent' } },
            oldestSeq: int,
            lastSeq: int,
            more: { type: 'boolean' },
          },
          additionalProperties: false,
        },
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
