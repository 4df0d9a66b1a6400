/**
 * One upstream of one client session behind the gateway: its transport (built by the upstream's factory:
 * a stdio process, or the detecting HTTP client), its state, and what waits for it to open.
 */
import { performance } from 'node:perf_hooks';
import { McpscopeError, errorMessage } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';
import type { Transport } from '../transport/transport.js';
import type { NameFilter } from './names.js';

/** An upstream as the gateway config names it; shared by every session. */
export interface UpstreamDef {
  readonly name: string;
  /** The command line or URL, for people. */
  readonly description: string;
  readonly tools: NameFilter;
  readonly prompts: NameFilter;
  /** A transport to this upstream for one client session (a new process for a stdio upstream). */
  create(): Transport;
}

/**
 * idle: never opened; opening: starting (and, for a 2025-era client, initializing); open: serving; down:
 * it could not be opened, or closed; opened again on the next request that needs it once `retryAt` passed.
 */
export type MemberState = 'idle' | 'opening' | 'open' | 'down';

/** First wait before a failed upstream is opened again (1 s), doubling to at most 30 s. */
export const REOPEN_FIRST_MS = 1_000;
export const REOPEN_MAX_MS = 30_000;
/** Client messages that may wait for one upstream to open; past it, requests fail at once. */
export const MAX_WAITING = 1_000;

export class Member {
  readonly def: UpstreamDef;
  readonly index: number;
  transport: Transport | undefined;
  state: MemberState = 'idle';
  /** While opening: settles once it is open (resolves) or has failed (rejects). */
  opening: Promise<void> | undefined;
  /** Why it is down. */
  error: McpscopeError | undefined;
  /** performance.now() from which a down upstream may be opened again. */
  retryAt = 0;
  #failures = 0;
  /** Its answer to initialize (2025 era): capabilities, serverInfo, instructions. */
  init: Record<string, unknown> | undefined;
  /** Client messages waiting for it to open, in order. */
  waiting: Frame[] = [];
  /** Requests routed to it and not yet answered. */
  inflight = 0;

  constructor(def: UpstreamDef, index: number) {
    this.def = def;
    this.index = index;
  }

  get name(): string {
    return this.def.name;
  }

  /** Its capabilities, from its answer to initialize (empty until then, and in 2026-07-28). */
  get capabilities(): Record<string, unknown> {
    const caps = this.init?.capabilities;
    return caps !== null && typeof caps === 'object' ? (caps as Record<string, unknown>) : {};
  }

  opened(): void {
    this.state = 'open';
    this.error = undefined;
    this.#failures = 0;
  }

  /** It failed to open or went away: down until `retryAt`, which backs off with each failure in a row. */
  failed(err: McpscopeError): void {
    this.state = 'down';
    this.error = err;
    this.transport = undefined;
    this.init = undefined;
    this.#failures++;
    this.retryAt = performance.now() + Math.min(REOPEN_FIRST_MS * 2 ** (this.#failures - 1), REOPEN_MAX_MS);
  }

  /** An error about this upstream, naming it: `upstream <name>: <what happened>`, with `upstream` in data. */
  named(err: McpscopeError): McpscopeError {
    if (err.details?.upstream === this.def.name) return err;
    return new McpscopeError(err.code, `upstream ${this.def.name}: ${err.message}`, {
      cause: err,
      details: { ...err.details, upstream: this.def.name },
    });
  }

  /** The refusal of a request while it is down and not yet to be opened again. */
  down(now: number): McpscopeError {
    const why = this.error ? this.error.message : 'it could not be opened';
    const wait = Math.max(0, Math.round(this.retryAt - now));
    return new McpscopeError(
      'GATEWAY_UPSTREAM_DOWN',
      `upstream ${this.def.name} is down (${why}); the gateway opens it again at the first request after ${wait} ms. Its tools fail meanwhile; the other upstreams' work`,
      { cause: this.error, details: { upstream: this.def.name, retryAfterMs: wait } },
    );
  }

  /** The error for a request that cannot reach it: it closed, or too much waits for it to open. */
  unavailable(why: string): McpscopeError {
    return new McpscopeError(
      'GATEWAY_UPSTREAM_UNAVAILABLE',
      `upstream ${this.def.name} is unavailable: ${why}`,
      {
        details: { upstream: this.def.name },
      },
    );
  }
}

/** An error thrown while opening an upstream, as a McpscopeError naming it. */
export function openError(member: Member, err: unknown): McpscopeError {
  if (err instanceof McpscopeError) return member.named(err);
  return new McpscopeError(
    'GATEWAY_UPSTREAM_UNAVAILABLE',
    `upstream ${member.name} could not be opened: ${errorMessage(err)}`,
    { cause: err, details: { upstream: member.name } },
  );
}
