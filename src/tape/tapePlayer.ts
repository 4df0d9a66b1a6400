import { performance } from 'node:perf_hooks';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { McpscopeError, type JsonRpcId } from '../jsonrpc/errors.js';
import { errorFrame, parseFrame, type Frame } from '../jsonrpc/framing.js';
import type { Transport } from '../transport/transport.js';
import { isMessageEvent, type TapeMessageEvent } from './format.js';
import { describeDifferences, differences, targetOf, withoutMeta, type MatchMode } from './match.js';
import type { Tape } from './tapeReader.js';

/** Most pending replayed events one session holds (a runaway loop in a client cannot grow it further). */
const MAX_SCHEDULED = 100_000;

interface Anchor {
  readonly index: number;
  readonly event: TapeMessageEvent;
  readonly kind: 'request' | 'notification' | 'response';
  readonly method: string | undefined;
  readonly id: JsonRpcId | undefined;
  /** Params without `_meta`, for matching. */
  readonly params: unknown;
  readonly target: string | undefined;
  readonly progressToken: string | number | undefined;
  /** What the server said after this client message and before the next one, in order. */
  readonly followers: TapeMessageEvent[];
  /**
   * For a request: whether the tape holds the answer the client got (among these followers or a later
   * message's, as concurrent calls are recorded). False when the recording was cut before it came.
   */
  answered: boolean;
}

/** The most an answer is held behind the notifications before it at speed 0 (see #arm). */
export const MAX_ANSWER_GAP_MS = 100;

function isAnswer(event: TapeMessageEvent): boolean {
  return (event.msg as { method?: unknown }).method === undefined;
}

/** A tape prepared for replay, once, and shared by every session that replays it. */
export class TapeScript {
  readonly tape: Tape;
  readonly anchors: Anchor[] = [];
  /** Server messages recorded before the client said anything. */
  readonly preamble: TapeMessageEvent[] = [];

  constructor(tape: Tape) {
    this.tape = tape;
    let current: Anchor | undefined;
    /** Requests waiting for their recorded answer, by recorded id. */
    const open = new Map<JsonRpcId, Anchor>();
    for (const event of tape.events) {
      if (!isMessageEvent(event)) continue;
      // mcpscope's own messages to the server (a timeout's cancellation) were never the client's.
      if (event.dir === 'c2s' && event.synthetic) continue;
      if (event.dir === 'c2s') {
        const msg = event.msg as {
          id?: JsonRpcId;
          method?: string;
          params?: { _meta?: { progressToken?: unknown } };
        };
        const kind =
          msg.method === undefined ? 'response' : msg.id === undefined ? 'notification' : 'request';
        const token = msg.params?._meta?.progressToken;
        current = {
          index: this.anchors.length,
          event,
          kind,
          method: msg.method,
          id: msg.id,
          params: withoutMeta(msg.params),
          target: msg.method ? targetOf(msg.method, msg.params) : undefined,
          progressToken: typeof token === 'string' || typeof token === 'number' ? token : undefined,
          followers: [],
          answered: false,
        };
        this.anchors.push(current);
        if (kind === 'request') open.set(msg.id as JsonRpcId, current);
      } else if (event.drop === undefined) {
        (current?.followers ?? this.preamble).push(event);
        const answer = event.msg as { id?: JsonRpcId; method?: string };
        const request =
          answer.method === undefined && answer.id !== undefined ? open.get(answer.id) : undefined;
        if (request) {
          request.answered = true;
          open.delete(answer.id as JsonRpcId);
        }
      }
    }
  }
}

export interface TapePlayerOptions {
  /** 0: as fast as possible (default); 1: recorded timing; 2: twice as fast; … */
  speed?: number;
  /** Default 'lenient'. */
  match?: MatchMode;
}

interface Scheduled {
  at: number;
  /** A recorded message to send, with the live ids in place of the recorded ones … */
  event: TapeMessageEvent | undefined;
  /** … or an answer the player makes itself (TAPE_MISS for a request whose answer was never recorded). */
  frame?: Frame;
  anchor: Anchor | undefined;
}

