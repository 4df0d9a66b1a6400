import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { principalOf, sameSubject } from '../auth/principal.js';
import { McpscopeError } from '../jsonrpc/errors.js';
import { LEGACY_PROTOCOL_VERSIONS, eraOf, isModernVersion, unsupportedVersion } from '../jsonrpc/era.js';
import { parseFrame, type Frame } from '../jsonrpc/framing.js';
import { HEADER_LAST_EVENT_ID, HEADER_PROTOCOL_VERSION, HEADER_SESSION_ID } from '../protocol.js';
import type { Session } from '../session/session.js';
import { openSession, type EndpointContext } from './endpointContext.js';
import { readBody } from './httpBody.js';
import { reportExchange, type HttpEndpoint } from './httpEndpoint.js';
import { checkOrigin } from './originCheck.js';
import { StatelessHttpEndpoint } from './statelessHttpEndpoint.js';
import { StreamableHttpServerTransport, sseIdsOf } from './streamableHttpServer.js';

/** Longest session id accepted; ours are 36-character UUIDs. */
export const MAX_SESSION_ID_CHARS = 128;
const SESSION_ID = /^[\x21-\x7e]+$/;

export interface StreamableHttpEndpointOptions {
  /** The endpoint path, e.g. '/mcp'. */
  path: string;
  /** Answer POSTed requests with JSON instead of SSE. */
  jsonResponse: boolean;
  /**
   * Check 2026-07-28 requests' headers against their bodies, as the HTTP server must (in front of a stdio
   * server or a tape); an HTTP upstream checks them itself and gets them as they came.
   */
  checkModernHeaders: boolean;
}

interface Opened {
  readonly session: Session;
  readonly transport: StreamableHttpServerTransport;
}

/**
 * Streamable HTTP on the endpoint path (`POST/GET/DELETE /mcp`): validates Origin, Host, headers and bodies;
 * decides each POST's protocol era once it is parsed; creates 2025-era sessions on `initialize` and finds
 * them by `Mcp-Session-Id`, and hands 2026-07-28 messages to the stateless side.
 */
export class StreamableHttpEndpoint implements HttpEndpoint {
  readonly #ctx: EndpointContext;
  readonly #path: string;
  readonly #jsonResponse: boolean;
  /** 2025-era sessions' transports by session id. */
  readonly #transports = new Map<string, StreamableHttpServerTransport>();
  readonly #modern: StatelessHttpEndpoint;

  constructor(ctx: EndpointContext, options: StreamableHttpEndpointOptions) {
    this.#ctx = ctx;
    this.#path = options.path;
    this.#jsonResponse = options.jsonResponse;
    this.#modern = new StatelessHttpEndpoint(ctx, options.path, options.checkModernHeaders);
  }

  get bufferedBytes(): number {
    let total = this.#modern.bufferedBytes;
    for (const t of this.#transports.values()) total += t.bufferedBytes;
    return total;
  }

  keepAlive(): void {
    for (const t of this.#transports.values()) t.keepAlive();
    this.#modern.keepAlive();
  }

  close(): void {}

  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (path !== this.#path) return false;
    this.#route(req, res);
    return true;
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    const forbidden = checkOrigin(req.headers.origin, req.headers.host, this.#ctx.originPolicy);
    if (forbidden) {
      this.#ctx.refuse(res, forbidden);
      req.resume();
      return;
    }
    // A POST's era and version are decided once its body is parsed, so that errors name the request.
    const version = req.headers[HEADER_PROTOCOL_VERSION];
    if (req.method !== 'POST' && typeof version === 'string') {
      if (isModernVersion(version)) {
        // 2026-07-28 has no GET stream and no session to DELETE.
        res.setHeader('allow', 'POST');
        this.#ctx.refuse(
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
        this.#ctx.refuse(res, unsupportedVersion(version));
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
        this.#ctx.refuse(
          res,
          new McpscopeError('METHOD_NOT_ALLOWED', `method ${req.method} is not allowed on ${this.#path}`),
        );
        req.resume();
    }
  }

  /** The session named by the request header and its transport, or an HTTP error already sent. */
  #sessionFor(req: IncomingMessage, res: ServerResponse): Opened | undefined {
    const id = req.headers[HEADER_SESSION_ID];
    if (typeof id !== 'string' || id === '') {
      this.#ctx.refuse(
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
      this.#ctx.refuse(
        res,
        new McpscopeError(
          'INVALID_REQUEST',
          `Mcp-Session-Id is malformed (visible ASCII, at most ${MAX_SESSION_ID_CHARS} characters); use the id initialize returned`,
        ),
      );
      return undefined;
    }
    const session = this.#ctx.sessions.get(id);
    const transport = this.#transports.get(id);
    // A session that is closing (expired, deleted, its server gone) is as good as gone: answering into it
    // would leave the request hanging. Another subject's session is not there for this one.
    if (!session || session.closed || !transport || !sameSubject(session.client?.principal, req)) {
      this.#ctx.refuse(
        res,
        new McpscopeError(
          'SESSION_NOT_FOUND',
          `session ${id} is unknown, expired or closed; initialize a new session`,
        ),
      );
      return undefined;
    }
    return { session, transport };
  }

