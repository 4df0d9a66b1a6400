/**
 * Breakpoints: a person holds a message, looks at it, edits it or not, and lets it go. Breakpoints are set
 * over the admin API (src/admin/breakpointsApi.ts) with the same `match` as a rule (src/intercept/rules.ts);
 * rules with `action: { break: true }` hold messages here too. The InterceptStage asks `matching()` for
 * every message and hands a match to `hold()`, whose Promise is the pipeline's hold: later messages of that
 * session and direction wait behind it, other sessions flow. A held message is let go by a person
 * (resume, resume edited, drop, reply) or, after `--breakpoint-timeout-ms`, released unchanged.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { McpscopeError, errorMessage, type JsonRpcId } from '../jsonrpc/errors.js';
import { errorFrame, syntheticFrame, withMessage, type Frame, type MessageKind } from '../jsonrpc/framing.js';
import type { Metrics } from '../observe/metrics.js';
import { describeMessage } from '../pipeline/refusal.js';
import { FORWARD, type Direction, type Verdict } from '../pipeline/stage.js';
import type { PauseState } from '../session/events.js';
import type { Session } from '../session/session.js';
import type { BreakpointHolder } from '../stages/interceptStage.js';
import type { Redactor } from '../tape/redact.js';
import { compileMatch, type Matcher, type MatchSpec } from './rules.js';

/** A held message is released unchanged after this long: 5 min (`--breakpoint-timeout-ms`). */
export const DEFAULT_BREAKPOINT_TIMEOUT_MS = 300_000;
/**
 * How much longer than the breakpoint timeout the pipeline lets the InterceptStage hold (5 s): the
 * breakpoint's own timer releases the message first, so the pipeline never refuses it as a stuck stage.
 */
export const BREAKPOINT_HOLD_MARGIN_MS = 5_000;
/** Breakpoints set at once over the admin API (each costs a test on every message). */
export const MAX_BREAKPOINTS = 100;
/** Why observers see a notification dropped at a breakpoint. */
export const DROPPED_AT_BREAKPOINT_REASON = 'dropped_at_breakpoint';

export interface BreakpointsOptions {
  /** What `upstream` in a match compares with. */
  upstreamName: string;
  /** A held message is released unchanged after this long, ms. Default DEFAULT_BREAKPOINT_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Largest edited message accepted, bytes (the proxy's --max-message-bytes). */
  maxMessageBytes: number;
  /** Secrets removed from held messages as `/paused` shows them (the feed's rules). */
  redactor: Redactor;
  metrics: Metrics | null;
  logger: Logger;
}

interface Breakpoint {
  readonly id: string;
  readonly match: MatchSpec;
  readonly test: Matcher;
  /** Messages it held. */
  hits: number;
}

/** A breakpoint as the admin API shows it. */
export interface BreakpointView {
  id: string;
  match: MatchSpec;
  hits: number;
}

interface Paused {
  readonly id: string;
  readonly frame: Frame;
  readonly session: Session;
  readonly direction: Direction;
  readonly cause: string;
  /** performance.now() when it was held. */
  readonly since: number;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (verdict: Verdict) => void;
}

/** A held message as the admin API shows it (the message redacted as the live feed shows it). */
export interface PausedView {
  id: string;
  session: string;
  direction: Direction;
  kind: MessageKind;
  method?: string;
  messageId?: JsonRpcId;
  cause: string;
  message: unknown;
  heldMs: number;
  /** Time left before it is released unchanged, ms. */
  releasedInMs: number;
}

/** What became of an admin API call on a held message. */
export type PauseResult =
  | { readonly ok: true; readonly state: PauseState }
  | { readonly ok: false; readonly status: 400 | 404; readonly error: string };

/** The kinds an edit may not cross: an answer stays an answer (a result may become an error), and so on. */
function family(kind: MessageKind): 'request' | 'notification' | 'answer' {
  return kind === 'response' || kind === 'error' ? 'answer' : kind;
}

