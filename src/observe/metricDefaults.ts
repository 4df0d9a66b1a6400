// The metrics' defaults, apart from the metrics themselves: the settings table reads them without loading
// prom-client (src/observe/metrics.ts re-exports them).

/** Latency buckets in seconds: 100 µs to 60 s. */
export const DEFAULT_LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
export const DEFAULT_CARDINALITY_LIMIT = 10_000;
export const DEFAULT_METRIC_PREFIX = 'mcpscope_';
