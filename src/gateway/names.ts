/**
 * Names across the gateway: an upstream's tools, prompts and resource templates are shown as
 * `<upstream><separator><name>`; a call is routed by that prefix (one Map lookup), and the upstream's own
 * allow / deny globs decide what is shown and what is refused.
 */
import picomatch from 'picomatch';
import type { NameFilterConfig } from './config.js';

/** What the gateway puts in a result's or notification's `_meta`. */
export const META_UPSTREAM = 'io.mcpscope/upstream';
/** On a merged list: the upstreams whose part is missing, and why. */
export const META_MISSING = 'io.mcpscope/missing';

/** Allow and deny globs, compiled once. */
export class NameFilter {
  readonly #allow: ((name: string) => boolean) | null;
  readonly #deny: ((name: string) => boolean) | null;
  readonly #config: NameFilterConfig;

  constructor(config: NameFilterConfig | undefined) {
    this.#config = config ?? {};
    this.#allow = config?.allow ? picomatch(config.allow, { dot: true }) : null;
    this.#deny = config?.deny ? picomatch(config.deny, { dot: true }) : null;
  }

  /** Every name passes: lists need not be filtered. */
  get open(): boolean {
    return this.#allow === null && this.#deny === null;
  }

  allows(name: string): boolean {
    return (this.#allow === null || this.#allow(name)) && !(this.#deny !== null && this.#deny(name));
  }

  /** Why `name` is hidden, for the error that refuses it (call only when `allows(name)` is false). */
  why(name: string): string {
    if (this.#allow !== null && !this.#allow(name))
      return `it matches none of allow ${JSON.stringify(this.#config.allow)}`;
    return `it matches deny ${JSON.stringify(this.#config.deny)}`;
  }
}

/** Splits `<upstream><separator><name>` into its upstream and name, for the upstreams it knows. */
export class NameRouter<T> {
  readonly #separator: string;
  readonly #byName: ReadonlyMap<string, T>;

  constructor(separator: string, byName: ReadonlyMap<string, T>) {
    this.#separator = separator;
    this.#byName = byName;
  }

  get separator(): string {
    return this.#separator;
  }

  /** The upstream of that name. */
  byName(upstream: string): T | undefined {
    return this.#byName.get(upstream);
  }

  /** The name an upstream's `name` is shown as. */
  outer(upstream: string, name: string): string {
    return `${upstream}${this.#separator}${name}`;
  }

  /**
   * The upstream and its own name for a name the client used, or undefined when no upstream's prefix
   * starts it (upstream names never hold the separator, so the first one ends the prefix).
   */
  route(name: string): { upstream: T; name: string } | undefined {
    const at = name.indexOf(this.#separator);
    if (at <= 0) return undefined;
    const upstream = this.#byName.get(name.slice(0, at));
    return upstream === undefined ? undefined : { upstream, name: name.slice(at + this.#separator.length) };
  }
}

/** A list cursor the gateway issued: the list's method and the next cursor of each upstream with more. */
export interface GatewayCursor {
  method: string;
  next: Record<string, string>;
}

/** Longest cursor accepted (8 KiB): one upstream cursor each, base64url. */
export const MAX_CURSOR_CHARS = 8192;
const CURSOR_VERSION = 1;

export function encodeCursor(cursor: GatewayCursor): string {
  return Buffer.from(JSON.stringify({ v: CURSOR_VERSION, m: cursor.method, n: cursor.next })).toString(
    'base64url',
  );
}

/** The cursor, or a reason it is not one the gateway issued for `method`. */
export function decodeCursor(text: string, method: string): GatewayCursor | string {
  if (text.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(text))
    return 'it is not a cursor the gateway issued';
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return 'it is not a cursor the gateway issued';
  }
  const v = value as { v?: unknown; m?: unknown; n?: unknown } | null;
  if (v === null || typeof v !== 'object' || v.v !== CURSOR_VERSION || typeof v.n !== 'object' || !v.n)
    return 'it is not a cursor the gateway issued';
  if (v.m !== method) return `it was issued for ${String(v.m)}, not ${method}`;
  const next: Record<string, string> = {};
  for (const [name, c] of Object.entries(v.n as Record<string, unknown>)) {
    if (typeof c !== 'string') return 'it is not a cursor the gateway issued';
    next[name] = c;
  }
  return { method, next };
}
