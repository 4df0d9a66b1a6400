import type { Logger } from 'pino';
import type { Frame } from '../jsonrpc/framing.js';
import type { Direction, ObserverStage, Verdict } from '../pipeline/stage.js';
import type { Session } from '../session/session.js';

/**
 * `--log-messages`: one log line per message with its direction, kind, method, id, size and verdict, and
 * the latency of answers. Never the message body (it may hold secrets).
 */
export class LogMessagesStage implements ObserverStage {
  readonly kind = 'observer' as const;
  readonly name = 'log-messages';
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger.child({ stage: 'log-messages' });
  }

  observe(frame: Frame, session: Session, direction: Direction, verdict: Verdict): void {
    const related = frame.related;
    const answer = frame.kind === 'response' || frame.kind === 'error';
    this.#logger.info(
      {
        session: session.id,
        dir: direction === 'client-to-server' ? 'c2s' : 's2c',
        kind: frame.kind,
        method: frame.method ?? related?.method,
        target: related?.target,
        id: frame.id,
        bytes: frame.raw.length,
        verdict: verdict.action,
        ms: answer && related ? Math.round((frame.receivedAt - related.startedAt) * 1000) / 1000 : undefined,
      },
      'message',
    );
  }
}
