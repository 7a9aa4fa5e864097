// A byte-for-byte pipe between two sockets with backpressure both ways and half-close.
// Used by forward tcp for every session and by forward http after a 101 upgrade.

import type net from 'node:net';
import type { Session } from '../session/session.js';

/** What the pipe reports to its session. */
export interface RawPipeEvents {
  /** Bytes moved: `toUpstream` true for client → upstream. */
  onBytes(n: number, toUpstream: boolean): void;
  /** Both sockets are closed or one failed; called once. */
  onDone(reason: 'done' | 'error', error?: unknown): void;
}

/** Pipes client ↔ upstream until both are closed; `destroy()` ends it at once. */
export class RawPipe {
  readonly #client: net.Socket;
  readonly #upstream: net.Socket;
  readonly #events: RawPipeEvents;
  #closedCount = 0;
  #done = false;

  constructor(client: net.Socket, upstream: net.Socket, events: RawPipeEvents) {
    this.#client = client;
    this.#upstream = upstream;
    this.#events = events;
    client.on('data', this.#onClientData);
    upstream.on('data', this.#onUpstreamData);
    client.on('drain', this.#onClientDrain);
    upstream.on('drain', this.#onUpstreamDrain);
    client.on('end', this.#onClientEnd);
    upstream.on('end', this.#onUpstreamEnd);
    client.on('error', this.#onError);
    upstream.on('error', this.#onError);
    client.on('close', this.#onClose);
    upstream.on('close', this.#onClose);
    client.resume();
    upstream.resume();
    // A side may have ended before the pipe began: a client's FIN with no bytes, read while
    // the upstream was being dialed, emits 'end' at once, before these listeners existed.
    if (client.readableEnded) upstream.end();
    if (upstream.readableEnded) client.end();
  }

  /** Destroys both sockets now. */
  destroy(): void {
    this.#finish('done');
  }

  readonly #onClientData = (chunk: Buffer): void => {
    this.#events.onBytes(chunk.length, true);
    if (!this.#upstream.write(chunk)) this.#client.pause();
  };

  readonly #onUpstreamData = (chunk: Buffer): void => {
    this.#events.onBytes(chunk.length, false);
    if (!this.#client.write(chunk)) this.#upstream.pause();
  };

  readonly #onClientDrain = (): void => {
    this.#upstream.resume();
  };

  readonly #onUpstreamDrain = (): void => {
    this.#client.resume();
  };

  // Half-close travels through: a FIN from one side becomes a FIN to the other.
  readonly #onClientEnd = (): void => {
    this.#upstream.end();
  };

  readonly #onUpstreamEnd = (): void => {
    this.#client.end();
  };

  readonly #onError = (err: Error): void => {
    this.#finish('error', err);
  };

  readonly #onClose = (): void => {
    this.#closedCount++;
    // One side gone for good: if the other has not finished cleanly, it cannot go on.
    if (this.#closedCount === 2) this.#finish('done');
    else if (this.#client.destroyed && !this.#client.readableEnded) this.#finish('done');
    else if (this.#upstream.destroyed && !this.#upstream.readableEnded) this.#finish('done');
  };

  #finish(reason: 'done' | 'error', error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    for (const s of [this.#client, this.#upstream]) {
      s.removeListener('data', s === this.#client ? this.#onClientData : this.#onUpstreamData);
      s.removeListener('drain', s === this.#client ? this.#onClientDrain : this.#onUpstreamDrain);
      s.removeListener('end', s === this.#client ? this.#onClientEnd : this.#onUpstreamEnd);
      s.removeListener('close', this.#onClose);
      // keep a no-op error listener: a late error on a destroyed socket must not crash us
      s.destroy();
    }
    this.#events.onDone(reason, error);
  }
}

/** A RawPipe that counts into `session`, marks its activity and closes it when done. */
export function pipeSession(session: Session, client: net.Socket, upstream: net.Socket, touch: (s: Session) => void): RawPipe {
  return new RawPipe(client, upstream, {
    onBytes: (n, toUpstream) => {
      if (toUpstream) session.bytesIn += n;
      else session.bytesOut += n;
      touch(session);
    },
    onDone: (reason, error) => session.close(reason === 'error' ? 'error' : 'done', error),
  });
}
