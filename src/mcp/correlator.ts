// Request/response correlation across an MCP session: a request's id is remembered
// with its method and start time until its response passes, whichever connection
// carries it. Bounded: the oldest pending entries are dropped first (a native Map keeps
// insertion order, so the oldest is its first key).

/** A request waiting for its response. */
export interface Pending {
  readonly method: string;
  readonly startedAt: number;
}

/** Pending JSON-RPC requests keyed by (scope, direction, id); scope is the MCP session. */
export class Correlator {
  readonly #pending = new Map<string, Pending>();
  readonly #capacity: number;

  constructor(capacity = 10_000) {
    this.#capacity = capacity;
  }

  /** Remembers a request sent by `from` ('client' or 'server'). */
  start(scope: string, from: string, id: string, method: string, now: number): void {
    const key = `${scope}\u0000${from}\u0000${id}`;
    const pending = this.#pending;
    // A reused id starts over as the newest entry.
    if (!pending.delete(key) && pending.size >= this.#capacity) pending.delete(pending.keys().next().value as string);
    pending.set(key, { method, startedAt: now });
  }

  /** Takes the request a response from the other side answers, if known. */
  finish(scope: string, requestFrom: string, id: string): Pending | undefined {
    const key = `${scope}\u0000${requestFrom}\u0000${id}`;
    const entry = this.#pending.get(key);
    if (entry !== undefined) this.#pending.delete(key);
    return entry;
  }

  /** Pending entries (for tests). */
  get size(): number {
    return this.#pending.size;
  }
}
