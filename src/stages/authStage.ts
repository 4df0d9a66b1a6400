import type { ResourceServer } from '../auth/resourceServer.js';
import type { JsonRpcId } from '../jsonrpc/errors.js';
import { errorFrame, type Frame } from '../jsonrpc/framing.js';
import { FORWARD, type Direction, type TransformerStage, type Verdict } from '../pipeline/stage.js';
import type { Session } from '../session/session.js';

/**
 * Authorization per message (the listener has checked each request's token already): a `tools/call` needs
 * the scopes its tool is given in `auth.toolScopes`, and a request on a long-lived connection (WebSocket)
 * needs its token to be unexpired still. A refusal is answered at once (HTTP wires: 401 / 403 with the
 * bearer challenge, like the listener's) and goes no further. Each message is judged by the token of the
 * request that carried it, else by its session's.
 */
export class AuthStage implements TransformerStage {
  readonly kind = 'transformer' as const;
  readonly name = 'auth';
  readonly #server: ResourceServer;

  constructor(server: ResourceServer) {
    this.#server = server;
  }

  transform(frame: Frame, session: Session, direction: Direction): Verdict {
    if (direction !== 'client-to-server' || frame.kind !== 'request') return FORWARD;
    const principal = frame.principal ?? session.client?.principal;
    if (principal === undefined) return FORWARD;
    const err = this.#server.checkRequest(frame, principal);
    return err ? { action: 'reply', frame: errorFrame(frame.id as JsonRpcId, err) } : FORWARD;
  }
}
