// --upstream-pool N (docs/reference.md "Phase C"): multi-session's upstream connections shared between
// sessions. Each request borrows an idle keep-alive connection (the most recently used,
// so the rest may age out) or dials a new one at once — never waits for one, so no
// session stands behind another — and gives it back after its response; a stream keeps
// its connection until it ends. A keep-alive client idle between requests holds none. A
// hand-over costs a property write (upstream-events.ts), not listener changes. At most N
// idle connections are kept; one the upstream closed, or past the upstream's
// `Keep-Alive: timeout`, is never lent.

import type net from 'node:net';
import { dial, type DialCallback, type UpstreamTarget } from './connect.js';
import { Parked } from './parked.js';
import type { UpstreamSource } from './upstream-source.js';

/** How many pooled connections are in each state (shadowcat_upstream_pool_connections{state}). */
export interface PoolCounts {
  readonly idle: number;
  /** Lent to a request, or kept by a stream. */
  readonly active: number;
  readonly dialing: number;
}

/** One session's view of the pool: each request is lent a connection and gives it back after its response (a stream keeps its own until it ends); nobody waits for one. */
class PooledLink implements UpstreamSource {
  readonly sharesSockets = true;
  readonly queues = false;
  readonly #pool: UpstreamPool;
  #waiting: DialCallback | null = null;

  constructor(pool: UpstreamPool) {
    this.#pool = pool;
  }

  acquire(ready: DialCallback): void {
    this.#waiting = ready;
    this.#pool.acquire(ready);
  }

  acquireOwn(ready: DialCallback): void {
    this.#waiting = ready;
    this.#pool.acquireOwn(ready);
  }

  release(socket: net.Socket, reusable: boolean, reuseUntil?: number): void {
    this.#pool.giveBack(socket, reusable, reuseUntil);
  }

  // A stream keeps its connection: it stays lent until retire() gives it back.
  detach(): void {}

  retire(socket: net.Socket, reusable: boolean, reuseUntil?: number): void {
    this.#pool.giveBack(socket, reusable, reuseUntil);
  }

  cancel(ready: DialCallback): void {
    this.#pool.cancel(ready);
  }

  close(): void {
    // The session is over; the pool is not.
    if (this.#waiting !== null) this.#pool.cancel(this.#waiting);
    this.#waiting = null;
  }
}

/** Idle upstream connections lent to any session (through forSession()). */
export class UpstreamPool {
  readonly #target: UpstreamTarget;
  readonly #max: number;
  /** Idle connections, the most recently parked last. */
  readonly #idle: Parked[] = [];
  readonly #dials = new Map<DialCallback, net.Socket>();
  /** Lent and not yet given back (or kept by a stream); a socket leaves when given back or closed. */
  readonly #lent = new Set<net.Socket>();
  #closed = false;

  /** `max`: idle connections kept (--upstream-pool). */
  constructor(target: UpstreamTarget, max: number) {
    this.#target = target;
    this.#max = max;
  }

  /** A session's source: it keeps what it is lent until its client connection closes. */
  forSession(): UpstreamSource {
    return new PooledLink(this);
  }

  /** The pool's connections by state. */
  counts(): PoolCounts {
    let idle = 0;
    for (const p of this.#idle) if (p.socket !== null) idle++;
    return { idle, active: this.#lent.size, dialing: this.#dials.size };
  }

  /** Lends an idle connection, or dials one; `dialed` tells which. */
  acquire(ready: DialCallback): void {
    if (this.#closed) return;
    const idle = this.#idle;
    while (idle.length > 0) {
      const socket = idle.pop()!.take();
      if (socket !== null) {
        this.#lent.add(socket);
        ready(null, socket, false);
        return;
      }
    }
    this.#dial(ready);
  }

  /** A fresh connection (a resend, a body too large to gather first), given back like any other. */
  acquireOwn(ready: DialCallback): void {
    if (this.#closed) return;
    this.#dial(ready);
  }

  /** Takes a lent connection back: parked when `reusable` and there is room, else closed. */
  giveBack(socket: net.Socket, reusable: boolean, reuseUntil?: number): void {
    this.#lent.delete(socket);
    this.#keep(socket, reusable, reuseUntil);
  }

  /** Stops a dial in progress for `ready`. */
  cancel(ready: DialCallback): void {
    const dialing = this.#dials.get(ready);
    if (dialing === undefined) return;
    this.#dials.delete(ready);
    dialing.destroy();
  }

  /** Closes every idle connection and dial (shutdown); lent ones close with their sessions. */
  close(): void {
    this.#closed = true;
    for (const s of this.#dials.values()) s.destroy();
    this.#dials.clear();
    for (const p of this.#idle) p.drop();
    this.#idle.length = 0;
  }

  #dial(ready: DialCallback): void {
    this.#dials.set(ready, dial(this.#target, (err, socket, dialed) => {
      this.#dials.delete(ready);
      if (socket !== null) {
        this.#lent.add(socket);
        // Once per connection (not per request): a socket an exchange destroyed leaves the count.
        socket.once('close', () => this.#lent.delete(socket));
      }
      ready(err, socket, dialed);
    }));
  }

  #keep(socket: net.Socket, reusable: boolean, reuseUntil?: number): void {
    if (!reusable || socket.destroyed || this.#closed) {
      socket.destroy();
      return;
    }
    const idle = this.#idle;
    // Connections the upstream closed while parked are gone: make room from them first.
    for (let i = idle.length - 1; i >= 0; i--) if (idle[i]!.socket === null) idle.splice(i, 1);
    if (idle.length >= this.#max) {
      socket.destroy();
      return;
    }
    const p = new Parked();
    p.park(socket, reuseUntil);
    idle.push(p);
  }
}
