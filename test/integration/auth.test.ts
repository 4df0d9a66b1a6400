import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import WebSocket from 'ws';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import {
  EXAMPLE,
  INIT,
  MODERN_VERSION,
  adminUrlFrom,
  post,
  sseEvents,
  startFixture,
  startListening,
  type RunningCli,
  type RunningFixture,
} from '../helpers.js';

/** A port free now, for a proxy whose audience (its own URL) must be known before it starts. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Every token a test sent: none may reach the upstream, a tape or the feed. */
const sent: string[] = [];

/** An access token from the test authorization server (client credentials, RFC 8707 resource). */
async function clientToken(issuer: string, resource: string, scope: string, client = 'svc'): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client}:${client}-secret`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`no token: ${JSON.stringify(body)}`);
  sent.push(body.access_token);
  return body.access_token;
}

/** A JWT signed with the authorization server's current key (tokens it would never issue: expired, future). */
async function mint(issuer: string, claims: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${issuer}/test/mint`, { method: 'POST', body: JSON.stringify({ claims }) });
  const { token } = (await res.json()) as { token: string };
  sent.push(token);
  return token;
}

/** An SDK client connected to `url` with the SDK's own client-credentials flow; every token it gets is noted. */
async function clientCredentialsClient(
  url: string,
  issuer: string,
  scope: string,
): Promise<[Client, ClientCredentialsProvider]> {
  const provider = new ClientCredentialsProvider({
    clientId: 'svc',
    clientSecret: 'svc-secret',
    scope,
    expectedIssuer: issuer,
  });
  const saveTokens = provider.saveTokens.bind(provider);
  provider.saveTokens = (tokens: OAuthTokens) => {
    sent.push(tokens.access_token);
    saveTokens(tokens);
  };
  const client = new Client({ name: 'cc-client', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
  return [client, provider];
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** The parameters of a `WWW-Authenticate: Bearer …` challenge. */
function challenge(res: Response): Record<string, string> {
  const header = res.headers.get('www-authenticate') ?? '';
  expect(header).toMatch(/^Bearer /);
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
}

async function errorOf(res: Response): Promise<{ code: number; message: string; data: { code: string } }> {
  return ((await res.json()) as { error: { code: number; message: string; data: { code: string } } }).error;
}

/** Initialize a raw session with a token, and return its id. */
async function session(url: string, token: string): Promise<string> {
  const res = await post(url, INIT, bearer(token));
  expect(res.status).toBe(200);
  await res.text();
  const id = res.headers.get('mcp-session-id') as string;
  const ack = await post(
    url,
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { ...bearer(token), 'mcp-session-id': id },
  );
  await ack.text();
  return id;
}

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

/**
 * Follow an authorization URL as a browser would (cookies, redirects) until the authorization server sends
 * the browser to `redirectUri`, and return the code it carries. The test server logs in and consents at once.
 */
async function authorizeHeadless(url: URL, redirectUri: string): Promise<string> {
  const cookies = new Map<string, string>();
  let next = url.href;
  for (let hop = 0; hop < 20; hop++) {
    if (next.startsWith(redirectUri)) {
      const code = new URL(next).searchParams.get('code');
      if (!code) throw new Error(`redirected without a code: ${next}`);
      return code;
    }
    const cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(next, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    for (const set of res.headers.getSetCookie()) {
      const pair = set.split(';')[0] as string;
      const eq = pair.indexOf('=');
      const value = pair.slice(eq + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(set)) cookies.delete(pair.slice(0, eq));
      else cookies.set(pair.slice(0, eq), value);
    }
    const body = await res.text();
    const location = res.headers.get('location');
    if (!location)
      throw new Error(`authorization stopped at ${next}: HTTP ${res.status} ${body.slice(0, 300)}`);
    next = new URL(location, next).href;
  }
  throw new Error('too many redirects');
}

/** An MCP client's OAuth side with a headless browser: dynamic registration, PKCE, auto-consent. */
class HeadlessBrowserProvider implements OAuthClientProvider {
  readonly redirectUrl = 'http://127.0.0.1:9/callback';
  #code: string | undefined;
  #client: OAuthClientInformationMixed | undefined;
  #tokens: OAuthTokens | undefined;
  #verifier = '';

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'mcpscope-auth-test',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.#client;
  }
  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.#client = info;
  }
  tokens(): OAuthTokens | undefined {
    return this.#tokens;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.#tokens = tokens;
    sent.push(tokens.access_token);
  }
  async redirectToAuthorization(url: URL): Promise<void> {
    this.#code = await authorizeHeadless(url, this.redirectUrl);
  }
  /** The code of the last authorization, for transport.finishAuth(); each is used once. */
  takeCode(): string {
    const code = this.#code;
    this.#code = undefined;
    if (code === undefined) throw new Error('no authorization was made');
    return code;
  }
  saveCodeVerifier(verifier: string): void {
    this.#verifier = verifier;
  }
  codeVerifier(): string {
    return this.#verifier;
  }
}

/** The text of a tool result's first content item. */
function text(result: unknown): string {
  return ((result as { content: Array<{ text: string }> }).content[0] as { text: string }).text;
}

describe('forward http as an OAuth resource server (a real authorization server, an HTTP upstream)', () => {
  let as: RunningFixture;
  let upstream: RunningFixture;
  let proxy: RunningCli;
  let issuer: string;
  let url: string;
  let admin: string;
  let dir: string;

  beforeAll(async () => {
    [as, upstream] = await Promise.all([startFixture('authServer.mjs'), startFixture('httpServer.mjs')]);
    issuer = as.url;
    const port = await freePort();
    url = `http://127.0.0.1:${port}/mcp`;
    dir = mkdtempSync(join(tmpdir(), 'mcpscope-auth-'));
    // The gateway's shape: a YAML document with an auth: block.
    writeFileSync(
      join(dir, 'auth.yaml'),
      [
        'auth:',
        `  issuer: ${issuer}`,
        `  audience: ${url}`,
        '  scopes: [mcp]',
        '  toolScopes: { "who*": ["files:read"] }',
        `  introspectionUrl: ${issuer}/token/introspection`,
        '  clientId: mcpscope',
        '  clientSecret: mcpscope-secret',
        '  jwksCooldownSeconds: 0.2',
        '',
      ].join('\n'),
    );
    proxy = await startListening([
      'forward',
      'http',
      '--port',
      String(port),
      '--auth-config',
      join(dir, 'auth.yaml'),
      '--upstream',
      upstream.url,
      '--admin-port',
      '0',
      '--record',
      join(dir, 'tapes'),
    ]);
    admin = await adminUrlFrom(proxy.stderr);
  });

  afterAll(async () => {
    expect(await proxy.stop()).toBe(0);
    await Promise.all([as.stop(), upstream.stop()]);
    // No token reached mcpscope's logs either.
    for (const token of sent) expect(proxy.stderr()).not.toContain(token);
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves its RFC 9728 metadata at the root and path-suffixed well-known URLs, without a token', async () => {
    const origin = new URL(url).origin;
    for (const path of [
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/mcp',
    ]) {
      const res = await fetch(origin + path);
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(await res.json()).toEqual({
        resource: url,
        authorization_servers: [issuer],
        scopes_supported: ['mcp', 'files:read'],
        bearer_methods_supported: ['header'],
      });
    }
  });

  it('answers a request without a token 401, naming the metadata and the scopes, on every wire', async () => {
    const metadata = `${new URL(url).origin}/.well-known/oauth-protected-resource/mcp`;
    const res = await post(url, INIT);
    expect(res.status).toBe(401);
    expect(challenge(res)).toEqual({ resource_metadata: metadata, scope: 'mcp' });
    const err = await errorOf(res);
    expect(err.data.code).toBe('UNAUTHORIZED');
    expect(err.message).toContain('Authorization: Bearer');
    // Legacy SSE and a WebSocket upgrade too (the latter on the raw socket, before any WebSocket exists).
    const sse = await fetch(new URL('/sse', url), { headers: { accept: 'text/event-stream' } });
    expect(sse.status).toBe(401);
    await sse.text();
    const upgrade = await new Promise<{ status?: number; challenge?: string }>((resolve) => {
      const req = request(url, {
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      });
      req.on('response', (r) => resolve({ status: r.statusCode, challenge: r.headers['www-authenticate'] }));
      req.on('upgrade', () => resolve({}));
      req.end();
    });
    expect(upgrade.status).toBe(401);
    expect(upgrade.challenge).toContain(`resource_metadata="${metadata}"`);
    // Origin and Host are checked first: a foreign page is refused as such, token or not.
    const page = await post(url, INIT, { origin: 'https://evil.example' });
    expect(page.status).toBe(403);
    expect((await errorOf(page)).data.code).toBe('ORIGIN_FORBIDDEN');
    // A Basic credential is not a bearer token.
    const basic = await post(url, INIT, { authorization: 'Basic c3ZjOnN2Yy1zZWNyZXQ=' });
    expect(basic.status).toBe(401);
    expect(challenge(basic).error).toBe('invalid_request');
  });

  it('refuses tokens it must not accept: another key, another audience, expired, not yet valid, inactive', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = { sub: 'mallory', aud: url, scope: 'mcp', iat: now, exp: now + 300 };
    // Signed by another key, under the authorization server's key id and under an unknown one.
    const { kid } = decodeProtectedHeader(await mint(issuer, good));
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = [kid, 'not-a-published-key'].map((k) =>
      new SignJWT({ ...good, iss: issuer }).setProtectedHeader({ alg: 'RS256', kid: k }).sign(privateKey),
    );
    const cases: Array<[string, Promise<string>, string]> = [
      ['signed by another key', forged[0] as Promise<string>, 'signature'],
      ['an unknown key id', forged[1] as Promise<string>, 'does not publish'],
      [
        'another audience (RFC 8707)',
        clientToken(issuer, 'http://127.0.0.1:1/other', 'mcp'),
        'another resource',
      ],
      ['expired', mint(issuer, { ...good, exp: now - 120 }), 'expired'],
      ['not valid yet', mint(issuer, { ...good, nbf: now + 120 }), 'not valid yet'],
      ['no exp', mint(issuer, { sub: 'mallory', aud: url, scope: 'mcp' }), 'exp'],
      [
        'another issuer',
        mint(issuer, { ...good, iss: 'https://elsewhere.example' }),
        'another authorization server',
      ],
      ['an unknown opaque token', Promise.resolve('opaque-token-the-server-never-issued'), 'not active'],
    ];
    for (const [what, token, says] of cases) {
      const res = await post(url, INIT, bearer(await token));
      expect(res.status, what).toBe(401);
      expect(challenge(res).error, what).toBe('invalid_token');
      const err = await errorOf(res);
      expect(err.data.code, what).toBe('UNAUTHORIZED');
      expect(err.message, what).toContain(says);
    }
    // Within the clock skew (30 s): still accepted.
    const late = await post(url, INIT, bearer(await mint(issuer, { ...good, exp: now - 5 })));
    expect(late.status).toBe(200);
    await late.text();
  });

  it('answers 403 insufficient_scope for a token without the scopes every request needs', async () => {
    const res = await post(url, INIT, bearer(await clientToken(issuer, url, 'files:read')));
    expect(res.status).toBe(403);
    expect(challenge(res)).toMatchObject({ error: 'insufficient_scope', scope: 'mcp' });
    expect((await errorOf(res)).data.code).toBe('INSUFFICIENT_SCOPE');
  });

  it('needs the scopes toolScopes gives a tool for its tools/call, in both protocol eras', async () => {
    const narrow = await clientToken(issuer, url, 'mcp');
    const id = await session(url, narrow);
    const headers = { ...bearer(narrow), 'mcp-session-id': id };
    const echo = await post(url, call(1, 'echo', { message: 'hi' }), headers);
    expect(echo.status).toBe(200);
    expect(await echo.text()).toContain('"text":"hi"');
    const who = await post(url, call(2, 'whoami'), headers);
    expect(who.status).toBe(403);
    expect(challenge(who)).toMatchObject({ error: 'insufficient_scope', scope: 'mcp files:read' });
    const err = await errorOf(who);
    expect(err.data.code).toBe('INSUFFICIENT_SCOPE');
    expect(err.message).toContain('files:read');
    // 2026-07-28: no session, the envelope in every request.
    const modern = {
      ...call(3, 'whoami'),
      params: {
        name: 'whoami',
        arguments: {},
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
          'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    };
    const modernHeaders = {
      ...bearer(narrow),
      'mcp-protocol-version': MODERN_VERSION,
      'mcp-method': 'tools/call',
      'mcp-name': 'whoami',
    };
    const refused = await post(url, modern, modernHeaders);
    expect(refused.status).toBe(403);
    expect(challenge(refused)).toMatchObject({ error: 'insufficient_scope', scope: 'mcp files:read' });
    // With the scope, the call goes through; the upstream saw no Authorization header at all.
    const wide = await clientToken(issuer, url, 'mcp files:read');
    const id2 = await session(url, wide);
    const allowed = await post(url, call(4, 'whoami'), { ...bearer(wide), 'mcp-session-id': id2 });
    expect(allowed.status).toBe(200);
    const answer = JSON.parse(sseEvents(await allowed.text())[0]?.data ?? '{}') as { result: unknown };
    expect(text(answer.result)).toBe('null');
  });

  it('binds a session to the subject that opened it: another subject cannot use, read or end it', async () => {
    const mine = await clientToken(issuer, url, 'mcp');
    const theirs = await clientToken(issuer, url, 'mcp', 'svc-other');
    const id = await session(url, mine);
    const as = (token: string) => ({ ...bearer(token), 'mcp-session-id': id });
    const call1 = await post(url, call(1, 'echo', { message: 'x' }), as(theirs));
    expect(call1.status).toBe(404);
    expect((await errorOf(call1)).data.code).toBe('SESSION_NOT_FOUND');
    const get = await fetch(url, { headers: { ...as(theirs), accept: 'text/event-stream' } });
    expect(get.status).toBe(404);
    await get.text();
    const del = await fetch(url, { method: 'DELETE', headers: as(theirs) });
    expect(del.status).toBe(404);
    await del.text();
    // A new token of the same subject (a refresh) keeps the session.
    const again = await post(
      url,
      call(2, 'echo', { message: 'still mine' }),
      as(await clientToken(issuer, url, 'mcp')),
    );
    expect(await again.text()).toContain('still mine');
  });

  it('an SDK client with client credentials completes the flow; the upstream never sees a client token', async () => {
    // The SDK (1.x) asks for the scope its provider is given, not the one a 403 names: a token for "mcp"
    // reaches echo and is refused whoami; one for both scopes reaches both.
    const connect = (scope: string) => clientCredentialsClient(url, issuer, scope);
    const [narrow, provider] = await connect('mcp');
    expect(decodeJwt(provider.tokens()?.access_token as string)).toMatchObject({
      aud: url,
      iss: issuer,
      sub: 'svc',
      scope: 'mcp',
    });
    expect(text(await narrow.callTool({ name: 'echo', arguments: { message: 'cc' } }))).toBe('cc');
    await expect(narrow.callTool({ name: 'whoami', arguments: {} })).rejects.toThrow(/403/);
    await narrow.close();
    const [client] = await connect('mcp files:read');
    expect(text(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('null');
    // The upstream never saw a client's token, on any request of any test so far.
    const seen = text(await client.callTool({ name: 'headers', arguments: {} }));
    expect(JSON.parse(seen).length).toBeGreaterThan(5);
    for (const token of sent) expect(seen).not.toContain(token);
    expect(seen.toLowerCase()).not.toContain('bearer');
    await client.close();
  });

  it('an SDK client completes authorization code with PKCE (dynamic registration, headless consent)', async () => {
    const provider = new HeadlessBrowserProvider();
    const connect = async (): Promise<Client> => {
      const client = new Client({ name: 'code-client', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
      return client;
    };
    // The first attempt ends at the authorization server; the code comes back; the second connects.
    await expect(connect()).rejects.toBeInstanceOf(UnauthorizedError);
    const finishing = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
    await finishing.finishAuth(provider.takeCode());
    const token = decodeJwt(provider.tokens()?.access_token as string);
    expect(token).toMatchObject({ aud: url, iss: issuer, sub: 'alice', scope: 'mcp' });
    const client = await connect();
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'code' } }))).toBe('code');
    // Step-up: the 403 sends the user to consent to files:read, then the call is made again.
    await expect(client.callTool({ name: 'whoami', arguments: {} })).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    const upscoped = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
    await upscoped.finishAuth(provider.takeCode());
    expect(decodeJwt(provider.tokens()?.access_token as string).scope).toBe('mcp files:read');
    expect(text(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('null');
    await client.close();
  });

  it('accepts an opaque token by RFC 7662 introspection, with its client as the subject', async () => {
    const opaque = await clientToken(issuer, url, 'mcp', 'svc-opaque');
    expect(opaque.split('.')).toHaveLength(1);
    const id = await session(url, opaque);
    const res = await post(url, call(1, 'echo', { message: 'opaque' }), {
      ...bearer(opaque),
      'mcp-session-id': id,
    });
    expect(await res.text()).toContain('opaque');
    // Its scopes count like a JWT's.
    const who = await post(url, call(2, 'whoami'), { ...bearer(opaque), 'mcp-session-id': id });
    expect(who.status).toBe(403);
    await who.text();
  });

  it('WebSocket and legacy SSE clients present a token too, and are bound to its subject', async () => {
    const token = await clientToken(issuer, url, 'mcp');
    const ws = new WebSocket(url.replace('http', 'ws'), 'mcp', { headers: bearer(token) });
    const answer = await new Promise<string>((resolve, reject) => {
      ws.once('open', () => ws.send(JSON.stringify(INIT)));
      ws.once('message', (data: Buffer) => resolve(data.toString()));
      ws.once('error', reject);
    });
    expect(JSON.parse(answer)).toMatchObject({ id: 0, result: { serverInfo: { name: 'fixture-http' } } });
    ws.close();
    const sse = await fetch(new URL('/sse', url), {
      headers: { ...bearer(token), accept: 'text/event-stream' },
    });
    expect(sse.status).toBe(200);
    const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
    let first = '';
    while (!/data: \S+\n/.test(first)) first += new TextDecoder().decode((await reader.read()).value);
    const endpoint = /data: (\S+)/.exec(first)?.[1] as string;
    const messages = new URL(endpoint, url).href;
    const other = await clientToken(issuer, url, 'mcp', 'svc-other');
    const foreign = await post(messages, INIT, bearer(other));
    expect(foreign.status).toBe(404);
    await foreign.text();
    const own = await post(messages, INIT, bearer(token));
    expect(own.status).toBe(202);
    await own.text();
    await reader.cancel();
  });

  it('shows the subject in the feed and the tapes, never the token', async () => {
    const { sessions } = (await (await fetch(`${admin}/sessions`)).json()) as {
      sessions: Array<{ subject: string | null }>;
    };
    const subjects = new Set(sessions.map((s) => s.subject));
    for (const s of ['svc', 'svc-opaque', 'alice', 'mallory']) expect(subjects).toContain(s);
    expect(subjects).not.toContain(null);
    const feed = JSON.stringify(sessions);
    for (const token of sent) expect(feed).not.toContain(token);
    const tapes = join(dir, 'tapes');
    await expect.poll(() => readdirSync(tapes).length).toBeGreaterThan(3);
    const headers = readdirSync(tapes).map((f) => readFileSync(join(tapes, f), 'utf8'));
    const all = headers.join('\n');
    for (const token of sent) expect(all).not.toContain(token);
    const first = headers.map(
      (t) =>
        JSON.parse(t.split('\n')[0] as string) as {
          client?: { subject?: string; headers?: Record<string, string> };
        },
    );
    expect(first.map((h) => h.client?.subject)).toContain('alice');
    for (const h of first) expect(h.client?.headers?.authorization).toBe('[REDACTED]');
  });

  it('fetches the keys again for a token signed with a new key (rotation)', async () => {
    const before = await clientToken(issuer, url, 'mcp');
    const ok = await post(url, INIT, bearer(before));
    expect(ok.status).toBe(200);
    await ok.text();
    const { kid } = (await (await fetch(`${issuer}/test/rotate`, { method: 'POST' })).json()) as {
      kid: string;
    };
    await new Promise((r) => setTimeout(r, 300)); // the JWKS cooldown (0.2 s here)
    const after = await clientToken(issuer, url, 'mcp');
    expect(decodeProtectedHeader(after).kid).toBe(kid);
    const res = await post(url, INIT, bearer(after));
    expect(res.status).toBe(200);
    await res.text();
  });
});

describe('authorization in front of a stdio server, from a config file', () => {
  let as: RunningFixture;
  let proxy: RunningCli;
  let dir: string;
  let url: string;

  beforeAll(async () => {
    as = await startFixture('authServer.mjs');
    dir = mkdtempSync(join(tmpdir(), 'mcpscope-auth-stdio-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}/mcp`;
    // The auth block inline in a JSON config file; a per-client rate limit keyed by the token's subject.
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        port,
        auth: { issuer: as.url, audience: url, scopes: ['mcp'] },
        rateLimitClient: '2/m:2',
        rateLimitClientKey: 'subject',
      }),
    );
    // The server records every byte it is sent and its environment.
    const rec = join(dir, 'rec');
    proxy = await startListening([
      'forward',
      'http',
      '-c',
      join(dir, 'config.json'),
      '--no-admin',
      '--',
      'sh',
      '-c',
      `env > "$0.env"; tee -a "$0.in" | exec "${process.execPath}" "${EXAMPLE}"`,
      rec,
    ]);
  });

  afterAll(async () => {
    expect(await proxy.stop()).toBe(0);
    await as.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never hands the token to the server process, in its input or its environment', async () => {
    const provider = new ClientCredentialsProvider({
      clientId: 'svc',
      clientSecret: 'svc-secret',
      scope: 'mcp',
      expectedIssuer: as.url,
    });
    const client = new Client({ name: 'stdio-side', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'through stdio' } }))).toBe(
      'through stdio',
    );
    const token = provider.tokens()?.access_token as string;
    await expect.poll(() => readFileSync(join(dir, 'rec.in'), 'utf8')).toContain('through stdio');
    expect(readFileSync(join(dir, 'rec.in'), 'utf8')).not.toContain(token);
    expect(readFileSync(join(dir, 'rec.env'), 'utf8')).not.toContain(token);
    await client.close();
  });

  it('rate-limits per token subject: sessions of one subject share a bucket, another subject has its own', async () => {
    const svc = await clientToken(as.url, url, 'mcp');
    const a = await session(url, svc);
    const b = await session(url, await clientToken(as.url, url, 'mcp'));
    const statuses: number[] = [];
    let refusal = '';
    for (const [i, id] of [a, b, a, b].entries()) {
      const res = await post(url, call(i, 'echo', { message: 'x' }), {
        ...bearer(svc),
        'mcp-session-id': id,
      });
      statuses.push(res.status);
      if (res.status === 429) refusal = (await errorOf(res)).message;
      else await res.text();
    }
    // Four requests of one subject against 2 per minute (burst 2): the bucket is shared.
    expect(statuses).toContain(429);
    expect(refusal).toContain('client sub:svc');
    const other = await clientToken(as.url, url, 'mcp', 'svc-other');
    const c = await session(url, other);
    const res = await post(url, call(9, 'echo', { message: 'y' }), { ...bearer(other), 'mcp-session-id': c });
    expect(res.status).toBe(200);
    await res.text();
  });
});

