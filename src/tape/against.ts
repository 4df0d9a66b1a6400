import type { JsonRpcId } from '../jsonrpc/errors.js';
import { parseFrame, type Frame } from '../jsonrpc/framing.js';
import type { Transport } from '../transport/transport.js';
import { isMessageEvent, type TapeMessageEvent } from './format.js';
import { describeDifferences, differences, targetOf, withoutMeta } from './match.js';
import type { Tape } from './tapeReader.js';

/** Default time a live server gets to answer one re-sent request (30 s). */
export const DEFAULT_AGAINST_TIMEOUT_MS = 30_000;

export interface AgainstOptions {
  /** Per request. Default DEFAULT_AGAINST_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Paths left out of the comparison, e.g. `result.serverInfo.version` (`*` matches any key). */
  ignore?: readonly string[];
  /** After each request: how many are done, of how many. */
  onProgress?: (done: number, total: number, outcome: RequestOutcome) => void;
}

export interface RequestOutcome {
  /** Position of the request in the tape's client messages, from 1. */
  readonly index: number;
  readonly method: string;
  readonly target: string | undefined;
  /** same: the live answer equals the recorded one; differs: see `differences`; no-answer: timed out or lost. */
  readonly result: 'same' | 'differs' | 'no-answer' | 'not-recorded';
  readonly differences: string[];
}

export interface AgainstReport {
  readonly requests: number;
  readonly outcomes: RequestOutcome[];
  /** True when every request was answered as recorded. */
  readonly ok: boolean;
  /** Set when the live server went away before the end. */
  readonly aborted?: string;
}

interface Waiter {
  resolve: (msg: Record<string, unknown> | undefined) => void;
  timer: NodeJS.Timeout;
}

function ignored(path: string, patterns: readonly string[][]): boolean {
  const segments = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  return patterns.some(
    (p) => p.length <= segments.length && p.every((s, i) => s === '*' || s === segments[i]),
  );
}

/**
 * `replay --against`: re-send a tape's client messages, in order, to a live server and compare every answer
 * with the recorded one (ids and `_meta` ignored). Server requests (sampling, elicitation, roots) are
 * answered with what the recorded client answered.
 */
export async function replayAgainst(
  tape: Tape,
  transport: Transport,
  options: AgainstOptions = {},
): Promise<AgainstReport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_AGAINST_TIMEOUT_MS;
  const ignore = (options.ignore ?? []).map((p) => p.replace(/\[(\d+|\*)\]/g, '.$1').split('.'));
  const events = tape.events.filter(isMessageEvent);
  // The client's messages, less mcpscope's own (a timeout's cancellation) and less answers to server
  // requests, which are sent when the live server asks.
  const sent = events.filter((e) => e.dir === 'c2s' && !e.synthetic && (e.msg as { method?: string }).method);
  const recordedAnswers = new Map<JsonRpcId, TapeMessageEvent>();
  for (const e of events) {
    const m = e.msg as { id?: JsonRpcId; method?: string };
    if (e.dir === 's2c' && m.method === undefined && m.id !== undefined && !recordedAnswers.has(m.id))
      recordedAnswers.set(m.id, e);
  }
  // What the client answered to each kind of server request, in order.
  const clientAnswers = new Map<string, Array<Record<string, unknown>>>();
  const serverRequests = new Map<JsonRpcId, string>();
  for (const e of events) {
    const m = e.msg as { id?: JsonRpcId; method?: string };
    if (e.dir === 's2c' && m.method !== undefined && m.id !== undefined) serverRequests.set(m.id, m.method);
    if (e.dir === 'c2s' && m.method === undefined && m.id !== undefined) {
      const method = serverRequests.get(m.id);
      if (method)
        clientAnswers.set(method, [...(clientAnswers.get(method) ?? []), e.msg as Record<string, unknown>]);
    }
  }

  const waiters = new Map<JsonRpcId, Waiter>();
  let aborted: string | undefined;
  let finished = false;
  const send = (msg: unknown): void =>
    transport.send(parseFrame(Buffer.from(JSON.stringify(msg)), Number.MAX_SAFE_INTEGER));
  transport.onmessage = (frame: Frame) => {
    const msg = frame.msg as Record<string, unknown>;
    if (frame.kind === 'request') {
      const answers = clientAnswers.get(frame.method as string);
      const answer = answers?.shift();
      send(
        answer
          ? { ...answer, id: frame.id }
          : {
              jsonrpc: '2.0',
              id: frame.id,
              error: { code: -32601, message: `the tape holds no client answer to ${String(frame.method)}` },
            },
      );
      return;
    }
    if (frame.id === undefined) return;
    const waiter = waiters.get(frame.id);
    if (!waiter) return;
    waiters.delete(frame.id);
    clearTimeout(waiter.timer);
    waiter.resolve(msg);
  };
  transport.onerror = (err) => {
    const id = err.details?.id;
    const waiter = typeof id === 'string' || typeof id === 'number' ? waiters.get(id) : undefined;
    if (waiter) {
      waiters.delete(id as JsonRpcId);
      clearTimeout(waiter.timer);
      waiter.resolve({ error: { code: err.code, message: err.message } });
    }
  };
  transport.onclose = (reason) => {
    if (finished) return;
    aborted = reason?.message ?? 'the server closed the connection';
    for (const [id, waiter] of waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(undefined);
      waiters.delete(id);
    }
  };
  await transport.start();

  const outcomes: RequestOutcome[] = [];
  const requests = sent.filter((e) => (e.msg as { id?: unknown }).id !== undefined).length;
  let index = 0;
  for (const event of sent) {
    if (aborted) break;
    const msg = event.msg as { id?: JsonRpcId; method: string; params?: unknown };
    if (msg.id === undefined) {
      send(msg);
      continue;
    }
    index++;
    const id = msg.id;
    const live = await new Promise<Record<string, unknown> | undefined>((resolve) => {
      const timer = setTimeout(() => {
        waiters.delete(id);
        resolve(undefined);
      }, timeoutMs);
      waiters.set(id, { resolve, timer });
      send(msg);
    });
    const recorded = recordedAnswers.get(id);
    const base = { index, method: msg.method, target: targetOf(msg.method, msg.params) };
    let outcome: RequestOutcome;
    if (!recorded) {
      outcome = {
        ...base,
        result: 'not-recorded',
        differences: ['the tape holds no answer to this request'],
      };
    } else if (!live) {
      outcome = {
        ...base,
        result: 'no-answer',
        differences: [aborted ?? `no answer within ${timeoutMs} ms`],
      };
    } else {
      const { id: _a, ...was } = withoutMeta(recorded.msg) as Record<string, unknown>;
      const { id: _b, ...now } = withoutMeta(live) as Record<string, unknown>;
      const diffs = differences(was, now).filter((d) => !ignored(d.path, ignore));
      outcome = {
        ...base,
        result: diffs.length === 0 ? 'same' : 'differs',
        differences: describeDifferences(diffs),
      };
    }
    outcomes.push(outcome);
    options.onProgress?.(index, requests, outcome);
  }
  finished = true;
  await transport.close();
  return {
    requests,
    outcomes,
    ok: aborted === undefined && outcomes.length === requests && outcomes.every((o) => o.result === 'same'),
    aborted,
  };
}
