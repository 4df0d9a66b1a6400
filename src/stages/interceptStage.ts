/**
 * `--rules FILE`: interception rules act on messages that match them (mock, error, delay, patch, drop,
 * fault, break), tried in file order, the first match acting. The file is watched: a valid new version
 * replaces the rules at once (messages already held keep theirs); an invalid one is refused with one log
 * line and the previous rules stay. Everything a rule makes or changes is labelled (`frame.intercept`) for
 * the feed, tapes and traces, and counted in `intercept_actions_total{rule,action}`.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { createRequire } from 'node:module';
import type { Operation } from 'fast-json-patch';
import type { Logger } from 'pino';
import { McpscopeError, type JsonRpcId } from '../jsonrpc/errors.js';
import { syntheticFrame, withMessage, type Frame } from '../jsonrpc/framing.js';
import {
  actionOf,
  compileMatch,
  loadRules,
  RulesError,
  type ActionName,
  type ActionSpec,
  type Matcher,
  type MatchSpec,
  type RuleSpec,
} from '../intercept/rules.js';
import type { Metrics } from '../observe/metrics.js';
import { FORWARD, type Direction, type TransformerStage, type Verdict } from '../pipeline/stage.js';
import type { Session } from '../session/session.js';

/** A rule as the admin API lists it (`GET /rules`). */
export interface RuleRow {
  name: string;
  action: ActionName;
  match: MatchSpec;
  enabled: boolean;
  /** Turned on or off over the admin API, not as the file says. */
  overridden?: true;
  /** The file's `times`: it acts on this many messages at most. */
  times?: number;
  /** Messages it matched (and acted on) since the file was last loaded. */
  hits: number;
}

/** Holds a message for a person (breakpoints; see src/intercept/breakpoints.ts). */
export interface BreakpointHolder {
  /** The longest it holds one message (its timeout, and a margin), ms: the stage's hold limit with it. */
  readonly holdTimeoutMs: number;
  /** The id of the first admin-API breakpoint that matches the message, if any. */
  matching(frame: Frame, session: Session, direction: Direction): string | undefined;
  /** Hold the message until a person lets it go (or the breakpoint timeout): the verdict they chose. */
  hold(frame: Frame, session: Session, direction: Direction, cause: string): Promise<Verdict>;
}

export interface InterceptOptions {
  /** The rules file (YAML or JSON); none: only breakpoints. */
  file?: string;
  /** What `upstream` in a match compares with. */
  upstreamName: string;
  breakpoints?: BreakpointHolder;
  metrics: Metrics | null;
  logger: Logger;
  /** Watch the file and reload it when it changes. Default true. */
  watch?: boolean;
  /** Longest a stage may hold a message (the pipeline's hold timeout): delays must be shorter. */
  holdTimeoutMs: number;
}

// The JSON Patch library is loaded by the first patch applied, not with this module (which every run with
// an admin server loads, for breakpoints).
const require = createRequire(import.meta.url);
let jsonPatch: typeof import('fast-json-patch') | undefined;

/** Wait this long after a change before reading the file (editors write in steps). */
const RELOAD_DEBOUNCE_MS = 50;

interface Rule {
  readonly name: string;
  readonly action: ActionName;
  readonly spec: ActionSpec;
  readonly matchSpec: MatchSpec;
  readonly match: Matcher;
  readonly times: number | undefined;
  /** As the file says, until a person turns it on or off (`/rules/{name}/enable|disable`). */
  enabled: boolean;
  used: number;
  /** A failing patch was logged once already. */
  warned: boolean;
}

export function compileRules(specs: readonly RuleSpec[], upstreamName: string): Rule[] {
  return specs.map((spec) => ({
    name: spec.name,
    action: actionOf(spec.action),
    spec: spec.action,
    matchSpec: spec.match,
    match: compileMatch(spec.match, upstreamName),
    times: spec.times,
    enabled: spec.enabled,
    used: 0,
    warned: false,
  }));
}

/** Rules whose delay could outlast the pipeline's hold: a load-time error, not a message refused later. */
function checkDelays(specs: readonly RuleSpec[], holdTimeoutMs: number, file: string): void {
  const problems = specs.flatMap((rule, i) => {
    const delay = rule.action.delay;
    return delay && delay.max >= holdTimeoutMs
      ? [
          `rule "${rule.name}" (#${i + 1}), action.delay: at most ${delay.max} ms is not shorter than the pipeline's hold limit (${holdTimeoutMs} ms); shorten it`,
        ]
      : [];
  });
  if (problems.length > 0) throw new RulesError(file, problems);
}

