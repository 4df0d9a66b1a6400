import type { Logger } from 'pino';
import { McpscopeError } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';
import type { ManagedProcess, ProcessManager, ProcessSpec } from '../process/processManager.js';
import { NdjsonChannel, type NdjsonHandler } from './ndjson.js';
import type { Transport } from './transport.js';

/** Cap on bytes queued for a child that is not reading its stdin (16 MiB). */
export const MAX_CHILD_BACKLOG_BYTES = 16 * 1024 * 1024;

export interface StdioClientTransportOptions {
  spec: ProcessSpec;
  processes: ProcessManager;
  maxMessageBytes: number;
  logger: Logger;
}

/** Outbound stdio: the upstream server is a child process spawned (and stopped) through the ProcessManager. */
export class StdioClientTransport implements Transport, NdjsonHandler {
  readonly kind = 'stdio' as const;
  readonly #options: StdioClientTransportOptions;
  #proc: ManagedProcess | undefined;
  #channel: NdjsonChannel | undefined;
  #closing = false;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;

  constructor(options: StdioClientTransportOptions) {
    this.#options = options;
  }

  get process(): ManagedProcess | undefined {
    return this.#proc;
  }

  async start(): Promise<void> {
    const proc = await this.#options.processes.spawn(this.#options.spec);
    this.#proc = proc;
    this.#channel = new NdjsonChannel(
      proc.child.stdout,
      proc.child.stdin,
      this.#options.maxMessageBytes,
      this,
    );
    this.#channel.start();
    void proc.exited.then((info) => {
      if (this.#closing || proc.stopping) {
        this.onclose?.();
        return;
      }
      this.onclose?.(proc.exitError(info));
    });
  }

  onFrame(frame: Frame): void {
    this.onmessage?.(frame);
  }

  onBadLine(err: McpscopeError, line: Buffer): void {
    if (err.code === 'PARSE_ERROR') {
      this.#options.logger.warn(
        { pid: this.#proc?.pid, line: line.subarray(0, 200).toString('utf8') },
        'upstream wrote a line to stdout that is not JSON-RPC (servers must log to stderr); ignored',
      );
      return;
    }
    this.onerror?.(
      new McpscopeError('UPSTREAM_PROTOCOL_ERROR', `upstream sent an unacceptable message: ${err.message}`, {
        cause: err,
        details: err.details,
      }),
    );
  }

  send(frame: Frame): void {
    const channel = this.#channel;
    if (!channel || this.#closing) return;
    if (channel.backlogBytes > MAX_CHILD_BACKLOG_BYTES) {
      this.onerror?.(
        new McpscopeError(
          'UPSTREAM_BACKPRESSURE',
          `upstream is not reading its stdin (${channel.backlogBytes} bytes queued); message not sent`,
          { details: { id: frame.kind === 'request' ? frame.id : undefined } },
        ),
      );
      return;
    }
    channel.write(frame.raw);
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    await this.#proc?.stop();
  }
}
