import { EVENT_LOOP_RESOLUTION_MS, EVENT_LOOP_WINDOW_MS, eventLoopDelay } from '../observe/eventLoop.js';
import { z } from 'zod';
import {
  FOLD_BUCKETS,
  classifyTrend,
  healthScore,
  type HealthInputs,
  type StatsSeries,
  type Trend,
  type WindowSummary,
} from '../observe/stats.js';
import type { StatsCollector } from '../observe/statsCollector.js';
import type { BreakerState } from '../resilience/circuitBreaker.js';
import type { SessionManager } from '../session/sessionManager.js';

/** Answers are computed at most once a second per URL. */
export const STATS_CACHE_MS = 1_000;
/** Buckets used for trends (5 minutes at the default 10-second buckets). */
export const TREND_BUCKETS = 30;
const CACHE_MAX_ENTRIES = 200;

export interface StatsAnswer {
  status: number;
  body: unknown;
}

interface TargetStats {
  windows: { '1m': WindowSummary; '5m': WindowSummary; '1h': WindowSummary };
  health: number;
  trends: { latency: Trend; errorRate: Trend; traffic: Trend };
  series?: Record<string, unknown>;
}

type Row = Record<string, string | number | null> & { name?: string; id?: string };

export interface StatsApiOptions {
  /** The upstream's circuit breaker state (undefined: it has none); its share of every health score. */
  breakerState?: () => BreakerState | undefined;
}

const BREAKER_HEALTH: Readonly<Record<BreakerState, HealthInputs['breaker']>> = {
  closed: 'closed',
  open: 'open',
  'half-open': 'half_open',
};

const LIST_FIELDS = {
  tools: ['name', 'health', 'calls', 'errorRate', 'p95Ms'],
  upstreams: ['name', 'health', 'calls', 'errorRate', 'p95Ms'],
  sessions: ['id', 'transport', 'client', 'startedAt', 'messages', 'idleMs'],
} as const;

type ListName = keyof typeof LIST_FIELDS;

function badRequest(parameter: string, message: string, allowed: string): StatsAnswer {
  return { status: 400, body: { error: message, parameter, allowed } };
}

const limitSchema = z.coerce.number().int().min(1).max(1_000).default(50);
const cursorSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,40}$/)
  .transform((c) => Number(Buffer.from(c, 'base64url').toString('utf8')))
  .pipe(z.number().int().min(0));

const encodeCursor = (offset: number) => Buffer.from(String(offset)).toString('base64url');

/**
 * The stats API behind the admin server: system, upstream, tool and session figures from the stats
 * windows, health scores, trends, with validated paging, sorting and filtering.
 */
export class StatsApi {
  readonly #collector: StatsCollector;
  readonly #sessions: SessionManager;
  readonly #startedAt = Date.now();
  readonly #cache = new Map<string, { at: number; answer: StatsAnswer }>();
  readonly #breakerState: (() => BreakerState | undefined) | undefined;

  constructor(collector: StatsCollector, sessions: SessionManager, options: StatsApiOptions = {}) {
    this.#collector = collector;
    this.#sessions = sessions;
    this.#breakerState = options.breakerState;
  }

