import { performance } from 'node:perf_hooks';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { McpscopeError, type JsonRpcId } from '../jsonrpc/errors.js';
import type { EventSink } from '../session/events.js';
import { errorFrame, parseFrame, type Frame } from '../jsonrpc/framing.js';
import type { Transport } from '../transport/transport.js';
import type { TapeMessageEvent } from './format.js';
import { describeDifferences, differences, targetOf, withoutMeta, type MatchMode } from './match.js';
import { tokenOf, type Anchor, type Follower, type TapeScript } from './tapeScript.js';

/** Most pending replayed events one session holds (a runaway loop in a client cannot grow it further). */
const MAX_SCHEDULED = 100_000;

/** The most an answer is held behind the notifications before it at speed 0 (see #held). */
export const MAX_ANSWER_GAP_MS = 100;

function isAnswer(event: TapeMessageEvent): boolean {
  return (event.msg as { method?: unknown }).method === undefined;
}

export interface TapePlayerOptions {
  /** 0: as fast as possible (default); 1: recorded timing; 2: twice as fast; … */
  speed?: number;
  /** Default 'lenient'. */
  match?: MatchMode;
  /** Where a lenient match is reported (at info). Default: not logged. */
  logger?: Logger;
}

/** One match of a recorded request to a live one: the live id and progress token its messages carry. */
interface Binding {
  readonly id: JsonRpcId;
  readonly token: string | number | undefined;
}

interface Scheduled {
  /** When it is due (performance.now() time). */
  at: number;
  /** A recorded message to send, with the live ids in place of the recorded ones … */
  readonly event: TapeMessageEvent | undefined;
  /** … or an answer the player makes itself (TAPE_MISS for a request whose answer was never recorded). */
  readonly frame?: Frame;
  /** The request it belongs to, and that request's live ids. */
  readonly owner: Anchor | undefined;
  readonly binding: Binding | undefined;
}

/** Key of the notifications that belong to no request, in #lastNote. */
const UNOWNED = 'unowned' as const;

/**
 * Replay is a transport: it stands where the server's wire would be and answers the client from a tape.
 * Requests are matched by method and params (ids and `_meta` ignored); answers carry the client's ids.
 * What belongs to a request (its answer, progress, a server request and what followed the client's reply
 * to it) follows that request, at the recorded distance from it at speed 1; what belongs to no request
 * follows the client message recorded before it. So concurrent requests are each answered as soon as
 * their recorded answer is due, whatever order they come in and whatever else is pending. A request with
 * no recorded match gets a TAPE_MISS error naming the closest one.
 */
export class TapePlayerTransport implements Transport {
  readonly kind = 'stdio' as const;
  /** A tape answers, not a server (the `source` of answers in the metrics). */
  readonly replaying = true;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;
  onreset?: (reason: McpscopeError) => void;
  onevent?: EventSink;

  readonly #script: TapeScript;
  readonly #speed: number;
  readonly #mode: MatchMode;
  readonly #logger: Logger | undefined;
  readonly #consumed: boolean[];
  /** Each recorded request's latest match. */
  readonly #bindings = new Map<Anchor, Binding>();
  /** The latest due time scheduled per request (or per client message, for what belongs to none). */
  readonly #lastAt = new Map<Anchor, number>();
  /** The last notification sent per request (UNOWNED: of none): when, and its recorded time. */
  readonly #lastNote = new Map<Anchor | typeof UNOWNED, { at: number; t: number }>();
  /** Events to send, in order of `at`, then of scheduling. */
  #queue: Scheduled[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** When #timer fires. */
  #timerAt = 0;
  #immediate: NodeJS.Immediate | undefined;
  #closed = false;

  constructor(script: TapeScript, options: TapePlayerOptions = {}) {
    this.#script = script;
    this.#speed = options.speed ?? 0;
    this.#mode = options.match ?? 'lenient';
    this.#logger = options.logger;
    this.#consumed = script.anchors.map(() => false);
  }

