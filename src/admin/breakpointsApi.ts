/**
 * The admin API of breakpoints and held messages: `/breakpoints`, `/breakpoints/{id}`, `/paused`,
 * `/paused/{id}` and `/paused/{id}/resume|drop|reply`. Requests are validated here (zod, 400 naming the
 * key and what was expected); what they do is src/intercept/breakpoints.ts.
 */
import { z } from 'zod';
import { MatchSchema } from '../intercept/rules.js';
import {
  MAX_BREAKPOINTS,
  regexProblems,
  type Breakpoints,
  type PauseResult,
} from '../intercept/breakpoints.js';

/** An admin API answer: status and JSON body (none for 204), and headers when they matter. */
export interface AdminAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

const ID = '([^/]{1,200})';
const BREAKPOINT = new RegExp(`^/breakpoints/${ID}$`);
const PAUSED = new RegExp(`^/paused/${ID}$`);
const PAUSED_ACTION = new RegExp(`^/paused/${ID}/(resume|drop|reply)$`);

const CreateSchema = z.object({ match: MatchSchema }).strict();
const ResumeSchema = z.object({ message: z.record(z.string(), z.unknown()).optional() }).strict();
const ErrorSchema = z
  .object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() })
  .strict();

interface Problem {
  key: string;
  expected: string;
}

function bad(problems: Problem[]): AdminAnswer {
  return {
    status: 400,
    body: { error: problems.map((p) => `${p.key}: ${p.expected}`).join('; '), problems },
  };
}

/** A zod failure as the admin API says it: each problem naming its key and what was expected. */
function invalid(issues: readonly z.core.$ZodIssue[], root: string): AdminAnswer {
  return bad(issues.flatMap((issue) => problems(issue, root)));
}

function problems(issue: z.core.$ZodIssue, root: string): Problem[] {
  const key = (path: readonly PropertyKey[]): string =>
    [root, ...path.map(String)].filter(Boolean).join('.') || 'the body';
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => ({ key: key([...issue.path, k]), expected: 'nothing: not a known key' }));
  }
  return [{ key: key(issue.path), expected: issue.message }];
}

function answer(result: PauseResult, id: string): AdminAnswer {
  return result.ok
    ? { status: 200, body: { id, state: result.state } }
    : { status: result.status, body: { error: result.error } };
}

/** 405, naming what is allowed on `path`. */
export const notAllowed = (allow: string, method: string, path: string): AdminAnswer => ({
  status: 405,
  headers: { allow },
  body: { error: `method ${method} is not allowed on ${path}; allowed: ${allow}` },
});

export class BreakpointsApi {
  readonly #breakpoints: Breakpoints;

  constructor(breakpoints: Breakpoints) {
    this.#breakpoints = breakpoints;
  }

  /** Whether `path` is one of these routes (the caller reads a POST's body only then). */
  static owns(path: string): boolean {
    return (
      path === '/breakpoints' ||
      path === '/paused' ||
      BREAKPOINT.test(path) ||
      PAUSED.test(path) ||
      PAUSED_ACTION.test(path)
    );
  }

  /** Answer one request; `body` is the parsed JSON body (undefined when there was none). */
  handle(method: string, path: string, body: unknown): AdminAnswer {
    const bp = this.#breakpoints;
    const read = method === 'GET' || method === 'HEAD';
    if (path === '/breakpoints') {
      if (read) return { status: 200, body: { breakpoints: bp.list() } };
      if (method !== 'POST') return notAllowed('GET, HEAD, POST', method, path);
      return this.#create(body);
    }
    if (path === '/paused') {
      if (read) return { status: 200, body: { paused: bp.pausedMessages() } };
      return notAllowed('GET, HEAD', method, path);
    }
    const one = BREAKPOINT.exec(path);
    if (one) {
      const id = idOf(one[1] as string);
      if (read) {
        const found = bp.get(id);
        return found ? { status: 200, body: found } : noBreakpoint(id);
      }
      if (method !== 'DELETE') return notAllowed('GET, HEAD, DELETE', method, path);
      return bp.remove(id) ? { status: 204 } : noBreakpoint(id);
    }
    const held = PAUSED.exec(path);
    if (held) {
      const id = idOf(held[1] as string);
      if (!read) return notAllowed('GET, HEAD', method, path);
      const found = bp.pausedMessage(id);
      return found
        ? { status: 200, body: found }
        : { status: 404, body: { error: `no held message ${id}; GET /paused lists them` } };
    }
    const action = PAUSED_ACTION.exec(path) as RegExpExecArray;
    if (method !== 'POST') return notAllowed('POST', method, path);
    const id = idOf(action[1] as string);
    switch (action[2]) {
      case 'resume': {
        const parsed = ResumeSchema.safeParse(body ?? {});
        if (!parsed.success) return invalid(parsed.error.issues, '');
        return answer(bp.resume(id, parsed.data.message), id);
      }
      case 'drop':
        return answer(bp.drop(id), id);
      default:
        return this.#reply(id, body);
    }
  }

  /** `{ "result": … }` or `{ "error": { code, message, data? } }`: exactly one. */
  #reply(id: string, body: unknown): AdminAnswer {
    const shape = 'exactly one of "result" (any JSON) or "error" ({ code, message, data? })';
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return bad([{ key: 'the body', expected: `an object with ${shape}` }]);
    }
    const keys = Object.keys(body);
    const unknown = keys.filter((k) => k !== 'result' && k !== 'error');
    if (unknown.length > 0) {
      return bad(unknown.map((k) => ({ key: k, expected: 'nothing: not a known key' })));
    }
    if (keys.length !== 1) return bad([{ key: 'the body', expected: shape }]);
    const given = body as { result?: unknown; error?: unknown };
    if (keys[0] === 'result') return answer(this.#breakpoints.reply(id, { result: given.result }), id);
    const error = ErrorSchema.safeParse(given.error);
    if (!error.success) return invalid(error.error.issues, 'error');
    return answer(this.#breakpoints.reply(id, { error: error.data }), id);
  }

  #create(body: unknown): AdminAnswer {
    const parsed = CreateSchema.safeParse(body);
    if (!parsed.success) return invalid(parsed.error.issues, '');
    const regexes = regexProblems(parsed.data.match);
    if (regexes.length > 0) {
      return bad(regexes);
    }
    const created = this.#breakpoints.add(parsed.data.match);
    if (!created) {
      return {
        status: 409,
        body: { error: `${MAX_BREAKPOINTS} breakpoints are set, the most at once; delete one first` },
      };
    }
    return { status: 201, body: created, headers: { location: `/breakpoints/${created.id}` } };
  }
}

function noBreakpoint(id: string): AdminAnswer {
  return { status: 404, body: { error: `no breakpoint ${id}; GET /breakpoints lists them` } };
}

/** A path segment decoded; as it came when it is not valid percent-encoding (then no such id exists). */
export function idOf(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
