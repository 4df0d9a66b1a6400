/** The live feed (admin `/sessions`, `/sessions/{id}/events`, `/events`). */
import type { ServerResponse } from 'node:http';
import type { McpscopeError } from '../jsonrpc/errors.js';
import type { Frame, PendingRequest } from '../jsonrpc/framing.js';
import type { Direction, ObserverStage, Verdict } from '../pipeline/stage.js';
import { TRANSIENT_EVENTS, type SessionEvent } from '../session/events.js';
import type { Session } from '../session/session.js';
import { outcomeOf } from '../session/outcome.js';
import type { Redactor } from '../tape/redact.js';
import { SHOWN_HEADERS } from '../transport/exchange.js';

/** Events kept per session (a ring): `--feed-events`. */
export const DEFAULT_FEED_EVENTS = 1_000;
/** Closed sessions kept, with their events, for `/sessions`: `--feed-closed-sessions`. */
export const DEFAULT_FEED_CLOSED_SESSIONS = 100;
/** A message larger than this is truncated in the feed (and marked so): `--feed-body-bytes`. */
export const DEFAULT_FEED_BODY_BYTES = 64 * 1024;

export interface FeedOptions {
  /** Events kept per session. Default DEFAULT_FEED_EVENTS. */
  events?: number;
  /** Closed sessions kept. Default DEFAULT_FEED_CLOSED_SESSIONS. */
  closedSessions?: number;
  /** Bytes of one message kept in the feed. Default DEFAULT_FEED_BODY_BYTES. */
  bodyBytes?: number;
}

/** Live `/events` streams at once; more are refused with 503. */
export const MAX_FEED_SUBSCRIBERS = 32;
/** Bytes an `/events` client may leave unread before it is cut (it may resume with Last-Event-ID). */
export const MAX_FEED_SUBSCRIBER_BYTES = 4 * 1024 * 1024;
/** Most events one `/sessions/{id}/events` answer holds. */
export const MAX_FEED_PAGE = 1_000;

/**
 * One entry of a session's ring. Messages keep their bytes (not copied) and are parsed again and rendered
 * when read. The parsed form is not kept: it holds a second copy of every string of the message on the heap
 * (the ring's memory twice over with large messages; 0.3 KB more per 100-byte call), for as long as the
 * ring holds it.
 */
interface Entry {
  readonly seq: number;
  /** Across sessions, for `/events` and its Last-Event-ID. */
  readonly gseq: number;
  readonly time: number;
  readonly type: string;
  /** A message: its bytes, or (too large) its redacted, cut text. */
  readonly frame?: { raw: Buffer; bytes: number; preview?: string; cut?: boolean };
  readonly fields: Record<string, unknown>;
}

interface FeedSession {
  readonly id: string;
  readonly transport: string;
  readonly upstream: string;
  /** The URL the client reached mcpscope at (HTTP wires). */
  readonly endpoint: string | undefined;
  readonly startedAt: number;
  closedAt: number | undefined;
  closeReason: string | undefined;
  era: string;
  protocolVersion: string | undefined;
  /** With --bridge: the probe's verdict. */
  bridge: string | undefined;
  client: { name?: string; version?: string } | undefined;
  server: { name?: string; version?: string } | undefined;
  /** With authorization on: the bounded label of the token subject that opened the session. */
  readonly subject: string | undefined;
  requests: number;
  errors: number;
  lastActivity: number;
  nextSeq: number;
  readonly ring: Entry[];
  /** Index of the oldest entry once the ring is full. */
  head: number;
}

