import type { Frame } from '../jsonrpc/framing.js';
import type { McpscopeError } from '../jsonrpc/errors.js';

/** The wires: stdio, Streamable HTTP, legacy HTTP+SSE (2024-11-05) and WebSocket. */
export type TransportKind = 'stdio' | 'streamable-http' | 'sse' | 'websocket';

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
}
