// A client socket's five listeners are shared by every exchange (no closures per
// connection): each finds its handler through a tag on the socket it fires on. An
// untagged socket is ignored rather than trusted. Upstream sockets route theirs the same
// way (upstream/upstream-events.ts).

import type net from 'node:net';

/** Whoever reads a client socket: its events come here. */
export interface ClientHandler {
  clientData(chunk: Buffer): void;
  clientEnd(): void;
  clientError(err: Error): void;
  clientClose(): void;
  clientDrain(): void;
}

const HANDLER = Symbol('shadowcat.client-handler');
type Tagged = net.Socket & { [HANDLER]?: ClientHandler };

function onData(this: net.Socket, chunk: Buffer): void {
  (this as Tagged)[HANDLER]?.clientData(chunk);
}

function onEnd(this: net.Socket): void {
  (this as Tagged)[HANDLER]?.clientEnd();
}

function onError(this: net.Socket, err: Error): void {
  (this as Tagged)[HANDLER]?.clientError(err);
}

function onClose(this: net.Socket): void {
  (this as Tagged)[HANDLER]?.clientClose();
}

function onDrain(this: net.Socket): void {
  (this as Tagged)[HANDLER]?.clientDrain();
}

// One table for adding and removing, so the two cannot drift apart.
const LISTENERS = [['data', onData], ['end', onEnd], ['error', onError], ['close', onClose], ['drain', onDrain]] as const;

/** Sends `socket`'s events to `handler`. */
export function bindClient(socket: net.Socket, handler: ClientHandler): void {
  (socket as Tagged)[HANDLER] = handler;
  for (const [event, listener] of LISTENERS) socket.on(event, listener);
}

/** Sends the events of a socket bindClient() bound to another handler (an idle connection shedding its exchange, or waking with a fresh one). */
export function handClient(socket: net.Socket, handler: ClientHandler): void {
  (socket as Tagged)[HANDLER] = handler;
}

/** Takes every listener off: the socket is handed on (a lingering close, a tunnel). */
export function unbindClient(socket: net.Socket): void {
  for (const [event, listener] of LISTENERS) socket.removeListener(event, listener);
}

/** Stops reading: a socket about to be destroyed keeps its error and close listeners, so a late error is still handled. */
export function stopClientData(socket: net.Socket): void {
  socket.removeListener('data', onData);
}
