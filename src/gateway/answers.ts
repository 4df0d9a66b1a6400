/**
 * The answers the gateway builds from its upstreams' (see aggregate.ts): `initialize`, `server/discover` and
 * the merged lists, each asked of every upstream in parallel and made without those that fail, which
 * `_meta["io.mcpscope/missing"]` names.
 */
import { isObject, objectOr } from '../bridge/bridge.js';
import { McpscopeError } from '../jsonrpc/errors.js';
import { LEGACY_PROTOCOL_VERSIONS, SUPPORTED_PROTOCOL_VERSIONS, type Era } from '../jsonrpc/era.js';
import type { Frame } from '../jsonrpc/framing.js';
import { VERSION } from '../version.js';
import type { Member } from './member.js';
import { joinInstructions, renameItems, unionCapabilities, type ListKind } from './merge.js';
import { META_MISSING, decodeCursor, encodeCursor, type NameRouter } from './names.js';
import type { ResourceRoutes } from './resources.js';

type Json = Record<string, unknown>;

/** The gateway's name in its answers. */
export const GATEWAY_INFO = { name: 'mcpscope-gateway', version: VERSION };
const NEWEST_LEGACY = LEGACY_PROTOCOL_VERSIONS[LEGACY_PROTOCOL_VERSIONS.length - 1] as string;

/** An upstream left out of a merged answer, and why. */
export interface Missing {
  upstream: string;
  code: string;
  message: string;
}

/** What the answers need of the aggregate transport. */
export interface AnswerHost {
  readonly members: readonly Member[];
  readonly router: NameRouter<number>;
  readonly resources: ResourceRoutes;
  era(): Era | undefined;
  /** Resolves once the upstream is open; rejects with why it cannot be. */
  open(member: Member): Promise<void>;
  /** A request of the gateway's own to an open upstream; resolves with its answer. */
  ask(member: Member, method: string, params: Json, like: Frame | undefined): Promise<Frame>;
  circuitOpen(member: Member): boolean;
  /** An upstream was left out of a merged answer (reported as a `gateway` event). */
  missing(member: Member, err: McpscopeError, what: string): void;
}

function missingOf(err: McpscopeError, member: Member): Missing {
  return { upstream: member.name, code: err.code, message: err.message };
}

export function errorText(frame: Frame): string {
  const error = (frame.msg as { error?: { code?: unknown; message?: unknown } }).error;
  return `${String(error?.message ?? 'error')} (${String(error?.code)})`;
}

function resultOf(frame: Frame): Json {
  return objectOr((frame.msg as { result?: unknown }).result);
}

/**
 * The answer to a 2025-era client's initialize, once every upstream is open or has failed (each within the
 * timeout): the client's protocol version when mcpscope carries it (each upstream negotiates its own), the
 * union of the capabilities, each upstream's instructions under its name.
 */
export async function initializeResult(host: AnswerHost, params: Json): Promise<Json> {
  const missing: Missing[] = [];
  await Promise.all(
    host.members.map((m) => host.open(m).catch((err: McpscopeError) => missing.push(missingOf(err, m)))),
  );
  const open = host.members.filter((m) => m.state === 'open' && m.init !== undefined);
  const asked = params.protocolVersion;
  const result: Json = {
    protocolVersion:
      typeof asked === 'string' && LEGACY_PROTOCOL_VERSIONS.includes(asked) ? asked : NEWEST_LEGACY,
    capabilities: unionCapabilities(open.map((m) => m.capabilities)),
    serverInfo: GATEWAY_INFO,
  };
  const instructions = joinInstructions(
    open.map((m) => ({ name: m.name, instructions: m.init?.instructions })),
  );
  if (instructions !== undefined) result.instructions = instructions;
  if (missing.length > 0) result._meta = { [META_MISSING]: missing };
  return result;
}

/** The answer to a 2026-07-28 client's server/discover: the union of the upstreams' own. */
export async function discoverResult(host: AnswerHost, frame: Frame, params: Json): Promise<Json> {
  const parts = await Promise.all(
    host.members.map(async (m) => {
      try {
        await host.open(m);
        const answer = await host.ask(m, 'server/discover', params, frame);
        if (answer.kind !== 'response')
          throw new McpscopeError('GATEWAY_UPSTREAM_UNAVAILABLE', errorText(answer));
        return { member: m, result: resultOf(answer) };
      } catch (err) {
        const e = m.named(err as McpscopeError);
        host.missing(m, e, 'server/discover');
        return { member: m, missing: missingOf(e, m) };
      }
    }),
  );
  const found = parts.flatMap((p) => ('result' in p ? [p] : []));
  const missing = parts.flatMap((p) => ('missing' in p ? [p.missing] : []));
  const result: Json = {
    supportedVersions: [...SUPPORTED_PROTOCOL_VERSIONS],
    capabilities: unionCapabilities(found.map((p) => objectOr(p.result?.capabilities))),
    ttlMs: 0,
    cacheScope: 'private',
  };
  const instructions = joinInstructions(
    found.map((p) => ({ name: p.member.name, instructions: p.result?.instructions })),
  );
  if (instructions !== undefined) result.instructions = instructions;
  if (missing.length > 0) result._meta = { [META_MISSING]: missing };
  return result;
}

