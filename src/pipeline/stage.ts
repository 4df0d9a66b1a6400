import type { Frame } from '../jsonrpc/framing.js';
import type { McpscopeError } from '../jsonrpc/errors.js';
import type { Session } from '../session/session.js';
import type { SessionEvent } from '../session/events.js';

export type Direction = 'client-to-server' | 'server-to-client';

/** What a transformer decides for one message. */
export type Verdict =
  | { readonly action: 'forward' }
  /**
   * Forward this message instead. Only the message is taken from `frame` (raw, msg, kind, id, method,
   * error); its context (related request, route, trace context, arrival time, headers…) stays the original
   * frame's. Build it with `withMessage(frame, msg)`.
   */
  | { readonly action: 'rewrite'; readonly frame: Frame }
  /** Answer the sender on the other side's behalf; the original message goes no further. */
  | { readonly action: 'reply'; readonly frame: Frame }
  /** Stop the message; the reason is shown to observers. */
  | { readonly action: 'drop'; readonly reason: string };

export const FORWARD: Verdict = Object.freeze({ action: 'forward' });

interface StageHooks {
  readonly name: string;
  onSessionOpen?(session: Session): void;
  onSessionClose?(session: Session, reason: McpscopeError | undefined): void;
  /** An error mcpscope raised for this session (rejected input, upstream failure, timeout). */
  onError?(session: Session, err: McpscopeError): void;
  /** The session's upstream lost its state (see onError) and is back: a restarted server answered its handshake. */
  onUpstreamRestored?(session: Session): void;
  /**
   * Everything else that happens to the session, in order (streams, reconnections, backpressure, its
   * server process, stderr lines): see src/session/events.ts. Must not await; transient events must not
   * be kept.
   */
  onEvent?(session: Session, event: SessionEvent): void;
  /**
   * This stage reads `http` events (HTTP exchange summaries). They cost every HTTP request a little, so
   * they are built only when some stage says so. Default false.
   */
  readonly httpExchanges?: boolean;
}

/**
 * May change the outcome of a message. Returning a Promise holds the message (and every later message of
 * the same session and direction, to keep order) until it settles, for at most the pipeline's hold timeout;
 * past it, or past the bound on what waits behind, a message is refused (see Pipeline).
 */
export interface TransformerStage extends StageHooks {
  readonly kind: 'transformer';
  /** Longest this stage may hold one message, ms, when it needs longer than the pipeline's (a breakpoint). */
  readonly holdTimeoutMs?: number;
  transform(frame: Frame, session: Session, direction: Direction): Verdict | Promise<Verdict>;
}

/** Sees every message with its final verdict. Must not await: hand slow work to a bounded queue. */
export interface ObserverStage extends StageHooks {
  readonly kind: 'observer';
  observe(frame: Frame, session: Session, direction: Direction, verdict: Verdict): void;
}

export type Stage = TransformerStage | ObserverStage;
