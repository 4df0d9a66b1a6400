import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';

/**
 * In-memory sliding windows for the stats API: per target (the whole proxy, an upstream, a tool) a ring of
 * 10-second buckets covering one hour, each with a call count and an error count, and latency percentiles
 * from DDSketch quantile sketches with a 1 % relative accuracy. Memory per target is bounded (see
 * SKETCH_BIN_LIMIT): an idle target holds only its counters, a busy one its sketches too.
 */

/** Width of one bucket (10 s) and how many are kept (one hour). */
export const BUCKET_MS = 10_000;
export const BUCKETS = 360;
/**
 * Relative accuracy of every latency percentile (1 %): DDSketch's guarantee, whatever the distribution. A
 * 6.0 s p95 is reported between 5.94 and 6.06 s (power-of-two bins used to say 8.39 s).
 */
export const LATENCY_RELATIVE_ACCURACY = 0.01;
/**
 * Most bins in one sketch (1,024 of 8 bytes): at 1 % that spans 1 : 8·10^8 (1 µs to 13 min); calls faster
 * than the span below the slowest are counted in its lowest bin. A sketch holds only the bins between its
 * fastest and slowest call, grown by SKETCH_CHUNK.
 */
export const SKETCH_BIN_LIMIT = 1_024;
const SKETCH_CHUNK = 32;
/** The newest buckets keep a sketch each (30: the 1m and 5m windows and the per-bucket trend medians). */
export const RECENT_BUCKETS = 30;
/**
 * Older buckets are folded six at a time (one minute) into one sketch, so a target holds at most 30 + 61
 * sketches, and the hour's percentiles may take in up to 50 s more at the window's old end.
 */
export const FOLD_BUCKETS = 6;
const FOLDS = Math.ceil(BUCKETS / FOLD_BUCKETS) + 1;

type Sketch = LogCollapsingLowestDenseDDSketch;

function newSketch(): Sketch {
  const sketch = new LogCollapsingLowestDenseDDSketch({
    relativeAccuracy: LATENCY_RELATIVE_ACCURACY,
    binLimit: SKETCH_BIN_LIMIT,
  });
  // Grown 32 bins at a time rather than the library's 128: most buckets span a narrow range.
  sketch.store.chunkSize = SKETCH_CHUNK;
  return sketch;
}

/** A percentile as reported: 5 significant digits (rounding adds at most 0.005 % to the sketch's 1 %). */
function reported(ms: number): number {
  return ms === 0 ? 0 : Number(ms.toPrecision(5));
}

export interface WindowSummary {
  /** Window length, seconds. */
  windowS: number;
  calls: number;
  errors: number;
  /** errors / calls; 0 without calls. */
  errorRate: number;
  /** calls per second over the window. */
  throughput: number;
  /** Latency percentiles in ms, within LATENCY_RELATIVE_ACCURACY (1 %); null without calls. */
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

/** One target's ring of buckets. `now` is a millisecond clock passed in (tests use a fake one). */
export class StatsSeries {
  /** Bucket width in ms (BUCKET_MS unless a test needs time to pass faster). */
  readonly bucketMs: number;
  readonly #calls = new Uint32Array(BUCKETS);
  readonly #errors = new Uint32Array(BUCKETS);
  /** The newest buckets' sketches by bucket % RECENT_BUCKETS, and which bucket each holds (-1: none). */
  readonly #recent: Array<Sketch | undefined> = new Array<Sketch | undefined>(RECENT_BUCKETS);
  readonly #recentBucket = new Float64Array(RECENT_BUCKETS).fill(-1);
  /** Folded older buckets by fold (bucket / FOLD_BUCKETS) % FOLDS, and which fold each holds. */
  readonly #folds: Array<Sketch | undefined> = new Array<Sketch | undefined>(FOLDS);
  readonly #foldOf = new Float64Array(FOLDS).fill(-1);
  /** Bumped whenever a fold changes, so that the merge of a window's folds can be kept. */
  #foldVersion = 0;
  /** The last merge of folds a summary made: which folds, as of which version (the hour's, mostly). */
  #foldCache: { first: number; last: number; version: number; sketch: Sketch } | undefined;
  /** Absolute number (now / bucketMs) of the newest bucket written; -1 before the first. */
  #head = -1;

