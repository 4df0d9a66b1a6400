/**
 * Every type of event the live feed carries (and names its SSE events by): the OpenAPI document lists them,
 * and the DevTools page (web/api.ts) listens to each. No imports: the page's bundle takes this file as is.
 */
export const FEED_EVENT_TYPES = [
  'message',
  'session-opened',
  'session-closed',
  'error',
  'stream-opened',
  'stream-closed',
  'stream-resumed',
  'undelivered',
  'backpressure',
  'upstream-reconnect',
  'upstream-resumed',
  'process-started',
  'process-exited',
  'process-stopped',
  'process-restarted',
  'stderr',
  'http',
  'bridge',
  'session-expired',
  'paused',
  'gateway',
  'replay-fallback',
] as const;
