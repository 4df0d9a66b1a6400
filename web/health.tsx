/**
 * The Health view: the stats API's figures for the whole proxy, the upstream and each tool (worst first):
 * health score, p50/p95, error rate, their trends, and small charts of the last hour, minute by minute.
 * The charts are inline SVG drawn here: no chart library.
 */
import { useEffect, useState } from 'preact/hooks';
import { getJson, targetStats } from './api.js';
import type { TargetStats, Trend } from './types.js';

/** How often the figures are read again (ms). */
const REFRESH_MS = 5_000;
/** Tools shown, the least healthy first. */
const MAX_TOOLS = 20;

const W = 120;
const H = 28;

/**
 * A line through `values` (oldest first), scaled to the largest one (or `max`); a step without a value
 * (no calls) breaks the line. Its title says the latest value.
 */
export function Sparkline(props: {
  values: ReadonlyArray<number | null>;
  label: string;
  max?: number;
  format?: (v: number) => string;
  second?: ReadonlyArray<number | null>;
}): preact.JSX.Element {
  const all = [...props.values, ...(props.second ?? [])].filter((v): v is number => v !== null);
  const max = props.max ?? Math.max(1e-9, ...all);
  const n = props.values.length;
  const lines = (values: ReadonlyArray<number | null>): string[] => {
    const runs: Array<Array<[number, number]>> = [];
    let run: Array<[number, number]> = [];
    values.forEach((v, i) => {
      if (v === null) {
        if (run.length > 0) runs.push(run);
        run = [];
        return;
      }
      run.push([n <= 1 ? 0 : (i / (n - 1)) * W, H - 1 - (Math.min(v, max) / max) * (H - 2)]);
    });
    if (run.length > 0) runs.push(run);
    return runs.map((r) => {
      // A lone point draws nothing as a polyline: it becomes a short dash.
      const [x0, y0] = r[0] as [number, number];
      const points: Array<[number, number]> =
        r.length === 1
          ? [
              [x0, y0],
              [x0 + 2, y0],
            ]
          : r;
      return points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
    });
  };
  const latest = [...props.values].reverse().find((v) => v !== null);
  const format = props.format ?? ((v: number) => String(v));
  return (
    <svg
      class="spark"
      width={W}
      height={H}
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={`${props.label}: ${latest === undefined || latest === null ? 'no data' : format(latest)}`}
    >
      <title>{`${props.label}, last hour`}</title>
      {props.second &&
        lines(props.second).map((p, i) => <polyline key={`b${i}`} class="second" points={p} />)}
      {lines(props.values).map((p, i) => (
        <polyline key={i} points={p} />
      ))}
    </svg>
  );
}

const ms = (v: number | null): string =>
  v === null ? '–' : v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
const pct = (v: number): string => `${(v * 100).toFixed(v > 0 && v < 0.1 ? 1 : 0)} %`;

function TrendMark(props: { name: string; trend: Trend }): preact.JSX.Element {
  const d = props.trend.direction;
  return (
    <span
      class={`trend ${d}`}
      title={`${props.name} ${d} (change ${props.trend.change}, confidence ${props.trend.confidence})`}
    >
      {props.name} {d === 'rising' ? '↗' : d === 'falling' ? '↘' : '→'}
    </span>
  );
}

function Card(props: { kind: string; stats: TargetStats }): preact.JSX.Element {
  const s = props.stats;
  const w = s.windows['5m'];
  const series = s.series;
  const grade = s.health >= 90 ? 'good' : s.health >= 70 ? 'fair' : 'bad';
  const name = s.name ?? 'proxy';
  return (
    <div class="card" data-target={`${props.kind}:${name}`}>
      <h3>
        <span class="muted">{props.kind}</span> {name}
      </h3>
      <p class="figures">
        <span class={`health ${grade}`} title="health score 0–100 (docs/stats.md)">
          {s.health}
        </span>
        <span>
          p50 <b class="p50">{ms(w.p50Ms)}</b>
        </span>
        <span>
          p95 <b class="p95">{ms(w.p95Ms)}</b>
        </span>
        <span>
          errors <b class="error-rate">{pct(w.errorRate)}</b>
        </span>
        <span>
          calls <b class="calls">{w.calls}</b> <span class="muted">(5 min)</span>
        </span>
      </p>
      <p class="trends">
        <TrendMark name="latency" trend={s.trends.latency} />
        <TrendMark name="errors" trend={s.trends.errorRate} />
        <TrendMark name="traffic" trend={s.trends.traffic} />
      </p>
      {series && (
        <p class="charts">
          <label>
            health <Sparkline label="health" values={series.health} max={100} />
          </label>
          <label>
            p95 / p50 <Sparkline label="p95" values={series.p95Ms} second={series.p50Ms} format={ms} />
          </label>
          <label>
            error rate <Sparkline label="error rate" values={series.errorRate} max={1} format={pct} />
          </label>
          <label>
            calls <Sparkline label="calls" values={series.calls} />
          </label>
        </p>
      )}
    </div>
  );
}

interface Figures {
  proxy: TargetStats;
  upstreams: TargetStats[];
  tools: TargetStats[];
}

async function readFigures(): Promise<Figures> {
  const list = async (path: string): Promise<TargetStats[]> => {
    const page = await getJson<{ items: Array<{ name: string }> }>(path);
    const base = path.slice(0, path.indexOf('?'));
    return Promise.all(page.items.map((i) => targetStats(`${base}/${encodeURIComponent(i.name)}`)));
  };
  const [proxy, upstreams, tools] = await Promise.all([
    targetStats('/stats'),
    list('/stats/upstreams?limit=10'),
    list(`/stats/tools?limit=${MAX_TOOLS}&sort=health`),
  ]);
  return { proxy, upstreams, tools };
}

export function HealthView(): preact.JSX.Element {
  const [figures, setFigures] = useState<Figures | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = (): void => {
      readFigures().then(
        (f) => {
          if (stopped) return;
          setFigures(f);
          setProblem(undefined);
        },
        (err: Error) => !stopped && setProblem(err.message),
      );
      timer = setTimeout(load, REFRESH_MS);
    };
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  return (
    <section class="health-view" aria-label="Health">
      <h2>Health</h2>
      <p class="muted">
        The stats API's figures (5-minute window), trends, and the last hour minute by minute; read every{' '}
        {REFRESH_MS / 1000} s.
      </p>
      {problem && <p class="problem">{problem}</p>}
      {figures === undefined ? (
        !problem && <p class="empty">Loading…</p>
      ) : (
        <div class="cards">
          <Card kind="proxy" stats={figures.proxy} />
          {figures.upstreams.map((u) => (
            <Card key={u.name} kind="upstream" stats={u} />
          ))}
          {figures.tools.map((t) => (
            <Card key={t.name} kind="tool" stats={t} />
          ))}
          {figures.tools.length === 0 && <p class="empty">No tool has been called yet.</p>}
        </div>
      )}
    </section>
  );
}
