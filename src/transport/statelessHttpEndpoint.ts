import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpscopeError } from '../jsonrpc/errors.js';
import { META_CLIENT_INFO, checkEnvelope, checkHeaders, mcpHeadersOf, metaOf } from '../jsonrpc/era.js';
import type { Frame } from '../jsonrpc/framing.js';
import type { Session } from '../session/session.js';
import { openSession, type EndpointContext } from './endpointContext.js';
import { reportExchange } from './httpEndpoint.js';
import { StatelessHttpServerTransport } from './statelessHttpServer.js';

interface Opened {
  readonly session: Session;
  readonly transport: StatelessHttpServerTransport;
}

/**
 * The 2026-07-28 side of the Streamable HTTP endpoint: no session header, so each client identity (see
 * #identity) gets one session, opened with its first request, whose StatelessHttpServerTransport carries
 * every exchange of that identity.
 */
export class StatelessHttpEndpoint {
  readonly #ctx: EndpointContext;
  readonly #path: string;
  /** Check headers, envelope version and map answer statuses: mcpscope is the HTTP server (non-HTTP upstream). */
  readonly #checkHeaders: boolean;
  /** Sessions by client identity, while they are being opened and after. */
  readonly #modern = new Map<string, Promise<Opened | McpscopeError>>();
  readonly #transports = new Set<StatelessHttpServerTransport>();

  constructor(ctx: EndpointContext, path: string, checkHeaders: boolean) {
    this.#ctx = ctx;
    this.#path = path;
    this.#checkHeaders = checkHeaders;
  }

  get bufferedBytes(): number {
    let total = 0;
    for (const t of this.#transports) total += t.bufferedBytes;
    return total;
  }

  keepAlive(): void {
    for (const t of this.#transports) t.keepAlive();
  }

  /**
   * A 2026-07-28 message. No session header: it belongs to the session of its client's identity (see
   * #identity), opened with its first request; the envelope (and, in front of a non-HTTP upstream, the
   * headers) are checked first, and errors name the request.
   */
  async post(frame: Frame, req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The spec's order: headers against the body (-32020), then the envelope (-32602) and version (-32022).
    const serving = this.#checkHeaders;
    const invalid = (serving ? checkHeaders(frame, req.headers) : undefined) ?? checkEnvelope(frame, serving);
    if (invalid) {
      this.#ctx.refuse(res, invalid, frame.id ?? null);
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
      opening = this.#openModern(key, req, frame.receivedAt);
      this.#modern.set(key, opening);
    }
    const opened = await opening;
    if (opened instanceof McpscopeError || opened.session.closed) {
      if (this.#modern.get(key) === opening) this.#modern.delete(key);
      if (opened instanceof McpscopeError) this.#ctx.refuse(res, opened, frame.id ?? null);
      else void this.post(frame, req, res);
      return;
    }
    const { session, transport } = opened;
    reportExchange(session, req, res, this.#path);
    if (frame.kind === 'request') transport.acceptRequest(frame, res);
    else transport.acceptMessage(frame, res);
  }

  async #openModern(key: string, req: IncomingMessage, openedAt: number): Promise<Opened | McpscopeError> {
    let id: string;
    try {
      id = this.#ctx.sessions.reserve();
    } catch (err) {
      return err as McpscopeError;
    }
    const transport = new StatelessHttpServerTransport({
      mapStatus: this.#checkHeaders,
      clientBufferBytes: this.#ctx.clientBufferBytes,
      logger: this.#ctx.logger,
    });
    const session = await openSession(this.#ctx, id, transport, req, () => transport.busy, openedAt);
    if (session instanceof McpscopeError) return session;
    this.#transports.add(transport);
    session.onClose(() => {
      this.#transports.delete(transport);
      this.#modern.delete(key);
    });
    return { session, transport };
  }

  /**
   * Who a 2026-07-28 client is, with no session to say it: its address, the name and version it gives in
   * the envelope, and its verified subject (with authorization on: a refreshed token keeps its session) or
   * else a digest of its credentials. Requests of one identity share one session (one server process);
   * different subjects or credentials never do.
   */
  #identity(frame: Frame, req: IncomingMessage): string {
    const info = metaOf(frame.msg)?.[META_CLIENT_INFO] as { name?: unknown; version?: unknown } | undefined;
    const auth = req.headers.authorization;
    const subject = frame.principal?.subject;
    const credential =
      subject !== undefined
        ? `sub:${createHash('sha256').update(subject).digest('base64url')}`
        : auth
          ? createHash('sha256').update(auth).digest('base64url')
          : '';
    return `${req.socket.remoteAddress ?? ''}\0${String(info?.name ?? '')}\0${String(info?.version ?? '')}\0${credential}`;
  }
}
