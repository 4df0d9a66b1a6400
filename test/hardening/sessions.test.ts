// Hardening checklist, items 11–15: sessions and routing, DNS rebinding and CSRF, secrets in logs.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EXAMPLE,
  INIT,
  MCP_HEADERS,
  adminUrlFrom,
  post,
  rawSession,
  sseEvents,
  startHttpProxy,
  type RunningCli,
} from '../helpers.js';

const echo = (id: number | string, message: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'echo', arguments: { message } },
});
/** POST with any headers, Host included (fetch drops a Host header). */
async function rawPost(
  url: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; body: unknown }> {
  const res = await request(url, {
    method: 'POST',
    headers: { ...MCP_HEADERS, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text.startsWith('{') ? JSON.parse(text) : text };
}

const slow = (id: number | string, ms: number) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'slow', arguments: { ms, steps: 1 } },
});

/** The answer (not the log notifications) from an SSE POST response. */
async function answerOf(res: Response): Promise<Record<string, unknown>> {
  const messages = sseEvents(await res.text()).map((e) => JSON.parse(e.data) as Record<string, unknown>);
  const answer = messages.find((m) => 'result' in m || 'error' in m);
  if (!answer) throw new Error(`no answer in ${JSON.stringify(messages)}`);
  return answer;
}

describe('hardening: sessions, routing, rebinding, secrets', () => {
  let proxy: RunningCli;
  let admin: string;
  beforeAll(async () => {
    proxy = await startHttpProxy([
      '--admin-port',
      '0',
      '--log-level',
      'debug',
      '--log-messages',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    admin = await adminUrlFrom(proxy.stderr);
  });
  afterAll(async () => {
    await proxy.stop();
  });

  it('11. session ids are random UUIDs (122 bits) of visible ASCII', async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, () => rawSession(proxy.url)));
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('11. a malformed or 10 KB session id: 400, and never logged', async () => {
    const huge = `canary-sid-${'z'.repeat(10 * 1024)}`;
    for (const id of [huge, 'has space']) {
      const res = await fetch(proxy.url, {
        method: 'POST',
        headers: { ...MCP_HEADERS, 'mcp-session-id': id },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { data: { code: 'INVALID_REQUEST' } } });
    }
    expect(proxy.stderr()).not.toContain('canary-sid');
  });

  it('12. two clients both using id 1 each get their own answer', async () => {
    const [a, b] = await Promise.all([rawSession(proxy.url), rawSession(proxy.url)]);
    const [ra, rb] = await Promise.all([
      post(proxy.url, echo(1, 'for a'), { 'mcp-session-id': a }),
      post(proxy.url, echo(1, 'for b'), { 'mcp-session-id': b }),
    ]);
    expect(await answerOf(ra)).toMatchObject({ id: 1, result: { content: [{ text: 'for a' }] } });
    expect(await answerOf(rb)).toMatchObject({ id: 1, result: { content: [{ text: 'for b' }] } });
  });

  it('12. one client using 1 and "1" at once gets each answer under its own id', async () => {
    const sid = await rawSession(proxy.url);
    const [num, str] = await Promise.all([
      post(proxy.url, slow(1, 150), { 'mcp-session-id': sid }),
      post(proxy.url, slow('1', 10), { 'mcp-session-id': sid }),
    ]);
    expect(await answerOf(num)).toMatchObject({ id: 1, result: { content: [{ text: 'slept 150 ms' }] } });
    expect(await answerOf(str)).toMatchObject({ id: '1', result: { content: [{ text: 'slept 10 ms' }] } });
  });

  it('13. Host or Origin of another site on a loopback bind: 403; loopback names with ports and no Origin: accepted', async () => {
    const refused: Array<Record<string, string>> = [
      { host: 'evil.example.com' },
      { origin: 'http://evil.example.com' },
      { origin: 'null' },
    ];
    for (const headers of refused) {
      const res = await rawPost(proxy.url, INIT, headers);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: { data: { code: 'ORIGIN_FORBIDDEN' } } });
    }
    const { port } = new URL(proxy.url);
    const accepted: Array<Record<string, string>> = [
      { host: `localhost:${port}` },
      { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` },
      { host: `[::1]:${port}`, origin: 'http://[::1]:3000' },
      {},
    ];
    for (const headers of accepted) {
      expect((await rawPost(proxy.url, INIT, headers)).status).toBe(200);
    }
  });

  it('13. allowed hosts and origins are configurable', async () => {
    const open = await startHttpProxy([
      '--no-admin',
      '--allowed-host',
      'mcp.test',
      '--allowed-origin',
      'https://app.test',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    try {
      expect(
        (await rawPost(open.url, INIT, { host: 'mcp.test:80', origin: 'https://app.test' })).status,
      ).toBe(200);
      expect((await rawPost(open.url, INIT, { origin: 'https://other.test' })).status).toBe(403);
      expect((await rawPost(open.url, INIT, { host: 'other.test' })).status).toBe(403);
    } finally {
      await open.stop();
    }
  });

  it('14. the admin API sends no CORS headers and refuses other sites’ Host names', async () => {
    const res = await fetch(`${admin}/metrics`, { headers: { origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    await res.text();
    const plain = await fetch(`${admin}/health`);
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    await plain.text();
    const rebound = await request(`${admin}/health`, { headers: { host: 'evil.example' } });
    expect(rebound.statusCode).toBe(403);
    await rebound.body.text();
  });

  it('14. beyond loopback the admin API needs a token: without one it does not start; with one it checks it', async () => {
    const bare = await startHttpProxy([
      '--admin-host',
      '0.0.0.0',
      '--admin-port',
      '0',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    try {
      await expect.poll(() => bare.stderr()).toMatch(/admin server not started: .*needs --admin-token/);
    } finally {
      await bare.stop();
    }
    const token = 'a-long-enough-admin-token-0123456789';
    const guarded = await startHttpProxy(
      ['--admin-host', '0.0.0.0', '--admin-port', '0', '--', process.execPath, EXAMPLE],
      {
        MCPSCOPE_ADMIN_TOKEN: token,
      },
    );
    try {
      const url = (await adminUrlFrom(guarded.stderr, 10_000, '0.0.0.0')).replace('0.0.0.0', '127.0.0.1');
      const denied = await fetch(`${url}/metrics`);
      expect(denied.status).toBe(401);
      await denied.text();
      const allowed = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(allowed.status).toBe(200);
      await allowed.text();
      expect(guarded.stderr()).not.toContain(token);
    } finally {
      await guarded.stop();
    }
  });

  it('15. canary secrets in headers, cookies, query strings and bodies never reach logs or metric labels', async () => {
    const canary = 'CANARY-7f3a9c';
    const sid = await rawSession(proxy.url);
    const res = await fetch(`${proxy.url}?token=${canary}-query`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        'mcp-session-id': sid,
        authorization: `Bearer ${canary}-bearer`,
        cookie: `session=${canary}-cookie`,
      },
      body: JSON.stringify(echo(42, `${canary}-body`)),
    });
    expect(await answerOf(res)).toMatchObject({ id: 42, result: { content: [{ text: `${canary}-body` }] } });
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).not.toContain(canary);
    expect(proxy.stderr()).toContain('"msg":"message"'); // --log-messages at debug level was on
    expect(proxy.stderr()).not.toContain(canary);
  });
});
