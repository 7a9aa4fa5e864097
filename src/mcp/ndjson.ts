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

/** What a LineSplitter does with a line longer than its limit. */
export interface OversizeHandler {
  /** The line passed the limit: `head` is what was gathered; return true to pass it on in parts, false to drop it. */
  start(head: Buffer): boolean;
  /** More of a line being passed on. */
  part(bytes: Buffer): void;
  /** The oversize line ended (passed or dropped). */
  end(passed: boolean): void;
}

/** Splits a byte stream into whole lines (without the LF), each up to `limit` bytes; for
 *  the held side of forward stdio, where a line is judged before it is written. */
export class LineSplitter {
  readonly #limit: number;
  readonly #onLine: (line: Buffer) => void;
  readonly #oversize: OversizeHandler;
  #parts: Buffer[] = [];
  #bytes = 0;
  /** 0: gathering; 1: passing an oversize line on; 2: dropping one. */
  #mode = 0;

  constructor(limitBytes: number, onLine: (line: Buffer) => void, oversize: OversizeHandler) {
    this.#limit = limitBytes;
    this.#onLine = onLine;
    this.#oversize = oversize;
  }

  /** Feeds bytes as they arrive. */
  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      const end = lf === -1 ? chunk.length : lf;
      this.#add(chunk.subarray(start, end));
      if (lf === -1) return;
      this.#lineEnd();
      start = lf + 1;
    }
  }

  /** The stream ended: a last line without a newline is still a line. */
  end(): void {
    if (this.#bytes > 0 || this.#mode !== 0) this.#lineEnd();
  }

  #add(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.#mode === 1) return this.#oversize.part(bytes);
    if (this.#mode === 2) return;
    this.#bytes += bytes.length;
    // Our own copy: the chunk's memory is the caller's.
    this.#parts.push(Buffer.from(bytes));
    if (this.#bytes > this.#limit) {
      const head = Buffer.concat(this.#parts);
      this.#parts = [];
      this.#bytes = 0;
      this.#mode = this.#oversize.start(head) ? 1 : 2;
    }
  }

  #lineEnd(): void {
    if (this.#mode !== 0) {
      const passed = this.#mode === 1;
      this.#mode = 0;
      this.#oversize.end(passed);
      return;
    }
    const line = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
    this.#parts = [];
    this.#bytes = 0;
    this.#onLine(line);
  }
}
