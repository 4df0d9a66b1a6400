import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';

/**
 * Reads an SSE byte stream (any chunking, CR/LF/CRLF line ends, multi-line data) and hands on the data of
 * each `message` event. UTF-8 sequences split across chunks are kept whole.
 */
export class SseDataReader {
  readonly #parser: EventSourceParser;
  readonly #decoder = new TextDecoder();

  constructor(onData: (data: string, id: string | undefined) => void) {
    this.#parser = createParser({
      onEvent: (event: EventSourceMessage) => {
        if ((event.event === undefined || event.event === 'message') && event.data)
          onData(event.data, event.id);
      },
    });
  }

  push(chunk: Uint8Array): void {
    this.#parser.feed(this.#decoder.decode(chunk, { stream: true }));
  }

  /** The stream ended: parse what is pending (a last event whose final line end was a lone CR). */
  end(): void {
    this.#parser.feed(this.#decoder.decode());
    this.#parser.reset({ consume: true });
  }
}
