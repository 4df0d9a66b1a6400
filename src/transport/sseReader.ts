import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';

/**
 * Reads an SSE byte stream (any chunking, CR/LF/CRLF line ends, multi-line data) and hands on the data of
 * each `message` event. UTF-8 sequences split across chunks are kept whole.
 */
export class SseDataReader {
  readonly #parser: EventSourceParser;
  readonly #decoder = new TextDecoder();
  #lastWasCr = false;

  constructor(onData: (data: string, id: string | undefined) => void) {
    this.#parser = createParser({
      onEvent: (event: EventSourceMessage) => {
        if ((event.event === undefined || event.event === 'message') && event.data)
          onData(event.data, event.id);
      },
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
