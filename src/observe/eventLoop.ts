import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** The event-loop delay timer's resolution (10 ms): figures include up to one such interval. */
export const EVENT_LOOP_RESOLUTION_MS = 10;
/** Figures describe the last complete window of this length (10 s). */
export const EVENT_LOOP_WINDOW_MS = 10_000;

export interface EventLoopFigures {
  minMs: number;
  maxMs: number;
  meanMs: number;
  stddevMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

const ZERO: EventLoopFigures = { minMs: 0, maxMs: 0, meanMs: 0, stddevMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0 };
const ms = (ns: number): number => ns / 1e6;

/**
 * One measurement of event-loop delay for the whole process, read by /metrics and /stats alike: Node's
 * delay histogram at EVENT_LOOP_RESOLUTION_MS, rolled every EVENT_LOOP_WINDOW_MS; both report the last
 * complete window, so they always agree.
 */
class EventLoopDelay {
  readonly #histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  #last: EventLoopFigures = ZERO;

  constructor() {
    this.#histogram.enable();
    setInterval(() => this.#roll(), EVENT_LOOP_WINDOW_MS).unref();
  }

  get figures(): EventLoopFigures {
    return this.#last;
  }

  #roll(): void {
    const h = this.#histogram;
    if (h.count > 0) {
      this.#last = {
        minMs: ms(h.min),
        maxMs: ms(h.max),
        meanMs: ms(h.mean),
        stddevMs: ms(h.stddev),
        p50Ms: ms(h.percentile(50)),
        p90Ms: ms(h.percentile(90)),
        p99Ms: ms(h.percentile(99)),
      };
    }
    h.reset();
  }
}

let shared: EventLoopDelay | undefined;

/** The process's event-loop delay figures (started on first use). */
export function eventLoopDelay(): { readonly figures: EventLoopFigures } {
  shared ??= new EventLoopDelay();
  return shared;
}
