// MCP 2026-07-28 at the HTTP front door, probed with raw requests (the cases an SDK client never sends):
// mcpscope in front of a stdio server is the HTTP server, so it checks headers against the body and the
// per-request envelope itself, and every refusal names the request and carries the spec's code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE, post, startHttpProxy, type RunningCli } from '../helpers.js';

const V = '2026-07-28';
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': V,
  'io.modelcontextprotocol/clientInfo': { name: 'probe', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

function call(id: number, meta: Record<string, unknown> = ENVELOPE) {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: {}, _meta: meta } };
}

const HEADERS = { 'mcp-protocol-version': V, 'mcp-method': 'tools/call', 'mcp-name': 'echo' };

async function refusal(res: Response): Promise<{ status: number; id: unknown; code: number; data: unknown }> {
  const body = (await res.json()) as { id: unknown; error: { code: number; data: unknown } };
  return { status: res.status, id: body.id, code: body.error.code, data: body.error.data };
}

describe('2026-07-28 requests at the front door (forward http in front of a stdio server)', () => {
  let proxy: RunningCli;
  beforeAll(async () => {
    proxy = await startHttpProxy(['--', process.execPath, EXAMPLE]);
  });
  afterAll(async () => {
    await proxy.stop();
  });

  it('refuses a header that disagrees with the body with 400 / -32020, naming the request', async () => {
    for (const [header, value] of [
      ['mcp-name', 'other'],
      ['mcp-method', 'tools/list'],
      ['mcp-protocol-version', '2025-11-25'],
    ] as const) {
      const r = await refusal(await post(proxy.url, call(7), { ...HEADERS, [header]: value }));
      expect(r).toMatchObject({ status: 400, id: 7, code: -32020 });
      expect(r.data).toMatchObject({ code: 'HEADER_MISMATCH', mismatch: { value } });
    }
  });

  it('refuses a missing Mcp-Method or Mcp-Name with 400 / -32020', async () => {
    const { 'mcp-name': _name, ...noName } = HEADERS;
    expect(await refusal(await post(proxy.url, call(8), noName))).toMatchObject({
      status: 400,
      id: 8,
      code: -32020,
    });
    const { 'mcp-method': _method, ...noMethod } = HEADERS;
    expect(await refusal(await post(proxy.url, call(9), noMethod))).toMatchObject({
      status: 400,
      id: 9,
      code: -32020,
    });
  });

  it('accepts a base64-encoded Mcp-Name that decodes to the body’s name', async () => {
    const res = await post(
      proxy.url,
      call(10, { ...ENVELOPE, 'io.modelcontextprotocol/clientCapabilities': 5 }),
      {
        ...HEADERS,
        'mcp-name': `=?base64?${Buffer.from('echo').toString('base64')}?=`,
      },
    );
    // Past the header check: the envelope check answers (capabilities must be an object).
    expect(await refusal(res)).toMatchObject({ status: 400, id: 10, code: -32602 });
  });

  it('refuses a bad envelope with 400 / -32602, naming the key', async () => {
    const { 'io.modelcontextprotocol/clientCapabilities': _caps, ...noCaps } = ENVELOPE;
    const r = await refusal(await post(proxy.url, call(11, noCaps), HEADERS));
    expect(r).toMatchObject({ status: 400, id: 11, code: -32602 });
    expect(r.data).toMatchObject({
      code: 'INVALID_ENVELOPE',
      envelope: { key: 'io.modelcontextprotocol/clientCapabilities', problem: 'is missing' },
    });
    const bad = await refusal(
      await post(proxy.url, call(12, { ...ENVELOPE, 'io.modelcontextprotocol/logLevel': 'loud' }), HEADERS),
    );
    expect(bad).toMatchObject({ status: 400, id: 12, code: -32602 });
  });

  it('refuses a 2026-07-28 header on a body without the envelope with 400 / -32602', async () => {
    const body = { jsonrpc: '2.0', id: 13, method: 'tools/list', params: {} };
    const r = await refusal(
      await post(proxy.url, body, { 'mcp-protocol-version': V, 'mcp-method': 'tools/list' }),
    );
    expect(r).toMatchObject({ status: 400, id: 13, code: -32602 });
  });

  it('answers GET and DELETE with a 2026-07-28 header with 405 and Allow: POST', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(proxy.url, {
        method,
        headers: { accept: 'text/event-stream', 'mcp-protocol-version': V },
      });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(await res.json()).toMatchObject({ error: { data: { code: 'METHOD_NOT_ALLOWED' } } });
    }
  });

  it('answers an unknown protocol version with 400 / -32022 listing the supported ones, naming the request', async () => {
    const body = { jsonrpc: '2.0', id: 14, method: 'tools/list', params: {} };
    const r = await refusal(await post(proxy.url, body, { 'mcp-protocol-version': '2099-01-01' }));
    expect(r).toMatchObject({ status: 400, id: 14, code: -32022 });
    expect(r.data).toMatchObject({
      requested: '2099-01-01',
      supported: expect.arrayContaining(['2025-11-25', V]) as unknown,
    });
  });

  it('keeps serving 2025-11-25 sessions on the same endpoint', async () => {
    const init = await post(proxy.url, {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'old', version: '1' } },
    });
    expect(init.status).toBe(200);
    expect(init.headers.get('mcp-session-id')).toBeTruthy();
    expect(await init.text()).toContain('mcpscope-example');
  });
});
