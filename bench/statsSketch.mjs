#!/usr/bin/env node
// node bench/statsSketch.mjs (after npm run build)
//
// The stats windows' latency percentiles (src/observe/stats.ts): what recording one call costs, what a
// summary of the hour costs, the memory one target holds after an hour of traffic, and how far p50, p95 and
// p99 are from the exact figures, for two latency mixes: one tool (lognormal around 200 ms) and a whole
// proxy (log-uniform from 50 µs to 10 s: pings, lists, slow tools together). Each mix runs in a process of
// its own, memory first: freed typed arrays leave the figures late, so nothing big comes before.
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { BUCKET_MS, BUCKETS, StatsSeries } from '../dist/observe/stats.js';

/** A small deterministic PRNG (mulberry32), so every run measures the same calls. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MIXES = {
  'one tool (lognormal, median 200 ms)': (r) => {
    const z = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    return 200 * Math.exp(0.5 * z);
  },
  'whole proxy (log-uniform 50 µs to 10 s)': (r) => 0.05 * Math.exp(r() * Math.log(10_000 / 0.05)),
};

const START = 1_800_000_000_000;
/** Heap and typed-array memory (the windows' counters are typed arrays, outside the heap). */
function used() {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
const exact = (sorted, q) => sorted[Math.floor(q * (sorted.length - 1))];

/** Memory of one target: after an hour of a call every 100 ms (50 targets), and with a single call (1,000). */
function memory(draw) {
  // Memory: 50 targets, each with a call every 100 ms for the hour (36,000 calls, 100 per bucket).
  const before = used();
  const targets = [];
  for (let t = 0; t < 50; t++) {
    const one = new StatsSeries();
    const rr = rng(100 + t);
    for (let i = 0; i < BUCKETS * 100; i++) one.record(START + i * 100, draw(rr), false);
    targets.push(one);
  }
  const perTargetKb = (used() - before) / targets.length / 1024;
  const idle = [];
  const beforeIdle = used();
  for (let t = 0; t < 1000; t++) {
    const one = new StatsSeries();
    one.record(START, 10, false);
    idle.push(one);
  }
  const idleKb = (used() - beforeIdle) / idle.length / 1024;

  if (targets.length + idle.length === 0) throw new Error('unreachable');
  return { perTargetKb, idleKb };
}

function measure(name, draw) {
  const { perTargetKb, idleKb } = memory(draw);
  // Recording cost: 2,000,000 calls over one simulated hour (about 5,500 per 10 s bucket).
  const n = 2_000_000;
  const r = rng(7);
  const latencies = Float64Array.from({ length: n }, () => draw(r));
  const span = BUCKETS * BUCKET_MS;
  let best = Infinity;
  let series;
  for (let round = 0; round < 3; round++) {
    series = new StatsSeries();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) series.record(START + (i * span) / n, latencies[i], i % 13 === 0);
    best = Math.min(best, ((performance.now() - t0) * 1e6) / n);
  }
  const now = START + span - 1;
  // A summary of the whole hour (what /stats computes per target, with the 1m and 5m windows).
  const reps = 200;
  let s;
  for (let i = 0; i < 20; i++) s = series.summary(now, span);
  const t1 = performance.now();
  for (let i = 0; i < reps; i++) s = series.summary(now, span);
  const summaryUs = ((performance.now() - t1) * 1000) / reps;
  const sorted = Float64Array.from(latencies).sort();
  const error = (q, got) => Math.abs(got - exact(sorted, q)) / exact(sorted, q);
  const errors = [error(0.5, s.p50Ms), error(0.95, s.p95Ms), error(0.99, s.p99Ms)];

  console.log(`${name}:`);
  console.log(`  record: ${best.toFixed(0)} ns per call (best of 3 rounds of ${n.toLocaleString()})`);
  console.log(`  summary of the hour: ${summaryUs.toFixed(0)} µs`);
  console.log(
    `  p50 ${s.p50Ms} ms (exact ${exact(sorted, 0.5).toFixed(3)}), p95 ${s.p95Ms} (exact ${exact(sorted, 0.95).toFixed(3)}), ` +
      `p99 ${s.p99Ms} (exact ${exact(sorted, 0.99).toFixed(3)}); largest relative error ${(Math.max(...errors) * 100).toFixed(2)} %`,
  );
  console.log(
    `  memory: ${perTargetKb.toFixed(0)} KB per target after an hour of a call every 100 ms; ` +
      `${idleKb.toFixed(1)} KB per target with one call`,
  );
}

const mix = process.argv[2];
if (mix !== undefined) measure(mix, MIXES[mix]);
else {
  for (const name of Object.keys(MIXES)) {
    const args = ['--expose-gc', fileURLToPath(import.meta.url), name];
    process.stdout.write(execFileSync(process.execPath, args, { encoding: 'utf8' }));
  }
}
