import { describe, expect, it } from 'vitest';
import { McpscopeError } from '../../src/jsonrpc/errors.js';
import {
  LineSplitter,
  MAX_DEPTH,
  nestsDeeperThan,
  parseFrame,
  sniffId,
  withMessage,
  withMessageOf,
  type Frame,
} from '../../src/jsonrpc/framing.js';

const MAX = 1024;
const parse = (text: string | Buffer) => parseFrame(typeof text === 'string' ? Buffer.from(text) : text, MAX);
const codeOf = (text: string | Buffer): string => {
  try {
    parse(text);
  } catch (err) {
    return (err as McpscopeError).code;
  }
  return 'OK';
};

/** The fields that are the message; every other field of a Frame is context that a rewrite keeps. */
const MESSAGE_FIELDS = new Set(['raw', 'msg', 'kind', 'id', 'method', 'error', 'outcome']);

/** A received request whose every context field holds a value of its own (whatever fields Frame has). */
function requestInContext(): Frame {
  const frame = parse('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo"}}');
  const context = frame as unknown as Record<string, unknown>;
  for (const key of Object.keys(frame)) {
    if (!MESSAGE_FIELDS.has(key)) context[key] = { sentinel: key };
  }
  frame.error = new McpscopeError('RATE_LIMITED', 'describes the old message');
  return frame;
}

describe('a rewrite keeps the frame’s context', () => {
  it('withMessage replaces the message, validated and serialised once, and keeps every other field', () => {
    const frame = requestInContext();
    const msg = { jsonrpc: '2.0', id: 'n', method: 'tools/call', params: { name: 'other' } };
    const next = withMessage(frame, msg);
    for (const key of Object.keys(frame)) {
      if (MESSAGE_FIELDS.has(key)) continue;
      expect((next as unknown as Record<string, unknown>)[key], key).toBe(
        (frame as unknown as Record<string, unknown>)[key],
      );
    }
    expect(next).toMatchObject({ kind: 'request', id: 'n', method: 'tools/call', error: undefined });
    expect(next.outcome).toBeUndefined(); // a new message's outcome is decided anew
    expect(next.msg).toBe(msg);
    expect(JSON.parse(next.raw.toString())).toEqual(msg);
    expect(next.raw.includes(0x0a)).toBe(false);
    expect(frame.id).toBe(7); // the original is untouched
    const notification = withMessage(frame, { jsonrpc: '2.0', method: 'notifications/cancelled' });
    expect(notification).toMatchObject({ kind: 'notification', id: undefined });
    expect(() => withMessage(frame, { jsonrpc: '2.0', id: 1.5, method: 'x' })).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST' }),
    );
  });

  it('withMessageOf takes only the message of a frame built from scratch', () => {
    const frame = requestInContext();
    const source = parse('{"jsonrpc":"2.0","id":8,"result":{}}');
    const next = withMessageOf(frame, source);
    for (const key of Object.keys(frame)) {
      const expected = MESSAGE_FIELDS.has(key) ? source : frame;
      expect((next as unknown as Record<string, unknown>)[key], key).toBe(
        (expected as unknown as Record<string, unknown>)[key],
      );
    }
    expect(withMessageOf(frame, frame)).toBe(frame);
  });
});

