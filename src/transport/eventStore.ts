/**
 * The events of one Streamable HTTP session kept for `Last-Event-ID` resumption (after the SDK's
 * `EventStore`): numbered from 1, tagged with the stream they were sent on, bounded in bytes (each event
 * counts its message plus EVENT_OVERHEAD_BYTES, so the byte bound bounds the count too), oldest evicted first.
 */

/** Each kept event counts this many bytes besides its message. */
export const EVENT_OVERHEAD_BYTES = 64;

export interface StoredEvent {
  readonly eventId: number;
  readonly streamId: number;
  readonly raw: Buffer;
}

export class EventStore {
  readonly #maxBytes: number;
  /** Told of each event evicted (to count what a cut stream can no longer get). */
  readonly #evicted: ((event: StoredEvent) => void) | undefined;
  #events: StoredEvent[] = [];
  #bytes = 0;
  #nextId = 1;

  constructor(maxBytes: number, evicted?: (event: StoredEvent) => void) {
    this.#maxBytes = maxBytes;
    this.#evicted = evicted;
  }

  /** Bytes held (messages and overhead). */
  get bytes(): number {
    return this.#bytes;
  }

  /** The id the next event will get. */
  get nextId(): number {
    return this.#nextId;
  }

  /** Keep one event sent on `streamId`; returns its id. */
  store(streamId: number, raw: Buffer): number {
    const eventId = this.#nextId++;
    this.#events.push({ eventId, streamId, raw });
    this.#bytes += raw.length + EVENT_OVERHEAD_BYTES;
    while (this.#bytes > this.#maxBytes) {
      const old = this.#events.shift();
      if (!old) break;
      this.#bytes -= old.raw.length + EVENT_OVERHEAD_BYTES;
      this.#evicted?.(old);
    }
    return eventId;
  }

  /** The stream event `eventId` was sent on, or undefined when it is unknown or evicted. */
  streamOf(eventId: number): number | undefined {
    return this.#events.find((e) => e.eventId === eventId)?.streamId;
  }

  /** Events of `streamId` after `eventId`, oldest first. */
  after(streamId: number, eventId: number): StoredEvent[] {
    return this.#events.filter((e) => e.streamId === streamId && e.eventId > eventId);
  }

  /**
   * The id of the oldest of the newest events of `streamId` that together take at least `bytes` on the wire
   * (`wireBytes` of each), or `nextId` when the stream has none: where a cut stream's unsent part begins.
   */
  unsentFrom(streamId: number, bytes: number, wireBytes: (e: StoredEvent) => number): number {
    let total = 0;
    let from = this.#nextId;
    for (let i = this.#events.length - 1; i >= 0 && total < bytes; i--) {
      const e = this.#events[i] as StoredEvent;
      if (e.streamId !== streamId) continue;
      total += wireBytes(e);
      from = e.eventId;
    }
    return from;
  }

  clear(): void {
    this.#events = [];
    this.#bytes = 0;
  }
}
