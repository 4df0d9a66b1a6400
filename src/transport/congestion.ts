import type { Writable } from 'node:stream';
import type { ClientWireEvents } from './wireEvents.js';
import { highWaterMark } from './transport.js';

/**
 * Whether one client-facing wire is behind: past its high-water mark with its socket asking for a drain.
 * It reports the change (to the Session, which pauses the upstream) and waits for 'drain' to report the
 * catch-up; one listener at most, attached only while behind, so a fast client pays one comparison a write.
 */
export class ClientCongestion {
  readonly highWater: number;
  readonly #events: Pick<ClientWireEvents, 'backpressure'>;
  readonly #notify: (congested: boolean) => void;
  readonly #drained = (): void => this.#onDrain();
  #congested = false;

  constructor(
    clientBufferBytes: number,
    events: Pick<ClientWireEvents, 'backpressure'>,
    notify: (congested: boolean) => void,
  ) {
    this.highWater = highWaterMark(clientBufferBytes);
    this.#events = events;
    this.#notify = notify;
  }

  /** After a write: `unsent` bytes are queued for the client on `stream`. */
  check(stream: Writable, unsent: number): void {
    if (this.#congested || unsent < this.highWater || !stream.writableNeedDrain) return;
    this.#congested = true;
    stream.once('drain', this.#drained);
    this.#events.backpressure('paused');
    this.#notify(true);
  }

  #onDrain(): void {
    if (!this.#congested) return;
    this.#congested = false;
    this.#events.backpressure('resumed');
    this.#notify(false);
  }
}
