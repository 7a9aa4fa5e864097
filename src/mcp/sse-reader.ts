// Incremental text/event-stream reader for observation: yields each event's data as a
// byte range, bounded per event. Lines are found with native scans that remember where
// the next CR and LF are (one pass per chunk). Nothing becomes a string: a one-line event
// is handed over where it lies in the read that carried it, a line is copied only when
// it spans two reads, and only multi-line data is joined. A line longer than the bound
// is skipped.
// A stream of one kind of notification repeats each event's field lines and the opening
// of its data byte for byte. When the handler says how much of an event's data makes a
// later one the same, the reader keeps those bytes as a template and checks the next
// events against it a word at a time, instead of walking their lines (see #repeat).

import { Buffer } from 'node:buffer';
import { indexOfByte, memoryOf } from '../bytes.js';
import { PrefixWords, WORD_VIEW_BYTES, WordView, wordsMatch } from '../word-match.js';
import { forgetRead, scanRepeats, scanStop } from './sse-scan.js';

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

/**
 * Receives one event's data: buf[start, end). Valid only during the call. May return how
 * many leading bytes of the data make a later event with the same field lines the same
 * message (0 or nothing: none); the reader then hands such events to the repeat handler.
 */
export type SseEventHandler = (buf: Buffer, start: number, end: number) => number | void;

/** Receives an event whose field lines and first data bytes are those of the last event the event handler returned a length for. */
export type SseRepeatHandler = (buf: Buffer, start: number, end: number) => void;

/**
 * Takes many repeats at once, counted rather than handed over one by one (sse-scan.ts), where
 * the repeat handler would count each alike: when its data, past the bytes `countable()`
 * names, ends with the brace that closes its object.
 */
export interface SseRepeatRun {
  /** How many leading bytes of a repeat's data the count may skip; 0 when repeats are not counted alike now (each then goes to the repeat handler). */
  countable(): number;
  /** Counts `times` repeats, each found as countable() said. */
  count(times: number): void;
}

/** Reads at least this much past an event's start go to the wasm scan: below, the copy costs more than the walk. */
const SCAN_BYTES = 2048;

/**
 * An event to compare the next ones with: its lines before the data value and the first
 * bytes of that value, as two runs of bytes either side of one line starting with `i` (an
 * `id:` line, different in every event and not read unless ids are tracked).
 */
class EventTemplate {
  readonly head: Buffer;
  readonly headWords: PrefixWords | null;
  readonly idLine: boolean;
  /** The id line's bytes but its trailing digits, when long enough to be worth a compare:
   *  a server that numbers its events in one stream repeats them (the SDK's `<stream>_<n>`). */
  readonly idHead: Buffer | null;
  readonly idWords: PrefixWords | null;
  readonly tail: Buffer;
  readonly tailWords: PrefixWords;
  /** Where in `tail` the data value starts. */
  readonly valueAt: number;

  constructor(head: Buffer, idLine: boolean, idHead: Buffer | null, tail: Buffer, valueAt: number) {
    this.head = head;
    this.headWords = head.length === 0 ? null : new PrefixWords(head);
    this.idLine = idLine;
    this.idHead = idHead;
    this.idWords = idHead === null ? null : new PrefixWords(idHead);
    this.tail = tail;
    this.tailWords = new PrefixWords(tail);
    this.valueAt = valueAt;
  }

  /** True when this template is made of these bytes. */
  is(b: Buffer, eventStart: number, idStart: number, idNext: number, valueEnd: number): boolean {
    const head = this.head;
    const tail = this.tail;
    const headEnd = idStart === -1 ? eventStart : idStart;
    const tailStart = idStart === -1 ? eventStart : idNext;
    if (this.idLine !== (idStart !== -1) || head.length !== headEnd - eventStart || tail.length !== valueEnd - tailStart) return false;
    return head.compare(b, eventStart, headEnd) === 0 && tail.compare(b, tailStart, valueEnd) === 0;
  }
}

/** Shorter id heads are walked: a compare would cost what the walk does. */
const MIN_ID_HEAD = 16;

/** The id line at b[start, next) (`next`: the next line's start) without its line break and trailing digits, or null when that is short. */
function idHeadOf(b: Buffer, start: number, next: number): Buffer | null {
  let e = next - 1;
  if (b[e] === LF && e > start && b[e - 1] === CR) e--;
  while (e > start && b[e - 1]! >= 0x30 && b[e - 1]! <= 0x39) e--;
  return e - start < MIN_ID_HEAD ? null : Buffer.from(b.subarray(start, e));
}

/** The template a reader made last (shared: templates are immutable). */
let lastTemplate: EventTemplate | null = null;

// One word view for every reader: reads are handled one at a time, and a view per reader
// would pin the last read's memory (64 KiB) of every stream, idle ones for hours. Shared,
// it pins one read's, and the pieces of a chunked read still share it.
const VIEW = new WordView();
/** The memory of the last small read the view was not pointed at. */
let lastMemory: ArrayBufferLike | null = null;