  constructor(bucketMs = BUCKET_MS) {
    this.bucketMs = bucketMs;
  }

  record(now: number, latencyMs: number, error: boolean): void {
    const bucket = this.#advance(now);
    const slot = bucket % BUCKETS;
    const calls = this.#calls;
    calls[slot] = (calls[slot] as number) + 1;
    if (error) this.#errors[slot] = (this.#errors[slot] as number) + 1;
    this.#sketchFor(bucket)?.accept(latencyMs > 0 ? latencyMs : 0);
  }

  /** The sketch that takes `bucket`'s calls: its own, made now if need be (folding the one it replaces). */
  #sketchFor(bucket: number): Sketch | undefined {
    const r = bucket % RECENT_BUCKETS;
    const held = this.#recentBucket[r] as number;
    if (held === bucket) return this.#recent[r];
    if (held > bucket) {
      // A call timed in a bucket already folded (the clock went back): into its fold, if still in the hour.
      if (bucket <= this.#head - BUCKETS) return undefined;
      this.#foldVersion++;
      return this.#fold(Math.floor(bucket / FOLD_BUCKETS));
    }
    const old = this.#recent[r];
    if (old && held > bucket - BUCKETS) {
      this.#fold(Math.floor(held / FOLD_BUCKETS)).merge(old);
      this.#foldVersion++;
    }
    const sketch = newSketch();
    this.#recent[r] = sketch;
    this.#recentBucket[r] = bucket;
    return sketch;
  }

  /** The sketch of fold `f`, made now (in place of an older fold) if need be. */
  #fold(f: number): Sketch {
    const i = f % FOLDS;
    if (this.#foldOf[i] === f) return this.#folds[i] as Sketch;
    const sketch = newSketch();
    this.#folds[i] = sketch;
    this.#foldOf[i] = f;
    return sketch;
  }

