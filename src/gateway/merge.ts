/**
 * What the gateway builds from its upstreams' answers: the union of their capabilities, and the merged
 * lists (names prefixed and filtered, resources and templates recorded for routing).
 */
import { isObject, objectOr } from '../bridge/bridge.js';
import type { NameFilter } from './names.js';

type Json = Record<string, unknown>;

/** The lists the gateway merges, and how each is read. */
export interface ListKind {
  /** The result's array. */
  readonly key: 'tools' | 'prompts' | 'resources' | 'resourceTemplates';
  /** The server capability that says an upstream serves it. */
  readonly capability: 'tools' | 'prompts' | 'resources';
  /** Items are named `<upstream><separator><name>` and filtered (tools, prompts, templates). */
  readonly renamed: boolean;
  /** Which of the upstream's filters applies. */
  readonly filter: 'tools' | 'prompts' | undefined;
}

export const LISTS: ReadonlyMap<string, ListKind> = new Map<string, ListKind>([
  ['tools/list', { key: 'tools', capability: 'tools', renamed: true, filter: 'tools' }],
  ['prompts/list', { key: 'prompts', capability: 'prompts', renamed: true, filter: 'prompts' }],
  ['resources/list', { key: 'resources', capability: 'resources', renamed: false, filter: undefined }],
  [
    'resources/templates/list',
    { key: 'resourceTemplates', capability: 'resources', renamed: true, filter: undefined },
  ],
]);

/** Capability categories whose lists the gateway's own set changes (upstreams come and go). */
const LISTED = ['tools', 'prompts', 'resources'];

/**
 * The union of the upstreams' capabilities: a category any upstream has is there; a flag (`listChanged`,
 * `subscribe`) any upstream sets is set. Tools, prompts and resources always say `listChanged`, since the
 * gateway announces an upstream that comes back or goes away. Tools are always there: a gateway serves
 * tools even while every upstream is away.
 */
export function unionCapabilities(all: readonly Json[]): Json {
  const out: Json = { tools: {} };
  for (const caps of all) {
    for (const [category, value] of Object.entries(caps)) {
      if (!isObject(value)) {
        out[category] ??= value;
        continue;
      }
      const merged: Json = { ...objectOr(out[category]) };
      for (const [flag, v] of Object.entries(value)) {
        merged[flag] = merged[flag] === true || v === true ? true : (merged[flag] ?? v);
      }
      out[category] = merged;
    }
  }
  for (const category of LISTED) {
    if (isObject(out[category])) out[category] = { ...out[category], listChanged: true };
  }
  return out;
}

/** The upstreams' instructions, each under its name. */
export function joinInstructions(
  parts: ReadonlyArray<{ name: string; instructions: unknown }>,
): string | undefined {
  const texts = parts
    .filter((p) => typeof p.instructions === 'string' && p.instructions !== '')
    .map((p) => `${p.name}: ${String(p.instructions)}`);
  return texts.length > 0 ? texts.join('\n\n') : undefined;
}

/**
 * One upstream's page of a list, as the client sees it: names prefixed, hidden ones left out. `record` is
 * told each resource URI or template (for routing by URI).
 */
export function renameItems(
  kind: ListKind,
  items: unknown,
  prefix: (name: string) => string,
  filters: { tools: NameFilter; prompts: NameFilter },
  record: ((item: Json) => void) | undefined,
): Json[] {
  if (!Array.isArray(items)) return [];
  const filter = kind.filter === undefined ? undefined : filters[kind.filter];
  const out: Json[] = [];
  for (const item of items) {
    if (!isObject(item)) continue;
    record?.(item);
    if (!kind.renamed || typeof item.name !== 'string') {
      out.push(item);
      continue;
    }
    if (filter !== undefined && !filter.open && !filter.allows(item.name)) continue;
    out.push({ ...item, name: prefix(item.name) });
  }
  return out;
}

/**
 * A test for URIs a resource template (RFC 6570) covers: literal parts as they are, `{var}` one path
 * segment, `{+var}` / `{#var}` anything, `{?…}` / `{&…}` an optional query.
 */
export function templateMatcher(template: string): (uri: string) => boolean {
  let source = '^';
  let last = 0;
  for (const m of template.matchAll(/\{([^}]*)\}/g)) {
    source += escapeRegExp(template.slice(last, m.index));
    const op = m[1]?.[0];
    source += op === '+' || op === '#' ? '.*' : op === '?' || op === '&' ? '(?:[?&].*)?' : '[^/?#]*';
    last = m.index + m[0].length;
  }
  source += `${escapeRegExp(template.slice(last))}$`;
  const re = new RegExp(source);
  return (uri) => re.test(uri);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
