import { open, type FileHandle } from 'node:fs/promises';
import { errorMessage } from '../jsonrpc/errors.js';

/** Most bytes one tape may hold in memory waiting for the disk (4 MiB); past it, events are dropped. */
export const DEFAULT_TAPE_QUEUE_BYTES = 4 * 1024 * 1024;
/** Most bytes handed to one write() call. */
const MAX_BATCH_BYTES = 1024 * 1024;

export interface TapeWriterEvents {
  /** The file could not be created or written; the writer stops and drops what follows. Called once. */
  failed(err: Error, path: string): void;
  /** Bytes reached the file. */
  wrote(bytes: number): void;
  /** Lines left out because the disk could not keep up. */
  dropped(count: number): void;
}

/**
 * Appends lines to one tape without ever making the message path wait: lines go to a bounded in-memory
 * queue and a single background loop writes them in batches. A line is always written whole, so a crash
 * leaves at most a torn last line. If the disk falls behind past the bound, lines are dropped and a
 * `dropped` line records how many, once the queue has room again.
 */
export class TapeWriter {
  readonly path: string;
  #handle: FileHandle | undefined;
  #opening: Promise<void> | undefined;
  #queue: string[] = [];
  #queuedBytes = 0;
  #dropped = 0;
  #pumping: Promise<void> | undefined;
  #failed = false;
  #closed = false;
  #written = 0;
  readonly #maxQueueBytes: number;
  readonly #flags: string;
  readonly #events: TapeWriterEvents;
  /** Makes the `dropped` line: it needs the tape's clock, which the writer does not keep. */
  readonly #droppedLine: (count: number) => string;

  constructor(
    path: string,
    events: TapeWriterEvents,
    droppedLine: (count: number) => string,
    maxQueueBytes = DEFAULT_TAPE_QUEUE_BYTES,
    /** 'wx' (default): a new file only, so two sessions never share a tape. */
    flags = 'wx',
  ) {
    this.#flags = flags;
    this.path = path;
    this.#events = events;
    this.#droppedLine = droppedLine;
    this.#maxQueueBytes = maxQueueBytes;
  }

  /** True once the file could not be created or written: the tape is incomplete. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Bytes on disk so far. */
  get written(): number {
    return this.#written;
  }

  /** Queue one line (without its newline). Never throws, never waits. */
  append(line: string): void {
    if (this.#closed || this.#failed) return;
    const bytes = line.length + 1;
    if (this.#queuedBytes + bytes > this.#maxQueueBytes && this.#queue.length > 0) {
      this.#dropped++;
      return;
    }
    if (this.#dropped > 0) {
      const note = this.#droppedLine(this.#dropped);
      this.#events.dropped(this.#dropped);
      this.#dropped = 0;
      this.#queue.push(note);
      this.#queuedBytes += note.length + 1;
    }
    this.#queue.push(line);
    this.#queuedBytes += bytes;
    this.#pumping ??= this.#pump();
  }

  /** Write what is queued, then close the file. Resolves when the tape is on disk (or has failed). */
  async close(lastLine?: string): Promise<void> {
    if (lastLine !== undefined) this.append(lastLine);
    this.#closed = true;
    while (this.#pumping) await this.#pumping;
    await this.#opening?.catch(() => undefined);
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  async #pump(): Promise<void> {
    try {
      this.#opening ??= this.#open();
      await this.#opening;
      while (this.#queue.length > 0 && !this.#failed) {
        const batch: string[] = [];
        let size = 0;
        while (this.#queue.length > 0 && size < MAX_BATCH_BYTES) {
          const line = this.#queue.shift() as string;
          batch.push(line);
          size += line.length + 1;
        }
        this.#queuedBytes -= size;
        batch.push('');
        const buffer = Buffer.from(batch.join('\n'), 'utf8');
        await (this.#handle as FileHandle).write(buffer);
        this.#written += buffer.length;
        this.#events.wrote(buffer.length);
      }
    } catch (err) {
      this.#fail(err);
    } finally {
      this.#pumping = undefined;
    }
    // Lines appended while the last write was in flight.
    if (this.#queue.length > 0 && !this.#failed) this.#pumping = this.#pump();
    await this.#pumping;
  }

  async #open(): Promise<void> {
    this.#handle = await open(this.path, this.#flags);
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#events.failed(err instanceof Error ? err : new Error(errorMessage(err)), this.path);
  }
}