  /** Move the head to `now`'s bucket, clearing the counters of the buckets skipped over. */
  #advance(now: number): number {
    const bucket = Math.floor(now / this.bucketMs);
    if (this.#head === -1) this.#head = bucket - 1;
    const gap = Math.min(bucket - this.#head, BUCKETS);
    for (let i = 1; i <= gap; i++) {
      const slot = (this.#head + i) % BUCKETS;
      this.#calls[slot] = 0;
      this.#errors[slot] = 0;
    }
    if (bucket > this.#head) this.#head = bucket;
    return bucket;
  }

  /** The last `n` buckets up to `now`, oldest first: [bucket number, counter slot], slot -1 for none. */
  #span(now: number, n: number): Array<[number, number]> {
    const newest = Math.floor(now / this.bucketMs);
    const out: Array<[number, number]> = [];
    for (let b = newest - n + 1; b <= newest; b++) out.push([b, this.#slot(b)]);
    return out;
  }

  /** The counter slot of bucket `b`; -1 when the ring holds nothing for it (newer than the head, or too old). */
  #slot(b: number): number {
    if (this.#head === -1 || b > this.#head || b <= this.#head - BUCKETS) return -1;
    return ((b % BUCKETS) + BUCKETS) % BUCKETS;
  }

  /**
   * Folds `first` to `last` merged: kept until a fold changes (at most once a bucket), so the hour's
   * summaries, asked for every target on every /stats, merge its 30 newest buckets and one sketch.
   */
  #folded(first: number, last: number): Sketch {
    const c = this.#foldCache;
    if (c && c.first === first && c.last === last && c.version === this.#foldVersion) return c.sketch;
    const sketch = newSketch();
    for (let f = first; f <= last; f++) {
      if (this.#foldOf[f % FOLDS] === f) sketch.merge(this.#folds[f % FOLDS] as Sketch);
    }
    this.#foldCache = { first, last, version: this.#foldVersion, sketch };
    return sketch;
  }

  /** The bucket's own sketch, while it has one (the newest RECENT_BUCKETS buckets). */
  #own(bucket: number): Sketch | undefined {
    const r = bucket % RECENT_BUCKETS;
    return this.#recentBucket[r] === bucket ? this.#recent[r] : undefined;
  }

  summary(now: number, windowMs: number): WindowSummary {
    const n = Math.max(1, Math.min(BUCKETS, Math.round(windowMs / this.bucketMs)));
    let calls = 0;
    let errors = 0;
    const merged = newSketch();
    /** The folds the window takes in: a contiguous run, oldest first. */
    let firstFold = -1;
    let lastFold = -1;
    for (const [b, slot] of this.#span(now, n)) {
      if (slot < 0) continue;
      const c = this.#calls[slot] as number;
      if (c === 0) continue; // an empty bucket adds nothing
      calls += c;
      errors += this.#errors[slot] as number;
      const own = this.#own(b);
      if (own) merged.merge(own);
      else {
        lastFold = Math.floor(b / FOLD_BUCKETS);
        if (firstFold === -1) firstFold = lastFold;
      }
    }
    if (firstFold !== -1) merged.merge(this.#folded(firstFold, lastFold));
    const pct = (q: number): number | null =>
      calls === 0 || merged.count === 0 ? null : reported(merged.getValueAtQuantile(q));
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

  /**
   * Per-bucket series of the last `n` buckets for trend detection (empty buckets give null rates; medians
   * are known for the newest RECENT_BUCKETS buckets, null before).
   */
  buckets(
    now: number,
    n: number,
  ): { calls: number[]; errorRate: Array<number | null>; p50Ms: Array<number | null> } {
    const calls: number[] = [];
    const errorRate: Array<number | null> = [];
    const p50Ms: Array<number | null> = [];
    for (const [b, slot] of this.#span(now, n)) {
      const c = slot < 0 ? 0 : (this.#calls[slot] as number);
      calls.push(c);
      if (c === 0 || slot < 0) {
        errorRate.push(null);
        p50Ms.push(null);
        continue;
      }
      errorRate.push((this.#errors[slot] as number) / c);
      const own = this.#own(b);
      p50Ms.push(own && own.count > 0 ? reported(own.getValueAtQuantile(0.5)) : null);
    }
    return { calls, errorRate, p50Ms };
  }

  /**
   * The hour in steps of FOLD_BUCKETS buckets (a minute at the default 10-second buckets), oldest first,
   * the newest step being the one `now` is in: each step's calls, errors and percentiles, from the sketches
   * of its buckets and its fold (exact to the sketches' 1 %: a step is a fold, so nothing is counted twice).
   */
  steps(now: number): StepSeries {
    const out: StepSeries = { calls: [], errors: [], p50Ms: [], p95Ms: [] };
    const newest = Math.floor(now / this.bucketMs);
    const last = Math.floor(newest / FOLD_BUCKETS);
    for (let f = last - BUCKETS / FOLD_BUCKETS + 1; f <= last; f++) {
      let calls = 0;
      let errors = 0;
      const merged = newSketch();
      for (let b = f * FOLD_BUCKETS; b < (f + 1) * FOLD_BUCKETS && b <= newest; b++) {
        const slot = this.#slot(b);
        if (slot < 0) continue;
        calls += this.#calls[slot] as number;
        errors += this.#errors[slot] as number;
        const own = this.#own(b);
        if (own) merged.merge(own);
      }
      if (this.#foldOf[f % FOLDS] === f) merged.merge(this.#folds[f % FOLDS] as Sketch);
      out.calls.push(calls);
      out.errors.push(errors);
      const pct = (q: number): number | null =>
        calls === 0 || merged.count === 0 ? null : reported(merged.getValueAtQuantile(q));
      out.p50Ms.push(pct(0.5));
      out.p95Ms.push(pct(0.95));
    }
    return out;
  }
}

/** Per-step figures of a window, oldest first (`StatsSeries.steps`); null where a step had no calls. */
export interface StepSeries {
  calls: number[];
  errors: number[];
  p50Ms: Array<number | null>;
  p95Ms: Array<number | null>;
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
