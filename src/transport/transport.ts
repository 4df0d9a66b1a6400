import type { Frame } from '../jsonrpc/framing.js';
import type { McpscopeError } from '../jsonrpc/errors.js';
import type { EventSink } from '../session/events.js';

/**
 * The wires: stdio, Streamable HTTP, legacy HTTP+SSE (2024-11-05) and WebSocket; and the gateway's outbound
 * transport, which fans out to several of them.
 */
export type TransportKind = 'stdio' | 'streamable-http' | 'sse' | 'websocket' | 'gateway';

/**
 * The one seam every wire implements, in pairs by wire and role (after the MCP SDK's `Transport`), but
 * carrying parsed-once Frames so raw bytes are forwarded untouched.
 */
export interface Transport {
  readonly kind: TransportKind;
  /** Begin reading; resolves once the wire is usable. */
  start(): Promise<void>;
  /** Queue one message for the peer. Never throws: failures arrive through `onerror`. */
  send(frame: Frame): void;
  /**
   * Close the wire and release everything it holds. Idempotent. `reason`, when the session ends on an
   * error, is for wires that can tell their peer why (a WebSocket close frame).
   */
  close(reason?: McpscopeError): Promise<void>;
  /** A valid message arrived. */
  onmessage?: (frame: Frame) => void;
  /**
   * Input that could not be accepted (bad JSON, too large), or a request the wire could not deliver.
   * `details.id`, when set, names the request it concerns.
   */
  onerror?: (err: McpscopeError) => void;
  /** The wire closed; `reason` is set when it closed unexpectedly. Called at most once. */
  onclose?: (reason?: McpscopeError) => void;
  /**
   * The peer lost its state but the wire goes on (a crashed child being restarted): everything in flight
   * is gone and must be failed with `reason`.
   */
  onreset?: (reason: McpscopeError) => void;
  /** After `onreset`: the peer is back and answered its handshake again (a restarted child). */
  onrestored?: () => void;
  /**
   * What only the wire sees (streams opened and closed, reconnections, backpressure, its process's start,
   * exit and stderr), for the session's event stream: set by the Session. See src/session/events.ts.
   */
  onevent?: EventSink;
  /**
   * Set by the Session when a stage reads HTTP exchange summaries: an HTTP wire then reports each of its
   * requests as an `http` event (src/transport/exchange.ts). Default: not reported.
   */
  httpExchanges?: boolean;
  /**
   * Flow control, outbound side: stop reading from the peer until `resume()` (a child's stdout is left
   * unread so its pipe fills and it blocks; a socket or response body is left unread so TCP pushes back).
   * Messages already read may still arrive. Calls do not nest: one `resume()` undoes any number of
   * `pause()`. Default: not implemented, the wire is never paused (its own bounded buffers apply).
   */
  pause?(): void;
  /** Undo `pause()`. Default: not implemented (see `pause`). */
  resume?(): void;
  /**
   * The client ended its input: end the peer's input too, and go on relaying what it still says (close()
   * follows once nothing is pending). Default: not implemented (the Session closes the wire instead).
   */
  endInput?(): void;
  /**
   * Flow control, inbound side: set by the Session. Called with true when the bytes written to the client
   * but not yet taken by it pass the high-water mark, and with false once they have drained; the Session
   * then pauses and resumes its outbound transport. Default: a wire that never calls it is never paused.
   */
  onbackpressure?: (congested: boolean) => void;
}

/** Per-session limit on bytes written to a client but not yet taken by it (4 MiB); `--client-buffer-bytes`. */
export const DEFAULT_CLIENT_BUFFER_BYTES = 4 * 1024 * 1024;
/** Smallest accepted client buffer limit (64 KiB). */
export const MIN_CLIENT_BUFFER_BYTES = 64 * 1024;
/** The upstream is paused once a client has this much unread: a quarter of the limit, at most 1 MiB. */
export const MAX_HIGH_WATER_BYTES = 1024 * 1024;

/** The high-water mark for a client buffer limit: pause early, leaving room for what is already in flight. */
export function highWaterMark(limitBytes: number): number {
  return Math.min(Math.floor(limitBytes / 4), MAX_HIGH_WATER_BYTES);
}
