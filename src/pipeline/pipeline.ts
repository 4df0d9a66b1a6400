import type { Logger } from 'pino';
import { withMessageOf, type Frame } from '../jsonrpc/framing.js';
import { errorMessage, type McpscopeError } from '../jsonrpc/errors.js';
import type { Session } from '../session/session.js';
import type { SessionEvent } from '../session/events.js';
import {
  FORWARD,
  type Direction,
  type ObserverStage,
  type Stage,
  type TransformerStage,
  type Verdict,
} from './stage.js';
import {
  DEFAULT_HOLD_TIMEOUT_MS,
  DEFAULT_MAX_HELD,
  describeMessage,
  pipelineFull,
  refusal,
  stageTimeout,
  type RefusalReason,
} from './refusal.js';

/** Where the runner hands a message once its verdict is known. Implemented by Session. */
export interface PipelineTarget {
  deliver(frame: Frame, direction: Direction): void;
}

/** A message on hold: the stage that holds it, and what queued behind it (same session and direction). */
interface Hold {
  readonly stage: TransformerStage;
  readonly queue: Frame[];
  /** An overflow was logged for this hold already (each one is counted; one log line is enough). */
  overflowLogged: boolean;
}

type Held = Record<Direction, Hold | undefined>;

/**
 * What the pipeline reports besides its log (src/proxy.ts wires it to the metrics). Stage names come from
 * code (the built-in stages and the `stages` option), never from traffic, so they make bounded labels.
 */
export interface PipelineHooks {
  /** `stage` held a message past `holdTimeoutMs`: it was refused (see Pipeline). */
  holdTimedOut(stage: string): void;
  /** A message arrived behind one `stage` holds, with `maxHeld` already waiting: it was refused. */
  heldOverflow(stage: string): void;
  /** A stage threw in `hook` (`transform`, `observe`, `onSessionOpen`, …), or its held Promise rejected. */
  stageFailed(stage: string, hook: string): void;
}

export interface PipelineOptions {
  /** Longest a transformer may hold one message, ms. Default DEFAULT_HOLD_TIMEOUT_MS (30 s). */
  holdTimeoutMs?: number;
  /** Messages that may wait behind a held one, per session and direction. Default DEFAULT_MAX_HELD (1,000). */
  maxHeld?: number;
  /** Told of what the pipeline survives (a stage that throws, a hold timed out, a full queue). Default none. */
  hooks?: PipelineHooks | null;
}

function isPromise(v: Verdict | Promise<Verdict>): v is Promise<Verdict> {
  return typeof (v as Promise<Verdict>).then === 'function';
}

export function opposite(direction: Direction): Direction {
  return direction === 'client-to-server' ? 'server-to-client' : 'client-to-server';
}

/**
 * Runs the stages, in the order given, for every message and direction. The stages are split into
 * transformers and observers once, here; an empty list is stored as null so the common path pays one check.
 *
 * A held message (a transformer returned a Promise) waits at most `holdTimeoutMs`, and at most `maxHeld`
 * messages wait behind it. A message refused for either reason is never lost silently: a client's request
 * is answered with an error (STAGE_TIMEOUT, PIPELINE_FULL), the server's answer to one is replaced by that
 * error (the client would wait for ever), and anything else is dropped for observers to see, with the
 * reason `hold_timeout` or `held_overflow`.
 */
export class Pipeline {
  readonly stages: readonly Stage[];
  readonly #transformers: readonly TransformerStage[] | null;
  readonly #observers: readonly ObserverStage[] | null;
  /** Stages with an onEvent hook (null: none, so emitting costs one check). */
  readonly #eventStages: readonly Stage[] | null;
  /** Some stage reads `http` events: the wires build them (see Stage.httpExchanges). */
  readonly httpExchanges: boolean;
  readonly #logger: Logger;
  readonly #hooks: PipelineHooks | null;
  readonly #holdTimeoutMs: number;
  readonly #maxHeld: number;
  /** Sessions with a message on hold, and what queued behind it per direction. */
  readonly #held = new WeakMap<Session, Held>();

