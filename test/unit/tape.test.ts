import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { McpscopeError } from '../../src/jsonrpc/errors.js';
import { describeDifferences, differences, withoutMeta } from '../../src/tape/match.js';
import { REDACTED, Redactor } from '../../src/tape/redact.js';
import { readTape } from '../../src/tape/tapeReader.js';
import { TapeWriter } from '../../src/tape/tapeWriter.js';

const HEADER = JSON.stringify({
  format: 'mcpscope-tape',
  version: 1,
  mcpscope: '0.1.0',
  id: 't',
  sessionId: 's',
  transport: 'stdio',
  upstream: 'node server.js',
  startedAt: '2026-11-25T10:00:00.000Z',
  redaction: { enabled: true, paths: [], patterns: [] },
});

function redact(r: Redactor, msg: unknown): unknown {
  return JSON.parse(r.message(Buffer.from(JSON.stringify(msg)), msg)) as unknown;
}

function file(lines: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'mcpscope-unit-')), 'x.tape.jsonl');
  writeFileSync(path, lines);
  return path;
}

describe('Redactor', () => {
  const r = new Redactor({
    paths: ['params.arguments.pin', 'result.*.secretish'],
    patterns: ['tok_[a-z0-9]+'],
  });

  it('passes a message with nothing secret through as the very same bytes', () => {
    const raw = Buffer.from(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":{"progressToken":3}}}',
    );
    expect(r.message(raw, JSON.parse(raw.toString()))).toBe(raw.toString());
  });

  it('redacts secret keys at any depth, secret-shaped strings, configured paths and patterns', () => {
    const out = redact(r, {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'login',
        arguments: {
          user: 'ada',
          password: 'p4ss',
          nested: { apiKey: 'k', 'x-api-key': 'k2', access_token: 't' },
          pin: 1234,
          note: 'use sk-abcdefghijklmnop0123 or Bearer abc.def-ghi or tok_zz9',
        },
      },
    });
    expect(out).toEqual({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'login',
        arguments: {
          user: 'ada',
          password: REDACTED,
          nested: { apiKey: REDACTED, 'x-api-key': REDACTED, access_token: REDACTED },
          pin: REDACTED,
          note: `use ${REDACTED} or ${REDACTED} or ${REDACTED}`,
        },
      },
    });
    expect(
      redact(r, { jsonrpc: '2.0', id: 2, result: { a: { secretish: 1 }, b: { secretish: 2 } } }),
    ).toEqual({
      jsonrpc: '2.0',
      id: 2,
      result: { a: { secretish: REDACTED }, b: { secretish: REDACTED } },
    });
  });

  it('redacts credential headers whatever their value, and secret-shaped values in others', () => {
    expect(
      r.headers({
        Authorization: 'Basic eA==',
        cookie: 'a=b',
        'x-trace': 'Bearer abcdef',
        accept: 'text/html',
      }),
    ).toEqual({ Authorization: REDACTED, cookie: REDACTED, 'x-trace': REDACTED, accept: 'text/html' });
  });

  it('does nothing when turned off, and names a bad pattern', () => {
    const off = new Redactor({ enabled: false });
    const msg = { jsonrpc: '2.0', id: 1, result: { password: 'x' } };
    expect(redact(off, msg)).toEqual(msg);
    expect(() => new Redactor({ patterns: ['(unclosed'] })).toThrow(McpscopeError);
  });
});

describe('readTape', () => {
  it('tolerates a torn last line and says so', async () => {
    const tape = await readTape(
      file(`${HEADER}\n{"t":1,"dir":"c2s","msg":{"jsonrpc":"2.0","method":"x"}}\n{"t":2,"di`),
    );
    expect(tape.torn).toBe(true);
    expect(tape.complete).toBe(false);
    expect(tape.events).toHaveLength(1);
  });

  it('refuses a damaged line in the middle, naming it', async () => {
    const err = await readTape(
      file(`${HEADER}\n{"t":1,"di\n{"t":2,"edge":"closed","complete":true}\n`),
    ).catch((e: unknown) => e);
    expect((err as McpscopeError).code).toBe('TAPE_INVALID');
    expect((err as McpscopeError).message).toMatch(/line 2/);
  });

  it('refuses a newer format version and a file that is not a tape', async () => {
    const newer = HEADER.replace('"version":1', '"version":99');
    expect(((await readTape(file(`${newer}\n`)).catch((e: unknown) => e)) as McpscopeError).code).toBe(
      'TAPE_INVALID',
    );
    expect(((await readTape(file('{"hello":1}\n')).catch((e: unknown) => e)) as McpscopeError).code).toBe(
      'TAPE_INVALID',
    );
  });

  it('reads a clean tape as complete, with the handshake merged into the header', async () => {
    const tape = await readTape(
      file(
        `${HEADER}\n{"t":5,"edge":"initialized","protocolVersion":"2025-11-25","serverInfo":{"name":"s"}}\n` +
          '{"t":9,"edge":"closed","complete":true}\n',
      ),
    );
    expect(tape.complete).toBe(true);
    expect(tape.header).toMatchObject({ protocolVersion: '2025-11-25', serverInfo: { name: 's' } });
  });
});

