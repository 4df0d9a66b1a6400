import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { McpscopeError } from '../jsonrpc/errors.js';
import { parseYaml } from '../config/yaml.js';

/** Clock skew allowed on a token's `exp`, `nbf` and `iat` (30 s). */
export const DEFAULT_CLOCK_SKEW_SECONDS = 30;
/** Least time between two JWKS fetches caused by a token signed with an unknown `kid` (30 s). */
export const DEFAULT_JWKS_COOLDOWN_SECONDS = 30;

const url = z.url({ protocol: /^https?$/ });
const scope = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope is visible ASCII without " or \\');

/**
 * The `auth` block: mcpscope as an OAuth 2.1 resource server (the MCP authorization spec), the same shape in
 * a `forward http` config file or `--auth-config` file and in the gateway's YAML.
 */
export const authSchema = z
  .object({
    /** The authorization server, exactly as its tokens' `iss` says. */
    issuer: url,
    /** This resource (RFC 8707): tokens must name it in `aud`; tokens for any other audience are refused. */
    audience: url,
    /** Where the issuer's signing keys are. Default: `jwks_uri` of its metadata (RFC 8414, then OIDC). */
    jwksUri: url.optional(),
    /** Scopes every request needs. */
    scopes: z.array(scope).default([]),
    /** Extra scopes per tool (`tools/call`), by tool name glob, e.g. `{ "files__*": ["files:read"] }`. */
    toolScopes: z.record(z.string().min(1), z.array(scope)).default({}),
    /** RFC 7662 introspection endpoint, for opaque (non-JWT) tokens; needs clientId and clientSecret. */
    introspectionUrl: url.optional(),
    /** mcpscope's own client at the authorization server, for introspection. */
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
    /** Clock skew allowed on `exp`, `nbf` and `iat`, seconds. */
    clockSkewSeconds: z.number().int().min(0).max(600).default(DEFAULT_CLOCK_SKEW_SECONDS),
    /** Least time between two JWKS fetches caused by unknown key ids, seconds. */
    jwksCooldownSeconds: z.number().min(0).max(3600).default(DEFAULT_JWKS_COOLDOWN_SECONDS),
  })
  .strict()
  .refine((a) => !a.introspectionUrl || (a.clientId && a.clientSecret), {
    message: 'introspectionUrl needs clientId and clientSecret (mcpscope authenticates to the endpoint)',
    path: ['introspectionUrl'],
  });

export type AuthOptions = z.infer<typeof authSchema>;
export type AuthInput = z.input<typeof authSchema>;

/**
 * The `auth` setting as given: the name of a YAML or JSON file, or (in a config file) the block itself, which
 * loadAuthOptions() validates (with messages that name the key, never a value: the block may hold a secret).
 */
export const authSetting = z.union([z.string().min(1), z.record(z.string(), z.unknown())]);

function invalid(where: string, issue: z.core.$ZodIssue): McpscopeError {
  const key = issue.path.length > 0 ? `auth.${issue.path.join('.')}` : 'auth';
  return new McpscopeError('CONFIG_INVALID', `invalid ${key} in ${where}: ${issue.message}`, {
    details: { key },
  });
}

/**
 * The auth options from the `auth` setting: a block is used as it is; a file (YAML or JSON) holds either the
 * block or a document with an `auth:` key (so the gateway's file can be named). CONFIG_INVALID otherwise.
 */
export async function loadAuthOptions(value: string | Record<string, unknown>): Promise<AuthOptions> {
  if (typeof value !== 'string') return parseAuth(value, 'the config file');
  let text: string;
  try {
    text = await readFile(value, 'utf8');
  } catch (err) {
    throw new McpscopeError(
      'CONFIG_INVALID',
      `cannot read --auth-config ${value}: ${(err as Error).message}`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new McpscopeError(
      'CONFIG_INVALID',
      `--auth-config ${value} is not YAML or JSON: ${(err as Error).message}`,
    );
  }
  const block =
    doc !== null && typeof doc === 'object' && 'auth' in doc ? (doc as { auth: unknown }).auth : doc;
  return parseAuth(block, `--auth-config ${value}`);
}

/** Validate an `auth` block; `where` names its source in the error. */
export function parseAuth(block: unknown, where: string): AuthOptions {
  const parsed = authSchema.safeParse(block);
  if (!parsed.success) throw invalid(where, parsed.error.issues[0] as z.core.$ZodIssue);
  return parsed.data;
}
