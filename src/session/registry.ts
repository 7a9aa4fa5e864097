// Live sessions, keyed by id, in a mnemonist LRU map whose order is idle order: the tail
// is the session idle the longest. Admission limits and idle expiry both live here; an
// expiry pass visits only the sessions it expires (plus the one it stops at).

import { LRUMapWithDelete } from './lru.js';
import type { Session } from './session.js';

/** Why admission refused a new session. */
export type AdmitResult = 'ok' | 'max-sessions' | 'max-per-client';

/** Registry settings, from Config. */
export interface RegistryOptions {
  readonly maxSessions: number;
  readonly maxPerClient: number;
  readonly idleTimeoutMs: number;
  /** Called for each session idle past the timeout; must end up in remove(). */
  readonly onExpire: (session: Session) => void;
  readonly now?: () => number;
}

interface LruInternals {
  size: number;
  tail: number;
  V: unknown[];
}

/** Reads the least recently used value; the one place that touches mnemonist's internals. */
export function peekLeastRecent<V>(lru: LRUMapWithDelete<string, V>): V | undefined {
  const inner = lru as unknown as LruInternals;
  return inner.size === 0 ? undefined : (inner.V[inner.tail] as V);
}

/** The set of live sessions, in idle order, with per-client counts and one expiry timer. */
export class Registry {
  readonly #lru: LRUMapWithDelete<string, Session>;
  readonly #perClient = new Map<string, number>();
  readonly #byMcpSession = new Map<string, Set<Session>>();
  readonly #opts: RegistryOptions;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #timerDue = 0;
  #closed = false;

  constructor(opts: RegistryOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#lru = new LRUMapWithDelete<string, Session>(opts.maxSessions);
  }

  /** Live sessions. */
  get size(): number {
    return this.#lru.size;
  }

  /** Number of live sessions counted for one client (an IP, or `subject:NAME`). */
  countFor(client: string): number {
    return this.#perClient.get(client) ?? 0;
  }

  /** Whether one more session of `client` (an IP, or `subject:NAME` once the caller proved one) may start. */
  admit(client: string): AdmitResult {
    if (this.#lru.size >= this.#opts.maxSessions) return 'max-sessions';
    if ((this.#perClient.get(client) ?? 0) >= this.#opts.maxPerClient) return 'max-per-client';
    return 'ok';
  }

  /** Registers an admitted session at the LRU head, counted for `client` (default: its address). */
  add(session: Session, client: string = session.clientIp): void {
    const evicted = this.#lru.setpop(session.id, session);
    // admit() keeps us under capacity; an eviction here would be a bookkeeping bug.
    if (evicted !== null && evicted !== undefined && evicted.evicted) throw new Error(`registry over capacity: evicted ${String(evicted.key)}`);
    session.countedAs = client;
    this.#count(client, 1);
    this.#arm();
  }

  /**
   * The session's caller proved `subject`: from now on it counts for the subject, not its
   * address (--max-per-client per caller). 'max-per-client' leaves it where it was.
   */
  countAs(session: Session, subject: string): AdmitResult {
    const client = `subject:${subject}`;
    const was = session.countedAs;
    if (was === client || was === null) return 'ok';
    if ((this.#perClient.get(client) ?? 0) >= this.#opts.maxPerClient) return 'max-per-client';
    this.#count(was, -1);
    this.#count(client, 1);
    session.countedAs = client;
    return 'ok';
  }

  #count(client: string, by: number): void {
    const n = (this.#perClient.get(client) ?? 0) + by;
    if (n <= 0) this.#perClient.delete(client);
    else this.#perClient.set(client, n);
  }

  /** Marks activity: the session moves to the LRU head. */
  touch(session: Session): void {
    session.lastActivityAt = this.#now();
    this.#lru.get(session.id);
  }

  /** Unregisters a session; safe to call twice. */
  remove(session: Session): void {
    if (!this.#lru.delete(session.id)) return;
    if (session.countedAs !== null) this.#count(session.countedAs, -1);
    session.countedAs = null;
    this.#unindexMcp(session);
    if (this.#lru.size === 0) this.#disarm();
  }

  /** Looks a session up without changing its idle order. */
  get(id: string): Session | undefined {
    return this.#lru.peek(id);
  }

  /** Bytes in and out of the live sessions (the metrics add the closed ones). */
  liveBytes(): { in: number; out: number } {
    let bytesIn = 0;
    let bytesOut = 0;
    for (const s of this.#lru.values()) {
      bytesIn += s.bytesIn;
      bytesOut += s.bytesOut;
    }
    return { in: bytesIn, out: bytesOut };
  }

  /** Every live session, most recently active first. */
  list(): Session[] {
    return [...this.#lru.values()];
  }

  /** Records the MCP session a proxy session belongs to, so its connections are found together. */
  setMcpSession(session: Session, mcpSessionId: string): void {
    if (session.mcpSessionId === mcpSessionId) return;
    this.#unindexMcp(session);
    session.mcpSessionId = mcpSessionId;
    let set = this.#byMcpSession.get(mcpSessionId);
    if (set === undefined) this.#byMcpSession.set(mcpSessionId, (set = new Set()));
    set.add(session);
  }

  /** The live proxy sessions that carry one MCP session. */
  byMcpSession(mcpSessionId: string): Session[] {
    return [...(this.#byMcpSession.get(mcpSessionId) ?? [])];
  }

  /** Expires every session idle past the timeout, from the LRU tail; returns sessions visited. */
  expireIdle(): number {
    const deadline = this.#now() - this.#opts.idleTimeoutMs;
    let visits = 0;
    for (;;) {
      const tail = peekLeastRecent(this.#lru);
      if (tail === undefined) break;
      visits++;
      if (tail.lastActivityAt > deadline) break;
      this.#opts.onExpire(tail);
      // onExpire must remove it; if it did not, take it out here so the loop ends.
      if (peekLeastRecent(this.#lru) === tail) this.remove(tail);
    }
    return visits;
  }

  /** Stops the expiry timer; the registry takes no more sessions. */
  close(): void {
    this.#closed = true;
    this.#disarm();
  }

  #unindexMcp(session: Session): void {
    if (session.mcpSessionId === null) return;
    const set = this.#byMcpSession.get(session.mcpSessionId);
    if (set === undefined) return;
    set.delete(session);
    if (set.size === 0) this.#byMcpSession.delete(session.mcpSessionId);
  }

  // One timer, due when the least recent session would expire. Touches never move it
  // later; when it fires early it simply re-arms for the new tail.
  #arm(): void {
    if (this.#closed || this.#timer !== null) return;
    const tail = peekLeastRecent(this.#lru);
    if (tail === undefined) return;
    this.#timerDue = tail.lastActivityAt + this.#opts.idleTimeoutMs;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, this.#timerDue - this.#now()) + 1);
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  readonly #onTimer = (): void => {
    this.#timer = null;
    this.expireIdle();
    this.#arm();
  };
}
