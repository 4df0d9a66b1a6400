import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ResourceServer } from '../auth/resourceServer.js';
import { McpscopeError } from '../jsonrpc/errors.js';
import type { SessionManager } from '../session/sessionManager.js';
import type { EndpointContext } from './endpointContext.js';
import { writeError } from './httpBody.js';
import type { HttpEndpoint } from './httpEndpoint.js';
import { LegacySseRoutes } from './legacySseRoutes.js';
import { LOOPBACK_HOSTS, checkOrigin, type OriginPolicy } from './originCheck.js';
import { StreamableHttpEndpoint } from './streamableHttpEndpoint.js';
import { DEFAULT_CLIENT_BUFFER_BYTES, type Transport } from './transport.js';
import { WebSocketEndpoint, refuseUpgrade } from './webSocketServer.js';

/** Interval of SSE keep-alive comments on idle GET streams (25 s). */
export const KEEPALIVE_MS = 25_000;
/** Time allowed to receive a request's headers (10 s) and its whole body (30 s). */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

export interface UpstreamFactory {
  /** Description for people, e.g. the command line or the URL. */
  readonly description: string;
  create(): Transport;
}

export interface HttpListenerOptions {
  host: string;
  port: number;
  /** Default '/mcp'. */
  path?: string;
  /** Origins allowed besides localhost ones; '*' allows any. */
  allowedOrigins: readonly string[];
  /** Host names allowed besides loopback ones when bound to loopback. Default none. */
  allowedHosts?: readonly string[];
  /** Time to receive a request's headers. Default HEADERS_TIMEOUT_MS. */
  headersTimeoutMs?: number;
  /** Time to receive a whole request (headers and body). Default REQUEST_TIMEOUT_MS. */
  bodyTimeoutMs?: number;
  /** Interval of keep-alive comments on GET streams. Default KEEPALIVE_MS. */
  keepAliveMs?: number;
  maxMessageBytes: number;
  /** Bytes a client may leave unread per stream or socket (see `--client-buffer-bytes`). Default 4 MiB. */
  clientBufferBytes?: number;
  jsonResponse: boolean;
  /**
   * Check 2026-07-28 requests' MCP-Protocol-Version / Mcp-Method / Mcp-Name headers against their bodies,
   * as the HTTP server must (true in front of a stdio server or a tape); an HTTP upstream checks them itself
   * and gets them as they came. Default true.
   */
  checkModernHeaders?: boolean;
  sessions: SessionManager;
  upstream: UpstreamFactory;
  logger: Logger;
  /** Serve legacy HTTP+SSE clients on `GET /sse` + `POST /messages`. Default true. */
  legacySse?: boolean;
  /** Accept WebSocket upgrades on the endpoint path. Default true. */
  webSocket?: boolean;
  /** Called for every request refused before it reaches a session (bad headers, unknown session, …). */
  onReject?: (err: McpscopeError) => void;
  /**
   * OAuth resource server (src/auth): serves its metadata, and checks every other request's bearer token
   * (after Origin and Host) before any endpoint sees it. Default: none, every request goes on.
   */
  auth?: ResourceServer;
}

/**
 * The HTTP listener of `forward http` on raw node:http: a thin router over its endpoints (Streamable HTTP on
 * the endpoint path, legacy HTTP+SSE, WebSocket upgrades), each of which checks Origin and Host, opens
 * sessions and hands messages to their transports.
 */
export class HttpListener {
  readonly #options: HttpListenerOptions;
  readonly #server: Server;
  readonly #path: string;
  readonly #endpoints: readonly HttpEndpoint[];
  readonly #ctx: EndpointContext;
  #keepAlive: NodeJS.Timeout | undefined;
  readonly #keepAliveMs: number;