  /**
   * What lowers every target's health besides its own calls: the one upstream's circuit breaker and its
   * server's recent restarts (the tools and the whole proxy depend on that upstream too).
   */
  #upstreamHealth(): Pick<HealthInputs, 'breaker' | 'recentRestarts'> {
    const state = this.#breakerState?.();
    return {
      breaker: state === undefined ? undefined : BREAKER_HEALTH[state],
      recentRestarts: this.#collector.recentRestarts(),
    };
  }

  close(): void {}

  /** Route a GET under /stats or /trends. Returns undefined for paths it does not serve. */
  handle(path: string, query: URLSearchParams): StatsAnswer | undefined {
    if (path !== '/stats' && !path.startsWith('/stats/') && path !== '/trends') return undefined;
    const key = `${path}?${query.toString()}`;
    const now = Date.now();
    const hit = this.#cache.get(key);
    if (hit && now - hit.at < STATS_CACHE_MS) return hit.answer;
    const answer = this.#compute(path, query);
    if (this.#cache.size >= CACHE_MAX_ENTRIES) this.#cache.clear();
    this.#cache.set(key, { at: now, answer });
    return answer;
  }

  #compute(path: string, query: URLSearchParams): StatsAnswer {
    let parts: string[];
    try {
      parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      return badRequest(
        'path',
        `path ${JSON.stringify(path.slice(0, 100))} is not valid percent-encoding`,
        'names as returned by the lists',
      );
    }
    if (parts[0] === 'trends') return { status: 200, body: this.#trends() };
    const series = query.get('series');
    if (series !== null && series !== '1h')
      return badRequest('series', `series must be 1h, not ${JSON.stringify(series.slice(0, 20))}`, '1h');
    const steps = series !== null;
    if (parts.length === 1) return { status: 200, body: this.#system(steps) };
    const list = parts[1] as string;
    if (!(list in LIST_FIELDS)) {
      return {
        status: 404,
        body: {
          error: `unknown stats path ${path}`,
          paths: ['/stats', '/stats/upstreams', '/stats/tools', '/stats/sessions', '/trends'],
        },
      };
    }
    if (parts.length === 2) return this.#page(list as ListName, this.#rows(list as ListName), query);
    const name = parts.slice(2).join('/');
    const detail = this.#detail(list as ListName, name, steps);
    return detail
      ? { status: 200, body: detail }
      : { status: 404, body: { error: `no ${list.replace(/s$/, '')} named ${JSON.stringify(name)}` } };
  }

  /**
   * `?series=1h`: the hour step by step (a minute at the default buckets), oldest first, for charts: calls,
   * error rate, p50 and p95 (null in a step without calls) and a health score per step (that step's
   * calls against the hour's p95, with the upstream's breaker and restarts as they are now).
   */
  #steps(series: StatsSeries, baselineP95Ms: number | null): Record<string, unknown> {
    const now = this.#collector.now;
    const s = series.steps(now);
    const upstream = this.#upstreamHealth();
    const errorRate = s.calls.map((c, i) => (c === 0 ? null : (s.errors[i] as number) / c));
    const stepMs = FOLD_BUCKETS * series.bucketMs;
    return {
      step_s: stepMs / 1000,
      // Where the newest step ends (it is still filling).
      end: new Date((Math.floor(now / stepMs) + 1) * stepMs).toISOString(),
      calls: s.calls,
      errorRate,
      p50Ms: s.p50Ms,
      p95Ms: s.p95Ms,
      health: errorRate.map((rate, i) =>
        healthScore({ errorRate: rate, p95Ms: s.p95Ms[i] ?? null, baselineP95Ms, ...upstream }),
      ),
    };
  }

  #target(series: StatsSeries, withSteps = false): TargetStats {
    const now = this.#collector.now;
    const bucket = series.bucketMs;
    const windows = {
      '1m': series.summary(now, 6 * bucket),
      '5m': series.summary(now, 30 * bucket),
      '1h': series.summary(now, 360 * bucket),
    };
    const recent = windows['5m'];
    const health = healthScore({
      errorRate: recent.calls === 0 ? null : recent.errorRate,
      p95Ms: recent.p95Ms,
      baselineP95Ms: windows['1h'].p95Ms,
      ...this.#upstreamHealth(),
    });
    const b = series.buckets(now, TREND_BUCKETS);
    return {
      windows,
      health,
      trends: {
        latency: classifyTrend(b.p50Ms),
        errorRate: classifyTrend(b.errorRate, 0.25),
        traffic: classifyTrend(b.calls),
      },
      ...(withSteps ? { series: this.#steps(series, windows['1h'].p95Ms) } : {}),
    };
  }

  #system(steps: boolean): unknown {
    const mem = process.memoryUsage();
    const loop = eventLoopDelay().figures;
    const c = this.#collector;
    const overhead = c.overhead.summary(c.now, 30 * c.bucketMs);
    return {
      uptime_s: Math.round((Date.now() - this.#startedAt) / 1000),
      sessions: { active: this.#sessions.size, total: this.#sessions.total },
      restarts_15m: this.#collector.recentRestarts(),
      memory: { rss_bytes: mem.rss, heap_used_bytes: mem.heapUsed },
      // The same figures as /metrics' nodejs_eventloop_lag_*: one measurement (observe/eventLoop.ts).
      event_loop_lag_ms: {
        p50: Math.round(loop.p50Ms * 100) / 100,
        p99: Math.round(loop.p99Ms * 100) / 100,
        resolution_ms: EVENT_LOOP_RESOLUTION_MS,
        window_s: EVENT_LOOP_WINDOW_MS / 1000,
      },
      proxy_overhead_ms: { p50: overhead.p50Ms, p99: overhead.p99Ms },
      delivery_ratio: c.delivered + c.dropped === 0 ? 1 : c.delivered / (c.delivered + c.dropped),
      bucket_s: this.#collector.bucketMs / 1000,
      ...this.#target(this.#collector.system, steps),
    };
  }

  #rows(list: ListName): Row[] {
    if (list === 'sessions') {
      return [...this.#sessions.list()].map((s) => ({
        id: s.id,
        transport: s.inbound.kind,
        client: s.clientInfo?.name ?? null,
        startedAt: new Date(s.startedAt).toISOString(),
        messages: s.messages,
        idleMs: Math.round(performance.now() - s.lastActivity),
      }));
    }
    const targets: Array<[string, StatsSeries]> =
      list === 'tools' ? [...this.#collector.tools()] : [...this.#collector.upstreams()];
    // Rows need the 5-minute window and the health score only: no trends, no 1-minute window.
    const now = this.#collector.now;
    const upstream = this.#upstreamHealth();
    return targets.map(([name, series]) => {
      const w = series.summary(now, 30 * series.bucketMs);
      const baseline = series.summary(now, 360 * series.bucketMs).p95Ms;
      const health = healthScore({
        errorRate: w.calls === 0 ? null : w.errorRate,
        p95Ms: w.p95Ms,
        baselineP95Ms: baseline,
        ...upstream,
      });
      return { name, health, calls: w.calls, errorRate: w.errorRate, p95Ms: w.p95Ms };
    });
  }

  #detail(list: ListName, name: string, steps: boolean): unknown {
    if (list === 'sessions') return this.#rows('sessions').find((r) => r.id === name);
    if (list === 'upstreams') {
      const series = this.#collector.upstreams().get(name);
      return series
        ? { name, restarts_15m: this.#collector.recentRestarts(), ...this.#target(series, steps) }
        : undefined;
    }
    const series = this.#collector.tools().get(name);
    return series ? { name, ...this.#target(series, steps) } : undefined;
  }

  #page(list: ListName, rows: Row[], query: URLSearchParams): StatsAnswer {
    const fields: readonly string[] = LIST_FIELDS[list];
    const allowed = fields.join(', ');
    for (const key of query.keys()) {
      if (!['limit', 'cursor', 'sort', 'filter'].includes(key)) {
        return badRequest(key, `unknown parameter ${key}`, 'limit, cursor, sort, filter');
      }
    }
    const limit = limitSchema.safeParse(query.get('limit') ?? undefined);
    if (!limit.success) return badRequest('limit', 'limit must be an integer from 1 to 1000', '1..1000');
    let offset = 0;
    const cursor = query.get('cursor');
    if (cursor !== null) {
      const parsed = cursorSchema.safeParse(cursor);
      if (!parsed.success)
        return badRequest(
          'cursor',
          'cursor is not one this API returned',
          'the next_cursor of a previous page',
        );
      offset = parsed.data;
    }
    let out = rows;
    const filter = query.get('filter');
    if (filter !== null) {
      const m = /^([A-Za-z]+)(<=|>=|<|>|=|!=)(.{1,200})$/.exec(filter);
      if (!m || !fields.includes(m[1] as string)) {
        return badRequest(
          'filter',
          `filter must be <field><op><value>, e.g. health<70`,
          `fields: ${allowed}; ops: = != < <= > >=`,
        );
      }
      const [, field, op, raw] = m as unknown as [string, string, string, string];
      const num = Number(raw);
      out = out.filter((r) => {
        const v = r[field];
        if (op === '=' || op === '!=') return (String(v) === raw) === (op === '=');
        if (typeof v !== 'number' || Number.isNaN(num)) return false;
        return op === '<' ? v < num : op === '<=' ? v <= num : op === '>' ? v > num : v >= num;
      });
    }
    const sort = query.get('sort');
    if (sort !== null) {
      const desc = sort.startsWith('-');
      const field = desc ? sort.slice(1) : sort;
      if (!fields.includes(field))
        return badRequest(
          'sort',
          `cannot sort by ${JSON.stringify(field)}`,
          `${allowed} (prefix - for descending)`,
        );
      out = [...out].sort((a, b) => {
        const x = a[field] ?? '';
        const y = b[field] ?? '';
        const c = x < y ? -1 : x > y ? 1 : 0;
        return desc ? -c : c;
      });
    } else {
      const key = list === 'sessions' ? 'id' : 'name';
      out = [...out].sort((a, b) => String(a[key]).localeCompare(String(b[key])));
    }
    const items = out.slice(offset, offset + limit.data);
    const next = offset + limit.data < out.length ? encodeCursor(offset + limit.data) : null;
    return { status: 200, body: { items, total: out.length, next_cursor: next } };
  }

  #trends(): unknown {
    const targets: Array<[string, string, StatsSeries]> = [
      ...[...this.#collector.upstreams()].map(
        ([n, s]) => ['upstream', n, s] as [string, string, StatsSeries],
      ),
      ...[...this.#collector.tools()].map(([n, s]) => ['tool', n, s] as [string, string, StatsSeries]),
    ];
    const window_s = (TREND_BUCKETS * this.#collector.bucketMs) / 1000;
    const items = targets.flatMap(([kind, name, series]) => {
      const t = this.#target(series).trends;
      return (['latency', 'errorRate', 'traffic'] as const)
        .filter((metric) => t[metric].direction !== 'stable')
        .map((metric) => ({ kind, name, metric, window_s, ...t[metric] }));
    });
    items.sort((a, b) => b.confidence * Math.abs(b.change) - a.confidence * Math.abs(a.change));
    return { items };
  }
}
