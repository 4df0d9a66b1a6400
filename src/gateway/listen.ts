/**
 * A 2026-07-28 client's `subscriptions/listen` through the gateway: one listen upstream per upstream (with
 * the resource subscriptions that upstream serves), their notifications handed on under the client's
 * subscription id, one acknowledgement once every upstream has acknowledged (the union of what they
 * honour), and the client's listen answered once every upstream's has ended.
 */
import { objectOr } from '../bridge/bridge.js';
import type { JsonRpcId, McpscopeError } from '../jsonrpc/errors.js';
import { META_SUBSCRIPTION_ID, metaOf } from '../jsonrpc/era.js';
import { errorFrame, syntheticFrame, withMessage, type Frame } from '../jsonrpc/framing.js';
import type { Member } from './member.js';

type Json = Record<string, unknown>;

export interface ListenHost {
  open(member: Member): Promise<void>;
  /** Send a message of the gateway's own to an open upstream (with the client request's HTTP headers). */
  send(member: Member, msg: Json, like: Frame | undefined): void;
  nextId(): string;
  toClient(frame: Frame): void;
  memberForUri(uri: string): Member | undefined;
  circuitOpen(member: Member): boolean;
}

interface Listen {
  readonly clientId: JsonRpcId;
  /** Upstream listens still open, by the gateway's id for each. */
  readonly parts: Map<string, Member>;
  /** Upstreams whose acknowledgement is awaited (those being opened included). */
  awaiting: number;
  acknowledged: boolean;
  readonly honored: Json;
}

const ACK = 'notifications/subscriptions/acknowledged';

export class GatewayListens {
  readonly #host: ListenHost;
  readonly #byClient = new Map<JsonRpcId, Listen>();
  readonly #byPart = new Map<string, Listen>();

  constructor(host: ListenHost) {
    this.#host = host;
  }

  listen(frame: Frame, members: readonly Member[]): void {
    const params = objectOr((frame.msg as { params?: unknown }).params);
    const wanted = objectOr(params.notifications);
    const uris = Array.isArray(wanted.resourceSubscriptions)
      ? (wanted.resourceSubscriptions as unknown[]).filter((u): u is string => typeof u === 'string')
      : undefined;
    const clientId = frame.id as JsonRpcId;
    const targets = members.filter((m) => !this.#host.circuitOpen(m));
    const listen: Listen = {
      clientId,
      parts: new Map(),
      awaiting: targets.length,
      acknowledged: false,
      honored: {},
    };
    this.#byClient.set(clientId, listen);
    if (targets.length === 0) this.#acknowledge(listen);
    for (const member of targets) {
      const notifications: Json = { ...wanted };
      if (uris !== undefined)
        notifications.resourceSubscriptions = uris.filter((u) => this.#host.memberForUri(u) === member);
      this.#host.open(member).then(
        () => {
          if (this.#byClient.get(clientId) !== listen) return;
          const id = this.#host.nextId();
          listen.parts.set(id, member);
          this.#byPart.set(id, listen);
          this.#host.send(
            member,
            { jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { ...params, notifications } },
            frame,
          );
        },
        () => this.#settled(listen),
      );
    }
  }

  /** A notification on one of the gateway's listens: handed on under the client's id. False: not one. */
  relay(_member: Member, frame: Frame): boolean {
    if (this.#byPart.size === 0) return false;
    const meta = metaOf(frame.msg);
    const sub = meta?.[META_SUBSCRIPTION_ID];
    const listen = typeof sub === 'string' ? this.#byPart.get(sub) : undefined;
    if (!listen) return false;
    const msg = frame.msg as { params?: Json };
    if (frame.method === ACK) {
      for (const [key, value] of Object.entries(objectOr(msg.params?.notifications))) {
        if (Array.isArray(value))
          listen.honored[key] = [...((listen.honored[key] as unknown[]) ?? []), ...value];
        else if (value === true || listen.honored[key] === undefined) listen.honored[key] = value;
      }
      this.#settled(listen);
      return true;
    }
    const params = { ...msg.params, _meta: { ...meta, [META_SUBSCRIPTION_ID]: listen.clientId } };
    this.#host.toClient(withMessage(frame, { ...msg, params }));
    return true;
  }

  /** One upstream acknowledged (or will never): once none is awaited, the client is acknowledged. */
  #settled(listen: Listen): void {
    listen.awaiting--;
    if (listen.awaiting <= 0 && !listen.acknowledged) this.#acknowledge(listen);
  }

  #acknowledge(listen: Listen): void {
    listen.acknowledged = true;
    if (this.#byClient.get(listen.clientId) !== listen) return;
    this.#host.toClient(
      syntheticFrame({
        jsonrpc: '2.0',
        method: ACK,
        params: { notifications: listen.honored, _meta: { [META_SUBSCRIPTION_ID]: listen.clientId } },
      }),
    );
  }

  /** An upstream's listen ended (its answer): the client's ends with the last of them. */
  answered(id: string, frame: Frame): void {
    this.#ended(id, (clientId) => withMessage(frame, { ...(frame.msg as object), id: clientId }));
  }

  partFailed(id: string, err: McpscopeError): void {
    this.#ended(id, (clientId) => errorFrame(clientId, err));
  }

  #ended(id: string, answer: (clientId: JsonRpcId) => Frame): void {
    const listen = this.#byPart.get(id);
    if (!listen) return;
    this.#byPart.delete(id);
    listen.parts.delete(id);
    if (!listen.acknowledged) this.#settled(listen);
    if (listen.parts.size > 0 || listen.awaiting > 0) return;
    this.#byClient.delete(listen.clientId);
    this.#host.toClient(answer(listen.clientId));
  }

  /** An upstream went away: its listens end. */
  memberLost(member: Member, err: McpscopeError): void {
    for (const [id, listen] of this.#byPart) if (listen.parts.get(id) === member) this.partFailed(id, err);
  }

  /** The client cancelled its listen: so are the upstreams'. True when it was one. */
  cancel(clientId: JsonRpcId): boolean {
    const listen = this.#byClient.get(clientId);
    if (!listen) return false;
    this.#byClient.delete(clientId);
    for (const [id, member] of listen.parts) {
      this.#byPart.delete(id);
      if (member.transport) {
        this.#host.send(
          member,
          {
            jsonrpc: '2.0',
            method: 'notifications/cancelled',
            params: { requestId: id, reason: 'the client closed its subscription' },
          },
          undefined,
        );
      }
    }
    return true;
  }

  close(): void {
    this.#byClient.clear();
    this.#byPart.clear();
  }
}
