import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** Characters gathered before one write (64 Ki). */
const CHUNK_CHARS = 64 * 1024;
/** Least time between two progress updates (200 ms). */
const PROGRESS_EVERY_MS = 200;

/** Thrown by a producer that finds its output closed, to stop early. */
export class OutputClosed extends Error {
  constructor() {
    super('the output was closed by its reader');
    this.name = 'OutputClosed';
  }
}

/**
 * Text written to a stream in chunks, waiting for 'drain' whenever the stream says it is full: memory stays
 * bounded however much is written. A reader that goes away (EPIPE, as `| head` does) ends the output
 * quietly: `closed` turns true and later writes are dropped.
 */
export class TextOutput {
  readonly #stream: Writable;
  readonly #transform: ((text: string) => string) | undefined;
  #parts: string[] = [];
  #size = 0;
  #closed = false;
  #error: Error | undefined;

  /** `transform` is applied to each chunk before it is written (e.g. safeJsonText). */
  constructor(stream: Writable, transform?: (text: string) => string) {
    this.#stream = stream;
    this.#transform = transform;
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.#closed = true;
      else this.#error ??= err;
    });
  }

  /** The reader went away: stop producing output. */
  get closed(): boolean {
    return this.#closed;
  }

  async write(text: string): Promise<void> {
    if (this.#closed) return;
    this.#parts.push(text);
    this.#size += text.length;
    if (this.#size >= CHUNK_CHARS) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#size === 0 || this.#closed) return;
    const text = this.#parts.join('');
    this.#parts = [];
    this.#size = 0;
    if (this.#stream.write(this.#transform ? this.#transform(text) : text)) return;
    try {
      await once(this.#stream, 'drain');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
    }
  }

  /** Write what is left; end the stream too when it is a file (never stdout). */
  async end(): Promise<void> {
    await this.flush();
    if (this.#stream === process.stdout || this.#stream === process.stderr) return;
    if (this.#error) throw this.#error;
    // end()'s callback comes after the last write reached the file, or with the error that stopped it.
    await new Promise<void>((resolve, reject) =>
      this.#stream.end((err?: Error | null) => (err ? reject(this.#error ?? err) : resolve())),
    );
  }
}

function megabytes(n: number): string {
  return (n / 1024 / 1024).toFixed(1);
}

/**
 * Progress of reading a file, on stderr, at most every PROGRESS_EVERY_MS, when stderr is a terminal and
 * the output does not go to that terminal too (where it would garble the output, which shows progress by
 * itself). Returns the callback for ReadOptions.onProgress.
 */
export function readProgress(
  label: string,
  outputIsTerminal: boolean,
): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY || outputIsTerminal) return undefined;
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done < total && now - last < PROGRESS_EVERY_MS) return;
    last = now;
    const percent = total > 0 ? Math.floor((100 * done) / total) : 100;
    process.stderr.write(
      `\r${label} ${megabytes(done)}/${megabytes(total)} MB (${percent}%)${done >= total ? '\n' : ''}`,
    );
  };
}
