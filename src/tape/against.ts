import type { JsonRpcId } from '../jsonrpc/errors.js';
import type { Transport } from '../transport/transport.js';
import { compareOffers, failing, type Change, type ChangeKind } from './drift.js';
import { isMessageEvent, type TapeMessageEvent } from './format.js';
import { LiveChannel } from './liveChannel.js';
import { describeDifferences, differences, targetOf, withoutMeta } from './match.js';
import { isOfferMethod, offerOfAnswer } from './offer.js';
import type { Tape } from './tapeReader.js';

/** Default time a live server gets to answer one re-sent request (30 s). */
export const DEFAULT_AGAINST_TIMEOUT_MS = 30_000;

export interface AgainstOptions {
  /** Per request. Default DEFAULT_AGAINST_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Paths left out of the comparison, e.g. `result.serverInfo.version` (`*` matches any key). */
  ignore?: readonly string[];
  /**
   * An answer to a list or handshake request (tools/list, initialize …) that differs only by changes of a
   * kind less severe than this one passes as `drifted`. Default 'breaking': only breaking changes fail.
   */
  failOn?: ChangeKind;
  /**
   * Per list method (tools/list …): the drift of the whole listing, pages merged, as a probe of the live
   * server found it. A page of such a list is judged by it, since page boundaries may differ; a list not
   * in it is judged page by page.
   */
  listDrift?: ReadonlyMap<string, Change[]>;
  /** After each request: how many are done, of how many. */
  onProgress?: (done: number, total: number, outcome: RequestOutcome) => void;
}

export interface RequestOutcome {
  /** Position of the request in the tape's client messages, from 1. */
  readonly index: number;
  readonly method: string;
  readonly target: string | undefined;
  /**
   * same: the live answer equals the recorded one; drifted: a list or handshake answer whose changes pass
   * `failOn` (see `drift`); differs: see `differences`; no-answer: timed out or lost.
   */
  readonly result: 'same' | 'drifted' | 'differs' | 'no-answer' | 'not-recorded';
  readonly differences: string[];
  /** A list or handshake answer that differs: what changed in what the server offers. */
  readonly drift?: Change[];
}

export interface AgainstReport {
  readonly requests: number;
  readonly outcomes: RequestOutcome[];
  /** True when every request was answered as recorded (or drifted within `failOn`). */
  readonly ok: boolean;
  /** Set when the live server went away before the end. */
  readonly aborted?: string;
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

  const channel = new LiveChannel(transport, {
    timeoutMs,
    answerServer: (method, id) => {
      const answer = clientAnswers.get(method)?.shift();
      return answer ? { ...answer, id } : undefined;
    },
  });
  await channel.start();

  const outcomes: RequestOutcome[] = [];
  const requests = sent.filter((e) => (e.msg as { id?: unknown }).id !== undefined).length;
  let index = 0;
  for (const event of sent) {
    if (channel.aborted) break;
    const msg = event.msg as { id?: JsonRpcId; method: string; params?: unknown };
    if (msg.id === undefined) {
      channel.send(msg);
      continue;
    }
    index++;
    const live = await channel.request(msg as { id: JsonRpcId });
    const recorded = recordedAnswers.get(msg.id);
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
        differences: [channel.aborted ?? `no answer within ${timeoutMs} ms`],
      };
    } else {
      outcome = { ...base, ...compareAnswer(msg.method, recorded.msg, live, ignore, options) };
    }
    outcomes.push(outcome);
    options.onProgress?.(index, requests, outcome);
  }
  await channel.close();
  const aborted = channel.aborted;
  return {
    requests,
    outcomes,
    ok:
      aborted === undefined &&
      outcomes.length === requests &&
      outcomes.every((o) => o.result === 'same' || o.result === 'drifted'),
    aborted,
  };
}

/**
 * A live answer against the recorded one. A list or handshake answer that differs is judged as drift of
 * what the server offers: `drifted` when none of its changes reach `failOn`.
 */
function compareAnswer(
  method: string,
  recorded: unknown,
  live: Record<string, unknown>,
  ignore: string[][],
  options: AgainstOptions,
): Pick<RequestOutcome, 'result' | 'differences' | 'drift'> {
  const { id: _a, ...was } = withoutMeta(recorded) as Record<string, unknown>;
  const { id: _b, ...now } = withoutMeta(live) as Record<string, unknown>;
  const diffs = differences(was, now).filter((d) => !ignored(d.path, ignore));
  if (diffs.length === 0) return { result: 'same', differences: [] };
  const differing = describeDifferences(diffs);
  if (!isOfferMethod(method) || was.result === undefined || now.result === undefined)
    return { result: 'differs', differences: differing };
  // _meta kept: a server/discover answer names the server there.
  const wasResult = (recorded as { result?: unknown }).result;
  const changes =
    options.listDrift?.get(method) ??
    compareOffers(offerOfAnswer(method, wasResult), offerOfAnswer(method, live.result)).changes;
  const drift = changes.filter((c) => !ignored(`result.${c.path}`, ignore));
  if (failing(drift, options.failOn ?? 'breaking').length > 0)
    return { result: 'differs', differences: differing, drift };
  return { result: 'drifted', differences: drift.length > 0 ? [] : differing, drift };
}
