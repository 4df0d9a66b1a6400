#!/usr/bin/env node
// node bench/stageCost.mjs (after npm run build); also a scenario of `npm run bench`.
//
// What one call costs inside mcpscope, stage by stage, in-process: a Session and Pipeline as createProxy
// builds them for `forward stdio`, between two transports that only count what they are given, and a
// `tools/call` request and its answer parsed from their bytes (as the stdio wire does) and sent through,
// over and over. CPU ns per call (request + answer), the median of several alternating rounds. No pipes,
// processes or event loop: this is mcpscope's own work per message, hot in the caches, so a stage whose cost
// per message grows shows here whatever the machine's noise (the paths' p50s are far noisier). The real
// cost per call is higher (cold caches between messages, system calls): see the `CPU µs` column.
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The stage sets measured, each alone on top of the bare path, then all of them as `forward stdio` runs. */
const SETS = ['none', 'circuit breaker', 'metrics', 'stats', 'feed', 'forward stdio defaults'];

export async function stageCost({ calls = 100_000, rounds = 5 } = {}) {
  const dist = `${ROOT}dist/`;
  const { parseFrame } = await import(`${dist}jsonrpc/framing.js`);
  const { Pipeline } = await import(`${dist}pipeline/pipeline.js`);
  const { Session } = await import(`${dist}session/session.js`);
  const { Metrics } = await import(`${dist}observe/metrics.js`);
  const { MetricsStage } = await import(`${dist}observe/metricsStage.js`);
  const { StatsCollector } = await import(`${dist}observe/statsCollector.js`);
  const { Feed } = await import(`${dist}admin/feed.js`);
  const { Redactor } = await import(`${dist}tape/redact.js`);
  const { BreakerStage } = await import(`${dist}stages/breakerStage.js`);
  const { silentLogger } = await import(`${dist}log.js`);
  const logger = silentLogger();
  const metrics = new Metrics();
  // In buildStages() order: transformers (the breaker), then observers (metrics, stats, feed).
  const make = {
    none: () => [],
    'circuit breaker': () => [new BreakerStage('bench', {}, null, logger)],
    metrics: () => [new MetricsStage(metrics, 'bench')],
    stats: () => [new StatsCollector('bench')],
    feed: () => [new Feed({}, new Redactor(undefined))],
    'forward stdio defaults': () => [
      new BreakerStage('bench', {}, metrics, logger),
      new MetricsStage(metrics, 'bench'),
      new StatsCollector('bench'),
      new Feed({}, new Redactor(undefined)),
    ],
  };
  const counting = () => ({
    kind: 'stdio',
    sent: 0,
    start: async () => {},
    send() {},
    close: async () => {},
  });
  const message = 'x'.repeat(100);
  const request = (id) =>
    Buffer.from(
      `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"message":"${message}"}}}`,
    );
  const answer = (id) =>
    Buffer.from(`{"result":{"content":[{"type":"text","text":"${message}"}]},"jsonrpc":"2.0","id":${id}}`);

  const sessions = {};
  for (const name of SETS) {
    const inbound = counting();
    const outbound = counting();
    const pipeline = new Pipeline(make[name](), logger);
    const session = new Session({ id: name, inbound, outbound, pipeline, logger, upstream: 'bench' });
    await session.start();
    let id = 0;
    sessions[name] = (n) => {
      for (let i = 0; i < n; i++) {
        id++;
        inbound.onmessage(parseFrame(request(id), 1 << 22));
        outbound.onmessage(parseFrame(answer(id), 1 << 22));
      }
    };
    sessions[name](calls / 5); // warm up
  }
  const samples = Object.fromEntries(SETS.map((s) => [s, []]));
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 === 0 ? SETS : [...SETS].reverse()) {
      const t0 = process.cpuUsage();
      sessions[name](calls);
      const used = process.cpuUsage(t0);
      samples[name].push(((used.user + used.system) * 1000) / calls);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const none = median(samples.none);
  return SETS.map((name) => {
    const ns = median(samples[name]);
    return { stages: name, nsPerCall: ns, addedNs: name === 'none' ? 0 : ns - none };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const row of await stageCost()) {
    process.stdout.write(
      `${row.stages.padEnd(24)} ${Math.round(row.nsPerCall).toLocaleString('en-US').padStart(7)} ns per call` +
        (row.stages === 'none'
          ? ' (parse both messages, pair them, run the pipeline)\n'
          : ` (+${Math.round(row.addedNs).toLocaleString('en-US')})\n`),
    );
  }
}
