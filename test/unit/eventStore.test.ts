import { describe, expect, it } from 'vitest';
import { EVENT_OVERHEAD_BYTES, EventStore } from '../../src/transport/eventStore.js';

const raw = (text: string): Buffer => Buffer.from(text);

describe('EventStore', () => {
  it('numbers a live session 1, 2, 3 … and resumes after an id', () => {
    const store = new EventStore(1024 * 1024);
    expect([1, 1, 2].map((stream) => store.store(stream, raw('x')).eventId)).toEqual([1, 2, 3]);
    expect(store.lastEventId).toBe(3);
    expect(store.streamOf(2)).toBe(1);
    expect(store.after(1, 1).map((e) => e.eventId)).toEqual([2]);
  });

  it('keeps the ids a replay asks for, out of order, and resumes by place, not by comparing ids', () => {
    const store = new EventStore(1024 * 1024);
    // A replayed session sends recorded ids 7, 3, 9 in that order on one stream.
    expect([7, 3, 9].map((id) => store.store(1, raw(`m${id}`), id).eventId)).toEqual([7, 3, 9]);
    expect(store.after(1, 7).map((e) => e.eventId)).toEqual([3, 9]);
    expect(store.after(1, 3).map((e) => e.eventId)).toEqual([9]);
    // An id in use already (a recorded message sent twice) or none: one above every id given so far.
    expect(store.store(1, raw('again'), 7).eventId).toBe(10);
    expect(store.store(1, raw('made up')).eventId).toBe(11);
    expect(store.lastEventId).toBe(11);
    expect(store.after(1, 42)).toEqual([]);
  });

  it('evicts the oldest first, and an evicted id is unknown', () => {
    const size = 10 + EVENT_OVERHEAD_BYTES;
    const store = new EventStore(2 * size);
    for (const id of [5, 4, 6]) store.store(1, raw('0123456789'), id);
    expect(store.streamOf(5)).toBeUndefined();
    expect(store.after(1, 4).map((e) => e.eventId)).toEqual([6]);
    expect(store.bytes).toBe(2 * size);
  });
});
