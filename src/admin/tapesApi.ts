/**
 * The admin API of recorded tapes (the `--record` directory): `GET /tapes` lists them, newest first;
 * `GET /tapes/{id}` pages through one as the live feed's events (so the DevTools page shows it in the same
 * timeline); `GET /tapes/{id}/export?format=json|har` writes it as `mcpscope tape export` does.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { JsonRpcId } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';
import { errorClass } from '../session/outcome.js';
import { exportTape, type ExportFormat, type WriteText } from '../tape/export.js';
import { TAPE_EXTENSION, isMessageEvent, type TapeEvent, type TapeHeader } from '../tape/format.js';
import type { Redactor } from '../tape/redact.js';
import { listTapeFiles } from '../tape/store.js';
import { ExchangePairer, isErrorAnswer } from '../tape/summary.js';
import { TapeStream } from '../tape/tapeReader.js';
import { idOf, type AdminAnswer } from './breakpointsApi.js';
import { MAX_FEED_PAGE } from './feed.js';

/** Most tapes one `GET /tapes` lists (the newest). */
export const MAX_TAPES_LISTED = 1_000;
const DEFAULT_TAPES_LISTED = 100;

/** A tape's id: its file name less `.tape.jsonl` (no path, no `..`). */
const TAPE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const ONE = /^\/tapes\/([^/]{1,250})$/;
const EXPORT = /^\/tapes\/([^/]{1,250})\/export$/;
const WHOLE = /^\d{1,15}$/;

/** An export: written to the response a piece at a time. */
export interface TapeExport {
  readonly status: 200;
  readonly headers: Readonly<Record<string, string>>;
  write(write: WriteText): Promise<void>;
}

const bad = (parameter: string, error: string, allowed: string): AdminAnswer => ({
  status: 400,
  body: { error, parameter, allowed },
});

/** A tape's message or edge as a live feed event (src/admin/feed.ts), numbered from 1 in file order. */
interface TimelineEvent {
  seq: number;
  time: string;
  session: string;
  type: string;
  [field: string]: unknown;
}

function at(header: TapeHeader, t: number): string {
  return new Date(Date.parse(header.startedAt) + t).toISOString();
}

function kindOf(msg: { id?: unknown; method?: unknown; error?: unknown }): string {
  if (msg.method !== undefined) return msg.id === undefined ? 'notification' : 'request';
  return msg.error !== undefined ? 'error' : 'response';
}

export class TapesApi {
  readonly #dir: string | undefined;
  readonly #redactor: Redactor;

  /** `dir`: the --record directory, undefined when mcpscope does not record. */
  constructor(dir: string | undefined, redactor: Redactor) {
    this.#dir = dir;
    this.#redactor = redactor;
  }

  static owns(path: string): boolean {
    return path === '/tapes' || ONE.test(path) || EXPORT.test(path);
  }

  async handle(path: string, query: URLSearchParams): Promise<AdminAnswer | TapeExport> {
    const dir = this.#dir;
    if (dir === undefined) {
      return {
        status: 404,
        body: {
          error:
            'mcpscope is not recording: start it with --record DIR to keep every session as a tape (`mcpscope tape list DIR` reads older ones)',
        },
      };
    }
    if (path === '/tapes') return this.#list(dir, query);
    const exported = EXPORT.exec(path);
    const id = idOf(((exported ?? ONE.exec(path)) as RegExpExecArray)[1] as string);
    const file = this.#file(dir, id);
    if (typeof file !== 'string') return file;
    let tape: TapeStream;
    try {
      tape = await TapeStream.open(file);
    } catch (err) {
      const missing = (err as Error).message.includes('no tape at');
      return {
        status: missing ? 404 : 422,
        body: { error: missing ? `no tape ${id} in ${dir}; GET /tapes lists them` : (err as Error).message },
      };
    }
    if (exported) return this.#export(tape, id, query);
    return this.#page(tape, query);
  }