  async start(): Promise<void> {
    this.#follow(undefined, 0, this.#script.preamble);
  }

  send(frame: Frame): void {
    if (this.#closed) return;
    if (frame.kind === 'request') this.#request(frame);
    else if (frame.kind === 'notification') this.#notification(frame);
    else this.#answer(frame);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarm();
    this.#queue = [];
    this.onclose?.();
  }

  #request(frame: Frame): void {
    const method = frame.method as string;
    const params = (frame.msg as { params?: unknown }).params;
    // Compared as the tape would have held it: redacted by the tape's rules.
    const live = withoutMeta((this.#script.redactor.messageValue(frame.msg) as { params?: unknown }).params);
    const target = targetOf(method, params);
    const candidates = this.#script.anchors.filter((a) => a.kind === 'request' && a.method === method);
    const fresh = candidates.filter((a) => !this.#consumed[a.index]);
    const exact = (a: Anchor): boolean => differences(a.params, live, '', [], 1).length === 0;
    const fits = (a: Anchor): boolean =>
      method === 'initialize' || exact(a) || (this.#mode === 'lenient' && a.target === target);
    // An unused recording first, in tape order; then one already used (a client that asks twice).
    const anchor =
      fresh.find(exact) ?? fresh.find(fits) ?? candidates.findLast(exact) ?? candidates.findLast(fits);
    if (!anchor) {
      this.#miss(frame, method, live, candidates);
      return;
    }
    if (method !== 'initialize' && !exact(anchor)) this.#fallback(frame, method, target, live, anchor);
    const token = (params as { _meta?: { progressToken?: unknown } } | undefined)?._meta?.progressToken;
    const binding: Binding = { id: frame.id as JsonRpcId, token: tokenOf(token) };
    this.#bindings.set(anchor, binding);
    const again = this.#consumed[anchor.index] === true;
    this.#consumed[anchor.index] = true;
    if (again) {
      // A repeated request gets only its answer again.
      const answer = anchor.answer;
      this.#follow(anchor, anchor.event.t, answer ? [{ event: answer, owner: anchor }] : []);
    } else {
      this.#follow(anchor, anchor.event.t, anchor.followers);
    }
    if (!anchor.answer) this.#unanswered(frame, method, anchor, binding);
  }

  /**
   * Lenient matching answered with a recording whose params differ: the answer is given, and the session's
   * events (the feed, `tape_replay_fallbacks_total`) and the log say so, naming every difference, so that a
   * test author sees the tape no longer covers the call.
   */
  #fallback(frame: Frame, method: string, target: string | undefined, live: unknown, anchor: Anchor): void {
    const lines = describeDifferences(differences(anchor.params, live));
    this.onevent?.({
      type: 'replay-fallback',
      method,
      ...(target === undefined ? {} : { target }),
      id: frame.id as JsonRpcId,
      recording: anchor.index,
      differences: lines,
    });
    this.#logger?.info(
      { tape: this.#script.tape.header.id, method, target, recording: anchor.index, differences: lines },
      `replay answered ${method}${target === undefined ? '' : ` ${target}`} with a recording whose params ` +
        `differ (--match lenient): ${lines.join('; ')}; re-record the session to cover the call as made`,
    );
  }

  #notification(frame: Frame): void {
    if (frame.method === 'notifications/cancelled') this.#cancelled(frame);
    const anchor = this.#script.anchors.find(
      (a) => a.kind === 'notification' && a.method === frame.method && !this.#consumed[a.index],
    );
    if (!anchor) return;
    this.#consumed[anchor.index] = true;
    this.#follow(anchor, anchor.event.t, anchor.followers);
  }

  /** The client cancelled a request: what is still to come for it is not sent (a live server stops too). */
  #cancelled(frame: Frame): void {
    const id = tokenOf((frame.msg as { params?: { requestId?: unknown } }).params?.requestId);
    if (id === undefined) return;
    this.#queue = this.#queue.filter((item) => item.binding?.id !== id);
  }

