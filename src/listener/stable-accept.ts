// Accepting a connection without a new hidden class per socket. Node 20's Socket
// constructor copies its options ({ ...options }) and then adds emitClose, autoDestroy and
// decodeStrings to the copy. Under Node 20's V8, a property added to an object copied by
// spread makes a new hidden class every time, so every socket built that way misses
// about thirty inline caches in the stream constructors that read the copy: roughly 60k
// instructions, more than the rest of a short connection's work in the proxy
// (native-bench/results/instructions-2026-12-07-accept.md). Node's accept callback builds
// those options itself, so this one takes its place on the listening handle: the same
// steps, with options that carry the three properties from the start, which the copy
// then only overwrites. Where Node's callback does something this one does not (an
// accept error, maxConnections, a blockList in Node versions that have one), Node's own
// runs. A half-open socket also sheds the 'end' listener Node's constructor adds, which
// acts only on sockets that are not half-open: the first 'end' listener of the socket's
// owner is then held alone, not in an array of two (64 bytes of each idle session).

import diagnostics_channel from 'node:diagnostics_channel';
import net from 'node:net';
import { ReadingSocket, SOCKET_READS } from '../socket-reads.js';

/** What Node's accept callback reads of the server it belongs to (node:net's fields). */
interface ServerState {
  _handle?: ListenHandle | null;
  _connections: number;
  maxConnections?: number;
  blockList?: unknown;
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  /** Seconds. */
  keepAliveInitialDelay?: number;
  highWaterMark?: number;
}

type AcceptCallback = (this: ListenHandle, err: number, clientHandle: object) => void;

interface ListenHandle {
  onconnection?: AcceptCallback;
}

/** What a socket keeps of the server that accepted it (Node counts connections down through it). */
interface AcceptedSocket {
  server: net.Server;
  _server: net.Server;
}

const socketChannel = diagnostics_channel.channel('net.server.socket');

/**
 * Has `server` (an http.Server too) accept through this module's callback each time it
 * starts listening. `reads`: its sockets are read through socket-reads.ts, for servers whose
 * sockets only 'data' listeners read (node:http reads its sockets its own way).
 */
export function acceptWithStableShape(server: net.Server, reads = false): void {
  server.on('listening', () => install(server, reads));
}

function install(server: net.Server, reads: boolean): void {
  const state = server as unknown as ServerState;
  const handle = state._handle;
  // A Node whose listening handle does not look like this keeps its own callback.
  if (handle == null || typeof handle.onconnection !== 'function') return;
  const nodeAccept = handle.onconnection;
  handle.onconnection = function stableAccept(err, clientHandle) {
    if (err !== 0 || state.maxConnections != null || state.blockList != null) {
      nodeAccept.call(this, err, clientHandle);
      return;
    }
    const socket = new (reads ? ReadingSocket : net.Socket)({
      handle: clientHandle, allowHalfOpen: state.allowHalfOpen === true, pauseOnCreate: state.pauseOnConnect === true, readable: true, writable: true,
      readableHighWaterMark: state.highWaterMark, writableHighWaterMark: state.highWaterMark, emitClose: false, autoDestroy: true, decodeStrings: false, onread: reads ? SOCKET_READS : undefined,
    } as net.SocketConstructorOpts);
    if (socket.allowHalfOpen) dropNoopEnd(socket);
    if (state.noDelay === true) socket.setNoDelay(true);
    if (state.keepAlive === true) socket.setKeepAlive(true, (state.keepAliveInitialDelay ?? 0) * 1000);
    state._connections++;
    const accepted = socket as unknown as AcceptedSocket;
    accepted.server = server;
    accepted._server = server;
    server.emit('connection', socket);
    if (socketChannel.hasSubscribers) socketChannel.publish({ socket });
  };
}

// The 'end' listener Node's Socket constructor adds (onReadableStreamEnd), found once on a
// socket with no handle; null where a Node version adds none, and then nothing is taken off.
const NODE_END: ((...args: unknown[]) => void) | null = (() => {
  const ends = new net.Socket().listeners('end');
  return ends.length === 1 && ends[0]!.name === 'onReadableStreamEnd' ? (ends[0] as (...args: unknown[]) => void) : null;
})();

/** Takes off the constructor's 'end' listener of a half-open socket, where it does nothing. */
function dropNoopEnd(socket: net.Socket): void {
  if (NODE_END !== null) socket.removeListener('end', NODE_END);
}
