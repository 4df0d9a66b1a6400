/**
 * In-memory sliding windows for the stats API: per target (the whole proxy, an upstream, a tool) a fixed ring
 * of 10-second buckets covering one hour, each with a call count, an error count and a log-scale latency
 * histogram. Recording is a few array increments; memory per target is fixed (about 60 KB).
 */

/** Width of one bucket (10 s) and how many are kept (one hour). */
export const BUCKET_MS = 10_000;
export const BUCKETS = 360;
/** Latency bins: bin i holds [64 µs · √2^i, 64 µs · √2^(i+1)); the last one everything above ~67 s. */
const LAT_BINS = 41;
const LAT_BASE_US = 64;
const LOG_SQRT2 = Math.log(Math.SQRT2);

export interface WindowSummary {
  /** Window length, seconds. */
  windowS: number;
  calls: number;
  errors: number;
  /** errors / calls; 0 without calls. */
  errorRate: number;
  /** calls per second over the window. */
  throughput: number;
  /** Latency percentiles in ms (upper bound of the bin that holds them); null without calls. */
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

function binOf(latencyMs: number): number {
  const us = latencyMs * 1000;
  if (us <= LAT_BASE_US) return 0;
  return Math.min(LAT_BINS - 1, Math.floor(Math.log(us / LAT_BASE_US) / LOG_SQRT2));
}

/** Upper bound of a latency bin, in ms. */
function binUpperMs(bin: number): number {
  return (LAT_BASE_US * Math.SQRT2 ** (bin + 1)) / 1000;
}

/** One target's ring of buckets. `now` is a millisecond clock passed in (tests use a fake one). */
export class StatsSeries {
  /** Bucket width in ms (BUCKET_MS unless a test needs time to pass faster). */
  readonly bucketMs: number;
  readonly #calls = new Uint32Array(BUCKETS);
  readonly #errors = new Uint32Array(BUCKETS);
  readonly #latency = new Uint32Array(BUCKETS * LAT_BINS);
  /** Absolute number (now / bucketMs) of the newest bucket written; -1 before the first. */
  #head = -1;

  constructor(bucketMs = BUCKET_MS) {
    this.bucketMs = bucketMs;
  }

  record(now: number, latencyMs: number, error: boolean): void {
    const bucket = this.#advance(now);
    const slot = bucket % BUCKETS;
    const calls = this.#calls;
    const errors = this.#errors;
    const latency = this.#latency;
    const bin = slot * LAT_BINS + binOf(latencyMs);
    calls[slot] = (calls[slot] as number) + 1;
    if (error) errors[slot] = (errors[slot] as number) + 1;
    latency[bin] = (latency[bin] as number) + 1;
  }

