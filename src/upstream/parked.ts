// An idle upstream socket kept for the next request: it is dropped the moment it ends,
// errs or speaks out of turn, and not handed out past the upstream's keep-alive deadline.

import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { routeUpstream, type UpstreamHandler } from './upstream-events.js';

/** An idle socket parked in a source: it holds the socket's events only to notice it dying. */
export class Parked implements UpstreamHandler {
  socket: net.Socket | null = null;
  #reuseUntil = Infinity;

  /** Keeps `socket` idle until taken; not handed out after `reuseUntil` (performance.now()). */
  park(socket: net.Socket, reuseUntil = Infinity): void {
    this.drop();
    this.socket = socket;
    this.#reuseUntil = reuseUntil;
    routeUpstream(socket, this);
  }

  /** The parked socket if it is still fit to use (else it is destroyed), or null. */
  take(): net.Socket | null {
    const s = this.socket;
    if (s === null) return null;
    routeUpstream(s, null);
    this.socket = null;
    // Past the upstream's announced keep-alive timeout the link is about to be closed under us.
    const stale = s.destroyed || s.readyState !== 'open' || this.#reuseUntil < performance.now();
    return stale ? (s.destroy(), null) : s;
  }

  /** Destroys the parked socket. */
  drop(): void {
    const s = this.socket;
    if (s === null) return;
    routeUpstream(s, null);
    this.socket = null;
    s.destroy();
  }

  // Data on an idle keep-alive connection is a protocol error: the next response would be misread.
  upstreamData(): void {
    this.drop();
  }

  upstreamEnd(): void {
    this.drop();
  }

  upstreamError(): void {
    this.drop();
  }

  upstreamClose(): void {
    this.drop();
  }

  upstreamDrain(): void {}
}
