import { isObject } from './match.js';

/**
 * How a change to what a server offers affects its clients: `breaking` (a client that worked may fail),
 * `compatible` (every client that worked still does), `info` (wording: descriptions, titles, annotations).
 */
export type ChangeKind = 'breaking' | 'compatible' | 'info';

/** Kinds from the most severe down: a `--fail-on` threshold fails on its kind and every kind before it. */
export const CHANGE_KINDS: readonly ChangeKind[] = ['breaking', 'compatible', 'info'];

/**
 * Which way values flow through a schema. An input schema (tool arguments) breaks clients when it accepts
 * fewer values than before (narrowed); an output schema (structured results) when it promises fewer
 * (widened: a property gone, a new type or enum value the client was never told of).
 */
export type SchemaDirection = 'input' | 'output';

/** One change found in a JSON Schema: where (a dotted path inside the schema) and what. */
export interface SchemaChange {
  readonly kind: ChangeKind;
  readonly path: string;
  readonly message: string;
}

type Json = Record<string, unknown>;

/** Keywords that only describe: a change to them is `info`. */
const ANNOTATIONS = new Set([
  'title',
  'description',
  'examples',
  'default',
  '$comment',
  'deprecated',
  'readOnly',
  'writeOnly',
  '$schema',
  '$id',
  '$anchor',
]);

/** Lower bounds: a higher value (or a new one) accepts fewer values. */
const LOWER_BOUNDS = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties', 'minContains'];
/** Upper bounds: a lower value (or a new one) accepts fewer values. */
const UPPER_BOUNDS = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties', 'maxContains'];
/** Constraints that cannot be ordered: one added or changed accepts fewer values, one removed more. */
const CONSTRAINTS = ['pattern', 'format', 'multipleOf', 'contentEncoding', 'contentMediaType'];
/**
 * Validation keywords mcpscope does not reason about: any change to them may accept fewer values and more,
 * so it is treated as breaking in both directions.
 */
const OPAQUE = [
  'patternProperties',
  'propertyNames',
  'dependentRequired',
  'dependentSchemas',
  'dependencies',
  'if',
  'then',
  'else',
  'not',
  'contains',
  'unevaluatedItems',
  'contentSchema',
];
/** Every keyword handled above or below; anything else (an `x-…` extension) is wording. */
const HANDLED = new Set([
  ...ANNOTATIONS,
  ...LOWER_BOUNDS,
  ...UPPER_BOUNDS,
  ...CONSTRAINTS,
  ...OPAQUE,
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'unevaluatedProperties',
  'items',
  'prefixItems',
  'additionalItems',
  'uniqueItems',
  'anyOf',
  'oneOf',
  'allOf',
  '$ref',
  '$defs',
  'definitions',
]);

const TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'];

/** JSON with object keys sorted: equal values give equal text whatever their key order. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? '(absent)';
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `true` accepts anything, `false` nothing; both become object schemas. */
function asSchema(value: unknown): Json {
  if (value === false) return { not: {} };
  return isObject(value) ? value : {};
}

/** The types a schema accepts; undefined: any. */
function typesOf(schema: Json): Set<string> | undefined {
  const t = schema.type;
  if (typeof t === 'string') return new Set([t]);
  if (Array.isArray(t)) return new Set(t.filter((x): x is string => typeof x === 'string'));
  return undefined;
}

/** Whether every value of type `t` is accepted by a schema of types `set` (an integer is a number). */
function covers(set: Set<string> | undefined, t: string): boolean {
  if (set === undefined) return true;
  return set.has(t) || (t === 'integer' && set.has('number'));
}

function typeText(set: Set<string> | undefined): string {
  if (set === undefined) return 'any';
  const list = [...set];
  return list.length === 1 ? (list[0] as string) : `[${list.join(', ')}]`;
}

/** The values an `enum` or `const` allows, as canonical text; undefined: no such limit. */
function allowed(schema: Json): Map<string, unknown> | undefined {
  if ('const' in schema) return new Map([[canonical(schema.const), schema.const]]);
  if (Array.isArray(schema.enum)) return new Map(schema.enum.map((v) => [canonical(v), v]));
  return undefined;
}

function requiredOf(schema: Json): Set<string> {
  return new Set(Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === 'string') : []);
}

