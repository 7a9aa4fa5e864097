// One tape file's writes: lines queue in memory and go to disk in one writev per turn of
// the event loop, off the traffic's path. Every queued byte counts against one budget of
// the process (--record-queue): a line that does not fit is refused (the recorder counts
// it dropped) rather than waited for, so a slow disk never stalls traffic. The file is
// opened non-blocking, so a pipe nobody reads makes writes wait on a timer instead of
// holding one of libuv's few threads.

import fs from 'node:fs';

/** Bytes queued for the disk by every tape of a process, against one limit. */
export class WriteBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

/** Why a tape stopped writing: the file could not be opened or written. */
export type TapeFailure = NodeJS.ErrnoException;

const RETRY_MS = 25;
const OPEN_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_APPEND | fs.constants.O_NONBLOCK;

/** Opens a tape's file: the fd (non-blocking) and its path, or the error. */
export type TapeOpener = (candidates: readonly string[], done: (err: TapeFailure | null, fd: number, file: string) => void) => void;

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

/** The queued, bounded writer of one tape file. */
export class TapeFile {
  readonly #budget: WriteBudget;
  readonly #onFail: (err: TapeFailure, lost: number) => void;
  #fd: number | null = null;
  #queue: Buffer[] = [];
  #writing = false;
  #scheduled = false;
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

  /** Queues a line; false when the budget has no room for it (or the tape failed): the caller counts it dropped. */
  push(line: Buffer): boolean {
    if (this.#failed || this.#ending !== null) return false;
    const budget = this.#budget;
    if (budget.used + line.length > budget.limit) return false;
    budget.used += line.length;
    this.#queue.push(line);
    this.#schedule();
    return true;
  }

  /** Queues a line that must not be lost to the budget (the first and last lines of a tape). */
  pushAlways(line: Buffer, first = false): void {
    if (this.#failed) return;
    this.#budget.used += line.length;
    if (first) this.#queue.unshift(line);
    else this.#queue.push(line);
    this.#schedule();
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
      this.#maybeClose();
    });
    return this.#ended;
  }

  /** Gives up on what is still queued (a shutdown deadline passed): returns how many lines were lost. */
  abandon(): number {
    const lost = this.#queue.length;
    this.#release(this.#queue);
    this.#queue = [];
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    this.#failed = true;
    if (!this.#writing) this.#closeFd();
    return lost;
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing || this.#fd === null || this.#retry !== null) return;
    this.#scheduled = true;
    // Lines of one turn of the event loop go out in one writev.
    setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#writing || this.#fd === null || this.#failed) return;
    if (this.#queue.length === 0) {
      this.#maybeClose();
      return;
    }
    const batch = this.#queue;
    this.#queue = [];
    this.#writing = true;
    fs.writev(this.#fd, batch, (err, written) => {
      this.#writing = false;
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
      const rest = err === null ? this.#consumed(batch, written) : batch;
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
  #consumed(batch: Buffer[], written: number): Buffer[] {
    this.#budget.used -= written;
    let i = 0;
    while (i < batch.length && written >= batch[i]!.length) {
      written -= batch[i]!.length;
      i++;
    }
    if (i === batch.length) return [];
    const rest = batch.slice(i);
    if (written > 0) rest[0] = rest[0]!.subarray(written);
    return rest;
  }

  #release(lines: readonly Buffer[]): void {
    for (const l of lines) this.#budget.used -= l.length;
  }

  #fail(err: TapeFailure): void {
    if (this.#failed) return;
    this.#failed = true;
    const lost = this.#queue.length;
    this.#release(this.#queue);
    this.#queue = [];
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
    if (this.#queue.length > 0 || this.#writing || this.#fd === null) return;
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