/** One upstream's page of a list, as it answered; null when it does not serve that list. */
type Part =
  | { items: unknown; next: string | undefined; ttlMs: unknown; cacheScope: unknown }
  | { missing: Missing }
  | null;

/**
 * A merged page of a list: every upstream's first page, or with the gateway's cursor the next page of each
 * upstream it names; in the config's order. A cursor the gateway did not issue is an error to answer.
 */
export async function listResult(
  host: AnswerHost,
  frame: Frame,
  method: string,
  kind: ListKind,
  params: Json,
): Promise<Json | McpscopeError> {
  const parts = partsOf(host, method, params.cursor);
  if (parts instanceof McpscopeError) return parts;
  const results = await Promise.all(parts.map(([m, c]) => part(host, m, frame, method, kind, params, c)));
  const items: Json[] = [];
  const next: Record<string, string> = {};
  const missing: Missing[] = [];
  let ttlMs: number | undefined;
  let scope = 'public';
  parts.forEach(([m], i) => {
    const p = results[i];
    if (!p) return;
    if ('missing' in p) {
      missing.push(p.missing);
      return;
    }
    // In the config's order, so that of two upstreams listing one URI, the first serves it.
    const prefix = (name: string): string => host.router.outer(m.name, name);
    for (const item of renameItems(kind, p.items, prefix, m.def, host.resources.recorder(kind, m)))
      items.push(item);
    if (p.next !== undefined) next[m.name] = p.next;
    if (typeof p.ttlMs === 'number') ttlMs = Math.min(ttlMs ?? p.ttlMs, p.ttlMs);
    if (p.cacheScope !== 'public') scope = 'private';
  });
  const result: Json = { [kind.key]: items };
  if (Object.keys(next).length > 0) result.nextCursor = encodeCursor({ method, next });
  if (host.era() === 'modern') {
    // A list without one of its parts is not one to cache.
    result.ttlMs = missing.length > 0 ? 0 : (ttlMs ?? 0);
    result.cacheScope = missing.length > 0 ? 'private' : scope;
  }
  if (missing.length > 0) result._meta = { [META_MISSING]: missing };
  return result;
}

/** The upstreams to ask, each with its own cursor (none for a first page). */
function partsOf(
  host: AnswerHost,
  method: string,
  cursor: unknown,
): Array<[Member, string | undefined]> | McpscopeError {
  if (cursor === undefined) return host.members.map((m) => [m, undefined]);
  const decoded = typeof cursor === 'string' ? decodeCursor(cursor, method) : 'it is not a string';
  let why = typeof decoded === 'string' ? decoded : undefined;
  const parts: Array<[Member, string | undefined]> = [];
  if (typeof decoded !== 'string') {
    for (const [name, c] of Object.entries(decoded.next)) {
      const index = host.router.byName(name);
      const member = index === undefined ? undefined : host.members[index];
      if (member === undefined) why = `it names an upstream the gateway does not have (${name})`;
      else parts.push([member, c]);
    }
  }
  if (why === undefined) return parts;
  return new McpscopeError(
    'GATEWAY_CURSOR_INVALID',
    `the ${method} cursor is not valid: ${why}; list again without a cursor`,
  );
}

async function part(
  host: AnswerHost,
  member: Member,
  frame: Frame,
  method: string,
  kind: ListKind,
  params: Json,
  cursor: string | undefined,
): Promise<Part> {
  try {
    if (host.circuitOpen(member)) {
      throw new McpscopeError(
        'CIRCUIT_OPEN',
        `upstream ${member.name} is failing and its circuit breaker is open; its part is left out until a probe succeeds`,
      );
    }
    await host.open(member);
    if (member.init !== undefined && !isObject(member.capabilities[kind.capability])) return null;
    const p: Json = { ...params };
    if (cursor === undefined) delete p.cursor;
    else p.cursor = cursor;
    const answer = await host.ask(member, method, p, frame);
    if (answer.kind !== 'response') {
      const code = (answer.msg as { error?: { code?: unknown } }).error?.code;
      if (code === -32601 && cursor === undefined) return null; // it serves no such list
      throw new McpscopeError(
        'GATEWAY_UPSTREAM_UNAVAILABLE',
        `answered ${method} with an error: ${errorText(answer)}`,
      );
    }
    const result = resultOf(answer);
    const next = typeof result.nextCursor === 'string' ? result.nextCursor : undefined;
    return { items: result[kind.key], next, ttlMs: result.ttlMs, cacheScope: result.cacheScope };
  } catch (err) {
    const e = member.named(err as McpscopeError);
    host.missing(member, e, method);
    return { missing: missingOf(e, member) };
  }
}