describe('parseFrame', () => {
  it('classifies requests, notifications, responses and errors, and keeps the raw bytes', () => {
    const raw = Buffer.from('{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x"}}');
    const f = parseFrame(raw, MAX);
    expect(f).toMatchObject({ kind: 'request', id: 'a', method: 'tools/call' });
    expect(f.raw).toBe(raw);
    expect(parse('{"jsonrpc":"2.0","method":"notifications/initialized"}').kind).toBe('notification');
    expect(parse('{"jsonrpc":"2.0","id":3,"result":{}}')).toMatchObject({ kind: 'response', id: 3 });
    expect(parse('{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"m"}}').kind).toBe('error');
    expect(parse('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"m"}}').id).toBeUndefined();
  });

  it('rejects malformed messages with stable codes', () => {
    expect(codeOf('{"jsonrpc":"2.0","id":1,')).toBe('PARSE_ERROR');
    expect(codeOf('[{"jsonrpc":"2.0","id":1,"method":"ping"}]')).toBe('BATCH_NOT_SUPPORTED');
    expect(codeOf('{"jsonrpc":"1.0","id":1,"method":"ping"}')).toBe('INVALID_REQUEST');
    expect(codeOf('{"jsonrpc":"2.0","id":1,"method":7}')).toBe('INVALID_REQUEST');
    expect(codeOf('{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}')).toBe('INVALID_REQUEST');
    expect(codeOf('{"jsonrpc":"2.0","id":1.5,"method":"ping"}')).toBe('INVALID_REQUEST');
    expect(codeOf('{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}')).toBe('OK');
    expect(codeOf('{"jsonrpc":"2.0","id":1,"method":"ping","params":3}')).toBe('INVALID_REQUEST');
    expect(codeOf('{"jsonrpc":"2.0","id":1}')).toBe('INVALID_REQUEST');
    expect(codeOf('"just a string"')).toBe('INVALID_REQUEST');
    expect(codeOf(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))).toBe('PARSE_ERROR');
    expect(codeOf(`{"jsonrpc":"2.0","id":1,"method":"${'x'.repeat(MAX)}"}`)).toBe('MESSAGE_TOO_LARGE');
  });

  it('does not pollute prototypes', () => {
    const f = parse('{"jsonrpc":"2.0","id":1,"method":"x","params":{"__proto__":{"polluted":true}}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(f.kind).toBe('request');
  });

  it(`accepts ${MAX_DEPTH} levels of nesting and refuses one more, naming the bound, at any depth`, () => {
    /** A request nested `levels` deep in all: the message, params, then arrays. */
    const nested = (levels: number, id: number | string = 1) =>
      Buffer.from(
        `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"x","params":{"a":${'['.repeat(levels - 2)}${']'.repeat(levels - 2)}}}`,
      );
    expect(parseFrame(nested(MAX_DEPTH), 1 << 20).kind).toBe('request');
    for (const levels of [MAX_DEPTH + 1, 5_000, 1_000_000]) {
      try {
        parseFrame(nested(levels, 'deep'), 1 << 22);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(McpscopeError);
        expect((err as McpscopeError).code).toBe('INVALID_REQUEST');
        expect((err as McpscopeError).rpcCode).toBe(-32600);
        expect((err as McpscopeError).details).toEqual({ id: 'deep', maxDepth: MAX_DEPTH });
      }
    }
    // Brackets inside strings are not nesting; objects count like arrays; a deep answer is refused too.
    const text = `{"jsonrpc":"2.0","id":1,"method":"x","params":{"s":"${'['.repeat(5_000)}"}}`;
    expect(parseFrame(Buffer.from(text), 1 << 20).kind).toBe('request');
    const objects = `{"jsonrpc":"2.0","id":2,"result":${'{"a":'.repeat(MAX_DEPTH)}1${'}'.repeat(MAX_DEPTH)}}`;
    expect(() => parseFrame(Buffer.from(objects), 1 << 20)).toThrow(/128 levels/);
    expect(nestsDeeperThan(JSON.parse(objects), MAX_DEPTH)).toBe(true);
    expect(nestsDeeperThan(JSON.parse(objects), MAX_DEPTH + 1)).toBe(false);
    expect(nestsDeeperThan('x', 0)).toBe(false);
  });

  it('re-serialises a pretty-printed message once so raw never holds a newline', () => {
    const f = parse('{\n  "jsonrpc": "2.0",\n  "id": 1,\n  "result": {}\n}');
    expect(f.raw.includes(0x0a)).toBe(false);
    expect(JSON.parse(f.raw.toString())).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
  });

  it('sniffs the id of a message it cannot accept', () => {
    expect(sniffId(Buffer.from('{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"x":"…'))).toBe(42);
    expect(sniffId(Buffer.from('{"id" : "req-\\"7","method":'))).toBe('req-"7');
    expect(sniffId(Buffer.from('{"method":"x"'))).toBeNull();
  });

  it('never truncates an id it cannot take whole: a non-integer, huge or cut-off number is null', () => {
    const sniff = (text: string) => sniffId(Buffer.from(text));
    for (const bad of ['7.5', '7e400', '1e308', '-0.5', '9007199254740993', '07', '1.', '{"a":1}', 'true']) {
      expect(sniff(`{"jsonrpc":"2.0","id":${bad},"method":"ping","params":{"x":"…`), bad).toBeNull();
    }
    expect(sniff('{"jsonrpc":"2.0","id":1e2,"method":"ping"')).toBe(100); // what JSON.parse makes of it
    expect(sniff('{"jsonrpc":"2.0","id": -12 }')).toBe(-12);
    // The prefix ends inside the number: 12 may be the start of 123 or 12.5.
    expect(sniff('{"jsonrpc":"2.0","id":12')).toBeNull();
    // Only the message's own id: not one inside params, not a string value "id".
    expect(sniff('{"jsonrpc":"2.0","method":"x","params":{"id":5},"id":7.5,"p":"…')).toBeNull();
    expect(sniff('{"jsonrpc":"2.0","method":"x","params":{"id":5,"s":"\\"id\\":6"},"id":"real","p":"…')).toBe(
      'real',
    );
    expect(sniff('{"method":"id","x":["id"],"id":3,')).toBe(3);
  });

  it('answers an invalid message with the id it parsed, or null when that is no valid id', () => {
    const idOf = (text: string): unknown => {
      try {
        parse(text);
      } catch (err) {
        return (err as McpscopeError).details?.id;
      }
      return 'parsed';
    };
    expect(idOf('{"jsonrpc":"2.0","id":7.5,"method":"ping"}')).toBeNull();
    expect(idOf('{"jsonrpc":"2.0","id":7e400,"method":"ping"}')).toBeNull();
    expect(idOf('{"jsonrpc":"2.0","id":1e308,"method":"ping"}')).toBeNull();
    expect(idOf('{"jsonrpc":"2.0","method":"x","params":{"id":5},"id":7.5}')).toBeNull();
    expect(idOf('{"jsonrpc":"1.0","id":2,"method":"ping"}')).toBe(2);
    expect(idOf('{"jsonrpc":"2.0","id":"s","method":3}')).toBe('s');
  });

  it('names the request id in the error for an invalid request', () => {
    try {
      parse('{"jsonrpc":"2.0","id":9,"method":5}');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(McpscopeError);
      expect((err as McpscopeError).details?.id).toBe(9);
    }
  });
});

