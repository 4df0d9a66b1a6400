// mcpscope gateway and the two protocol eras: a v2 client pinned to 2026-07-28 (server/discover answered
// by the gateway, the envelope on every request, input-required rounds, subscriptions/listen) and a v1
// client (initialize), through one gateway whose upstreams are the v2 fixture over stdio and over HTTP,
// an older server and a 2026-07-28-only one, each of the last two with `bridge: auto`.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  V2_SERVER,
  connectHttp,
  connectV2Http,
  startFixture,
  startListening,
  type RunningCli,
  type RunningFixture,
  type TestClient,
  type V2TestClient,
  callTool as call,
} from '../helpers.js';

const V1_SERVER = path.join(path.dirname(V2_SERVER), 'v1Server.mjs');
const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

describe('mcpscope gateway: both protocol eras', () => {
  let remote: RunningFixture;
  let gateway: RunningCli;

  beforeAll(async () => {
    remote = await startFixture('v2Server.mjs', ['http']);
    const dir = mkdtempSync(path.join(tmpdir(), 'mcpscope-gateway-eras-'));
    const config = path.join(dir, 'gateway.json');
    writeFileSync(
      config,
      JSON.stringify({
        listen: { port: 0 },
        adminPort: 0,
        upstreams: {
          local: { command: [process.execPath, V2_SERVER, 'stdio'] },
          remote: { url: remote.url },
          old: { command: [process.execPath, V1_SERVER, 'stdio'], bridge: 'auto' },
          next: { command: [process.execPath, V2_SERVER, 'stdio', '--reject'], bridge: 'auto' },
        },
      }),
    );
    gateway = await startListening(['gateway', '--config', config]);
  });

  afterAll(async () => {
    await gateway?.stop();
    await remote?.stop();
  });

  describe('a 2026-07-28 client', () => {
    let tc: V2TestClient;
    beforeAll(async () => {
      tc = await connectV2Http(gateway.url);
    });
    afterAll(async () => {
      await tc?.client.close();
    });

    it('is answered server/discover by the gateway', () => {
      expect(tc.client.getProtocolEra()).toBe('modern');
      expect(tc.client.getServerVersion()?.name).toBe('mcpscope-gateway');
      expect(tc.client.getServerCapabilities()?.tools).toBeDefined();
    });

    it('lists every upstream’s tools, prefixed, with caching hints', async () => {
      const list = await tc.client.listTools();
      const names = list.tools.map((t) => t.name);
      for (const upstream of ['local', 'remote', 'old', 'next']) expect(names).toContain(`${upstream}__echo`);
      expect(list).toHaveProperty('ttlMs');
      expect(list).toHaveProperty('cacheScope');
    });

    it('routes calls, input-required rounds included, bridged or not', async () => {
      expect(await call(tc.client, 'local__echo', { text: 'a' })).toBe('echo(modern): a');
      expect(await call(tc.client, 'remote__echo', { text: 'b' })).toBe('echo(modern): b');
      expect(await call(tc.client, 'old__echo', { text: 'c' })).toBe('echo(legacy): c');
      for (const upstream of ['local', 'remote', 'old']) {
        expect(await call(tc.client, `${upstream}__confirm`, { action: 'go' })).toBe('did go');
        expect(await call(tc.client, `${upstream}__ask_llm`, { q: 'Capital?' })).toBe('llm said: Paris');
      }
    });

    it('carries a listen to every upstream, under the client’s subscription id', async () => {
      const sub = await tc.client.listen({ toolsListChanged: true });
      try {
        const seen = tc.changes.length;
        await tc.client.callTool({ name: 'local__touch', arguments: {} });
        await expect.poll(() => tc.changes.length).toBeGreaterThan(seen);
        const change = tc.changes[seen];
        expect(change?.method).toBe('notifications/tools/list_changed');
        expect(change?.params?._meta).toHaveProperty([SUBSCRIPTION_ID]);
        expect(change?.params?._meta).toHaveProperty(['io.mcpscope/upstream'], 'local');
      } finally {
        await sub.close();
      }
    });
  });

  describe('a 2025-era client', () => {
    let tc: TestClient;
    beforeAll(async () => {
      tc = await connectHttp(gateway.url);
    });
    afterAll(async () => {
      await tc?.client.close();
    });

    it('initializes, and reaches a 2026-07-28-only upstream through its bridge', async () => {
      expect(tc.client.getServerVersion()?.name).toBe('mcpscope-gateway');
      const names = (await tc.client.listTools()).tools.map((t) => t.name);
      for (const upstream of ['local', 'remote', 'old', 'next']) expect(names).toContain(`${upstream}__echo`);
      expect(await call(tc.client, 'next__echo', { text: 'n' })).toBe('echo(modern): n');
      expect(await call(tc.client, 'local__echo', { text: 'l' })).toBe('echo(legacy): l');
      expect(await call(tc.client, 'old__add', { a: 1, b: 2 })).toBe('3');
    });
  });
});
