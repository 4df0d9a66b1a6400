import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Introspector } from '../../src/auth/introspection.js';
import { metadataUrls } from '../../src/auth/issuer.js';
import { authSchema, loadAuthOptions, type AuthInput } from '../../src/auth/options.js';
import { MAX_SUBJECT_LABEL_CHARS, subjectLabel, type Principal } from '../../src/auth/principal.js';
import { ResourceServer } from '../../src/auth/resourceServer.js';
import { McpscopeError, errorHeaders } from '../../src/jsonrpc/errors.js';
import { syntheticFrame, type PendingRequest } from '../../src/jsonrpc/framing.js';
import { silentLogger } from '../../src/log.js';

const AUTH: AuthInput = { issuer: 'https://as.example', audience: 'https://mcp.example/mcp' };

async function codeOf(promise: Promise<unknown>): Promise<McpscopeError> {
  try {
    await promise;
  } catch (err) {
    return err as McpscopeError;
  }
  throw new Error('no error');
}

function principal(scopes: string[], expiresAt?: number): Principal {
  return { subject: 'alice', label: 'alice', scopes: new Set(scopes), clientId: undefined, expiresAt };
}

/** A tools/call of `tool` as the Session hands it to stages (paired with its pending request). */
function toolCall(tool: string) {
  const frame = syntheticFrame({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool } });
  frame.related = { target: tool } as PendingRequest;
  return frame;
}

/** A request as the listener hands it to the resource server: its headers and socket are what it reads. */
const request = (authorization?: string): IncomingMessage =>
  ({
    headers: authorization === undefined ? {} : { authorization },
    socket: { remoteAddress: '127.0.0.1' },
  }) as unknown as IncomingMessage;

describe('the subject label', () => {
  it('keeps a short printable subject as it is', () => {
    expect(subjectLabel('alice')).toBe('alice');
    expect(subjectLabel('auth0|64f0c0ffee')).toBe('auth0|64f0c0ffee');
  });

  it('cuts a long subject, ends it with a digest of the whole, and keeps two long ones apart', () => {
    const a = subjectLabel(`${'x'.repeat(100)}a`);
    const b = subjectLabel(`${'x'.repeat(100)}b`);
    expect(a.length).toBeLessThanOrEqual(MAX_SUBJECT_LABEL_CHARS);
    expect(a).toMatch(/^x{40}…[0-9a-f]{16}$/);
    expect(a).not.toBe(b);
  });

  it('never carries control characters', () => {
    expect(subjectLabel('evil\u001b[2Jname')).toMatch(/^evil\?\[2Jname…[0-9a-f]{16}$/);
  });
});

describe('the auth block', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'mcpscope-auth-unit-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a YAML document with an auth: key, a bare JSON block, or the block itself, with defaults', async () => {
    writeFileSync(
      join(dir, 'gateway.yaml'),
      'listen: 0.0.0.0\nauth:\n  issuer: https://as.example\n  audience: https://mcp.example/mcp\n  scopes: [mcp]\n',
    );
    writeFileSync(join(dir, 'auth.json'), JSON.stringify(AUTH));
    const expected = {
      ...AUTH,
      toolScopes: {},
      clockSkewSeconds: 30,
      jwksCooldownSeconds: 30,
    };
    expect(await loadAuthOptions(join(dir, 'gateway.yaml'))).toEqual({ ...expected, scopes: ['mcp'] });
    expect(await loadAuthOptions(join(dir, 'auth.json'))).toEqual({ ...expected, scopes: [] });
    expect(await loadAuthOptions({ ...AUTH })).toEqual({ ...expected, scopes: [] });
  });

  it('refuses an invalid block naming the key, never a value (it may hold a secret)', async () => {
    const bad = await codeOf(
      loadAuthOptions({ ...AUTH, issuer: 'not a url', clientId: 'mcpscope', clientSecret: 's3cret-value' }),
    );
    expect(bad.code).toBe('CONFIG_INVALID');
    expect(bad.message).toContain('auth.issuer');
    expect(bad.message).not.toContain('s3cret-value');
    const lonely = await codeOf(
      loadAuthOptions({ ...AUTH, introspectionUrl: 'https://as.example/introspect' }),
    );
    expect(lonely.message).toContain('auth.introspectionUrl');
    expect((await codeOf(loadAuthOptions({ ...AUTH, audiance: 'x' }))).code).toBe('CONFIG_INVALID');
    expect((await codeOf(loadAuthOptions(join(dir, 'missing.yaml')))).code).toBe('CONFIG_INVALID');
  });

  it('looks the issuer metadata up as RFC 8414 first, then OpenID Connect', () => {
    expect(metadataUrls('https://as.example')).toEqual([
      'https://as.example/.well-known/oauth-authorization-server',
      'https://as.example/.well-known/openid-configuration',
    ]);
    expect(metadataUrls('https://kc.example/realms/mcp/')).toEqual([
      'https://kc.example/.well-known/oauth-authorization-server/realms/mcp',
      'https://kc.example/realms/mcp/.well-known/openid-configuration',
      'https://kc.example/.well-known/openid-configuration/realms/mcp',
    ]);
  });
});

