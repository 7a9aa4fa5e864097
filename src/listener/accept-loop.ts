// The node:net accept loop. Admission (limits, draining) is decided before anything is
// allocated for a connection; a refused one gets its answer and is closed.

import net from 'node:net';
import { acceptWithStableShape } from './stable-accept.js';

/** Decides each accepted connection's fate. */
export interface AcceptHandlers {
  /** null admits; otherwise the refusal reason (metrics label). */
  admit(clientIp: string): string | null;
  /** Writes the refusal (or nothing, for L4) and closes the socket. */
  refuse(socket: net.Socket, reason: string): void;
  /** Takes ownership of an admitted connection. */
  accept(socket: net.Socket, clientIp: string, clientPort: number): void;
}

interface Peer {
  address?: string;
  port?: number;
}
interface PeerHandle {
  getpeername?(out: Peer): number;
}
// socket.remoteAddress caches the peer in an object and a new property the socket keeps
// for life (~64 bytes of every idle session). Asked of the handle into one shared object,
// nothing stays; the public getter is the fallback should the handle not answer so.
const PEER: Peer = {};
// Each read makes a new address string, which the session keeps; clients mostly come from
// a few addresses, so one equal to the last one is that same string (32 bytes a session).
let lastAddress = '';

/** The peer's address and port, without leaving Node's cached copy on the socket. */
function peerOf(socket: net.Socket): Peer {
  const handle = (socket as unknown as { _handle?: PeerHandle | null })._handle;
  PEER.address = undefined;
  PEER.port = undefined;
  if (handle == null || typeof handle.getpeername !== 'function' || handle.getpeername(PEER) !== 0 || typeof PEER.address !== 'string') {
    PEER.address = socket.remoteAddress;
    PEER.port = socket.remotePort;
  }
  if (PEER.address === lastAddress) PEER.address = lastAddress;
  else if (PEER.address !== undefined) lastAddress = PEER.address;
  return PEER;
}

/** A net.Server whose connections go through admission; listen and close it yourself. */
export function createAcceptLoop(handlers: AcceptHandlers): net.Server {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false }, (socket) => {
    const peer = peerOf(socket);
    const ip = peer.address;
    if (ip === undefined) {
      // The peer is already gone.
      socket.destroy();
      return;
    }
    const refusal = handlers.admit(ip);
    if (refusal !== null) handlers.refuse(socket, refusal);
    else handlers.accept(socket, ip, peer.port ?? 0);
  });
  acceptWithStableShape(server, true);
  return server;
}
