// --stdio-pool N (multi-session bridges): children started ahead and kept ready, so an
// `initialize` does not wait for a process to start. A child taken is replaced at once; a
// ready child that exits is replaced after a backoff that grows while they keep dying (a
// broken command must not become a fork loop), and resets once one stays up.

import type { Logger } from '../observe/logger.js';
import { StdioChild } from './stdio-child.js';

const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** A ready child that lived this long resets the backoff. */
const HEALTHY_MS = 10_000;

/** Warm children of one command. */
export class StdioPool {
  readonly #ready = new Set<StdioChild>();
  /** Children close() is stopping. */
  readonly #stopping = new Set<StdioChild>();
  readonly #size: number;
  readonly #spawn: () => StdioChild;
  readonly #log: Logger;
  #backoffMs = BACKOFF_START_MS;
  #refill: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(size: number, spawnChild: () => StdioChild, log: Logger) {
    this.#size = size;
    this.#spawn = spawnChild;
    this.#log = log;
  }

  /** Starts the children. */
  start(): void {
    this.#fill();
  }

  /** Children ready now. */
  get ready(): number {
    return this.#ready.size;
  }

  /** A ready child, or null when none is (the caller spawns one); a replacement starts at once. */
  take(): StdioChild | null {
    for (const c of this.#ready) {
      this.#ready.delete(c);
      if (!c.usable) continue;
      this.#fill();
      return c;
    }
    return null;
  }

  /** Stops every ready child; no more are started. */
  close(): Promise<void> {
    this.#closed = true;
    if (this.#refill !== null) clearTimeout(this.#refill);
    this.#refill = null;
    const stops = [...this.#ready].map((c) => c.stop());
    for (const c of this.#ready) this.#stopping.add(c);
    this.#ready.clear();
    return Promise.all(stops).then(() => {});
  }

  /** Kills what close() could not stop in time. */
  kill(): void {
    for (const c of this.#stopping) c.kill();
  }

  #fill(): void {
    if (this.#closed || this.#refill !== null) return;
    while (this.#ready.size < this.#size) {
      const child = this.#spawn();
      const born = Date.now();
      this.#ready.add(child);
      // An exit while ready: replaced after the backoff.
      child.own({
        line: () => {},
        exit: (code, signal, err) => {
          if (!this.#ready.delete(child) || this.#closed) return;
          if (Date.now() - born >= HEALTHY_MS) this.#backoffMs = BACKOFF_START_MS;
          this.#log.warn({ child: child.pid, code, signal, err: err?.message, retryMs: this.#backoffMs }, 'a ready stdio child exited: replacing it');
          this.#later();
        },
      }, this.#log);
      // Its lines before a session owns it (a banner) are not for anyone: the owner above drops them.
    }
  }

  #later(): void {
    if (this.#refill !== null || this.#closed) return;
    this.#refill = setTimeout(() => {
      this.#refill = null;
      this.#fill();
    }, this.#backoffMs);
    this.#refill.unref();
    this.#backoffMs = Math.min(BACKOFF_MAX_MS, this.#backoffMs * 2);
  }
}
