/**
 * Flow control for readers that pull (async iteration over an HTTP response body): while paused, `gate` is
 * a promise that resume() settles, so a reader awaits it between chunks and the body stops being read
 * (undici then stops reading the socket, and TCP pushes back on the upstream). One check per chunk.
 */
export class FlowGate {
  #gate: Promise<void> | null = null;
  #open: (() => void) | undefined;

  /** Null while flowing; else settles on resume(). */
  get gate(): Promise<void> | null {
    return this.#gate;
  }

  pause(): void {
    this.#gate ??= new Promise<void>((resolve) => (this.#open = resolve));
  }

  /** Also called on close, so that no reader is left waiting. */
  resume(): void {
    const open = this.#open;
    this.#gate = null;
    this.#open = undefined;
    open?.();
  }
}
