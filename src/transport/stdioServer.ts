import { Socket } from 'node:net';
import { fstatSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { errorResponseJson, type McpscopeError } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';
import { NdjsonChannel, type NdjsonHandler } from './ndjson.js';
import { ClientWireEvents } from './wireEvents.js';
import type { EventSink } from '../session/events.js';
import { DEFAULT_CLIENT_BUFFER_BYTES, type Transport } from './transport.js';
import { ClientCongestion } from './congestion.js';

export interface StdioServerTransportOptions {
  /** Default process.stdin. */
  input?: Readable;
  /** Default: fd 1 as a non-blocking socket when it is a pipe, else process.stdout. */
  output?: Writable;
  maxMessageBytes: number;
  /** Bytes the client may leave unread before the upstream is paused (a quarter of it, at most 1 MiB). Default 4 MiB. */
  clientBufferBytes?: number;
}

/**
 * Our own stdout as a non-blocking stream. Node makes process.stdout synchronous for pipes on Linux, which
 * would stall the proxy whenever the client is slow to read; a Socket on fd 1 applies backpressure instead.
 */
function protocolStdout(): Writable {
  try {
    const stat = fstatSync(1);
    if (stat.isFIFO() || stat.isSocket()) return new Socket({ fd: 1, readable: false, writable: true });
  } catch {
    // fall through
  }
  return process.stdout;
}

/**
 * Inbound stdio: mcpscope is the process the client spawned; the client writes requests to our stdin and
 * reads our stdout. Nothing but protocol bytes is ever written to stdout.
 */
export class StdioServerTransport implements Transport, NdjsonHandler {
  readonly kind = 'stdio' as const;
  readonly #input: Readable;
  readonly #output: Writable;
  readonly #channel: NdjsonChannel;
  readonly #congestion: ClientCongestion;
  #closed = false;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;
  onbackpressure?: (congested: boolean) => void;
  onevent?: EventSink;

  constructor(options: StdioServerTransportOptions) {
    this.#input = options.input ?? process.stdin;
    this.#output = options.output ?? protocolStdout();
    this.#channel = new NdjsonChannel(this.#input, this.#output, options.maxMessageBytes, this);
    this.#congestion = new ClientCongestion(
      options.clientBufferBytes ?? DEFAULT_CLIENT_BUFFER_BYTES,
      new ClientWireEvents('stdio', this),
      (c) => this.onbackpressure?.(c),
    );
  }

  async start(): Promise<void> {
    this.#channel.start();
    this.#input.once('end', () => this.#ended());
    this.#input.once('close', () => this.#ended());
    this.#output.on('error', () => this.#ended());
  }

  onFrame(frame: Frame): void {
    this.onmessage?.(frame);
  }

  onBadLine(err: McpscopeError, _line: Buffer): void {
    const id = err.details?.id;
    this.#channel.write(errorResponseJson(typeof id === 'string' || typeof id === 'number' ? id : null, err));
    this.onerror?.(err);
  }

  send(frame: Frame): void {
    this.#channel.write(frame.raw);
    // Past the high-water mark (and the stream's own, so that 'drain' follows) the upstream is paused
    // until the client has read everything. What is still in flight stays bounded: one read
    // chunk of the child, or answers mcpscope makes itself (one per pending request).
    this.#congestion.check(this.#output, this.#channel.backlogBytes);
  }

  #ended(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onclose?.();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#input.pause();
    if (this.#output !== process.stdout && !this.#output.writableEnded) {
      await new Promise<void>((resolve) => this.#output.end(resolve));
    }
  }
}