/** Where a path points, for people: `argument filter.mode`, `output property items[]`, `input`. */
function subjectOf(path: string[], direction: SchemaDirection): string {
  const parts: string[] = [];
  for (let i = 0; i < path.length; i++) {
    const key = path[i] as string;
    if (key === 'properties' && i + 1 < path.length) {
      parts.push(`${parts.length > 0 ? '.' : ''}${path[++i] as string}`);
    } else if (key === 'items' || key === 'prefixItems' || key === 'additionalItems') {
      parts.push('[]');
      if (key === 'prefixItems') i++;
    } else if (key === 'additionalProperties') {
      parts.push(parts.length > 0 ? '.*' : '*');
    }
  }
  const name = parts.join('');
  if (direction === 'input') return name ? `argument ${name}` : 'arguments';
  return name ? `output property ${name}` : 'output';
}

interface Context {
  readonly direction: SchemaDirection;
  readonly roots: readonly [Json, Json];
  readonly out: SchemaChange[];
  /** `$ref` pairs being compared on the current path: a recursive schema is walked once. */
  readonly refs: Set<string>;
  /**
   * Equal parts of the two schemas can be skipped: true unless their definitions differ, when an equal
   * `$ref` may point at different targets.
   */
  readonly skipEqual: boolean;
}

/** A local `$ref` (`#/$defs/Name`, `#/definitions/Name`, any JSON pointer into the same schema). */
function resolve(root: Json, ref: string): Json | undefined {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node === undefined ? undefined : asSchema(node);
}

/** The schema with a local `$ref` replaced by its target (siblings of `$ref` kept, as 2020-12 reads them). */
function deref(schema: Json, root: Json): { schema: Json; ref?: string; unresolved?: string } {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return { schema };
  const target = resolve(root, ref);
  if (target === undefined) return { schema, unresolved: ref };
  const { $ref: _, ...siblings } = schema;
  return { schema: { ...target, ...siblings }, ref };
}

class Walker {
  readonly #c: Context;
  constructor(context: Context) {
    this.#c = context;
  }

