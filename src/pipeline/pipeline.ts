import type { Logger } from 'pino';
import type { Frame } from '../jsonrpc/framing.js';
import { errorMessage, type McpscopeError } from '../jsonrpc/errors.js';
import type { Session } from '../session/session.js';
import {
  FORWARD,
  type Direction,
  type ObserverStage,
  type Stage,
  type TransformerStage,
  type Verdict,
} from './stage.js';

/** Where the runner hands a message once its verdict is known. Implemented by Session. */
export interface PipelineTarget {
  deliver(frame: Frame, direction: Direction): void;
}

type Held = Record<Direction, Frame[] | undefined>;

/**
 * What the pipeline reports besides its log (src/proxy.ts wires it to the metrics). Stage names come from
 * code (the built-in stages and the `stages` option), never from traffic, so they make bounded labels.
 */
export interface PipelineHooks {
  /** A stage threw in `hook` (`transform`, `observe`, `onSessionOpen`, …), or its held Promise rejected. */
  stageFailed(stage: string, hook: string): void;
}

export interface PipelineOptions {
  /** Told of what the pipeline survives (a stage that throws). Default none. */
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
 */
export class Pipeline {
  readonly stages: readonly Stage[];
  readonly #transformers: readonly TransformerStage[] | null;
  readonly #observers: readonly ObserverStage[] | null;
  readonly #logger: Logger;
  readonly #hooks: PipelineHooks | null;
  /** Sessions with a message on hold, and what queued behind it per direction. */
  readonly #held = new WeakMap<Session, Held>();

  constructor(stages: readonly Stage[], logger: Logger, options: PipelineOptions = {}) {
    this.stages = stages;
    const transformers = stages.filter((s): s is TransformerStage => s.kind === 'transformer');
    const observers = stages.filter((s): s is ObserverStage => s.kind === 'observer');
    this.#transformers = transformers.length > 0 ? transformers : null;
    this.#observers = observers.length > 0 ? observers : null;
    this.#logger = logger;
    this.#hooks = options.hooks ?? null;
  }

  /** Run one message through the stages and deliver it (or its replacement) to `target`. */
  process(session: Session & PipelineTarget, frame: Frame, direction: Direction): void {
    if (this.#transformers === null) {
      this.#finish(session, frame, direction, FORWARD);
      return;
    }
    const held = this.#held.get(session);
    const queue = held?.[direction];
    if (queue) {
      queue.push(frame);
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
        current = verdict.frame;
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
    held[direction] = [];
    const resume = (verdict: Verdict): void => {
      if (verdict.action === 'forward') this.#run(session, frame, direction, index + 1);
      else if (verdict.action === 'rewrite') this.#run(session, verdict.frame, direction, index + 1);
      else this.#finish(session, frame, direction, verdict);
      this.#release(session, direction);
    };
    pending.then(resume, (err: unknown) => {
      this.#stageFailed(stage, 'transform', err);
      resume(FORWARD);
    });
  }

  /** Run what queued behind a held message, in order, until the queue drains or another hold starts. */
  #release(session: Session & PipelineTarget, direction: Direction): void {
    const held = this.#held.get(session);
    const queue = held?.[direction];
    if (!held || !queue) return;
    // If the resumed message was held again by a later stage, a new queue is in place: leave it.
    held[direction] = undefined;
    while (queue.length > 0) {
      const next = queue.shift() as Frame;
      this.#run(session, next, direction, 0);
      const again = held[direction] as Frame[] | undefined;
      if (again) {
        again.push(...queue);
        return;
      }
    }
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