  /** Move the head to `now`'s bucket, clearing the buckets skipped over. */
  #advance(now: number): number {
    const bucket = Math.floor(now / this.bucketMs);
    if (this.#head === -1) this.#head = bucket - 1;
    const gap = Math.min(bucket - this.#head, BUCKETS);
    for (let i = 1; i <= gap; i++) {
      const slot = (this.#head + i) % BUCKETS;
      this.#calls[slot] = 0;
      this.#errors[slot] = 0;
      this.#latency.fill(0, slot * LAT_BINS, (slot + 1) * LAT_BINS);
    }
    if (bucket > this.#head) this.#head = bucket;
    return bucket;
  }

  /** The last `n` buckets up to `now`, oldest first, as [calls, errors, latency slot] per bucket. */
  #span(now: number, n: number): number[] {
    const newest = Math.floor(now / this.bucketMs);
    const slots: number[] = [];
    for (let b = newest - n + 1; b <= newest; b++) {
      // A bucket newer than the head, or older than the ring, holds nothing.
      if (this.#head === -1 || b > this.#head || b <= this.#head - BUCKETS) slots.push(-1);
      else slots.push(((b % BUCKETS) + BUCKETS) % BUCKETS);
    }
    return slots;
  }

  summary(now: number, windowMs: number): WindowSummary {
    const n = Math.max(1, Math.min(BUCKETS, Math.round(windowMs / this.bucketMs)));
    let calls = 0;
    let errors = 0;
    const hist = new Float64Array(LAT_BINS);
    for (const slot of this.#span(now, n)) {
      if (slot < 0) continue;
      const c = this.#calls[slot] as number;
      if (c === 0) continue; // an empty bucket adds nothing: skip its bins
      calls += c;
      errors += this.#errors[slot] as number;
      for (let i = 0; i < LAT_BINS; i++)
        hist[i] = (hist[i] as number) + (this.#latency[slot * LAT_BINS + i] as number);
    }
    const pct = (p: number): number | null => {
      if (calls === 0) return null;
      const rank = Math.ceil(calls * p);
      let seen = 0;
      for (let i = 0; i < LAT_BINS; i++) {
        seen += hist[i] as number;
        if (seen >= rank) return Math.round(binUpperMs(i) * 1000) / 1000;
      }
      return Math.round(binUpperMs(LAT_BINS - 1) * 1000) / 1000;
    };
    const windowS = (n * this.bucketMs) / 1000;
    return {
      windowS,
      calls,
      errors,
      errorRate: calls === 0 ? 0 : errors / calls,
      throughput: calls / windowS,
      p50Ms: pct(0.5),
      p95Ms: pct(0.95),
      p99Ms: pct(0.99),
    };
  }

  /** Per-bucket series of the last `n` buckets for trend detection (empty buckets give null rates). */
  buckets(
    now: number,
    n: number,
  ): { calls: number[]; errorRate: Array<number | null>; p50Ms: Array<number | null> } {
    const calls: number[] = [];
    const errorRate: Array<number | null> = [];
    const p50Ms: Array<number | null> = [];
    for (const slot of this.#span(now, n)) {
      const c = slot < 0 ? 0 : (this.#calls[slot] as number);
      calls.push(c);
      if (c === 0 || slot < 0) {
        errorRate.push(null);
        p50Ms.push(null);
        continue;
      }
      errorRate.push((this.#errors[slot] as number) / c);
      let seen = 0;
      let median: number | null = null;
      for (let i = 0; i < LAT_BINS && median === null; i++) {
        seen += this.#latency[slot * LAT_BINS + i] as number;
        if (seen >= Math.ceil(c / 2)) median = binUpperMs(i);
      }
      p50Ms.push(median);
    }
    return { calls, errorRate, p50Ms };
  }
}

// ---------------------------------------------------------------------------------------------------
// Health score

export interface HealthInputs {
  /** Error rate over the last 5 minutes (0–1), or null without calls. */
  errorRate: number | null;
  /** p95 latency over the last 5 minutes and over the hour (the target's own baseline), ms. */
  p95Ms: number | null;
  baselineP95Ms: number | null;
  /** Circuit breaker state, when the target has one. */
  breaker?: 'closed' | 'half_open' | 'open';
  /** Restarts of its server process in the last 15 minutes. */
  recentRestarts?: number;
}

/** Weights of the health score; they sum to 100. Documented in docs/stats.md. */
export const HEALTH_WEIGHTS = { success: 60, latency: 20, breaker: 10, restarts: 10 } as const;

/**
 * Health 0–100:
 * - success (60): full at 0% errors, falling linearly to 0 at 50% errors;
 * - latency (20): full while p95 ≤ 1.5× the hour's p95, falling linearly to 0 at 4×;
 * - breaker (10): closed (or none) 10, half-open 5, open 0;
 * - restarts (10): none in 15 minutes 10, one 5, more 0.
 * Without calls, success and latency count as full: nothing bad was seen.
 */
export function healthScore(h: HealthInputs): number {
  const w = HEALTH_WEIGHTS;
  const success = h.errorRate === null ? 1 : Math.max(0, 1 - h.errorRate / 0.5);
  let latency = 1;
  if (h.p95Ms !== null && h.baselineP95Ms !== null && h.baselineP95Ms > 0) {
    const ratio = h.p95Ms / h.baselineP95Ms;
    latency = ratio <= 1.5 ? 1 : ratio >= 4 ? 0 : 1 - (ratio - 1.5) / 2.5;
  }
  const breaker = h.breaker === 'open' ? 0 : h.breaker === 'half_open' ? 0.5 : 1;
  const restarts = !h.recentRestarts ? 1 : h.recentRestarts === 1 ? 0.5 : 0;
  return Math.round(w.success * success + w.latency * latency + w.breaker * breaker + w.restarts * restarts);
}

// ---------------------------------------------------------------------------------------------------
// Trends

export type TrendDirection = 'rising' | 'falling' | 'stable';

export interface Trend {
  direction: TrendDirection;
  /** Least-squares slope per bucket (10 s), in the series' unit. */
  slope: number;
  /** Change the slope makes across the window, relative to the mean (absolute for rates near zero). */
  change: number;
  /** 0–1: how well a line explains the series (R²), scaled down for changes near the threshold. */
  confidence: number;
  /** Points used (buckets with data). */
  points: number;
}

/** Minimum relative change across the window to call a trend; smaller is "stable". */
export const TREND_THRESHOLD = 0.2;
const MIN_POINTS = 6;
const MIN_R2 = 0.5;

/**
 * Classify a series by its least-squares slope. A trend needs enough points, a line that explains the
 * series (R² ≥ 0.5) and a change across the window of at least TREND_THRESHOLD (relative to the mean, or
 * absolute when `absolute` is given, for rates whose mean may be ~0), so noise does not flap the answer.
 */
export function classifyTrend(series: Array<number | null>, absolute?: number): Trend {
  const xs: number[] = [];
  const ys: number[] = [];
  series.forEach((y, x) => {
    if (y !== null && Number.isFinite(y)) {
      xs.push(x);
      ys.push(y);
    }
  });
  const n = xs.length;
  if (n < MIN_POINTS) return { direction: 'stable', slope: 0, change: 0, confidence: 0, points: n };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const r2 = syy === 0 || sxx === 0 ? 0 : (sxy * sxy) / (sxx * syy);
  const span = (xs[n - 1] as number) - (xs[0] as number);
  const delta = slope * span;
  const change = absolute !== undefined ? delta / absolute : my === 0 ? 0 : delta / Math.abs(my);
  const significant = r2 >= MIN_R2 && Math.abs(change) >= TREND_THRESHOLD;
  const confidence = significant
    ? Math.round(r2 * Math.min(1, Math.abs(change) / (2 * TREND_THRESHOLD)) * 100) / 100
    : 0;
  return {
    direction: significant ? (change > 0 ? 'rising' : 'falling') : 'stable',
    slope,
    change: Math.round(change * 1000) / 1000,
    confidence,
    points: n,
  };
}
