import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Duplex } from 'node:stream';
import { McpscopeError, type JsonRpcId } from '../jsonrpc/errors.js';
import { parseFrame, type Frame } from '../jsonrpc/framing.js';
import { HEADER_LAST_EVENT_ID, HEADER_PROTOCOL_VERSION, HEADER_SESSION_ID } from '../protocol.js';
import {
  LEGACY_PROTOCOL_VERSIONS,
  META_CLIENT_INFO,
  checkEnvelope,
  checkHeaders,
  eraOf,
  isModernVersion,
  mcpHeadersOf,
  metaOf,
  unsupportedVersion,
} from '../jsonrpc/era.js';
import { StatelessHttpServerTransport } from './statelessHttpServer.js';
import type { Session } from '../session/session.js';
import type { SessionManager } from '../session/sessionManager.js';
import { openSession, type EndpointContext } from './endpointContext.js';
import { readBody, writeError } from './httpBody.js';
import { LegacySseRoutes } from './legacySseRoutes.js';
import { LOOPBACK_HOSTS, checkOrigin, type OriginPolicy } from './originCheck.js';
import { StreamableHttpServerTransport } from './streamableHttpServer.js';
import { DEFAULT_CLIENT_BUFFER_BYTES, type Transport } from './transport.js';
import { WebSocketEndpoint } from './webSocketServer.js';

/** Interval of SSE keep-alive comments on idle GET streams (25 s). */
export const KEEPALIVE_MS = 25_000;
/** Time allowed to receive a request's headers (10 s) and its whole body (30 s). */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

/** Longest session id accepted; ours are 36-character UUIDs. */
export const MAX_SESSION_ID_CHARS = 128;
const SESSION_ID = /^[\x21-\x7e]+$/;

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
}

/**
 * The Streamable HTTP endpoint (`POST/GET/DELETE /mcp`) on raw node:http: validates Origin, Host, headers
 * and bodies, creates sessions on `initialize`, and hands each message to its session's transport.
 */
export class HttpListener {
  readonly #options: HttpListenerOptions;
  readonly #server: Server;
  readonly #ctx: EndpointContext;
  readonly #path: string;
  readonly #transports = new Map<string, StreamableHttpServerTransport>();
  /** 2026-07-28 sessions by client identity (see #identity), while they are being opened and after. */
  readonly #modern = new Map<string, Promise<Session | McpscopeError>>();
  readonly #modernTransports = new Set<StatelessHttpServerTransport>();
  readonly #originPolicy: OriginPolicy;
  #keepAlive: NodeJS.Timeout | undefined;
  readonly #keepAliveMs: number;
  readonly #legacy: LegacySseRoutes | null;
  readonly #webSocket: WebSocketEndpoint | null;
  readonly #refuseBound = (res: ServerResponse, err: McpscopeError, id: JsonRpcId | null = null): void =>
    this.#refuse(res, err, id);

