import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Longest subject shown as it is; longer ones are cut and end in a digest of the whole. */
export const MAX_SUBJECT_LABEL_CHARS = 64;
/** What a long subject keeps of its start, before `…` and the digest. */
const SUBJECT_PREFIX_CHARS = 40;
/** Hex characters of the SHA-256 digest that ends a cut subject (64 bits). */
const SUBJECT_DIGEST_CHARS = 16;

/** Who a verified access token speaks for. Never the token itself. */
export interface Principal {
  /** The token's `sub` (else its `client_id`): who the client acts for. */
  readonly subject: string;
  /**
   * `subject` bounded for labels, logs, the feed and tapes: as it is when short and printable, else its
   * start, `…` and a digest of the whole (so two long subjects never share a label in practice).
   */
  readonly label: string;
  readonly scopes: ReadonlySet<string>;
  /** The client the token was issued to (`client_id` or `azp`), when it says. */
  readonly clientId: string | undefined;
  /** When the token expires, Unix seconds, when it says. */
  readonly expiresAt: number | undefined;
}

/** `subject`, bounded and printable (see Principal.label). */
export function subjectLabel(subject: string): string {
  if (subject.length <= MAX_SUBJECT_LABEL_CHARS && /^[\x20-\x7e]*$/.test(subject)) return subject;
  const digest = createHash('sha256').update(subject).digest('hex').slice(0, SUBJECT_DIGEST_CHARS);
  const start = subject.slice(0, SUBJECT_PREFIX_CHARS).replace(/[^\x20-\x7e]/g, '?');
  return `${start}…${digest}`;
}

/** The principal of each request that passed the resource server (see ResourceServer.authenticate). */
const principals = new WeakMap<IncomingMessage, Principal>();

export function setPrincipal(req: IncomingMessage, principal: Principal): void {
  principals.set(req, principal);
}

/** The request's principal: undefined when authorization is off. */
export function principalOf(req: IncomingMessage): Principal | undefined {
  return principals.get(req);
}

/**
 * May this request use a session opened by `owner`? Sessions are bound to the subject that opened them (the
 * MCP security practices: a session id is not a credential), so another subject's valid token cannot reach
 * it. True when authorization is off (neither has a principal).
 */
export function sameSubject(owner: Principal | undefined, req: IncomingMessage): boolean {
  return owner?.subject === principals.get(req)?.subject;
}
