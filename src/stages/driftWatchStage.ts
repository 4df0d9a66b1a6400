import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { Frame, PendingRequest } from '../jsonrpc/framing.js';
import { sourceOf } from '../observe/metricsStage.js';
import type { Metrics } from '../observe/metrics.js';
import type { Direction, ObserverStage, Verdict } from '../pipeline/stage.js';
import type { Session } from '../session/session.js';
import { compareOffers, mergePages, nextCursor, type ChangeKind } from '../tape/drift.js';

/** Most pages of one tools/list listing gathered (1,000); a longer one is not compared. */
const MAX_PAGES = 1000;
/** Distinct changes remembered so that each is logged once (1,000); past it, new ones are logged again. */
const MAX_LOGGED = 1000;

/**
 * Watches live `tools/list` answers: when a complete listing (its pages merged) differs from the one seen
 * before in this run, in any session, each change is counted in `schema_drift_total{kind}` and logged once
 * (a warning when breaking). A server that changes its tools mid-flight shows up here. Answers from a rule,
 * a breakpoint, mcpscope itself or a tape are not the server's and are left out.
 */
export class DriftWatchStage implements ObserverStage {
  readonly kind = 'observer' as const;
  readonly name = 'drift-watch';
  readonly #logger: Logger;
  readonly #counters: Record<ChangeKind, Counter.Internal>;
  /** The requests of a listing after its first page (they carry a cursor). */
  readonly #continued = new WeakSet<PendingRequest>();
  /** Pages of a listing in progress, per session. */
  readonly #pages = new WeakMap<Session, unknown[]>();
  #baseline: { text: string; tools: Map<string, Record<string, unknown>> } | undefined;
  readonly #logged = new Set<string>();

  constructor(metrics: Metrics, logger: Logger) {
    this.#logger = logger.child({ stage: 'drift-watch' });
    this.#counters = {
      breaking: metrics.schemaDrift.labels('breaking'),
      compatible: metrics.schemaDrift.labels('compatible'),
      info: metrics.schemaDrift.labels('info'),
    };
  }

  observe(frame: Frame, session: Session, direction: Direction, verdict: Verdict): void {
    const related = frame.related;
    if (related?.method !== 'tools/list') return;
    if (direction === 'client-to-server') {
      if (
        frame.kind === 'request' &&
        (frame.msg as { params?: { cursor?: unknown } }).params?.cursor !== undefined
      )
        this.#continued.add(related);
      return;
    }
    if (frame.kind !== 'response' || verdict.action === 'drop' || sourceOf(frame, session) !== 'upstream')
      return;
    const result = (frame.msg as { result?: unknown }).result;
    let pages = this.#pages.get(session);
    if (!this.#continued.has(related)) pages = [];
    if (pages === undefined || pages.length >= MAX_PAGES) return;
    pages.push(result);
    if (nextCursor(result) !== undefined) {
      this.#pages.set(session, pages);
      return;
    }
    this.#pages.delete(session);
    this.#compare(pages);
  }

  #compare(pages: unknown[]): void {
    const text = JSON.stringify(pages.map((p) => (p as { tools?: unknown }).tools));
    const before = this.#baseline;
    if (before?.text === text) return;
    const tools = mergePages('tools/list', pages);
    this.#baseline = { text, tools };
    if (!before) return;
    for (const change of compareOffers({ tools: before.tools }, { tools }).changes) {
      this.#counters[change.kind].inc();
      const key = `${change.kind}\u0000${change.name}\u0000${change.path}\u0000${change.message}`;
      if (this.#logged.has(key)) continue;
      if (this.#logged.size >= MAX_LOGGED) this.#logged.clear();
      this.#logged.add(key);
      const fields = { tool: change.name, kind: change.kind, path: change.path || undefined };
      const message = `the server's tools/list changed mid-run: tool ${change.name}: ${change.message}`;
      if (change.kind === 'breaking') this.#logger.warn(fields, message);
      else this.#logger.info(fields, message);
    }
  }
}
