/**
 * The gateway's configuration file (`mcpscope gateway --config FILE`, YAML or JSON): where it listens, the
 * name separator, its upstreams (a stdio command or a URL each, with their own headers, tool and prompt
 * filters and `bridge`), and `auth`. Every string value may name environment variables as `${NAME}`, or
 * `${NAME:-default}` for a value used when NAME is unset or empty (`$${` writes a literal `${`). Any key of the settings table (`requestTimeoutMs`, `record`, `rules`, …)
 * may sit beside them. Errors name the key, as `upstreams.search.url`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { CONFIG_KEYS } from '../config/schema.js';
import { SETTINGS } from '../config/settings.js';
import { McpscopeError } from '../jsonrpc/errors.js';

// The YAML parser is loaded with the gateway's config only (see src/intercept/rules.ts).
const require = createRequire(import.meta.url);

/** The default separator between an upstream's name and a tool, prompt or resource template name. */
export const DEFAULT_SEPARATOR = '__';
/**
 * How long the gateway waits for one upstream's part of an answer it merges (initialize, lists,
 * server/discover) before answering without it (10 s).
 */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 10_000;

/** An upstream's name: what prefixes its tools and labels its metrics. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const Filter = z
  .object({
    allow: z.array(z.string().min(1)).optional(),
    deny: z.array(z.string().min(1)).optional(),
  })
  .strict();

const common = {
  /** Tools shown and callable: allow and deny globs on the upstream's own names. Default: every tool. */
  tools: Filter.optional(),
  /** Prompts shown and gettable, as `tools`. Default: every prompt. */
  prompts: Filter.optional(),
  /** `auto`: translate between protocol eras for this upstream (see src/bridge). Default `off`. */
  bridge: z.enum(['off', 'auto']).default('off'),
};

const StdioUpstream = z
  .object({
    /** The server's command line, one process per client session: `[node, server.js, arg]`, or one string. */
    command: z.union([
      z.array(z.string().min(1)).min(1, 'must name a program'),
      z
        .string()
        .min(1)
        .transform((c) => c.trim().split(/\s+/)),
    ]),
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().min(1).optional(),
    ...common,
  })
  .strict();

const UrlUpstream = z
  .object({
    url: z.url({
      protocol: /^(https?|wss?)$/,
      error: 'must be an http(s):// (Streamable HTTP or legacy SSE) or ws(s):// (WebSocket) URL',
    }),
    /** Sent with every request to this upstream (its own credentials; a client's are never forwarded). */
    headers: z.record(z.string(), z.string()).optional(),
    transport: z.enum(['auto', 'streamable-http', 'sse', 'websocket']).default('auto'),
    ...common,
  })
  .strict();

export type StdioUpstreamConfig = z.infer<typeof StdioUpstream>;
export type UrlUpstreamConfig = z.infer<typeof UrlUpstream>;
export type UpstreamConfig = StdioUpstreamConfig | UrlUpstreamConfig;
export type NameFilterConfig = z.infer<typeof Filter>;

const Listen = z
  .object({
    host: z.string().min(1).optional(),
    port: z.coerce.number().int().min(0).max(65_535).optional(),
    path: z.string().startsWith('/').optional(),
  })
  .strict();

const GatewayFile = z.object({
  listen: Listen.optional(),
  separator: z
    .string()
    .min(1)
    .max(8)
    .regex(/^[^\s/]+$/, 'must not hold white space or /')
    .default(DEFAULT_SEPARATOR),
  upstreamTimeoutMs: z.coerce.number().int().min(1).default(DEFAULT_UPSTREAM_TIMEOUT_MS),
  upstreams: z.record(z.string(), z.unknown()),
  // The OAuth resource-server block: checked as an object here, passed to the HTTP listener, and enforced
  // by src/auth (its own schema validates the keys).
  auth: z.looseObject({}).optional(),
});

/** The gateway's own keys; every other top-level key must be a setting (src/config/settings.ts). */
export const GATEWAY_KEYS = ['listen', 'separator', 'upstreamTimeoutMs', 'upstreams', 'auth'] as const;

export interface GatewayConfig {
  listen: z.infer<typeof Listen>;
  separator: string;
  upstreamTimeoutMs: number;
  /** In the file's order. */
  upstreams: Array<{ name: string } & UpstreamConfig>;
  auth: Record<string, unknown> | undefined;
  /** The settings given in the file (camelCase keys), for the settings merge (flags and env win). */
  settings: Record<string, unknown>;
}

function invalid(file: string, key: string, problem: string): McpscopeError {
  return new McpscopeError('CONFIG_INVALID', `${file}: ${key}: ${problem}`, { details: { key } });
}

const ENV_REF = /\$(\$?)\{([^}]*)\}/g;
const ENV_NAME = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Every string in `value` with `${NAME}` replaced by that environment variable (`${NAME:-default}`: the
 * default when it is unset or empty); a variable that is not set and has no default (or a malformed
 * reference) is an error naming the key and the variable. `$${…}` is a literal `${…}`.
 */