/**
 * Points the word view at `b` when that pays: `b` is large, lies in the memory the view
 * spans already, or is the second read seen in its memory (a chunked body hands over its
 * chunks, an event each, one by one; a read that carries one event is walked instead).
 */
function worthView(b: Buffer): boolean {
  if (b.length < WORD_VIEW_BYTES) {
    const memory = memoryOf(b);
    if (memory !== VIEW.memory && memory !== lastMemory) {
      lastMemory = memory;
      return false;
    }
  }
  VIEW.see(b);
  return true;
}

/** Splits an SSE byte stream into event data. */
export class SseReader {
  readonly #limit: number;
  readonly #onEvent: SseEventHandler;
  readonly #onRepeat: SseRepeatHandler | null;
  readonly #onRun: SseRepeatRun | null;
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
  // Where the event under way began in the current read (-1: in an earlier one), and its
  // one line starting with `i` (-2: more than one).
  #eventStart = -1;
  #idStart = -1;
  #idNext = -1;
  #template: EventTemplate | null = null;
  /** An event was under way when the last read ended. */
  #open = false;
  // The current read's next LF and CR at or after where a scan last looked (-2: not looked).
  #lf = -2;
  #cr = -2;

  /**
   * `trackIds`: keep `eventId` (the recorder asks; nothing else needs it). `onRepeat`: where
   * events matching the template go; without it (or with ids tracked) every event is read.
   * `onRun`: where runs of them in a large read may be counted at once instead.
   */
  constructor(limitBytes: number, onEvent: SseEventHandler, trackIds = false, onRepeat: SseRepeatHandler | null = null, onRun: SseRepeatRun | null = null) {
    this.#limit = limitBytes;
    this.#onEvent = onEvent;
    this.#trackIds = trackIds;
    this.#onRepeat = trackIds ? null : onRepeat;
    this.#onRun = this.#onRepeat === null ? null : onRun;
  }

