import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load.js';
import type { McpscopeError } from '../../src/jsonrpc/errors.js';
import { impliedTransport } from '../../src/transport/httpUpstream.js';
import {
  DeliveredEvents,
  MAX_REMEMBERED_EVENT_IDS,
  SSE_RECONNECT_BASE_DELAY_MS,
  SSE_RECONNECT_MAX_DELAY_MS,
  reconnectDelayMs,
} from '../../src/transport/reconnect.js';

describe('reconnectDelayMs', () => {
  it('doubles from the base, stays within half and all of its ceiling, and never passes the cap', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(SSE_RECONNECT_MAX_DELAY_MS, SSE_RECONNECT_BASE_DELAY_MS * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const d = reconnectDelayMs(attempt);
        expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it("takes a server's retry: value as the base, within the same cap", () => {
    expect(reconnectDelayMs(0, 1_000)).toBeGreaterThanOrEqual(500);
    expect(reconnectDelayMs(10, 1_000)).toBeLessThanOrEqual(SSE_RECONNECT_MAX_DELAY_MS);
  });
});

describe('DeliveredEvents', () => {
  it('says an id was seen only the second time, and ignores missing ids', () => {
    const d = new DeliveredEvents();
    expect(d.seen('a')).toBe(false);
    expect(d.seen('a')).toBe(true);
    expect(d.seen(undefined)).toBe(false);
    expect(d.seen(undefined)).toBe(false);
  });

  it(`remembers the newest ${MAX_REMEMBERED_EVENT_IDS} ids and forgets older ones`, () => {
    const d = new DeliveredEvents();
    for (let i = 0; i < MAX_REMEMBERED_EVENT_IDS + 10; i++) expect(d.seen(`e${i}`)).toBe(false);
    expect(d.seen(`e${MAX_REMEMBERED_EVENT_IDS + 9}`)).toBe(true);
    expect(d.seen('e10')).toBe(true);
    expect(d.seen('e0')).toBe(false); // forgotten, so taken as new (and remembered again)
  });
});

describe('upstream URLs and transports', () => {
  it('accepts http(s) and ws(s) upstreams and the --upstream-transport kinds', () => {
    for (const url of ['http://127.0.0.1:1/mcp', 'https://h/sse', 'ws://127.0.0.1:1/ws', 'wss://h/ws']) {
      expect(resolveConfig({ upstream: { value: url, source: 'cli', origin: '--upstream' } }).upstream).toBe(
        url,
      );
    }
    let code = 'OK';
    try {
      resolveConfig({ upstream: { value: 'ftp://h/x', source: 'cli', origin: '--upstream' } });
    } catch (err) {
      code = (err as McpscopeError).code;
    }
    expect(code).toBe('CONFIG_INVALID');
    expect(resolveConfig({}).upstreamTransport).toBe('auto');
  });

  it('takes ws:// and wss:// as WebSocket whatever was asked, and honours the choice otherwise', () => {
    expect(impliedTransport('ws://h/ws')).toBe('websocket');
    expect(impliedTransport('wss://h/ws', 'sse')).toBe('websocket');
    expect(impliedTransport('http://h/sse', 'sse')).toBe('sse');
    expect(impliedTransport('http://h/mcp')).toBe('auto');
  });
});
