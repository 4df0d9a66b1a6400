import { McpscopeError } from '../jsonrpc/errors.js';

/** What a redacted value becomes. */
export const REDACTED = '[REDACTED]';

/**
 * Keys whose values are secrets wherever they appear in a message (compared case-insensitively, ignoring
 * `-` and `_`): `password`, `apiKey`, `x-api-key`, `Authorization`, `access_token`, …
 */
const SECRET_KEYS = new Set([
  'password',
  'passwd',
  'pwd',
  'secret',
  'clientsecret',
  'apikey',
  'xapikey',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'token',
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'privatekey',
  'sessiontoken',
  'credentials',
]);
const SECRET_KEY_IN_JSON =
  /"(?:password|passwd|pwd|secret|client[-_]?secret|api[-_]?key|x[-_]?api[-_]?key|access[-_]?token|refresh[-_]?token|id[-_]?token|token|authorization|proxy[-_]?authorization|cookie|set[-_]?cookie|private[-_]?key|session[-_]?token|credentials)"\s*:/i;

/** A secret key and its value (a string, or anything up to the next comma or brace) in JSON text. */
const SECRET_VALUE_IN_JSON = new RegExp(
  `(${SECRET_KEY_IN_JSON.source}\\s*)("(?:[^"\\\\]|\\\\.)*"?|[^,}\\]\\s]+)`,
  'gi',
);

/** Secrets recognised by their shape, in any string value or header. */
export const DEFAULT_REDACT_PATTERNS: readonly string[] = [
  // HTTP bearer credentials
  String.raw`\b[Bb]earer\s+[A-Za-z0-9\-._~+/]+=*`,
  // OpenAI / Anthropic style API keys
  String.raw`\bsk-[A-Za-z0-9_-]{16,}`,
  // GitHub tokens
  String.raw`\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})`,
  // AWS access key ids
  String.raw`\bAKIA[0-9A-Z]{16}\b`,
  // Slack tokens
  String.raw`\bxox[abprs]-[A-Za-z0-9-]{10,}`,
  // JSON Web Tokens
  String.raw`\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`,
  // PEM private keys
  String.raw`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----`,
];

export interface RedactionOptions {
  /** False only when asked for explicitly (`--no-redact`). Default true. */
  enabled?: boolean;
  /** Extra JSON paths to redact in every message, e.g. `params.arguments.password`; `*` matches any key. */
  paths?: readonly string[];
  /** Extra regular expressions whose matches in any string value are redacted, e.g. `tok_[a-z0-9]+`. */
  patterns?: readonly string[];
  /** Extra header names whose values are redacted (besides those that look like credentials). */
  headers?: readonly string[];
}

/** Words that make a header name a credential's, as a whole word or between hyphens (`x-auth-token`). */
const SECRET_HEADER_WORDS: ReadonlySet<string> = new Set([
  'token',
  'key',
  'apikey',
  'secret',
  'auth',
  'authorization',
  'password',
  'passwd',
  'session',
  'cookie',
  'credential',
  'credentials',
]);

/**
 * Does a header's name suggest a credential? Any of its words (split at `-`, `_` and `.`, case-insensitive)
 * is one of SECRET_HEADER_WORDS: `Authorization`, `X-Api-Key`, `X-Auth-Token`, `Proxy-Authorization`,
 * `Cookie`, `Mcp-Session-Id` do; `Keyboard` and `X-Monkey` do not. Also the secret keys of messages
 * (`apiKey`, `access_token`, …).
 */
export function secretHeader(name: string): boolean {
  let secret = judged.get(name);
  if (secret === undefined) {
    const lower = name.toLowerCase();
    secret =
      SECRET_KEYS.has(normalizeKey(lower)) ||
      lower.split(/[-_.]/).some((word) => SECRET_HEADER_WORDS.has(word));
    if (judged.size >= MAX_JUDGED_HEADERS) judged.clear();
    judged.set(name, secret);
  }
  return secret;
}

/**
 * Header names already judged by `secretHeader`: judging one takes about 0.5 µs, and every HTTP exchange
 * the feed or a tape keeps has a dozen, the same ones each time. Bounded: past this many it starts again.
 */
const judged = new Map<string, boolean>();
const MAX_JUDGED_HEADERS = 1_000;

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

function compile(source: string): RegExp {
  try {
    return new RegExp(source, 'g');
  } catch (err) {
    throw new McpscopeError(
      'CONFIG_INVALID',
      `redaction pattern "${source}" is not a valid regular expression: ${(err as Error).message}`,
    );
  }
}

function parsePath(path: string): string[] {
  const segments = path
    .replace(/^\$\.?/, '')
    .replace(/\[(\d+|\*)\]/g, '.$1')
    .split('.')
    .filter(Boolean);
  if (segments.length === 0)
    throw new McpscopeError(
      'CONFIG_INVALID',
      `redaction path "${path}" is empty; use e.g. params.arguments.password`,
    );
  return segments;
}

/**
 * Removes secrets from messages and headers before anything reaches disk. A message with nothing to redact
 * (the common case, found by one regular-expression scan of its raw bytes) is written as received.
 */
