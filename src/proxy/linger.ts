// Closing a client connection after a final answer without losing that answer: if we
// destroy a socket with unread input, the kernel sends RST and the client may never
// read our response. So we half-close, discard input for a bounded time, then destroy.

import type net from 'node:net';

/** Default time we keep reading and discarding after our last byte. */
export const LINGER_MS = 2000;

function discard(): void {}

/** Writes `data` (if any), half-closes, discards input until the client closes or `lingerMs` passes. */
export function endAndLinger(socket: net.Socket, data: Buffer | null, lingerMs = LINGER_MS): void {
  if (socket.destroyed) return;
  socket.removeAllListeners('data');
  socket.on('data', discard);
  socket.on('error', discard);
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  if (data === null) socket.end();
  else socket.end(data);
  socket.resume();
}
