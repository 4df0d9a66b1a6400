import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, type BreakerState } from '../../src/resilience/circuitBreaker.js';
import { TokenBucket, parseRate } from '../../src/resilience/tokenBucket.js';
import { configSchema } from '../../src/config/schema.js';

describe('parseRate', () => {
  it('reads per second, minute and hour, with and without a burst', () => {
    expect(parseRate('10/s')).toEqual({ rate: 10, burst: 10 });
    expect(parseRate('600/m:5')).toEqual({ rate: 10, burst: 5 });
    expect(parseRate('3600/hour')).toEqual({ rate: 1, burst: 1 });
    expect(parseRate('0.5')).toEqual({ rate: 0.5, burst: 1 });
    expect(parseRate(' 2 / s : 7 ')).toEqual({ rate: 2, burst: 7 });
  });

  it('refuses what is not a rate, saying how to write one', () => {
    expect(() => parseRate('fast')).toThrow(/10\/s, 600\/m/);
    expect(() => parseRate('0/s')).toThrow(/above 0/);
    expect(() => parseRate('5/s:0')).toThrow(/at least 1/);
  });

  it('is checked by the config schema', () => {
    const ok = configSchema.parse({ rateLimitClient: '5/s:10', rateLimitTools: { slow: '1/m' } });
    expect(ok.rateLimitClient).toEqual({ rate: 5, burst: 10 });
    expect(ok.rateLimitTools.slow?.rate).toBeCloseTo(1 / 60);
    const bad = configSchema.safeParse({ rateLimitGlobal: 'lots' });
    expect(bad.success).toBe(false);
  });
});

describe('TokenBucket', () => {
  it('lets a burst through, then one token per 1/rate, and says how long to wait', () => {
    const bucket = new TokenBucket({ rate: 10, burst: 3 }, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([0, 0, 0]);
    expect(bucket.take(0)).toBe(100);
    expect(bucket.take(50)).toBe(50);
    expect(bucket.take(100)).toBe(0);
    expect(bucket.take(100)).toBe(100);
  });

  it('never holds more than its burst, and a refund gives one back', () => {
    const bucket = new TokenBucket({ rate: 1000, burst: 2 }, 0);
    expect(bucket.idle(10_000)).toBe(true);
    expect([bucket.take(10_000), bucket.take(10_000)]).toEqual([0, 0]);
    expect(bucket.take(10_000)).toBeGreaterThan(0);
    bucket.refund();
    expect(bucket.take(10_000)).toBe(0);
    expect(bucket.idle(10_000)).toBe(false);
  });
});

describe('CircuitBreaker', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens after N consecutive failures, fails fast, half-opens after the reset time, closes on a probe success', () => {
    vi.useFakeTimers();
    const moves: Array<[BreakerState, BreakerState]> = [];
    const breaker = new CircuitBreaker({
      failures: 3,
      resetMs: 1000,
      onTransition: (to, from) => moves.push([from, to]),
    });
    for (let i = 0; i < 2; i++) breaker.failure(i, false, 'UPSTREAM_HTTP_ERROR');
    breaker.success(2, false);
    for (let i = 0; i < 2; i++) breaker.failure(3 + i, false, 'UPSTREAM_HTTP_ERROR');
    expect(breaker.state).toBe('closed');
    breaker.failure(5, false, 'UPSTREAM_TIMEOUT');
    expect(breaker.state).toBe('open');
    const refused = breaker.acquire(505);
    expect(refused).toMatchObject({ ok: false, state: 'open', retryAfterMs: 500 });
    if (!refused.ok) expect(refused.why).toMatch(/3 consecutive failures \(last: UPSTREAM_TIMEOUT\)/);

    vi.advanceTimersByTime(1000);
    expect(breaker.state).toBe('half-open');
    expect(breaker.acquire(1100)).toEqual({ ok: true, probe: true });
    // Only one probe at a time.
    expect(breaker.acquire(1101)).toMatchObject({ ok: false, state: 'half-open' });
    breaker.success(1200, true);
    expect(breaker.state).toBe('closed');
    expect(breaker.acquire(1201)).toEqual({ ok: true, probe: false });
    expect(moves).toEqual([
      ['closed', 'open'],
      ['open', 'half-open'],
      ['half-open', 'closed'],
    ]);
    breaker.close();
  });

  it('a failed probe opens it again for another reset time; an abandoned probe lets the next request probe', () => {
    vi.useFakeTimers();
    const breaker = new CircuitBreaker({ failures: 1, resetMs: 100 });
    breaker.failure(0, false, 'x');
    vi.advanceTimersByTime(100);
    expect(breaker.acquire(100)).toEqual({ ok: true, probe: true });
    breaker.abandonProbe();
    expect(breaker.acquire(101)).toEqual({ ok: true, probe: true });
    breaker.failure(150, true, 'UPSTREAM_EXITED');
    expect(breaker.state).toBe('open');
    expect(breaker.acquire(200)).toMatchObject({ ok: false, retryAfterMs: 50 });
    vi.advanceTimersByTime(100);
    expect(breaker.state).toBe('half-open');
    breaker.close();
  });

  it('opens on the error rate over the window once it holds enough requests, not before', () => {
    const breaker = new CircuitBreaker({ failures: 100, errorRate: 0.5, windowMs: 10_000, minRequests: 10 });
    // Alternate: never 100 in a row, but half of them fail.
    for (let i = 0; i < 9; i++) {
      if (i % 2 === 0) breaker.failure(i * 10, false, 'x');
      else breaker.success(i * 10, false);
    }
    expect(breaker.state).toBe('closed');
    breaker.failure(100, false, 'UPSTREAM_HTTP_ERROR');
    expect(breaker.state).toBe('open');
    breaker.close();
  });

  it('forgets failures that left the window', () => {
    const breaker = new CircuitBreaker({ failures: 100, errorRate: 0.5, windowMs: 1000, minRequests: 4 });
    breaker.failure(0, false, 'x');
    breaker.failure(1, false, 'x');
    breaker.failure(2, false, 'x');
    // Long after: the old failures are out of the window; 1 failure in 4 is 25 %.
    for (let i = 0; i < 3; i++) breaker.success(5000 + i, false);
    breaker.failure(5010, false, 'x');
    expect(breaker.state).toBe('closed');
    breaker.close();
  });

  it('recovered(): a restarted upstream closes an open breaker at once and resets the consecutive count', () => {
    vi.useFakeTimers();
    const moves: BreakerState[] = [];
    const breaker = new CircuitBreaker({
      failures: 2,
      resetMs: 30_000,
      onTransition: (to) => moves.push(to),
    });
    breaker.failure(0, false, 'UPSTREAM_EXITED');
    breaker.recovered(1, 'restarted');
    breaker.failure(2, false, 'UPSTREAM_EXITED');
    expect(breaker.state).toBe('closed');
    breaker.failure(3, false, 'UPSTREAM_EXITED');
    expect(breaker.state).toBe('open');
    breaker.recovered(4, 'restarted');
    expect(breaker.state).toBe('closed');
    expect(breaker.acquire(5)).toEqual({ ok: true, probe: false });
    // The reset timer of the open state was cleared: no half-open later.
    vi.advanceTimersByTime(30_000);
    expect(moves).toEqual(['open', 'closed']);
    breaker.close();
  });
});
