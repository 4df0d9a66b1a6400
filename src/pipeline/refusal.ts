import { McpscopeError, type JsonRpcId } from '../jsonrpc/errors.js';
import { errorFrame, type Frame } from '../jsonrpc/framing.js';
import type { Direction, Verdict } from './stage.js';

/** Longest a transformer may hold one message before it is refused: 30 s. */
export const DEFAULT_HOLD_TIMEOUT_MS = 30_000;
/** Messages that may wait behind a held one, per session and direction, before new ones are refused. */
export const DEFAULT_MAX_HELD = 1_000;

/** Why the pipeline refused a message: the drop reason observers see. */
export type RefusalReason = 'hold_timeout' | 'held_overflow';

/** What a refused message was, for people: `tools/call request`, `answer to tools/call`, … */
export function describeMessage(frame: Frame): string {
  const method = frame.method ?? frame.related?.method;
  if (frame.kind === 'response' || frame.kind === 'error') return method ? `answer to ${method}` : 'answer';
  return method ? `${method} ${frame.kind}` : frame.kind;
}

export function stageTimeout(stage: string, frame: Frame, holdTimeoutMs: number): McpscopeError {
  return new McpscopeError(
    'STAGE_TIMEOUT',
    `pipeline stage "${stage}" held this ${describeMessage(frame)} for ${holdTimeoutMs} ms without deciding, ` +
      `so mcpscope did not pass it on; retry, and if it repeats fix or remove the stage (or raise holdTimeoutMs)`,
    { details: { stage, holdTimeoutMs } },
  );
}

export function pipelineFull(stage: string, frame: Frame, maxHeld: number): McpscopeError {
  return new McpscopeError(
    'PIPELINE_FULL',
    `pipeline stage "${stage}" holds a message of this session and ${maxHeld} more wait behind it (the ` +
      `limit, per session and direction), so mcpscope did not pass this ${describeMessage(frame)} on; retry ` +
      `once the stage lets messages go, or raise maxHeld`,
    { details: { stage, maxHeld } },
  );
}

/**
 * How a message the pipeline will not pass on is settled, so that nothing is lost silently: whoever waits
 * for an answer gets `err` instead. A client's request gets a `reply` with the error; the server's answer
 * to a client request is dropped and `answer` (the error, for the client) goes in its place, or the client
 * would wait for ever; anything else is dropped with `reason`.
 */
export function refusal(
  frame: Frame,
  direction: Direction,
  err: McpscopeError,
  reason: RefusalReason,
): { verdict: Verdict; answer: Frame | undefined } {
  if (direction === 'client-to-server' && frame.kind === 'request') {
    return { verdict: { action: 'reply', frame: errorFrame(frame.id as JsonRpcId, err) }, answer: undefined };
  }
  const verdict: Verdict = { action: 'drop', reason };
  const related = frame.related;
  if (direction === 'client-to-server' || (frame.kind !== 'response' && frame.kind !== 'error') || !related) {
    return { verdict, answer: undefined };
  }
  const answer = errorFrame(related.id, err);
  answer.related = related;
  return { verdict, answer };
}
