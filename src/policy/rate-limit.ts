// Per-client-IP request rate limit: a token bucket per IP (rate R per second, burst R),
// process-wide and shared by all sessions. Buckets live in a bounded LRU, so a flood of
// distinct addresses cannot grow memory without bound.

import { LRUMapWithDelete } from '../session/lru.js';

interface Bucket {
  tokens: number;
  last: number;
}

/** Token buckets keyed by client IP. */
export class RateLimiter {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #buckets: LRUMapWithDelete<string, Bucket>;
  readonly #now: () => number;

  constructor(perSecond: number, capacity = 65536, now: () => number = performance.now.bind(performance)) {
    this.#ratePerMs = perSecond / 1000;
    this.#burst = Math.max(1, perSecond);
    this.#buckets = new LRUMapWithDelete<string, Bucket>(capacity);
    this.#now = now;
  }

  /** Takes one token for `ip`: 0 when allowed, else whole seconds to wait before retrying. */
  take(ip: string): number {
    const now = this.#now();
    let b = this.#buckets.get(ip);
    if (b === undefined) {
      b = { tokens: this.#burst, last: now };
      this.#buckets.set(ip, b);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + (now - b.last) * this.#ratePerMs);
      b.last = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#ratePerMs / 1000));
  }
}
