import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';

export interface SseReaderHooks {
  /** An event of another type than `message` (the legacy transport's `endpoint`). */
  onOther?: (event: string, data: string, id: string | undefined) => void;
  /** Every event id as it arrives, including those of events with no data (resumption priming events). */
  onId?: (id: string) => void;
  /** The server's `retry:` field, in ms. */
  onRetry?: (ms: number) => void;
}

/**
 * Reads an SSE byte stream (any chunking, CR/LF/CRLF line ends, multi-line data) and hands on the data of
 * each `message` event. UTF-8 sequences split across chunks are kept whole.
 */
export class SseDataReader {
  readonly #parser: EventSourceParser;
  readonly #decoder = new TextDecoder();
  #lastWasCr = false;

  constructor(onData: (data: string, id: string | undefined) => void, hooks: SseReaderHooks = {}) {
    const { onOther, onId, onRetry } = hooks;
    this.#parser = createParser({
      onEvent: (event: EventSourceMessage) => {
        if (onId && event.id !== undefined && event.id !== '') onId(event.id);
        if (event.event === undefined || event.event === 'message') {
          if (event.data) onData(event.data, event.id);
        } else onOther?.(event.event, event.data, event.id);
      },
      onRetry,
    });
  }

  push(chunk: Uint8Array): void {
    const text = this.#decoder.decode(chunk, { stream: true });
    if (text.length === 0) return;
    this.#lastWasCr = text.charCodeAt(text.length - 1) === 13;
    this.#parser.feed(text);
  }

  /**
   * The stream ended. A final lone CR is a complete line end (the spec allows CR, LF or CRLF), but a
   * streaming parser holds it back in case a LF follows: say that none will, so the last event is not lost.
   */
  end(): void {
    const rest = this.#decoder.decode();
    if (rest) this.#parser.feed(rest);
    if (this.#lastWasCr && !rest) this.#parser.feed('\n');
  }
}
