import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandEnv, loadGatewayConfig, parseGatewayConfig } from '../../src/gateway/config.js';
import { templateMatcher, unionCapabilities } from '../../src/gateway/merge.js';
import { NameFilter, NameRouter, decodeCursor, encodeCursor } from '../../src/gateway/names.js';
import { McpscopeError } from '../../src/jsonrpc/errors.js';

/** The CONFIG_INVALID error `fn` throws: its key and message. */
function refusal(fn: () => unknown): { key: unknown; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(McpscopeError);
    expect((err as McpscopeError).code).toBe('CONFIG_INVALID');
    return { key: (err as McpscopeError).details?.key, message: (err as McpscopeError).message };
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('gateway config', () => {
  it('reads YAML with env expansion, defaults and settings beside the gateway keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-gwcfg-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      [
        'listen: { host: 127.0.0.1, port: 8081, path: /mcp }',
        'requestTimeoutMs: 5000',
        'upstreams:',
        '  files:',
        '    command: node files.js /srv',
        '    tools: { allow: ["read_*"] }',
        '  search:',
        '    url: https://search.internal/mcp',
        '    headers: { Authorization: "Bearer ${TOKEN}", Literal: "$${NOT_EXPANDED}" }',
        '    bridge: auto',
        'auth: { issuer: https://id.example }',
      ].join('\n'),
    );
    const c = loadGatewayConfig(file, { TOKEN: 's3cret' });
    expect(c.separator).toBe('__');
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8081, path: '/mcp' });
    expect(c.settings).toEqual({ requestTimeoutMs: 5000 });
    expect(c.auth).toEqual({ issuer: 'https://id.example' });
    expect(c.upstreams.map((u) => u.name)).toEqual(['files', 'search']);
    expect(c.upstreams[0]).toMatchObject({ command: ['node', 'files.js', '/srv'], bridge: 'off' });
    expect(c.upstreams[1]).toMatchObject({
      url: 'https://search.internal/mcp',
      transport: 'auto',
      bridge: 'auto',
      headers: { Authorization: 'Bearer s3cret', Literal: '${NOT_EXPANDED}' },
    });
  });

  it('names the key of every problem', () => {
    const upstreams = { a: { url: 'http://h/mcp' } };
    expect(refusal(() => parseGatewayConfig({ upstreams, bogus: 1 })).key).toBe('bogus');
    expect(refusal(() => parseGatewayConfig({ upstreams, upstream: 'http://x' })).key).toBe('upstream');
    expect(refusal(() => parseGatewayConfig({ upstreams: { a: { url: 'ftp://h' } } })).key).toBe(
      'upstreams.a.url',
    );
    expect(
      refusal(() => parseGatewayConfig({ upstreams: { a: { url: 'http://h', tools: { alow: [] } } } })).key,
    ).toBe('upstreams.a.tools.alow');
    expect(refusal(() => parseGatewayConfig({ upstreams: { 'a b': { url: 'http://h' } } })).key).toBe(
      'upstreams.a b',
    );
    expect(refusal(() => parseGatewayConfig({ upstreams: { a__b: { url: 'http://h' } } })).message).toContain(
      'separator',
    );
    expect(refusal(() => parseGatewayConfig({ upstreams: {} })).key).toBe('upstreams');
    expect(refusal(() => parseGatewayConfig({})).key).toBe('upstreams');
    expect(refusal(() => parseGatewayConfig({ upstreams, listen: { port: 1 }, port: 2 })).key).toBe('port');
    expect(refusal(() => parseGatewayConfig({ upstreams, listen: { port: 70000 } })).key).toBe('listen.port');
    const both = refusal(() => parseGatewayConfig({ upstreams: { a: { url: 'http://h', command: ['x'] } } }));
    expect(both.message).toContain('not both');
    const neither = refusal(() => parseGatewayConfig({ upstreams: { a: { socket: '/x' } } }));
    expect(neither.message).toContain('unknown upstream transport');
    expect(
      refusal(() => parseGatewayConfig({ upstreams: { a: { url: 'http://h', transport: 'websocket' } } }))
        .key,
    ).toBe('upstreams.a.transport');
  });

  it('expands ${NAME} in every string, and names a variable that is not set', () => {
    expect(expandEnv({ a: ['x ${A} y', { b: '${B}' }], n: 1 }, { A: '1', B: '2' }, 'f')).toEqual({
      a: ['x 1 y', { b: '2' }],
      n: 1,
    });
    const missing = refusal(() => expandEnv({ up: { headers: { Auth: '${NOPE}' } } }, {}, 'f'));
    expect(missing.key).toBe('up.headers.Auth');
    expect(missing.message).toContain('NOPE');
    expect(refusal(() => expandEnv({ a: '${1x}' }, {}, 'f')).message).toContain('not a variable name');
    expect(expandEnv('${A:-x}-${B:-y}-${C:-}', { A: '1', B: '' }, 'f')).toBe('1-y-');
  });
});

describe('gateway names', () => {
  it('routes a prefixed name to its upstream', () => {
    const router = new NameRouter(
      '__',
      new Map([
        ['files', 0],
        ['my-search', 1],
      ]),
    );
    expect(router.route('files__read__deep')).toEqual({ upstream: 0, name: 'read__deep' });
    expect(router.route('my-search__q')).toEqual({ upstream: 1, name: 'q' });
    expect(router.route('other__q')).toBeUndefined();
    expect(router.route('__q')).toBeUndefined();
    expect(router.outer('files', 'read')).toBe('files__read');
  });

  it('filters with allow and deny globs', () => {
    const filter = new NameFilter({ allow: ['read_*', 'list_*'], deny: ['read_secret*'] });
    expect(filter.allows('read_file')).toBe(true);
    expect(filter.allows('write_file')).toBe(false);
    expect(filter.why('write_file')).toContain('allow');
    expect(filter.allows('read_secrets')).toBe(false);
    expect(filter.why('read_secrets')).toContain('deny');
    expect(new NameFilter(undefined).open).toBe(true);
  });

  it('round-trips a cursor, and refuses one for another list or not its own', () => {
    const cursor = encodeCursor({ method: 'tools/list', next: { files: 'abc', search: '2' } });
    expect(decodeCursor(cursor, 'tools/list')).toEqual({
      method: 'tools/list',
      next: { files: 'abc', search: '2' },
    });
    expect(decodeCursor(cursor, 'prompts/list')).toContain('tools/list');
    expect(typeof decodeCursor('not a cursor!', 'tools/list')).toBe('string');
    expect(typeof decodeCursor(Buffer.from('{"v":1}').toString('base64url'), 'tools/list')).toBe('string');
  });

  it('merges capabilities and matches URIs against templates', () => {
    expect(
      unionCapabilities([
        { tools: {}, logging: {} },
        { tools: { listChanged: false }, resources: { subscribe: true } },
      ]),
    ).toEqual({
      tools: { listChanged: true },
      logging: {},
      resources: { subscribe: true, listChanged: true },
    });
    expect(unionCapabilities([])).toEqual({ tools: { listChanged: true } });
    const item = templateMatcher('example://items/{id}');
    expect(item('example://items/7')).toBe(true);
    expect(item('example://items/7/more')).toBe(false);
    expect(templateMatcher('file:///{+path}')('file:///a/b.txt')).toBe(true);
    expect(templateMatcher('search://q{?term,page}')('search://q?term=x')).toBe(true);
  });
});
