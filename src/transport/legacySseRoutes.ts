import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { principalOf, sameSubject } from '../auth/principal.js';
import { McpscopeError } from '../jsonrpc/errors.js';
import { parseFrame, type Frame } from '../jsonrpc/framing.js';
import { openSession, type EndpointContext } from './endpointContext.js';
import { readBody } from './httpBody.js';
import { LegacySseServerTransport } from './legacySseServer.js';
import { reportExchange, type HttpEndpoint } from './httpEndpoint.js';
import { checkOrigin } from './originCheck.js';
import { MAX_SESSION_ID_CHARS } from './streamableHttpEndpoint.js';

/** Where legacy HTTP+SSE clients open their stream… */
export const LEGACY_SSE_PATH = '/sse';
/** …and where they POST their messages (`?sessionId=`). */
export const LEGACY_MESSAGES_PATH = '/messages';
/**
 * The legacy HTTP+SSE endpoints (protocol revision 2024-11-05) beside the Streamable HTTP one, as the spec's
 * backwards-compatibility section asks of servers: `GET /sse` opens a session and its stream, whose first
 * event names `/messages?sessionId=…`; `POST` there carries client messages (202), answers go down the
 * stream. Same Origin/Host checks, session cap and size limit as the Streamable HTTP endpoint.
 */
export class LegacySseRoutes implements HttpEndpoint {
  readonly #ctx: EndpointContext;
  readonly #transports = new Set<LegacySseServerTransport>();

  constructor(ctx: EndpointContext) {
    this.#ctx = ctx;
  }

  /** Handle the request if it is for a legacy path; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, path: string, query: string): boolean {
    if (path !== LEGACY_SSE_PATH && path !== LEGACY_MESSAGES_PATH) return false;
    const ctx = this.#ctx;
    const forbidden = checkOrigin(req.headers.origin, req.headers.host, ctx.originPolicy);
    if (forbidden) {
      ctx.refuse(res, forbidden);
      req.resume();
      return true;
    }
    const method = path === LEGACY_SSE_PATH ? 'GET' : 'POST';
    if (req.method !== method) {
      res.setHeader('allow', method);
      ctx.refuse(
        res,
        new McpscopeError('METHOD_NOT_ALLOWED', `method ${req.method} is not allowed on ${path}`),
      );
      req.resume();
      return true;
    }
    if (method === 'GET') void this.#open(req, res);
    else this.#post(req, res, query);
    return true;
  }

  async #open(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ctx = this.#ctx;
    let id: string;
    try {
      id = ctx.sessions.reserve();
    } catch (err) {
      ctx.refuse(res, err as McpscopeError);
      return;
    }
    const endpoint = `${LEGACY_MESSAGES_PATH}?sessionId=${id}`;
    const inbound = new LegacySseServerTransport(id, res, endpoint, ctx.clientBufferBytes);
    const session = await openSession(ctx, id, inbound, req, () => true);
    if (session instanceof McpscopeError) {
      ctx.refuse(res, session);
      return;
    }
    reportExchange(session, req, res, LEGACY_SSE_PATH);
    this.#transports.add(inbound);
    session.onClose(() => this.#transports.delete(inbound));
  }

  #post(req: IncomingMessage, res: ServerResponse, query: string): void {
    const ctx = this.#ctx;
    const id = new URLSearchParams(query).get('sessionId');
    if (!id) {
      ctx.refuse(
        res,
        new McpscopeError(
          'SESSION_REQUIRED',
          `sessionId is required: POST to the endpoint that GET ${LEGACY_SSE_PATH} announced`,
        ),
      );
      req.resume();
      return;
    }
    const session = id.length <= MAX_SESSION_ID_CHARS ? ctx.sessions.get(id) : undefined;
    const inbound = session?.inbound;
    if (
      !session ||
      session.closed ||
      !(inbound instanceof LegacySseServerTransport) ||
      !sameSubject(session.client?.principal, req)
    ) {
      // Never echoed: it is attacker-controlled.
      ctx.refuse(
        res,
        new McpscopeError(
          'SESSION_NOT_FOUND',
          `no open legacy SSE session has this sessionId (unknown, expired or closed); open a new stream with GET ${LEGACY_SSE_PATH}`,
        ),
      );
      req.resume();
      return;
    }
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('application/json')) {
      ctx.refuse(res, new McpscopeError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json'));
      req.resume();
      return;
    }
    readBody(req, res, ctx.maxMessageBytes, ctx.refuse, (body) => {
      let frame: Frame;
      try {
        frame = parseFrame(body, ctx.maxMessageBytes, performance.now());
      } catch (err) {
        const e = err as McpscopeError;
        const bad = e.details?.id;
        ctx.refuse(res, e, typeof bad === 'string' || typeof bad === 'number' ? bad : null);
        return;
      }
      const traceparent = req.headers.traceparent;
      if (typeof traceparent === 'string') frame.traceparent = traceparent;
      frame.principal = principalOf(req);
      reportExchange(session, req, res, LEGACY_MESSAGES_PATH);
      res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
      inbound.accept(frame);
    });
  }

  /** Bytes written to legacy SSE clients and not yet taken by them. */
  get bufferedBytes(): number {
    let total = 0;
    for (const t of this.#transports) total += t.bufferedBytes;
    return total;
  }

  close(): void {}

  keepAlive(): void {
    for (const t of this.#transports) t.keepAlive();
  }
}
