/**
 * Interception rules: what a rules file says (validated with zod, errors naming the rule, the key and what
 * was expected) and the matchers compiled from it once per load. The stage that acts on them is
 * src/stages/interceptStage.ts; breakpoints use the same `match` (src/intercept/breakpoints.ts).
 */
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { JSONPath } from 'jsonpath-plus';
import picomatch from 'picomatch';
import { z } from 'zod';
import { mcpNameOf } from '../jsonrpc/era.js';
import type { Frame } from '../jsonrpc/framing.js';
import type { Direction } from '../pipeline/stage.js';
import type { Session } from '../session/session.js';
import { parseYaml } from '../config/yaml.js';

/** A regular expression given as `{ regex: "..." }` (an argument's value, a JSONPath value). */
const Regex = z.object({ regex: z.string() }).strict();

export interface MatchSpec {
  direction?: 'request' | 'response';
  method?: string;
  tool?: string;
  arguments?: Record<string, unknown>;
  path?: string;
  equals?: unknown;
  matches?: string;
  session?: string;
  upstream?: string;
  all?: MatchSpec[];
  any?: MatchSpec[];
  not?: MatchSpec;
}

export const MatchSchema: z.ZodType<MatchSpec> = z.lazy(() =>
  z
    .object({
      direction: z.enum(['request', 'response']).optional(),
      method: z.string().min(1).optional(),
      tool: z.string().min(1).optional(),
      arguments: z.record(z.string(), z.unknown()).optional(),
      path: z.string().startsWith('$').optional(),
      equals: z.unknown().optional(),
      matches: z.string().optional(),
      session: z.string().min(1).optional(),
      upstream: z.string().min(1).optional(),
      all: z.array(MatchSchema).optional(),
      any: z.array(MatchSchema).optional(),
      not: MatchSchema.optional(),
    })
    .strict()
    .refine((m) => (m.equals === undefined && m.matches === undefined) || m.path !== undefined, {
      message: '`equals` and `matches` need a `path` (a JSONPath such as $.params.arguments.id)',
    }),
);

/** "800ms", "2s", "1.5s", a number of ms, or a range "500ms..1500ms" (a uniform pick per message). */
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/;

function durationMs(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1000 : n;
}

export const DelaySchema = z.union([z.number().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return { min: value, max: value };
  const [a, b] = value.split('..');
  const min = a === undefined ? undefined : durationMs(a);
  const max = b === undefined ? min : durationMs(b);
  if (min === undefined || max === undefined || max < min) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration such as 800ms, 2s or 500ms..1500ms, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return { min, max };
});

const PatchOp = z
  .object({
    op: z.enum(['add', 'remove', 'replace', 'move', 'copy', 'test']),
    path: z.string().startsWith('/'),
    value: z.unknown().optional(),
    from: z.string().optional(),
  })
  .strict();

/** The actions, exactly one per rule. */
export const ACTIONS = ['mock', 'error', 'delay', 'patch', 'drop', 'fault', 'break'] as const;
export type ActionName = (typeof ACTIONS)[number];

const ActionSchema = z
  .object({
    mock: z
      .object({
        result: z.custom<unknown>((v) => v !== undefined, {
          message:
            'a mock needs a result: what the server would answer, e.g. { content: [{ type: text, text: … }] }',
        }),
      })
      .strict()
      .optional(),
    error: z
      .object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() })
      .strict()
      .optional(),
    delay: DelaySchema.optional(),
    patch: z.array(PatchOp).min(1).optional(),
    drop: z.literal(true).optional(),
    fault: z
      .object({
        kind: z.enum(['close', 'timeout', 'corrupt']),
        probability: z.number().min(0).max(1).default(1),
      })
      .strict()
      .optional(),
    break: z.literal(true).optional(),
  })
  .strict()
  .refine((a) => ACTIONS.filter((k) => a[k] !== undefined).length === 1, {
    message: `expected exactly one of ${ACTIONS.join(', ')}`,
  });

export const RuleSchema = z
  .object({
    name: z.string().min(1),
    match: MatchSchema.default({}),
    action: ActionSchema,
    times: z.number().int().min(1).optional(),
    enabled: z.boolean().default(true),
  })
  .strict();

export const RulesFileSchema = z
  .object({ rules: z.array(RuleSchema) })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.rules.forEach((rule, i) => {
      if (seen.has(rule.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'name'],
          message: `the name "${rule.name}" is used twice; names are unique`,
        });
      }
      seen.add(rule.name);
    });
  });

export type RuleSpec = z.infer<typeof RuleSchema>;
export type ActionSpec = RuleSpec['action'];

/** Which action a rule takes. */
export function actionOf(action: ActionSpec): ActionName {
  return ACTIONS.find((k) => action[k] !== undefined) as ActionName;
}

/** A message test compiled once: cheap fields first, JSONPath last. */
export type Matcher = (frame: Frame, session: Session, direction: Direction) => boolean;

const GLOB = /[*?[\]{}!]/;

function textMatcher(pattern: string): (value: string | undefined) => boolean {
  if (!GLOB.test(pattern)) return (value) => value === pattern;
  const test = picomatch(pattern, { dot: true });
  return (value) => value !== undefined && test(value);
}

function valueMatches(expected: unknown, actual: unknown): boolean {
  const regex = Regex.safeParse(expected);
  if (regex.success) {
    return (
      (typeof actual === 'string' || typeof actual === 'number' || typeof actual === 'boolean') &&
      new RegExp(regex.data.regex).test(String(actual))
    );
  }
  return isDeepStrictEqual(expected, actual);
}

