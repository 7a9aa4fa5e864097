// Incremental text/event-stream reader for observation: yields each event's data as a
// byte range, bounded per event. Lines are found with native scans that remember where
// the next CR and LF are (one pass per chunk). Nothing becomes a string: a one-line event
// is handed over where it lies in the read that carried it, a line is copied only when
// it spans two reads, and only multi-line data is joined. A line longer than the bound
// is skipped.

import { Buffer } from 'node:buffer';
import { indexOfByte } from '../bytes.js';

const LF = 0x0a;
const CR = 0x0d;
const NEWLINE = Buffer.from('\n');
/** Lines other than data are scanned for their end in JS up to this length, then by indexOf. */
const SHORT_LINE = 24;

function isDataField(b: Buffer, s: number, e: number): boolean {
  return e - s >= 5 && b[s] === 0x64 && b[s + 1] === 0x61 && b[s + 2] === 0x74 && b[s + 3] === 0x61 && b[s + 4] === 0x3a;
}

function isIdField(b: Buffer, s: number, e: number): boolean {
  return e - s >= 3 && b[s] === 0x69 && b[s + 1] === 0x64 && b[s + 2] === 0x3a;
}

/** Receives one event's data: buf[start, end). Valid only during the call. */
export type SseEventHandler = (buf: Buffer, start: number, end: number) => void;

/** Splits an SSE byte stream into event data. */
export class SseReader {
  readonly #limit: number;
  readonly #onEvent: SseEventHandler;
  readonly #trackIds: boolean;
  /** The stream's last event ID (the `id:` field, kept across events as SSE says); tracked only when asked. */
  eventId: string | null = null;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #overflow = false;
  // The event's data lines so far: the first as a range, more as slices to join.
  #first: Buffer | null = null;
  #firstStart = 0;
  #firstEnd = 0;
  #more: Buffer[] | null = null;
  // How much of the above is already copied out of the reads that carried it.
  #firstOwned = false;
  #moreOwned = 0;
  #dataBytes = 0;
  #lastWasCr = false;

  /** `trackIds`: keep `eventId` (the recorder asks; nothing else needs it). */
  constructor(limitBytes: number, onEvent: SseEventHandler, trackIds = false) {
    this.#limit = limitBytes;
    this.#onEvent = onEvent;
    this.#trackIds = trackIds;
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
      let end = start;
      // A line that is not data (a blank line, id:, event:) is short: a loop over its few
      // bytes costs less than a call to indexOf.
      if (chunk[start] !== 0x64) {
        const stop = Math.min(n, start + SHORT_LINE);
        while (end < stop) {
          const c = chunk[end];
          if (c === LF || c === CR) break;
          end++;
        }
      }
      if (end === n || (chunk[end] !== LF && chunk[end] !== CR)) {
        if (lf !== -1 && lf < end) lf = indexOfByte(chunk, LF, end);
        if (cr !== -1 && cr < end) cr = indexOfByte(chunk, CR, end);
        end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
        if (end === -1) {
          this.#keep(chunk, start, n);
          break;
        }
      }
      // The common lines are told apart here, without a call: a blank line ends the event,
      // and a line that is neither data nor (when asked) an id is nothing to read.
      if (this.#pendingBytes !== 0 || this.#overflow) this.#line(chunk, start, end);
      else if (end === start) this.#dispatch();
      else {
        const c = chunk[start];
        if (c === 0x64 || (c === 0x69 && this.#trackIds)) this.#line(chunk, start, end);
      }
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
    // An event still open when the read ends must not pin the read's whole buffer
    // (a stream may idle for hours mid-event): keep copies of its lines instead.
    if (this.#first !== null) this.#copyData();
  }

  #copyData(): void {
    if (!this.#firstOwned) {
      this.#first = Buffer.from(this.#first!.subarray(this.#firstStart, this.#firstEnd));
      this.#firstStart = 0;
      this.#firstEnd = this.#first.length;
      this.#firstOwned = true;
    }
    const more = this.#more;
    if (more === null) return;
    for (let i = this.#moreOwned; i < more.length; i++) more[i] = Buffer.from(more[i]!);
    this.#moreOwned = more.length;
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
        this.#clearData();
        this.#dataBytes = this.#limit + 1;
        return;
      }
      parts.push(chunk.subarray(from, to));
      buf = Buffer.concat(parts);
      s = 0;
      e = buf.length;
    }
    if (e === s) {
      this.#dispatch();
      return;
    }
    if (!isDataField(buf, s, e)) {
      // event:, retry:, comments: not needed; id: only for the recorder.
      if (this.#trackIds && isIdField(buf, s, e)) {
        const id = buf.toString('utf8', buf[s + 3] === 0x20 ? s + 4 : s + 3, e);
        // SSE: an id containing NULL is ignored.
        if (!id.includes('\0')) this.eventId = id;
      }
      return;
    }
    const vs = buf[s + 5] === 0x20 ? s + 6 : s + 5;
    this.#dataBytes += e - vs + (this.#first === null ? 0 : 1);
    if (this.#dataBytes > this.#limit) return;
    // No copy while the read lasts: node never reuses a read's memory.
    if (this.#first === null) {
      this.#first = buf;
      this.#firstStart = vs;
      this.#firstEnd = e;
    } else {
      (this.#more ??= []).push(buf.subarray(vs, e));
    }
  }

  #dispatch(): void {
    const first = this.#first;
    if (first !== null && this.#dataBytes <= this.#limit) {
      const more = this.#more;
      if (more === null) this.#onEvent(first, this.#firstStart, this.#firstEnd);
      else {
        const parts = [first.subarray(this.#firstStart, this.#firstEnd)];
        for (const line of more) parts.push(NEWLINE, line);
        const joined = Buffer.concat(parts);
        this.#onEvent(joined, 0, joined.length);
      }
    }
    this.#clearData();
    this.#dataBytes = 0;
  }

  #clearData(): void {
    this.#first = null;
    this.#more = null;
    this.#firstOwned = false;
    this.#moreOwned = 0;
  }
}
