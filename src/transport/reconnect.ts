/**
 * Reconnection of dropped upstream SSE streams: bounded attempts, exponential backoff with jitter, and a
 * bounded memory of delivered event ids so that events replayed after a resumption reach the client once.
 */

/** Reconnection attempts after a stream drops, before the session is given up (5). */
export const SSE_RECONNECT_MAX_ATTEMPTS = 5;
/** Delay before the first attempt (200 ms); it doubles with each further attempt… */
export const SSE_RECONNECT_BASE_DELAY_MS = 200;
/** …up to this (5 s). A server's `retry:` field replaces the base delay, within the same cap. */
export const SSE_RECONNECT_MAX_DELAY_MS = 5_000;
/** Event ids remembered per upstream session for deduplication (1,024; about 100 KB at most). */
export const MAX_REMEMBERED_EVENT_IDS = 1_024;
/** Longest event id remembered (200 chars); longer ones are not deduplicated. */
const MAX_EVENT_ID_CHARS = 200;

/**
 * Delay before reconnection attempt `attempt` (0-based): base × 2^attempt, capped, with "equal jitter"
 * (between half and all of it) so that many sessions cut at once do not reconnect in lockstep.
 */
export function reconnectDelayMs(attempt: number, baseMs = SSE_RECONNECT_BASE_DELAY_MS): number {
  const ceiling = Math.min(SSE_RECONNECT_MAX_DELAY_MS, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** Sleep `ms`, or resolve early (false) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The ids of events already delivered, oldest forgotten first (a ring over a Set). */
export class DeliveredEvents {
  readonly #seen = new Set<string>();
  /** Grows to MAX_REMEMBERED_EVENT_IDS, then is reused from `#next` (an idle session holds nothing). */
  readonly #ring: string[] = [];
  #next = 0;

  /** True when `id` was delivered before (drop the event); otherwise remember it and return false. */
  seen(id: string | undefined): boolean {
    if (id === undefined || id === '' || id.length > MAX_EVENT_ID_CHARS) return false;
    if (this.#seen.has(id)) return true;
    if (this.#ring.length < MAX_REMEMBERED_EVENT_IDS) {
      this.#ring.push(id);
    } else {
      this.#seen.delete(this.#ring[this.#next] as string);
      this.#ring[this.#next] = id;
      this.#next = (this.#next + 1) % MAX_REMEMBERED_EVENT_IDS;
    }
    this.#seen.add(id);
    return false;
  }
}
