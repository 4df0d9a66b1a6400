import { Counter, Histogram, type HistogramConfiguration, type LabelValues } from 'prom-client';

/*
 * prom-client's label children are slow on a message path: every `inc()` and `observe()` of a child made
 * by `labels()` builds a label object, validates it, joins a hash string (interned again as a property
 * key), and an `observe()` turns the bucket bound into a string to count it. Measured on the stdio path
 * (`forward stdio`, 7 observations and 4 increments per call), that was about half of mcpscope's CPU per
 * call. These subclasses keep prom-client's registry, exposition, `get()`, `reset()` and `zero()` as they
 * are, and only make `labels()` return a child bound once (cached per label values) that adds to its series
 * directly: a comparison per bucket and two additions.
 *
 * They write into prom-client's own series store (`hashMap`, keyed by its label hash, entries shaped as its
 * `setValue()` and `createBaseValues()` make them), so the exposition is prom-client's, byte for byte;
 * test/unit/boundMetrics.test.ts compares it with stock children's and fails if a prom-client release
 * changes that store. A series appears on its first increment or observation, as with prom-client.
 * Children are never removed (`remove()` is not used in mcpscope; `reset()` is, and children follow it).
 */

type Labels = Record<string, string | number>;
interface CounterEntry {
  value: number;
  labels: Labels;
}
interface HistogramEntry {
  labels: Labels;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
  /** With `enableExemplars`: per bucket bound (`-1` for +Inf), the latest exemplar, as prom-client keeps it. */
  bucketExemplars?: Record<string, ExemplarEntry | null>;
}
/** What prom-client's exposition reads of an exemplar (its `Exemplar` class has these and a validator). */
interface ExemplarEntry {
  labelSet: { trace_id: string };
  value: number;
  timestamp: number;
}
/** The parts of prom-client's metric objects the children write to (not in its typings). */
interface SeriesStore<E> {
  hashMap: Record<string, E>;
  sortedLabelNames: string[];
  labelNames: string[];
}

/** prom-client's label hash (`fastHashObject` over the sorted label names). */
function hashOf(sortedNames: readonly string[], labels: Labels): string {
  let hash = '';
  for (const name of sortedNames) {
    const value = labels[name];
    if (value !== undefined) hash += `${name}:${value},`;
  }
  return hash;
}

function labelsOf(names: readonly string[], values: ReadonlyArray<string | number>): Labels {
  if (values.length !== names.length) {
    throw new Error(
      `Invalid number of arguments (${values.length}): "${values.join(', ')}" for label names (${names.length}): "${names.join(', ')}".`,
    );
  }
  const labels: Labels = {};
  for (let i = 0; i < names.length; i++) {
    const value = values[i];
    if (value !== undefined) labels[names[i] as string] = value;
  }
  return labels;
}

/** A counter child bound once. */
export interface BoundCounterChild {
  inc(value?: number): void;
}

class CounterChild implements BoundCounterChild {
  readonly #store: SeriesStore<CounterEntry>;
  readonly #labels: Labels;
  readonly #hash: string;
  #map: Record<string, CounterEntry> | undefined;
  #entry: CounterEntry | undefined;

  constructor(store: SeriesStore<CounterEntry>, labels: Labels) {
    this.#store = store;
    this.#labels = labels;
    this.#hash = hashOf(store.sortedLabelNames, labels);
  }

