import type {
  BackpressureAction,
  DropReason,
  EventSink,
  ReconnectResult,
  StreamKindLabel,
  StreamSentEvent,
  UpstreamDeduplicatedEvent,
  UpstreamIdleEvent,
} from '../session/events.js';
import type { TransportKind } from './transport.js';

/** Whatever carries a session's event sink: a transport (its Session sets `onevent`). */
interface EventOwner {
  onevent?: EventSink;
}

/**
 * The events of a client-facing wire, emitted to its owner's session. Per-message events reuse one object
 * (no allocation on the hot path); nothing is built when nobody listens.
 */
export class ClientWireEvents {
  readonly #wire: TransportKind;
  readonly #owner: EventOwner;
  readonly #sent: StreamSentEvent;

  constructor(wire: TransportKind, owner: EventOwner) {
    this.#wire = wire;
    this.#owner = owner;
    this.#sent = { type: 'stream-sent', wire, idleSeconds: -1 };
  }

  /** Is anybody listening (so the caller may skip measuring)? */
  get active(): boolean {
    return this.#owner.onevent !== undefined;
  }

  opened(stream: StreamKindLabel): void {
    this.#owner.onevent?.({ type: 'stream-opened', wire: this.#wire, stream });
  }

  closed(seconds: number): void {
    this.#owner.onevent?.({ type: 'stream-closed', wire: this.#wire, seconds });
  }

  /** One event written; `idleSeconds` is the quiet time before it on a long-lived stream, else -1. */
  sent(idleSeconds: number): void {
    const emit = this.#owner.onevent;
    if (!emit) return;
    this.#sent.idleSeconds = idleSeconds;
    emit(this.#sent);
  }

  dropped(reason: DropReason): void {
    this.#owner.onevent?.({ type: 'undelivered', wire: this.#wire, reason });
  }

  resumed(ok: boolean): void {
    this.#owner.onevent?.({ type: 'stream-resumed', wire: this.#wire, ok });
  }

  backpressure(action: BackpressureAction): void {
    this.#owner.onevent?.({ type: 'backpressure', wire: this.#wire, action });
  }
}

/** The events of an upstream SSE client: reconnections, resumptions, duplicates dropped, idle time. */
export class UpstreamWireEvents {
  readonly #wire: TransportKind;
  readonly #owner: EventOwner;
  readonly #deduplicated: UpstreamDeduplicatedEvent;
  readonly #idle: UpstreamIdleEvent;

  constructor(wire: TransportKind, owner: EventOwner) {
    this.#wire = wire;
    this.#owner = owner;
    this.#deduplicated = { type: 'upstream-deduplicated', wire };
    this.#idle = { type: 'upstream-idle', wire, seconds: 0 };
  }

  /** Is anybody listening (so the caller may skip measuring)? */
  get active(): boolean {
    return this.#owner.onevent !== undefined;
  }

  reconnect(result: ReconnectResult): void {
    this.#owner.onevent?.({ type: 'upstream-reconnect', wire: this.#wire, result });
  }

  resumed(ok: boolean): void {
    this.#owner.onevent?.({ type: 'upstream-resumed', wire: this.#wire, ok });
  }

  deduplicated(): void {
    this.#owner.onevent?.(this.#deduplicated);
  }

  idle(seconds: number): void {
    const emit = this.#owner.onevent;
    if (!emit) return;
    this.#idle.seconds = seconds;
    emit(this.#idle);
  }
}