/**
 * Replay is a transport: it stands where the server's wire would be and answers the client from a tape.
 * Requests are matched by method and params (ids and `_meta` ignored); answers carry the client's ids;
 * what the server sent between two client messages follows the first of them, in order and, at speed 1,
 * at the recorded pace. A request with no recorded match gets a TAPE_MISS error naming the closest one.
 */
export class TapePlayerTransport implements Transport {
  readonly kind = 'stdio' as const;
  /** A tape answers, not a server (the `source` of answers in the metrics). */
  readonly replaying = true;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;
  onreset?: (reason: McpscopeError) => void;

  readonly #script: TapeScript;
  readonly #speed: number;
  readonly #mode: MatchMode;
  readonly #consumed: boolean[];
  /** Recorded client request id → the live client's id for it. */
  readonly #ids = new Map<JsonRpcId, JsonRpcId>();
  readonly #tokens = new Map<string | number, string | number>();
  /** Events due, in order of `at`. */
  #queue: Scheduled[] = [];
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  #closed = false;

  constructor(script: TapeScript, options: TapePlayerOptions = {}) {
    this.#script = script;
    this.#speed = options.speed ?? 0;
    this.#mode = options.match ?? 'lenient';
    this.#consumed = script.anchors.map(() => false);
  }

  async start(): Promise<void> {
    const now = performance.now();
    for (const event of this.#script.preamble)
      this.#schedule({ at: now + this.#delay(event.t), event, anchor: undefined });
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
    if (this.#timer) {
      if ('hasRef' in this.#timer && 'refresh' in this.#timer) clearTimeout(this.#timer);
      else clearImmediate(this.#timer as NodeJS.Immediate);
    }
    this.#queue = [];
    this.onclose?.();
  }

  #request(frame: Frame): void {
    const method = frame.method as string;
    const params = (frame.msg as { params?: unknown }).params;
    const live = withoutMeta(params);
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
    const token = (params as { _meta?: { progressToken?: unknown } } | undefined)?._meta?.progressToken;
    if (anchor.progressToken !== undefined && (typeof token === 'string' || typeof token === 'number'))
      this.#tokens.set(anchor.progressToken, token);
    this.#ids.set(anchor.id as JsonRpcId, frame.id as JsonRpcId);
    const again = this.#consumed[anchor.index] === true;
    this.#consumed[anchor.index] = true;
    this.#follow(anchor, again);
    if (!anchor.answered) this.#unanswered(frame, method, anchor);
  }

  #notification(frame: Frame): void {
    const anchor = this.#script.anchors.find(
      (a) => a.kind === 'notification' && a.method === frame.method && !this.#consumed[a.index],
    );
    if (!anchor) return;
    this.#consumed[anchor.index] = true;
    this.#follow(anchor, false);
  }

