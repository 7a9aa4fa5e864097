// Incremental text/event-stream reader for observation: yields each event's data,
// bounded per event. Lines are found with native scans that remember where the next CR
// and LF are (one pass per chunk); only `data:` lines become strings, and a line is
// copied only when it spans two reads. A line longer than the bound is skipped.

const LF = 0x0a;
const CR = 0x0d;

function isDataField(b: Buffer, s: number, e: number): boolean {
  return e - s >= 5 && b[s] === 0x64 && b[s + 1] === 0x61 && b[s + 2] === 0x74 && b[s + 3] === 0x61 && b[s + 4] === 0x3a;
}

/** Splits an SSE byte stream into event data strings. */
export class SseReader {
  readonly #limit: number;
  readonly #onEvent: (data: string) => void;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
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
    const n = chunk.length;
    let start = 0;
    // The LF of a CRLF split across two reads.
    if (this.#lastWasCr && n > 0 && chunk[0] === LF) start = 1;
    this.#lastWasCr = false;
    let lf = -2;
    let cr = -2;
    while (start < n) {
      if (lf !== -1 && lf < start) lf = chunk.indexOf(LF, start);
      if (cr !== -1 && cr < start) cr = chunk.indexOf(CR, start);
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (end === -1) {
        this.#keep(chunk, start, n);
        return;
      }
      this.#line(chunk, start, end);
      let next = end + 1;
      if (chunk[end] === CR) {
        if (next < n) {
          if (chunk[next] === LF) next++;
        } else {
          this.#lastWasCr = true;
        }
      }
      start = next;
    }
  }

  #keep(chunk: Buffer, from: number, to: number): void {
    if (this.#overflow) return;
    this.#pendingBytes += to - from;
    if (this.#pendingBytes > this.#limit) {
      this.#overflow = true;
      this.#pending = [];
      return;
    }
    // A copy: this part of the line outlives the read that carried it.
    this.#pending.push(Buffer.from(chunk.subarray(from, to)));
  }

  #line(chunk: Buffer, from: number, to: number): void {
    let buf = chunk;
    let s = from;
    let e = to;
    if (this.#overflow || this.#pendingBytes > 0) {
      const overflow = this.#overflow || this.#pendingBytes + (to - from) > this.#limit;
      const parts = this.#pending;
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#overflow = false;
      if (overflow) {
        // An oversized line spoils its event: drop what was gathered and what follows.
        this.#data = [];
        this.#dataBytes = this.#limit + 1;
        return;
      }
      parts.push(chunk.subarray(from, to));
      buf = Buffer.concat(parts);
      s = 0;
      e = buf.length;
    }
    if (e === s) {
      if (this.#data.length > 0 && this.#dataBytes <= this.#limit) this.#onEvent(this.#data.length === 1 ? this.#data[0]! : this.#data.join('\n'));
      this.#data = [];
      this.#dataBytes = 0;
      return;
    }
    if (!isDataField(buf, s, e)) return; // event:, id:, retry:, comments: not needed
    const vs = buf[s + 5] === 0x20 ? s + 6 : s + 5;
    this.#dataBytes += e - vs;
    if (this.#dataBytes <= this.#limit) this.#data.push(buf.toString('utf8', vs, e));
  }
}