describe('TapeWriter', () => {
  it('writes whole lines in order and closes', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mcpscope-unit-')), 'w.tape.jsonl');
    const w = new TapeWriter(
      path,
      { failed: () => undefined, wrote: () => undefined, dropped: () => undefined },
      () => '',
    );
    for (let i = 0; i < 1000; i++) w.append(`{"n":${i}}`);
    await w.close('{"end":true}');
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(1001);
    expect(lines[999]).toBe('{"n":999}');
    expect(lines[1000]).toBe('{"end":true}');
  });

  it('drops lines past its memory bound and records how many, instead of growing', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mcpscope-unit-')), 'd.tape.jsonl');
    let dropped = 0;
    const w = new TapeWriter(
      path,
      { failed: () => undefined, wrote: () => undefined, dropped: (n) => (dropped += n) },
      (n) => `{"dropped":${n}}`,
      4096,
    );
    // Synchronously, faster than any disk: the queue fills and the rest is counted.
    for (let i = 0; i < 1000; i++) w.append(`{"n":${i},"pad":"${'x'.repeat(40)}"}`);
    await new Promise((r) => setTimeout(r, 50));
    w.append('{"after":true}');
    await w.close();
    const text = readFileSync(path, 'utf8');
    expect(dropped).toBeGreaterThan(0);
    expect(text).toContain(`{"dropped":${dropped}}`);
    expect(text.trimEnd().endsWith('{"after":true}')).toBe(true);
  });

  it('reports a file it cannot create once, and drops the rest quietly', async () => {
    const failures: string[] = [];
    const w = new TapeWriter(
      '/nonexistent-dir-for-mcpscope/x.tape.jsonl',
      {
        failed: (err) => failures.push((err as NodeJS.ErrnoException).code ?? ''),
        wrote: () => undefined,
        dropped: () => undefined,
      },
      () => '',
    );
    w.append('{"a":1}');
    w.append('{"a":2}');
    await w.close('{"end":true}');
    expect(failures).toEqual(['ENOENT']);
    expect(w.failed).toBe(true);
  });

  it('stops at a full disk (ENOSPC), reports it once, and never throws at the caller', async () => {
    const failures: string[] = [];
    const w = new TapeWriter(
      '/dev/full',
      {
        failed: (err) => failures.push((err as NodeJS.ErrnoException).code ?? ''),
        wrote: () => undefined,
        dropped: () => undefined,
      },
      () => '',
      undefined,
      'a',
    );
    for (let i = 0; i < 10; i++) w.append(`{"n":${i}}`);
    await w.close('{"end":true}');
    w.append('{"after":"close"}');
    expect(failures).toEqual(['ENOSPC']);
    expect(w.failed).toBe(true);
  });
});

describe('matching', () => {
  it('ignores _meta, treats a recorded [REDACTED] as a wildcard, and describes differences by path', () => {
    const recorded = withoutMeta({
      name: 'add',
      arguments: { a: 1, b: 2, key: REDACTED },
      _meta: { progressToken: 1 },
    });
    const live = withoutMeta({
      name: 'add',
      arguments: { a: 1, b: 3, key: 'real' },
      _meta: { progressToken: 9 },
    });
    expect(describeDifferences(differences(recorded, live))).toEqual(['arguments.b: recorded 2, got 3']);
    expect(describeDifferences(differences({ list: [1] }, { list: [1, 2] }))).toEqual([
      'list[1]: recorded (absent), got 2',
    ]);
  });
});

describe('secretHeader', () => {
  it('knows a credential header by the words of its name, not by substrings', async () => {
    const { secretHeader } = await import('../../src/tape/redact.js');
    for (const name of [
      'Authorization',
      'Proxy-Authorization',
      'Cookie',
      'Set-Cookie',
      'X-Api-Key',
      'Api-Key',
      'X-Auth-Token',
      'X-Access-Token',
      'Mcp-Session-Id',
      'x_client_secret',
      'X-Password',
      'apiKey',
    ]) {
      expect(secretHeader(name), name).toBe(true);
    }
    for (const name of [
      'Keyboard',
      'X-Monkey',
      'Accept',
      'Content-Type',
      'User-Agent',
      'X-Authority-Level',
    ]) {
      expect(secretHeader(name), name).toBe(false);
    }
  });
});
