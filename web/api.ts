/** The admin API as the page reads it: same origin, no token in any URL (a cookie carries it when set). */

import { FEED_EVENT_TYPES } from '../src/admin/feedTypes.js';
import type {
  BreakpointRow,
  FeedEvent,
  PausedRow,
  RuleRow,
  SessionRow,
  TapeRow,
  TargetStats,
} from './types.js';

export type { BreakpointRow, FeedEvent, PausedRow, RuleRow, SessionRow, TapeRow } from './types.js';

/** A page of a session's feed or of a tape. */
interface EventsPage {
  events: FeedEvent[];
  more: boolean;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, {
    headers: { accept: 'application/json' },
    credentials: 'same-origin',
    signal,
  });
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new ApiError(res.status, body.error ?? `${path} answered ${res.status}`);
  return body as T;
}

export async function listSessions(signal?: AbortSignal): Promise<SessionRow[]> {
  return (await getJson<{ sessions: SessionRow[] }>('/sessions', signal)).sessions;
}

export async function listBreakpoints(signal?: AbortSignal): Promise<BreakpointRow[]> {
  return (await getJson<{ breakpoints: BreakpointRow[] }>('/breakpoints', signal)).breakpoints;
}

export async function listPaused(signal?: AbortSignal): Promise<PausedRow[]> {
  return (await getJson<{ paused: PausedRow[] }>('/paused', signal)).paused;
}

/**
 * A state-changing call (POST, or DELETE of a breakpoint). The browser sends this page's Origin, which the admin
 * server requires with the cookie. Throws ApiError with the server's own explanation when refused.
 */
export async function change(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const answer = (text ? JSON.parse(text) : undefined) as { error?: string } | undefined;
  if (!res.ok) throw new ApiError(res.status, answer?.error ?? `${path} answered ${res.status}`);
  return answer;
}

export async function listRules(signal?: AbortSignal): Promise<{ file: string | null; rules: RuleRow[] }> {
  return getJson('/rules', signal);
}

export async function listTapes(
  signal?: AbortSignal,
): Promise<{ dir: string; total: number; tapes: TapeRow[] }> {
  return getJson('/tapes', signal);
}

/** A target's figures with the hour step by step (`?series=1h`). */
export async function targetStats(path: string, signal?: AbortSignal): Promise<TargetStats> {
  return getJson(`${path}?series=1h`, signal);
}

/** Largest page the feed serves (MAX_FEED_PAGE on the server). */
const PAGE = 1000;

/** Every event of a paged list (a session's feed, a tape) after `after`, read in pages. */
async function allPages(base: string, after: number, signal?: AbortSignal): Promise<FeedEvent[]> {
  const out: FeedEvent[] = [];
  for (;;) {
    const page = await getJson<EventsPage>(`${base}?after=${after}&limit=${PAGE}`, signal);
    out.push(...page.events);
    const last = page.events[page.events.length - 1];
    if (!page.more || !last) return out;
    after = last.seq;
  }
}

/** Every event a session's ring still holds after `after`. */
export async function sessionEvents(id: string, after = 0, signal?: AbortSignal): Promise<FeedEvent[]> {
  return allPages(`/sessions/${encodeURIComponent(id)}/events`, after, signal);
}

/** A recorded tape's events, as the feed's. */
export async function tapeEvents(id: string, signal?: AbortSignal): Promise<FeedEvent[]> {
  return allPages(`/tapes/${encodeURIComponent(id)}`, 0, signal);
}

/** Event types the feed sends as named SSE events: the page listens to every one. */
const LIVE_TYPES = FEED_EVENT_TYPES;

/**
 * One live `/events` stream for the whole page (the server allows few at once); listeners filter. The browser's
 * EventSource reconnects by itself and sends Last-Event-ID, so nothing is missed across a short cut.
 */
export class LiveFeed {
  readonly #source: EventSource;
  readonly #listeners = new Set<(e: FeedEvent) => void>();
  readonly #stateListeners = new Set<(open: boolean) => void>();
  /** Whether the stream is open now: a listener that comes after the 'open' event still learns it. */
  #open = false;

  constructor() {
    this.#source = new EventSource('/events');
    const onEvent = (e: Event): void => {
      // A named 'error' event is a feed event; a plain Event named 'error' is the stream's own trouble.
      if (!(e instanceof MessageEvent) || typeof e.data !== 'string') {
        if (e.type === 'error') this.#state(false);
        return;
      }
      let event: FeedEvent;
      try {
        event = JSON.parse(e.data) as FeedEvent;
      } catch {
        return;
      }
      for (const l of this.#listeners) l(event);
    };
    for (const type of LIVE_TYPES) this.#source.addEventListener(type, onEvent);
    this.#source.addEventListener('open', () => this.#state(true));
  }

  #state(open: boolean): void {
    this.#open = open;
    for (const l of this.#stateListeners) l(open);
  }

  on(listener: (e: FeedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether the stream is open now (it may have opened before a listener came). */
  get open(): boolean {
    return this.#open;
  }

  /** Calls `listener` on every change of the stream's state. */
  onState(listener: (open: boolean) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }
}