describe('LineSplitter', () => {
  function collect(max: number) {
    const lines: string[] = [];
    const oversize: Array<{ prefix: string; total: number }> = [];
    const splitter = new LineSplitter(max, {
      onLine: (l) => lines.push(l.toString()),
      onOversize: (p, total) => oversize.push({ prefix: p.toString(), total }),
    });
    return { splitter, lines, oversize };
  }

  it('splits across chunk boundaries, tolerates CRLF and blank lines', () => {
    const { splitter, lines } = collect(100);
    splitter.push(Buffer.from('{"a":1}\n{"b"'));
    splitter.push(Buffer.from(':2}\r\n\n'));
    splitter.push(Buffer.from('{"c":3}'));
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
    splitter.push(Buffer.from('\n'));
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('drops an oversized line with bounded memory and resynchronises at the next newline', () => {
    const { splitter, lines, oversize } = collect(64);
    splitter.push(Buffer.from('{"id":5,"x":"'));
    for (let i = 0; i < 1000; i++) {
      splitter.push(Buffer.alloc(1024, 0x61));
      expect(splitter.bufferedBytes).toBeLessThanOrEqual(64);
    }
    splitter.push(Buffer.from('"}\n{"ok":true}\n'));
    expect(oversize).toHaveLength(1);
    expect(oversize[0]?.total).toBe(13 + 1000 * 1024 + 2);
    expect(sniffId(Buffer.from(oversize[0]?.prefix ?? ''))).toBe(5);
    expect(lines).toEqual(['{"ok":true}']);
  });

  it('reports a single-chunk oversized line too', () => {
    const { splitter, lines, oversize } = collect(8);
    splitter.push(Buffer.from('0123456789\nok\n'));
    expect(oversize.map((o) => o.total)).toEqual([10]);
    expect(lines).toEqual(['ok']);
  });
});
