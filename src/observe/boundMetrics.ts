import { Counter, Histogram, type LabelValues } from 'prom-client';

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
  observe(value: number): void;
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
  #map: Record<string, HistogramEntry> | undefined;
  #entry: HistogramEntry | undefined;

  constructor(
    store: SeriesStore<HistogramEntry>,
    labels: Labels,
    bounds: readonly number[],
    keys: readonly string[],
    zero: Readonly<Record<string, number>>,
  ) {
    this.#store = store;
    this.#labels = labels;
    this.#hash = hashOf(store.sortedLabelNames, labels);
    this.#bounds = bounds;
    this.#keys = keys;
    this.#zero = zero;
  }

  startTimer(): () => number {
    const start = process.hrtime.bigint();
    return () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      this.observe(seconds);
      return seconds;
    };
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const map = this.#store.hashMap;
    let entry = this.#entry;
    if (this.#map !== map || entry === undefined) {
      entry = map[this.#hash];
      if (entry === undefined) {
        entry = { labels: this.#labels, bucketValues: { ...this.#zero }, sum: 0, count: 0 };
        map[this.#hash] = entry;
      }
      this.#map = map;
      this.#entry = entry;
    }
    entry.sum += value;
    entry.count += 1;
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        const key = this.#keys[i] as string;
        entry.bucketValues[key] = (entry.bucketValues[key] as number) + 1;
        return;
      }
    }
  }
}

/** A prom-client Counter whose `labels(...)` children are bound once and cached. */
export class BoundCounter<T extends string = string> extends Counter<T> {
  readonly #children = new Map<string, CounterChild>();

  override labels(...values: string[]): Counter.Internal;
  override labels(labels: LabelValues<T>): Counter.Internal;
  override labels(...args: unknown[]): Counter.Internal {
    const store = this as unknown as SeriesStore<CounterEntry>;
    const values = (
      typeof args[0] === 'object' && args[0] !== null
        ? store.labelNames.map((n) => (args[0] as Labels)[n])
        : args
    ) as Array<string | number>;
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
  #bounds: readonly number[] | undefined;
  #keys: readonly string[] | undefined;
  #zero: Readonly<Record<string, number>> | undefined;

  override labels(...values: string[]): Histogram.Internal<T>;
  override labels(labels: LabelValues<T>): Histogram.Internal<T>;
  override labels(...args: unknown[]): Histogram.Internal<T> {
    const store = this as unknown as SeriesStore<HistogramEntry> & {
      upperBounds: number[];
      bucketValues: Record<string, number>;
    };
    const values = (
      typeof args[0] === 'object' && args[0] !== null
        ? store.labelNames.map((n) => (args[0] as Labels)[n])
        : args
    ) as Array<string | number>;
    const key = values.join('\u0000');
    let child = this.#children.get(key);
    if (!child) {
      this.#bounds ??= [...store.upperBounds];
      this.#keys ??= this.#bounds.map(String);
      this.#zero ??= store.bucketValues;
      child = new HistogramChild(
        store,
        labelsOf(store.labelNames, values),
        this.#bounds,
        this.#keys,
        this.#zero,
      );
      this.#children.set(key, child);
    }
    return child as unknown as Histogram.Internal<T>;
  }
}
