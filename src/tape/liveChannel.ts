import type { JsonRpcId } from '../jsonrpc/errors.js';
import { parseFrame, type Frame } from '../jsonrpc/framing.js';
import type { Transport } from '../transport/transport.js';

type Message = Record<string, unknown>;

export interface LiveChannelOptions {
  /** Longest wait for one answer, ms. */
  timeoutMs: number;
  /** The answer to a request the live server makes (sampling, elicitation, roots). Default: -32601. */
  answerServer?: (method: string, id: JsonRpcId) => Message | undefined;
}

interface Waiter {
  resolve: (msg: Message | undefined) => void;
  timer: NodeJS.Timeout;
}

/**
 * Requests sent to a live server over one transport, one answer awaited at a time each: what `replay
 * --against` and its probe of the server's offer share.
 */
export class LiveChannel {
  readonly #transport: Transport;
  readonly #options: LiveChannelOptions;
  readonly #waiters = new Map<JsonRpcId, Waiter>();
  #aborted: string | undefined;
  #finished = false;

  constructor(transport: Transport, options: LiveChannelOptions) {
    this.#transport = transport;
    this.#options = options;
  }

  /** Set when the live server went away. */
  get aborted(): string | undefined {
    return this.#aborted;
  }

  async start(): Promise<void> {
    const t = this.#transport;
    t.onmessage = (frame: Frame) => {
      if (frame.kind === 'request') {
        const method = frame.method as string;
        const id = frame.id as JsonRpcId;
        this.send(
          this.#options.answerServer?.(method, id) ?? {
            jsonrpc: '2.0',
            id,
            error: { code: -32601, message: `the tape holds no client answer to ${method}` },
          },
        );
        return;
      }
      if (frame.id !== undefined) this.#settle(frame.id, frame.msg as unknown as Message);
    };
    t.onerror = (err) => {
      const id = err.details?.id;
      if (typeof id === 'string' || typeof id === 'number')
        this.#settle(id, { error: { code: err.code, message: err.message } });
    };
    t.onclose = (reason) => {
      if (this.#finished) return;
      this.#aborted = reason?.message ?? 'the server closed the connection';
      for (const id of [...this.#waiters.keys()]) this.#settle(id, undefined);
    };
    await t.start();
  }

  #settle(id: JsonRpcId, msg: Message | undefined): void {
    const waiter = this.#waiters.get(id);
    if (!waiter) return;
    this.#waiters.delete(id);
    clearTimeout(waiter.timer);
    waiter.resolve(msg);
  }

  /** Send a message as it is (a notification, or an answer). */
  send(msg: unknown): void {
    this.#transport.send(parseFrame(Buffer.from(JSON.stringify(msg)), Number.MAX_SAFE_INTEGER));
  }

  /** Send a request and wait for its answer: undefined when none came in time or the server went away. */
  request(msg: { id: JsonRpcId }): Promise<Message | undefined> {
    if (this.#aborted !== undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settle(msg.id, undefined), this.#options.timeoutMs);
      this.#waiters.set(msg.id, { resolve, timer });
      this.send(msg);
    });
  }

  async close(): Promise<void> {
    this.#finished = true;
    await this.#transport.close();
  }
}
