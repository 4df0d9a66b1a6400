import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { McpscopeError, type JsonRpcId } from '../jsonrpc/errors.js';
import { outcomeOf } from '../session/outcome.js';
import { errorFrame, type Frame, type PendingRequest } from '../jsonrpc/framing.js';
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
 * Several upstreams behind one pipeline (the gateway): one breaker each, and which one a request goes to.
 */
export interface BreakerRouting {
  /** Every upstream's name. */
  readonly upstreams: readonly string[];
  /** The upstream a client request goes to; undefined when it goes to none in particular (lists). */
  upstreamOf(frame: Frame, session: Session): string | undefined;
}

/** One upstream's breaker and its half-open probe in flight (its session and JSON-RPC id). */
interface Circuit {
  readonly upstream: string;
  readonly breaker: CircuitBreaker;
  probeSession: Session | undefined;
  probeId: JsonRpcId | undefined;
}

/**
 * The circuit breaker of one upstream as a pipeline stage: client requests ask it for admission (fail fast
 * with CIRCUIT_OPEN while it is open), and every answer coming back tells it whether the upstream worked.
 * A failure is an upstream fault mcpscope saw (`upstreamFailure()`: exit, unreachable, HTTP 5xx, timeout,
 * lost stream…) or a JSON-RPC internal error (-32603) from the server; any other answer, errors included,
 * is a success. One upstream event is one failure, however many requests it ended (a crash with five calls
 * in flight fails them all with the same error); a restarted server that answered its handshake is a
 * success. What a client causes (its backpressure, its bad input, its limits) never counts. Behind the
 * gateway (`routing`), each upstream has its own breaker, asked by the requests routed to it.
 */
export class BreakerStage implements TransformerStage {
  readonly kind = 'transformer' as const;
  readonly name = 'circuit-breaker';
  /** The breaker of the upstream (with routing: of the first upstream; see `circuits`). */
  readonly breaker: CircuitBreaker;
  /** Every upstream's breaker, by name. */
  readonly circuits: ReadonlyMap<string, CircuitBreaker>;
  readonly #circuits = new Map<string, Circuit>();
  readonly #single: Circuit | undefined;
  readonly #routing: BreakerRouting | undefined;
  /** With routing: the circuit each admitted request went through, for its answer. */
  readonly #admitted = new WeakMap<PendingRequest, Circuit>();
  /** Upstream faults already counted: one event that failed several requests is one failure. */
  readonly #counted = new WeakSet<McpscopeError>();

  constructor(
    upstream: string,
    options: CircuitBreakerOptions,
    metrics: Metrics | null,
    logger: Logger,
    routing?: BreakerRouting,
  ) {
    this.#routing = routing;
    const label = (to: BreakerState) => to.replace('-', '_');
    for (const name of routing?.upstreams ?? [upstream]) {
      const gauge = metrics?.breakerState.labels(name);
      gauge?.set(0);
      const breaker = new CircuitBreaker({
        ...options,
        onTransition: (to, from, why) => {
          gauge?.set(BREAKER_STATE_VALUE[to]);
          metrics?.breakerTransitions.labels(name, label(to)).inc();
          logger[to === 'open' ? 'warn' : 'info'](
            { upstream: name, from, to },
            `circuit breaker ${to === 'open' ? 'opened' : to === 'closed' ? 'closed' : 'half-open'}: ${why}`,
          );
        },
      });
      this.#circuits.set(name, { upstream: name, breaker, probeSession: undefined, probeId: undefined });
    }
    const first = this.#circuits.values().next().value as Circuit;
    this.breaker = first.breaker;
    this.#single = routing ? undefined : first;
    this.circuits = new Map([...this.#circuits].map(([name, c]) => [name, c.breaker]));
  }

  /** The worst state among the upstreams' breakers (open, then half-open, then closed). */
  get state(): BreakerState {
    let state: BreakerState = 'closed';
    for (const c of this.#circuits.values()) {
      if (c.breaker.state === 'open') return 'open';
      if (c.breaker.state === 'half-open') state = 'half-open';
    }
    return state;
  }

  /** Whether an upstream's breaker is open (requests to it fail fast). */
  isOpen(upstream: string): boolean {
    return this.#circuits.get(upstream)?.breaker.state === 'open';
  }

  transform(frame: Frame, session: Session, direction: Direction): Verdict {
    if (direction === 'client-to-server') {
      if (frame.kind !== 'request') return FORWARD;
      const circuit = this.#single ?? this.#circuitOf(frame, session);
      if (circuit === undefined) return FORWARD;
      const admission = circuit.breaker.acquire(performance.now());
      if (admission.ok) {
        if (admission.probe) {
          circuit.probeSession = session;
          circuit.probeId = frame.id;
        }
        if (this.#routing && frame.related) this.#admitted.set(frame.related, circuit);
        return FORWARD;
      }
      const upstream = circuit.upstream;
      const err = new McpscopeError(
        'CIRCUIT_OPEN',
        admission.state === 'open'
          ? `upstream ${upstream} is failing (${admission.why}), so mcpscope fails requests fast; ` +
              `it lets a probe through in ${admission.retryAfterMs} ms. Retry then, or check the upstream`
          : `upstream ${upstream} is being probed after failing (${admission.why}); ` +
              `retry in ${admission.retryAfterMs} ms`,
        {
          details: { upstream, state: admission.state, retryAfterMs: admission.retryAfterMs },
        },
      );
      return { action: 'reply', frame: errorFrame(frame.id as JsonRpcId, err) };
    }
    if ((frame.kind !== 'response' && frame.kind !== 'error') || frame.related === undefined) return FORWARD;
    const circuit = this.#single ?? this.#admitted.get(frame.related);
    if (circuit === undefined) return FORWARD;
    const probe = circuit.probeSession === session && circuit.probeId === frame.related.id;
    if (probe) {
      circuit.probeSession = undefined;
      circuit.probeId = undefined;
    }
    const failure = this.#failure(frame, probe);
    const now = performance.now();
    if (failure === null) circuit.breaker.success(now, probe);
    else if (failure !== undefined) circuit.breaker.failure(now, probe, failure);
    else if (probe) circuit.breaker.abandonProbe();
    return FORWARD;
  }

  #circuitOf(frame: Frame, session: Session): Circuit | undefined {
    const upstream = this.#routing?.upstreamOf(frame, session);
    return upstream === undefined ? undefined : this.#circuits.get(upstream);
  }

  /** A crashed server was restarted and answered the replayed handshake: the upstream works again. */
  onUpstreamRestored(): void {
    this.#single?.breaker.recovered(performance.now(), 'a restarted server process answered its handshake');
  }

  onSessionClose(session: Session): void {
    for (const c of this.#circuits.values()) {
      if (c.probeSession !== session) continue;
      c.probeSession = undefined;
      c.probeId = undefined;
      c.breaker.abandonProbe();
    }
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
    for (const c of this.#circuits.values()) c.breaker.close();
  }
}
