// A client that loses a replayed stream mid-way resumes it with Last-Event-ID, as from a live mcpscope.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTape } from '../../src/tape/tapeReader.js';
import {
  EXAMPLE,
  MCP_HEADERS,
  post,
  rawSession,
  sseEvents,
  startHttpProxy,
  startListening,
  type RunningCli,
} from '../helpers.js';

/** A slow call with progress: four progress notifications 150 ms apart, then the answer. */
const SLOW_CALL = {
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'slow', arguments: { ms: 600, steps: 4 }, _meta: { progressToken: 'p1' } },
};

interface SseEvent {
  id?: string;
  data: string;
}

/** Read SSE events from a response body until `count` have come (or the body ends); leaves it open. */
async function readEvents(body: ReadableStream<Uint8Array>, count: number): Promise<SseEvent[]> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const events = sseEvents(text);
    // Only whole events: the last block is complete once the blank line after it has come.
    const whole = text.endsWith('\n\n') ? events : events.slice(0, -1);
    if (whole.length >= count) {
      reader.releaseLock();
      return whole.slice(0, count);
    }
    const { value, done } = await reader.read();
    if (done) return events;
    text += decoder.decode(value, { stream: true });
  }
}

describe('Last-Event-ID on a replayed stream', () => {
  const running: RunningCli[] = [];
  afterEach(async () => {
    for (const r of running.splice(0)) await r.stop();
  });

  it('resumes a replayed stream mid-way: what was missed comes, under the ids the tape recorded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-resume-'));
    const proxy = await startHttpProxy(['--no-admin', '--record', dir, '--', process.execPath, EXAMPLE]);
    running.push(proxy);
    const live = await rawSession(proxy.url);
    // A call the replay leaves out: numbering the replayed events afresh would give the rest other ids.
    const add = {
      jsonrpc: '2.0',
      id: 6,
      method: 'tools/call',
      params: { name: 'add', arguments: { a: 1, b: 2 } },
    };
    await (await post(proxy.url, add, { 'mcp-session-id': live })).text();
    const res = await post(proxy.url, SLOW_CALL, { 'mcp-session-id': live });
    const recorded = sseEvents(await res.text());
    await fetch(proxy.url, { method: 'DELETE', headers: { 'mcp-session-id': live } });
    expect(recorded).toHaveLength(5); // four progress notifications, then the answer
    const path = join(dir, readdirSync(dir).find((f) => f.endsWith('.tape.jsonl')) as string);
    await expect.poll(async () => (await readTape(path)).complete, { timeout: 5_000 }).toBe(true);

    const replay = await startListening(['replay', path, '--port', '0', '--no-admin', '--speed', '1']);
    running.push(replay);
    const session = await rawSession(replay.url);
    const first = await post(replay.url, SLOW_CALL, { 'mcp-session-id': session });
    const head = await readEvents(first.body as ReadableStream<Uint8Array>, 2);
    await first.body?.cancel();
    expect(head.map((e) => e.id)).toEqual(recorded.slice(0, 2).map((e) => e.id));

    // Gone for a while: the rest of the call is replayed meanwhile, and kept for the client.
    await new Promise((r) => setTimeout(r, 200));
    const resumed = await fetch(replay.url, {
      method: 'GET',
      headers: {
        ...MCP_HEADERS,
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-11-25',
        'last-event-id': head[1]?.id as string,
      },
    });
    expect(resumed.status).toBe(200);
    const rest = sseEvents(await resumed.text());
    // Everything after the last event seen, the answer last, each under the id it had when recorded.
    expect(rest.map((e) => e.id)).toEqual(recorded.slice(2).map((e) => e.id));
    expect(rest.map((e) => JSON.parse(e.data) as unknown)).toEqual(
      recorded.slice(2).map((e) => JSON.parse(e.data) as unknown),
    );
  });
});