/** Regular expressions in a match that do not compile: a 400 when set, not a stage failure per message. */
export function regexProblems(spec: MatchSpec, at = 'match'): Array<{ key: string; expected: string }> {
  const problems: Array<{ key: string; expected: string }> = [];
  const check = (source: unknown, key: string): void => {
    if (typeof source !== 'string') return;
    try {
      new RegExp(source);
    } catch (err) {
      problems.push({ key, expected: `a valid regular expression (${errorMessage(err)})` });
    }
  };
  check(spec.matches, `${at}.matches`);
  for (const [name, value] of Object.entries(spec.arguments ?? {})) {
    if (value !== null && typeof value === 'object' && 'regex' in value)
      check((value as { regex: unknown }).regex, `${at}.arguments.${name}.regex`);
  }
  spec.all?.forEach((sub, i) => problems.push(...regexProblems(sub, `${at}.all.${i}`)));
  spec.any?.forEach((sub, i) => problems.push(...regexProblems(sub, `${at}.any.${i}`)));
  if (spec.not) problems.push(...regexProblems(spec.not, `${at}.not`));
  return problems;
}

export class Breakpoints implements BreakpointHolder {
  /** The longest the InterceptStage may hold a message for a breakpoint (timeout + margin), ms. */
  readonly holdTimeoutMs: number;
  readonly #options: BreakpointsOptions;
  readonly #timeoutMs: number;
  /** Null when none is set: `matching()`, run for every message, then costs one check. */
  #list: readonly Breakpoint[] | null = null;
  readonly #paused = new Map<string, Paused>();
  /** Sessions whose close releases what they hold (one listener per session, not per hold). */
  readonly #watched = new WeakSet<Session>();
  #nextBreakpoint = 1;
  #nextPause = 1;

  constructor(options: BreakpointsOptions) {
    this.#options = options;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_BREAKPOINT_TIMEOUT_MS;
    this.holdTimeoutMs = this.#timeoutMs + BREAKPOINT_HOLD_MARGIN_MS;
  }

  // --- breakpoints -------------------------------------------------------------------------------------

