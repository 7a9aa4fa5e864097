// Cooperative drain of a GET event stream (docs/reference.md "MCP-aware resilience"): such
// a stream carries no responses, so on shutdown it is ended at an event boundary after a
// `retry:` field and the client reconnects at once (to another replica behind a balancer).
// This watches the last bytes of the stream to know where it stands; it knows no sockets.

const SSE_RETRY = 'retry: 1000\n\n';
/** The tail of a stream that has sent nothing yet: a boundary. */
const SSE_START = 0x0a0a;
/** The last bytes of a chunked stream ended by the drain: the retry field as a chunk, then the last chunk. */
const CHUNKED_RETRY = Buffer.from(`${SSE_RETRY.length.toString(16)}\r\n${SSE_RETRY}\r\n0\r\n\r\n`, 'latin1');
const PLAIN_RETRY = Buffer.from(SSE_RETRY, 'latin1');

/** True when an event stream whose last bytes are `tail` (newest lowest) stands between events. */
export function atSseBoundary(tail: number): boolean {
  const two = tail & 0xffff;
  return two === 0x0a0a || two === 0x0d0d || (tail & 0xffffff) === 0x0a0d0a || tail === 0x0d0a0d0a;
}

/** One connection's view of the event stream answering its GET, if any. */
export class StreamDrain {
  /** The response in flight is an event stream answering a GET. */
  watching = false;
  /** Shutdown asked for the stream to end at its next event boundary. */
  draining = false;
  #tail = SSE_START;

  /** A response starts: watched when it is a GET's event stream. */
  begin(sseGet: boolean): void {
    this.watching = sseGet;
    this.draining = false;
    this.#tail = SSE_START;
  }

  /** Data of the stream (without chunked framing). */
  track(data: Buffer): void {
    let tail = this.#tail;
    for (let i = Math.max(0, data.length - 4); i < data.length; i++) tail = ((tail << 8) | data[i]!) >>> 0;
    this.#tail = tail;
  }

  /** True when the stream stands between events. */
  get atBoundary(): boolean {
    return atSseBoundary(this.#tail);
  }

  /** What ends the stream: the retry field, framed as the stream is; null for a length-delimited one (no room for more). */
  lastBytes(chunked: boolean, lengthDelimited: boolean): Buffer | null {
    if (chunked) return CHUNKED_RETRY;
    return lengthDelimited ? null : PLAIN_RETRY;
  }

  /** The response ended. */
  end(): void {
    this.watching = false;
    this.draining = false;
  }
}