  /** The client answered a server request (sampling, elicitation, roots): what followed it can go on. */
  #answer(frame: Frame): void {
    const anchor = this.#script.anchors.find(
      (a) => a.kind === 'response' && a.id === frame.id && !this.#consumed[a.index],
    );
    if (!anchor) return;
    this.#consumed[anchor.index] = true;
    this.#follow(anchor, false);
  }

  /**
   * The tape holds the request but not its answer: the recording ends there (mcpscope stopped, or the
   * session closed, while the server was still at it). Waiting would only run out the request timeout, so
   * the client is told at once, after whatever the server did say (progress, logs).
   */
  #unanswered(frame: Frame, method: string, anchor: Anchor): void {
    const where = this.#script.tape.header.id;
    const err = new McpscopeError(
      'TAPE_MISS',
      `the tape ${where} recorded this ${method} request but not its answer: the recording ends there ` +
        '(it was cut before the server answered); re-record a session in which it is answered',
      { details: { tape: where, method, answerRecorded: false } },
    );
    const last = this.#queue.at(-1);
    this.#schedule({
      at: last?.at ?? performance.now(),
      event: undefined,
      frame: errorFrame(frame.id as JsonRpcId, err),
      anchor,
    });
  }

  /** Schedule what the server said after `anchor`; a repeated request gets only its answer again. */
  #follow(anchor: Anchor, answerOnly: boolean): void {
    const now = performance.now();
    for (const event of anchor.followers) {
      if (answerOnly && !this.#answers(event, anchor)) continue;
      this.#schedule({ at: now + this.#delay(event.t - anchor.event.t), event, anchor });
    }
  }

  #answers(event: TapeMessageEvent, anchor: Anchor): boolean {
    const msg = event.msg as { id?: JsonRpcId; method?: string };
    return msg.method === undefined && msg.id === anchor.id;
  }

  #delay(ms: number): number {
    return this.#speed > 0 ? Math.max(0, ms) / this.#speed : 0;
  }

  #schedule(item: Scheduled): void {
    if (this.#queue.length >= MAX_SCHEDULED) return;
    // Never before what is already queued: recorded order wins over rounding.
    const last = this.#queue.at(-1);
    if (last && last.at > item.at) item.at = last.at;
    this.#queue.push(item);
    this.#arm();
  }

  #arm(after?: TapeMessageEvent): void {
    if (this.#timer || this.#queue.length === 0 || this.#closed) return;
    const next = this.#queue[0] as Scheduled;
    const wait = next.at - performance.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => this.#emitDue(), wait);
    } else if (after && !isAnswer(after) && (next.event ? isAnswer(next.event) : next.frame !== undefined)) {
      // An answer right behind notifications keeps its recorded distance from them, up to
      // MAX_ANSWER_GAP_MS, even at speed 0: SDK clients handle a notification a microtask later than an
      // answer, so progress read in the same chunk as its answer is lost, and a busy client reads late.
      // An answer the player makes itself (TAPE_MISS where the recording ends) keeps the whole gap.
      const gap = next.event
        ? Math.min(MAX_ANSWER_GAP_MS, Math.max(1, next.event.t - after.t))
        : MAX_ANSWER_GAP_MS;
      this.#timer = setTimeout(() => this.#emitDue(), gap);
    } else {
      this.#timer = setImmediate(() => this.#emitDue());
    }
  }

  /** One message per turn, so the client reads them as the server sent them: one at a time. */
  #emitDue(): void {
    this.#timer = undefined;
    const item = this.#queue.shift();
    if (!item || this.#closed) return;
    if (item.frame) {
      this.onmessage?.(item.frame);
    } else if (item.event) {
      const msg = this.#live(item.event.msg);
      if (msg) this.onmessage?.(parseFrame(Buffer.from(JSON.stringify(msg)), Number.MAX_SAFE_INTEGER));
    }
    this.#arm(item.event);
  }

  /** The recorded message with the client's ids and progress tokens in place of the recorded ones. */
  #live(recorded: JSONRPCMessage): JSONRPCMessage | undefined {
    const msg = recorded as { id?: JsonRpcId; method?: string; params?: Record<string, unknown> };
    if (msg.method === undefined) {
      // An answer: to the live request that matched the recorded one, or to nobody.
      const id = msg.id === undefined ? undefined : this.#ids.get(msg.id);
      return id === undefined ? undefined : ({ ...msg, id } as JSONRPCMessage);
    }
    const params = msg.params;
    if (msg.method === 'notifications/progress' && params) {
      const token = this.#tokens.get(params.progressToken as string | number);
      if (token !== undefined)
        return { ...msg, params: { ...params, progressToken: token } } as unknown as JSONRPCMessage;
    }
    if (msg.method === 'notifications/cancelled' && params) {
      const id = this.#ids.get(params.requestId as JsonRpcId);
      if (id !== undefined)
        return { ...msg, params: { ...params, requestId: id } } as unknown as JSONRPCMessage;
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