  inc(value = 1): void {
    if (!(value >= 0) || value === Infinity) {
      throw new TypeError(`a counter only goes up by a finite amount, not ${value}`);
    }
    const map = this.#store.hashMap;
    let entry = this.#entry;
    if (this.#map !== map || entry === undefined) {
      // First use, or the metric was reset (a new store): find or make the series, as setValue() does.
      entry = map[this.#hash];
      if (entry === undefined) {
        entry = { value: 0, labels: this.#labels };
        map[this.#hash] = entry;
      }
      this.#map = map;
      this.#entry = entry;
    }
    entry.value += value;
  }
}

/** A histogram child bound once. */
export interface BoundHistogramChild {
  /**
   * With a trace id, on a histogram made with `enableExemplars`: also the exemplar of the value's bucket
   * (`trace_id`, shown only in an OpenMetrics exposition).
   */
  observe(value: number, traceId?: string): void;
  /** As prom-client's: call the function returned to observe the seconds elapsed since. */
  startTimer(): () => number;
}

class HistogramChild implements BoundHistogramChild {
  readonly #store: SeriesStore<HistogramEntry>;
  readonly #labels: Labels;
  readonly #hash: string;
  readonly #bounds: readonly number[];
  /** The bounds as prom-client's bucket keys, made once (String(bound) on every observation was the cost). */
  readonly #keys: readonly string[];
  readonly #zero: Readonly<Record<string, number>>;
  /** prom-client's empty exemplar slots, when the histogram keeps exemplars. */
  readonly #noExemplars: Readonly<Record<string, null>> | undefined;
  #map: Record<string, HistogramEntry> | undefined;
  #entry: HistogramEntry | undefined;

  constructor(
    store: SeriesStore<HistogramEntry>,
    labels: Labels,
    bounds: readonly number[],
    keys: readonly string[],
    zero: Readonly<Record<string, number>>,
    noExemplars: Readonly<Record<string, null>> | undefined,
  ) {
    this.#store = store;
    this.#labels = labels;
    this.#hash = hashOf(store.sortedLabelNames, labels);
    this.#bounds = bounds;
    this.#keys = keys;
    this.#zero = zero;
    this.#noExemplars = noExemplars;
  }

  startTimer(): () => number {
    const start = process.hrtime.bigint();
    return () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      this.observe(seconds);
      return seconds;
    };
  }

  observe(value: number, traceId?: string): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const map = this.#store.hashMap;
    let entry = this.#entry;
    if (this.#map !== map || entry === undefined) {
      entry = map[this.#hash];
      if (entry === undefined) {
        entry = { labels: this.#labels, bucketValues: { ...this.#zero }, sum: 0, count: 0 };
        if (this.#noExemplars) entry.bucketExemplars = { ...this.#noExemplars };
        map[this.#hash] = entry;
      }
      this.#map = map;
      this.#entry = entry;
    }
    entry.sum += value;
    entry.count += 1;
    const bounds = this.#bounds;
    let key = '-1';
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        key = this.#keys[i] as string;
        entry.bucketValues[key] = (entry.bucketValues[key] as number) + 1;
        break;
      }
    }
    if (traceId !== undefined && entry.bucketExemplars) exemplar(entry.bucketExemplars, key, value, traceId);
  }
}

/** `labels()`'s arguments as values in label order: given one by one, or as an object of names. */
function labelValues(names: readonly string[], args: unknown[]): Array<string | number> {
  const first = args[0];
  return (
    typeof first === 'object' && first !== null ? names.map((n) => (first as Labels)[n]) : args
  ) as Array<string | number>;
}

/** The bucket's exemplar, as prom-client's updateExemplar() sets it (one object per bucket, reused). */
function exemplar(
  slots: Record<string, ExemplarEntry | null>,
  key: string,
  value: number,
  traceId: string,
): void {
  const timestamp = Date.now() / 1000;
  const slot = slots[key];
  if (slot) {
    slot.labelSet.trace_id = traceId;
    slot.value = value;
    slot.timestamp = timestamp;
  } else slots[key] = { labelSet: { trace_id: traceId }, value, timestamp };
}

/** A prom-client Counter whose `labels(...)` children are bound once and cached. */
export class BoundCounter<T extends string = string> extends Counter<T> {
  readonly #children = new Map<string, CounterChild>();

  override labels(...values: string[]): Counter.Internal;
  override labels(labels: LabelValues<T>): Counter.Internal;
  override labels(...args: unknown[]): Counter.Internal {
    const store = this as unknown as SeriesStore<CounterEntry>;
    const values = labelValues(store.labelNames, args);
    const key = values.join('\u0000');
    let child = this.#children.get(key);
    if (!child) {
      child = new CounterChild(store, labelsOf(store.labelNames, values));
      this.#children.set(key, child);
    }
    return child as unknown as Counter.Internal;
  }
}

/** A prom-client Histogram whose `labels(...)` children are bound once and cached. */
export class BoundHistogram<T extends string = string> extends Histogram<T> {
  readonly #children = new Map<string, HistogramChild>();
  readonly #exemplars: boolean;
  #bounds: readonly number[] | undefined;
  #keys: readonly string[] | undefined;
  #zero: Readonly<Record<string, number>> | undefined;
  #noExemplars: Readonly<Record<string, null>> | undefined;

  /**
   * `exemplars`: keep an exemplar per bucket (see BoundHistogramChild.observe). prom-client's own
   * `enableExemplars` is refused on a registry made for the Prometheus text format, which is the default
   * scrape here; its exposition writes the exemplars the series hold whenever it writes OpenMetrics.
   */
  constructor(config: HistogramConfiguration<T> & { exemplars?: boolean }) {
    const { exemplars = false, ...rest } = config;
    super(rest);
    this.#exemplars = exemplars;
  }

  /** labels(), typed as what it returns: a child whose observe() may take a trace id for the exemplar. */
  child(...values: string[]): BoundHistogramChild {
    return this.labels(...values) as unknown as BoundHistogramChild;
  }

  override labels(...values: string[]): Histogram.Internal<T>;
  override labels(labels: LabelValues<T>): Histogram.Internal<T>;
  override labels(...args: unknown[]): Histogram.Internal<T> {
    const store = this as unknown as SeriesStore<HistogramEntry> & {
      upperBounds: number[];
      bucketValues: Record<string, number>;
    };
    const values = labelValues(store.labelNames, args);
    const key = values.join('\u0000');
    let child = this.#children.get(key);
    if (!child) {
      this.#bounds ??= [...store.upperBounds];
      this.#keys ??= this.#bounds.map(String);
      this.#zero ??= store.bucketValues;
      if (this.#exemplars) this.#noExemplars ??= Object.fromEntries(this.#keys.map((k) => [k, null]));
      child = new HistogramChild(
        store,
        labelsOf(store.labelNames, values),
        this.#bounds,
        this.#keys,
        this.#zero,
        this.#noExemplars,
      );
      this.#children.set(key, child);
    }
    return child as unknown as Histogram.Internal<T>;
  }
}
