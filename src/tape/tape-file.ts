// One tape file's writes: lines are copied into large slabs (no allocation per line, so
// recording adds no garbage per message) and go to disk in one writev per tape every few
// milliseconds, off the traffic's path. Every queued byte counts against one budget of
// the process (--record-queue): a line that does not fit is refused (the recorder counts
// it dropped) rather than waited for, so a slow disk never stalls traffic. The file is
// opened non-blocking, so a pipe nobody reads makes writes wait on a timer instead of
// holding one of libuv's few threads.

import { Buffer } from 'node:buffer';
import fs from 'node:fs';
import { copyInto, indexOfByte } from '../bytes.js';

/** Bytes queued for the disk by every tape of a process, against one limit. */
export class WriteBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

/** Why a tape stopped writing: the file could not be opened or written. */
export type TapeFailure = NodeJS.ErrnoException;

/** Opens a tape's file: the fd (non-blocking) and its path, or the error. */
export type TapeOpener = (candidates: readonly string[], done: (err: TapeFailure | null, fd: number, file: string) => void) => void;

const OPEN_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_APPEND | fs.constants.O_NONBLOCK;

/** Creates the file under `candidates[0]`, or the next name when one exists: a tape never writes into another's file. */
export const createTapeFile: TapeOpener = (candidates, done) => {
  const attempt = (i: number): void => {
    fs.open(candidates[i]!, OPEN_FLAGS, 0o600, (err, fd) => {
      if (err !== null && err.code === 'EEXIST' && i + 1 < candidates.length) return attempt(i + 1);
      done(err, fd, candidates[i]!);
    });
  };
  attempt(0);
};

const RETRY_MS = 25;
/** Lines gather this long before a write (one writev per tape per interval, not per message)... */
const GATHER_MS = 20;
/** ...unless this many bytes are waiting. */
const GATHER_BYTES = 64 * 1024;
const SLAB_BYTES = 128 * 1024;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;

/**
 * Copies a JSON message into `to` at `at` as one line: its line breaks become spaces (JSON
 * allows them only between tokens, where a space says the same). Returns the end.
 */
export function copyOneLine(body: Buffer, to: Buffer, at: number): number {
  // TypedArray#set, not Buffer#copy: the same copy without Node's argument checks and a view per call.
  copyInto(to, body, at);
  // Searched in the body, which ends where the line does (the slab goes on).
  for (let i = indexOfByte(body, LF, 0); i !== -1; i = indexOfByte(body, LF, i + 1)) to[at + i] = SPACE;
  for (let i = indexOfByte(body, CR, 0); i !== -1; i = indexOfByte(body, CR, i + 1)) to[at + i] = SPACE;
  return at + body.length;
}

/** A sealed part of a slab waiting for the disk, and how many lines it holds. */
interface Chunk {
  buf: Buffer;
  lines: number;
}

/** The queued, bounded writer of one tape file. */
export class TapeFile {
  readonly #budget: WriteBudget;
  readonly #onFail: (err: TapeFailure, lost: number) => void;
  #fd: number | null = null;
  /** Sealed chunks, in file order. */
  #queue: Chunk[] = [];
  // The slab lines are copied into; [#slabStart, #slabEnd) is written but not yet sealed.
  #slab: Buffer | null = null;
  #slabStart = 0;
  #slabEnd = 0;
  #slabLines = 0;
  #reserved = 0;
  /** Bytes waiting (sealed and not). */
  #queued = 0;
  #writing = false;
  /** Lines of the write in flight: not on the disk until its callback says so. */
  #inflightLines = 0;
  #scheduled = false;
  #gather: NodeJS.Timeout | null = null;
  #retry: NodeJS.Timeout | null = null;
  #failed = false;
  #ending: (() => void) | null = null;
  #ended: Promise<void> | null = null;
  /** The file's path once opened. */
  path: string | null = null;

  /** `onFail` hears the first error, with how many queued lines it lost; the tape writes nothing after it. */
  constructor(budget: WriteBudget, onFail: (err: TapeFailure, lost: number) => void) {
    this.#budget = budget;
    this.#onFail = onFail;
  }

  /** True once a write or the open failed. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Queues one whole line of text; false when the budget has no room (or the tape failed or is ending): the caller counts it dropped. */
  line(text: string): boolean {
    const n = Buffer.byteLength(text);
    const slab = this.reserve(n);
    if (slab === null) return false;
    slab.write(text, this.#slabEnd);
    this.commit();
    return true;
  }

  /** Queues a line that the budget may not refuse (a tape's first and last lines); `first` puts it before every other. */
  lineAlways(text: string, first = false): void {
    if (this.#failed) return;
    const n = Buffer.byteLength(text);
    this.#budget.used += n;
    if (first) {
      this.#seal();
      this.#queue.unshift({ buf: Buffer.from(text, 'utf8'), lines: 1 });
      this.#queued += n;
      this.#schedule();
    } else {
      this.#room(n).write(text, this.#slabEnd);
      this.#reserved = n;
      this.commit();
    }
  }

  /**
   * Reserves `n` bytes for one line: returns the slab to write it into from `cursor` on
   * (then call commit()), or null when the budget has no room (or the tape failed or is
   * ending): the caller counts the line dropped. For the recorder's hot path, which
   * writes a line in pieces without building it as a string first.
   */
  reserve(n: number): Buffer | null {
    if (this.#failed || this.#ending !== null) return null;
    const budget = this.#budget;
    if (budget.used + n > budget.limit) return null;
    budget.used += n;
    this.#reserved = n;
    return this.#room(n);
  }

  /** Where the reserved line starts in the slab reserve() returned. */
  get cursor(): number {
    return this.#slabEnd;
  }

  /** The reserved line is written: `n` bytes of it (at most what was reserved; the rest goes back to the budget). */
  commit(n = this.#reserved): void {
    this.#budget.used -= this.#reserved - n;
    this.#reserved = 0;
    this.#slabEnd += n;
    this.#slabLines++;
    this.#queued += n;
    this.#schedule();
  }

  /** A slab with `n` bytes free at #slabEnd. */
  #room(n: number): Buffer {
    let slab = this.#slab;
    if (slab === null || slab.length - this.#slabEnd < n) {
      this.#seal();
      slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, n));
      this.#slab = slab;
      this.#slabStart = 0;
      this.#slabEnd = 0;
    }
    return slab;
  }

