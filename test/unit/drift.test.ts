import { describe, expect, it } from 'vitest';
import { compareOffers, failing, mergePages, type Change, type Offer } from '../../src/tape/drift.js';
import { offerOfTape } from '../../src/tape/offer.js';
import { compareSchemas, type SchemaChange } from '../../src/tape/schemaDrift.js';
import type { TapeEvent } from '../../src/tape/format.js';

const obj = (properties: Record<string, unknown>, required: string[] = [], extra = {}) => ({
  type: 'object',
  properties,
  ...(required.length > 0 ? { required } : {}),
  ...extra,
});

/** `kind path: message` for each change, for compact expectations. */
const brief = (changes: readonly SchemaChange[]) => changes.map((c) => `${c.kind} ${c.path}: ${c.message}`);
const input = (before: unknown, after: unknown) => brief(compareSchemas(before, after, 'input'));
const output = (before: unknown, after: unknown) => brief(compareSchemas(before, after, 'output'));

describe('compareSchemas: input schemas (tool arguments)', () => {
  it('finds nothing in equal schemas, whatever their key order', () => {
    const a = obj({ a: { type: 'number' }, b: { type: 'string' } }, ['a']);
    const b = {
      required: ['a'],
      properties: { b: { type: 'string' }, a: { type: 'number' } },
      type: 'object',
    };
    expect(input(a, b)).toEqual([]);
  });

  it('a required argument added is breaking; an optional one compatible; one removed breaking', () => {
    const before = obj({ a: { type: 'number' } }, ['a']);
    expect(input(before, obj({ a: { type: 'number' }, b: { type: 'number' } }, ['a', 'b']))).toEqual([
      'breaking properties.b: argument b: added, required',
    ]);
    expect(input(before, obj({ a: { type: 'number' }, c: { type: 'string' } }, ['a']))).toEqual([
      'compatible properties.c: argument c: added, optional',
    ]);
    expect(input(before, obj({}, []))).toEqual(['breaking properties.a: argument a: removed']);
  });

  it('an argument becoming required is breaking; no longer required, compatible', () => {
    const optional = obj({ a: { type: 'number' } });
    const required = obj({ a: { type: 'number' } }, ['a']);
    expect(input(optional, required)).toEqual(['breaking required: argument a: now required']);
    expect(input(required, optional)).toEqual(['compatible required: argument a: no longer required']);
  });

  it('type narrowing is breaking, widening compatible, a change of type breaking', () => {
    const t = (type: unknown) => obj({ v: { type } });
    expect(input(t(['string', 'number']), t('string'))).toEqual([
      'breaking properties.v.type: argument v: type narrowed from [string, number] to string',
    ]);
    expect(input(t('number'), t('integer'))).toEqual([
      'breaking properties.v.type: argument v: type narrowed from number to integer',
    ]);
    expect(input(t('integer'), t('number'))).toEqual([
      'compatible properties.v.type: argument v: type widened from integer to number',
    ]);
    expect(input(t('string'), t(['string', 'null']))).toEqual([
      'compatible properties.v.type: argument v: type widened from string to [string, null]',
    ]);
    expect(input(t('string'), t('number'))).toEqual([
      'breaking properties.v.type: argument v: type changed from string to number',
    ]);
    // No type at all accepts anything.
    expect(input(obj({ v: {} }), t('string'))).toEqual([
      'breaking properties.v.type: argument v: type narrowed from any to string',
    ]);
    expect(input(t(['integer', 'number']), t('number'))).toEqual([]);
  });

  it('an enum value removed is breaking, one added compatible; an enum or const added is breaking', () => {
    const e = (values: unknown[]) => obj({ mode: { type: 'string', enum: values } });
    expect(input(e(['a', 'b']), e(['a']))).toEqual([
      'breaking properties.mode.enum: argument mode: enum value ["b"] removed',
    ]);
    expect(input(e(['a']), e(['a', 'b']))).toEqual([
      'compatible properties.mode.enum: argument mode: enum value ["b"] added',
    ]);
    expect(input(obj({ mode: { type: 'string' } }), e(['a']))).toEqual([
      'breaking properties.mode.enum: argument mode: now limited to ["a"]',
    ]);
    expect(input(e(['a']), obj({ mode: { type: 'string' } }))).toEqual([
      'compatible properties.mode.enum: argument mode: no longer limited to ["a"]',
    ]);
    expect(input(obj({ v: { const: 1 } }), obj({ v: { const: 2 } }))).toEqual([
      'breaking properties.v.const: argument v: enum value [1] removed',
      'compatible properties.v.const: argument v: enum value [2] added',
    ]);
  });

  it('additionalProperties: false added is breaking, removed compatible; a schema of it is compared', () => {
    const open = obj({ a: { type: 'string' } });
    const closed = obj({ a: { type: 'string' } }, [], { additionalProperties: false });
    expect(input(open, closed)).toEqual([
      'breaking additionalProperties: arguments: additionalProperties: false added (other properties refused)',
    ]);
    expect(input(closed, open)).toEqual([
      'compatible additionalProperties: arguments: additionalProperties: false removed (other properties accepted)',
    ]);
    expect(
      input(
        obj({}, [], { additionalProperties: { type: 'number' } }),
        obj({}, [], { additionalProperties: { type: 'integer' } }),
      ),
    ).toEqual(['breaking additionalProperties.type: argument *: type narrowed from number to integer']);
  });

  it('compares nested objects and array items, naming the argument by its path', () => {
    const before = obj({
      filter: obj({ mode: { type: 'string', enum: ['all', 'some'] }, depth: { type: 'number' } }),
      tags: { type: 'array', items: { type: 'string' } },
    });
    const after = obj({
      filter: obj({ mode: { type: 'string', enum: ['all'] }, depth: { type: 'number' } }, ['depth']),
      tags: { type: 'array', items: { type: 'string', maxLength: 10 } },
    });
    expect(input(before, after)).toEqual([
      'breaking properties.filter.properties.mode.enum: argument filter.mode: enum value ["some"] removed',
      'breaking properties.filter.required: argument filter.depth: now required',
      'breaking properties.tags.items.maxLength: argument tags[]: maxLength added ((absent) → 10)',
    ]);
  });

  it('bounds: tightened is breaking, loosened compatible; a pattern added breaking, removed compatible', () => {
    const n = (extra: Record<string, unknown>) => obj({ n: { type: 'number', ...extra } });
    expect(input(n({ minimum: 0 }), n({ minimum: 1 }))).toEqual([
      'breaking properties.n.minimum: argument n: minimum changed (0 → 1)',
    ]);
    expect(input(n({ maximum: 10 }), n({ maximum: 20 }))).toEqual([
      'compatible properties.n.maximum: argument n: maximum changed (10 → 20)',
    ]);
    expect(input(n({ maximum: 10 }), n({}))).toEqual([
      'compatible properties.n.maximum: argument n: maximum removed (10 → (absent))',
    ]);
    const s = (extra: Record<string, unknown>) => obj({ s: { type: 'string', ...extra } });
    expect(input(s({}), s({ pattern: '^a' }))).toEqual([
      'breaking properties.s.pattern: argument s: pattern "^a" added',
    ]);
    expect(input(s({ format: 'email' }), s({}))).toEqual([
      'compatible properties.s.format: argument s: format "email" removed',
    ]);
  });

  it('descriptions, titles, defaults and extensions are info', () => {
    expect(
      input(
        obj({ a: { type: 'string', description: 'old' } }),
        obj({ a: { type: 'string', description: 'new', default: 'x', 'x-ui': 1 } }, [], { title: 'T' }),
      ),
    ).toEqual([
      'info properties.a.description: argument a: description changed from "old" to "new"',
      'info properties.a.default: argument a: default added',
      'info properties.a.x-ui: argument a: x-ui added',
      'info title: arguments: title added',
    ]);
  });

  it('follows local $refs ($defs and definitions), and a recursive schema once', () => {
    const tree = (leaf: string) => ({
      $defs: {
        node: obj({ value: { type: leaf }, children: { type: 'array', items: { $ref: '#/$defs/node' } } }),
      },
      ...obj({ root: { $ref: '#/$defs/node' } }),
    });
    expect(input(tree('number'), tree('number'))).toEqual([]);
    expect(input(tree('number'), tree('integer'))).toEqual([
      'breaking properties.root.properties.value.type: argument root.value: type narrowed from number to integer',
    ]);
    const draft7 = (type: string) => ({
      definitions: { id: { type } },
      ...obj({ id: { $ref: '#/definitions/id' } }),
    });
    expect(input(draft7('integer'), draft7('number'))).toEqual([
      'compatible properties.id.type: argument id: type widened from integer to number',
    ]);
    // An inline schema replaced by a $ref to the same thing is no change.
    expect(
      input(obj({ id: { type: 'string' } }), {
        $defs: { s: { type: 'string' } },
        ...obj({ id: { $ref: '#/$defs/s' } }),
      }),
    ).toEqual([]);
    // A $ref mcpscope cannot follow is compared by its text.
    expect(input(obj({ x: { $ref: 'https://a/x.json' } }), obj({ x: { $ref: 'https://a/y.json' } }))).toEqual(
      ['breaking properties.x.$ref: argument x: $ref changed from "https://a/x.json" to "https://a/y.json"'],
    );
  });

  it('anyOf alternatives: one added is compatible, one removed breaking; equal counts compared in place', () => {
    const any = (alts: unknown[]) => obj({ v: { anyOf: alts } });
    expect(input(any([{ type: 'string' }]), any([{ type: 'string' }, { type: 'null' }]))).toEqual([
      'compatible properties.v.anyOf: argument v: anyOf: 1 entries added, 0 removed',
    ]);
    expect(input(any([{ type: 'string' }, { type: 'null' }]), any([{ type: 'string' }]))).toEqual([
      'breaking properties.v.anyOf: argument v: anyOf: 0 entries added, 1 removed',
    ]);
    expect(
      input(any([{ type: 'number' }, { type: 'null' }]), any([{ type: 'integer' }, { type: 'null' }])),
    ).toEqual(['breaking properties.v.anyOf.0.type: argument v: type narrowed from number to integer']);
  });

  it('treats a change of a keyword it does not reason about as breaking', () => {
    expect(
      input(
        obj({}, [], { propertyNames: { pattern: '^a' } }),
        obj({}, [], { propertyNames: { pattern: '^b' } }),
      ),
    ).toEqual(['breaking propertyNames: arguments: propertyNames changed']);
  });
});

