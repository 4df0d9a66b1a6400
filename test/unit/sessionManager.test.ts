// SessionManager with sessions that own a server process: a session whose upstream is still starting (its
// process being spawned) is neither idle for --process-idle-ms nor evictable at --max-processes. The
// upstream here is a stand-in whose start() takes as long as a test needs; the integration tests
// (test/integration/processLimits.test.ts) run the same rules with real processes.
import { afterEach, describe, expect, it } from 'vitest';
import { McpscopeError } from '../../src/jsonrpc/errors.js';
import { silentLogger } from '../../src/log.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { ObserverStage } from '../../src/pipeline/stage.js';
import type { SessionEvent } from '../../src/session/events.js';
import type { Session } from '../../src/session/session.js';
import { SessionManager, type SessionManagerOptions } from '../../src/session/sessionManager.js';
import type { Transport } from '../../src/transport/transport.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A wire that takes `startMs` to start and carries nothing. */
function wire(startMs: number): Transport {
  return {
    kind: 'stdio',
    start: () => sleep(startMs),
    send: () => undefined,
    close: async () => undefined,
  };
}

describe('SessionManager: a session still starting', () => {
  let manager: SessionManager | undefined;
  const events: Array<{ session: string; event: SessionEvent }> = [];
  afterEach(async () => {
    await manager?.closeAll();
    manager = undefined;
    events.length = 0;
  });

  function start(options: Partial<SessionManagerOptions>): SessionManager {
    const recorder: ObserverStage = {
      kind: 'observer',
      name: 'recorder',
      observe: () => undefined,
      onEvent: (session, event) => events.push({ session: session.id, event }),
    };
    // A 200 ms request timeout sweeps every 10 ms.
    manager = new SessionManager({
      pipeline: new Pipeline([recorder], silentLogger()),
      logger: silentLogger(),
      requestTimeoutMs: 200,
      ownsProcesses: true,
      ...options,
    });
    return manager;
  }

  function open(m: SessionManager, startMs: number): Promise<Session> {
    return m.create(m.reserve(), { inbound: wire(0), outbound: wire(startMs), upstream: 'test' });
  }

  it('is not idle while its process starts, and its idle time counts from the start', async () => {
    const m = start({ processIdleMs: 1_000 });
    // The start takes twice the idle expiry.
    const session = await open(m, 2_000);
    expect(session.closed).toBe(false);
    // Idle from the end of the start, not from the session's creation (2 s ago).
    await sleep(300);
    expect(session.closed).toBe(false);
    await expect.poll(() => session.closed, { timeout: 5_000, interval: 20 }).toBe(true);
    expect(events.find((e) => e.event.type === 'session-expired')).toMatchObject({
      session: session.id,
      event: { reason: 'process_idle' },
    });
  });

  it('is not evicted at --max-processes: the new session is refused instead', async () => {
    const m = start({ processIdleMs: 0, maxProcesses: 1 });
    const opening = open(m, 500);
    let refused: unknown;
    try {
      m.reserve();
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(McpscopeError);
    expect(refused).toMatchObject({ code: 'TOO_MANY_SESSIONS', details: { setting: 'maxProcesses' } });
    const first = await opening;
    expect(first.closed).toBe(false);
    // Started and idle, it is the one closed to make room.
    const second = await open(m, 0);
    expect(first.closed).toBe(true);
    expect(second.closed).toBe(false);
    expect(events.find((e) => e.event.type === 'session-expired')).toMatchObject({
      session: first.id,
      event: { reason: 'evicted' },
    });
  });
});
