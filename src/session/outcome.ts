import { errorSide, upstreamFailure, type ErrorSide } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';

/**
 * How a request ended, decided once per answer and shared by every consumer (metrics, stats, traces, the
 * circuit breaker, the live feed), so that none of them re-decides what counts as an error.
 */
export interface Outcome {
  /** 'ok', or the class of the JSON-RPC error (`parse_error`, `timeout`, `internal_error`, …, `error`). */
  readonly status: string;
  /** The request did not do its job: an error answer, or a tool result with `isError`. */
  readonly failed: boolean;
  /** Who answered, or caused the error: the upstream, the client, or mcpscope itself. */
  readonly side: ErrorSide;
  /** When mcpscope answered: its error code (RATE_LIMITED, UPSTREAM_TIMEOUT, …), i.e. which part of it did. */
  readonly by: string | undefined;
  /**
   * A fault of the upstream, as the circuit breaker counts it: an mcpscope error that is the upstream's
   * (`upstreamFailure()`: exited, refused, timeout, …) or a JSON-RPC internal error (-32603) it sent.
   */
  readonly upstreamFailure: string | undefined;
}

const ERROR_CLASSES: Readonly<Record<number, string>> = {
  [-32700]: 'parse_error',
  [-32600]: 'invalid_request',
  [-32601]: 'method_not_found',
  [-32602]: 'invalid_params',
  [-32603]: 'internal_error',
  [-32000]: 'connection_closed',
  [-32001]: 'timeout',
  [-32002]: 'resource_not_found',
};

const OK: Outcome = Object.freeze({
  status: 'ok',
  failed: false,
  side: 'upstream',
  by: undefined,
  upstreamFailure: undefined,
});
const TOOL_ERROR: Outcome = Object.freeze({ ...OK, failed: true });

/** A bounded status label for an error answer: the class of its JSON-RPC error code. */
export function errorClass(frame: Frame): string {
  const code = (frame.msg as { error?: { code?: unknown } }).error?.code;
  return (typeof code === 'number' && ERROR_CLASSES[code]) || 'error';
}

/** The outcome of an answer (a response or an error), computed on first use and kept on the frame. */
export function outcomeOf(frame: Frame): Outcome {
  if (frame.outcome) return frame.outcome;
  let outcome: Outcome;
  if (frame.kind === 'response') {
    outcome = (frame.msg as { result?: { isError?: unknown } }).result?.isError === true ? TOOL_ERROR : OK;
  } else {
    const own = frame.error;
    const status = errorClass(frame);
    if (own) {
      outcome = {
        status,
        failed: true,
        side: errorSide(own),
        by: own.code,
        upstreamFailure: upstreamFailure(own),
      };
    } else {
      const internal = status === 'internal_error' && !frame.synthetic;
      outcome = {
        status,
        failed: true,
        side: frame.synthetic ? 'local' : 'upstream',
        by: undefined,
        upstreamFailure: internal ? 'internal error (-32603) from the server' : undefined,
      };
    }
  }
  frame.outcome = outcome;
  return outcome;
}