export class InterceptStage implements TransformerStage {
  readonly kind = 'transformer' as const;
  readonly name = 'intercept';
  /** With breakpoints, a person may hold a message for minutes: longer than the pipeline's default. */
  readonly holdTimeoutMs: number | undefined;
  readonly #options: InterceptOptions;
  #rules: Rule[] = [];
  /** Rules a person turned on or off over the admin API, by name: kept across reloads. */
  readonly #overrides = new Map<string, boolean>();
  #watcher: FSWatcher | undefined;
  #reloadTimer: NodeJS.Timeout | undefined;

  /** Throws RulesError when the file is not valid (a usage error at start). */
  constructor(options: InterceptOptions) {
    this.#options = options;
    this.holdTimeoutMs = options.breakpoints
      ? Math.max(options.holdTimeoutMs, options.breakpoints.holdTimeoutMs)
      : undefined;
    if (options.file !== undefined) {
      this.#rules = this.#load(options.file);
      if (options.watch !== false) this.#watch(options.file);
    }
  }

  /** The rules file, if there is one. */
  get file(): string | undefined {
    return this.#options.file;
  }

  /** The rules in force, in the order they are tried, for people (`GET /rules`). */
  list(): RuleRow[] {
    return this.#rules.map((r) => ({
      name: r.name,
      action: r.action,
      match: r.matchSpec,
      enabled: r.enabled,
      ...(this.#overrides.has(r.name) ? { overridden: true } : {}),
      ...(r.times === undefined ? {} : { times: r.times }),
      hits: r.used,
    }));
  }

  /**
   * Turn a rule on or off from now on (the admin API). It stays so when the file is reloaded, for as long
   * as the file has a rule of that name, until mcpscope stops. False when there is no such rule.
   */
  setEnabled(name: string, enabled: boolean): boolean {
    const rule = this.#rules.find((r) => r.name === name);
    if (!rule) return false;
    rule.enabled = enabled;
    this.#overrides.set(name, enabled);
    return true;
  }

  #load(file: string): Rule[] {
    const specs = loadRules(file);
    checkDelays(specs, this.#options.holdTimeoutMs, file);
    const rules = compileRules(specs, this.#options.upstreamName);
    for (const rule of rules) {
      const enabled = this.#overrides.get(rule.name);
      if (enabled !== undefined) rule.enabled = enabled;
    }
    return rules;
  }

  #watch(file: string): void {
    const name = basename(file);
    // The directory, not the file: editors often replace a file rather than write into it.
    this.#watcher = watch(dirname(file), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(this.#reloadTimer);
      this.#reloadTimer = setTimeout(() => this.reload(), RELOAD_DEBOUNCE_MS);
      this.#reloadTimer.unref();
    });
    this.#watcher.unref();
  }

  /** Read the file again: the new rules replace the old at once, or, if invalid, the old stay. */
  reload(): boolean {
    const file = this.#options.file;
    if (file === undefined) return false;
    try {
      this.#rules = this.#load(file);
    } catch (err) {
      this.#options.metrics?.rulesReloads.labels('invalid').inc();
      this.#options.logger.error(
        { file },
        `rules not reloaded, the previous ones stay in force: ${err instanceof Error ? err.message : String(err)}`,
      );
      return false;
    }
    this.#options.metrics?.rulesReloads.labels('ok').inc();
    this.#options.logger.info({ file, rules: this.#rules.length }, 'rules reloaded');
    return true;
  }

  close(): void {
    clearTimeout(this.#reloadTimer);
    this.#watcher?.close();
  }

  transform(frame: Frame, session: Session, direction: Direction): Verdict | Promise<Verdict> {
    const breakpoints = this.#options.breakpoints;
    if (breakpoints) {
      const id = breakpoints.matching(frame, session, direction);
      if (id !== undefined) return this.#break(`breakpoint:${id}`, frame, session, direction);
    }
    const rules = this.#rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as Rule;
      if (!rule.enabled || (rule.times !== undefined && rule.used >= rule.times)) continue;
      if (!rule.match(frame, session, direction)) continue;
      rule.used++;
      return this.#act(rule, frame, session, direction);
    }
    return FORWARD;
  }

  #count(rule: string, action: string): void {
    this.#options.metrics?.interceptActions.labels(rule, action).inc();
  }

  #break(cause: string, frame: Frame, session: Session, direction: Direction): Verdict | Promise<Verdict> {
    const breakpoints = this.#options.breakpoints;
    if (!breakpoints) return FORWARD;
    this.#count(cause, 'break');
    frame.intercept = { rule: cause, action: 'break' };
    return breakpoints.hold(frame, session, direction, cause);
  }

  #act(rule: Rule, frame: Frame, session: Session, direction: Direction): Verdict | Promise<Verdict> {
    const spec = rule.spec;
    switch (rule.action) {
      case 'mock':
        return this.#answer(rule, frame, { result: spec.mock?.result ?? {} }, 'mock');
      case 'error':
        return this.#answer(rule, frame, { error: spec.error }, 'error');
      case 'delay': {
        const { min, max } = spec.delay as { min: number; max: number };
        const ms = min + Math.random() * (max - min);
        this.#count(rule.name, 'delay');
        frame.intercept = { rule: rule.name, action: 'delay' };
        return new Promise((resolve) => setTimeout(() => resolve(FORWARD), ms));
      }
      case 'patch':
        return this.#patch(rule, frame, spec.patch as Operation[]);
      case 'drop':
        this.#count(rule.name, 'drop');
        frame.intercept = { rule: rule.name, action: 'drop' };
        return { action: 'drop', reason: `rule:${rule.name}` };
      case 'fault':
        return this.#fault(rule, frame, session, direction);
      case 'break':
        return this.#break(rule.name, frame, session, direction);
    }
  }

  /**
   * Answer on the other side's behalf: a request gets the mock's result (or the error); an answer from the
   * server is replaced by it. Notifications have nothing to answer: they pass.
   */
  #answer(
    rule: Rule,
    frame: Frame,
    body: { result?: unknown; error?: unknown },
    action: 'mock' | 'error',
  ): Verdict {
    if (frame.kind === 'notification') return FORWARD;
    this.#count(rule.name, action);
    const label = { rule: rule.name, action };
    if (frame.kind === 'request') {
      const reply = syntheticFrame({ jsonrpc: '2.0', id: frame.id as JsonRpcId, ...body });
      reply.intercept = label;
      frame.intercept = label;
      return { action: 'reply', frame: reply };
    }
    const replaced = withMessage(frame, { jsonrpc: '2.0', id: frame.id ?? null, ...body });
    replaced.intercept = label;
    return { action: 'rewrite', frame: replaced };
  }

  #patch(rule: Rule, frame: Frame, ops: Operation[]): Verdict {
    let patched: Frame;
    try {
      jsonPatch ??= require('fast-json-patch') as typeof import('fast-json-patch');
      const doc = jsonPatch.applyPatch(structuredClone(frame.msg), ops, true, true).newDocument;
      patched = withMessage(frame, doc as object);
    } catch (err) {
      // The message is not one the patch fits (a path it lacks): it goes on unchanged, said once per rule.
      if (!rule.warned) {
        rule.warned = true;
        this.#options.logger.warn(
          { rule: rule.name, id: frame.id },
          `rule "${rule.name}": the patch does not apply to this message (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); forwarded unchanged (further ones are not logged)`,
        );
      }
      return FORWARD;
    }
    this.#count(rule.name, 'patch');
    patched.intercept = { rule: rule.name, action: 'patch' };
    return { action: 'rewrite', frame: patched };
  }

  #fault(rule: Rule, frame: Frame, session: Session, direction: Direction): Verdict {
    const fault = rule.spec.fault as { kind: 'close' | 'timeout' | 'corrupt'; probability: number };
    if (Math.random() >= fault.probability) return FORWARD;
    // Corruption is of what the client reads: a client's notification has no answer to corrupt.
    if (fault.kind === 'corrupt' && direction === 'client-to-server' && frame.kind !== 'request')
      return FORWARD;
    const action = `fault_${fault.kind}`;
    this.#count(rule.name, action);
    frame.intercept = { rule: rule.name, action };
    switch (fault.kind) {
      case 'timeout':
        // Never answered: the client waits, as for a server that hangs (until --request-timeout-ms).
        return { action: 'drop', reason: `rule:${rule.name}` };
      case 'close':
        void session.close(
          new McpscopeError(
            'SESSION_CLOSED',
            `the connection was closed by interception rule "${rule.name}" (fault: close), as a failing server or network would`,
          ),
        );
        return { action: 'drop', reason: `rule:${rule.name}` };
      case 'corrupt': {
        // Invalid JSON to the client: for a request, in place of its answer; for a server message, in its place.
        const source =
          direction === 'client-to-server'
            ? syntheticFrame({ jsonrpc: '2.0', id: frame.id ?? null, result: { corrupted: true } })
            : withMessage(frame, frame.msg as object);
        const text = source.raw.toString('utf8');
        source.raw = Buffer.from(text.slice(0, Math.max(1, Math.floor(text.length / 2))));
        source.intercept = { rule: rule.name, action };
        return direction === 'client-to-server'
          ? { action: 'reply', frame: source }
          : { action: 'rewrite', frame: source };
      }
    }
  }
}
