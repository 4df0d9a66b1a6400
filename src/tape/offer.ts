import { isObject, objectOr } from './match.js';
import { HANDSHAKE_METHODS, LIST_METHODS, mergePages, nextCursor, type Offer } from './drift.js';
import type { TapeEvent } from './format.js';
import { exchanges, type Exchange } from './summary.js';

export interface TapeOffer {
  readonly offer: Offer;
  /** The first request of each method read (list or handshake): a probe asks a live server the same way. */
  readonly requests: ReadonlyMap<string, Record<string, unknown>>;
  /** The method whose answer gave `offer.server`. */
  readonly handshake: string | undefined;
  /** Lists the tape holds only in part (a client that did not follow `nextCursor`). */
  readonly partial: string[];
}

function resultOf(x: Exchange): Record<string, unknown> | undefined {
  if (!x.answer || x.answer.drop !== undefined) return undefined;
  const result = (x.answer.msg as { result?: unknown }).result;
  return isObject(result) ? result : undefined;
}

/**
 * What a server offered in a tape: its first handshake answer (`initialize`, or `server/discover` in
 * 2026-07-28) and the first complete listing of each list method, its pages merged. A listing starts at a
 * request without a cursor and is complete at a page without `nextCursor`; one never completed is left out
 * (and named in `partial`), since what its missing pages held is unknown.
 */
export function offerOfTape(events: readonly TapeEvent[]): TapeOffer {
  const offer: Offer = {};
  const requests = new Map<string, Record<string, unknown>>();
  const pages = new Map<string, unknown[]>();
  const partial = new Set<string>();
  let handshake: string | undefined;
  for (const x of exchanges(events)) {
    if (x.request.synthetic) continue;
    const method = x.method;
    const spec = LIST_METHODS[method];
    if (!spec && !HANDSHAKE_METHODS.has(method)) continue;
    if (!requests.has(method)) requests.set(method, x.request.msg as Record<string, unknown>);
    const result = resultOf(x);
    if (!spec) {
      if (result && offer.server === undefined) {
        offer.server = result;
        handshake = method;
      }
      continue;
    }
    if (offer[spec.part] !== undefined) continue;
    const cursor = objectOr((x.request.msg as { params?: unknown }).params).cursor;
    // A request without a cursor starts the listing over.
    if (cursor === undefined) pages.set(method, []);
    const listing = pages.get(method);
    if (!listing || !result) continue;
    listing.push(result);
    if (nextCursor(result) === undefined) {
      offer[spec.part] = mergePages(method, listing);
      partial.delete(method);
    } else {
      partial.add(method);
    }
  }
  return { offer, requests, handshake, partial: [...partial] };
}

/** The offer one answer describes: a handshake answer, or one list page. */
export function offerOfAnswer(method: string, result: unknown): Offer {
  if (HANDSHAKE_METHODS.has(method)) return { server: objectOr(result) };
  const spec = LIST_METHODS[method];
  return spec ? { [spec.part]: mergePages(method, [result]) } : {};
}

/** Whether a method's answers describe what the server offers (a list, or the handshake). */
export function isOfferMethod(method: string): boolean {
  return method in LIST_METHODS || HANDSHAKE_METHODS.has(method);
}
