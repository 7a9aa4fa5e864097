// Deadlines of one fixed duration behind one timer. Every exchange of an app waits for a
// request head and for a response head with the same durations, so arming order is
// deadline order: a FIFO of intrusive links replaces a node:timers Timeout per connection
// (its allocation, list insert and clearTimeout were a few per cent of a short connection).

import { performance } from 'node:perf_hooks';
import { LinkedList } from '../linked-list.js';

/** One deadline an owner can arm in a DeadlineQueue; an owner keeps one per kind of deadline. */
export class Deadline<T> {
  /**
   * performance.now() at which it expires, rounded up to a whole ms; 0 while not armed.
   * Whole: an integer field holds its value inline, a fractional one a 16-byte box per
   * deadline (every idle session holds one).
   */
  at = 0;
  prev: Deadline<T> | null = null;
  next: Deadline<T> | null = null;
  /** Whom expiry is told; a disarmed deadline may pass to another owner (ExchangeParts). */
  owner: T;

  constructor(owner: T) {
    this.owner = owner;
  }
}

/** Deadlines `ms` after arming, in arming order, expired by one unref'd timer. */
export class DeadlineQueue<T> {
  readonly ms: number;
  readonly #onExpire: (owner: T) => void;
  readonly #armed = new LinkedList<Deadline<T>>();
  #timer: NodeJS.Timeout | null = null;
  /** Expiring now: arm() leaves the timer to #expire, which knows the new head. */
  #expiring = false;
  readonly #fire = (): void => this.#expire();

  constructor(ms: number, onExpire: (owner: T) => void) {
    this.ms = ms;
    this.#onExpire = onExpire;
  }

  /** Arms (or re-arms) `d` to expire `ms` from now (`now`: performance.now() when the caller just read it; -1: read here). */
  arm(d: Deadline<T>, now = -1): void {
    if (d.at !== 0) this.#armed.unlink(d);
    d.at = Math.ceil(now < 0 ? performance.now() : now) + this.ms;
    this.#armed.push(d);
    if (this.#timer === null && !this.#expiring) this.#schedule(this.ms);
  }

  /** Disarms `d`; nothing happens if it is not armed. The timer stays until it next fires. */
  disarm(d: Deadline<T>): void {
    if (d.at === 0) return;
    this.#armed.unlink(d);
    d.at = 0;
  }

  /** Stops the timer; armed deadlines never expire after this. */
  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#armed.clear();
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(this.#fire, ms);
    // The sockets keep the process alive; a deadline alone must not.
    this.#timer.unref();
  }

  #expire(): void {
    this.#timer = null;
    this.#expiring = true;
    const now = performance.now();
    const armed = this.#armed;
    let d = armed.head;
    try {
      // 1 ms of slack: timers may fire a little early against performance.now().
      while (d !== null && d.at <= now + 1) {
        armed.unlink(d);
        d.at = 0;
        this.#onExpire(d.owner);
        d = armed.head;
      }
    } finally {
      this.#expiring = false;
      if (armed.head !== null) this.#schedule(Math.max(1, armed.head.at - performance.now()));
    }
  }
}