  /** The tape file `id` names in `dir`, or why it cannot be one (an id is a name, never a path). */
  #file(dir: string, id: string): string | AdminAnswer {
    const name = id.endsWith(TAPE_EXTENSION) ? id.slice(0, -TAPE_EXTENSION.length) : id;
    if (!TAPE_ID.test(name) || name.includes('..')) {
      return bad('id', `${JSON.stringify(id.slice(0, 100))} is not a tape id`, 'a tape id from GET /tapes');
    }
    const file = join(dir, `${name}${TAPE_EXTENSION}`);
    // Belt and braces: the file must sit in the directory itself.
    if (dirname(resolve(file)) !== resolve(dir)) {
      return bad('id', 'a tape id names a file in the --record directory', 'a tape id from GET /tapes');
    }
    return file;
  }

  async #list(dir: string, query: URLSearchParams): Promise<AdminAnswer> {
    const limitText = query.get('limit') ?? String(DEFAULT_TAPES_LISTED);
    const limit = Number(limitText);
    if (!WHOLE.test(limitText) || limit < 1 || limit > MAX_TAPES_LISTED) {
      return bad('limit', `limit must be 1 to ${MAX_TAPES_LISTED}`, `1 to ${MAX_TAPES_LISTED}`);
    }
    let files: string[];
    try {
      files = await listTapeFiles(dir);
    } catch (err) {
      return { status: 404, body: { error: (err as Error).message } };
    }
    const newest = files.slice(-limit).reverse();
    const tapes = [];
    for (const file of newest) {
      const row = await this.#row(file);
      if (row) tapes.push(row);
    }
    return { status: 200, body: { dir, total: files.length, tapes } };
  }

  /** One tape as listed: from its header and its file (undefined when it cannot be read). */
  async #row(file: string): Promise<Record<string, unknown> | undefined> {
    let tape: TapeStream;
    let modifiedAt: Date;
    try {
      modifiedAt = (await stat(file)).mtime;
      tape = await TapeStream.open(file);
    } catch {
      return undefined;
    }
    await tape.close();
    const h = tape.header;
    const peer = (p: TapeHeader['clientInfo']) =>
      p ? { name: String(p.name ?? ''), version: String(p.version ?? '') } : null;
    return {
      id: h.id,
      file: basename(file),
      sizeBytes: tape.sizeBytes,
      startedAt: h.startedAt,
      modifiedAt: modifiedAt.toISOString(),
      session: h.sessionId,
      transport: h.transport,
      upstream: h.upstream,
      client: peer(h.clientInfo),
      server: peer(h.serverInfo),
    };
  }

  /** `?after=&limit=`: the tape's events as the live feed's, oldest first. */
  async #page(tape: TapeStream, query: URLSearchParams): Promise<AdminAnswer> {
    const afterText = query.get('after') ?? '0';
    const limitText = query.get('limit') ?? '100';
    if (!WHOLE.test(afterText)) {
      await tape.close();
      return bad('after', 'after must be a whole number (an event seq)', '0 or more');
    }
    const limit = Number(limitText);
    if (!WHOLE.test(limitText) || limit < 1 || limit > MAX_FEED_PAGE) {
      await tape.close();
      return bad('limit', `limit must be 1 to ${MAX_FEED_PAGE}`, `1 to ${MAX_FEED_PAGE}`);
    }
    const after = Number(afterText);
    const { header } = tape;
    const events: TimelineEvent[] = [];
    const pairer = new ExchangePairer();
    const requestSeq = new WeakMap<object, number>();
    let seq = 0;
    let more = false;
    for await (const e of tape.events()) {
      seq++;
      // Pairing needs every request before the page, so those are read (and paired) too.
      const request = pairer.request(e);
      if (request) requestSeq.set(request, seq);
      const answered = pairer.answered(e);
      if (seq <= after) continue;
      if (events.length === limit) {
        more = true;
        break;
      }
      events.push(this.#event(header, e, seq, answered ? requestSeq.get(answered) : undefined, answered?.t));
    }
    if (more) await tape.close();
    return {
      status: 200,
      body: {
        id: header.id,
        header,
        events,
        more,
        ...(more ? {} : { complete: tape.complete, torn: tape.torn }),
      },
    };
  }

  #event(
    header: TapeHeader,
    e: TapeEvent,
    seq: number,
    requestSeq: number | undefined,
    requestT: number | undefined,
  ): TimelineEvent {
    const base = { seq, time: at(header, e.t), session: header.sessionId };
    if (isMessageEvent(e)) {
      const msg = this.#redactor.messageValue(e.msg) as { id?: JsonRpcId; method?: string; error?: unknown };
      const kind = kindOf(msg);
      const out: TimelineEvent = {
        ...base,
        type: 'message',
        direction: e.dir === 'c2s' ? 'client-to-server' : 'server-to-client',
        kind,
        verdict: e.drop === undefined ? 'forward' : e.drop === 'reply' ? 'reply' : 'drop',
        bytes: Buffer.byteLength(JSON.stringify(e.msg)),
        message: msg,
      };
      if (msg.method !== undefined) out.method = msg.method;
      if (msg.id !== undefined) out.id = msg.id;
      if (e.synthetic) out.synthetic = true;
      if (e.rule) {
        out.rule = e.rule.rule;
        out.ruleAction = e.rule.action;
      }
      if (e.drop !== undefined && e.drop !== 'reply') out.dropReason = e.drop;
      if (kind === 'response' || kind === 'error') {
        const failed = kind === 'error' || isErrorAnswer(e);
        out.outcome = {
          status: kind === 'error' ? errorClass({ msg: e.msg } as Frame) : 'ok',
          failed,
          side: e.synthetic ? 'local' : 'upstream',
        };
        if (requestSeq !== undefined && requestT !== undefined) {
          out.requestSeq = requestSeq;
          out.durationMs = Math.max(0, Math.round((e.t - requestT) * 1000) / 1000);
        }
      }
      return out;
    }
    switch (e.edge) {
      case 'event': {
        const event = { ...(e.event ?? { type: 'event' }) };
        if (typeof event.line === 'string') event.line = this.#redactor.text(event.line);
        return { ...base, ...event, type: event.type };
      }
      case 'error':
        return { ...base, type: 'error', code: e.code, message: e.message };
      case 'closed':
        return { ...base, type: 'session-closed', ...(e.reason === undefined ? {} : { message: e.reason }) };
      case 'dropped':
        return {
          ...base,
          type: 'error',
          code: 'TAPE_EVENTS_DROPPED',
          message: `${e.count ?? 0} events were not recorded here: the tape writer fell behind`,
        };
      default: {
        // `initialized`: the handshake's outcome, where the session's story begins.
        const { t: _t, edge: _edge, ...info } = e;
        return { ...base, ...info, type: 'session-opened' };
      }
    }
  }

  #export(tape: TapeStream, id: string, query: URLSearchParams): AdminAnswer | TapeExport {
    const format = query.get('format') ?? 'json';
    if (format !== 'json' && format !== 'har') {
      void tape.close();
      return bad(
        'format',
        `format must be json or har, not ${JSON.stringify(format.slice(0, 20))}`,
        'json, har',
      );
    }
    return {
      status: 200,
      headers: {
        'content-type': 'application/json',
        'content-disposition': `attachment; filename="${id}.${format}"`,
        'cache-control': 'no-store',
      },
      write: (write) => exportTape(tape, format as ExportFormat, write),
    };
  }
}