describe('the gateway as an OAuth resource server (its config’s auth block)', () => {
  it('refuses requests without a token, checks tool scopes on prefixed names, and no upstream sees the token', async () => {
    const [as, web] = await Promise.all([startFixture('authServer.mjs'), startFixture('httpServer.mjs')]);
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-gateway-auth-'));
    let gateway: RunningCli | undefined;
    try {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}/mcp`;
      writeFileSync(
        join(dir, 'gateway.yaml'),
        [
          `listen: { host: 127.0.0.1, port: ${port}, path: /mcp }`,
          'upstreams:',
          '  local:',
          `    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EXAMPLE)}]`,
          '  web:',
          `    url: ${web.url}`,
          'auth:',
          `  issuer: ${as.url}`,
          `  audience: ${url}`,
          '  scopes: [mcp]',
          '  toolScopes: { "web__who*": ["files:read"] }',
          '',
        ].join('\n'),
      );
      gateway = await startListening(['gateway', '--config', join(dir, 'gateway.yaml'), '--no-admin']);
      // No token: 401 naming where to learn how to get one; the metadata itself needs none.
      const refused = await post(url, INIT);
      expect(refused.status).toBe(401);
      const metadataUrl = challenge(refused).resource_metadata as string;
      const metadata = (await (await fetch(metadataUrl)).json()) as { resource: string };
      expect(metadata.resource).toBe(url);

      const connect = async (scope: string): Promise<Client> =>
        (await clientCredentialsClient(url, as.url, scope))[0];
      const narrow = await connect('mcp');
      const names = (await narrow.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['local__add', 'web__echo', 'web__whoami']));
      expect(text(await narrow.callTool({ name: 'web__echo', arguments: { message: 'via' } }))).toBe('via');
      // toolScopes match the names clients see.
      await expect(narrow.callTool({ name: 'web__whoami', arguments: {} })).rejects.toThrow(/403/);
      await narrow.close();
      const wide = await connect('mcp files:read');
      expect(text(await wide.callTool({ name: 'web__whoami', arguments: {} }))).toBe('null');
      expect(text(await wide.callTool({ name: 'local__add', arguments: { a: 2, b: 3 } }))).toBe('5');
      const seen = text(await wide.callTool({ name: 'web__headers', arguments: {} }));
      for (const token of sent) expect(seen).not.toContain(token);
      expect(seen.toLowerCase()).not.toContain('bearer');
      await wide.close();
    } finally {
      if (gateway) {
        expect(await gateway.stop()).toBe(0);
        for (const token of sent) expect(gateway.stderr()).not.toContain(token);
      }
      await Promise.all([as.stop(), web.stop()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
