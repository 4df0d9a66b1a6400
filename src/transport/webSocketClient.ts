import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { McpscopeError, errorMessage, upstreamProtocolError } from '../jsonrpc/errors.js';
import { parseFrame, type Frame } from '../jsonrpc/framing.js';
import type { Transport } from './transport.js';

/** The WebSocket subprotocol MCP clients and servers agree on (the SDK's `WebSocketClientTransport`). */
export const MCP_SUBPROTOCOL = 'mcp';
/** How long the WebSocket handshake with the upstream may take (10 s). */
export const WS_CONNECT_TIMEOUT_MS = 10_000;
/** How long a closing handshake may take before the socket is cut (2 s). */
export const WS_CLOSE_TIMEOUT_MS = 2_000;
/** Bytes queued for a peer that is not reading before messages to it are refused (16 MiB). */
export const MAX_WS_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Send options for every message: a text frame (one object, not one per message). */
export const TEXT_FRAME = { binary: false } as const;
/** WebSocket close code for a normal closure. */
const NORMAL_CLOSURE = 1000;

export interface WebSocketClientTransportOptions {
  /** A ws:// or wss:// URL. */
  url: string;
  /** Extra headers for the handshake (e.g. the upstream's own credentials). Never the client's. */
  headers?: Record<string, string>;
  maxMessageBytes: number;
  logger: Logger;
}

/**
 * Outbound WebSocket (subprotocol `mcp`): one JSON-RPC message per text frame, raw bytes both ways. The
 * upstream closing the socket ends the session (UPSTREAM_STREAM_LOST unless it closed normally).
 */
export class WebSocketClientTransport implements Transport {
  readonly kind = 'websocket' as const;
  readonly #options: WebSocketClientTransportOptions;
  #socket: WebSocket | undefined;
  #closing = false;
  onmessage?: (frame: Frame) => void;
  onerror?: (err: McpscopeError) => void;
  onclose?: (reason?: McpscopeError) => void;

  constructor(options: WebSocketClientTransportOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const { url, headers, maxMessageBytes } = this.#options;
    const socket = new WebSocket(url, MCP_SUBPROTOCOL, {
      headers,
      maxPayload: maxMessageBytes,
      handshakeTimeout: WS_CONNECT_TIMEOUT_MS,
    });
    this.#socket = socket;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.off('open', onOpen);
        reject(
          new McpscopeError(
            'UPSTREAM_UNREACHABLE',
            `upstream ${url} could not be reached over WebSocket: ${errorMessage(err)}; check that it is running and speaks MCP over WebSocket`,
            { cause: err },
          ),
        );
      };
      const onOpen = (): void => {
        socket.off('error', onError);
        resolve();
      };
      socket.once('error', onError);
      socket.once('open', onOpen);
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => this.#message(data, isBinary));
    socket.on('error', (err) =>
      this.#options.logger.warn({ err: errorMessage(err) }, 'upstream WebSocket error'),
    );
    socket.once('close', (code: number, reason: Buffer) => this.#closed(code, reason));
  }

  #message(data: Buffer, isBinary: boolean): void {
    let frame: Frame;
    try {
      if (isBinary) throw new McpscopeError('INVALID_REQUEST', 'a binary frame (MCP sends text frames)');
      frame = parseFrame(data, this.#options.maxMessageBytes, performance.now());
    } catch (err) {
      const e = err as McpscopeError;
      this.onerror?.(upstreamProtocolError(e));
      return;
    }
    this.onmessage?.(frame);
  }

  #closed(code: number, reason: Buffer): void {
    if (this.#closing) {
      this.onclose?.();
      return;
    }
    this.#closing = true;
    if (code === NORMAL_CLOSURE) {
      this.onclose?.();
      return;
    }
    const why = reason.length > 0 ? `: ${reason.toString('utf8').slice(0, 200)}` : '';
    this.onclose?.(
      new McpscopeError(
        'UPSTREAM_STREAM_LOST',
        `upstream ${this.#options.url} closed the WebSocket (code ${code}${why}); start a new session`,
        { details: { closeCode: code } },
      ),
    );
  }

  send(frame: Frame): void {
    const socket = this.#socket;
    if (this.#closing || !socket || socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount > MAX_WS_BUFFERED_BYTES) {
      this.onerror?.(
        new McpscopeError(
          'UPSTREAM_BACKPRESSURE',
          `upstream is not reading its WebSocket (${socket.bufferedAmount} bytes queued); message not sent`,
          { details: { id: frame.kind === 'request' ? frame.id : undefined } },
        ),
      );
      return;
    }
    socket.send(frame.raw, TEXT_FRAME);
  }

  /** Stop reading the upstream's socket (TCP pushes back) until resume(). */
  pause(): void {
    this.#socket?.pause();
  }

  resume(): void {
    this.#socket?.resume();
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const socket = this.#socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) {
      this.onclose?.();
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.terminate(), WS_CLOSE_TIMEOUT_MS);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.close(NORMAL_CLOSURE);
    });
  }
}