  constructor(options: HttpListenerOptions) {
    this.#options = options;
    this.#path = options.path ?? '/mcp';
    const originPolicy: OriginPolicy = {
      allowedOrigins: options.allowedOrigins,
      allowedHosts: options.allowedHosts ?? [],
      loopbackOnly: LOOPBACK_HOSTS.has(options.host),
    };
    const headersTimeout = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
    const requestTimeout = options.bodyTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.#keepAliveMs = options.keepAliveMs ?? KEEPALIVE_MS;
    this.#server = createServer(
      {
        headersTimeout,
        requestTimeout: Math.max(requestTimeout, headersTimeout),
        keepAliveTimeout: 5_000,
        // Node checks the two timeouts on this interval (30 s by default): check often enough to honour them.
        connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(headersTimeout / 4))),
      },
      (req, res) => this.#handle(req, res),
    );
    const ctx: EndpointContext = {
      sessions: options.sessions,
      upstream: options.upstream,
      logger: options.logger,
      maxMessageBytes: options.maxMessageBytes,
      clientBufferBytes: options.clientBufferBytes ?? DEFAULT_CLIENT_BUFFER_BYTES,
      originPolicy,
      refuse: (res, err, id = null) => {
        options.onReject?.(err);
        writeError(res, err, id);
      },
      rejected: (err) => options.onReject?.(err),
    };
    this.#ctx = ctx;
    const endpoints: HttpEndpoint[] = [
      new StreamableHttpEndpoint(ctx, {
        path: this.#path,
        jsonResponse: options.jsonResponse,
        checkModernHeaders: options.checkModernHeaders ?? true,
      }),
    ];
    if (options.legacySse !== false) endpoints.push(new LegacySseRoutes(ctx));
    if (options.webSocket !== false) endpoints.push(new WebSocketEndpoint(ctx, this.#path));
    this.#endpoints = endpoints;
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q + 1);
    const auth = this.#options.auth;
    if (auth === undefined) {
      this.#route(req, res, path, query);
      return;
    }
    if (auth.serves(path)) {
      auth.serveMetadata(req, res);
      return;
    }
    const refused = (err: McpscopeError): void => {
      this.#ctx.refuse(res, err);
      req.resume();
    };
    const forbidden = checkOrigin(req.headers.origin, req.headers.host, this.#ctx.originPolicy);
    if (forbidden) return refused(forbidden);
    void auth.authenticate(req).then((err) => (err ? refused(err) : this.#route(req, res, path, query)));
  }

  #route(req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
    for (const endpoint of this.#endpoints) if (endpoint.handle(req, res, path, query)) return;
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: `not found: ${path}; the MCP endpoint is ${this.#path}` }));
  }

  /** A connection upgrade (WebSocket): offered to the endpoints, else 404 on the raw socket. */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const auth = this.#options.auth;
    if (auth === undefined) {
      this.#routeUpgrade(req, socket, head, path);
      return;
    }
    const refused = (err: McpscopeError): void => {
      this.#ctx.rejected(err);
      refuseUpgrade(socket, err);
    };
    const forbidden = checkOrigin(req.headers.origin, req.headers.host, this.#ctx.originPolicy);
    if (forbidden) return refused(forbidden);
    void auth
      .authenticate(req)
      .then((err) => (err ? refused(err) : this.#routeUpgrade(req, socket, head, path)));
  }

  #routeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, path: string): void {
    for (const endpoint of this.#endpoints) if (endpoint.upgrade?.(req, socket, head, path)) return;
    const body = JSON.stringify({ error: `no WebSocket endpoint at ${path}; it is ${this.#path}` });
    socket.end(
      `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }

  /** Bytes held for clients by every endpoint: resumption buffers, backlogs, unsent output. */
  get bufferedBytes(): number {
    let total = 0;
    for (const endpoint of this.#endpoints) total += endpoint.bufferedBytes;
    return total;
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        if (err.code === 'EADDRINUSE') {
          reject(
            new McpscopeError(
              'CONFIG_INVALID',
              `port ${this.#options.port} on ${this.#options.host} is already in use; pass --port with a free port (0 picks one)`,
              { cause: err },
            ),
          );
        } else reject(err);
      };
      this.#server.once('error', onError);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    this.#keepAlive = setInterval(() => {
      for (const endpoint of this.#endpoints) endpoint.keepAlive();
    }, this.#keepAliveMs);
    this.#keepAlive.unref();
    return this.#server.address() as AddressInfo;
  }

  get url(): string {
    const addr = this.#server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}${this.#path}`;
  }

  /**
   * Shutdown has begun. The port stays open until close(), so that a client is told why rather than
   * refused: the sessions answer new requests with SHUTTING_DOWN, and a new session gets HTTP 503.
   * Idle keep-alive connections are closed now; the connections carrying requests stay.
   */
  stopAccepting(): void {
    this.#server.closeIdleConnections();
  }

  async close(): Promise<void> {
    clearInterval(this.#keepAlive);
    for (const endpoint of this.#endpoints) endpoint.close();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