export class Redactor {
  readonly enabled: boolean;
  readonly paths: readonly string[];
  readonly patterns: readonly string[];
  readonly #paths: string[][];
  readonly #patterns: RegExp[];
  /** Header names redacted besides those that look like credentials (lower case). */
  readonly #headers: ReadonlySet<string>;
  /** One scan that finds anything any rule could redact. */
  readonly #quick: RegExp;

  constructor(options: RedactionOptions = {}) {
    this.enabled = options.enabled ?? true;
    this.paths = options.paths ?? [];
    this.patterns = [...DEFAULT_REDACT_PATTERNS, ...(options.patterns ?? [])];
    this.#paths = this.paths.map(parsePath);
    this.#patterns = this.patterns.map(compile);
    this.#headers = new Set((options.headers ?? []).map((h) => h.toLowerCase()));
    this.#quick = new RegExp(
      [SECRET_KEY_IN_JSON.source, ...this.patterns.map((p) => `(?:${p})`)].join('|'),
      'i',
    );
  }

  /** Rules in force, for the tape header (never values): the built-in ones are on whenever redaction is. */
  describe(): { enabled: boolean; paths: string[]; patterns: string[] } {
    return {
      enabled: this.enabled,
      paths: [...this.paths],
      patterns: this.patterns.slice(DEFAULT_REDACT_PATTERNS.length),
    };
  }

  /** The message as JSON text, secrets replaced; `raw` itself when nothing needs redacting. */
  message(raw: Buffer, msg: unknown): string {
    const text = raw.toString('utf8');
    if (!this.enabled) return text;
    if (!this.#quick.test(text) && !this.#pathsHit(msg)) return text;
    const copy = this.value(msg);
    for (const path of this.#paths) redactPath(copy, path, 0);
    return JSON.stringify(copy);
  }

  /** A deep copy of a parsed message with every rule applied: secret keys, secret-shaped strings, paths. */
  messageValue(msg: unknown): unknown {
    if (!this.enabled) return msg;
    const copy = this.value(msg);
    for (const path of this.#paths) redactPath(copy, path, 0);
    return copy;
  }

  /** A deep copy of `value` with secret keys and secret-shaped strings redacted. */
  value(value: unknown): unknown {
    if (!this.enabled) return value;
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((v) => this.value(v));
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      out[key] = SECRET_KEYS.has(normalizeKey(key)) && v !== null && v !== '' ? REDACTED : this.value(v);
    }
    return out;
  }

  /** A string with every secret-shaped part replaced. */
  text(value: string): string {
    if (!this.enabled) return value;
    let out = value;
    for (const pattern of this.#patterns) {
      pattern.lastIndex = 0;
      out = out.replace(pattern, REDACTED);
    }
    return out;
  }

  /**
   * HTTP headers: those whose name suggests a credential (see `secretHeader`; but not those in `shown`) and
   * those named by `--redact-header` always go; other values are scanned like any string.
   */
  headers(
    headers: Record<string, string | string[] | undefined>,
    shown?: ReadonlySet<string>,
  ): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, v] of Object.entries(headers)) {
      if (v === undefined) continue;
      const value = Array.isArray(v) ? v.join(', ') : v;
      const lower = name.toLowerCase();
      const secret = (secretHeader(name) && shown?.has(lower) !== true) || this.#headers.has(lower);
      out[name] = this.enabled && secret ? REDACTED : this.text(value);
    }
    return out;
  }

  /**
   * A piece of a message's JSON text (the start of a message too large to keep whole): secret-shaped
   * strings and the values of secret keys replaced. Path rules need the whole message: `hasPaths` says
   * whether a caller must redact the whole message instead.
   */
  fragment(text: string): string {
    if (!this.enabled) return text;
    return this.text(text).replace(SECRET_VALUE_IN_JSON, `$1"${REDACTED}"`);
  }

  get hasPaths(): boolean {
    return this.#paths.length > 0;
  }

  #pathsHit(msg: unknown): boolean {
    for (const path of this.#paths) if (pathHit(msg, path, 0)) return true;
    return false;
  }
}

function pathHit(node: unknown, path: string[], i: number): boolean {
  if (node === null || typeof node !== 'object') return false;
  const segment = path[i] as string;
  const last = i === path.length - 1;
  const record = node as Record<string, unknown>;
  const keys = segment === '*' ? Object.keys(record) : [segment];
  for (const key of keys) {
    if (!(key in record)) continue;
    const v = record[key];
    if (last ? v !== REDACTED : pathHit(v, path, i + 1)) return true;
  }
  return false;
}

function redactPath(node: unknown, path: string[], i: number): void {
  if (node === null || typeof node !== 'object') return;
  const segment = path[i] as string;
  const record = node as Record<string, unknown>;
  const keys = segment === '*' ? Object.keys(record) : [segment];
  for (const key of keys) {
    if (!(key in record)) continue;
    if (i === path.length - 1) record[key] = REDACTED;
    else redactPath(record[key], path, i + 1);
  }
}
