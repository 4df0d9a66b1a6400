import { describe, expect, it } from 'vitest';
import { SseDataReader } from '../../src/transport/sseReader.js';

function read(chunks: string[]): Array<{ data: string; id: string | undefined }> {
  const got: Array<{ data: string; id: string | undefined }> = [];
  const reader = new SseDataReader((data, id) => got.push({ data, id }));
  for (const c of chunks) reader.push(Buffer.from(c));
  reader.end();
  return got;
}

describe('SseDataReader', () => {
  it('joins multi-line data, skips comments and other event types', () => {
    expect(read(['id: 1\nevent: message\ndata: a\ndata: b\n\n: ping\n\nevent: other\ndata: x\n\n'])).toEqual([
      { data: 'a\nb', id: '1' },
    ]);
  });

  it('keeps a UTF-8 character split across chunks whole', () => {
    const bytes = Buffer.from('data: é\n\n');
    const got: string[] = [];
    const reader = new SseDataReader((d) => got.push(d));
    reader.push(bytes.subarray(0, 7));
    reader.push(bytes.subarray(7));
    reader.end();
    expect(got).toEqual(['é']);
  });

  // Found by the fuzzer: a stream ending in a lone CR lost its last event (the parser waited for a LF).
  it('regression: delivers the last event of a stream with CR line ends', () => {
    expect(read(['id: 0\revent: message\rdata:  \r\r'])).toEqual([{ data: ' ', id: '0' }]);
  });
});
