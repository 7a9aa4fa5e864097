// Chunked bodies pass through as received, less what the next hop could read differently
// than llhttp did: chunk extensions and trailer fields are dropped (docs/reference.md "forward http":
// they never reach the other side as received, and a trailer never carries a framing
// header). llhttp has already validated the framing; this only finds those bytes. Chunk
// data is skipped by count, so the cost is a few byte reads per chunk, and a body without
// extensions or trailers goes out as the very buffers that came in. An observer that reads
// the body (the MCP inspector) is handed the chunk data alone, without the framing.

import { Buffer } from 'node:buffer';
import { copyRange, view } from '../bytes.js';

const CR = 0x0d;
const LF = 0x0a;

// States, in the order a chunk is read.
const SIZE = 0; // hex digits of a chunk size
const EXT = 1; // after the size, up to CR: extensions (dropped)
const SIZE_LF = 2; // CR of the size line seen
const DATA = 3; // chunk data, skipped by count
const DATA_CR = 4;
const DATA_LF = 5;
const LINE = 6; // start of a trailer line, or the final empty line
const TRAILER = 7; // inside a trailer field line (dropped), up to its LF
const END_LF = 8; // CR of the final empty line seen
const DONE = 9;

/** Value of a hex digit byte, -1 for any other byte. */
const HEX = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let c = 0; c < 10; c++) t[0x30 + c] = c;
  for (let c = 0; c < 6; c++) {
    t[0x41 + c] = 10 + c;
    t[0x61 + c] = 10 + c;
  }
  return t;
})();

/** Rewrites one chunked message; a new filter for each message. */
export class ChunkedFilter {
  #state = SIZE;
  #size = 0;
  #remaining = 0;
  /** Kept [start, end) pairs of the current push; null until something is dropped. */
  #keep: number[] | null = null;
  #keepStart = 0;
  #dropping = false;
  readonly #onData: ((data: Buffer) => void) | null;

  /** `onData` (optional) sees each run of chunk data, without framing, as it passes. */
  constructor(onData: ((data: Buffer) => void) | null = null) {
    this.#onData = onData;
  }

  /** True between chunks: everything pushed so far ends a whole chunk (a new one may be written after it). */
  get atChunkStart(): boolean {
    return this.#state === SIZE;
  }

  /** True once the last chunk and the trailer section have been read. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /** The bytes of `buf` to forward: `buf` itself when nothing in it is dropped. */
  push(buf: Buffer): Buffer {
    this.#keep = null;
    this.#keepStart = 0;
    if (this.#dropping) this.#keep = [];
    const len = buf.length;
    const onData = this.#onData;
    let i = 0;
    while (i < len) {
      const state = this.#state;
      if (state === SIZE && this.#size === 0) {
        // Fast path: a whole plain chunk (size CRLF data CRLF) inside this read.
        let j = i;
        let size = 0;
        let d: number;
        while (j < len && (d = HEX[buf[j]!]!) >= 0) {
          size = size * 16 + d;
          j++;
        }
        const start = j + 2;
        const end = start + size;
        if (size > 0 && end + 2 <= len && buf[j] === CR && buf[j + 1] === LF && buf[end] === CR && buf[end + 1] === LF) {
          if (onData !== null) onData(view(buf, start, end));
          i = end + 2;
          continue;
        }
      }
      if (state === DATA) {
        const n = Math.min(this.#remaining, len - i);
        if (onData !== null && n > 0) onData(view(buf, i, i + n));
        this.#remaining -= n;
        i += n;
        if (this.#remaining === 0) this.#state = DATA_CR;
        continue;
      }
      const c = buf[i]!;
      switch (state) {
        case SIZE: {
          const d = HEX[c]!;
          if (d >= 0) this.#size = this.#size * 16 + d;
          else if (c === CR) this.#state = SIZE_LF;
          else {
            this.#state = EXT;
            this.#drop(i);
          }
          break;
        }
        case EXT:
          if (c === CR) {
            this.#keepFrom(i);
            this.#state = SIZE_LF;
          }
          break;
        case SIZE_LF:
          this.#remaining = this.#size;
          this.#state = this.#size === 0 ? LINE : DATA;
          this.#size = 0;
          break;
        case DATA_CR:
          this.#state = DATA_LF;
          break;
        case DATA_LF:
          this.#state = SIZE;
          break;
        case LINE:
          if (c === CR) this.#state = END_LF;
          else {
            this.#state = TRAILER;
            this.#drop(i);
          }
          break;
        case TRAILER:
          if (c === LF) {
            this.#keepFrom(i + 1);
            this.#state = LINE;
          }
          break;
        case END_LF:
          this.#state = DONE;
          break;
        default:
          // Bytes after the message are not this filter's: llhttp stops before them.
          i = len;
          continue;
      }
      i++;
    }
    const keep = this.#keep;
    if (keep === null) return buf;
    if (!this.#dropping) keep.push(this.#keepStart, len);
    let total = 0;
    for (let k = 0; k < keep.length; k += 2) total += keep[k + 1]! - keep[k]!;
    const out = Buffer.allocUnsafe(total);
    let pos = 0;
    for (let k = 0; k < keep.length; k += 2) {
      copyRange(out, buf, keep[k]!, keep[k + 1]!, pos);
      pos += keep[k + 1]! - keep[k]!;
    }
    return out;
  }

  #drop(at: number): void {
    (this.#keep ??= []).push(this.#keepStart, at);
    this.#dropping = true;
  }

  #keepFrom(at: number): void {
    this.#keepStart = at;
    this.#dropping = false;
  }
}
