// An upstream socket passes between holders (the exchange using it, the Parked slot
// keeping it idle, the next exchange), up to several times per client connection with
// --upstream-pool or single-session's shared link. Its five listeners are added once, at
// its first holder, and route each event to whoever holds it now: a hand-over is one
// property write instead of nine listeners added and removed.

import type net from 'node:net';

/** Whoever holds an upstream socket now: its events come here. */
export interface UpstreamHandler {
  upstreamData(chunk: Buffer): void;
  upstreamEnd(): void;
  upstreamError(err: NodeJS.ErrnoException): void;
  upstreamClose(): void;
  upstreamDrain(): void;
}

const HANDLER = Symbol('shadowcat.upstream-handler');
/** undefined: not routed yet; null: routed, held by nobody (events are dropped). */
type Routed = net.Socket & { [HANDLER]?: UpstreamHandler | null };

function onData(this: net.Socket, chunk: Buffer): void {
  (this as Routed)[HANDLER]?.upstreamData(chunk);
}

function onEnd(this: net.Socket): void {
  (this as Routed)[HANDLER]?.upstreamEnd();
}

function onError(this: net.Socket, err: NodeJS.ErrnoException): void {
  (this as Routed)[HANDLER]?.upstreamError(err);
}

function onClose(this: net.Socket): void {
  (this as Routed)[HANDLER]?.upstreamClose();
}

function onDrain(this: net.Socket): void {
  (this as Routed)[HANDLER]?.upstreamDrain();
}

/** Sends `socket`'s events to `handler` from now on (null: to nobody). */
export function routeUpstream(socket: net.Socket, handler: UpstreamHandler | null): void {
  const s = socket as Routed;
  if (s[HANDLER] === undefined) {
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on('drain', onDrain);
  }
  s[HANDLER] = handler;
}

/** Takes the routing listeners off: the socket is piped elsewhere (a tunnel after 101). */
export function unrouteUpstream(socket: net.Socket): void {
  const s = socket as Routed;
  if (s[HANDLER] === undefined) return;
  socket.removeListener('data', onData);
  socket.removeListener('end', onEnd);
  socket.removeListener('error', onError);
  socket.removeListener('close', onClose);
  socket.removeListener('drain', onDrain);
  // Back to "not routed" (so a later routeUpstream adds the listeners again); undefined
  // rather than `delete`, which would slow every later access to the socket.
  s[HANDLER] = undefined;
}