/** The method a message is about: its own, or (an answer) its request's. */
function methodOf(frame: Frame): string | undefined {
  return frame.method ?? frame.related?.method;
}

/** The tool, prompt or resource a message is about (an answer: its request's). */
function targetOf(frame: Frame): string | undefined {
  if (frame.related !== undefined && frame.kind !== 'request') return frame.related.target;
  return frame.method === undefined ? undefined : mcpNameOf(frame.method, frame.msg);
}

function argumentsOf(frame: Frame): Record<string, unknown> | undefined {
  const msg = frame.kind === 'request' ? frame.msg : undefined;
  const args = (msg as { params?: { arguments?: unknown } } | undefined)?.params?.arguments;
  return args !== null && typeof args === 'object' ? (args as Record<string, unknown>) : undefined;
}

function namesDirection(spec: MatchSpec): boolean {
  return (
    spec.direction !== undefined ||
    (spec.all ?? []).some(namesDirection) ||
    (spec.any ?? []).some(namesDirection) ||
    (spec.not !== undefined && namesDirection(spec.not))
  );
}

/**
 * Compile a `match` into a test. `upstreamName` is what `upstream` compares with. A match that names no
 * direction anywhere is about messages from the client (the default).
 */
export function compileMatch(spec: MatchSpec, upstreamName: string): Matcher {
  const test = compile(spec, upstreamName);
  if (namesDirection(spec)) return test;
  return (f, s, d) => d === 'client-to-server' && test(f, s, d);
}

function compile(spec: MatchSpec, upstreamName: string): Matcher {
  const tests: Matcher[] = [];
  const wanted: Direction | undefined =
    spec.direction === 'response'
      ? 'server-to-client'
      : spec.direction === 'request'
        ? 'client-to-server'
        : undefined;
  if (wanted) tests.push((_f, _s, direction) => direction === wanted);
  if (spec.method !== undefined) {
    const m = textMatcher(spec.method);
    tests.push((frame) => m(methodOf(frame)));
  }
  if (spec.tool !== undefined) {
    const m = textMatcher(spec.tool);
    tests.push((frame) => m(targetOf(frame)));
  }
  if (spec.arguments !== undefined) {
    const expected = Object.entries(spec.arguments);
    tests.push((frame) => {
      const args = argumentsOf(frame);
      return args !== undefined && expected.every(([k, v]) => valueMatches(v, args[k]));
    });
  }
  if (spec.session !== undefined) {
    const m = textMatcher(spec.session);
    tests.push((_f, session) => m(session.id) || m(session.clientInfo?.name));
  }
  if (spec.upstream !== undefined) {
    const m = textMatcher(spec.upstream);
    const hit = m(upstreamName);
    tests.push(() => hit);
  }
  if (spec.path !== undefined) {
    const path = spec.path;
    const equals = spec.equals;
    const regex = spec.matches === undefined ? undefined : new RegExp(spec.matches);
    tests.push((frame) => {
      const found = JSONPath({ path, json: frame.msg as object, wrap: true, eval: false }) as unknown[];
      if (equals !== undefined) return found.some((v) => isDeepStrictEqual(v, equals));
      if (regex) return found.some((v) => typeof v === 'string' && regex.test(v));
      return found.length > 0;
    });
  }
  for (const sub of spec.all ?? []) tests.push(compile(sub, upstreamName));
  if (spec.any !== undefined) {
    const any = spec.any.map((s) => compile(s, upstreamName));
    tests.push((f, s, d) => any.some((t) => t(f, s, d)));
  }
  if (spec.not !== undefined) {
    const not = compile(spec.not, upstreamName);
    tests.push((f, s, d) => !not(f, s, d));
  }
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0] as Matcher;
  return (f, s, d) => {
    for (const t of tests) if (!t(f, s, d)) return false;
    return true;
  };
}

/** Why a rules file is not valid: one line per problem, naming the rule, the key and what was expected. */
export class RulesError extends Error {
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    super(
      `${file}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`}`,
    );
    this.name = 'RulesError';
    this.problems = problems;
  }
}

function describePath(raw: unknown, path: readonly PropertyKey[]): string {
  if (path[0] === 'rules' && typeof path[1] === 'number') {
    const name = (raw as { rules?: Array<{ name?: unknown }> }).rules?.[path[1]]?.name;
    const rest = path.slice(2).map(String).join('.');
    const which = typeof name === 'string' ? `rule "${name}" (#${path[1] + 1})` : `rule #${path[1] + 1}`;
    return rest ? `${which}, ${rest}` : which;
  }
  return path.length > 0 ? path.map(String).join('.') : 'the file';
}

/** Parse and validate rules text (YAML, which JSON is a subset of). Throws RulesError. */
export function parseRules(text: string, file = 'rules'): RuleSpec[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new RulesError(file, [`not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
  const result = RulesFileSchema.safeParse(raw);
  if (!result.success) {
    throw new RulesError(
      file,
      result.error.issues.map((issue) => `${describePath(raw, issue.path)}: ${issue.message}`),
    );
  }
  return result.data.rules;
}

export function loadRules(file: string): RuleSpec[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RulesError(file, [`cannot be read: ${(err as Error).message}`]);
  }
  return parseRules(text, file);
}