interface Subscriber {
  readonly res: ServerResponse;
  readonly session: string | undefined;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const EMPTY = Buffer.alloc(0);

/**
 * The live feed: every session's events (its messages with their verdicts, and what its wires and server
 * process report) kept in a bounded ring per session, served by the admin server as pages
 * (`/sessions/{id}/events`) and as one live SSE stream (`/events`, resumable with Last-Event-ID). Secrets are
 * redacted with the tapes' rules when an event is read; nothing is rendered on the message path.
 */
export class Feed implements ObserverStage {
  readonly kind = 'observer' as const;
  readonly name = 'feed';
  readonly httpExchanges = true;
  readonly #events: number;
  readonly #closedKept: number;
  readonly #bodyBytes: number;
  readonly #redactor: Redactor;
  readonly #sessions = new Map<string, FeedSession>();
  readonly #byObject = new WeakMap<Session, FeedSession>();
  /** Closed sessions, oldest first. */
  readonly #closed: string[] = [];
  /** The feed seq of each request, for its answer's `requestSeq`. */
  readonly #requestSeq = new WeakMap<PendingRequest, number>();
  readonly #subscribers = new Set<Subscriber>();
  #gseq = 0;

  constructor(options: FeedOptions, redactor: Redactor) {
    this.#events = Math.max(1, options.events ?? DEFAULT_FEED_EVENTS);
    this.#closedKept = Math.max(0, options.closedSessions ?? DEFAULT_FEED_CLOSED_SESSIONS);
    this.#bodyBytes = Math.max(256, options.bodyBytes ?? DEFAULT_FEED_BODY_BYTES);
    this.#redactor = redactor;
  }

  #session(session: Session): FeedSession {
    let s = this.#byObject.get(session);
    if (s) return s;
    s = {
      id: session.id,
      transport: session.inbound.kind,
      upstream: session.upstream,
      endpoint: session.client?.endpoint,
      startedAt: session.startedAt,
      closedAt: undefined,
      closeReason: undefined,
      era: session.era,
      protocolVersion: undefined,
      bridge: undefined,
      client: undefined,
      server: undefined,
      subject: session.client?.principal && this.#redactor.text(session.client.principal.label),
      requests: 0,
      errors: 0,
      lastActivity: Date.now(),
      nextSeq: 1,
      ring: [],
      head: 0,
    };
    this.#byObject.set(session, s);
    this.#sessions.set(s.id, s);
    return s;
  }

  onSessionOpen(session: Session): void {
    this.#append(this.#session(session), 'session-opened', {});
  }