  #post(req: IncomingMessage, res: ServerResponse): void {
    const accept = req.headers.accept ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      this.#ctx.refuse(
        res,
        new McpscopeError('NOT_ACCEPTABLE', 'Accept must list both application/json and text/event-stream'),
      );
      req.resume();
      return;
    }
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('application/json')) {
      this.#ctx.refuse(
        res,
        new McpscopeError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json'),
      );
      req.resume();
      return;
    }
    const max = this.#ctx.maxMessageBytes;
    readBody(req, res, max, this.#ctx.refuse, (body) => {
      let frame: Frame;
      try {
        frame = parseFrame(body, max, performance.now());
      } catch (err) {
        const e = err as McpscopeError;
        const id = e.details?.id;
        this.#ctx.refuse(res, e, typeof id === 'string' || typeof id === 'number' ? id : null);
        return;
      }
      frame.principal = principalOf(req);
      const sent = req.headers[HEADER_PROTOCOL_VERSION];
      const headerVersion = typeof sent === 'string' ? sent : undefined;
      if (eraOf(frame, headerVersion) === 'modern') {
        void this.#modern.post(frame, req, res);
        return;
      }
      if (headerVersion !== undefined && !LEGACY_PROTOCOL_VERSIONS.includes(headerVersion)) {
        this.#ctx.refuse(res, unsupportedVersion(headerVersion), frame.id ?? null);
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
      const opened = this.#sessionFor(req, res);
      if (!opened) return;
      const { session, transport } = opened;
      reportExchange(session, req, res, this.#path, sseIdsOf);
      const traceparent = req.headers.traceparent;
      if (typeof traceparent === 'string') frame.traceparent = traceparent;
      if (frame.kind === 'request') transport.acceptRequest(frame, res);
      else transport.acceptMessage(frame, res);
    });
  }

  async #initialize(frame: Frame, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { sessions, logger } = this.#ctx;
    let id: string;
    try {
      id = sessions.reserve();
    } catch (err) {
      this.#ctx.refuse(res, err as McpscopeError, frame.id ?? null);
      return;
    }
    const inbound = new StreamableHttpServerTransport(id, {
      jsonResponse: this.#jsonResponse,
      clientBufferBytes: this.#ctx.clientBufferBytes,
      maxMessageBytes: this.#ctx.maxMessageBytes,
      logger,
    });
    const session = await openSession(this.#ctx, id, inbound, req, () => inbound.busy, frame.receivedAt);
    if (session instanceof McpscopeError) {
      this.#ctx.refuse(res, session, frame.id ?? null);
      return;
    }
    this.#transports.set(id, inbound);
    session.onClose(() => this.#transports.delete(id));
    reportExchange(session, req, res, this.#path, sseIdsOf);
    inbound.acceptRequest(frame, res);
  }

  #get(req: IncomingMessage, res: ServerResponse): void {
    const accept = req.headers.accept ?? '';
    if (!accept.includes('text/event-stream')) {
      this.#ctx.refuse(res, new McpscopeError('NOT_ACCEPTABLE', 'GET needs Accept: text/event-stream'));
      return;
    }
    const opened = this.#sessionFor(req, res);
    if (!opened) return;
    const { session, transport } = opened;
    reportExchange(session, req, res, this.#path, sseIdsOf);
    const lastEventId = req.headers[HEADER_LAST_EVENT_ID];
    if (typeof lastEventId === 'string') {
      if (!transport.resumeStream(lastEventId, res)) {
        this.#ctx.refuse(
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
      this.#ctx.refuse(
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
    const opened = this.#sessionFor(req, res);
    if (!opened) return;
    await opened.session.close();
    this.#ctx.logger.info({ session: opened.session.id }, 'session deleted by client');
    res.writeHead(200).end();
  }
}
