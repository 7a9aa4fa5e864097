// One exchange's hold on an upstream socket: getting it from its source, writing to it,
// pausing it for a slow client, and handing it back in the right way once the response
// ends (released to be reused, retired after a stream of its own, destroyed, or given to
// a tunnel). The engine (http-exchange.ts) decides when; this says how, so the rules of
// the three sources (own link, shared link, pool) are kept in one place.

import type net from 'node:net';
import type { ProxyError } from '../errors.js';
import { routeUpstream, unrouteUpstream, type UpstreamHandler } from '../upstream/upstream-events.js';
import type { SocketWaiter, UpstreamSource } from '../upstream/upstream-source.js';

/** The exchange behind a link: upstream events go to it, and it hears how an acquire ended. */
export interface LinkOwner extends UpstreamHandler {
  /** A socket is bound to the link (`dialed`: a fresh connection, not a reused one). */
  linkReady(socket: net.Socket, dialed: boolean): void;
  /** No socket could be had. */
  linkFailed(err: ProxyError | null): void;
}

/** Writes `bufs` in order (one syscall for several: corked); false when the socket asks us to wait for 'drain'. */
function writeAll(socket: net.Socket, bufs: readonly Buffer[]): boolean {
  // One buffer, the usual case (a head with its body), needs no cork: that would queue it
  // in the stream only to take it out again on uncork.
  if (bufs.length === 1) return socket.write(bufs[0]!);
  let ok = true;
  socket.cork();
  for (const buf of bufs) ok = socket.write(buf);
  socket.uncork();
  return ok;
}

/** An exchange's upstream socket and its way back to the source it came from. */
export class UpstreamLink implements SocketWaiter {
  readonly #source: UpstreamSource;
  /** The source is this link's alone (multi-session): close() closes it. */
  readonly #ownsSource: boolean;
  readonly #owner: LinkOwner;
  #socket: net.Socket | null = null;
  /** An acquire is in progress. */
  #acquiring = false;
  /** The socket being acquired is a connection of this request's own, not the shared link. */
  #acquiringOwn = false;
  /** The socket is the caller's for good: the source forgot it (a stream, or a connection of its own). */
  #detached = false;
  /** Paused because the client is slow to read. */
  #paused = false;
  /** Whole ms (performance.now()) after which the kept (idle) socket must not be reused; -1: no limit. Not Infinity or a fraction: either makes V8 box the field, 16 bytes per session. */
  #reuseBy = -1;
  #closed = false;

  constructor(source: UpstreamSource, ownsSource: boolean, owner: LinkOwner) {
    this.#source = source;
    this.#ownsSource = ownsSource;
    this.#owner = owner;
  }

  /** The bound socket, or null between acquires. */
  get socket(): net.Socket | null {
    return this.#socket;
  }

  /** True when a request may wait its turn for the shared link (its body is gathered first). */
  get queues(): boolean {
    return this.#source.queues;
  }

  /** True while the request is bound to a socket or waiting in line for the shared one: --upstream-timeout counts. */
  get engaged(): boolean {
    return this.#socket !== null || (this.#source.queues && !this.#acquiringOwn);
  }

  /** True when the kept socket has outlived the upstream's announced keep-alive. */
  stale(now: number): boolean {
    return this.#socket !== null && this.#reuseBy >= 0 && this.#reuseBy < now;
  }

  /** Starts getting a socket (`own`: a connection of this request's own); true while it is still coming. */
  acquire(own: boolean): boolean {
    if (this.#acquiring || this.#closed) return false;
    this.#acquiring = true;
    this.#acquiringOwn = own;
    if (own) this.#source.acquireOwn(this);
    else this.#source.acquire(this);
    return this.#acquiring;
  }

  /** The source's answer to acquire(): the socket to bind, or why there is none. */
  socketReady(err: ProxyError | null, socket: net.Socket | null, dialed?: boolean): void {
    this.#acquiring = false;
    if (this.#closed) {
      if (socket !== null) this.#source.release(socket, true);
      return;
    }
    if (err !== null || socket === null) {
      this.#owner.linkFailed(err);
      return;
    }
    this.#socket = socket;
    // A connection of its own is never the shared link: it is retired, not released.
    this.#detached = this.#acquiringOwn && this.#source.sharesSockets;
    this.#acquiringOwn = false;
    this.#reuseBy = -1;
    routeUpstream(socket, this.#owner);
    this.#owner.linkReady(socket, dialed === true);
  }

  /** Writes `bufs` to the bound socket; false when it asks us to wait for 'drain'. */
  writeAll(bufs: readonly Buffer[]): boolean {
    return writeAll(this.#socket!, bufs);
  }

  /** The client reads slowly: stop reading the upstream until it drains. */
  pause(): void {
    const socket = this.#socket;
    if (this.#paused || socket === null) return;
    this.#paused = true;
    socket.pause();
  }

  /** The client drained: read the upstream again. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#socket?.resume();
  }

  /** A streamed response keeps the socket past its exchange: a shared source must forget it. */
  keepForStream(): void {
    if (!this.#source.sharesSockets || this.#detached) return;
    this.#source.detach(this.#socket!);
    this.#detached = true;
  }

  /**
   * The response ended. `clean`: the socket may carry another request. A session's own
   * socket stays bound to this link until the next request (no listener churn per request;
   * idle events let it go); others go back to their source.
   */
  finish(clean: boolean, reuseUntil: number): void {
    const socket = this.#socket!;
    const reusable = clean && !this.#detached;
    if (reusable && !this.#source.sharesSockets) {
      // Rounded down: the socket is let go up to 1 ms early, never late.
      this.#reuseBy = reuseUntil === Infinity ? -1 : Math.floor(reuseUntil);
      this.resume();
    } else {
      this.#unbind(socket);
      if (this.#detached) this.#source.retire(socket, clean, reuseUntil);
      else this.#source.release(socket, reusable, reuseUntil);
    }
    this.#detached = false;
  }

  /**
   * Unbinds the socket and hands it back to its source: kept when `reusable` (a pool parks
   * a clean idle link), destroyed otherwise; a socket of the caller's own (detached) is
   * destroyed here, the source has forgotten it.
   */
  letGo(reusable: boolean): void {
    const socket = this.#socket;
    if (socket === null) return;
    this.#unbind(socket);
    if (this.#detached) socket.destroy();
    else this.#source.release(socket, reusable, this.#reuseBy < 0 ? Infinity : this.#reuseBy);
    this.#detached = false;
  }

  /** After a 101: the socket leaves the link and its routing for a tunnel's own listeners. */
  takeForTunnel(): net.Socket {
    const socket = this.#socket!;
    this.#unbind(socket);
    unrouteUpstream(socket);
    if (!this.#detached) this.#source.detach(socket);
    this.#detached = false;
    return socket;
  }

  /** The exchange is gone: stop any acquire, let the socket go (`reusable`: it is idle and clean), close an own source. */
  close(reusable: boolean): void {
    if (this.#closed) return;
    if (this.#acquiring) this.#source.cancel(this);
    this.#acquiring = false;
    this.#closed = true;
    this.letGo(reusable);
    if (this.#ownsSource) this.#source.close();
  }

  #unbind(socket: net.Socket): void {
    routeUpstream(socket, null);
    if (this.#paused) socket.resume();
    this.#paused = false;
    this.#socket = null;
  }
}
