import { performance } from 'node:perf_hooks';
import type { Frame } from '../jsonrpc/framing.js';
import type { Direction, ObserverStage, Verdict } from '../pipeline/stage.js';
import type { Session } from '../session/session.js';
import type { SessionEvent } from '../session/events.js';
import { outcomeOf } from '../session/outcome.js';
import { BUCKET_MS, StatsSeries } from './stats.js';

/** Distinct tools tracked; later ones are counted under "other" (tool names come from clients). */
export const MAX_TRACKED_TOOLS = 1_000;
export const OTHER_TOOL = 'other';
/** Restarts older than this no longer lower a health score (15 min). */
export const RESTART_MEMORY_MS = 15 * 60_000;

/**
 * Feeds the stats windows: every answered request is recorded for the whole proxy, its upstream and, for
 * `tools/call`, its tool. Latency is request → answer as mcpscope saw them (from the Session's pairing).
 */
export class StatsCollector implements ObserverStage {
  readonly kind = 'observer' as const;
  readonly name = 'stats';
  readonly upstream: string;
  readonly bucketMs: number;
  readonly system: StatsSeries;
  readonly upstreamSeries: StatsSeries;
  /** Time each message spends inside mcpscope (both directions), as a "latency" series. */
  readonly overhead: StatsSeries;
  delivered = 0;
  dropped = 0;
  readonly #tools = new Map<string, StatsSeries>();
  /** Behind the gateway: each upstream's answers (names from its config, so bounded). */
  readonly #upstreams = new Map<string, StatsSeries>();
  readonly #now: () => number;
  #restarts: number[] = [];

  constructor(upstream: string, options: { bucketMs?: number; now?: () => number } = {}) {
    this.upstream = upstream;
    this.bucketMs = options.bucketMs ?? BUCKET_MS;
    this.#now = options.now ?? Date.now;
    this.system = new StatsSeries(this.bucketMs);
    this.upstreamSeries = new StatsSeries(this.bucketMs);
    this.overhead = new StatsSeries(this.bucketMs);
  }

  get now(): number {
    return this.#now();
  }

  tools(): ReadonlyMap<string, StatsSeries> {
    return this.#tools;
  }

  /** Each upstream's series: behind the gateway, one per upstream that answered; else the one upstream. */
  upstreams(): ReadonlyMap<string, StatsSeries> {
    return this.#upstreams.size > 0 ? this.#upstreams : new Map([[this.upstream, this.upstreamSeries]]);
  }

  /** A server process was restarted after a crash. */
  restarted(): void {
    this.#restarts.push(this.#now());
  }

  recentRestarts(): number {
    const since = this.#now() - RESTART_MEMORY_MS;
    this.#restarts = this.#restarts.filter((t) => t >= since);
    return this.#restarts.length;
  }

  onEvent(_session: Session, event: SessionEvent): void {
    if (event.type === 'process-restarted') this.restarted();
  }

  observe(frame: Frame, _session: Session, direction: Direction, verdict: Verdict): void {
    if (verdict.action === 'drop') this.dropped++;
    else {
      this.delivered++;
      if (!frame.synthetic) this.overhead.record(this.#now(), performance.now() - frame.receivedAt, false);
    }
    if (direction === 'client-to-server') {
      if (verdict.action === 'reply') this.#answer(verdict.frame);
      return;
    }
    // A dropped answer never reached the client: the request is not answered (yet).
    if ((frame.kind === 'response' || frame.kind === 'error') && verdict.action !== 'drop')
      this.#answer(frame);
  }

  #answer(frame: Frame): void {
    const related = frame.related;
    if (!related) return;
    const now = this.#now();
    const latencyMs = frame.receivedAt - related.startedAt;
    const failed = outcomeOf(frame).failed;
    this.system.record(now, latencyMs, failed);
    this.upstreamSeries.record(now, latencyMs, failed);
    if (related.upstream !== undefined) {
      let series = this.#upstreams.get(related.upstream);
      if (!series) {
        series = new StatsSeries(this.bucketMs);
        this.#upstreams.set(related.upstream, series);
      }
      series.record(now, latencyMs, failed);
    }
    if (related.method !== 'tools/call') return;
    const name = related.target ?? 'unknown';
    let series = this.#tools.get(name);
    if (!series) {
      const key = this.#tools.size < MAX_TRACKED_TOOLS ? name : OTHER_TOOL;
      series = this.#tools.get(key) ?? new StatsSeries(this.bucketMs);
      this.#tools.set(key, series);
    }
    series.record(now, latencyMs, failed);
  }
}
