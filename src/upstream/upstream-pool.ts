// --upstream-pool N (docs/reference.md "Phase C"): multi-session's upstream connections shared between
// sessions. Each request borrows an idle keep-alive connection (the most recently used,
// so the rest may age out) or dials a new one at once — never waits for one, so no
// session stands behind another — and gives it back after its response; a stream keeps
// its connection until it ends. A keep-alive client idle between requests holds none. A
// hand-over costs a property write (upstream-events.ts), not listener changes. At most N
// idle connections are kept; one the upstream closed, or past the upstream's
// `Keep-Alive: timeout`, is never lent.

import type net from 'node:net';
import { dial, type UpstreamTarget } from './connect.js';
import { Parked } from './parked.js';
import type { SocketWaiter, UpstreamSource } from './upstream-source.js';

/** How many pooled connections are in each state (shadowcat_upstream_pool_connections{state}). */
export interface PoolCounts {
  readonly idle: number;
  /** Lent to a request, or kept by a stream. */
  readonly active: number;
  readonly dialing: number;
}

/**
 * The sessions' view of the pool: each request is lent a connection and gives it back
 * after its response (a stream keeps its own until it ends); nobody waits for one. It
 * holds no state of a session's, so every session shares one (an idle session costs none).
 */
class PooledLink implements UpstreamSource {
  readonly sharesSockets = true;
  readonly queues = false;
  readonly #pool: UpstreamPool;

  constructor(pool: UpstreamPool) {
    this.#pool = pool;
  }

  acquire(waiter: SocketWaiter): void {
    this.#pool.acquire(waiter);
  }

  acquireOwn(waiter: SocketWaiter): void {
    this.#pool.acquireOwn(waiter);
  }

  release(socket: net.Socket, reusable: boolean, reuseUntil?: number): void {
    this.#pool.giveBack(socket, reusable, reuseUntil);
  }

  // A stream keeps its connection: it stays lent until retire() gives it back.
  detach(): void {}

  retire(socket: net.Socket, reusable: boolean, reuseUntil?: number): void {
    this.#pool.giveBack(socket, reusable, reuseUntil);
  }

  cancel(waiter: SocketWaiter): void {
    this.#pool.cancel(waiter);
  }

  // A session is over, the pool is not: its link cancelled its own dial (UpstreamLink.close).
  close(): void {}
}

/** Idle upstream connections lent to any session (through forSession()). */
export class UpstreamPool {
  readonly #target: UpstreamTarget;
  readonly #max: number;
  /** Idle connections, the most recently parked last. */
  readonly #idle: Parked[] = [];
  readonly #dials = new Map<SocketWaiter, net.Socket>();
  /** Lent and not yet given back (or kept by a stream); a socket leaves when given back or closed. */
  readonly #lent = new Set<net.Socket>();
  #closed = false;
  readonly #link = new PooledLink(this);

  /** `max`: idle connections kept (--upstream-pool). */
  constructor(target: UpstreamTarget, max: number) {
    this.#target = target;
    this.#max = max;
  }

  /** A session's source (one for all sessions): a request keeps what it is lent until its response ends. */
  forSession(): UpstreamSource {
    return this.#link;
  }

  /** The pool's connections by state. */
  counts(): PoolCounts {
    let idle = 0;
    for (const p of this.#idle) if (p.socket !== null) idle++;
    return { idle, active: this.#lent.size, dialing: this.#dials.size };
  }

  /** Lends an idle connection, or dials one; `dialed` tells which. */
  acquire(waiter: SocketWaiter): void {
    if (this.#closed) return;
    const idle = this.#idle;
    while (idle.length > 0) {
      const socket = idle.pop()!.take();
      if (socket !== null) {
        this.#lent.add(socket);
        waiter.socketReady(null, socket, false);
        return;
      }
    }
    this.#dial(waiter);
  }

  /** A fresh connection (a resend, a body too large to gather first), given back like any other. */
  acquireOwn(waiter: SocketWaiter): void {
    if (this.#closed) return;
    this.#dial(waiter);
  }

  /** Takes a lent connection back: parked when `reusable` and there is room, else closed. */
  giveBack(socket: net.Socket, reusable: boolean, reuseUntil?: number): void {
    this.#lent.delete(socket);
    this.#keep(socket, reusable, reuseUntil);
  }

  /** Stops a dial in progress for `waiter`. */
  cancel(waiter: SocketWaiter): void {
    const dialing = this.#dials.get(waiter);
    if (dialing === undefined) return;
    this.#dials.delete(waiter);
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

  #dial(waiter: SocketWaiter): void {
    this.#dials.set(waiter, dial(this.#target, (err, socket, dialed) => {
      this.#dials.delete(waiter);
      if (socket !== null) {
        this.#lent.add(socket);
        // Once per connection (not per request): a socket an exchange destroyed leaves the count.
        socket.once('close', () => this.#lent.delete(socket));
      }
      waiter.socketReady(err, socket, dialed);
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
