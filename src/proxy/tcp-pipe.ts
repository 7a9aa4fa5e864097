// forward tcp: one session = one client socket piped byte for byte to its own upstream
// socket, opened when the client connects.

import type net from 'node:net';
import type { Session, SessionOwner, CloseReason } from '../session/session.js';
import { dial, dialFailureKind } from '../upstream/connect.js';
import type { UpstreamTarget } from '../upstream/connect.js';
import { pipeSession, type RawPipe } from './raw-pipe.js';

/** L4 handler of one client connection; owned by its Session. */
export class TcpPipe implements SessionOwner {
  readonly #session: Session;
  readonly #client: net.Socket;
  readonly #touch: (s: Session) => void;
  readonly #onUpstreamError: (kind: string, err: unknown) => void;
  #dialing: net.Socket | null;
  #pipe: RawPipe | null = null;
  #closed = false;

  constructor(session: Session, client: net.Socket, target: UpstreamTarget, touch: (s: Session) => void, onUpstreamError: (kind: string, err: unknown) => void, onConnected: ((upstream: net.Socket) => void) | null = null) {
    this.#session = session;
    this.#client = client;
    this.#touch = touch;
    this.#onUpstreamError = onUpstreamError;
    // Hold client bytes in the socket until the upstream is there.
    client.pause();
    client.on('error', this.#onEarlyClientGone);
    client.on('close', this.#onEarlyClientGone);
    this.#dialing = dial(target, (err, upstream) => {
      this.#dialing = null;
      if (this.#closed) return;
      if (err !== null || upstream === null) {
        this.#onUpstreamError(dialFailureKind(err), err);
        session.close('upstream-error', err);
        return;
      }
      onConnected?.(upstream);
      client.removeListener('error', this.#onEarlyClientGone);
      client.removeListener('close', this.#onEarlyClientGone);
      this.#pipe = pipeSession(session, client, upstream, this.#touch);
    });
  }

  readonly #onEarlyClientGone = (): void => {
    this.#session.close('client-closed');
  };

  /** L4 has no message boundary to wait for: the session is closed when the shutdown timeout ends. */
  drain(): void {}

  teardown(_reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#dialing?.destroy();
    this.#dialing = null;
    this.#pipe?.destroy();
    this.#pipe = null;
    this.#client.destroy();
  }
}