  onSessionClose(session: Session, reason: McpscopeError | undefined): void {
    const s = this.#session(session);
    this.#append(s, 'session-closed', reason ? { code: reason.code, message: reason.message } : {});
    s.closedAt = Date.now();
    s.closeReason = reason?.code;
    this.#closed.push(s.id);
    while (this.#closed.length > this.#closedKept) this.#sessions.delete(this.#closed.shift() as string);
  }

  onError(session: Session, err: McpscopeError): void {
    const s = this.#session(session);
    s.errors++;
    this.#append(s, 'error', { code: err.code, message: err.message });
  }

  onEvent(session: Session, event: SessionEvent): void {
    if (TRANSIENT_EVENTS.has(event.type)) return;
    if (event.type === 'bridge' && event.translation === 'probe')
      this.#session(session).bridge = event.bridge;
    if (event.type === 'bridge' && event.message !== undefined) {
      // The upstream side of a translation: kept and shown like a message (bounded, redacted when read).
      const { type, message, ...fields } = event;
      const captured = this.#captured({
        raw: Buffer.from(JSON.stringify(message)),
        msg: message as Frame['msg'],
      });
      this.#append(this.#session(session), type, fields, captured);
      return;
    }
    const { type, ...fields } = event;
    this.#append(this.#session(session), type, fields);
  }

  observe(frame: Frame, session: Session, direction: Direction, verdict: Verdict): void {
    const s = this.#session(session);
    s.era = session.era;
    s.protocolVersion ??= session.protocolVersion;
    s.client ??= session.clientInfo;
    s.server ??= session.serverInfo;
    const fields: Record<string, unknown> = {
      direction,
      kind: frame.kind,
      verdict: verdict.action,
    };
    if (frame.method !== undefined) fields.method = frame.method;
    if (frame.id !== undefined) fields.id = frame.id;
    if (frame.synthetic) fields.synthetic = true;
    if (frame.intercept !== undefined) {
      fields.rule = frame.intercept.rule;
      fields.ruleAction = frame.intercept.action;
    }
    if (verdict.action === 'drop') fields.dropReason = verdict.reason;
    const related = frame.related;
    const answer = frame.kind === 'response' || frame.kind === 'error';
    if (frame.kind === 'request' && direction === 'client-to-server') s.requests++;
    if (answer) {
      const o = outcomeOf(frame);
      fields.outcome =
        o.by === undefined
          ? { status: o.status, failed: o.failed, side: o.side }
          : { status: o.status, failed: o.failed, side: o.side, by: o.by };
    }
    if (answer && related) {
      fields.durationMs = Math.round((frame.receivedAt - related.startedAt) * 1000) / 1000;
      const requestSeq = this.#requestSeq.get(related);
      if (requestSeq !== undefined) fields.requestSeq = requestSeq;
      if (frame.kind === 'error') s.errors++;
    }
    const entry = this.#append(s, 'message', fields, this.#captured(frame));
    if (frame.kind === 'request' && related) this.#requestSeq.set(related, entry.seq);
    if (verdict.action === 'reply') {
      // A stage answered in the other side's name: the sender saw that answer, so the feed shows it too.
      this.observe(
        verdict.frame,
        session,
        direction === 'client-to-server' ? 'server-to-client' : 'client-to-server',
        {
          action: 'forward',
        },
      );
    }
  }

  /**
   * A message as kept: by reference when small enough; else its first bytes, copied (so the whole message
   * is not kept alive) and redacted as a fragment when read. Path rules need the whole message: with them,
   * a large message is redacted now.
   */
  #captured(frame: Pick<Frame, 'raw' | 'msg'>): Entry['frame'] {
    const bytes = frame.raw.length;
    if (bytes <= this.#bodyBytes) return { raw: frame.raw, bytes };
    if (this.#redactor.hasPaths) {
      const text = this.#redactor.message(frame.raw, frame.msg);
      return { raw: EMPTY, bytes, preview: text.slice(0, this.#bodyBytes) };
    }
    return { raw: Buffer.from(frame.raw.subarray(0, this.#bodyBytes)), bytes, cut: true };
  }

  #append(s: FeedSession, type: string, fields: Record<string, unknown>, frame?: Entry['frame']): Entry {
    const time = Date.now();
    s.lastActivity = time;
    const entry: Entry = { seq: s.nextSeq++, gseq: ++this.#gseq, time, type, frame, fields };
    if (s.ring.length < this.#events) s.ring.push(entry);
    else {
      s.ring[s.head] = entry;
      s.head = (s.head + 1) % this.#events;
    }
    if (this.#subscribers.size > 0) this.#publish(s, entry);
    return entry;
  }

  /** An entry as the API shows it: redacted, the message as JSON (or a cut preview of it). */
  #render(s: FeedSession, e: Entry): Record<string, unknown> {
    const out: Record<string, unknown> = { seq: e.seq, time: iso(e.time), session: s.id, type: e.type };
    for (const [key, value] of Object.entries(e.fields)) {
      if (typeof value === 'string') out[key] = this.#redactor.text(value);
      // An HTTP exchange's headers: Mcp-Param-* copy tool arguments, so the header rules apply.
      else if (
        (key === 'headers' || key === 'responseHeaders') &&
        value !== null &&
        typeof value === 'object'
      )
        out[key] = this.#redactor.headers(value as Record<string, string>, SHOWN_HEADERS);
      else out[key] = value;
    }
    const f = e.frame;
    if (f) {
      out.bytes = f.bytes;
      if (f.preview !== undefined) {
        out.truncated = true;
        out.preview = f.preview;
      } else if (f.cut) {
        out.truncated = true;
        // The cut may split a multi-byte character: the replacement character marks it.
        out.preview = this.#redactor.fragment(f.raw.toString('utf8'));
      } else {
        out.message = JSON.parse(
          this.#redactor.message(f.raw, JSON.parse(f.raw.toString('utf8'))),
        ) as unknown;
      }
    }
    return out;
  }

  /** Entries of a session from oldest to newest. */
  #entries(s: FeedSession): Entry[] {
    return s.head === 0 ? s.ring : [...s.ring.slice(s.head), ...s.ring.slice(0, s.head)];
  }

  /** `GET /sessions`: live sessions, then the closed ones still kept. */
  sessions(): Record<string, unknown> {
    const rows = [...this.#sessions.values()].map((s) => ({
      id: s.id,
      transport: s.transport,
      upstream: s.upstream,
      era: s.era,
      ...(s.protocolVersion === undefined ? {} : { protocolVersion: s.protocolVersion }),
      ...(s.endpoint === undefined ? {} : { endpoint: s.endpoint }),
      ...(s.bridge === undefined ? {} : { bridge: s.bridge }),
      state: s.closedAt === undefined ? 'open' : 'closed',
      startedAt: iso(s.startedAt),
      closedAt: s.closedAt === undefined ? null : iso(s.closedAt),
      closeReason: s.closeReason ?? null,
      client: s.client
        ? { name: String(s.client.name ?? ''), version: String(s.client.version ?? '') }
        : null,
      server: s.server
        ? { name: String(s.server.name ?? ''), version: String(s.server.version ?? '') }
        : null,
      subject: s.subject ?? null,
      requests: s.requests,
      errors: s.errors,
      lastActivity: iso(s.lastActivity),
      lastSeq: s.nextSeq - 1,
    }));
    return { sessions: rows };
  }

  /** `GET /sessions/{id}/events?after=&limit=`: undefined when no such session is kept. */
  page(id: string, after: number, limit: number): Record<string, unknown> | undefined {
    const s = this.#sessions.get(id);
    if (!s) return undefined;
    const entries = this.#entries(s).filter((e) => e.seq > after);
    const page = entries.slice(0, limit);
    const oldest = this.#entries(s)[0]?.seq ?? s.nextSeq;
    return {
      session: id,
      events: page.map((e) => this.#render(s, e)),
      // Events before this seq were dropped from the ring (--feed-events).
      oldestSeq: oldest,
      lastSeq: s.nextSeq - 1,
      more: entries.length > page.length,
    };
  }

  /**
   * `GET /events`: a live SSE stream of every session's events (or one session's), resuming after the
   * global event id `lastEventId`. Returns false when too many streams are open.
   */
  subscribe(res: ServerResponse, session: string | undefined, lastEventId: number | undefined): boolean {
    if (this.#subscribers.size >= MAX_FEED_SUBSCRIBERS) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    });
    res.write(': mcpscope live feed\n\n');
    if (lastEventId !== undefined) {
      const missed: Array<[FeedSession, Entry]> = [];
      for (const s of this.#sessions.values()) {
        if (session !== undefined && s.id !== session) continue;
        for (const e of this.#entries(s)) if (e.gseq > lastEventId) missed.push([s, e]);
      }
      missed.sort((a, b) => a[1].gseq - b[1].gseq);
      for (const [s, e] of missed) this.#write(res, s, e);
    }
    const sub: Subscriber = { res, session };
    this.#subscribers.add(sub);
    res.once('close', () => this.#subscribers.delete(sub));
    return true;
  }

  #publish(s: FeedSession, e: Entry): void {
    for (const sub of this.#subscribers) {
      if (sub.session !== undefined && sub.session !== s.id) continue;
      if (sub.res.writableLength > MAX_FEED_SUBSCRIBER_BYTES) {
        // Too far behind: cut (the client resumes with Last-Event-ID, from what the rings still hold).
        this.#subscribers.delete(sub);
        sub.res.destroy();
        continue;
      }
      this.#write(sub.res, s, e);
    }
  }

  #write(res: ServerResponse, s: FeedSession, e: Entry): void {
    res.write(`id: ${e.gseq}\nevent: ${e.type}\ndata: ${JSON.stringify(this.#render(s, e))}\n\n`);
  }

  /** A comment on every live stream, so intermediaries keep them open. */
  keepAlive(): void {
    for (const sub of this.#subscribers) sub.res.write(': keepalive\n\n');
  }

  close(): void {
    for (const sub of this.#subscribers) sub.res.end();
    this.#subscribers.clear();
  }
}
