// Socket reads without Node's allocation and stream push per read. Left to itself, Node
// mallocs 64 KiB for every read, shrinks it to what came, wraps it in a new ArrayBuffer
// the GC must later sweep, and pushes it through the Readable machinery (push, addChunk,
// a nextTick to read more) before the 'data' listener sees it: about 2.5 µs of a small
// read on this machine, and a request takes two (native-bench/results/socket-reads-2026-12-08.md). With `onread` (net.Socket's option)
// the kernel reads into memory given here and this module hands the bytes to the same
// 'data' listeners, taking Node's own way (push) whenever its fast path would not emit at
// once (paused, data already buffered, no listener yet), so nothing a listener sees changes.
// One thing Node does differently for onread sockets is undone: its pause() stops reading
// at once, where a socket read Node's way goes on reading into its buffer up to the
// high-water mark, and so still sees a peer's FIN or reset while paused (a client that
// gives up while its request waits for an upstream link). ReadingSocket keeps that.
//
// Every Buffer a listener gets is its own for good, as with Node's reads: listeners keep
// reads (heads in pieces, held bodies, tapes) and write them without copying, and a write
// the kernel takes only in part keeps the rest by reference. So:
// - a read lands in one 16 KiB slab all sockets share, and is copied out to a Buffer of its
//   own before any other read can land there (reads run one at a time on the loop). The
//   copy is Buffer.allocUnsafe's: below 4 KiB a slice of Node's shared 8 KiB pool, as
//   Buffer.from gives; an ArrayBuffer of its own per read would cost most of what is saved;
// - when 16 KiB or more are expected (the last read filled its memory, or the reader says a
//   body goes on: expectRead), the next read of that socket goes to fresh 64 KiB of its
//   own instead, handed on as it is and never read into again.
// The slab is small so that the first read of a large message, which nothing foretold,
// copies at most 16 KiB (about what one more read costs) rather than 64: the rest comes in
// reads of its own. Nothing is kept per socket, so an idle socket holds no memory for its
// next read but its share of the slab.

import { Buffer } from 'node:buffer';
import diagnostics_channel from 'node:diagnostics_channel';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { copyRange, view } from './bytes.js';

/** A read into memory of its own may bring this much: Node's own read size. */
const OWN_BYTES = 65536;
/** The shared slab's size: a read expected at least this large goes to memory of its own. */
const SHARED_BYTES = 16384;

const SLAB = Buffer.allocUnsafeSlow(SHARED_BYTES);
const OWN = Buffer.allocUnsafeSlow;
const COPY = Buffer.allocUnsafe;

/** The socket whose read is being delivered (null between reads): hints count only for it. */
let reading: net.Socket | null = null;
/** What a listener said of the socket being read (expectRead): H_NONE, or whether SHARED_BYTES or more follow. */
let hint = 0;
const H_NONE = 0;
const H_SMALL = 1;
const H_LARGE = 2;
/** The next read (of the socket just read) gets memory of its own. */
let large = false;

/** What node:stream keeps of a Readable's state that the fast path reads (the fields Node 20's addChunk tests). */
interface ReadableInternals {
  flowing: boolean | null;
  length: number;
  sync: boolean;
  awaitDrainWriters: unknown;
  dataEmitted: boolean;
}

/** Node calls this after each read (and once for a new socket): where the socket's next read goes. */
function nextMemory(): Buffer {
  const own = large;
  large = false;
  return own ? OWN(OWN_BYTES) : SLAB;
}

/** Node calls this with each read's byte count and the memory it went to; false stops reading (as a full push() does). */
function onRead(this: net.Socket, nread: number, memory: Buffer): boolean {
  let chunk: Buffer;
  if (memory === SLAB) {
    chunk = COPY(nread);
    copyRange(chunk, SLAB, 0, nread, 0);
  } else {
    chunk = view(memory, 0, nread);
  }
  // A read that filled its memory leaves more behind, most likely.
  const full = nread === memory.length;
  large = false;
  const state = (this as unknown as { _readableState: ReadableInternals })._readableState;
  // Node's addChunk emits at once only when all of this holds; otherwise it buffers, and so does push().
  if (state.flowing !== true || state.length !== 0 || state.sync || state.awaitDrainWriters !== null || this.listenerCount('data') === 0) {
    large = full;
    return this.push(chunk);
  }
  if (!state.dataEmitted) state.dataEmitted = true;
  reading = this;
  hint = H_NONE;
  try {
    this.emit('data', chunk);
  } catch (err) {
    // Node asks nextMemory() only after a read that returned, so memory of this socket's
    // own would be read into again while a listener holds it: a socket that threw reads no more.
    this.destroy();
    throw err;
  } finally {
    reading = null;
  }
  large = hint === H_NONE ? full : hint === H_LARGE;
  return true;
}

/** The `onread` option for net.Socket / net.connect: reads delivered as above. */
export const SOCKET_READS = Object.freeze({ buffer: nextMemory, callback: onRead });

/** Called while a read of `socket` is delivered: `bytes` more are known to follow (a body's rest), so its next read goes to memory of its own when that is worth it. */
export function expectRead(socket: net.Socket, bytes: number): void {
  if (socket === reading) hint = bytes >= SHARED_BYTES ? H_LARGE : H_SMALL;
}

const DUPLEX_PAUSE = Duplex.prototype.pause;

/** A net.Socket for SOCKET_READS whose pause() stops the flow of 'data' but not the reading, as on a socket read Node's way. */
export class ReadingSocket extends net.Socket {
  /** Stops 'data' events; reads go on into the stream's buffer until its high-water mark (onRead's push() then stops them). */
  override pause(): this {
    DUPLEX_PAUSE.call(this);
    return this;
  }
}

const clientSocketChannel = diagnostics_channel.channel('net.client.socket');

/** net.connect() for `options` that carry `onread: SOCKET_READS`: the socket is a ReadingSocket. */
export function connectReading(options: net.NetConnectOpts): net.Socket {
  const socket = new ReadingSocket(options as net.SocketConstructorOpts);
  if (clientSocketChannel.hasSubscribers) clientSocketChannel.publish({ socket });
  return socket.connect(options as net.TcpNetConnectOpts);
}