  constructor(stages: readonly Stage[], logger: Logger, options: PipelineOptions = {}) {
    this.stages = stages;
    const transformers = stages.filter((s): s is TransformerStage => s.kind === 'transformer');
    const observers = stages.filter((s): s is ObserverStage => s.kind === 'observer');
    this.#transformers = transformers.length > 0 ? transformers : null;
    this.#observers = observers.length > 0 ? observers : null;
    const listening = stages.filter((s) => s.onEvent !== undefined);
    this.#eventStages = listening.length > 0 ? listening : null;
    this.httpExchanges = listening.some((s) => s.httpExchanges === true);
    this.#logger = logger;
    this.#hooks = options.hooks ?? null;
    this.#holdTimeoutMs = options.holdTimeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS;
    this.#maxHeld = options.maxHeld ?? DEFAULT_MAX_HELD;
  }

  /** Run one message through the stages and deliver it (or its replacement) to `target`. */
  process(session: Session & PipelineTarget, frame: Frame, direction: Direction): void {
    if (this.#transformers === null) {
      this.#finish(session, frame, direction, FORWARD);
      return;
    }
    const hold = this.#held.get(session)?.[direction];
    if (hold) {
      if (hold.queue.length < this.#maxHeld) hold.queue.push(frame);
      else this.#overflow(session, frame, direction, hold);
      return;
    }
    this.#run(session, frame, direction, 0);
  }

  /** A message the session could not route (e.g. an answer to no pending request): observers see it dropped. */
  dropped(session: Session, frame: Frame, direction: Direction, reason: string): void {
    const observers = this.#observers;
    if (observers === null) return;
    const verdict: Verdict = { action: 'drop', reason };
    for (const stage of observers) {
      try {
        stage.observe(frame, session, direction, verdict);
      } catch (err) {
        this.#stageFailed(stage, 'observe', err);
      }
    }
  }

  sessionOpened(session: Session): void {
    for (const stage of this.stages) {
      if (stage.onSessionOpen) this.#safely(stage, 'onSessionOpen', () => stage.onSessionOpen?.(session));
    }
  }

  sessionClosed(session: Session, reason: McpscopeError | undefined): void {
    for (const stage of this.stages) {
      if (stage.onSessionClose) {
        this.#safely(stage, 'onSessionClose', () => stage.onSessionClose?.(session, reason));
      }
    }
  }

  error(session: Session, err: McpscopeError): void {
    for (const stage of this.stages) {
      if (stage.onError) this.#safely(stage, 'onError', () => stage.onError?.(session, err));
    }
  }

  /** A session event (see src/session/events.ts) for the stages that read them. */
  event(session: Session, event: SessionEvent): void {
    const stages = this.#eventStages;
    if (stages === null) return;
    for (const stage of stages) {
      try {
        stage.onEvent?.(session, event);
      } catch (err) {
        this.#stageFailed(stage, 'onEvent', err);
      }
    }
  }

  upstreamRestored(session: Session): void {
    for (const stage of this.stages) {
      if (stage.onUpstreamRestored) {
        this.#safely(stage, 'onUpstreamRestored', () => stage.onUpstreamRestored?.(session));
      }
    }
  }

  #run(session: Session & PipelineTarget, frame: Frame, direction: Direction, from: number): void {
    const transformers = this.#transformers ?? [];
    let current = frame;
    for (let i = from; i < transformers.length; i++) {
      const stage = transformers[i] as TransformerStage;
      let verdict: Verdict | Promise<Verdict>;
      try {
        verdict = stage.transform(current, session, direction);
      } catch (err) {
        this.#stageFailed(stage, 'transform', err);
        continue;
      }
      if (isPromise(verdict)) {
        this.#hold(session, direction, current, verdict, stage, i);
        return;
      }
      if (verdict.action === 'forward') continue;
      if (verdict.action === 'rewrite') {
        current = withMessageOf(current, verdict.frame);
        continue;
      }
      this.#finish(session, current, direction, verdict);
      return;
    }
    this.#finish(session, current, direction, FORWARD);
  }

