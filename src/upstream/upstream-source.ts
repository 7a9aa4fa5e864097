// Where an exchange gets its upstream socket. Multi-session: a session's own connection,
// opened on first use and kept between requests. Single-session: the process's shared
// link, handed to one request at a time in arrival order.

import type net from 'node:net';
import { dial, type UpstreamTarget } from './connect.js';
import { Parked } from './parked.js';
import type { ProxyError } from '../errors.js';


/**
 * Who waits for a socket: the exchange's link itself, not a callback, so an idle session
 * holds no closure for it (and a source keys a waiter's place in line by the object).
 */
export interface SocketWaiter {
  /** The acquire ended: a connected socket (`dialed`: a fresh connection), or the error. */
  socketReady(err: ProxyError | null, socket: net.Socket | null, dialed?: boolean): void;
}

/** A supplier of connected upstream sockets to one request at a time. */
export interface UpstreamSource {
  /** True when sockets pass between client connections (each request takes one and gives it back), so streams must detach. */
  readonly sharesSockets: boolean;
  /** True when a request may wait its turn for a socket (the one shared link): its body is gathered first, so a slow body never holds the line. */
  readonly queues: boolean;
  /** Tells `waiter` (maybe synchronously) of a connected socket for one request. */
  acquire(waiter: SocketWaiter): void;
  /** Like acquire, but a connection of the caller's own, already detached (a request whose body is too large to gather first). */
  acquireOwn(waiter: SocketWaiter): void;
  /** Returns the socket after its response; `reusable` false destroys it; not reused after `reuseUntil` (performance.now()). */
  release(socket: net.Socket, reusable: boolean, reuseUntil?: number): void;
  /** The socket stays with the caller for good (a stream); the source forgets it. */
  detach(socket: net.Socket): void;
  /** A detached socket's stream is over: the source may keep it as an idle link if `reusable`, else it is destroyed. */
  retire(socket: net.Socket, reusable: boolean, reuseUntil?: number): void;
  /** The caller is gone: drop its place in line and any dial in progress. */
  cancel(waiter: SocketWaiter): void;
  /** Closes every socket the source holds. */
  close(): void;
}

/**
 * Multi-session: dials one session's own upstream connection. The exchange keeps a
 * reusable link bound to itself between requests, so a socket handed back here is done.
 */
export class OwnUpstream implements UpstreamSource {
  readonly sharesSockets = false;
  readonly queues = false;
  readonly #target: UpstreamTarget;
  #dialing: net.Socket | null = null;

  constructor(target: UpstreamTarget) {
    this.#target = target;
  }

  acquire(waiter: SocketWaiter): void {
    this.#dialing = dial(this.#target, (err, socket, dialed) => {
      this.#dialing = null;
      waiter.socketReady(err, socket, dialed);
    });
  }

  acquireOwn(waiter: SocketWaiter): void {
    this.acquire(waiter);
  }

  release(socket: net.Socket): void {
    socket.destroy();
  }

  detach(): void {}

  retire(socket: net.Socket): void {
    socket.destroy();
  }

  cancel(): void {
    this.#dialing?.destroy();
    this.#dialing = null;
  }

  close(): void {
    this.cancel();
  }
}

/** Single-session: the process's one upstream link, lent to one request at a time. */
export class SharedLink implements UpstreamSource {
  readonly sharesSockets = true;
  readonly queues = true;
  readonly #target: UpstreamTarget;
  readonly #parked = new Parked();
  readonly #waiting: SocketWaiter[] = [];
  #busy = false;
  #dialing: net.Socket | null = null;
  /** Dials of connections of their own, by the caller waiting for each. */
  readonly #ownDials = new Map<SocketWaiter, net.Socket>();
  #closed = false;

  constructor(target: UpstreamTarget) {
    this.#target = target;
  }

  acquire(waiter: SocketWaiter): void {
    if (this.#closed) return;
    this.#waiting.push(waiter);
    if (!this.#busy) this.#next();
  }

  acquireOwn(waiter: SocketWaiter): void {
    if (this.#closed) return;
    // Never the link: a body still arriving must not hold it (docs/reference.md: no client stalls another).
    this.#ownDials.set(waiter, dial(this.#target, (err, socket, dialed) => {
      this.#ownDials.delete(waiter);
      waiter.socketReady(err, socket, dialed);
    }));
  }

  release(socket: net.Socket, reusable: boolean, reuseUntil?: number): void {
    if (reusable && !socket.destroyed && !this.#closed) this.#parked.park(socket, reuseUntil);
    else socket.destroy();
    this.#busy = false;
    this.#next();
  }

  detach(): void {
    // The stream keeps its socket; the link opens a fresh one for the next request.
    this.#busy = false;
    this.#next();
  }

  retire(socket: net.Socket, reusable: boolean, reuseUntil?: number): void {
    // Kept only when no idle link is parked: then the next request skips a dial (a 1 MiB
    // or SSE response detaches, and would otherwise cost a connect per request).
    if (reusable && !socket.destroyed && !this.#closed && this.#parked.socket === null) this.#parked.park(socket, reuseUntil);
    else socket.destroy();
    if (!this.#busy) this.#next();
  }

  cancel(waiter: SocketWaiter): void {
    const i = this.#waiting.indexOf(waiter);
    if (i !== -1) this.#waiting.splice(i, 1);
    const own = this.#ownDials.get(waiter);
    if (own !== undefined) {
      this.#ownDials.delete(waiter);
      own.destroy();
    }
  }

  close(): void {
    this.#closed = true;
    this.#waiting.length = 0;
    for (const s of this.#ownDials.values()) s.destroy();
    this.#ownDials.clear();
    this.#dialing?.destroy();
    this.#dialing = null;
    this.#parked.drop();
  }

  #next(): void {
    if (this.#busy || this.#closed) return;
    const waiter = this.#waiting.shift();
    if (waiter === undefined) return;
    this.#busy = true;
    const s = this.#parked.take();
    if (s !== null) return waiter.socketReady(null, s);
    this.#dialing = dial(this.#target, (err: ProxyError | null, socket) => {
      this.#dialing = null;
      if (err !== null) {
        // A failed dial answers only this request; the next one tries again.
        this.#busy = false;
        waiter.socketReady(err, null);
        this.#next();
        return;
      }
      waiter.socketReady(null, socket, true);
    });
  }
}