  #push(kind: ChangeKind, path: string[], message: string): void {
    this.#c.out.push({ kind, path: path.join('.'), message });
  }

  /** Accepts fewer values than before: breaking for an input, compatible for an output. */
  #narrowed(path: string[], at: string[], what: string): void {
    const kind = this.#c.direction === 'input' ? 'breaking' : 'compatible';
    this.#push(kind, path, `${subjectOf(at, this.#c.direction)}: ${what}`);
  }

  /** Accepts more values than before: compatible for an input, breaking for an output. */
  #widened(path: string[], at: string[], what: string): void {
    const kind = this.#c.direction === 'input' ? 'compatible' : 'breaking';
    this.#push(kind, path, `${subjectOf(at, this.#c.direction)}: ${what}`);
  }

  /** Accepts other values, some fewer and some more: breaking either way. */
  #changed(path: string[], at: string[], what: string): void {
    this.#push('breaking', path, `${subjectOf(at, this.#c.direction)}: ${what}`);
  }

  #same(before: unknown, after: unknown): boolean {
    return this.#c.skipEqual && canonical(before) === canonical(after);
  }

  compare(beforeRaw: unknown, afterRaw: unknown, path: string[]): void {
    if (this.#same(beforeRaw, afterRaw)) return;
    const [rootBefore, rootAfter] = this.#c.roots;
    const b = deref(asSchema(beforeRaw), rootBefore);
    const a = deref(asSchema(afterRaw), rootAfter);
    if (b.unresolved !== undefined || a.unresolved !== undefined) {
      if (b.unresolved !== a.unresolved)
        this.#changed(
          [...path, '$ref'],
          path,
          `$ref changed from ${show(b.unresolved ?? b.ref)} to ${show(a.unresolved ?? a.ref)}`,
        );
      return;
    }
    if (b.ref !== undefined || a.ref !== undefined) {
      const pair = `${b.ref ?? ''}\u0000${a.ref ?? ''}`;
      if (this.#c.refs.has(pair)) return;
      this.#c.refs.add(pair);
      try {
        this.#schema(b.schema, a.schema, path);
      } finally {
        this.#c.refs.delete(pair);
      }
      return;
    }
    this.#schema(b.schema, a.schema, path);
  }

  #schema(b: Json, a: Json, path: string[]): void {
    if (this.#same(b, a)) return;
    this.#type(b, a, path);
    this.#allowed(b, a, path);
    this.#object(b, a, path);
    this.#array(b, a, path);
    this.#bounds(b, a, path);
    this.#alternatives(b, a, path);
    for (const key of OPAQUE) {
      if (canonical(b[key]) === canonical(a[key])) continue;
      const what = !(key in b) ? 'added' : !(key in a) ? 'removed' : 'changed';
      this.#changed([...path, key], path, `${key} ${what}`);
    }
    const keys = new Set([...Object.keys(b), ...Object.keys(a)]);
    for (const key of keys) {
      if (HANDLED.has(key) && !ANNOTATIONS.has(key)) continue;
      if (key === '$schema' || key === '$id' || canonical(b[key]) === canonical(a[key])) continue;
      const what = !(key in b)
        ? 'added'
        : !(key in a)
          ? 'removed'
          : `changed from ${show(b[key])} to ${show(a[key])}`;
      this.#push('info', [...path, key], `${subjectOf(path, this.#c.direction)}: ${key} ${what}`);
    }
  }

  #type(b: Json, a: Json, path: string[]): void {
    const before = typesOf(b);
    const after = typesOf(a);
    const lost = (before === undefined ? TYPES : [...before]).filter((t) => !covers(after, t));
    const gained = (after === undefined ? TYPES : [...after]).filter((t) => !covers(before, t));
    if (lost.length === 0 && gained.length === 0) return;
    const from = typeText(before);
    const to = typeText(after);
    const at = [...path, 'type'];
    if (lost.length > 0 && gained.length > 0) this.#changed(at, path, `type changed from ${from} to ${to}`);
    else if (lost.length > 0) this.#narrowed(at, path, `type narrowed from ${from} to ${to}`);
    else this.#widened(at, path, `type widened from ${from} to ${to}`);
  }

  #allowed(b: Json, a: Json, path: string[]): void {
    const before = allowed(b);
    const after = allowed(a);
    const at = [...path, 'enum' in a || 'enum' in b ? 'enum' : 'const'];
    if (before === undefined && after === undefined) return;
    if (before === undefined) {
      this.#narrowed(at, path, `now limited to ${show([...(after as Map<string, unknown>).values()])}`);
      return;
    }
    if (after === undefined) {
      this.#widened(at, path, `no longer limited to ${show([...before.values()])}`);
      return;
    }
    const removed = [...before].filter(([k]) => !after.has(k)).map(([, v]) => v);
    const added = [...after].filter(([k]) => !before.has(k)).map(([, v]) => v);
    if (removed.length > 0)
      this.#narrowed(at, path, `enum value${removed.length > 1 ? 's' : ''} ${show(removed)} removed`);
    if (added.length > 0)
      this.#widened(at, path, `enum value${added.length > 1 ? 's' : ''} ${show(added)} added`);
  }

  #object(b: Json, a: Json, path: string[]): void {
    const bp = isObject(b.properties) ? b.properties : {};
    const ap = isObject(a.properties) ? a.properties : {};
    const br = requiredOf(b);
    const ar = requiredOf(a);
    const input = this.#c.direction === 'input';
    for (const name of new Set([...Object.keys(bp), ...Object.keys(ap)])) {
      const at = [...path, 'properties', name];
      if (!(name in ap)) {
        // A client that sent it (or read it) relied on it, whatever the rest of the schema now says.
        this.#changed(at, at, 'removed');
      } else if (!(name in bp)) {
        if (input && ar.has(name)) this.#changed(at, at, 'added, required');
        else if (input) this.#widened(at, at, 'added, optional');
        else this.#narrowed(at, at, ar.has(name) ? 'added' : 'added, optional');
      } else {
        this.compare(bp[name], ap[name], at);
      }
    }
    for (const name of ar) {
      if (!br.has(name) && name in bp)
        this.#narrowed([...path, 'required'], [...path, 'properties', name], 'now required');
      else if (!br.has(name) && !(name in bp) && !(name in ap))
        this.#narrowed([...path, 'required'], path, `${name} now required`);
    }
    for (const name of br) {
      if (!ar.has(name) && name in ap)
        this.#widened([...path, 'required'], [...path, 'properties', name], 'no longer required');
    }
    for (const key of ['additionalProperties', 'unevaluatedProperties']) {
      const before = b[key];
      const after = a[key];
      if (canonical(before) === canonical(after)) continue;
      const closedBefore = before === false;
      const closedAfter = after === false;
      const at = [...path, key];
      if (closedAfter && !closedBefore)
        this.#narrowed(at, path, `${key}: false added (other properties refused)`);
      else if (closedBefore && !closedAfter)
        this.#widened(at, path, `${key}: false removed (other properties accepted)`);
      else if (isObject(before) || isObject(after)) this.compare(before ?? true, after ?? true, at);
    }
  }

  #array(b: Json, a: Json, path: string[]): void {
    for (const key of ['items', 'additionalItems']) {
      if (!(key in b) && !(key in a)) continue;
      if (Array.isArray(b[key]) || Array.isArray(a[key])) {
        this.#tuple(b[key], a[key], [...path, key]);
      } else if (!this.#same(b[key], a[key])) {
        this.compare(b[key] ?? true, a[key] ?? true, [...path, key]);
      }
    }
    if ('prefixItems' in b || 'prefixItems' in a)
      this.#tuple(b.prefixItems, a.prefixItems, [...path, 'prefixItems']);
    if (b.uniqueItems !== a.uniqueItems) {
      if (a.uniqueItems === true) this.#narrowed([...path, 'uniqueItems'], path, 'items must now be unique');
      else if (b.uniqueItems === true)
        this.#widened([...path, 'uniqueItems'], path, 'items need no longer be unique');
    }
  }

  #tuple(before: unknown, after: unknown, path: string[]): void {
    const b = Array.isArray(before) ? before : [];
    const a = Array.isArray(after) ? after : [];
    for (let i = 0; i < Math.max(b.length, a.length); i++)
      this.compare(b[i] ?? true, a[i] ?? true, [...path, String(i)]);
  }

  #bounds(b: Json, a: Json, path: string[]): void {
    const judge = (key: string, tighter: (x: number, y: number) => boolean): void => {
      const before = b[key];
      const after = a[key];
      if (canonical(before) === canonical(after)) return;
      const at = [...path, key];
      const what = `${key} ${before === undefined ? 'added' : after === undefined ? 'removed' : 'changed'} (${show(before)} → ${show(after)})`;
      if (after === undefined) this.#widened(at, path, what);
      else if (before === undefined) this.#narrowed(at, path, what);
      else if (typeof before !== 'number' || typeof after !== 'number') this.#changed(at, path, what);
      else if (tighter(before, after)) this.#narrowed(at, path, what);
      else this.#widened(at, path, what);
    };
    for (const key of LOWER_BOUNDS) judge(key, (x, y) => y > x);
    for (const key of UPPER_BOUNDS) judge(key, (x, y) => y < x);
    for (const key of CONSTRAINTS) {
      const before = b[key];
      const after = a[key];
      if (canonical(before) === canonical(after)) continue;
      const at = [...path, key];
      if (after === undefined) this.#widened(at, path, `${key} ${show(before)} removed`);
      else if (before === undefined) this.#narrowed(at, path, `${key} ${show(after)} added`);
      else this.#changed(at, path, `${key} changed from ${show(before)} to ${show(after)}`);
    }
  }

  #alternatives(b: Json, a: Json, path: string[]): void {
    for (const key of ['anyOf', 'oneOf', 'allOf']) {
      const before = Array.isArray(b[key]) ? (b[key] as unknown[]) : undefined;
      const after = Array.isArray(a[key]) ? (a[key] as unknown[]) : undefined;
      if (before === undefined && after === undefined) continue;
      if (this.#same(before, after)) continue;
      const at = [...path, key];
      if (before !== undefined && after !== undefined && before.length === after.length) {
        this.#tuple(before, after, at);
        continue;
      }
      // More alternatives (anyOf, oneOf) accept more; more conditions (allOf) accept fewer.
      const keys = (list: unknown[] | undefined) => new Set((list ?? []).map(canonical));
      const [kb, ka] = [keys(before), keys(after)];
      const added = [...ka].filter((k) => !kb.has(k)).length;
      const removed = [...kb].filter((k) => !ka.has(k)).length;
      const what = `${key}: ${added} entries added, ${removed} removed`;
      if (added > 0 && removed > 0) this.#changed(at, path, what);
      else if (added > 0 === (key !== 'allOf')) this.#widened(at, path, what);
      else this.#narrowed(at, path, what);
    }
  }
}

/**
 * Every change between two JSON Schemas, judged for clients: in an input schema, accepting fewer values is
 * breaking (a required argument added, a type narrowed, an enum value removed, `additionalProperties:
 * false` added, a bound tightened) and accepting more is compatible; in an output schema the reverse, and a
 * property removed is breaking either way. Annotations (descriptions, titles, defaults) are `info`. Local
 * `$ref`s (`#/$defs/…`, `#/definitions/…`) are followed, recursive ones once; an external `$ref` is compared
 * by its text. Paths are dotted, from the schema's root (`properties.b.type`).
 */
export function compareSchemas(before: unknown, after: unknown, direction: SchemaDirection): SchemaChange[] {
  const out: SchemaChange[] = [];
  const roots: [Json, Json] = [asSchema(before), asSchema(after)];
  const defs = (root: Json) => canonical([root.$defs, root.definitions]);
  const skipEqual = defs(roots[0]) === defs(roots[1]);
  new Walker({ direction, roots, out, refs: new Set(), skipEqual }).compare(before, after, []);
  return out;
}
