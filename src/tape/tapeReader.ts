import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { McpscopeError } from '../jsonrpc/errors.js';
import {
  TAPE_FORMAT,
  TAPE_VERSION,
  isMessageEvent,
  type TapeEdgeEvent,
  type TapeEvent,
  type TapeHeader,
} from './format.js';

/**
 * Longest tape line read (256 MiB): 64 times the default message cap, and about half of what V8 can hold
 * in one string. A longer line is an error naming it; its bytes are skipped, never held.
 */
export const MAX_TAPE_LINE_BYTES = 256 * 1024 * 1024;
/** Bytes read from the file at a time (256 KiB). */
const READ_CHUNK_BYTES = 256 * 1024;
/**
 * How far a streaming reader looks ahead for the `initialized` event, to merge it into the header before
 * the first event is handed on: at most 64 events and 8 MiB. It follows the handshake's answer, so it is
 * among the first few events of any tape the recorder wrote.
 */
const LOOKAHEAD_EVENTS = 64;
const LOOKAHEAD_BYTES = 8 * 1024 * 1024;
/** How often progress is reported, in lines. */
const PROGRESS_LINES = 5000;

export interface Tape {
  readonly path: string;
  /** The header, with what the `initialized` event told merged in. */
  readonly header: TapeHeader;
  readonly events: TapeEvent[];
  /** Bytes on disk. */
  readonly sizeBytes: number;
  /** The last line was cut short (mcpscope was killed while writing it); everything before it is whole. */
  readonly torn: boolean;
  /** The session ended and its tape was closed cleanly (false after a crash or a write error). */
  readonly complete: boolean;
}

export interface ReadOptions {
  /** Called every so many lines with the bytes read so far and the file's size. */
  onProgress?: (readBytes: number, totalBytes: number) => void;
}

function invalid(path: string, message: string): McpscopeError {
  return new McpscopeError('TAPE_INVALID', `${path}: ${message}`);
}

function checkHeader(path: string, value: unknown): TapeHeader {
  const header = value as Partial<TapeHeader> | null;
  if (header === null || typeof header !== 'object' || header.format !== TAPE_FORMAT) {
    throw invalid(path, `not an mcpscope tape (its first line has no "format": "${TAPE_FORMAT}")`);
  }
  if (typeof header.version !== 'number' || header.version > TAPE_VERSION) {
    throw invalid(
      path,
      `tape format version ${String(header.version)} is newer than this mcpscope reads (${TAPE_VERSION}); upgrade mcpscope`,
    );
  }
  return header as TapeHeader;
}

function checkEvent(path: string, line: number, value: unknown): TapeEvent {
  const event = value as Partial<TapeEvent> | null;
  if (event === null || typeof event !== 'object' || typeof event.t !== 'number') {
    throw invalid(path, `line ${line} is not a tape event (no numeric "t")`);
  }
  if (!('msg' in event) && !('edge' in event)) {
    throw invalid(path, `line ${line} is neither a message ("msg") nor an edge ("edge")`);
  }
  return event as TapeEvent;
}

function merge(header: TapeHeader, info: TapeEdgeEvent | undefined): TapeHeader {
  return {
    ...header,
    era: header.era ?? info?.era,
    protocolVersion: header.protocolVersion ?? info?.protocolVersion,
    clientInfo: header.clientInfo ?? info?.clientInfo,
    serverInfo: header.serverInfo ?? info?.serverInfo,
    upstreamSessionId: header.upstreamSessionId ?? info?.upstreamSessionId,
  };
}

function isInfo(event: TapeEvent): event is TapeEdgeEvent {
  return !isMessageEvent(event) && event.edge === 'initialized';
}

interface Line {
  /** The line without its newline; undefined when it is longer than the cap (its bytes were skipped). */
  readonly text: string | undefined;
  /** Bytes it took in the file, newline included. */
  readonly bytes: number;
}

/** The lines of a file, read a chunk at a time; memory holds one chunk and one line at most. */
async function* readLines(path: string, maxLineBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let length = 0;
  let oversize = false;
  const line = (tail: Buffer, newline: number): Line => {
    const size = length + tail.length;
    const text =
      oversize || size > maxLineBytes
        ? undefined
        : (parts.length === 0 ? tail : Buffer.concat([...parts, tail], size)).toString('utf8');
    parts = [];
    length = 0;
    oversize = false;
    return { text, bytes: size + newline };
  };
  const stream = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      yield line(chunk.subarray(start, nl), 1);
      start = nl + 1;
    }
    if (start === chunk.length) continue;
    const rest = chunk.subarray(start);
    length += rest.length;
    if (oversize || length > maxLineBytes) {
      oversize = true;
      parts = [];
    } else {
      parts.push(rest);
    }
  }
  if (length > 0) yield line(Buffer.alloc(0), 0);
}

/**
 * One tape read as a stream: its header first (with the `initialized` event merged in when it comes early,
 * as it does in every tape the recorder wrote), then its events one at a time, in constant memory. `torn`
 * and `complete` are known once the events have been read to the end.
 */
export class TapeStream {
  readonly path: string;
  readonly sizeBytes: number;
  readonly #lines: AsyncGenerator<Line>;
  readonly #onProgress: ReadOptions['onProgress'];
  #header: TapeHeader | undefined;
  #lookahead: TapeEvent[] = [];
  #lineNo = 0;
  #readBytes = 0;
  #broken: { line: number; error: string } | undefined;
  #last: TapeEvent | undefined;
  #done = false;
  #started = false;

