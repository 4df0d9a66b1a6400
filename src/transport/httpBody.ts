import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpscopeError, errorHeaders, errorResponseJson, type JsonRpcId } from '../jsonrpc/errors.js';

/** After a 413, how much of the refused body is read and dropped before the connection is cut (64 MiB). */
export const MAX_DISCARD_BYTES = 64 * 1024 * 1024;

/** Answer with an mcpscope error: its HTTP status and a JSON-RPC error body. */
export function writeError(res: ServerResponse, err: McpscopeError, id: JsonRpcId | null = null): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = errorResponseJson(id, err);
  res.writeHead(err.httpStatus, errorHeaders(err, Buffer.byteLength(body)));
  res.end(body);
}

/**
 * Read a request body of at most `maxBytes` into one Buffer and hand it to `onBody`. A larger body is
 * answered 413 at once through `refuse`, without buffering it: the rest is read and discarded (so the
 * client sees the answer rather than a reset), up to MAX_DISCARD_BYTES; past that the socket is cut.
 */
export function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
  refuse: (res: ServerResponse, err: McpscopeError) => void,
  onBody: (body: Buffer) => void,
): void {
  const tooLarge = (size: number): void => {
    refuse(
      res,
      new McpscopeError(
        'MESSAGE_TOO_LARGE',
        `request body of ${size}+ bytes exceeds the ${maxBytes}-byte limit; raise --max-message-bytes or send less`,
        { details: { limitBytes: maxBytes } },
      ),
    );
    let discarded = 0;
    req.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > MAX_DISCARD_BYTES) req.socket.destroy();
    });
    req.resume();
  };
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) {
    tooLarge(declared);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size > maxBytes) {
      req.off('data', onData);
      chunks.length = 0;
      tooLarge(size);
      return;
    }
    chunks.push(chunk);
  };
  req.on('data', onData);
  req.on('end', () => {
    if (size > maxBytes) return;
    onBody(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
  });
}
