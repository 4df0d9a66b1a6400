import { isObject, objectOr } from './match.js';
import { META_SERVER_INFO } from '../jsonrpc/era.js';
import {
  CHANGE_KINDS,
  canonical,
  compareSchemas,
  type ChangeKind,
  type SchemaDirection,
} from './schemaDrift.js';

export { CHANGE_KINDS, type ChangeKind } from './schemaDrift.js';

/** What a change is about: the server itself (its handshake answer) or one thing it offers. */
export type DriftSubject = 'server' | 'tool' | 'prompt' | 'resource' | 'resourceTemplate';

/** One change between two offers of a server. */
export interface Change {
  readonly kind: ChangeKind;
  readonly subject: DriftSubject;
  /** The tool or prompt name, the resource URI, the URI template; the server's name for `server`. */
  readonly name: string;
  /** Where in it, dotted: `inputSchema.properties.b.type`, `capabilities.tools`; empty for the whole. */
  readonly path: string;
  readonly message: string;
}

type Json = Record<string, unknown>;

/**
 * What a server offers, as its answers said: the handshake (`initialize` or `server/discover` result) and
 * each list, merged across pages and keyed by name (resources by URI, templates by URI template). A part
 * left undefined was never (wholly) listed, and is not compared.
 */
export interface Offer {
  server?: Json;
  tools?: ReadonlyMap<string, Json>;
  prompts?: ReadonlyMap<string, Json>;
  resources?: ReadonlyMap<string, Json>;
  resourceTemplates?: ReadonlyMap<string, Json>;
}

export type ListPart = Exclude<keyof Offer, 'server'>;

/** Each list method: the part of an offer it fills, the result's array, the key of its entries. */
export const LIST_METHODS: Readonly<
  Record<string, { part: ListPart; field: string; key: string; subject: DriftSubject }>
> = {
  'tools/list': { part: 'tools', field: 'tools', key: 'name', subject: 'tool' },
  'prompts/list': { part: 'prompts', field: 'prompts', key: 'name', subject: 'prompt' },
  'resources/list': { part: 'resources', field: 'resources', key: 'uri', subject: 'resource' },
  'resources/templates/list': {
    part: 'resourceTemplates',
    field: 'resourceTemplates',
    key: 'uriTemplate',
    subject: 'resourceTemplate',
  },
};

/** The methods whose answers describe the server itself. */
export const HANDSHAKE_METHODS: ReadonlySet<string> = new Set(['initialize', 'server/discover']);

/** The entries of list pages (results, in order), merged by key; a later page wins a repeated key. */
export function mergePages(method: string, pages: readonly unknown[]): Map<string, Json> {
  const spec = LIST_METHODS[method];
  const out = new Map<string, Json>();
  if (!spec) return out;
  for (const page of pages) {
    const entries = objectOr(page)[spec.field];
    if (!Array.isArray(entries)) continue;
    for (const entry of entries) {
      if (isObject(entry) && typeof entry[spec.key] === 'string') out.set(entry[spec.key] as string, entry);
    }
  }
  return out;
}

/** A list page's `nextCursor`, when there are more pages. */
export function nextCursor(result: unknown): string | undefined {
  const cursor = objectOr(result).nextCursor;
  return typeof cursor === 'string' && cursor !== '' ? cursor : undefined;
}

export interface DriftResult {
  readonly changes: Change[];
  /** Parts one side lists and the other does not (so they were not compared), in words. */
  readonly notCompared: string[];
}

/** Which kinds fail a run with `--fail-on kind`: that kind and every more severe one. */
export function failing(changes: readonly Change[], failOn: ChangeKind): Change[] {
  const limit = CHANGE_KINDS.indexOf(failOn);
  return changes.filter((c) => CHANGE_KINDS.indexOf(c.kind) <= limit);
}