  private constructor(path: string, sizeBytes: number, options: ReadOptions) {
    this.path = path;
    this.sizeBytes = sizeBytes;
    this.#onProgress = options.onProgress;
    this.#lines = readLines(path, MAX_TAPE_LINE_BYTES);
  }

  /** Open a tape and read its header (and the few events up to its `initialized` event). */
  static async open(path: string, options: ReadOptions = {}): Promise<TapeStream> {
    let sizeBytes: number;
    try {
      sizeBytes = (await stat(path)).size;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new McpscopeError(
        'TAPE_INVALID',
        code === 'ENOENT'
          ? `no tape at ${path}; list the recorded ones with \`mcpscope tape list <dir>\``
          : `cannot read ${path}: ${(err as Error).message}`,
      );
    }
    const tape = new TapeStream(path, sizeBytes, options);
    await tape.#readHeader();
    return tape;
  }

  get header(): TapeHeader {
    return this.#header as TapeHeader;
  }

  /** The last line was cut short (mcpscope was killed while writing it); known at the end of `events()`. */
  get torn(): boolean {
    return this.#broken !== undefined;
  }

  /** The tape ends with a clean `closed` line; known at the end of `events()`. */
  get complete(): boolean {
    const last = this.#last;
    return (
      this.#done &&
      this.#broken === undefined &&
      last !== undefined &&
      !isMessageEvent(last) &&
      last.edge === 'closed' &&
      last.complete === true
    );
  }

  /** Stop reading (the file is closed); for a caller that needs no more than the header. */
  async close(): Promise<void> {
    this.#started = true;
    await this.#lines.return(undefined);
  }

  /** The events, in order. Read them once; a damaged line before the last is a TAPE_INVALID error. */
  async *events(): AsyncGenerator<TapeEvent> {
    if (this.#started) throw new Error('TapeStream.events() reads a tape once');
    this.#started = true;
    const ahead = this.#lookahead;
    this.#lookahead = [];
    yield* ahead;
    for (let event = await this.#next(); event !== undefined; event = await this.#next()) yield event;
  }

  async #readHeader(): Promise<void> {
    const value = await this.#nextValue();
    const header = value === undefined ? undefined : checkHeader(this.path, value);
    if (header === undefined) {
      await this.#lines.return(undefined);
      throw invalid(
        this.path,
        this.#broken ? 'its header line is torn (the recording stopped at once)' : 'the file is empty',
      );
    }
    let info: TapeEdgeEvent | undefined;
    let bytes = 0;
    while (this.#lookahead.length < LOOKAHEAD_EVENTS && bytes < LOOKAHEAD_BYTES) {
      const before = this.#readBytes;
      const event = await this.#next();
      if (event === undefined) break;
      bytes += this.#readBytes - before;
      this.#lookahead.push(event);
      if (isInfo(event)) {
        info = event;
        break;
      }
    }
    this.#header = merge(header, info);
  }

  async #next(): Promise<TapeEvent | undefined> {
    const value = await this.#nextValue();
    if (value === undefined) return undefined;
    const event = checkEvent(this.path, this.#lineNo, value);
    this.#last = event;
    return event;
  }

  /** The next line's JSON value; undefined at the end. Tolerates a torn last line, and only the last. */
  async #nextValue(): Promise<unknown> {
    for (;;) {
      const result = await this.#lines.next();
      if (result.done) {
        if (!this.#done) {
          this.#done = true;
          this.#onProgress?.(this.sizeBytes, this.sizeBytes);
        }
        return undefined;
      }
      const { text, bytes } = result.value;
      this.#lineNo++;
      this.#readBytes += bytes;
      if (this.#onProgress && this.#lineNo % PROGRESS_LINES === 0)
        this.#onProgress(this.#readBytes, this.sizeBytes);
      const broken = this.#broken;
      if (broken) {
        await this.#lines.return(undefined);
        throw invalid(this.path, `line ${broken.line} is not valid JSON (${broken.error})`);
      }
      if (text === undefined) {
        await this.#lines.return(undefined);
        throw invalid(
          this.path,
          `line ${this.#lineNo} is longer than ${MAX_TAPE_LINE_BYTES} bytes, more than mcpscope reads in one line`,
        );
      }
      if (text.length === 0) continue;
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        // Only the last line may be torn: remember, and fail if another line follows.
        this.#broken = { line: this.#lineNo, error: (err as Error).message };
      }
    }
  }
}

/**
 * Read a whole tape into memory (replay needs it all at hand). Tolerates a torn last line (a crash while
 * writing it) and says so in `torn`; any other damage is a TAPE_INVALID error naming the line. Old format
 * versions stay readable. Commands that go through a tape once use TapeStream instead.
 */
export async function readTape(path: string, options: ReadOptions = {}): Promise<Tape> {
  const stream = await TapeStream.open(path, options);
  const events: TapeEvent[] = [];
  for await (const event of stream.events()) events.push(event);
  return {
    path,
    // The `initialized` event wherever it is, not only early.
    header: merge(stream.header, events.find(isInfo)),
    events,
    sizeBytes: stream.sizeBytes,
    torn: stream.torn,
    complete: stream.complete,
  };
}