  /** Moves the slab's unsealed lines to the queue. */
  #seal(): void {
    if (this.#slab === null || this.#slabEnd === this.#slabStart) return;
    this.#queue.push({ buf: this.#slab.subarray(this.#slabStart, this.#slabEnd), lines: this.#slabLines });
    this.#slabStart = this.#slabEnd;
    this.#slabLines = 0;
  }

  /** Opens the file through `opener` (by default: creates it under the first free name) and starts writing. */
  open(candidates: readonly string[], opener: TapeOpener = createTapeFile): void {
    opener(candidates, (err, fd, file) => {
      if (err !== null) return this.#fail(err);
      if (this.#failed) {
        fs.close(fd, () => {});
        return;
      }
      this.#fd = fd;
      this.path = file;
      this.#schedule();
    });
  }

  /** Flushes what is queued and closes the file; resolves when done (or when it failed). */
  end(): Promise<void> {
    this.#ended ??= new Promise<void>((resolve) => {
      this.#ending = resolve;
      // What is gathering goes now.
      this.#schedule();
      this.#maybeClose();
    });
    return this.#ended;
  }

  /** Gives up on what is still queued (a shutdown deadline passed): returns how many lines were lost. */
  abandon(): number {
    // A write still in flight at the deadline has not been taken either (a full pipe answers it EAGAIN).
    const lost = this.#dropAll() + (this.#writing ? this.#inflightLines : 0);
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    this.#failed = true;
    if (!this.#writing) this.#closeFd();
    return lost;
  }

  /** Forgets every waiting line (releasing the budget); returns how many there were. */
  #dropAll(): number {
    this.#seal();
    let lines = 0;
    for (const c of this.#queue) lines += c.lines;
    this.#budget.used -= this.#queued;
    this.#queue = [];
    this.#queued = 0;
    this.#slab = null;
    this.#slabStart = this.#slabEnd = 0;
    if (this.#gather !== null) clearTimeout(this.#gather);
    this.#gather = null;
    return lines;
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing || this.#fd === null || this.#retry !== null) return;
    // A write costs a trip through libuv's thread pool: lines gather for a moment first,
    // unless many are waiting or the tape is ending.
    if (this.#ending === null && this.#queued < GATHER_BYTES) {
      this.#gather ??= setTimeout(this.#flushSoon, GATHER_MS);
      return;
    }
    this.#flushSoon();
  }

  readonly #flushSoon = (): void => {
    if (this.#gather !== null) {
      clearTimeout(this.#gather);
      this.#gather = null;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flush);
  };

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#writing || this.#fd === null || this.#failed) return;
    this.#seal();
    if (this.#queue.length === 0) {
      this.#maybeClose();
      return;
    }
    const batch = this.#queue;
    this.#queue = [];
    this.#writing = true;
    let lines = 0;
    for (const c of batch) lines += c.lines;
    this.#inflightLines = lines;
    fs.writev(this.#fd, batch.map((c) => c.buf), (err, written) => {
      this.#writing = false;
      this.#inflightLines = 0;
      if (this.#failed) {
        // Abandoned mid-write: the fd is closed only now, so its number cannot be reused under the write.
        this.#closeFd(this.#ending ?? undefined);
        return;
      }
      if (err !== null && err.code !== 'EAGAIN') {
        this.#queue = batch.concat(this.#queue);
        this.#fail(err);
        return;
      }
      const rest = this.#consumed(batch, err === null ? written : 0);
      if (rest.length > 0) {
        // The disk (or pipe) took less than asked: try the rest shortly, not in a busy loop.
        this.#queue = rest.concat(this.#queue);
        this.#retry = setTimeout(() => {
          this.#retry = null;
          this.#schedule();
        }, RETRY_MS);
        return;
      }
      this.#schedule();
      this.#maybeClose();
    });
  };

  /** Releases the written bytes from the budget; returns what is left of `batch`. */
  #consumed(batch: Chunk[], written: number): Chunk[] {
    this.#budget.used -= written;
    this.#queued -= written;
    let i = 0;
    while (i < batch.length && written >= batch[i]!.buf.length) {
      written -= batch[i]!.buf.length;
      i++;
    }
    if (i === batch.length) return [];
    const rest = batch.slice(i);
    if (written > 0) rest[0] = { buf: rest[0]!.buf.subarray(written), lines: rest[0]!.lines };
    return rest;
  }

  #fail(err: TapeFailure): void {
    if (this.#failed) return;
    this.#failed = true;
    const lost = this.#dropAll();
    this.#closeFd();
    this.#onFail(err, lost);
    this.#ending?.();
  }

  #maybeClose(): void {
    if (this.#ending === null) return;
    if (this.#failed) {
      this.#ending();
      return;
    }
    if (this.#queued > 0 || this.#writing || this.#fd === null) return;
    const done = this.#ending;
    this.#closeFd(done);
  }

  #closeFd(then?: () => void): void {
    const fd = this.#fd;
    this.#fd = null;
    if (fd === null) {
      then?.();
      return;
    }
    fs.close(fd, () => then?.());
  }
}
