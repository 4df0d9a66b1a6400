/** The live feed (admin `/sessions`, `/sessions/{id}/events`, `/events`): bounds and defaults. */

/** Events kept per session (a ring): `--feed-events`. */
export const DEFAULT_FEED_EVENTS = 1_000;
/** Closed sessions kept, with their events, for `/sessions`: `--feed-closed-sessions`. */
export const DEFAULT_FEED_CLOSED_SESSIONS = 100;
/** A message larger than this is truncated in the feed (and marked so): `--feed-body-bytes`. */
export const DEFAULT_FEED_BODY_BYTES = 64 * 1024;

export interface FeedOptions {
  /** Events kept per session. Default DEFAULT_FEED_EVENTS. */
  events?: number;
  /** Closed sessions kept. Default DEFAULT_FEED_CLOSED_SESSIONS. */
  closedSessions?: number;
  /** Bytes of one message kept in the feed. Default DEFAULT_FEED_BODY_BYTES. */
  bodyBytes?: number;
}