describe('compareSchemas: output schemas (structured results) judge the other way round', () => {
  it('a property removed is breaking, one added compatible', () => {
    const before = obj({ sum: { type: 'number' }, note: { type: 'string' } }, ['sum']);
    expect(output(before, obj({ sum: { type: 'number' } }, ['sum']))).toEqual([
      'breaking properties.note: output property note: removed',
    ]);
    expect(
      output(
        before,
        obj({ sum: { type: 'number' }, note: { type: 'string' }, at: { type: 'string' } }, ['sum']),
      ),
    ).toEqual(['compatible properties.at: output property at: added, optional']);
  });

  it('a type widened or an enum value added is breaking (clients get what they never saw); narrowed compatible', () => {
    expect(output(obj({ n: { type: 'integer' } }), obj({ n: { type: 'number' } }))).toEqual([
      'breaking properties.n.type: output property n: type widened from integer to number',
    ]);
    expect(output(obj({ n: { type: 'number' } }), obj({ n: { type: 'integer' } }))).toEqual([
      'compatible properties.n.type: output property n: type narrowed from number to integer',
    ]);
    expect(output(obj({ s: { enum: ['a'] } }), obj({ s: { enum: ['a', 'b'] } }))).toEqual([
      'breaking properties.s.enum: output property s: enum value ["b"] added',
    ]);
    expect(output(obj({ s: { type: 'string' } }, ['s']), obj({ s: { type: 'string' } }))).toEqual([
      'breaking required: output property s: no longer required',
    ]);
  });
});

