// The 2026-07-28 test peers against each other, without mcpscope: proves the v2 fixture server and the
// v2 client helpers, so a later failure with mcpscope in between is mcpscope's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import {
  MODERN_VERSION,
  V2_SERVER,
  connectV2,
  connectV2Http,
  startFixture,
  type RunningFixture,
  type V2TestClient,
} from '../helpers.js';

const LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

function text(result: { content?: unknown }): string {
  const [first] = (result.content ?? []) as Array<{ type: string; text?: string }>;
  return first?.text ?? '';
}

describe.each(['stdio', 'http'] as const)('v2 client → v2 server over %s (no mcpscope)', (wire) => {
  let fixture: RunningFixture | undefined;
  let tc: V2TestClient;

  beforeAll(async () => {
    if (wire === 'http') {
      fixture = await startFixture('v2Server.mjs', ['http']);
      tc = await connectV2Http(fixture.url);
    } else {
      tc = await connectV2(
        new StdioClientTransport({ command: process.execPath, args: [V2_SERVER, 'stdio'] }),
      );
    }
  });

  afterAll(async () => {
    await tc?.client.close();
    await fixture?.stop();
  });

  it('discovers a modern server', () => {
    expect(tc.client.getProtocolEra()).toBe('modern');
    expect(tc.client.getNegotiatedProtocolVersion()).toBe(MODERN_VERSION);
    expect(tc.client.getServerVersion()?.name).toBe('v2-fixture');
  });

  it('lists tools with the non-default cache hints', async () => {
    const list = await tc.client.listTools();
    expect(list.tools.map((t) => t.name).sort()).toEqual(
      ['add', 'ask_llm', 'confirm', 'echo', 'region', 'roots', 'slow', 'touch', 'wizard'].sort(),
    );
    expect(list).toMatchObject({ ttlMs: 60_000, cacheScope: 'public' });
  });

  it('calls plain tools', async () => {
    expect(text(await tc.client.callTool({ name: 'echo', arguments: { text: 'hi' } }))).toBe(
      'echo(modern): hi',
    );
    expect(text(await tc.client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }))).toBe('5');
  });

  it('fulfils elicitation, sampling and roots through input_required', async () => {
    expect(text(await tc.client.callTool({ name: 'confirm', arguments: { action: 'deploy' } }))).toBe(
      'did deploy',
    );
    expect(tc.elicitations).toContain('Really deploy?');
    expect(text(await tc.client.callTool({ name: 'ask_llm', arguments: { q: 'Capital of France?' } }))).toBe(
      'llm said: Paris',
    );
    expect(text(await tc.client.callTool({ name: 'roots', arguments: {} }))).toBe('file:///tmp/project');
  });

  it('runs two rounds joined by requestState', async () => {
    expect(text(await tc.client.callTool({ name: 'wizard', arguments: {} }))).toBe('Ada likes teal');
  });

  it('streams progress, and logs only when the request asks for them', async () => {
    const progress: number[] = [];
    const logsBefore = tc.logs.length;
    const quiet = await tc.client.callTool(
      { name: 'slow', arguments: { steps: 2 } },
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(text(quiet)).toBe('done 2');
    expect(progress).toEqual([1, 2]);
    expect(tc.logs.length).toBe(logsBefore);

    const loud = await tc.client.callTool({
      name: 'slow',
      arguments: { steps: 3 },
      _meta: { [LOG_LEVEL]: 'info' },
    });
    expect(text(loud)).toBe('done 3');
    expect(tc.logs.slice(logsBefore).map((l) => l.data)).toEqual(['step 1', 'step 2', 'step 3']);
  });

  it('delivers list_changed and resources/updated on a listen stream', async () => {
    const sub = await tc.client.listen({ toolsListChanged: true, resourceSubscriptions: ['config://app'] });
    try {
      expect(sub.honoredFilter).toEqual({ toolsListChanged: true, resourceSubscriptions: ['config://app'] });
      await tc.client.callTool({ name: 'touch', arguments: {} });
      await expect
        .poll(() => tc.changes.map((c) => c.method).sort())
        .toEqual(['notifications/resources/updated', 'notifications/tools/list_changed']);
      for (const change of tc.changes) expect(change.params?._meta).toHaveProperty([SUBSCRIPTION_ID]);
    } finally {
      await sub.close();
    }
  });
});
