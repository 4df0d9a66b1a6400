import { REDACTED } from './redact.js';

/** How a live request is matched against the recorded ones. */
export type MatchMode = 'strict' | 'lenient';

export interface Difference {
  /** Where, e.g. `arguments.b` or `result.content[0].text`. */
  readonly path: string;
  readonly recorded: unknown;
  readonly live: unknown;
}

/** A copy without `_meta` anywhere: progress tokens, trace context and other per-run noise. */
export function withoutMeta(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutMeta);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (key !== '_meta') out[key] = withoutMeta(v);
  }
  return out;
}

const MISSING = Symbol('missing');

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/**
 * Every difference between a recorded value and a live one, by path. A recorded "[REDACTED]" matches
 * anything: the tape never held the real value.
 */
export function differences(
  recorded: unknown,
  live: unknown,
  path = '',
  out: Difference[] = [],
  limit = 50,
): Difference[] {
  if (out.length >= limit) return out;
  if (recorded === REDACTED) return out;
  if (Array.isArray(recorded) && Array.isArray(live)) {
    const n = Math.max(recorded.length, live.length);
    for (let i = 0; i < n; i++) {
      differences(
        i < recorded.length ? recorded[i] : MISSING,
        i < live.length ? live[i] : MISSING,
        join(path, i),
        out,
        limit,
      );
    }
    return out;
  }
  if (isObject(recorded) && isObject(live)) {
    const keys = new Set([...Object.keys(recorded), ...Object.keys(live)]);
    for (const key of keys) {
      differences(
        key in recorded ? recorded[key] : MISSING,
        key in live ? live[key] : MISSING,
        join(path, key),
        out,
        limit,
      );
    }
    return out;
  }
  if (!Object.is(recorded, live)) out.push({ path: path || '(whole value)', recorded, live });
  return out;
}

/** A JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `value` when it is a JSON object, else an empty one. */
export function objectOr(value: unknown): Record<string, unknown> {
  return isObject(value) ? value : {};
}

function show(v: unknown): string {
  if (v === MISSING) return '(absent)';
  const text = JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** `arguments.b: recorded 2, got 3`, one line per difference. */
export function describeDifferences(diffs: readonly Difference[]): string[] {
  return diffs.map((d) => `${d.path}: recorded ${show(d.recorded)}, got ${show(d.live)}`);
}

/** The target of a request that lenient matching insists on: the tool, prompt or resource. */
export function targetOf(method: string, params: unknown): string | undefined {
  const p = params as { name?: unknown; uri?: unknown } | undefined;
  if (method === 'tools/call' || method === 'prompts/get')
    return typeof p?.name === 'string' ? p.name : undefined;
  if (method.startsWith('resources/')) return typeof p?.uri === 'string' ? p.uri : undefined;
  return undefined;
}
