import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { McpscopeError } from '../jsonrpc/errors.js';
import {
  TAPE_FORMAT,
  TAPE_VERSION,
  isMessageEvent,
  type TapeEdgeEvent,
  type TapeEvent,
  type TapeHeader,
} from './format.js';

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

/**
 * Read a whole tape. Tolerates a torn last line (a crash while writing it) and says so in `torn`; any other
 * damage is a TAPE_INVALID error naming the line. Old format versions stay readable.
 */
export async function readTape(path: string, options: ReadOptions = {}): Promise<Tape> {
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
  const stream = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let header: TapeHeader | undefined;
  const events: TapeEvent[] = [];
  let lineNo = 0;
  let readBytes = 0;
  let broken: { line: number; error: string } | undefined;
  for await (const line of lines) {
    lineNo++;
    readBytes += Buffer.byteLength(line) + 1;
    if (options.onProgress && lineNo % 5000 === 0) options.onProgress(readBytes, sizeBytes);
    if (broken) throw invalid(path, `line ${broken.line} is not valid JSON (${broken.error})`);
    if (line.length === 0) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      // Only the last line may be torn: remember, and fail if another line follows.
      broken = { line: lineNo, error: (err as Error).message };
      continue;
    }
    if (header === undefined) header = checkHeader(path, value);
    else events.push(checkEvent(path, lineNo, value));
  }
  options.onProgress?.(sizeBytes, sizeBytes);
  if (header === undefined) {
    throw invalid(
      path,
      broken ? 'its header line is torn (the recording stopped at once)' : 'the file is empty',
    );
  }
  const info = events.find((e): e is TapeEdgeEvent => !isMessageEvent(e) && e.edge === 'initialized');
  const merged: TapeHeader = {
    ...header,
    protocolVersion: header.protocolVersion ?? info?.protocolVersion,
    clientInfo: header.clientInfo ?? info?.clientInfo,
    serverInfo: header.serverInfo ?? info?.serverInfo,
    upstreamSessionId: header.upstreamSessionId ?? info?.upstreamSessionId,
  };
  const last = events.at(-1);
  const complete =
    broken === undefined &&
    last !== undefined &&
    !isMessageEvent(last) &&
    last.edge === 'closed' &&
    last.complete === true;
  return { path, header: merged, events, sizeBytes, torn: broken !== undefined, complete };
}