export function countKinds(changes: readonly Change[]): Record<ChangeKind, number> {
  const counts: Record<ChangeKind, number> = { breaking: 0, compatible: 0, info: 0 };
  for (const c of changes) counts[c.kind]++;
  return counts;
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? '(absent)';
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

type Push = (kind: ChangeKind, path: string, message: string) => void;

/** Wording: a change of any of these is `info`. */
function wording(before: Json, after: Json, keys: readonly string[], push: Push): void {
  for (const key of keys) {
    if (canonical(before[key]) === canonical(after[key])) continue;
    push('info', key, `${key} changed from ${show(before[key])} to ${show(after[key])}`);
  }
}

function schemaChanges(
  before: unknown,
  after: unknown,
  field: string,
  direction: SchemaDirection,
  push: Push,
): void {
  if (canonical(before) === canonical(after)) return;
  if (after === undefined) {
    // Input: a tool that took arguments no longer says which. Output: results no longer promised a shape.
    push(direction === 'input' ? 'compatible' : 'breaking', field, `${field} removed`);
    return;
  }
  if (before === undefined) {
    push(direction === 'input' ? 'breaking' : 'compatible', field, `${field} added`);
    return;
  }
  for (const c of compareSchemas(before, after, direction)) {
    push(c.kind, c.path ? `${field}.${c.path}` : field, c.message);
  }
}

function tool(before: Json, after: Json, push: Push): void {
  wording(before, after, ['title', 'description', 'annotations', 'icons'], push);
  schemaChanges(before.inputSchema, after.inputSchema, 'inputSchema', 'input', push);
  schemaChanges(before.outputSchema, after.outputSchema, 'outputSchema', 'output', push);
}

interface PromptArgument {
  name: string;
  required: boolean;
  entry: Json;
}

function promptArguments(prompt: Json): Map<string, PromptArgument> {
  const list = Array.isArray(prompt.arguments) ? prompt.arguments : [];
  return new Map(
    list
      .filter((a): a is Json => isObject(a) && typeof a.name === 'string')
      .map((a) => [a.name as string, { name: a.name as string, required: a.required === true, entry: a }]),
  );
}

function prompt(before: Json, after: Json, push: Push): void {
  wording(before, after, ['title', 'description', 'icons'], push);
  const b = promptArguments(before);
  const a = promptArguments(after);
  for (const [name, arg] of b) {
    const now = a.get(name);
    const path = `arguments.${name}`;
    if (!now) push('breaking', path, `argument ${name}: removed`);
    else {
      if (!arg.required && now.required)
        push('breaking', `${path}.required`, `argument ${name}: now required`);
      if (arg.required && !now.required)
        push('compatible', `${path}.required`, `argument ${name}: no longer required`);
      wording(arg.entry, now.entry, ['title', 'description'], (kind, key, message) =>
        push(kind, `${path}.${key}`, `argument ${name}: ${message}`),
      );
    }
  }
  for (const [name, arg] of a) {
    if (b.has(name)) continue;
    if (arg.required) push('breaking', `arguments.${name}`, `argument ${name}: added, required`);
    else push('compatible', `arguments.${name}`, `argument ${name}: added, optional`);
  }
}

function resource(before: Json, after: Json, push: Push): void {
  wording(before, after, ['name', 'title', 'description', 'annotations', 'icons', 'size'], push);
  // A client that parsed the content as one type gets another.
  if (canonical(before.mimeType) !== canonical(after.mimeType)) {
    push(
      before.mimeType === undefined ? 'info' : 'breaking',
      'mimeType',
      `mimeType changed from ${show(before.mimeType)} to ${show(after.mimeType)}`,
    );
  }
}

const COMPARE: Record<ListPart, (before: Json, after: Json, push: Push) => void> = {
  tools: tool,
  prompts: prompt,
  resources: resource,
  resourceTemplates: resource,
};

export const NOUN: Readonly<Record<DriftSubject, string>> = {
  server: 'server',
  tool: 'tool',
  prompt: 'prompt',
  resource: 'resource',
  resourceTemplate: 'resource template',
};

/** One change in one line: `breaking: tool add: argument c: added, required`. */
export function describeChange(c: Change): string {
  return `${c.kind}: ${NOUN[c.subject]}${c.subject === 'server' ? '' : ` ${c.name}`}: ${c.message}`;
}

/** The versions a handshake answer speaks: `server/discover`'s list, or the one `initialize` agreed. */
function versions(result: Json): string[] {
  if (Array.isArray(result.supportedVersions))
    return result.supportedVersions.filter((v): v is string => typeof v === 'string');
  return typeof result.protocolVersion === 'string' ? [result.protocolVersion] : [];
}

/** The server's name and version: in `serverInfo` (initialize) or the result's `_meta` (server/discover). */
export function serverInfoOf(result: Json): Json {
  return objectOr(result.serverInfo ?? objectOr(result._meta)[META_SERVER_INFO]);
}

/** Capabilities, at any depth: one removed is breaking, one added compatible, one changed breaking. */
function capabilities(before: unknown, after: unknown, path: string, push: Push): void {
  if (canonical(before) === canonical(after)) return;
  if (isObject(before) && isObject(after)) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      capabilities(before[key], after[key], `${path}.${key}`, push);
    }
    return;
  }
  const name = path.replace(/^capabilities\./, '');
  if (after === undefined || after === false) push('breaking', path, `capability ${name} removed`);
  else if (before === undefined || before === false) push('compatible', path, `capability ${name} added`);
  else push('breaking', path, `capability ${name} changed from ${show(before)} to ${show(after)}`);
}