const tool = (name: string, inputSchema: unknown, extra: Record<string, unknown> = {}) => ({
  name,
  inputSchema,
  ...extra,
});
const tools = (...list: Array<Record<string, unknown>>): Offer => ({
  tools: new Map(list.map((t) => [t.name as string, t])),
});
const summary = (changes: readonly Change[]) =>
  changes.map((c) => `${c.kind} ${c.subject} ${c.name}${c.path ? ` ${c.path}` : ''}: ${c.message}`);

describe('compareOffers', () => {
  const add = tool('add', obj({ a: { type: 'number' }, b: { type: 'number' } }, ['a', 'b']));

  it('a tool removed is breaking, a tool added compatible, wording info', () => {
    const echo = tool('echo', obj({ text: { type: 'string' } }), { description: 'Echo' });
    const { changes } = compareOffers(
      tools(add, echo),
      tools(
        { ...echo, description: 'Echo text', annotations: { readOnlyHint: true } },
        tool('search', obj({})),
      ),
    );
    expect(summary(changes)).toEqual([
      'breaking tool add: removed',
      'info tool echo description: description changed from "Echo" to "Echo text"',
      'info tool echo annotations: annotations changed from (absent) to {"readOnlyHint":true}',
      'compatible tool search: added',
    ]);
  });

  it('prefixes schema paths with inputSchema and outputSchema; an output schema removed is breaking', () => {
    const before = tools({ ...add, outputSchema: obj({ sum: { type: 'number' } }) });
    const narrowed = tool('add', obj({ a: { type: 'integer' }, b: { type: 'number' } }, ['a', 'b']));
    expect(summary(compareOffers(before, tools({ ...narrowed, outputSchema: obj({}) })).changes)).toEqual([
      'breaking tool add inputSchema.properties.a.type: argument a: type narrowed from number to integer',
      'breaking tool add outputSchema.properties.sum: output property sum: removed',
    ]);
    expect(summary(compareOffers(before, tools(add)).changes)).toEqual([
      'breaking tool add outputSchema: outputSchema removed',
    ]);
  });

  it('prompts: an argument added required is breaking, optional compatible, removed breaking', () => {
    const prompt = (args: unknown[]) => ({
      prompts: new Map([['greet', { name: 'greet', arguments: args }]]),
    });
    const before = prompt([{ name: 'name', required: true }, { name: 'tone' }]);
    const after = prompt([
      { name: 'name', required: true },
      { name: 'lang', required: true },
      { name: 'emoji' },
    ]);
    expect(summary(compareOffers(before, after).changes)).toEqual([
      'breaking prompt greet arguments.tone: argument tone: removed',
      'breaking prompt greet arguments.lang: argument lang: added, required',
      'compatible prompt greet arguments.emoji: argument emoji: added, optional',
    ]);
  });

  it('resources and templates: removed breaking, added compatible, mimeType changed breaking, name info', () => {
    const res = (entries: Array<Record<string, unknown>>) =>
      new Map(entries.map((e) => [e.uri as string, e]));
    const tpl = (entries: Array<Record<string, unknown>>) =>
      new Map(entries.map((e) => [e.uriTemplate as string, e]));
    const { changes } = compareOffers(
      {
        resources: res([
          { uri: 'a://1', name: 'one', mimeType: 'application/json' },
          { uri: 'a://2', name: 'two' },
        ]),
        resourceTemplates: tpl([{ uriTemplate: 'a://{id}', name: 'by id' }]),
      },
      {
        resources: res([
          { uri: 'a://1', name: 'One', mimeType: 'text/plain' },
          { uri: 'a://3', name: 'three' },
        ]),
        resourceTemplates: tpl([]),
      },
    );
    expect(summary(changes)).toEqual([
      'info resource a://1 name: name changed from "one" to "One"',
      'breaking resource a://1 mimeType: mimeType changed from "application/json" to "text/plain"',
      'breaking resource a://2: removed',
      'compatible resource a://3: added',
      'breaking resourceTemplate a://{id}: removed',
    ]);
  });

  it('the server: a capability removed is breaking, one added compatible; serverInfo and instructions info', () => {
    const init = (capabilities: unknown, version: string, instructions?: string) => ({
      server: {
        protocolVersion: '2025-11-25',
        capabilities,
        serverInfo: { name: 'srv', version },
        ...(instructions ? { instructions } : {}),
      },
    });
    const { changes } = compareOffers(
      init({ tools: { listChanged: true }, prompts: {} }, '1.0.0'),
      init({ tools: {}, resources: { subscribe: true } }, '2.0.0', 'Be nice'),
    );
    expect(summary(changes)).toEqual([
      'breaking server srv capabilities.tools.listChanged: capability tools.listChanged removed',
      'breaking server srv capabilities.prompts: capability prompts removed',
      'compatible server srv capabilities.resources: capability resources added',
      'info server srv serverInfo: serverInfo changed from {"name":"srv","version":"1.0.0"} to {"name":"srv","version":"2.0.0"}',
      'info server srv instructions: instructions changed from (absent) to "Be nice"',
    ]);
  });

  it('the server in 2026-07-28 (server/discover): versions, and serverInfo in _meta', () => {
    const discover = (versions: string[], name: string) => ({
      server: {
        supportedVersions: versions,
        capabilities: { tools: {} },
        _meta: { 'io.modelcontextprotocol/serverInfo': { name, version: '1' } },
      },
    });
    expect(
      summary(
        compareOffers(
          discover(['2026-07-28', '2025-11-25'], 'a'),
          discover(['2026-07-28', '2027-01-01'], 'a'),
        ).changes,
      ),
    ).toEqual([
      'breaking server a supportedVersions: protocol version 2025-11-25 no longer spoken',
      'compatible server a supportedVersions: protocol version 2027-01-01 now spoken',
    ]);
    expect(
      summary(compareOffers(discover(['2026-07-28'], 'a'), discover(['2026-07-28'], 'b')).changes),
    ).toEqual([
      'info server b serverInfo: serverInfo changed from {"name":"a","version":"1"} to {"name":"b","version":"1"}',
    ]);
  });

  it('leaves out what only one side lists, and says so', () => {
    const result = compareOffers(tools(add), { prompts: new Map() }, ['tape A', 'tape B']);
    expect(result.changes).toEqual([]);
    expect(result.notCompared).toEqual([
      'tools/list: only tape A holds a complete answer',
      'prompts/list: only tape B holds a complete answer',
    ]);
  });

  it('failing(): --fail-on breaking counts breaking changes; compatible counts both; info all', () => {
    const { changes } = compareOffers(tools(add), tools({ ...add, description: 'x' }, tool('new', obj({}))));
    expect(failing(changes, 'breaking')).toHaveLength(0);
    expect(failing(changes, 'compatible').map((c) => c.name)).toEqual(['new']);
    expect(failing(changes, 'info')).toHaveLength(2);
  });
});