  /** Set a breakpoint (the match validated by the caller); undefined when MAX_BREAKPOINTS are set. */
  add(match: MatchSpec): BreakpointView | undefined {
    const list = this.#list ?? [];
    if (list.length >= MAX_BREAKPOINTS) return undefined;
    const bp: Breakpoint = {
      id: String(this.#nextBreakpoint++),
      match,
      test: compileMatch(match, this.#options.upstreamName),
      hits: 0,
    };
    this.#list = [...list, bp];
    this.#options.logger.info({ breakpoint: bp.id, match }, `breakpoint ${bp.id} set`);
    return view(bp);
  }

  list(): BreakpointView[] {
    return (this.#list ?? []).map(view);
  }

  get(id: string): BreakpointView | undefined {
    const bp = this.#list?.find((b) => b.id === id);
    return bp && view(bp);
  }

  /** Remove a breakpoint; messages it holds already stay held. False when there is no such one. */
  remove(id: string): boolean {
    const list = this.#list ?? [];
    const rest = list.filter((b) => b.id !== id);
    if (rest.length === list.length) return false;
    this.#list = rest.length > 0 ? rest : null;
    this.#options.logger.info({ breakpoint: id }, `breakpoint ${id} removed`);
    return true;
  }

  matching(frame: Frame, session: Session, direction: Direction): string | undefined {
    const list = this.#list;
    if (list === null) return undefined;
    for (let i = 0; i < list.length; i++) {
      const bp = list[i] as Breakpoint;
      if (bp.test(frame, session, direction)) {
        bp.hits++;
        return bp.id;
      }
    }
    return undefined;
  }

  // --- held messages -----------------------------------------------------------------------------------

  hold(frame: Frame, session: Session, direction: Direction, cause: string): Promise<Verdict> {
    const id = String(this.#nextPause++);
    this.#watch(session);
    return new Promise<Verdict>((resolve) => {
      const timer = setTimeout(() => {
        const entry = this.#paused.get(id);
        if (entry) this.#end(entry, FORWARD, 'timed_out');
      }, this.#timeoutMs);
      // The pipeline's own hold timer is unref'd too: a held message alone does not keep mcpscope running.
      timer.unref();
      const entry: Paused = {
        id,
        frame,
        session,
        direction,
        cause,
        since: performance.now(),
        timer,
        resolve,
      };
      this.#paused.set(id, entry);
      this.#options.metrics?.pausedMessages.set(this.#paused.size);
      this.#emit(entry, 'held');
      this.#options.logger.info(
        { pause: id, cause, session: session.id, direction, id: frame.id },
        `${describeMessage(frame)} held at ${causeText(cause)}: see it at GET /paused/${id}; let it go with ` +
          `POST /paused/${id}/resume, /drop or /reply (released unchanged after ${this.#timeoutMs} ms)`,
      );
    });
  }

  /** Every held message, oldest first. */
  pausedMessages(): PausedView[] {
    return [...this.#paused.values()].map((p) => this.#view(p));
  }

  pausedMessage(id: string): PausedView | undefined {
    const entry = this.#paused.get(id);
    return entry && this.#view(entry);
  }

  /** Send it on: unchanged, or as `message` (which must be valid JSON-RPC, of the same kind and id). */
  resume(id: string, message?: unknown): PauseResult {
    const entry = this.#paused.get(id);
    if (!entry) return notHeld(id);
    if (message === undefined) {
      this.#end(entry, FORWARD, 'resumed');
      return { ok: true, state: 'resumed' };
    }
    const edited = this.#edit(entry, message);
    if (typeof edited === 'string') {
      return { ok: false, status: 400, error: `${edited}; message ${id} stays held` };
    }
    edited.intercept = labelOf(entry);
    this.#end(entry, { action: 'rewrite', frame: edited }, 'edited');
    return { ok: true, state: 'edited' };
  }

  /**
   * Let it go no further. Whoever waits for an answer gets a DROPPED_AT_BREAKPOINT error instead: a held
   * request is answered with it, a held answer is replaced by it; a notification is just dropped.
   */
  drop(id: string): PauseResult {
    const entry = this.#paused.get(id);
    if (!entry) return notHeld(id);
    const { frame, cause } = entry;
    const label = labelOf(entry);
    const err = new McpscopeError(
      'DROPPED_AT_BREAKPOINT',
      `this ${describeMessage(frame)} was held at ${causeText(cause)} and dropped there by a person ` +
        `(mcpscope admin API, POST /paused/${id}/drop), so it was not sent on; send it again if it should go through`,
      { details: { cause, pause: id } },
    );
    let verdict: Verdict;
    const answers = frame.related?.id ?? frame.id;
    if (frame.kind === 'request') {
      const reply = errorFrame(frame.id as JsonRpcId, err);
      reply.intercept = label;
      verdict = { action: 'reply', frame: reply };
    } else if (family(frame.kind) === 'answer' && answers !== undefined) {
      const replaced = errorFrame(answers, err);
      replaced.intercept = label;
      verdict = { action: 'rewrite', frame: replaced };
    } else {
      verdict = { action: 'drop', reason: DROPPED_AT_BREAKPOINT_REASON };
    }
    this.#end(entry, verdict, 'dropped');
    return { ok: true, state: 'dropped' };
  }

  /** Answer a held request in the other side's name with `result` or `error`. */
  reply(id: string, answer: { result: unknown } | { error: unknown }): PauseResult {
    const entry = this.#paused.get(id);
    if (!entry) return notHeld(id);
    const { frame } = entry;
    if (frame.kind !== 'request') {
      return {
        ok: false,
        status: 400,
        error: `message ${id} is a ${frame.kind}, not a request: there is nothing to reply to (resume it, edited or not, or drop it); it stays held`,
      };
    }
    const reply = syntheticFrame({ jsonrpc: '2.0', id: frame.id, ...answer });
    reply.intercept = labelOf(entry);
    this.#end(entry, { action: 'reply', frame: reply }, 'replied');
    return { ok: true, state: 'replied' };
  }

  /** Release everything still held (unchanged) and stop the timers. */
  close(): void {
    for (const entry of [...this.#paused.values()]) this.#end(entry, FORWARD, 'resumed', false);
  }

  /** The edited message, or why it is refused. */
  #edit(entry: Paused, message: unknown): Frame | string {
    const held = entry.frame;
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      return 'the edited message must be a JSON-RPC object';
    }
    let edited: Frame;
    try {
      edited = withMessage(held, message);
    } catch (err) {
      return `the edited message is not valid JSON-RPC: ${errorMessage(err)}`;
    }
    const max = this.#options.maxMessageBytes;
    if (edited.raw.length > max) {
      return `the edited message is ${edited.raw.length} bytes, over the ${max}-byte limit (--max-message-bytes)`;
    }
    if (family(edited.kind) !== family(held.kind)) {
      return `the held message is a ${held.kind} and the edit a ${edited.kind}; an edit keeps the kind (an answer may turn into an error)`;
    }
    if (edited.id !== held.id) {
      return `the edit's id ${JSON.stringify(edited.id ?? null)} is not the held message's ${JSON.stringify(held.id ?? null)}; an edit keeps the id (the other side pairs the answer by it)`;
    }
    if (held.kind === 'request' && edited.method !== held.method) {
      return `the edit's method "${edited.method}" is not the held request's "${held.method}"; a request keeps its method (its answer is paired with it)`;
    }
    return edited;
  }

  #end(entry: Paused, verdict: Verdict, state: PauseState, report = true): void {
    if (!this.#paused.delete(entry.id)) return;
    clearTimeout(entry.timer);
    this.#options.metrics?.pausedMessages.set(this.#paused.size);
    const heldMs = Math.round(performance.now() - entry.since);
    if (report) {
      this.#emit(entry, state, heldMs);
      this.#options.logger[state === 'timed_out' ? 'warn' : 'info'](
        { pause: entry.id, cause: entry.cause, session: entry.session.id, state, heldMs },
        state === 'timed_out'
          ? `held message ${entry.id} released unchanged: nobody let it go within ${this.#timeoutMs} ms (--breakpoint-timeout-ms)`
          : `held message ${entry.id} ${state}`,
      );
    }
    entry.resolve(verdict);
  }

  #emit(entry: Paused, state: PauseState, heldMs?: number): void {
    const { frame } = entry;
    const method = frame.method ?? frame.related?.method;
    entry.session.event({
      type: 'paused',
      pause: entry.id,
      cause: entry.cause,
      state,
      direction: entry.direction,
      ...(method === undefined ? {} : { method }),
      ...(frame.id === undefined ? {} : { id: frame.id }),
      ...(heldMs === undefined ? {} : { heldMs }),
    });
  }

  /** A closed session's held messages go nowhere: they are let go (dropped) with it. */
  #watch(session: Session): void {
    if (this.#watched.has(session)) return;
    this.#watched.add(session);
    session.onClose(() => {
      for (const entry of [...this.#paused.values()]) {
        if (entry.session === session)
          this.#end(entry, { action: 'drop', reason: 'session_closed' }, 'dropped', false);
      }
    });
  }

  #view(p: Paused): PausedView {
    const now = performance.now();
    const method = p.frame.method ?? p.frame.related?.method;
    const heldMs = Math.round(now - p.since);
    return {
      id: p.id,
      session: p.session.id,
      direction: p.direction,
      kind: p.frame.kind,
      ...(method === undefined ? {} : { method }),
      ...(p.frame.id === undefined ? {} : { messageId: p.frame.id }),
      cause: p.cause,
      message: this.#options.redactor.messageValue(p.frame.msg),
      heldMs,
      releasedInMs: Math.max(0, this.#timeoutMs - heldMs),
    };
  }
}

/**
 * What labels a message a person let go, made or changed at a break (the feed, tapes, traces, and the
 * `breakpoint` source in requests_total): the hold's own label, `{ rule: cause, action: 'break' }`. What the
 * person did is the `paused` event's `state`.
 */
function labelOf(entry: Paused): { readonly rule: string; readonly action: string } {
  return entry.frame.intercept ?? { rule: entry.cause, action: 'break' };
}

function view(bp: Breakpoint): BreakpointView {
  return { id: bp.id, match: bp.match, hits: bp.hits };
}

function causeText(cause: string): string {
  return cause.startsWith('breakpoint:') ? `breakpoint ${cause.slice(11)}` : `rule "${cause}" (break)`;
}

function notHeld(id: string): PauseResult {
  return {
    ok: false,
    status: 404,
    error: `no held message ${id} (let go already, released by the timeout, or never held); GET /paused lists them`,
  };
}
