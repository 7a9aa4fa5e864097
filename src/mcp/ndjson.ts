// Newline-delimited JSON-RPC framing for observing stdio traffic. The bytes are
// forwarded elsewhere as they arrive; this only finds message boundaries on the side,
// keeping at most `limit` bytes of one line. A longer line is reported, not buffered.

const LF = 0x0a;

/** Splits a byte stream into lines for observation, bounded per line. */
export class NdjsonFramer {
  readonly #limit: number;
  readonly #onLine: (line: Buffer) => void;
  readonly #onOversize: (bytes: number) => void;
  #parts: Buffer[] = [];
  #bytes = 0;
  #overflow = false;

  constructor(limitBytes: number, onLine: (line: Buffer) => void, onOversize: (bytes: number) => void) {
    this.#limit = limitBytes;
    this.#onLine = onLine;
    this.#onOversize = onOversize;
  }

  /** Feeds bytes as they pass. */
  push(chunk: Buffer): void {
    let start = 0;
    let lf = chunk.indexOf(LF, start);
    while (lf !== -1) {
      this.#add(chunk, start, lf);
      this.#emit();
      start = lf + 1;
      lf = chunk.indexOf(LF, start);
    }
    if (start < chunk.length) this.#add(chunk, start, chunk.length);
  }

  /** The stream ended: a last line without a newline is still a message. */
  end(): void {
    if (this.#bytes > 0) this.#emit();
  }

  #add(chunk: Buffer, from: number, to: number): void {
    if (to === from) return;
    this.#bytes += to - from;
    if (this.#overflow) return;
    if (this.#bytes > this.#limit) {
      this.#overflow = true;
      this.#parts = [];
      return;
    }
    this.#parts.push(Buffer.from(chunk.subarray(from, to)));
  }

  #emit(): void {
    if (this.#overflow) this.#onOversize(this.#bytes);
    else if (this.#bytes > 0) this.#onLine(this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts));
    this.#parts = [];
    this.#bytes = 0;
    this.#overflow = false;
  }
}