describe('offers from a tape', () => {
  let t = 0;
  const ev = (dir: 'c2s' | 's2c', msg: Record<string, unknown>): TapeEvent =>
    ({ t: t++, dir, msg: { jsonrpc: '2.0', ...msg } }) as TapeEvent;
  const list = (id: number, cursor: string | undefined, names: string[], next?: string): TapeEvent[] => [
    ev('c2s', { id, method: 'tools/list', ...(cursor ? { params: { cursor } } : {}) }),
    ev('s2c', {
      id,
      result: { tools: names.map((n) => tool(n, obj({}))), ...(next ? { nextCursor: next } : {}) },
    }),
  ];

  it('merges the pages of a listing (nextCursor) and keeps the first complete listing', () => {
    const events = [
      ev('c2s', { id: 0, method: 'initialize', params: {} }),
      ev('s2c', {
        id: 0,
        result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 's' } },
      }),
      ...list(1, undefined, ['a', 'b'], 'p2'),
      ...list(2, 'p2', ['c']),
      ...list(3, undefined, ['z']),
    ];
    const { offer, handshake, partial, requests } = offerOfTape(events);
    expect(handshake).toBe('initialize');
    expect([...(offer.tools?.keys() ?? [])]).toEqual(['a', 'b', 'c']);
    expect(partial).toEqual([]);
    expect(requests.get('tools/list')).toMatchObject({ id: 1 });
  });

  it('leaves out a listing whose pages were not all read, and names it', () => {
    const { offer, partial } = offerOfTape(list(1, undefined, ['a'], 'p2'));
    expect(offer.tools).toBeUndefined();
    expect(partial).toEqual(['tools/list']);
  });

  it('mergePages keeps the last entry of a repeated name', () => {
    const merged = mergePages('tools/list', [
      { tools: [{ name: 'a', v: 1 }] },
      { tools: [{ name: 'a', v: 2 }] },
    ]);
    expect(merged.get('a')).toEqual({ name: 'a', v: 2 });
  });
});
