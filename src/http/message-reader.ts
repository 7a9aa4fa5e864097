// The head and body readers the corridor uses in both directions. llhttp (the framer)
// says where a message's head and body end; these keep the bytes of a head that came in
// pieces and split a chunk into body and what follows. Results are left in fields rather
// than returned as objects: the body reader runs once per chunk on the hot path.

import { Buffer } from 'node:buffer';
import { view } from '../bytes.js';
import { FRAME_END, FRAME_ERROR, type Framer } from './framer.js';
import { findHeadEnd, leadingEmptyLines } from './head.js';

const EMPTY = Buffer.alloc(0);

/** complete(): the head lies at `all[start, end)`. */
export const HEAD_DONE = 0;
/** complete(): the framer saw a head end that the bytes do not hold (CRLFCRLF). */
export const HEAD_NO_END = 1;
/** complete() or more(): the head is larger than the limit. */
export const HEAD_TOO_LARGE = 2;

/** Gathers one message head across reads, up to a size limit. */
export class HeadReader {
  readonly #max: number;
  /** Requests may start with empty lines (RFC 9112 §2.2); they do not count toward the limit. */
  readonly #skipEmptyLines: boolean;
  #buf: Buffer | null = null;
  /** The bytes that hold the whole head: the last chunk, or the pieces joined. */
  all: Buffer = EMPTY;
  /** Where the head starts in `all`. */
  start = 0;
  /** Where the head ends in `all` (after its CRLFCRLF). */
  end = 0;
  /** Where the body starts in the chunk that completed the head. */
  bodyStart = 0;

  constructor(max: number, skipEmptyLines: boolean) {
    this.#max = max;
    this.#skipEmptyLines = skipEmptyLines;
  }

  /** True while part of a head is kept. */
  get pending(): boolean {
    return this.#buf !== null;
  }

  /** Keeps a chunk of a head not yet complete; HEAD_TOO_LARGE when it grew past the limit, else HEAD_DONE. */
  more(chunk: Buffer): number {
    const buf = this.#buf === null ? chunk : Buffer.concat([this.#buf, chunk]);
    if (buf.length - (this.#skipEmptyLines ? leadingEmptyLines(buf) : 0) > this.#max) return HEAD_TOO_LARGE;
    this.#buf = buf;
    return HEAD_DONE;
  }

  /** The framer found the end of the head in `chunk`: locates it (`all`, `start`, `end`, `bodyStart`). */
  complete(chunk: Buffer): number {
    const prev = this.#buf === null ? 0 : this.#buf.length;
    const all = this.#buf === null ? chunk : Buffer.concat([this.#buf, chunk]);
    this.#buf = null;
    const skip = this.#skipEmptyLines ? leadingEmptyLines(all) : 0;
    const end = findHeadEnd(all, Math.max(skip, prev - 3));
    if (end === -1) return HEAD_NO_END;
    if (end - skip > this.#max) return HEAD_TOO_LARGE;
    this.all = all;
    this.start = skip;
    this.end = end;
    this.bodyStart = end - prev;
    return HEAD_DONE;
  }

  /** Forgets a partial head and the last one located. */
  reset(): void {
    this.#buf = null;
    this.all = EMPTY;
  }
}

/** read(): the chunk was all body; more is due. */
export const BODY_MORE = 0;
/** read(): the body ended in this chunk; `rest` holds what followed it, if anything. */
export const BODY_END = 1;
/** read(): the framer refused the body (see its errorReason). */
export const BODY_ERROR = 2;

/** Splits chunks into one message's body and what follows it. */
export class BodyReader {
  /** Bytes still due on a Content-Length body, counted here instead of by llhttp (no copy
   *  into wasm memory per chunk); -1 when the framer delimits the body (chunked, EOF). */
  remaining = -1;
  /** The body bytes of the last chunk read. */
  body: Buffer = EMPTY;
  /** What followed the body's end in the last chunk, or null. */
  rest: Buffer | null = null;

  /** Starts a body: `length` bytes are due, or -1 when the framer delimits it. */
  expect(length: number): void {
    this.remaining = length;
  }

  /** Reads one chunk of the body: BODY_MORE, BODY_END or BODY_ERROR. */
  read(chunk: Buffer, framer: Framer): number {
    const remaining = this.remaining;
    if (remaining >= 0) {
      if (chunk.length < remaining) {
        this.remaining = remaining - chunk.length;
        this.body = chunk;
        this.rest = null;
        return BODY_MORE;
      }
      this.remaining = -1;
      this.body = remaining === chunk.length ? chunk : view(chunk, 0, remaining);
      this.rest = remaining < chunk.length ? view(chunk, remaining, chunk.length) : null;
      return BODY_END;
    }
    const ret = framer.execute(chunk);
    if (ret === FRAME_ERROR) return BODY_ERROR;
    if (ret !== FRAME_END) {
      this.body = chunk;
      this.rest = null;
      return BODY_MORE;
    }
    const at = framer.offset;
    this.body = at === chunk.length ? chunk : view(chunk, 0, at);
    this.rest = at < chunk.length ? view(chunk, at, chunk.length) : null;
    return BODY_END;
  }

  /** Drops the references to the last chunk. */
  reset(): void {
    this.remaining = -1;
    this.body = EMPTY;
    this.rest = null;
  }
}
