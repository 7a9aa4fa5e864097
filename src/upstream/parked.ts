// An idle upstream socket kept for the next request: it is dropped the moment it ends,
// errs or speaks out of turn, and not handed out past the upstream's keep-alive deadline.

import type net from 'node:net';

/** An idle socket parked in a source: its listeners only notice it dying. */
export class Parked {
  socket: net.Socket | null = null;
  #reuseUntil = Infinity;
  readonly #onGone = (): void => this.drop();

  /** Keeps `socket` idle until taken; not handed out after `reuseUntil` (performance.now()). */
  park(socket: net.Socket, reuseUntil = Infinity): void {
    this.drop();
    this.socket = socket;
    this.#reuseUntil = reuseUntil;
    socket.on('error', this.#onGone);
    socket.on('close', this.#onGone);
    socket.on('end', this.#onGone);
    // Data on an idle keep-alive connection is a protocol error: the next response would be misread.
    socket.on('data', this.#onGone);
  }

  /** The parked socket if it is still fit to use (else it is destroyed), or null. */
  take(): net.Socket | null {
    const s = this.socket;
    if (s === null) return null;
    this.#unhook(s);
    this.socket = null;
    // Past the upstream's announced keep-alive timeout the link is about to be closed under us.
    const stale = s.destroyed || s.readyState !== 'open' || this.#reuseUntil < performance.now();
    return stale ? (s.destroy(), null) : s;
  }

  /** Destroys the parked socket. */
  drop(): void {
    const s = this.socket;
    if (s === null) return;
    this.#unhook(s);
    this.socket = null;
    s.destroy();
  }

  #unhook(s: net.Socket): void {
    s.removeListener('error', this.#onGone);
    s.removeListener('close', this.#onGone);
    s.removeListener('end', this.#onGone);
    s.removeListener('data', this.#onGone);
  }
}
