// Request/response correlation across an MCP session: a request's id is remembered
// with its method and start time until its response passes, whichever connection
// carries it. Bounded: the oldest pending entries are dropped first.

import { LRUMapWithDelete } from '../session/lru.js';

/** A request waiting for its response. */
export interface Pending {
  readonly method: string;
  readonly startedAt: number;
}

/** Pending JSON-RPC requests keyed by (scope, direction, id); scope is the MCP session. */
export class Correlator {
  readonly #pending: LRUMapWithDelete<string, Pending>;

  constructor(capacity = 10_000) {
    this.#pending = new LRUMapWithDelete<string, Pending>(capacity);
  }

  /** Remembers a request sent by `from` ('client' or 'server'). */
  start(scope: string, from: string, id: string, method: string, now: number): void {
    this.#pending.set(`${scope}\u0000${from}\u0000${id}`, { method, startedAt: now });
  }

  /** Takes the request a response from the other side answers, if known. */
  finish(scope: string, requestFrom: string, id: string): Pending | undefined {
    return this.#pending.remove(`${scope}\u0000${requestFrom}\u0000${id}`, undefined);
  }

  /** Pending entries (for tests). */
  get size(): number {
    return this.#pending.size;
  }
}