  /** Feeds bytes as they pass. */
  push(chunk: Buffer): void {
    const n = chunk.length;
    let start = 0;
    // The LF of a CRLF split across two reads.
    if (this.#lastWasCr && n > 0 && chunk[0] === LF) start = 1;
    this.#lastWasCr = false;
    this.#lf = -2;
    this.#cr = -2;
    this.#eventStart = this.#open ? -1 : start;
    this.#idStart = -1;
    const fast = this.#onRepeat !== null;
    if (this.#onRun !== null) forgetRead();
    while (start < n) {
      if (start === this.#eventStart && fast && this.#template !== null) {
        const lf = this.#lf;
        const cr = this.#cr;
        const after = this.#repeat(chunk, start);
        if (after !== -1) {
          start = after;
          this.#eventStart = after;
          continue;
        }
        // The scans for line ends only look forward: the lines are read again from `start`.
        this.#lf = lf;
        this.#cr = cr;
      }
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
        end = this.#lineEnd(chunk, end);
        if (end === -1) {
          this.#keep(chunk, start, n);
          start = n;
          break;
        }
      }
      let next = end + 1;
      if (chunk[end] === CR) {
        if (next < n) {
          if (chunk[next] === LF) next++;
        } else {
          this.#lastWasCr = true;
        }
      }
      // The common lines are told apart here, without a call: a blank line ends the event,
      // and a line that is neither data nor (when asked) an id is nothing to read.
      if (this.#pendingBytes !== 0 || this.#overflow) this.#line(chunk, start, end);
      else if (end === start) {
        const first = this.#first;
        const valueStart = this.#firstStart;
        const same = this.#dispatch();
        if (fast) this.#learn(chunk, first, valueStart, same);
        this.#eventStart = next;
        this.#idStart = -1;
      } else {
        const c = chunk[start];
        if (c === 0x64 || (c === 0x69 && this.#trackIds)) this.#line(chunk, start, end);
        else if (c === 0x69) {
          // The one line a template may differ in; a second makes the event no template.
          this.#idStart = this.#idStart === -1 ? start : -2;
          this.#idNext = next;
        }
      }
      start = next;
    }
    this.#open = this.#eventStart === -1 || this.#eventStart < n || this.#pendingBytes !== 0 || this.#overflow;
    // An event still open when the read ends must not pin the read's whole buffer
    // (a stream may idle for hours mid-event): keep copies of its lines instead.
    if (this.#first !== null) this.#copyData();
  }

  /** The first LF or CR in the current read at or after `from`, or -1; each byte is scanned for each at most once per read. */
  #lineEnd(b: Buffer, from: number): number {
    let lf = this.#lf;
    let cr = this.#cr;
    if (lf !== -1 && lf < from) this.#lf = lf = indexOfByte(b, LF, from);
    if (cr !== -1 && cr < from) this.#cr = cr = indexOfByte(b, CR, from);
    return lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
  }

  /**
   * The event at `start` when it is the template's again, whole in this read and ended by a
   * blank line right after its one data line: handed to the repeat handler, and where the
   * next event starts is returned. -1 (nothing done) when it is anything else.
   */
  #repeat(b: Buffer, start: number): number {
    const t = this.#template!;
    const run = this.#onRun;
    // A large read: its run of repeats from here is counted in one call, where each would
    // be counted alike. The event it stops at is walked below.
    if (run !== null && b.length - start >= SCAN_BYTES && b.length >= WORD_VIEW_BYTES) {
      const same = run.countable();
      if (same > 0) {
        const count = scanRepeats(b, start, t, same, this.#limit);
        if (count > 0) {
          run.count(count);
          return scanStop();
        }
      }
    }
    const view = VIEW;
    if (view.of !== b && !worthView(b)) return -1;
    const n = b.length;
    let at = start;
    // Each compare must end inside this read: the view spans all of its memory.
    if (t.headWords !== null) {
      if (at + t.head.length >= n || wordsMatch(view, at, t.headWords) !== 1) return -1;
      at += t.head.length;
    }
    if (t.idLine) {
      if (at >= n || b[at] !== 0x69) return -1;
      let e = at + 1;
      // The id's repeated start holds no line break: the walk for its end starts after it.
      if (t.idWords !== null && at + t.idHead!.length < n && wordsMatch(view, at, t.idWords) === 1) e = at + t.idHead!.length;
      const stop = Math.min(n, e + SHORT_LINE);
      while (e < stop && b[e] !== LF && b[e] !== CR) e++;
      if (e === stop) e = this.#lineEnd(b, e);
      if (e === -1) return -1;
      at = e + 1;
      if (b[e] === CR) {
        if (at >= n) return -1;
        if (b[at] === LF) at++;
      }
    }
    if (at + t.tail.length >= n || wordsMatch(view, at, t.tailWords) !== 1) return -1;
    const valueStart = at + t.valueAt;
    const e = this.#lineEnd(b, at + t.tail.length);
    if (e === -1 || e - valueStart > this.#limit) return -1;
    let next = e + 1;
    if (b[e] === CR && next < n && b[next] === LF) next++;
    // The blank line that ends the event (a CR last in the read is left to push()).
    if (next >= n) return -1;
    const c = b[next];
    if (c === LF) next++;
    else if (c !== CR || next + 1 >= n) return -1;
    else next += b[next + 1] === LF ? 2 : 1;
    this.#onRepeat!(b, valueStart, e);
    return next;
  }

  /** After an event of this read was handed over: keeps it as the template when the handler named a repeatable prefix (`same` bytes of the value at `valueStart`), and drops the template otherwise. */
  #learn(b: Buffer, first: Buffer | null, valueStart: number, same: number): void {
    const eventStart = this.#eventStart;
    const idStart = this.#idStart;
    if (same <= 0 || first !== b || eventStart < 0 || idStart === -2 || idStart > valueStart) {
      this.#template = null;
      return;
    }
    const idNext = this.#idNext;
    const valueEnd = valueStart + same;
    const t = this.#template;
    if (t !== null && t.is(b, eventStart, idStart, idNext, valueEnd)) return;
    // A stream is one response; the next response of the same server most likely repeats its template.
    if (lastTemplate !== null && lastTemplate.is(b, eventStart, idStart, idNext, valueEnd)) {
      this.#template = lastTemplate;
      return;
    }
    const tailStart = idStart === -1 ? eventStart : idNext;
    const head = Buffer.from(b.subarray(eventStart, idStart === -1 ? eventStart : idStart));
    this.#template = lastTemplate = new EventTemplate(head, idStart !== -1, idStart === -1 ? null : idHeadOf(b, idStart, idNext),
      Buffer.from(b.subarray(tailStart, valueEnd)), valueStart - tailStart);
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
      // Not read from where it lies in this read: no template to learn, and the old one may no longer be the last event's.
      this.#template = null;
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

  /** Hands the event's data over; returns what the handler said of a one-line event's repeatable prefix (0: nothing). */
  #dispatch(): number {
    const first = this.#first;
    let same = 0;
    if (first !== null && this.#dataBytes <= this.#limit) {
      const more = this.#more;
      if (more === null) {
        const said = this.#onEvent(first, this.#firstStart, this.#firstEnd);
        if (typeof said === 'number' && said <= this.#firstEnd - this.#firstStart) same = said;
      } else {
        const parts = [first.subarray(this.#firstStart, this.#firstEnd)];
        for (const line of more) parts.push(NEWLINE, line);
        const joined = Buffer.concat(parts);
        this.#onEvent(joined, 0, joined.length);
      }
    }
    this.#clearData();
    this.#dataBytes = 0;
    return same;
  }

  #clearData(): void {
    this.#first = null;
    this.#more = null;
    this.#firstOwned = false;
    this.#moreOwned = 0;
  }
}
