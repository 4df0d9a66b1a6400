import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  EXAMPLE,
  adminUrlFrom,
  connectHttp,
  connectSse,
  connectStdio,
  startFixture,
  startHttpProxy,
  type RunningFixture,
  type TestClient,
} from '../helpers.js';

/**
 * Readiness and liveness probes must never hurt the proxy: a load balancer polls them all day, in every
 * mode, while traffic flows. The remote-upstream probe once destroyed an unread undici body with no 'error'
 * listener, and the process exited with code 1 two seconds after the first GET /ready.
 */

/** Longer than READY_PROBE_TIMEOUT_MS (2 s): the crash came when the probe's abort timer fired. */
const PROBE_FOR_MS = 2_600;

interface Mode {
  name: string;
  start(): Promise<{ client: Client; admin: string; alive(): boolean; stop(): Promise<void> }>;
}

const fixtures: Record<string, RunningFixture> = {};

async function probeWhileCalling(mode: Mode): Promise<void> {
  const run = await mode.start();
  try {
    const statuses: number[] = [];
    const calls: string[] = [];
    const deadline = Date.now() + PROBE_FOR_MS;
    const probing = (async () => {
      while (Date.now() < deadline) {
        for (const path of ['/ready', '/health']) {
          const res = await fetch(`${run.admin}${path}`);
          await res.text();
          statuses.push(res.status);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const calling = (async () => {
      for (let i = 0; Date.now() < deadline; i++) {
        const r = await run.client.callTool({ name: 'echo', arguments: { message: `m${i}` } });
        calls.push((r.content as Array<{ text: string }>)[0]?.text ?? '');
      }
    })();
    await Promise.all([probing, calling]);
    // Past the probe's abort timer: the process must still be there and still serving.
    await new Promise((r) => setTimeout(r, 300));
    expect(run.alive()).toBe(true);
    const last = await run.client.callTool({ name: 'echo', arguments: { message: 'after' } });
    expect(last.content).toEqual([{ type: 'text', text: 'after' }]);
    expect(statuses.length).toBeGreaterThan(10);
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect(calls.length).toBeGreaterThan(5);
    expect(calls.every((c, i) => c === `m${i}`)).toBe(true);
  } finally {
    await run.stop();
  }
}

function httpMode(
  name: string,
  args: () => string[],
  connect: (url: string) => Promise<TestClient> = connectHttp,
): Mode {
  return {
    name,
    start: async () => {
      const proxy = await startHttpProxy(['--admin-port', '0', ...args()]);
      const admin = await adminUrlFrom(proxy.stderr);
      const c = await connect(proxy.url);
      return {
        client: c.client,
        admin,
        alive: () => proxy.proc.exitCode === null && proxy.proc.signalCode === null,
        stop: async () => {
          await c.client.close();
          await proxy.stop();
        },
      };
    },
  };
}

function stdioMode(name: string, args: () => string[]): Mode {
  return {
    name,
    start: async () => {
      const c = await connectStdio(['--admin-port', '0', ...args()]);
      const admin = await adminUrlFrom(c.stderr);
      const pid = c.transport.pid as number;
      return {
        client: c.client,
        admin,
        alive: () => {
          try {
            process.kill(pid, 0);
            return true;
          } catch {
            return false;
          }
        },
        stop: () => c.client.close(),
      };
    },
  };
}

const url = (name: string) => (fixtures[name] as RunningFixture).url;

const MODES: Mode[] = [
  stdioMode('forward stdio -- command', () => ['--', process.execPath, EXAMPLE]),
  stdioMode('forward stdio --upstream (Streamable HTTP)', () => ['--upstream', url('httpServer.mjs')]),
  httpMode('forward http -- command', () => ['--', process.execPath, EXAMPLE]),
  httpMode(
    'forward http -- command, legacy SSE client',
    () => ['--', process.execPath, EXAMPLE],
    (u) => connectSse(u.replace(/\/mcp$/, '/sse')),
  ),
  httpMode('forward http --upstream (Streamable HTTP)', () => ['--upstream', url('httpServer.mjs')]),
  httpMode('forward http --upstream (legacy SSE)', () => ['--upstream', url('legacySseServer.mjs')]),
  httpMode('forward http --upstream (WebSocket)', () => ['--upstream', url('webSocketServer.mjs')]),
];

describe('GET /ready and /health while traffic flows, in every mode', () => {
  beforeAll(async () => {
    for (const name of ['httpServer.mjs', 'legacySseServer.mjs', 'webSocketServer.mjs']) {
      fixtures[name] = await startFixture(name);
    }
  });
  afterAll(async () => {
    await Promise.all(Object.values(fixtures).map((f) => f.stop()));
  });

  for (const mode of MODES) {
    it(`${mode.name}: the proxy stays up, every probe answers 200, every call is answered`, () =>
      probeWhileCalling(mode));
  }
});
