import { performance } from 'node:perf_hooks';
import type { Readable, Writable } from 'node:stream';
import { McpscopeError } from '../jsonrpc/errors.js';
import { LineSplitter, parseFrame, sniffId, type Frame, type LineHandler } from '../jsonrpc/framing.js';

const NEWLINE = Buffer.from('\n');
/**
 * Messages shorter than this are copied with their newline into one buffer and written with write(); longer
 * ones go out as a corked writev of the message and the newline. Node's writev path (cork, uncork, a
 * buffered-request list, an array of chunks) cost more per call than copying a few kilobytes.
 */
export const COPY_BELOW_BYTES = 16 * 1024;

export interface NdjsonHandler {
  onFrame(frame: Frame): void;
  /** A line that is not an acceptable JSON-RPC message; `line` is its start (or all of it). */
  onBadLine(err: McpscopeError, line: Buffer): void;
}

/**
 * Newline-delimited JSON-RPC over a pair of streams: splits, parses once, writes raw bytes back out.
 * Shared by both stdio transports.
 */
export class NdjsonChannel implements LineHandler {
  readonly #input: Readable;
  readonly #output: Writable;
  readonly #splitter: LineSplitter;
  readonly #maxBytes: number;
  readonly #handler: NdjsonHandler;

  constructor(input: Readable, output: Writable, maxBytes: number, handler: NdjsonHandler) {
    this.#input = input;
    this.#output = output;
    this.#maxBytes = maxBytes;
    this.#handler = handler;
    this.#splitter = new LineSplitter(maxBytes, this);
  }

  start(): void {
    this.#input.on('data', (chunk: Buffer) => this.#splitter.push(chunk));
  }

  /** Stop reading input (lines already read are still handed on) until `resume()`. */
  pause(): void {
    this.#input.pause();
  }

  resume(): void {
    this.#input.resume();
  }

  onLine(line: Buffer): void {
    let frame: Frame;
    try {
      frame = parseFrame(line, this.#maxBytes, performance.now());
    } catch (err) {
      this.#handler.onBadLine(err as McpscopeError, line);
      return;
    }
    this.#handler.onFrame(frame);
  }

  onOversize(prefix: Buffer, totalBytes: number): void {
    const err = new McpscopeError(
      'MESSAGE_TOO_LARGE',
      `message of ${totalBytes} bytes exceeds the ${this.#maxBytes}-byte limit and was dropped; ` +
        'raise --max-message-bytes or send less',
      { details: { id: sniffId(prefix), limitBytes: this.#maxBytes, sizeBytes: totalBytes } },
    );
    this.#handler.onBadLine(err, prefix);
  }

  /**
   * Write one message and its newline in a single system call. Returns false when the peer is not keeping
   * up. A message up to COPY_BELOW_BYTES is copied into one buffer with its newline and written once;
   * a larger one is corked with the newline into one writev, so it is never copied.
   */
  write(raw: Buffer | string): boolean {
    const out = this.#output;
    if (out.destroyed || out.writableEnded) return false;
    if (typeof raw === 'string') return out.write(`${raw}\n`);
    if (raw.length < COPY_BELOW_BYTES) {
      const line = Buffer.allocUnsafe(raw.length + 1);
      raw.copy(line);
      line[raw.length] = 0x0a;
      return out.write(line);
    }
    out.cork();
    out.write(raw);
    const ok = out.write(NEWLINE);
    out.uncork();
    return ok;
  }

  /** Bytes written but not yet taken by the peer. */
  get backlogBytes(): number {
    return this.#output.writableLength;
  }
}
