import {
  Counter,
  Histogram,
  Registry,
  type ObserveDataWithExemplar,
  type OpenMetricsContentType,
  type RegistryContentType,
} from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BoundCounter, BoundHistogram, type BoundHistogramChild } from '../../src/observe/boundMetrics.js';
import { expositionFormat } from '../../src/observe/exposition.js';

/** The same operations on a stock prom-client metric and on a bound one, each in a registry of its own. */
function pair<M>(make: (registry: Registry, Kind: 'stock' | 'bound') => M): [Registry, M, Registry, M] {
  const stock = new Registry();
  const bound = new Registry();
  return [stock, make(stock, 'stock'), bound, make(bound, 'bound')];
}

describe('bound metric children (prom-client exposition, byte for byte)', () => {
  it('counters: series appear on first increment, labels by position or by object, reset starts over', async () => {
    const [stockReg, stock, boundReg, bound] = pair((registry, kind) => {
      const config = {
        name: 'calls_total',
        help: 'h',
        labelNames: ['method', 'status'],
        registers: [registry],
      };
      return kind === 'stock' ? new Counter(config) : new BoundCounter(config);
    });
    // A child made but never used shows nothing, as with prom-client.
    stock.labels('tools/list', 'ok');
    bound.labels('tools/list', 'ok');
    expect(await boundReg.metrics()).toBe(await stockReg.metrics());
    for (const m of [stock, bound]) {
      m.labels('tools/call', 'ok').inc();
      m.labels('tools/call', 'ok').inc(2);
      m.labels({ method: 'ping', status: 'timeout' }).inc();
      m.inc({ method: 'ping', status: 'timeout' }, 4);
    }
    expect(await boundReg.metrics()).toBe(await stockReg.metrics());
    expect(await boundReg.metrics()).toContain('calls_total{method="ping",status="timeout"} 5');
    const child = bound.labels('tools/call', 'ok');
    stock.reset();
    bound.reset();
    stock.labels('tools/call', 'ok').inc();
    child.inc();
    expect(await boundReg.metrics()).toBe(await stockReg.metrics());
    expect(() => child.inc(-1)).toThrow(TypeError);
    expect(() => child.inc(Number.NaN)).toThrow(TypeError);
  });

  it('histograms: buckets, +Inf, sum and count; children bound once are the same object', async () => {
    const [stockReg, stock, boundReg, bound] = pair((registry, kind) => {
      const config = {
        name: 'duration_seconds',
        help: 'h',
        labelNames: ['method'],
        buckets: [0.0001, 0.00025, 0.001, 0.5],
        registers: [registry],
      };
      return kind === 'stock' ? new Histogram(config) : new BoundHistogram(config);
    });
    expect(bound.labels('a')).toBe(bound.labels('a'));
    for (const m of [stock, bound]) {
      for (const v of [0.00005, 0.0001, 0.0002, 0.3, 7, 0]) m.labels('a').observe(v);
      m.labels('b').observe(0.001);
      m.observe({ method: 'b' }, 0.0009);
    }
    expect(await boundReg.metrics()).toBe(await stockReg.metrics());
    expect(await boundReg.metrics()).toContain('duration_seconds_bucket{le="+Inf",method="a"} 6');
    stock.reset();
    bound.reset();
    stock.labels('a').observe(0.2);
    bound.labels('a').observe(0.2);
    expect(await boundReg.metrics()).toBe(await stockReg.metrics());
    expect(() => bound.labels('a').observe(Number.NaN)).toThrow(TypeError);
    expect(() => bound.labels('a', 'extra')).toThrow(/Invalid number of arguments/);
  });

  it('histograms without labels: labels() is the one series, shown at zero before any observation', async () => {
    const [stockReg, stock, boundReg, bound] = pair((registry, kind) => {
      const config = { name: 'parse_seconds', help: 'h', buckets: [0.001, 0.01], registers: [registry] };
      return kind === 'stock' ? new Histogram(config) : new BoundHistogram(config);
    });
    expect(await boundReg.metrics()).toBe(await stockReg.metrics());
    stock.observe(0.005);
    bound.labels().observe(0.005);
    // The timer observes the seconds it returns: the stock histogram is given the same value.
    const stop = (bound.labels() as unknown as BoundHistogramChild).startTimer();
    stock.observe(stop());
    expect(await boundReg.metrics()).toContain('parse_seconds_count 2');
    expect(await boundReg.metrics()).toBe(await stockReg.metrics());
  });

  it('exemplars: an OpenMetrics exposition shows the latest trace per bucket, as a stock histogram with enableExemplars does', async () => {
    const openMetrics = Registry.OPENMETRICS_CONTENT_TYPE;
    const stockReg = new Registry<OpenMetricsContentType>();
    stockReg.setContentType(openMetrics);
    const stock = new Histogram({
      name: 'call_seconds',
      help: 'h',
      labelNames: ['tool'],
      buckets: [0.01, 0.1],
      enableExemplars: true,
      registers: [stockReg],
    });
    const boundReg = new Registry<RegistryContentType>();
    boundReg.setContentType(openMetrics);
    const bound = new BoundHistogram({
      name: 'call_seconds',
      help: 'h',
      labelNames: ['tool'],
      buckets: [0.01, 0.1],
      exemplars: true,
      registers: [boundReg],
    });
    const child = bound.child('echo');
    const seen: Array<[number, string | undefined]> = [
      [0.005, 'a'.repeat(32)],
      [0.05, 'b'.repeat(32)],
      [0.006, 'c'.repeat(32)],
      [3, 'd'.repeat(32)],
      [0.007, undefined],
    ];
    for (const [value, traceId] of seen) {
      child.observe(value, traceId);
      // prom-client's typings lack the form that enableExemplars gives observe().
      (stock.observe as unknown as (data: ObserveDataWithExemplar<string>) => void).call(stock, {
        labels: { tool: 'echo' },
        value,
        exemplarLabels: traceId === undefined ? {} : { trace_id: traceId },
      });
    }
    // The timestamps differ by the milliseconds between the two observations: compare without them.
    const untimed = (text: string) =>
      text.replace(/ \d+(\.\d+)?$/gm, (m, _f, offset, all: string) => {
        const line = all.slice(all.lastIndexOf('\n', offset) + 1, offset);
        return line.includes(' # {') ? '' : m;
      });
    const text = await boundReg.metrics();
    expect(untimed(text)).toBe(untimed(await stockReg.metrics()));
    expect(text).toMatch(
      new RegExp(
        `call_seconds_bucket\\{le="0.01",tool="echo"\\} 3 # \\{trace_id="${'c'.repeat(32)}"\\} 0.006 \\d`,
      ),
    );
    expect(text).toMatch(
      new RegExp(
        `call_seconds_bucket\\{le="\\+Inf",tool="echo"\\} 5 # \\{trace_id="${'d'.repeat(32)}"\\} 3 \\d`,
      ),
    );
    // The text format never shows them.
    boundReg.setContentType(Registry.PROMETHEUS_CONTENT_TYPE);
    expect(await boundReg.metrics()).not.toContain('trace_id');
  });

  it('the scraper chooses the format: OpenMetrics when its Accept header prefers it', () => {
    expect(expositionFormat(undefined)).toBe('prometheus');
    expect(expositionFormat('*/*')).toBe('prometheus');
    expect(expositionFormat('text/plain;version=0.0.4')).toBe('prometheus');
    // What Prometheus 2.x sends.
    expect(
      expositionFormat(
        'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      ),
    ).toBe('openmetrics');
    expect(expositionFormat('application/openmetrics-text;q=0.2, text/plain')).toBe('prometheus');
    expect(expositionFormat('application/openmetrics-text;q=0')).toBe('prometheus');
  });
});
