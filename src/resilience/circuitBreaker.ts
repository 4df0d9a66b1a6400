/** closed: requests flow; open: they fail fast; half-open: one probe goes through to test the upstream. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** The gauge values of `circuit_breaker_state`. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = {
  closed: 0,
  open: 1,
  'half-open': 2,
};

export const DEFAULT_BREAKER_FAILURES = 5;
export const DEFAULT_BREAKER_ERROR_RATE = 0.5;
export const DEFAULT_BREAKER_WINDOW_MS = 60_000;
export const DEFAULT_BREAKER_MIN_REQUESTS = 20;
export const DEFAULT_BREAKER_RESET_MS = 30_000;
/** Buckets the error-rate window is kept in (a sliding window without a list per request). */
const WINDOW_BUCKETS = 10;

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  failures?: number;
  /** Share of failed requests (0–1) over `windowMs` that opens it; 0 turns the rate rule off. Default 0.5. */
  errorRate?: number;
  /** Window of the error-rate rule, ms. Default 60,000. */
  windowMs?: number;
  /** Requests the window must hold before the error-rate rule applies. Default 20. */
  minRequests?: number;
  /** Time open before a probe is let through (half-open), ms. Default 30,000. */
  resetMs?: number;
  /** Called on every change of state. */
  onTransition?: (to: BreakerState, from: BreakerState, why: string) => void;
}

/** What `acquire()` answers: go ahead (maybe as the half-open probe), or fail fast for `retryAfterMs`. */
export type Admission =
  | { readonly ok: true; readonly probe: boolean }
  | { readonly ok: false; readonly retryAfterMs: number; readonly state: BreakerState; readonly why: string };

const GO: Admission = Object.freeze({ ok: true, probe: false });
const PROBE: Admission = Object.freeze({ ok: true, probe: true });

/**
 * One upstream's circuit breaker. Opens after `failures` consecutive failures or an error rate over the
 * window; while open, requests fail fast; after `resetMs` it half-opens and lets one probe through; the
 * probe's success closes it, its failure opens it again for another `resetMs`.
 */
export class CircuitBreaker {
  readonly #failures: number;
  readonly #errorRate: number;
  readonly #bucketMs: number;
  readonly #minRequests: number;
  readonly #resetMs: number;
  readonly #onTransition: CircuitBreakerOptions['onTransition'];
  #state: BreakerState = 'closed';
  #consecutive = 0;
  #openedAt = 0;
  #why = '';
  #probing = false;
  #timer: NodeJS.Timeout | undefined;
  /** Per bucket: [bucket number, requests, failures]. */
  readonly #window: Array<[number, number, number]> = [];

  constructor(options: CircuitBreakerOptions = {}) {
    this.#failures = options.failures ?? DEFAULT_BREAKER_FAILURES;
    this.#errorRate = options.errorRate ?? DEFAULT_BREAKER_ERROR_RATE;
    this.#bucketMs = (options.windowMs ?? DEFAULT_BREAKER_WINDOW_MS) / WINDOW_BUCKETS;
    this.#minRequests = options.minRequests ?? DEFAULT_BREAKER_MIN_REQUESTS;
    this.#resetMs = options.resetMs ?? DEFAULT_BREAKER_RESET_MS;
    this.#onTransition = options.onTransition;
    for (let i = 0; i < WINDOW_BUCKETS; i++) this.#window.push([-1, 0, 0]);
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Ask to send one request. */
  acquire(now: number): Admission {
    if (this.#state === 'closed') return GO;
    if (this.#state === 'open') {
      return {
        ok: false,
        retryAfterMs: Math.max(1, Math.ceil(this.#openedAt + this.#resetMs - now)),
        state: 'open',
        why: this.#why,
      };
    }
    if (!this.#probing) {
      this.#probing = true;
      return PROBE;
    }
    // Half-open with the probe still out: the others wait for its verdict.
    return { ok: false, retryAfterMs: Math.min(1000, this.#resetMs), state: 'half-open', why: this.#why };
  }

  /** A request (or the probe) got an answer from the upstream. */
  success(now: number, probe: boolean): void {
    this.#count(now, false);
    this.#consecutive = 0;
    if (probe && this.#state === 'half-open') {
      this.#probing = false;
      this.#move('closed', 'the probe request succeeded');
    }
  }

  /** A request (or the probe) failed because of the upstream. */
  failure(now: number, probe: boolean, what: string): void {
    this.#count(now, true);
    this.#consecutive++;
    if (this.#state === 'half-open') {
      if (!probe) return;
      this.#probing = false;
      this.#open(now, `the probe request failed (${what})`);
      return;
    }
    if (this.#state !== 'closed') return;
    if (this.#consecutive >= this.#failures) {
      this.#open(now, `${this.#consecutive} consecutive failures (last: ${what})`);
      return;
    }
    if (this.#errorRate > 0) {
      const [requests, failures] = this.#totals(now);
      if (requests >= this.#minRequests && failures / requests >= this.#errorRate) {
        const pct = Math.round((failures / requests) * 100);
        this.#open(now, `${pct}% of ${requests} requests failed (last: ${what})`);
      }
    }
  }

  /**
   * Direct evidence that the upstream works again (a restarted server answered its handshake): counted as
   * a success, and an open or half-open breaker closes without waiting for its probe.
   */
  recovered(now: number, why: string): void {
    this.#count(now, false);
    this.#consecutive = 0;
    if (this.#state === 'closed') return;
    this.#probing = false;
    clearTimeout(this.#timer);
    this.#move('closed', why);
  }

  /** The probe will never be answered (its session ended): let another request probe. */
  abandonProbe(): void {
    this.#probing = false;
  }

  close(): void {
    clearTimeout(this.#timer);
  }

  #open(now: number, why: string): void {
    this.#openedAt = now;
    this.#why = why;
    this.#move('open', why);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#move('half-open', `open for ${this.#resetMs} ms`), this.#resetMs);
    this.#timer.unref();
  }

  #move(to: BreakerState, why: string): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    if (to === 'closed') {
      this.#consecutive = 0;
      for (const b of this.#window) b[0] = -1;
    }
    this.#onTransition?.(to, from, why);
  }

  #count(now: number, failed: boolean): void {
    const n = Math.floor(now / this.#bucketMs);
    const bucket = this.#window[n % WINDOW_BUCKETS] as [number, number, number];
    if (bucket[0] !== n) {
      bucket[0] = n;
      bucket[1] = 0;
      bucket[2] = 0;
    }
    bucket[1]++;
    if (failed) bucket[2]++;
  }

  #totals(now: number): [number, number] {
    const oldest = Math.floor(now / this.#bucketMs) - WINDOW_BUCKETS + 1;
    let requests = 0;
    let failures = 0;
    for (const [n, r, f] of this.#window) {
      if (n >= oldest) {
        requests += r;
        failures += f;
      }
    }
    return [requests, failures];
  }
}
