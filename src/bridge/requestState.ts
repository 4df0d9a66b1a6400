import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The `requestState` mcpscope hands a 2026-07-28 client when it turns an older server's requests into an
 * input-required result: which held upstream call the retry resumes, signed (HMAC-SHA256 with a key made
 * per proxy process) so that a client cannot point a retry at another call, another session, or another
 * round. Format: `mcpscope1.<base64url JSON>.<base64url signature>`.
 */
export interface BridgeState {
  /** The session the call belongs to. */
  readonly session: string;
  /** The held call's id upstream. */
  readonly call: string | number;
  /** The round this state was issued for (a state from an earlier round is refused). */
  readonly round: number;
  /** The method and target of the original request: a retry must repeat them. */
  readonly method: string;
  readonly target: string | null;
  /** Expiry, ms since the epoch. */
  readonly expires: number;
}

const PREFIX = 'mcpscope1';

export class RequestStateCodec {
  readonly #key: Buffer;

  constructor(key: Buffer = randomBytes(32)) {
    this.#key = key;
  }

  sign(state: BridgeState): string {
    const payload = Buffer.from(JSON.stringify(state)).toString('base64url');
    return `${PREFIX}.${payload}.${this.#mac(payload)}`;
  }

  /** The state a client sent back, or why it is refused. */
  verify(text: unknown, now = Date.now()): BridgeState | string {
    if (typeof text !== 'string') return 'requestState is not a string';
    const parts = text.split('.');
    if (parts.length !== 3 || parts[0] !== PREFIX) return 'requestState was not issued by mcpscope';
    const [, payload, mac] = parts as [string, string, string];
    const expected = Buffer.from(this.#mac(payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return 'requestState signature does not match (it was altered, or issued by another mcpscope process)';
    }
    let state: BridgeState;
    try {
      state = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as BridgeState;
    } catch {
      return 'requestState is unreadable';
    }
    if (typeof state.expires !== 'number' || state.expires < now) return 'requestState has expired';
    return state;
  }

  #mac(payload: string): string {
    return createHmac('sha256', this.#key).update(payload).digest('base64url');
  }
}