  /** The client answered a server request (sampling, elicitation, roots): what followed it can go on. */
  #answer(frame: Frame): void {
    const anchor = this.#script.anchors.find(
      (a) => a.kind === 'response' && a.id === frame.id && !this.#consumed[a.index],
    );
    if (!anchor) return;
    this.#consumed[anchor.index] = true;
    this.#follow(anchor, anchor.event.t, anchor.followers);
  }

  /**
   * The tape holds the request but not its answer: the recording ends there (mcpscope stopped, or the
   * session closed, while the server was still at it). Waiting would only run out the request timeout, so
   * the client is told at once, after whatever the server did say (progress, logs).
   */
  #unanswered(frame: Frame, method: string, anchor: Anchor, binding: Binding): void {
    const where = this.#script.tape.header.id;
    const err = new McpscopeError(
      'TAPE_MISS',
      `the tape ${where} recorded this ${method} request but not its answer: the recording ends there ` +
        '(it was cut before the server answered); re-record a session in which it is answered',
      { details: { tape: where, method, answerRecorded: false } },
    );
    this.#push({
      at: this.#lastAt.get(anchor) ?? performance.now(),
      event: undefined,
      frame: errorFrame(frame.id as JsonRpcId, err),
      owner: anchor,
      binding,
    });
  }

  /**
   * Schedule `followers`, due at their recorded distance from `from` (the recorded time of the client
   * message that let them go). Each request's messages keep their recorded order, whatever the rounding.
   */
  #follow(trigger: Anchor | undefined, from: number, followers: readonly Follower[]): void {
    const now = performance.now();
    for (const { event, owner } of followers) {
      const key = owner ?? trigger;
      let at = now + this.#delay(event.t - from);
      const last = key ? this.#lastAt.get(key) : undefined;
      if (last !== undefined && last > at) at = last;
      if (key) this.#lastAt.set(key, at);
      this.#push({
        at,
        event,
        owner,
        binding: owner ? this.#bindings.get(owner) : undefined,
      });
    }
  }

  #delay(ms: number): number {
    return this.#speed > 0 ? Math.max(0, ms) / this.#speed : 0;
  }

  /** Insert in order of `at`, after those due at the same time (nearly always at the end). */
  #push(item: Scheduled): void {
    if (this.#queue.length >= MAX_SCHEDULED) return;
    let i = this.#queue.length;
    while (i > 0 && (this.#queue[i - 1] as Scheduled).at > item.at) i--;
    this.#queue.splice(i, 0, item);
    this.#arm();
  }

  /**
   * Until when an answer waits behind the notification sent before it, even at speed 0: its recorded
   * distance from it, up to MAX_ANSWER_GAP_MS (for an answer the player makes itself, the whole of it).
   * SDK clients handle a notification a microtask later than an answer, so progress read in the same
   * chunk as its answer is lost, and a busy client reads late. Only notifications of the same request (or
   * of none) hold an answer; other requests' messages go on meanwhile.
   */
  #held(item: Scheduled): number {
    if (item.event ? !isAnswer(item.event) : item.frame === undefined) return 0;
    let until = 0;
    for (const key of [item.owner ?? UNOWNED, UNOWNED] as const) {
      const note = this.#lastNote.get(key);
      if (!note) continue;
      const gap = item.event
        ? Math.min(MAX_ANSWER_GAP_MS, Math.max(1, item.event.t - note.t))
        : MAX_ANSWER_GAP_MS;
      until = Math.max(until, note.at + gap);
    }
    return until;
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
  }

  /** Wake up when the next message is due: on the next turn if one is due now, else by a timer. */
  #arm(): void {
    if (this.#immediate || this.#closed || this.#queue.length === 0) return;
    const now = performance.now();
    let wake = Number.POSITIVE_INFINITY;
    for (const item of this.#queue) {
      if (item.at >= wake) break;
      wake = Math.min(wake, Math.max(item.at, this.#held(item)));
    }
    if (wake <= now) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#immediate = setImmediate(() => this.#emitDue());
    } else if (!this.#timer || wake < this.#timerAt) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timerAt = wake;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#emitDue();
      }, wake - now);
    }
  }

  /** One message per turn, so the client reads them as the server sent them: one at a time. */
  #emitDue(): void {
    this.#immediate = undefined;
    if (this.#closed) return;
    const now = performance.now();
    const i = this.#queue.findIndex((item) => item.at <= now && this.#held(item) <= now);
    if (i !== -1) {
      const [item] = this.#queue.splice(i, 1) as [Scheduled];
      this.#emit(item, now);
    }
    this.#arm();
  }

  #emit(item: Scheduled, now: number): void {
    if (item.frame) {
      this.#lastNote.delete(item.owner ?? UNOWNED);
      this.onmessage?.(item.frame);
      return;
    }
    const event = item.event as TapeMessageEvent;
    const key = item.owner ?? UNOWNED;
    if (isAnswer(event)) this.#lastNote.delete(key);
    else if ((event.msg as { id?: unknown }).id === undefined)
      this.#lastNote.set(key, { at: now, t: event.t });
    const msg = this.#live(event.msg, item.binding);
    if (!msg) return;
    const frame = parseFrame(Buffer.from(JSON.stringify(msg)), Number.MAX_SAFE_INTEGER);
    // Over Streamable HTTP, under the SSE id it was recorded with (when that id is free in the session).
    frame.sseId = event.sse;
    // A notification or server request of one request among several: on that request's stream, in order
    // with its answer (over stdio the Session can only guess, when one request is in flight).
    if (frame.kind !== 'response' && frame.kind !== 'error' && item.binding) frame.route = item.binding.id;
    this.onmessage?.(frame);
  }

  /** The recorded message with the client's ids and progress tokens in place of the recorded ones. */
  #live(recorded: JSONRPCMessage, binding: Binding | undefined): JSONRPCMessage | undefined {
    const msg = recorded as { id?: JsonRpcId; method?: string; params?: Record<string, unknown> };
    if (msg.method === undefined) {
      // An answer: to the live request that matched the recorded one, or to nobody.
      return binding === undefined ? undefined : ({ ...msg, id: binding.id } as JSONRPCMessage);
    }
    const params = msg.params;
    if (binding && params) {
      if (msg.method === 'notifications/progress' && binding.token !== undefined)
        return { ...msg, params: { ...params, progressToken: binding.token } } as unknown as JSONRPCMessage;
      if (msg.method === 'notifications/cancelled')
        return { ...msg, params: { ...params, requestId: binding.id } } as unknown as JSONRPCMessage;
    }
    return recorded;
  }

  #miss(frame: Frame, method: string, live: unknown, candidates: Anchor[]): void {
    let closest: Anchor | undefined;
    let best = Number.POSITIVE_INFINITY;
    for (const a of candidates) {
      const n = differences(a.params, live).length;
      if (n < best) {
        best = n;
        closest = a;
      }
    }
    const lines = closest ? describeDifferences(differences(closest.params, live)) : [];
    const where = this.#script.tape.header.id;
    const message = closest
      ? `no recorded ${method} request matches (${this.#mode} matching); the closest recorded one differs: ${lines.join('; ')}. ` +
        'Re-record the session, or replay with --match lenient'
      : `the tape ${where} recorded no ${method} request; re-record a session that makes it`;
    const err = new McpscopeError('TAPE_MISS', message, {
      details: {
        tape: where,
        method,
        closest: closest ? { params: closest.params, line: closest.index } : null,
        differences: lines,
      },
    });
    const reply = errorFrame(frame.id as JsonRpcId, err);
    queueMicrotask(() => this.onmessage?.(reply));
  }
}
