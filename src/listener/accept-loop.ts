// The node:net accept loop. Admission (limits, draining) is decided before anything is
// allocated for a connection; a refused one gets its answer and is closed.

import net from 'node:net';

/** Decides each accepted connection's fate. */
export interface AcceptHandlers {
  /** null admits; otherwise the refusal reason (metrics label). */
  admit(clientIp: string): string | null;
  /** Writes the refusal (or nothing, for L4) and closes the socket. */
  refuse(socket: net.Socket, reason: string): void;
  /** Takes ownership of an admitted connection. */
  accept(socket: net.Socket, clientIp: string, clientPort: number): void;
}

/** A net.Server whose connections go through admission; listen and close it yourself. */
export function createAcceptLoop(handlers: AcceptHandlers): net.Server {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false }, (socket) => {
    const ip = socket.remoteAddress;
    if (ip === undefined) {
      // The peer is already gone.
      socket.destroy();
      return;
    }
    const refusal = handlers.admit(ip);
    if (refusal !== null) handlers.refuse(socket, refusal);
    else handlers.accept(socket, ip, socket.remotePort ?? 0);
  });
  return server;
}
