// Request/response correlation across an MCP session: a request's id is remembered
// with its method and start time until its response passes, whichever connection
// carries it. Looked up by scope (the MCP session), then id, in one map per direction:
// a key joined from the three was a new string to build, flatten and hash twice per
// request, the largest JS cost of a small request. A scope with nothing pending is
// forgotten (its map kept spare for the next), so only pending requests take room: at
// most `capacity`, the oldest dropped first by one list in start order.

/** A request waiting for its response. */
export interface Pending {
  readonly method: string;
  readonly startedAt: number;
}

type Ids = Map<string, Entry>;
type Scopes = Map<string, Ids>;

import { LinkedList } from '../linked-list.js';

/** Scope maps kept for reuse: a scope mostly has one request pending at a time. */
const SPARE_MAX = 64;

/** One pending request, linked in start order. */
class Entry implements Pending {
  prev: Entry | null = null;
  next: Entry | null = null;
  constructor(
    readonly method: string,
    readonly startedAt: number,
    readonly id: string,
    readonly scope: string,
    readonly scopes: Scopes,
    readonly ids: Ids,
  ) {}
}

/** Pending JSON-RPC requests keyed by (scope, direction, id); scope is the MCP session. */
export class Correlator {
  /** Scope → id → entry, for requests from the client and from the server. */
  readonly #fromClient: Scopes = new Map();
  readonly #fromServer: Scopes = new Map();
  readonly #spare: Ids[] = [];
  readonly #capacity: number;
  /** Pending entries, oldest first. */
  readonly #order = new LinkedList<Entry>();
  #size = 0;

  constructor(capacity = 10_000) {
    this.#capacity = capacity;
  }

  /** Remembers a request sent by `from` ('client' or 'server'). */
  start(scope: string, from: string, id: string, method: string, now: number): void {
    const scopes = from === 'client' ? this.#fromClient : this.#fromServer;
    let ids = scopes.get(scope);
    // A reused id starts over as the newest entry (its map slot is overwritten below).
    const old = ids?.get(id);
    if (old !== undefined) this.#unlink(old);
    else if (this.#size >= this.#capacity) {
      this.#take(this.#order.head!);
      // The oldest may have been this scope's last: then the scope was forgotten.
      ids = scopes.get(scope);
    }
    if (ids === undefined) {
      ids = this.#spare.pop() ?? new Map();
      scopes.set(scope, ids);
    }
    const entry = new Entry(method, now, id, scope, scopes, ids);
    ids.set(id, entry);
    this.#order.push(entry);
    this.#size++;
  }

  /** Takes the request a response from the other side answers, if known. */
  finish(scope: string, requestFrom: string, id: string): Pending | undefined {
    const entry = (requestFrom === 'client' ? this.#fromClient : this.#fromServer).get(scope)?.get(id);
    if (entry === undefined) return undefined;
    this.#take(entry);
    return entry;
  }

  /** Pending entries (for tests). */
  get size(): number {
    return this.#size;
  }

  /** Scopes with something pending, both directions (for tests). */
  get scopes(): number {
    return this.#fromClient.size + this.#fromServer.size;
  }

  /** Removes `entry` from its scope (forgetting an emptied scope) and from the start order. */
  #take(entry: Entry): void {
    const ids = entry.ids;
    ids.delete(entry.id);
    if (ids.size === 0 && entry.scopes.get(entry.scope) === ids) {
      entry.scopes.delete(entry.scope);
      if (this.#spare.length < SPARE_MAX) this.#spare.push(ids);
    }
    this.#unlink(entry);
  }

  #unlink(entry: Entry): void {
    this.#order.unlink(entry);
    this.#size--;
  }
}
