import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERYTHING, connectHttp, connectStdio, startHttpProxy, type RunningCli } from '../helpers.js';

// @modelcontextprotocol/server-everything: a third-party server exercising most of the protocol.
describe('server-everything through mcpscope', () => {
  it('works through forward stdio: tools, resources, prompts, sampling', async () => {
    const c = await connectStdio(['--', process.execPath, EVERYTHING, 'stdio']);
    try {
      const tools = (await c.client.listTools()).tools.map((t) => t.name);
      expect(tools).toEqual(expect.arrayContaining(['echo', 'get-sum', 'trigger-sampling-request']));
      expect(
        (await c.client.callTool({ name: 'echo', arguments: { message: 'everything' } })).content,
      ).toEqual([{ type: 'text', text: 'Echo: everything' }]);
      const sum = await c.client.callTool({ name: 'get-sum', arguments: { a: 19, b: 23 } });
      expect(JSON.stringify(sum.content)).toContain('42');
      const sampled = await c.client.callTool({
        name: 'trigger-sampling-request',
        arguments: { prompt: 'hi' },
      });
      expect(JSON.stringify(sampled.content)).toContain(
        'sampled: Resource trigger-sampling-request context: hi',
      );
      const resources = await c.client.listResources();
      expect(resources.resources.length).toBeGreaterThan(0);
      const first = resources.resources[0];
      const read = await c.client.readResource({ uri: first?.uri ?? '' });
      expect(read.contents[0]?.uri).toBe(first?.uri);
      const prompts = await c.client.listPrompts();
      expect(prompts.prompts.map((p) => p.name)).toContain('simple-prompt');
      const prompt = await c.client.getPrompt({ name: 'simple-prompt' });
      expect(prompt.messages.length).toBeGreaterThan(0);
    } finally {
      await c.client.close();
    }
  });

  describe('through forward http', () => {
    let proxy: RunningCli;
    beforeAll(async () => {
      proxy = await startHttpProxy(['--', process.execPath, EVERYTHING, 'stdio']);
    });
    afterAll(async () => {
      await proxy.stop();
    });

    it('serves a long-running operation with progress and two clients at once', async () => {
      const [a, b] = await Promise.all([connectHttp(proxy.url, 'a'), connectHttp(proxy.url, 'b')]);
      const progress: number[] = [];
      const [long, echo] = await Promise.all([
        a.client.callTool(
          { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } },
          undefined,
          {
            onprogress: (p) => progress.push(p.progress),
          },
        ),
        b.client.callTool({ name: 'echo', arguments: { message: 'b' } }),
      ]);
      expect(JSON.stringify(long.content)).toMatch(/completed/i);
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(echo.content).toEqual([{ type: 'text', text: 'Echo: b' }]);
      await Promise.all([a.client.close(), b.client.close()]);
    });
  });
});
