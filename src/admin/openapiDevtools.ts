/**
 * The OpenAPI description of the admin routes the DevTools page needs beside the feed and breakpoints:
 * interception rules (src/admin/rulesApi.ts), recorded tapes (src/admin/tapesApi.ts) and the stats
 * series for charts (`?series=1h`, src/admin/statsApi.ts). Merged into /openapi.json by openapi.ts.
 */
import { idParam, int, json, nullableNum, str } from './openapiParts.js';

const nameParam = {
  name: 'name',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: "the rule's name in the rules file",
};
const notRecording = json('Error', 'mcpscope is not recording (no --record DIR), or there is no such tape');
const badTapeId = json('BadParameter', 'not a tape id (a name in the --record directory, never a path)');

const toggle = (enable: boolean) => ({
  post: {
    summary: enable
      ? 'Turn a rule on, from now on (it stays on across reloads of the file while mcpscope runs)'
      : 'Turn a rule off, from now on: it matches nothing until turned on again (kept across reloads)',
    parameters: [nameParam],
    responses: {
      '200': json('Rule', 'the rule as it is now'),
      '404': json('Error', 'no rule of that name (or no --rules file)'),
    },
  },
});

export const devtoolsPaths = {
  '/rules': {
    get: {
      summary:
        'The interception rules in force (the --rules file), in the order they are tried, with their hits',
      responses: { '200': json('RuleList', 'rules; `file` is null without --rules') },
    },
  },
  '/rules/{name}/enable': toggle(true),
  '/rules/{name}/disable': toggle(false),
  '/tapes': {
    get: {
      summary: 'The tapes in the --record directory, newest first',
      parameters: [
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
      ],
      responses: {
        '200': json('TapeList', 'tapes'),
        '400': json('BadParameter', 'limit is out of range'),
        '404': notRecording,
      },
    },
  },
  '/tapes/{id}': {
    get: {
      summary:
        "One tape's events as the live feed's (type message, session-opened, error, …), numbered from 1 in file order",
      parameters: [
        idParam('the tape id (its file name without .tape.jsonl)'),
        { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
      ],
      responses: {
        '200': json('TapePage', 'events after `after`'),
        '400': badTapeId,
        '404': notRecording,
        '422': json('Error', 'the file is not a tape mcpscope can read'),
      },
    },
  },
  '/tapes/{id}/export': {
    get: {
      summary: 'The tape as one JSON document, or as HAR 1.2 (as `mcpscope tape export` writes it)',
      parameters: [
        idParam('the tape id'),
        { name: 'format', in: 'query', schema: { enum: ['json', 'har'], default: 'json' } },
      ],
      responses: {
        '200': {
          description: 'the export, as an attachment',
          content: { 'application/json': { schema: { type: 'object' } } },
        },
        '400': badTapeId,
        '404': notRecording,
        '422': json('Error', 'the file is not a tape mcpscope can read'),
      },
    },
  },
};

const nullableNums = { type: 'array', items: nullableNum } as const;
const peer = {
  type: ['object', 'null'],
  required: ['name', 'version'],
  properties: { name: str, version: str },
  additionalProperties: false,
} as const;

export const devtoolsSchemas = {
  Rule: {
    type: 'object',
    required: ['name', 'action', 'match', 'enabled', 'hits'],
    properties: {
      name: str,
      action: { enum: ['mock', 'error', 'delay', 'patch', 'drop', 'fault', 'break'] },
      match: { $ref: '#/components/schemas/Match' },
      enabled: { type: 'boolean' },
      overridden: { const: true, description: 'turned on or off over this API, not as the file says' },
      times: { ...int, description: 'it acts on this many messages at most' },
      hits: { ...int, description: 'messages it matched since the file was (re)loaded' },
    },
    additionalProperties: false,
  },
  RuleList: {
    type: 'object',
    required: ['file', 'rules'],
    properties: {
      file: { type: ['string', 'null'] },
      rules: { type: 'array', items: { $ref: '#/components/schemas/Rule' } },
    },
    additionalProperties: false,
  },
  TapeRow: {
    type: 'object',
    required: [
      'id',
      'file',
      'sizeBytes',
      'startedAt',
      'modifiedAt',
      'session',
      'transport',
      'upstream',
      'client',
      'server',
    ],
    properties: {
      id: str,
      file: str,
      sizeBytes: int,
      startedAt: { type: 'string', format: 'date-time' },
      modifiedAt: { type: 'string', format: 'date-time' },
      session: str,
      transport: str,
      upstream: str,
      client: peer,
      server: peer,
    },
    additionalProperties: false,
  },
  TapeList: {
    type: 'object',
    required: ['dir', 'total', 'tapes'],
    properties: {
      dir: str,
      total: { ...int, description: 'tapes in the directory (each is one session)' },
      tapes: { type: 'array', items: { $ref: '#/components/schemas/TapeRow' } },
    },
    additionalProperties: false,
  },
  TapePage: {
    type: 'object',
    required: ['id', 'header', 'events', 'more'],
    properties: {
      id: str,
      header: { type: 'object', description: 'the tape header (docs/tape.schema.json)' },
      events: { type: 'array', items: { $ref: '#/components/schemas/FeedEvent' } },
      more: { type: 'boolean' },
      complete: {
        type: 'boolean',
        description: 'on the last page: the session ended and the tape was closed',
      },
      torn: { type: 'boolean', description: 'on the last page: its last line was cut short' },
    },
    additionalProperties: false,
  },
  StatsSeries: {
    type: 'object',
    description:
      '?series=1h: the hour in steps (a minute at the default 10 s buckets), oldest first, the newest still filling',
    required: ['step_s', 'end', 'calls', 'errorRate', 'p50Ms', 'p95Ms', 'health'],
    properties: {
      step_s: { type: 'number' },
      end: { type: 'string', format: 'date-time' },
      calls: { type: 'array', items: int },
      errorRate: nullableNums,
      p50Ms: nullableNums,
      p95Ms: nullableNums,
      health: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 100 } },
    },
    additionalProperties: false,
  },
};

/** `?series=1h` on /stats and a target's figures. */
export const seriesParam = {
  name: 'series',
  in: 'query',
  schema: { enum: ['1h'] },
  description: 'add `series`: the hour step by step, for charts',
};