  #hold(
    session: Session & PipelineTarget,
    direction: Direction,
    frame: Frame,
    pending: Promise<Verdict>,
    stage: TransformerStage,
    index: number,
  ): void {
    let held = this.#held.get(session);
    if (!held) {
      held = { 'client-to-server': undefined, 'server-to-client': undefined };
      this.#held.set(session, held);
    }
    // Held again by a later stage as it resumed: what waits behind it keeps waiting, in order.
    const hold: Hold = { stage, queue: held[direction]?.queue ?? [], overflowLogged: false };
    held[direction] = hold;
    let settled = false;
    const limit = stage.holdTimeoutMs ?? this.#holdTimeoutMs;
    const timer = setTimeout(() => {
      settled = true;
      this.#timedOut(session, frame, direction, stage, limit);
      this.#release(session, direction, hold);
    }, limit);
    // One timer per hold (only a transformer that returns a Promise makes one); it must not keep the
    // process alive on its own.
    timer.unref();
    const resume = (verdict: Verdict): void => {
      if (settled) {
        this.#logger.warn(
          { stage: stage.name, session: session.id, verdict: verdict.action },
          `pipeline stage decided on a ${describeMessage(frame)} after its hold had timed out; the decision is ignored`,
        );
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (verdict.action === 'forward') this.#run(session, frame, direction, index + 1);
      else if (verdict.action === 'rewrite')
        this.#run(session, withMessageOf(frame, verdict.frame), direction, index + 1);
      else this.#finish(session, frame, direction, verdict);
      this.#release(session, direction, hold);
    };
    pending.then(resume, (err: unknown) => {
      this.#stageFailed(stage, 'transform', err);
      resume(FORWARD);
    });
  }

  /** Run what queued behind a held message, in order, until the queue drains or another hold starts. */
  #release(session: Session & PipelineTarget, direction: Direction, hold: Hold): void {
    const held = this.#held.get(session);
    // Held again by a later stage: the new hold owns the queue now.
    if (!held || held[direction] !== hold) return;
    held[direction] = undefined;
    const queue = hold.queue;
    while (queue.length > 0) {
      const next = queue.shift() as Frame;
      this.#run(session, next, direction, 0);
      const again = held[direction] as Hold | undefined;
      if (again) {
        again.queue.push(...queue);
        return;
      }
    }
  }

  #timedOut(
    session: Session & PipelineTarget,
    frame: Frame,
    direction: Direction,
    stage: Stage,
    ms: number,
  ): void {
    this.#hooks?.holdTimedOut(stage.name);
    this.#logger.warn(
      { stage: stage.name, session: session.id, direction, id: frame.id, holdTimeoutMs: ms },
      `pipeline stage held a ${describeMessage(frame)} for ${ms} ms without deciding; refused`,
    );
    const err = stageTimeout(stage.name, frame, ms);
    this.#refuse(session, frame, direction, err, 'hold_timeout');
  }

  #overflow(session: Session & PipelineTarget, frame: Frame, direction: Direction, hold: Hold): void {
    const stage = hold.stage.name;
    const max = this.#maxHeld;
    this.#hooks?.heldOverflow(stage);
    if (!hold.overflowLogged) {
      hold.overflowLogged = true;
      this.#logger.warn(
        { stage, session: session.id, direction, maxHeld: max },
        `${max} messages wait behind one that pipeline stage "${stage}" holds; later ones are refused until it lets go`,
      );
    }
    const err = pipelineFull(stage, frame, max);
    this.#refuse(session, frame, direction, err, 'held_overflow');
  }

  /** A message the pipeline will not pass on: whoever waits for an answer gets `err` instead (see refusal()). */
  #refuse(
    session: Session & PipelineTarget,
    frame: Frame,
    direction: Direction,
    err: McpscopeError,
    reason: RefusalReason,
  ): void {
    const { verdict, answer } = refusal(frame, direction, err, reason);
    this.#finish(session, frame, direction, verdict);
    if (answer) this.#finish(session, answer, direction, FORWARD);
    if (answer || verdict.action === 'reply') this.error(session, err);
  }

  #finish(session: Session & PipelineTarget, frame: Frame, direction: Direction, verdict: Verdict): void {
    if (verdict.action === 'forward') session.deliver(frame, direction);
    else if (verdict.action === 'reply') session.deliver(verdict.frame, opposite(direction));
    const observers = this.#observers;
    if (observers === null) return;
    for (let i = 0; i < observers.length; i++) {
      const stage = observers[i] as ObserverStage;
      try {
        stage.observe(frame, session, direction, verdict);
      } catch (err) {
        this.#stageFailed(stage, 'observe', err);
      }
    }
  }

  #safely(stage: Stage, hook: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#stageFailed(stage, hook, err);
    }
  }

  #stageFailed(stage: Stage, hook: string, err: unknown): void {
    this.#hooks?.stageFailed(stage.name, hook);
    this.#logger.error(
      { stage: stage.name, hook, err: errorMessage(err) },
      'pipeline stage failed; message continues',
    );
  }
}
