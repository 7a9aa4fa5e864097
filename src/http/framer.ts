// HTTP/1.1 message framing over llhttp (strict mode). The framer validates bytes and
// finds where each message ends; it never copies or converts bodies for the caller.
// This is the only file that knows the binding, so it can be swapped by measurement.

import assert from 'node:assert';
import { createParser, TYPE, type HeadersComplete, type Parser } from 'llhttp-wasm';

// llhttp errno values (llhttp.h); pinned by test/unit/http/framer.test.ts.
const HPE_OK = 0;
const HPE_PAUSED = 21;
const HPE_PAUSED_UPGRADE = 22;

/** execute() consumed all input; the message goes on. */
export const FRAME_MORE = 0;
/** execute() stopped at the end of a message; `offset` is where the next one starts. */
export const FRAME_END = 1;
/** execute() found invalid framing; `errorName` / `errorReason` say what. */
export const FRAME_ERROR = 2;

/** What a completed head told the parser (the raw bytes are read by http/head.ts). */
export interface FrameHead {
  readonly versionMinor: number;
  readonly method: number;
  readonly statusCode: number;
  readonly upgrade: boolean;
  readonly shouldKeepAlive: boolean;
}

/** One llhttp instance framing a stream of requests or of responses. */
export class MessageFramer {
  readonly #parser: Parser;
  #paused = false;
  #skipBody = false;
  /** Head of the current message once its headers are complete, else null. */
  head: FrameHead | null = null;
  /** True once the current message has ended. */
  ended = false;
  /** After FRAME_END: bytes of the input that belong to the current message. */
  offset = 0;
  errorName = '';
  errorReason = '';

  constructor(kind: 'request' | 'response') {
    this.#parser = createParser(kind === 'request' ? TYPE.REQUEST! : TYPE.RESPONSE!);
    this.#parser.onHeadersComplete = (msg: HeadersComplete): number => {
      this.head = {
        versionMinor: msg.versionMinor,
        method: msg.method ?? -1,
        statusCode: msg.statusCode ?? 0,
        upgrade: msg.upgrade,
        shouldKeepAlive: msg.shouldKeepAlive,
      };
      // 1 tells llhttp the message has no body (the answer to a HEAD request).
      return this.#skipBody ? 1 : 0;
    };
    // Pausing at the end of every message lets the caller act before the next one starts.
    this.#parser.onMessageComplete = (): number => {
      this.ended = true;
      return HPE_PAUSED;
    };
  }

  /** The next response answers a HEAD request, so it has no body whatever it says. */
  expectNoBody(skip: boolean): void {
    this.#skipBody = skip;
  }

  /** Feeds bytes; returns FRAME_MORE, FRAME_END (see `offset`) or FRAME_ERROR. */
  execute(data: Uint8Array): number {
    assert(!this.ended, 'execute() after the end of a message: call next() first');
    if (this.#paused) {
      this.#parser.resume();
      this.#paused = false;
    }
    const ret = this.#parser.execute(data);
    if (ret === HPE_OK) return FRAME_MORE;
    if (ret === HPE_PAUSED || ret === HPE_PAUSED_UPGRADE) {
      this.#paused = true;
      this.offset = this.#parser.getErrorPosition();
      assert(this.ended && this.offset >= 0 && this.offset <= data.length);
      return FRAME_END;
    }
    this.errorName = this.#parser.getErrorName(ret) ?? `HPE_${ret}`;
    this.errorReason = this.#parser.getErrorReason(ret) ?? 'invalid framing';
    return FRAME_ERROR;
  }

  /** Signals EOF: true when that ends the current message (a body delimited by close). */
  finish(): boolean {
    if (this.ended) return true;
    if (this.head === null) return false;
    const ret = this.#parser.finish();
    return (ret === HPE_OK || ret === HPE_PAUSED) && this.ended;
  }

  /** Prepares for the next message on the same connection. */
  next(): void {
    this.#parser.reset();
    this.#paused = false;
    this.#skipBody = false;
    this.head = null;
    this.ended = false;
    this.offset = 0;
  }

  /** Frees the parser's wasm memory; the framer is unusable afterwards. */
  destroy(): void {
    this.#parser.destroy();
  }
}