export function expandEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  file: string,
  path: readonly string[] = [],
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (whole, escaped: string, ref: string) => {
      if (escaped) return whole.slice(1);
      const key = path.join('.') || 'the file';
      const m = ENV_NAME.exec(ref);
      if (!m)
        throw invalid(
          file,
          key,
          `\${${ref}} is not a variable name (letters, digits and _), with an optional :-default`,
        );
      const [, name, fallback] = m as unknown as [string, string, string | undefined];
      const found = env[name];
      if (fallback !== undefined && (found === undefined || found === '')) return fallback;
      if (found === undefined)
        throw invalid(
          file,
          key,
          `refers to \${${name}}, which is not set in the environment; set it, or write \${${name}:-default}`,
        );
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, file, [...path, String(i)]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env, file, [...path, k]);
    return out;
  }
  return value;
}

function keyOf(path: readonly PropertyKey[], prefix: readonly string[] = []): string {
  const all = [...prefix, ...path.map(String)];
  return all.length > 0 ? all.join('.') : 'the file';
}

/** The first zod issue as one line naming its key (unknown keys by name, with what is allowed). */
function problem(file: string, error: z.ZodError, prefix: readonly string[], allowed: string): McpscopeError {
  const issue = error.issues[0] as z.core.$ZodIssue;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => keyOf([...issue.path, k], prefix));
    return invalid(file, keys[0] as string, `unknown key (allowed here: ${allowed})`);
  }
  return invalid(file, keyOf(issue.path, prefix), issue.message);
}

function parseUpstream(file: string, name: string, raw: unknown): UpstreamConfig {
  const key = `upstreams.${name}`;
  if (!NAME.test(name))
    throw invalid(
      file,
      key,
      'an upstream name is 1 to 64 letters, digits, _ or -, starting with a letter or digit',
    );
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw invalid(file, key, 'must be an object with command (a stdio server) or url (a remote server)');
  const has = (k: string): boolean => k in raw;
  if (has('command') === has('url')) {
    throw invalid(
      file,
      key,
      has('command')
        ? 'give command (a stdio server) or url (a remote server), not both'
        : `unknown upstream transport: give command (a stdio server, e.g. [node, server.js]) or url (http(s):// for Streamable HTTP or legacy SSE, ws(s):// for WebSocket); it has ${Object.keys(raw).join(', ') || 'no keys'}`,
    );
  }
  const schema = has('command') ? StdioUpstream : UrlUpstream;
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    throw problem(file, parsed.error, ['upstreams', name], Object.keys(schema.shape).join(', '));
  const upstream = parsed.data;
  if ('url' in upstream && upstream.transport === 'websocket' && !/^wss?:/.test(upstream.url))
    throw invalid(file, `${key}.transport`, 'websocket needs a ws:// or wss:// URL');
  return upstream;
}

/** Validate a parsed gateway file (after `${NAME}` expansion). Throws CONFIG_INVALID naming the key. */
export function parseGatewayConfig(raw: unknown, file = 'gateway config'): GatewayConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw invalid(file, 'the file', 'must be a YAML or JSON object with at least `upstreams`');
  const own: Record<string, unknown> = {};
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if ((GATEWAY_KEYS as readonly string[]).includes(key)) own[key] = value;
    else if ((CONFIG_KEYS as string[]).includes(key)) {
      const commands: readonly string[] = SETTINGS[key as keyof typeof SETTINGS].commands;
      if (!commands.includes('gateway'))
        throw invalid(
          file,
          key,
          'does not apply to the gateway: each upstream has its own (url, headers, transport, bridge under upstreams.<name>)',
        );
      settings[key] = value;
    } else
      throw invalid(
        file,
        key,
        `unknown key (allowed: ${GATEWAY_KEYS.join(', ')}, or any setting of \`mcpscope gateway --help\` by its config key, e.g. requestTimeoutMs)`,
      );
  }
  for (const k of ['host', 'port', 'path'] as const) {
    if (k in settings && own.listen !== undefined)
      throw invalid(file, k, `give it as listen.${k} or as ${k}, not both`);
  }
  if (!('upstreams' in own)) throw invalid(file, 'upstreams', 'is required: name at least one upstream');
  const parsed = GatewayFile.safeParse(own);
  if (!parsed.success)
    throw problem(file, parsed.error, [], 'host, port, path (under listen), allow, deny (under tools)');
  const { listen, separator, upstreamTimeoutMs, auth } = parsed.data;
  const entries = Object.entries(parsed.data.upstreams);
  if (entries.length === 0) throw invalid(file, 'upstreams', 'is empty: name at least one upstream');
  const upstreams = entries.map(([name, value]) => {
    const upstream = parseUpstream(file, name, value);
    if (name.includes(separator))
      throw invalid(
        file,
        `upstreams.${name}`,
        `the name holds the separator "${separator}", so its tools could not be told apart; rename it or set separator`,
      );
    return { name, ...upstream };
  });
  return { listen: listen ?? {}, separator, upstreamTimeoutMs, upstreams, auth, settings };
}

/** Read, expand and validate a gateway config file (YAML or JSON). Throws CONFIG_INVALID naming the key. */
export function loadGatewayConfig(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new McpscopeError(
      'CONFIG_INVALID',
      `cannot read gateway config ${file}: ${(err as Error).message}`,
    );
  }
  let raw: unknown;
  try {
    raw = (require('yaml') as typeof import('yaml')).parse(text);
  } catch (err) {
    throw invalid(file, 'the file', `not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  return parseGatewayConfig(expandEnv(raw, env, file), file);
}
