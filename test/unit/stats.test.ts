import { describe, expect, it } from 'vitest';
import { BUCKET_MS, BUCKETS, StatsSeries, classifyTrend, healthScore } from '../../src/observe/stats.js';

const T0 = 1_800_000_000_000; // a fake clock: nothing here reads the real one

describe('StatsSeries (ring of 10-second buckets, fake clock)', () => {
  it('sums calls, errors and throughput over 1 m, 5 m and 1 h windows', () => {
    const s = new StatsSeries();
    for (let i = 0; i < 60; i++) s.record(T0 + i * 5_000, 10, i % 10 === 0); // 5 minutes, one call every 5 s
    const now = T0 + 59 * 5_000;
    expect(s.summary(now, 60_000)).toMatchObject({ windowS: 60, calls: 12 });
    const five = s.summary(now, 300_000);
    expect(five).toMatchObject({ windowS: 300, calls: 60, errors: 6, errorRate: 0.1 });
    expect(five.throughput).toBeCloseTo(0.2);
    expect(s.summary(now, 3_600_000).calls).toBe(60);
  });

  it('forgets buckets that fall out of the hour, and clears buckets skipped over', () => {
    const s = new StatsSeries();
    s.record(T0, 5, false);
    s.record(T0 + BUCKET_MS * (BUCKETS + 5), 5, true);
    const now = T0 + BUCKET_MS * (BUCKETS + 5);
    expect(s.summary(now, 3_600_000)).toMatchObject({ calls: 1, errors: 1 });
    // The slot of the first call was reused: nothing of it is left.
    expect(s.buckets(now, BUCKETS).calls.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('gives the hour minute by minute, old minutes from their folds, new ones from their buckets', () => {
    const s = new StatsSeries();
    const minute = 6 * BUCKET_MS;
    const start = Math.floor(T0 / minute) * minute; // a minute's start, so steps are whole minutes here
    // 100 ms calls 50 minutes ago (folded by now), 2 s calls 1 minute ago, one failing 50 ms call now.
    for (let i = 0; i < 10; i++) s.record(start + i * 1_000, 100, false);
    for (let i = 0; i < 4; i++) s.record(start + 49 * minute + i * 1_000, 2_000, false);
    const now = start + 50 * minute + 5_000;
    s.record(now, 50, true);
    const steps = s.steps(now);
    expect(steps.calls).toHaveLength(60);
    expect(steps.calls.reduce((a, b) => a + b, 0)).toBe(15);
    expect(steps.calls.slice(-51)).toEqual([10, ...Array<number>(48).fill(0), 4, 1]);
    expect(steps.errors.at(-1)).toBe(1);
    expect(Math.abs((steps.p95Ms.at(-51) as number) - 100)).toBeLessThanOrEqual(1);
    expect(Math.abs((steps.p50Ms.at(-2) as number) - 2_000)).toBeLessThanOrEqual(20);
    expect(steps.p50Ms.at(-3)).toBeNull();
    expect(new StatsSeries().steps(now).calls.every((c) => c === 0)).toBe(true);
  });

  /** The exact percentile by the sketch's rank rule (the lower of the two around q·(n−1)). */
  const exact = (values: number[], q: number): number =>
    [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))] as number;

  it('reports a 6.0 s and a 400 ms call within 1 %, not as the power-of-two bin above them', () => {
    for (const ms of [6_000, 400, 0.2, 42.5]) {
      const s = new StatsSeries();
      for (let i = 0; i < 50; i++) s.record(T0 + i, ms, false);
      const { p50Ms, p95Ms, p99Ms } = s.summary(T0 + 50, 60_000);
      for (const p of [p50Ms, p95Ms, p99Ms])
        expect(Math.abs((p as number) - ms) / ms).toBeLessThanOrEqual(0.01);
    }
    expect(new StatsSeries().summary(T0, 60_000).p50Ms).toBeNull();
  });

  it('computes p50, p95 and p99 of known latencies within 1 % over 1 m, 5 m and the hour (folded buckets too)', () => {
    const s = new StatsSeries();
    const all: number[] = [];
    const last5m: number[] = [];
    // One call every second for an hour: latencies cycle through 0.1 ms … 30 s, log-spaced.
    const n = 3_600;
    for (let i = 0; i < n; i++) {
      const ms = 0.1 * Math.exp((((i * 7919) % 1000) / 1000) * Math.log(300_000));
      s.record(T0 + i * 1_000, ms, false);
      all.push(ms);
      if (i >= n - 300) last5m.push(ms);
    }
    const now = T0 + (n - 1) * 1_000;
    for (const [window, values] of [
      [3_600_000, all],
      [300_000, last5m],
    ] as const) {
      const summary = s.summary(now, window);
      expect(summary.calls).toBe(values.length);
      for (const [q, got] of [
        [0.5, summary.p50Ms],
        [0.95, summary.p95Ms],
        [0.99, summary.p99Ms],
      ] as const) {
        const want = exact(values, q);
        expect(
          Math.abs((got as number) - want) / want,
          `${window} ms window, p${q * 100}`,
        ).toBeLessThanOrEqual(0.01);
      }
    }
    // Each of the newest buckets has its median for the trends, within 1 % too.
    const { p50Ms } = s.buckets(now, 30);
    const newest = all.slice(-10);
    expect(Math.abs((p50Ms[29] as number) - exact(newest, 0.5)) / exact(newest, 0.5)).toBeLessThanOrEqual(
      0.01,
    );
  });

  it('takes calls timed in a bucket already folded (the clock went back) into the hour', () => {
    const s = new StatsSeries();
    const rel = (got: number | null, want: number): number => Math.abs((got as number) - want) / want;
    for (let i = 0; i < 100; i++) s.record(T0 + i * BUCKET_MS, 10, false);
    const now = T0 + 99 * BUCKET_MS;
    // The merge of the folded minutes is kept from this summary on...
    expect(rel(s.summary(now, 3_600_000).p95Ms, 10)).toBeLessThanOrEqual(0.01);
    // ...and left once 10 calls of 10 s come in for a bucket 94 buckets back, folded long ago.
    for (let i = 0; i < 10; i++) s.record(T0 + 5 * BUCKET_MS, 10_000, false);
    const hour = s.summary(now, 3_600_000);
    expect(hour.calls).toBe(110);
    // 10 of 110 calls took 10 s: p95 (rank 103 of 0…109) is one of them, p50 is not.
    expect(rel(hour.p95Ms, 10_000)).toBeLessThanOrEqual(0.01);
    expect(rel(hour.p50Ms, 10)).toBeLessThanOrEqual(0.01);
    // The 5 minutes do not reach that far back.
    expect(rel(s.summary(now, 300_000).p99Ms, 10)).toBeLessThanOrEqual(0.01);
  });

  it('records a call in well under a microsecond on average', () => {
    const s = new StatsSeries();
    // Not a timing assertion (bench/statsSketch.mjs measures): only that the counts stay whole.
    for (let i = 0; i < 100_000; i++) s.record(T0 + i, i % 500, i % 7 === 0);
    expect(s.summary(T0 + 100_000, 3_600_000).calls).toBe(100_000);
  });
});

describe('healthScore', () => {
  const healthy = { errorRate: 0, p95Ms: 10, baselineP95Ms: 10 };
  it('is 100 when nothing is wrong, or nothing was seen', () => {
    expect(healthScore(healthy)).toBe(100);
    expect(healthScore({ errorRate: null, p95Ms: null, baselineP95Ms: null })).toBe(100);
  });
  it('loses the success share linearly up to 50% errors', () => {
    expect(healthScore({ ...healthy, errorRate: 0.25 })).toBe(70);
    expect(healthScore({ ...healthy, errorRate: 0.5 })).toBe(40);
    expect(healthScore({ ...healthy, errorRate: 0.9 })).toBe(40);
  });
  it('keeps the latency share up to 1.5× the baseline p95 and loses it at 4×', () => {
    expect(healthScore({ ...healthy, p95Ms: 15 })).toBe(100);
    expect(healthScore({ ...healthy, p95Ms: 27.5 })).toBe(90);
    expect(healthScore({ ...healthy, p95Ms: 40 })).toBe(80);
    expect(healthScore({ ...healthy, p95Ms: 400 })).toBe(80);
  });
  it('counts the breaker and recent restarts', () => {
    expect(healthScore({ ...healthy, breaker: 'half_open' })).toBe(95);
    expect(healthScore({ ...healthy, breaker: 'open' })).toBe(90);
    expect(healthScore({ ...healthy, recentRestarts: 1 })).toBe(95);
    expect(healthScore({ ...healthy, recentRestarts: 3 })).toBe(90);
    expect(
      healthScore({ errorRate: 1, p95Ms: 100, baselineP95Ms: 1, breaker: 'open', recentRestarts: 5 }),
    ).toBe(0);
  });
});

describe('classifyTrend', () => {
  // A deterministic "noise" so the test is repeatable.
  const noise = (i: number) => Math.sin(i * 12.9898) * 5;

  it('calls a flat series with noise stable', () => {
    const series = Array.from({ length: 30 }, (_, i) => 100 + noise(i));
    expect(classifyTrend(series).direction).toBe('stable');
  });

  it('calls a step up rising with high confidence', () => {
    const series = Array.from({ length: 30 }, (_, i) => (i < 15 ? 100 : 200) + noise(i));
    const t = classifyTrend(series);
    expect(t.direction).toBe('rising');
    expect(t.confidence).toBeGreaterThan(0.6);
  });

  it('calls a slow ramp rising, with lower confidence than the step', () => {
    const ramp = classifyTrend(Array.from({ length: 30 }, (_, i) => 100 + i * 1.0 + noise(i) / 5));
    const step = classifyTrend(Array.from({ length: 30 }, (_, i) => (i < 15 ? 100 : 200) + noise(i)));
    expect(ramp.direction).toBe('rising');
    expect(ramp.confidence).toBeLessThan(step.confidence);
  });

  it('calls a falling series falling, and ignores empty buckets and short series', () => {
    expect(classifyTrend(Array.from({ length: 30 }, (_, i) => 300 - i * 8)).direction).toBe('falling');
    expect(classifyTrend([null, null, 5, null, 50, null]).direction).toBe('stable');
  });

  it('judges error rates by absolute change, so a rise from zero counts', () => {
    const series = Array.from({ length: 30 }, (_, i) => (i < 20 ? 0 : 0.3));
    expect(classifyTrend(series, 0.25).direction).toBe('rising');
    expect(
      classifyTrend(
        Array.from({ length: 30 }, () => 0),
        0.25,
      ).direction,
    ).toBe('stable');
  });
});
