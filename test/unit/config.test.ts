import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envName, readConfigFile, resolveConfig } from '../../src/config/load.js';
import { McpscopeError } from '../../src/jsonrpc/errors.js';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return (err as McpscopeError).code;
  }
  return 'OK';
};

describe('config', () => {
  it('has defaults for everything', () => {
    const c = resolveConfig({});
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      path: '/mcp',
      maxMessageBytes: 4 * 1024 * 1024,
    });
    expect(c.requestTimeoutMs).toBe(60_000);
    expect(c.graceMs).toBe(5_000);
  });

  it('lets flags and env win over the file, and the file over defaults', () => {
    const file = { port: 9000, requestTimeoutMs: 1234, host: '0.0.0.0' };
    const c = resolveConfig(
      {
        port: { value: '7000', source: 'cli', origin: '--port' },
        host: { value: '127.0.0.1', source: 'default', origin: '--host' },
        requestTimeoutMs: { value: 60_000, source: 'default', origin: '--request-timeout-ms' },
        logMessages: { value: 'true', source: 'env', origin: 'MCPSCOPE_LOG_MESSAGES' },
      },
      file,
    );
    expect(c.port).toBe(7000);
    expect(c.requestTimeoutMs).toBe(1234);
    expect(c.host).toBe('0.0.0.0');
    expect(c.logMessages).toBe(true);
  });

  it('names the key, the value, its source and what is allowed when a value is invalid', () => {
    try {
      resolveConfig({ port: { value: '99999', source: 'env', origin: 'MCPSCOPE_PORT' } });
      expect.unreachable();
    } catch (err) {
      expect((err as McpscopeError).code).toBe('CONFIG_INVALID');
      expect((err as McpscopeError).message).toMatch(
        /invalid setting port = "99999" \(from MCPSCOPE_PORT\): .*65535/,
      );
    }
    expect(codeOf(() => resolveConfig({}, { portt: 1 }, 'x.json'))).toBe('CONFIG_INVALID');
    expect(codeOf(() => resolveConfig({}, { upstream: 'ftp://x' }))).toBe('CONFIG_INVALID');
    expect(codeOf(() => resolveConfig({}, { logLevel: 'loud' }))).toBe('CONFIG_INVALID');
  });

  it('reads a JSON file and explains a broken one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-config-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ port: 1234 }));
    expect(readConfigFile(good)).toEqual({ port: 1234 });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ port: ');
    expect(codeOf(() => readConfigFile(bad))).toBe('CONFIG_INVALID');
    expect(codeOf(() => readConfigFile(join(dir, 'missing.json')))).toBe('CONFIG_INVALID');
  });

  it('derives the env variable from the setting', () => {
    expect(envName('requestTimeoutMs')).toBe('MCPSCOPE_REQUEST_TIMEOUT_MS');
  });
});
