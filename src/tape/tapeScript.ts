// A tape prepared for replay: each client message and what the server said that depends on it.
import type { JsonRpcId } from '../jsonrpc/errors.js';
import { isMessageEvent, type TapeMessageEvent } from './format.js';
import { targetOf, withoutMeta } from './match.js';
import { Redactor } from './redact.js';
import type { Tape } from './tapeReader.js';

/** One client message of the tape: what a live one is matched against, and what it lets the server say. */
export interface Anchor {
  readonly index: number;
  readonly event: TapeMessageEvent;
  readonly kind: 'request' | 'notification' | 'response';
  readonly method: string | undefined;
  readonly id: JsonRpcId | undefined;
  /** Params without `_meta`, for matching. */
  readonly params: unknown;
  readonly target: string | undefined;
  readonly progressToken: string | number | undefined;
  /**
   * What the server said that is due once this client message has come, in recorded order: what belongs
   * to it (a request's answer, progress and other messages the tape relates to it) and what belongs to no
   * request and was recorded after it. What belongs to another request follows that request instead, so
   * concurrent calls are answered whatever order they come in.
   */
  readonly followers: Follower[];
  /**
   * For a request: the answer the client got, when the tape holds it (among its own followers, or a client
   * reply's when the server asked the client something first). Undefined when the recording was cut
   * before it came.
   */
  answer: TapeMessageEvent | undefined;
}

/** A recorded server message and the client request it belongs to, if any. */
export interface Follower {
  readonly event: TapeMessageEvent;
  readonly owner: Anchor | undefined;
}

/** A progress token or request id, when the value is one. */
export function tokenOf(value: unknown): string | number | undefined {
  return typeof value === 'string' || typeof value === 'number' ? value : undefined;
}

/** A tape prepared for replay, once, and shared by every session that replays it. */
export class TapeScript {
  readonly tape: Tape;
  readonly anchors: Anchor[] = [];
  /** Server messages recorded before the client said anything. */
  readonly preamble: Follower[] = [];
  /**
   * The rules the tape was redacted with: a live request is redacted by them before it is compared, so a
   * secret the tape never held neither counts as a difference nor is quoted in one.
   */
  readonly redactor: Redactor;

  constructor(tape: Tape) {
    this.tape = tape;
    const rules = tape.header.redaction as Partial<Tape['header']['redaction']> | undefined;
    this.redactor = new Redactor({
      enabled: rules?.enabled ?? true,
      paths: rules?.paths ?? [],
      patterns: rules?.patterns ?? [],
    });
    let current: Anchor | undefined;
    /** Client requests waiting for their recorded answer, by recorded id. */
    const open = new Map<JsonRpcId, Anchor>();
    /** The latest client request with that id, answered or not (what `rel` names). */
    const byId = new Map<JsonRpcId, Anchor>();
    const byToken = new Map<string | number, Anchor>();
    /** Server requests (sampling, elicitation, roots) by recorded id → the client request they were for. */
    const asked = new Map<JsonRpcId, Anchor | undefined>();
    /** A client request → the latest client reply to a server request made for it. */
    const replied = new Map<Anchor, Anchor>();
    const ownerOf = (event: TapeMessageEvent): Anchor | undefined => {
      const msg = event.msg as {
        id?: JsonRpcId;
        method?: string;
        params?: { progressToken?: unknown; requestId?: unknown };
      };
      if (msg.method === undefined) return msg.id === undefined ? undefined : open.get(msg.id);
      if (event.rel !== undefined) return byId.get(event.rel);
      if (msg.method === 'notifications/progress') {
        const token = tokenOf(msg.params?.progressToken);
        return token === undefined ? undefined : byToken.get(token);
      }
      if (msg.method === 'notifications/cancelled') {
        const id = tokenOf(msg.params?.requestId);
        return id === undefined ? undefined : byId.get(id);
      }
      return undefined;
    };
    for (const event of tape.events) {
      if (!isMessageEvent(event)) continue;
      // mcpscope's own messages to the server (a timeout's cancellation) were never the client's.
      if (event.dir === 'c2s' && event.synthetic) continue;
      if (event.dir === 'c2s') {
        const msg = event.msg as {
          id?: JsonRpcId;
          method?: string;
          params?: { _meta?: { progressToken?: unknown } };
        };
        const kind =
          msg.method === undefined ? 'response' : msg.id === undefined ? 'notification' : 'request';
        const token = tokenOf(msg.params?._meta?.progressToken);
        current = {
          index: this.anchors.length,
          event,
          kind,
          method: msg.method,
          id: msg.id,
          params: withoutMeta(msg.params),
          target: msg.method ? targetOf(msg.method, msg.params) : undefined,
          progressToken: token,
          followers: [],
          answer: undefined,
        };
        this.anchors.push(current);
        if (kind === 'request') {
          open.set(msg.id as JsonRpcId, current);
          byId.set(msg.id as JsonRpcId, current);
          if (token !== undefined) byToken.set(token, current);
        } else if (kind === 'response' && msg.id !== undefined) {
          const owner = asked.get(msg.id);
          if (owner) replied.set(owner, current);
        }
      } else if (event.drop === undefined) {
        const owner = ownerOf(event);
        // What belongs to a request follows it, or the client's latest reply to a question asked for it
        // (a server request waits for the client's answer before what followed it is sent, as live).
        const trigger = owner ? (replied.get(owner) ?? owner) : current;
        (trigger?.followers ?? this.preamble).push({ event, owner });
        const msg = event.msg as { id?: JsonRpcId; method?: string };
        if (msg.method === undefined && owner) {
          owner.answer = event;
          open.delete(msg.id as JsonRpcId);
        } else if (msg.method !== undefined && msg.id !== undefined) {
          asked.set(msg.id, owner);
        }
      }
    }
  }
}
