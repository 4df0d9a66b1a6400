/** A rate: `rate` tokens per second, up to `burst` saved up. */
export interface RateSpec {
  /** Tokens added per second (> 0). */
  readonly rate: number;
  /** Most tokens held at once: the largest burst let through after a quiet spell (≥ 1). */
  readonly burst: number;
}

/**
 * A token bucket that refills lazily, on use: no timers, two numbers of state. `take()` answers 0 when a
 * token was taken, else the milliseconds until one will be there (what Retry-After says).
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  constructor(spec: RateSpec, now: number) {
    this.#rate = spec.rate / 1000;
    this.#burst = spec.burst;
    this.#tokens = spec.burst;
    this.#at = now;
  }

  take(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.#rate));
  }

  /** Give back a token taken for a request that another limit then refused. */
  refund(): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + 1);
  }

  /** Full again (nothing to remember): the bucket can be forgotten. */
  idle(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.#burst;
  }

  #refill(now: number): void {
    const elapsed = now - this.#at;
    if (elapsed <= 0) return;
    this.#at = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#rate);
  }
}

/**
 * Parse "10/s", "600/m", "5000/h", optionally with a burst: "10/s:20". A bare number is per second.
 * The burst defaults to the rate per second, rounded up, and at least 1.
 */
export function parseRate(text: string): RateSpec {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|second|m|min|minute|h|hour))?\s*(?::\s*(\d+))?\s*$/i.exec(
    text,
  );
  if (!m)
    throw new Error(
      `"${text}" is not a rate: write it as 10/s, 600/m or 5000/h, with :BURST to allow bursts (10/s:20)`,
    );
  const per = (m[2] ?? 's').toLowerCase()[0];
  const rate = Number(m[1]) / (per === 'h' ? 3600 : per === 'm' ? 60 : 1);
  if (!(rate > 0)) throw new Error(`"${text}": the rate must be above 0`);
  const burst = m[3] === undefined ? Math.max(1, Math.ceil(rate)) : Number(m[3]);
  if (burst < 1) throw new Error(`"${text}": the burst must be at least 1`);
  return { rate, burst };
}
