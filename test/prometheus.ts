import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE, adminUrlFrom, startHttpProxy, type RunningCli } from './helpers.js';

/** Debian's prometheus package (installed by .ci/run): the real parser of our /metrics output. */
export const PROMETHEUS = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((p) => existsSync(p));
export const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

/** Why a Prometheus-backed test cannot run here, or undefined. In CI the tools must be there. */
export function prometheusMissing(): string | undefined {
  if (PROMETHEUS && PROMTOOL) return undefined;
  const reason = 'Prometheus is not installed (apt-get install prometheus)';
  if (process.env.CI) throw new Error(`${reason}; .ci/run must install it`);
  return reason;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface RunningPrometheus {
  /** Run an instant PromQL query. */
  query(promql: string): Promise<Sample[]>;
  /** The single value of a query; throws when it has no result (0 and absent are not the same). */
  value(promql: string): Promise<number>;
  /**
   * The single value of a query, or 0 when it has no result: only where "never happened" may read either
   * way (a labelled counter has no series until its first increment).
   */
  valueOr0(promql: string): Promise<number>;
  /** Resolve once every target has been scraped after this moment. */
  scrapedAfter(when?: number): Promise<void>;
  /** The exemplars Prometheus stored for a series selector (needs `exemplars: true`), over the last hour. */
  exemplars(selector: string): Promise<Exemplar[]>;
  stop(): Promise<void>;
}

export interface Exemplar {
  /** The series' labels (with `le` for a histogram bucket). */
  series: Record<string, string>;
  labels: Record<string, string>;
  value: number;
}

/** A real Prometheus server on loopback scraping `targets` (base URLs of admin servers) every 500 ms. */
export async function startPrometheus(
  targets: string[],
  metricsPath = '/metrics',
  options: { exemplars?: boolean } = {},
): Promise<RunningPrometheus> {
  if (!PROMETHEUS) throw new Error('prometheus is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'mcpscope-prom-'));
  const config = join(dir, 'prometheus.yml');
  const hosts = targets.map((t) => new URL(t).host);
  writeFileSync(
    config,
    [
      'global:',
      // Short enough for quick tests, long enough for a big /metrics on a loaded 2-core machine.
      '  scrape_interval: 500ms',
      '  scrape_timeout: 500ms',
      'scrape_configs:',
      '  - job_name: mcpscope',
      `    metrics_path: ${metricsPath}`,
      '    static_configs:',
      `      - targets: [${hosts.map((h) => `'${h}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      // Exemplar storage (a feature flag in Prometheus 2.x): it then scrapes OpenMetrics and keeps them.
      ...(options.exemplars ? ['--enable-feature=exemplar-storage'] : []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  proc.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 100 || proc.exitCode !== null) throw new Error(`prometheus did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  const query = async (promql: string): Promise<Sample[]> => {
    const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };

  const single = async (promql: string): Promise<number | undefined> => {
    const result = await query(promql);
    if (result.length > 1) throw new Error(`${promql} has ${result.length} series, expected one`);
    return result[0]?.value;
  };

  return {
    query,
    value: async (promql) => {
      const value = await single(promql);
      if (value === undefined) {
        const name = /\bmcpscope_[a-zA-Z0-9_:]*/.exec(promql)?.[0];
        const series = name ? await query(`{__name__="${name}"}`) : [];
        throw new Error(
          `${promql} has no series (use valueOr0 only if absent means zero); ` +
            (series.length > 0
              ? `${name} has: ${series.map((s) => JSON.stringify(s.metric)).join(', ')}`
              : `no series of ${name ?? 'that query'} at all`),
        );
      }
      return value;
    },
    valueOr0: async (promql) => (await single(promql)) ?? 0,
    scrapedAfter: async (when = Date.now()) => {
      // Wait for a successful scrape of every target that started after `when`; a failed one (up == 0) is
      // retried at the next interval, and reported only if no good scrape comes in time.
      // (timestamp() must take `up` itself: after an operator, samples carry the evaluation time.)
      for (let i = 0; i < 300; i++) {
        const [stamps, ups] = await Promise.all([query('timestamp(up)'), query('up')]);
        const fresh = stamps.length === hosts.length && stamps.every((s) => s.value * 1000 > when);
        if (fresh && ups.every((s) => s.value === 1)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      const up = await query('up');
      throw new Error(
        `no good scrape after ${new Date(when).toISOString()}: up=${JSON.stringify(up)}\n${log}`,
      );
    },
    exemplars: async (selector) => {
      const end = Date.now() / 1000;
      const res = await fetch(
        `${base}/api/v1/query_exemplars?query=${encodeURIComponent(selector)}&start=${end - 3600}&end=${end + 60}`,
      );
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data: Array<{
          seriesLabels: Record<string, string>;
          exemplars: Array<{ labels: Record<string, string>; value: string }>;
        }>;
      };
      if (body.status !== 'success') throw new Error(`exemplars of ${selector} failed: ${body.error}`);
      return body.data.flatMap((d) =>
        d.exemplars.map((e) => ({ series: d.seriesLabels, labels: e.labels, value: Number(e.value) })),
      );
    },
    stop: async () => {
      // Its data is a throwaway temp dir: no need to wait for a graceful TSDB shutdown.
      proc.kill('SIGKILL');
      if (proc.exitCode === null) await new Promise((r) => proc.once('exit', r));
    },
  };
}

export interface ObservedProxy {
  proxy: RunningCli;
  /** The admin server's base URL. */
  admin: string;
  prom: RunningPrometheus;
  stop(): Promise<void>;
}

/** `forward http` in front of the example server, with its admin server scraped by a real Prometheus. */
export async function startObservedProxy(args: string[] = []): Promise<ObservedProxy> {
  const proxy = await startHttpProxy(['--admin-port', '0', ...args, '--', process.execPath, EXAMPLE]);
  const admin = await adminUrlFrom(proxy.stderr);
  const prom = await startPrometheus([admin]);
  return {
    proxy,
    admin,
    prom,
    stop: async () => {
      await prom.stop();
      await proxy.stop();
    },
  };
}
