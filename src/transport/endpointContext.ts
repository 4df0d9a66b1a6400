import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { principalOf } from '../auth/principal.js';
import { McpscopeError, type JsonRpcId } from '../jsonrpc/errors.js';
import type { Session } from '../session/session.js';
import type { SessionManager } from '../session/sessionManager.js';
import type { UpstreamFactory } from './httpListener.js';
import type { OriginPolicy } from './originCheck.js';
import type { Transport } from './transport.js';

/** What every endpoint on the HTTP listener (Streamable HTTP, legacy SSE, WebSocket) shares. */
export interface EndpointContext {
  readonly sessions: SessionManager;
  readonly upstream: UpstreamFactory;
  readonly logger: Logger;
  readonly maxMessageBytes: number;
  /** Bytes a client may leave unread on its stream or socket. */
  readonly clientBufferBytes: number;
  readonly originPolicy: OriginPolicy;
  /** Count a refused request and answer it (HTTP status and JSON-RPC error body). */
  refuse(res: ServerResponse, err: McpscopeError, id?: JsonRpcId | null): void;
  /** Count a refusal answered some other way (on a raw socket, before a WebSocket upgrade). */
  rejected(err: McpscopeError): void;
}

/** The URL a client reached mcpscope at (scheme, the Host it named, the path; no query: it may hold ids). */
function endpointUrl(req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  if (typeof host !== 'string' || host === '') return undefined;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return `http://${host}${q === -1 ? url : url.slice(0, q)}`;
}

/**
 * Open a session under an id from `sessions.reserve()`, its upstream started first. Resolves with the
 * session, or with the error to answer (already logged) when the upstream could not be started.
 */
export async function openSession(
  ctx: EndpointContext,
  id: string,
  inbound: Transport,
  req: IncomingMessage,
  isBusy?: () => boolean,
  openedAt?: number,
): Promise<Session | McpscopeError> {
  const { sessions, upstream, logger } = ctx;
  try {
    const session = await sessions.create(id, {
      inbound,
      outbound: upstream.create(),
      upstream: upstream.description,
      client: {
        remoteAddress: req.socket.remoteAddress,
        headers: req.headers,
        endpoint: endpointUrl(req),
        principal: principalOf(req),
      },
      isBusy,
      openedAt,
    });
    logger.info({ session: id, transport: inbound.kind, upstream: upstream.description }, 'session opened');
    return session;
  } catch (err) {
    const e =
      err instanceof McpscopeError
        ? err
        : new McpscopeError('UPSTREAM_UNREACHABLE', `could not start the upstream: ${String(err)}`);
    logger.error({ code: e.code }, e.message);
    return e;
  }
}
