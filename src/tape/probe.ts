import type { Transport } from '../transport/transport.js';
import { LIST_METHODS, mergePages, nextCursor, type Offer } from './drift.js';
import { LiveChannel } from './liveChannel.js';
import type { TapeOffer } from './offer.js';

/** Most pages of one list a probe reads (1,000): a server whose cursors never end is not followed forever. */
export const MAX_PROBE_PAGES = 1000;

export interface ProbeResult {
  /** The live server's offer, for the parts the tape holds. */
  readonly offer: Offer;
  /** What could not be asked or answered, in words. */
  readonly problems: string[];
}

/**
 * Ask a live server what it offers, the way the tape's client asked: its handshake (the recorded
 * `initialize` or `server/discover`), then every list the tape holds, each page after the last, with the
 * recorded params (so a 2026-07-28 request keeps its `_meta` envelope). A list answered with an error
 * counts as empty: everything in it is gone. The transport is closed at the end.
 */
export async function probeOffer(
  recorded: TapeOffer,
  transport: Transport,
  options: { timeoutMs: number },
): Promise<ProbeResult> {
  const channel = new LiveChannel(transport, { timeoutMs: options.timeoutMs });
  const offer: Offer = {};
  const problems: string[] = [];
  let seq = 0;
  const ask = async (request: Record<string, unknown>, params: Record<string, unknown> | undefined) => {
    const msg = { ...request, id: `mcpscope-probe-${++seq}`, ...(params ? { params } : {}) };
    const answer = await channel.request(msg);
    const method = String(request.method);
    if (!answer) {
      problems.push(`${method}: ${channel.aborted ?? `no answer within ${options.timeoutMs} ms`}`);
      return undefined;
    }
    return answer;
  };
  try {
    await channel.start();
    const handshake = recorded.handshake && recorded.requests.get(recorded.handshake);
    if (handshake) {
      const answer = await ask(handshake, undefined);
      // A server that does not answer its handshake will not answer the lists either: stop here.
      if (!answer) return { offer, problems };
      if (answer.result !== undefined) offer.server = answer.result as Record<string, unknown>;
      else problems.push(`${recorded.handshake}: ${JSON.stringify(answer.error)}`);
      if (recorded.handshake === 'initialize')
        channel.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    }
    for (const [method, spec] of Object.entries(LIST_METHODS)) {
      const request = recorded.requests.get(method);
      if (!request || recorded.offer[spec.part] === undefined) continue;
      const { cursor: _, ...params } = (request.params ?? {}) as Record<string, unknown>;
      const pages: unknown[] = [];
      let cursor: string | undefined;
      let complete = false;
      while (pages.length < MAX_PROBE_PAGES) {
        const answer = await ask(request, cursor === undefined ? params : { ...params, cursor });
        if (!answer) break;
        if (answer.result === undefined) {
          problems.push(
            `${method}: answered with an error (${JSON.stringify(answer.error)}); taken as empty`,
          );
          complete = true;
          break;
        }
        pages.push(answer.result);
        cursor = nextCursor(answer.result);
        if (cursor === undefined) {
          complete = true;
          break;
        }
      }
      if (complete) offer[spec.part] = mergePages(method, pages);
      else if (pages.length >= MAX_PROBE_PAGES)
        problems.push(`${method}: more than ${MAX_PROBE_PAGES} pages; not compared`);
    }
  } finally {
    await channel.close();
  }
  return { offer, problems };
}
