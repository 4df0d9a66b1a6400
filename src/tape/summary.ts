import type { JsonRpcId } from '../jsonrpc/errors.js';
import { isMessageEvent, type TapeEvent, type TapeMessageEvent } from './format.js';
import { targetOf } from './match.js';
import type { Tape } from './tapeReader.js';

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

export function summarize(tape: Tape): TapeSummary {
  const { header, events } = tape;
  let messages = 0;
  let errors = 0;
  for (const e of events) {
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
    durationMs: events.at(-1)?.t ?? 0,
    transport: header.transport,
    server,
    messages,
    sizeBytes: tape.sizeBytes,
    errors,
    complete: tape.complete,
    torn: tape.torn,
  };
}

/** Client requests paired with their answers, in request order. */
export function exchanges(events: readonly TapeEvent[]): Exchange[] {
  const open = new Map<JsonRpcId, TapeMessageEvent>();
  const answers = new Map<TapeMessageEvent, TapeMessageEvent>();
  const requests: TapeMessageEvent[] = [];
  for (const e of events) {
    if (!isMessageEvent(e)) continue;
    const m = e.msg as { id?: JsonRpcId; method?: string };
    if (m.id === undefined) continue;
    if (e.dir === 'c2s' && m.method !== undefined) {
      open.set(m.id, e);
      requests.push(e);
    } else if (e.dir === 's2c' && m.method === undefined && e.drop === undefined) {
      const request = open.get(m.id);
      if (request) {
        open.delete(m.id);
        answers.set(request, e);
      }
    }
  }
  return requests.map((request) => {
    const m = request.msg as { method: string; params?: unknown };
    const answer = answers.get(request);
    return {
      request,
      method: m.method,
      target: targetOf(m.method, m.params),
      answer,
      latencyMs: answer ? answer.t - request.t : undefined,
      error: answer ? isErrorAnswer(answer) : false,
    };
  });
}