  constructor(options: HttpListenerOptions) {
    this.#options = options;
    this.#path = options.path ?? '/mcp';
    this.#originPolicy = {
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
    const ctx: EndpointContext = (this.#ctx = {
      sessions: options.sessions,
      upstream: options.upstream,
      logger: options.logger,
      maxMessageBytes: options.maxMessageBytes,
      clientBufferBytes: options.clientBufferBytes ?? DEFAULT_CLIENT_BUFFER_BYTES,
      originPolicy: this.#originPolicy,
      refuse: this.#refuseBound,
      rejected: (err) => options.onReject?.(err),
    });
    this.#legacy = options.legacySse === false ? null : new LegacySseRoutes(ctx);
    this.#webSocket = options.webSocket === false ? null : new WebSocketEndpoint(ctx);
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
  }

  /** A WebSocket upgrade: only on the endpoint path, and only when WebSocket is on. */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (!this.#webSocket || path !== this.#path) {
      const body = JSON.stringify({ error: `no WebSocket endpoint at ${path}; it is ${this.#path}` });
      socket.end(
        `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    this.#webSocket.upgrade(req, socket, head);
  }

  /** Bytes held by all sessions for replay and undelivered backlog. */
  get bufferedBytes(): number {
    let total = 0;
    for (const t of this.#transports.values()) total += t.bufferedBytes;
    for (const t of this.#modernTransports) total += t.bufferedBytes;
    return total;
  }

  /** Refuse a request with an mcpscope error (HTTP status and JSON-RPC body), and report it. */
  #refuse(res: ServerResponse, err: McpscopeError, id: JsonRpcId | null = null): void {
    this.#options.onReject?.(err);
    writeError(res, err, id);
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
      for (const t of this.#transports.values()) t.keepAlive();
      for (const t of this.#modernTransports) t.keepAlive();
      this.#legacy?.keepAlive();
      this.#webSocket?.keepAlive();
    }, this.#keepAliveMs);
    this.#keepAlive.unref();
    return this.#server.address() as AddressInfo;
  }

  get url(): string {
    const addr = this.#server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}${this.#path}`;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== this.#path) {
      if (this.#legacy?.handle(req, res, path, q === -1 ? '' : url.slice(q + 1))) return;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `not found: ${path}; the MCP endpoint is ${this.#path}` }));
      return;
    }
    const forbidden = checkOrigin(req.headers.origin, req.headers.host, this.#originPolicy);
    if (forbidden) {
      this.#refuse(res, forbidden);
      req.resume();
      return;
    }
    // A POST's era and version are decided once its body is parsed, so that errors name the request.
    const version = req.headers[HEADER_PROTOCOL_VERSION];
    if (req.method !== 'POST' && typeof version === 'string') {
      if (isModernVersion(version)) {
        // 2026-07-28 has no GET stream and no session to DELETE.
        res.setHeader('allow', 'POST');
        this.#refuse(
          res,
          new McpscopeError(
            'METHOD_NOT_ALLOWED',
            `${req.method} is not part of MCP ${version} (no sessions, no standalone stream); POST each request, and use subscriptions/listen for change notifications`,
          ),
        );
        req.resume();
        return;
      }
      if (!LEGACY_PROTOCOL_VERSIONS.includes(version)) {
        this.#refuse(res, unsupportedVersion(version));
        req.resume();
        return;
      }
    }
    switch (req.method) {
      case 'POST':
        this.#post(req, res);
        return;
      case 'GET':
        this.#get(req, res);
        return;
      case 'DELETE':
        void this.#delete(req, res);
        return;
      default:
        res.setHeader('allow', 'GET, POST, DELETE');
        this.#refuse(
          res,
          new McpscopeError('METHOD_NOT_ALLOWED', `method ${req.method} is not allowed on ${this.#path}`),
        );
        req.resume();
    }
  }

  /** The session named by the request header, or an HTTP error already sent. */
  #sessionFor(req: IncomingMessage, res: ServerResponse): Session | undefined {
    const id = req.headers[HEADER_SESSION_ID];
    if (typeof id !== 'string' || id === '') {
      this.#refuse(
        res,
        new McpscopeError(
          'SESSION_REQUIRED',
          'Mcp-Session-Id header is required; send initialize first and reuse the id it returns',
        ),
      );
      return undefined;
    }
    if (id.length > MAX_SESSION_ID_CHARS || !SESSION_ID.test(id)) {
      // Never echoed or logged: it is attacker-controlled and may be huge.
      this.#refuse(
        res,
        new McpscopeError(
          'INVALID_REQUEST',
          `Mcp-Session-Id is malformed (visible ASCII, at most ${MAX_SESSION_ID_CHARS} characters); use the id initialize returned`,
        ),
      );
      return undefined;
    }
    const session = this.#options.sessions.get(id);
    // A session that is closing (expired, deleted, its server gone) is as good as gone: answering into it
    // would leave the request hanging.
    if (!session || session.closed) {
      this.#refuse(
        res,
        new McpscopeError(
          'SESSION_NOT_FOUND',
          `session ${id} is unknown, expired or closed; initialize a new session`,
        ),
      );
      return undefined;
    }
    return session;
  }

  #post(req: IncomingMessage, res: ServerResponse): void {
    const accept = req.headers.accept ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      this.#refuse(
        res,
        new McpscopeError('NOT_ACCEPTABLE', 'Accept must list both application/json and text/event-stream'),
      );
      req.resume();
      return;
    }
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('application/json')) {
      this.#refuse(res, new McpscopeError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json'));
      req.resume();
      return;
    }
    const max = this.#options.maxMessageBytes;
    readBody(req, res, max, this.#refuseBound, (body) => {
      let frame: Frame;
      try {
        frame = parseFrame(body, max, performance.now());
      } catch (err) {
        const e = err as McpscopeError;
        const id = e.details?.id;
        this.#refuse(res, e, typeof id === 'string' || typeof id === 'number' ? id : null);
        return;
      }
      const sent = req.headers[HEADER_PROTOCOL_VERSION];
      const headerVersion = typeof sent === 'string' ? sent : undefined;
      if (eraOf(frame, headerVersion) === 'modern') {
        void this.#modernPost(frame, req, res);
        return;
      }
      if (headerVersion !== undefined && !LEGACY_PROTOCOL_VERSIONS.includes(headerVersion)) {
        this.#refuse(res, unsupportedVersion(headerVersion), frame.id ?? null);
        return;
      }
      if (
        frame.method === 'initialize' &&
        frame.kind === 'request' &&
        req.headers[HEADER_SESSION_ID] === undefined
      ) {
        void this.#initialize(frame, req, res);
        return;
      }
      const session = this.#sessionFor(req, res);
      if (!session) return;
      this.#exchange(session, req, res);
      const transport = session.inbound as StreamableHttpServerTransport;
      const traceparent = req.headers.traceparent;
      if (typeof traceparent === 'string') frame.traceparent = traceparent;
      if (frame.kind === 'request') transport.acceptRequest(frame, res);
      else transport.acceptMessage(frame, res);
    });
  }

  async #initialize(frame: Frame, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { sessions, logger } = this.#options;
    let id: string;
    try {
      id = sessions.reserve();
    } catch (err) {
      this.#refuse(res, err as McpscopeError, frame.id ?? null);
      return;
    }
    const inbound = new StreamableHttpServerTransport(id, {
      jsonResponse: this.#options.jsonResponse,
      clientBufferBytes: this.#options.clientBufferBytes,
      maxMessageBytes: this.#options.maxMessageBytes,
      logger,
    });
    const session = await openSession(this.#ctx, id, inbound, req, () => inbound.busy);
    if (session instanceof McpscopeError) {
      this.#refuse(res, session, frame.id ?? null);
      return;
    }
    this.#transports.set(id, inbound);
    session.onClose(() => this.#transports.delete(id));
    this.#exchange(session, req, res);
    inbound.acceptRequest(frame, res);
  }

  /**
   * A 2026-07-28 message. No session header: it belongs to the session of its client's identity (see
   * #identity), opened with its first request; the envelope (and, in front of a non-HTTP upstream, the
   * headers) are checked first, and errors name the request.
   */
  async #modernPost(frame: Frame, req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The spec's order: headers against the body (-32020), then the envelope (-32602) and version (-32022).
    const serving = this.#options.checkModernHeaders !== false;
    const invalid = (serving ? checkHeaders(frame, req.headers) : undefined) ?? checkEnvelope(frame, serving);
    if (invalid) {
      this.#refuse(res, invalid, frame.id ?? null);
      return;
    }
    frame.mcpHeaders = mcpHeadersOf(req.headers);
    const traceparent = req.headers.traceparent;
    if (typeof traceparent === 'string') frame.traceparent = traceparent;
    const key = this.#identity(frame, req);
    let opening = this.#modern.get(key);
    if (!opening) {
      if (frame.kind !== 'request') {
        // Nothing to tell a session that does not exist (a cancellation of a request long gone).
        res.writeHead(202).end();
        return;
      }
      opening = this.#openModern(key, req);
      this.#modern.set(key, opening);
    }
    const session = await opening;
    if (session instanceof McpscopeError || session.closed) {
      if (this.#modern.get(key) === opening) this.#modern.delete(key);
      if (session instanceof McpscopeError) this.#refuse(res, session, frame.id ?? null);
      else void this.#modernPost(frame, req, res);
      return;
    }
    const transport = session.inbound as StatelessHttpServerTransport;
    this.#exchange(session, req, res);
    if (frame.kind === 'request') transport.acceptRequest(frame, res);
    else transport.acceptMessage(frame, res);
  }

  async #openModern(key: string, req: IncomingMessage): Promise<Session | McpscopeError> {
    let id: string;
    try {
      id = this.#options.sessions.reserve();
    } catch (err) {
      return err as McpscopeError;
    }
    const inbound = new StatelessHttpServerTransport({
      mapStatus: this.#options.checkModernHeaders !== false,
      clientBufferBytes: this.#options.clientBufferBytes,
      logger: this.#options.logger,
    });
    const session = await openSession(this.#ctx, id, inbound, req, () => inbound.busy);
    if (session instanceof McpscopeError) return session;
    this.#modernTransports.add(inbound);
    session.onClose(() => {
      this.#modernTransports.delete(inbound);
      this.#modern.delete(key);
    });
    return session;
  }

  /** Once `res` is answered, its summary joins the session's events (method, path, status, MCP headers). */
  #exchange(session: Session, req: IncomingMessage, res: ServerResponse): void {
    res.once('finish', () => {
      const headers = mcpHeadersOf(req.headers);
      const last = req.headers[HEADER_LAST_EVENT_ID];
      if (typeof last === 'string') headers[HEADER_LAST_EVENT_ID] = last;
      session.event({
        type: 'http',
        method: req.method ?? 'GET',
        path: this.#path,
        status: res.statusCode,
        headers,
      });
    });
  }

  /**
   * Who a 2026-07-28 client is, with no session to say it: its address, the name and version it gives in
   * the envelope, and (a digest of) its credentials. Requests of one identity share one session (one server
   * process); different credentials never do.
   */
  #identity(frame: Frame, req: IncomingMessage): string {
    const info = metaOf(frame.msg)?.[META_CLIENT_INFO] as { name?: unknown; version?: unknown } | undefined;
    const auth = req.headers.authorization;
    const credential = auth ? createHash('sha256').update(auth).digest('base64url') : '';
    return `${req.socket.remoteAddress ?? ''}\0${String(info?.name ?? '')}\0${String(info?.version ?? '')}\0${credential}`;
  }

  #get(req: IncomingMessage, res: ServerResponse): void {
    const accept = req.headers.accept ?? '';
    if (!accept.includes('text/event-stream')) {
      this.#refuse(res, new McpscopeError('NOT_ACCEPTABLE', 'GET needs Accept: text/event-stream'));
      return;
    }
    const session = this.#sessionFor(req, res);
    if (!session) return;
    this.#exchange(session, req, res);
    const transport = session.inbound as StreamableHttpServerTransport;
    const lastEventId = req.headers[HEADER_LAST_EVENT_ID];
    if (typeof lastEventId === 'string') {
      if (!transport.resumeStream(lastEventId, res)) {
        this.#refuse(
          res,
          new McpscopeError(
            'INVALID_REQUEST',
            `Last-Event-ID ${lastEventId} is unknown or too old to resume; send the request again`,
          ),
        );
      }
      return;
    }
    if (!transport.openGetStream(res)) {
      this.#refuse(
        res,
        new McpscopeError(
          'STREAM_CONFLICT',
          'this session already has an open GET stream; close it before opening another',
        ),
      );
    }
  }

  async #delete(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    const session = this.#sessionFor(req, res);
    if (!session) return;
    await session.close();
    this.#options.logger.info({ session: session.id }, 'session deleted by client');
    res.writeHead(200).end();
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
    this.#webSocket?.close();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
