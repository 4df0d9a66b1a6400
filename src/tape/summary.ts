import type { JsonRpcId } from '../jsonrpc/errors.js';
import { isMessageEvent, type TapeEvent, type TapeMessageEvent } from './format.js';
import { targetOf } from './match.js';
import type { TapeStream } from './tapeReader.js';

export interface TapeSummary {
  readonly id: string;
  readonly path: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly transport: string;
  readonly server: string;
  readonly messages: number;
  readonly sizeBytes: number;
  /** Error answers and mcpscope errors (timeouts, crashes). */
  readonly errors: number;
  readonly complete: boolean;
  readonly torn: boolean;
}

/** One client request and its answer, for timelines and latency figures. */
export interface Exchange {
  readonly request: TapeMessageEvent;
  readonly method: string;
  readonly target: string | undefined;
  readonly answer: TapeMessageEvent | undefined;
  readonly latencyMs: number | undefined;
  readonly error: boolean;
}

/** A JSON-RPC error, or a tool result flagged `isError`. */
export function isErrorAnswer(event: TapeMessageEvent): boolean {
  const msg = event.msg as { error?: unknown; result?: { isError?: unknown } };
  return msg.error !== undefined || msg.result?.isError === true;
}

/**
 * The summary of a tape, read once as a stream in constant memory; `each` sees every event on the way, for
 * figures of the caller's own.
 */
export async function summarize(tape: TapeStream, each?: (event: TapeEvent) => void): Promise<TapeSummary> {
  const { header } = tape;
  let messages = 0;
  let errors = 0;
  let last: TapeEvent | undefined;
  for await (const e of tape.events()) {
    each?.(e);
    last = e;
    if (isMessageEvent(e)) {
      messages++;
      if (e.dir === 's2c' && isErrorAnswer(e)) errors++;
    } else if (e.edge === 'error') {
      errors++;
    }
  }
  const server = header.serverInfo?.name
    ? `${header.serverInfo.name}${header.serverInfo.version ? ` ${header.serverInfo.version}` : ''}`
    : header.upstream;
  return {
    id: header.id,
    path: tape.path,
    startedAt: header.startedAt,
    durationMs: last?.t ?? 0,
    transport: header.transport,
    server,
    messages,
    sizeBytes: tape.sizeBytes,
    errors,
    complete: tape.complete,
    torn: tape.torn,
  };
}

/**
 * Most client requests waiting for an answer that pairing remembers (10,000): past it, the oldest is given up
 * as unanswered, so a tape streamed through it is paired in bounded memory.
 */
export const MAX_OPEN_REQUESTS = 10_000;

/** Pairs client requests with their answers as a tape's events go by, one at a time. */
export class ExchangePairer {
  readonly #open = new Map<JsonRpcId, TapeMessageEvent>();
  readonly #max: number;

  constructor(maxOpen = MAX_OPEN_REQUESTS) {
    this.#max = maxOpen;
  }

  /** The event as a client request, if it is one; it is remembered until answered. */
  request(event: TapeEvent): TapeMessageEvent | undefined {
    if (!isMessageEvent(event) || event.dir !== 'c2s') return undefined;
    const m = event.msg as { id?: JsonRpcId; method?: string };
    if (m.id === undefined || m.method === undefined) return undefined;
    // A reused id: the newer request takes its place, at the end of the line.
    this.#open.delete(m.id);
    this.#open.set(m.id, event);
    if (this.#open.size > this.#max) this.#open.delete(this.#open.keys().next().value as JsonRpcId);
    return event;
  }

  /** The remembered request the event answers, if it is a delivered answer to one; it is forgotten. */
  answered(event: TapeEvent): TapeMessageEvent | undefined {
    if (!isMessageEvent(event) || event.dir !== 's2c' || event.drop !== undefined) return undefined;
    const m = event.msg as { id?: JsonRpcId; method?: string };
    if (m.id === undefined || m.method !== undefined) return undefined;
    const request = this.#open.get(m.id);
    if (request) this.#open.delete(m.id);
    return request;
  }
}

/** The exchange of a request and its answer (if any). */
export function exchange(request: TapeMessageEvent, answer: TapeMessageEvent | undefined): Exchange {
  const m = request.msg as { method: string; params?: unknown };
  return {
    request,
    method: m.method,
    target: targetOf(m.method, m.params),
    answer,
    latencyMs: answer ? answer.t - request.t : undefined,
    error: answer ? isErrorAnswer(answer) : false,
  };
}

/** Client requests paired with their answers, in request order. */
export function exchanges(events: readonly TapeEvent[]): Exchange[] {
  const pairer = new ExchangePairer(Number.POSITIVE_INFINITY);
  const answers = new Map<TapeMessageEvent, TapeMessageEvent>();
  const requests: TapeMessageEvent[] = [];
  for (const e of events) {
    const request = pairer.request(e);
    if (request) requests.push(request);
    const answered = pairer.answered(e);
    if (answered) answers.set(answered, e as TapeMessageEvent);
  }
  return requests.map((request) => exchange(request, answers.get(request)));
}
