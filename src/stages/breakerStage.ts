import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { McpscopeError, type JsonRpcId } from '../jsonrpc/errors.js';
import { outcomeOf } from '../session/outcome.js';
import { errorFrame, type Frame } from '../jsonrpc/framing.js';
import type { Metrics } from '../observe/metrics.js';
import { FORWARD, type Direction, type TransformerStage, type Verdict } from '../pipeline/stage.js';
import {
  BREAKER_STATE_VALUE,
  CircuitBreaker,
  type BreakerState,
  type CircuitBreakerOptions,
} from '../resilience/circuitBreaker.js';
import type { Session } from '../session/session.js';

/**
 * The circuit breaker of one upstream as a pipeline stage: client requests ask it for admission (fail fast
 * with CIRCUIT_OPEN while it is open), and every answer coming back tells it whether the upstream worked.
 * A failure is an upstream fault mcpscope saw (`upstreamFailure()`: exit, unreachable, HTTP 5xx, timeout,
 * lost stream…) or a JSON-RPC internal error (-32603) from the server; any other answer, errors included,
 * is a success. One upstream event is one failure, however many requests it ended (a crash with five calls
 * in flight fails them all with the same error); a restarted server that answered its handshake is a
 * success. What a client causes (its backpressure, its bad input, its limits) never counts.
 */
export class BreakerStage implements TransformerStage {
  readonly kind = 'transformer' as const;
  readonly name = 'circuit-breaker';
  readonly breaker: CircuitBreaker;
  readonly #upstream: string;
  /** The half-open probe in flight: its session and JSON-RPC id. */
  #probeSession: Session | undefined;
  #probeId: JsonRpcId | undefined;
  /** Upstream faults already counted: one event that failed several requests is one failure. */
  readonly #counted = new WeakSet<McpscopeError>();

  constructor(upstream: string, options: CircuitBreakerOptions, metrics: Metrics | null, logger: Logger) {
    this.#upstream = upstream;
    const gauge = metrics?.breakerState.labels(upstream);
    gauge?.set(0);
    const label = (to: BreakerState) => to.replace('-', '_');
    this.breaker = new CircuitBreaker({
      ...options,
      onTransition: (to, from, why) => {
        gauge?.set(BREAKER_STATE_VALUE[to]);
        metrics?.breakerTransitions.labels(upstream, label(to)).inc();
        logger[to === 'open' ? 'warn' : 'info'](
          { upstream, from, to },
          `circuit breaker ${to === 'open' ? 'opened' : to === 'closed' ? 'closed' : 'half-open'}: ${why}`,
        );
      },
    });
  }

  transform(frame: Frame, session: Session, direction: Direction): Verdict {
    if (direction === 'client-to-server') {
      if (frame.kind !== 'request') return FORWARD;
      const admission = this.breaker.acquire(performance.now());
      if (admission.ok) {
        if (admission.probe) {
          this.#probeSession = session;
          this.#probeId = frame.id;
        }
        return FORWARD;
      }
      const err = new McpscopeError(
        'CIRCUIT_OPEN',
        admission.state === 'open'
          ? `upstream ${this.#upstream} is failing (${admission.why}), so mcpscope fails requests fast; ` +
              `it lets a probe through in ${admission.retryAfterMs} ms. Retry then, or check the upstream`
          : `upstream ${this.#upstream} is being probed after failing (${admission.why}); ` +
              `retry in ${admission.retryAfterMs} ms`,
        {
          details: { upstream: this.#upstream, state: admission.state, retryAfterMs: admission.retryAfterMs },
        },
      );
      return { action: 'reply', frame: errorFrame(frame.id as JsonRpcId, err) };
    }
    if ((frame.kind !== 'response' && frame.kind !== 'error') || frame.related === undefined) return FORWARD;
    const probe = this.#probeSession === session && this.#probeId === frame.related.id;
    if (probe) {
      this.#probeSession = undefined;
      this.#probeId = undefined;
    }
    const failure = this.#failure(frame, probe);
    const now = performance.now();
    if (failure === null) this.breaker.success(now, probe);
    else if (failure !== undefined) this.breaker.failure(now, probe, failure);
    else if (probe) this.breaker.abandonProbe();
    return FORWARD;
  }

  /** A crashed server was restarted and answered the replayed handshake: the upstream works again. */
  onUpstreamRestored(): void {
    this.breaker.recovered(performance.now(), 'a restarted server process answered its handshake');
  }

  onSessionClose(session: Session): void {
    if (this.#probeSession !== session) return;
    this.#probeSession = undefined;
    this.#probeId = undefined;
    this.breaker.abandonProbe();
  }

  /**
   * null: the upstream answered; a string: it failed (what happened); undefined: says nothing of it (not
   * the upstream's fault, or a fault already counted, unless this is the probe: the probe's fate decides).
   */
  #failure(frame: Frame, probe: boolean): string | null | undefined {
    const outcome = outcomeOf(frame);
    const own = frame.error;
    if (outcome.upstreamFailure !== undefined) {
      if (!own) return outcome.upstreamFailure;
      if (this.#counted.has(own) && !probe) return undefined;
      this.#counted.add(own);
      return own.code;
    }
    // The upstream answered (an error included, unless it is its own internal error, above); what
    // mcpscope answered without asking it says nothing of it.
    return outcome.side === 'upstream' && !own ? null : undefined;
  }

  close(): void {
    this.breaker.close();
  }
}