describe('the resource server', () => {
  const server = (auth: Partial<AuthInput> = {}, endpointPath = '/mcp'): ResourceServer =>
    new ResourceServer({
      auth: authSchema.parse({ ...AUTH, ...auth }),
      endpointPath,
      logger: silentLogger(),
    });

  it("serves its metadata at the audience's path and the endpoint's, and names the audience's in challenges", () => {
    const rs = server({ audience: 'https://mcp.example/public/mcp' });
    for (const path of [
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/public/mcp',
      '/.well-known/oauth-protected-resource/mcp',
    ])
      expect(rs.serves(path)).toBe(true);
    expect(rs.serves('/mcp')).toBe(false);
    expect(rs.metadataUrl).toBe('https://mcp.example/.well-known/oauth-protected-resource/public/mcp');
  });

  it('asks for the scopes of every tools/call glob that matches the tool, and of every request', () => {
    const rs = server({ scopes: ['mcp'], toolScopes: { 'files__*': ['files:read'], '*': ['any'] } });
    const refused = rs.checkRequest(toolCall('files__read'), principal(['mcp', 'any']));
    expect(refused?.code).toBe('INSUFFICIENT_SCOPE');
    expect(refused?.details).toMatchObject({ error: 'insufficient_scope', scope: 'mcp files:read any' });
    expect(rs.checkRequest(toolCall('files__read'), principal(['mcp', 'any', 'files:read']))).toBeUndefined();
    expect(rs.checkRequest(toolCall('search'), principal(['mcp', 'any']))).toBeUndefined();
    const challenge = errorHeaders(refused as McpscopeError, 0)['www-authenticate'];
    expect(challenge).toBe(
      'Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp", error="insufficient_scope", ' +
        `error_description="the access token lacks scope files:read, which tool 'files__read' needs; ask for 'mcp files:read any'", scope="mcp files:read any"`,
    );
  });

  it("refuses a long-lived connection's request once its token has expired, past the clock skew", () => {
    const rs = server({ clockSkewSeconds: 10 });
    const now = Date.now() / 1000;
    const frame = syntheticFrame({ jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(rs.checkRequest(frame, principal([], now - 5))).toBeUndefined();
    const expired = rs.checkRequest(frame, principal([], now - 15));
    expect(expired?.code).toBe('UNAUTHORIZED');
    expect(expired?.details?.error).toBe('invalid_token');
  });

  describe('with an authorization server that fails', () => {
    let as: Server;
    let hits = 0;
    let issuer: string;
    beforeAll(async () => {
      as = createServer((req, res) => {
        hits++;
        res.writeHead(500).end();
      });
      await new Promise<void>((resolve) => as.listen(0, '127.0.0.1', resolve));
      issuer = `http://127.0.0.1:${(as.address() as { port: number }).port}`;
    });
    afterAll(() => new Promise((resolve) => as.close(resolve)));

    it('answers 503 AUTH_UNAVAILABLE with Retry-After, and does not ask again for 5 s', async () => {
      const rs = server({ issuer });
      const first = await rs.authenticate(request('Bearer aaa.bbb.ccc'));
      expect(first?.code).toBe('AUTH_UNAVAILABLE');
      expect(first?.httpStatus).toBe(503);
      expect(errorHeaders(first as McpscopeError, 0)).toMatchObject({ 'retry-after': '5' });
      const asked = hits;
      expect(asked).toBeGreaterThan(0);
      expect((await rs.authenticate(request('Bearer aaa.bbb.ccc')))?.code).toBe('AUTH_UNAVAILABLE');
      expect(hits).toBe(asked);
    });

    it('still refuses a request without a token (401) or without a Bearer one, without asking it', async () => {
      const rs = server({ issuer });
      const before = hits;
      const none = await rs.authenticate(request());
      expect(none?.code).toBe('UNAUTHORIZED');
      expect(none?.details).toEqual({ resourceMetadata: rs.metadataUrl });
      expect((await rs.authenticate(request('Basic dXNlcjpwYXNz')))?.details?.error).toBe('invalid_request');
      // An opaque token with no introspection configured: refused, nothing asked.
      expect((await rs.authenticate(request('Bearer opaque')))?.message).toContain('not a JWT');
      expect(hits).toBe(before);
    });
  });
});

describe('token introspection', () => {
  it('asks once for a token asked about again, whether its answer is pending, active or inactive', async () => {
    const asked: string[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const token = new URLSearchParams(body).get('token') ?? '';
        asked.push(token);
        // Answers come a little late, so that questions overlap.
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(token === 'live' ? { active: true, sub: 'alice' } : { active: false }));
        }, 50);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as { port: number };
      const introspector = new Introspector({
        url: `http://127.0.0.1:${port}/introspect`,
        clientId: 'mcpscope',
        clientSecret: 'secret',
      });
      const live = await Promise.all(Array.from({ length: 5 }, () => introspector.introspect('live')));
      expect(live.every((r) => r.active === true && r.sub === 'alice')).toBe(true);
      for (let i = 0; i < 3; i++) expect((await introspector.introspect('dead')).active).toBe(false);
      expect((await introspector.introspect('live')).sub).toBe('alice');
      expect(asked).toEqual(['live', 'dead']);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
