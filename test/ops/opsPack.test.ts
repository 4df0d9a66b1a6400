import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { connectHttp, type RunningCli } from '../helpers.js';
import {
  PROMTOOL,
  prometheusMissing,
  startObservedProxy,
  type ObservedProxy,
  type RunningPrometheus,
} from '../prometheus.js';

const file = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const run = promisify(execFile);
const missing = prometheusMissing();

interface Panel {
  title: string;
  targets: Array<{ expr: string; exemplar?: boolean }>;
}
interface Dashboard {
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
  panels: Panel[];
}
const dashboard = JSON.parse(readFileSync(file('ops/grafana-dashboard.json'), 'utf8')) as Dashboard;
const alertsText = readFileSync(file('ops/prometheus-alerts.yaml'), 'utf8');
const runbooks = readFileSync(file('docs/runbooks.md'), 'utf8');

/** The mcpscope metric families a PromQL expression reads (histogram series folded into their family). */
function metricsIn(expr: string): string[] {
  const names = expr.match(/mcpscope_[a-z0-9_]+/g) ?? [];
  return [...new Set(names.map((n) => n.replace(/_(bucket|count|sum)$/, '')))];
}

/** Grafana's variables, as a Prometheus query can take them. */
const concrete = (expr: string) =>
  expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '5m')
    .replaceAll('$tool', '.*')
    .replaceAll('$upstream', '.*');

describe.skipIf(missing)('ops pack: dashboard and alert rules against a real mcpscope and Prometheus', () => {
  let proxy: RunningCli;
  let admin: string;
  let prom: RunningPrometheus;
  let families: Set<string>;
  let observed: ObservedProxy;
  beforeAll(async () => {
    observed = await startObservedProxy();
    ({ proxy, admin, prom } = observed);
    const c = await connectHttp(proxy.url);
    await c.client.callTool({ name: 'echo', arguments: { message: 'm' } });
    await c.client.callTool({ name: 'fail', arguments: {} });
    await c.transport.terminateSession();
    await c.client.close();
    const text = await (await fetch(`${admin}/metrics`)).text();
    families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
    await prom.scrapedAfter();
  });
  afterAll(async () => {
    await observed?.stop();
  });

  it('latency panels show exemplars, and the shipped data source links their trace_id to the trace store', () => {
    const latency = dashboard.panels.flatMap((p) =>
      p.targets.filter((t) => /duration_seconds_bucket/.test(t.expr)),
    );
    expect(latency.length).toBeGreaterThan(0);
    expect(latency.every((t) => t.exemplar === true)).toBe(true);
    const provisioning = parseYaml(readFileSync(file('ops/grafana-datasource.yaml'), 'utf8')) as {
      datasources: Array<{ type: string; uid: string; jsonData?: { exemplarTraceIdDestinations?: unknown } }>;
    };
    const prometheus = provisioning.datasources.find((d) => d.type === 'prometheus');
    const tempo = provisioning.datasources.find((d) => d.type === 'tempo');
    // The label mcpscope's exemplars carry (src/observe/boundMetrics.ts), to the trace data source.
    expect(prometheus?.jsonData?.exemplarTraceIdDestinations).toEqual([
      { name: 'trace_id', datasourceUid: tempo?.uid },
    ]);
  });

  it('the dashboard has the datasource, upstream and tool variables', () => {
    const vars = dashboard.templating.list.map((v) => `${v.name}:${v.type}`);
    expect(vars).toEqual(['datasource:datasource', 'upstream:query', 'tool:query']);
  });

  it('every metric the dashboard queries exists in /metrics, and every query is valid PromQL', async () => {
    const exprs = [
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
      ...dashboard.templating.list.flatMap((v) => (typeof v.query === 'object' ? [v.query.query] : [])),
    ];
    expect(exprs.length).toBeGreaterThan(20);
    for (const expr of exprs) {
      for (const name of metricsIn(expr)) expect(families, `${name} in: ${expr}`).toContain(name);
      if (expr.startsWith('label_values')) continue;
      await expect(prom.query(concrete(expr)), expr).resolves.toBeDefined();
    }
    // And the series the panels read hold the scripted session.
    expect(await prom.value('sum(mcpscope_requests_total)')).toBeGreaterThanOrEqual(3); // initialize, echo, fail
    expect(await prom.value('count(mcpscope_tool_calls_total{tool="fail",status="error"})')).toBe(1);
  });

  it('every metric the alert rules read exists in /metrics', () => {
    const names = metricsIn(alertsText);
    expect(names.length).toBeGreaterThan(8);
    for (const name of names) expect(families, name).toContain(name);
  });

  it('every alert has a runbook section', () => {
    const anchors = [...alertsText.matchAll(/runbook_url: docs\/runbooks\.md#(\S+)/g)].map(
      (m) => m[1] as string,
    );
    const alerts = [...alertsText.matchAll(/- alert: (\S+)/g)].map((m) => m[1] as string);
    expect(anchors).toHaveLength(alerts.length);
    for (const alert of alerts) {
      expect(anchors).toContain(alert.toLowerCase());
      expect(runbooks).toContain(`## ${alert}`);
    }
  });

  it('promtool accepts the rules and their unit tests pass', async () => {
    const check = await run(PROMTOOL as string, ['check', 'rules', file('ops/prometheus-alerts.yaml')]);
    const rules = [...alertsText.matchAll(/- alert: (\S+)/g)].length;
    expect(rules).toBeGreaterThanOrEqual(10);
    expect(check.stdout).toContain(`SUCCESS: ${rules} rules found`);
    const test = await run(PROMTOOL as string, ['test', 'rules', file('ops/tests/alerts.test.yaml')]);
    expect(test.stdout).toMatch(/SUCCESS/);
  });
});