function server(before: Json, after: Json, push: Push): void {
  capabilities(objectOr(before.capabilities), objectOr(after.capabilities), 'capabilities', push);
  const vb = versions(before);
  const va = versions(after);
  const lost = vb.filter((v) => !va.includes(v));
  const gained = va.filter((v) => !vb.includes(v));
  const path = 'supportedVersions' in after ? 'supportedVersions' : 'protocolVersion';
  if (lost.length > 0) push('breaking', path, `protocol version ${lost.join(', ')} no longer spoken`);
  if (gained.length > 0) push('compatible', path, `protocol version ${gained.join(', ')} now spoken`);
  wording(
    { serverInfo: serverInfoOf(before), instructions: before.instructions },
    { serverInfo: serverInfoOf(after), instructions: after.instructions },
    ['serverInfo', 'instructions'],
    push,
  );
}

/**
 * Every change from one offer of a server to another (`before` is what clients relied on), each judged:
 * `breaking` (a tool, prompt or resource removed; a required argument added; an argument's type narrowed;
 * an enum value removed; an output property removed; a capability removed), `compatible` (an optional
 * argument, a tool, a capability added; an enum widened) or `info` (descriptions, titles, annotations,
 * serverInfo, instructions). Pure: the offers come from tapes (see offer.ts) or a live server; `labels`
 * name the two sides in notes.
 */
export function compareOffers(
  before: Offer,
  after: Offer,
  labels: readonly [string, string] = ['the first side', 'the second side'],
): DriftResult {
  const changes: Change[] = [];
  const notCompared: string[] = [];
  if (before.server && after.server) {
    const name = String(serverInfoOf(after.server).name ?? serverInfoOf(before.server).name ?? 'server');
    server(before.server, after.server, (kind, path, message) =>
      changes.push({ kind, subject: 'server', name, path, message }),
    );
  }
  for (const [method, spec] of Object.entries(LIST_METHODS)) {
    const b = before[spec.part];
    const a = after[spec.part];
    if (b === undefined || a === undefined) {
      if (b !== a) notCompared.push(`${method}: only ${b ? labels[0] : labels[1]} holds a complete answer`);
      continue;
    }
    const subject = spec.subject;
    for (const [name, entry] of b) {
      const now = a.get(name);
      if (!now) {
        changes.push({ kind: 'breaking', subject, name, path: '', message: 'removed' });
        continue;
      }
      COMPARE[spec.part](entry, now, (kind, path, message) =>
        changes.push({ kind, subject, name, path, message }),
      );
    }
    for (const name of a.keys()) {
      if (!b.has(name)) changes.push({ kind: 'compatible', subject, name, path: '', message: 'added' });
    }
  }
  return { changes, notCompared };
}
