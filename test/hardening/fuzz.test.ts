// Property-based tests of every parser mcpscope owns. `npm test` runs a short pass; `npm run fuzz` runs
// FUZZ_RUNS cases per property with a printed seed (FUZZ_SEED=… reproduces a run).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { McpscopeError } from '../../src/jsonrpc/errors.js';
import { LineSplitter, parseFrame } from '../../src/jsonrpc/framing.js';
import { LOOPBACK_HOSTS, checkOrigin, hostnameOf } from '../../src/transport/originCheck.js';
import { SseDataReader } from '../../src/transport/sseReader.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED =
  process.env.FUZZ_SEED === undefined
    ? Date.now() ^ (Math.random() * 2 ** 31)
    : Number(process.env.FUZZ_SEED);
if (process.env.FUZZ_RUNS)
  console.log(`fuzz: ${RUNS} runs per property, seed ${SEED} (FUZZ_SEED=${SEED} reproduces)`);
const params = { numRuns: RUNS, seed: SEED };

/** Cut a buffer at arbitrary points. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    parts.push(bytes.subarray(prev, p));
    prev = p;
  }
  parts.push(bytes.subarray(prev));
  return parts;
}

const jsonRpc = fc.oneof(
  fc.record({
    jsonrpc: fc.constant('2.0'),
    id: fc.oneof(fc.integer(), fc.string()),
    method: fc.string({ minLength: 1 }),
    params: fc.dictionary(fc.string(), fc.jsonValue()),
  }),
  fc.record({ jsonrpc: fc.constant('2.0'), method: fc.string({ minLength: 1 }) }),
  fc.record({
    jsonrpc: fc.constant('2.0'),
    id: fc.integer(),
    result: fc.dictionary(fc.string(), fc.jsonValue()),
  }),
);

describe('fuzz: JSON-RPC framing', () => {
  it('yields the same messages however a newline-delimited stream is chunked', () => {
    fc.assert(
      fc.property(
        fc.array(jsonRpc, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.boolean(),
        (msgs, cuts, crlf) => {
          const text =
            msgs.map((m) => JSON.stringify(m)).join(crlf ? '\r\n' : '\n') + (msgs.length ? '\n' : '');
          const got: unknown[] = [];
          const splitter = new LineSplitter(1 << 20, {
            onLine: (line) => got.push(parseFrame(line, 1 << 20).msg),
            onOversize: () => expect.unreachable('nothing is oversized here'),
          });
          for (const part of split(Buffer.from(text), cuts)) splitter.push(part);
          expect(got).toEqual(msgs.map((m) => JSON.parse(JSON.stringify(m))));
        },
      ),
      params,
    );
  });

  it('keeps memory bounded and resynchronises after any oversized line', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 65, max: 5_000 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (size, cuts) => {
          const bytes = Buffer.from(`${'x'.repeat(size)}\n{"jsonrpc":"2.0","method":"ok"}\n`);
          const lines: string[] = [];
          let oversized = 0;
          const splitter = new LineSplitter(64, {
            onLine: (l) => lines.push(l.toString()),
            onOversize: () => oversized++,
          });
          for (const part of split(bytes, cuts)) {
            splitter.push(part);
            expect(splitter.bufferedBytes).toBeLessThanOrEqual(64);
          }
          expect(oversized).toBe(1);
          expect(lines).toEqual(['{"jsonrpc":"2.0","method":"ok"}']);
        },
      ),
      params,
    );
  });

  it('answers any byte string with a frame or an McpscopeError, never anything else', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.string().map((s) => new TextEncoder().encode(s)),
        ),
        (bytes) => {
          try {
            const frame = parseFrame(Buffer.from(bytes), 1 << 20);
            expect(['request', 'notification', 'response', 'error']).toContain(frame.kind);
            expect(frame.raw.includes(0x0a)).toBe(false);
          } catch (err) {
            expect(err).toBeInstanceOf(McpscopeError);
            expect(['PARSE_ERROR', 'INVALID_REQUEST', 'BATCH_NOT_SUPPORTED']).toContain(
              (err as McpscopeError).code,
            );
          }
        },
      ),
      params,
    );
  });
});

describe('fuzz: SSE reading', () => {
  // A failure found here became test/unit/sseReader.test.ts ("regression: … CR line ends").
  it('yields every event once, whatever the chunking, line ends and multi-line data', () => {
    const data = fc.array(
      fc.string({ unit: 'grapheme' }).map((s) => s.replace(/[\r\n]/g, '')),
      { minLength: 1, maxLength: 3 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.nat(), lines: data }), { maxLength: 10 }),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.array(fc.nat(), { maxLength: 30 }),
        (events, eol, cuts) => {
          const wire = events
            .map(
              (e) =>
                `id: ${e.id}${eol}event: message${eol}${e.lines.map((l) => `data: ${l}`).join(eol)}${eol}${eol}`,
            )
            .join(`: keepalive${eol}${eol}`);
          const got: Array<{ data: string; id: string | undefined }> = [];
          const reader = new SseDataReader((d, id) => got.push({ data: d, id }));
          for (const part of split(Buffer.from(wire), cuts)) reader.push(part);
          reader.end();
          const expected = events
            .map((e) => ({ data: e.lines.join('\n'), id: String(e.id) }))
            .filter((e) => e.data !== '');
          expect(got).toEqual(expected);
        },
      ),
      params,
    );
  });
});

describe('fuzz: Host and Origin checks', () => {
  const policy = { allowedOrigins: [], allowedHosts: [], loopbackOnly: true };

  it('never throws on any header value, and refuses every non-loopback Host', () => {
    fc.assert(
      fc.property(
        fc.option(fc.string(), { nil: undefined }),
        fc.option(fc.string(), { nil: undefined }),
        (origin, host) => {
          const err = checkOrigin(origin, host, policy);
          if (host !== undefined && !LOOPBACK_HOSTS.has(hostnameOf(host)))
            expect(err?.code).toBe('ORIGIN_FORBIDDEN');
          if (err) expect(err.message.length).toBeLessThan(400);
        },
      ),
      params,
    );
  });

  it('accepts loopback names with any port, and no Origin at all', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('localhost', '127.0.0.1', '[::1]', 'LOCALHOST'),
        fc.option(fc.integer({ min: 1, max: 65_535 })),
        (name, port) => {
          const host = port === null ? name : `${name}:${port}`;
          expect(checkOrigin(undefined, host, policy)).toBeUndefined();
          expect(checkOrigin(`http://${host}`, host, policy)).toBeUndefined();
        },
      ),
      params,
    );
  });
});
