// Incremental text/event-stream reader for observation: yields each event's data,
// bounded per event. A line longer than the bound is skipped, never buffered whole.

const LF = 0x0a;
const CR = 0x0d;

/** Splits an SSE byte stream into event data strings. */
export class SseReader {
  readonly #limit: number;
  readonly #onEvent: (data: string) => void;
  #line: Buffer[] = [];
  #lineBytes = 0;
  #overflow = false;
  #data: string[] = [];
  #dataBytes = 0;
  #lastWasCr = false;

  constructor(limitBytes: number, onEvent: (data: string) => void) {
    this.#limit = limitBytes;
    this.#onEvent = onEvent;
  }

  /** Feeds bytes as they pass. */
  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      // Find the next line end (LF, CR or CRLF per the SSE spec) with native scans.
      let lf = chunk.indexOf(LF, start);
      const cr = chunk.indexOf(CR, start);
      let end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (end === -1) {
        this.#append(chunk.subarray(start));
        return;
      }
      if (this.#lastWasCr && end === start && chunk[end] === LF) {
        // the LF of a CRLF split across chunks
        this.#lastWasCr = false;
        start = end + 1;
        continue;
      }
      this.#append(chunk.subarray(start, end));
      this.#lastWasCr = chunk[end] === CR;
      lf = end + 1;
      if (this.#lastWasCr && lf < chunk.length && chunk[lf] === LF) {
        this.#lastWasCr = false;
        lf++;
      }
      this.#endLine();
      start = lf;
      if (start >= chunk.length) return;
    }
  }

  #append(part: Buffer): void {
    if (part.length === 0 || this.#overflow) return;
    this.#lineBytes += part.length;
    if (this.#lineBytes > this.#limit) {
      this.#overflow = true;
      this.#line = [];
      return;
    }
    this.#line.push(Buffer.from(part));
  }

  #endLine(): void {
    const overflow = this.#overflow;
    const line = overflow ? '' : Buffer.concat(this.#line).toString('utf8');
    this.#line = [];
    this.#lineBytes = 0;
    this.#overflow = false;
    if (overflow) {
      this.#data = [];
      this.#dataBytes = this.#limit + 1;
      return;
    }
    if (line === '') {
      if (this.#data.length > 0 && this.#dataBytes <= this.#limit) this.#onEvent(this.#data.join('\n'));
      this.#data = [];
      this.#dataBytes = 0;
      return;
    }
    if (line.startsWith('data:')) {
      const value = line.charCodeAt(5) === 0x20 ? line.slice(6) : line.slice(5);
      this.#dataBytes += value.length;
      if (this.#dataBytes <= this.#limit) this.#data.push(value);
    }
  }
}
