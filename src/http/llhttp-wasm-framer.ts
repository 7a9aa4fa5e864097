// The Framer on the `llhttp-wasm` npm package. Its wrapper copies every input into wasm
// memory through malloc/free and decodes every header into a string, which costs more
// than the framing itself (see native-bench/parser-bench.mjs); kept as the alternative
// binding the benchmark measures against.

import assert from 'node:assert';
import { createParser, TYPE, type HeadersComplete, type Parser } from 'llhttp-wasm';
import { FRAME_END, FRAME_ERROR, FRAME_MORE, HPE_OK, HPE_PAUSED, HPE_PAUSED_UPGRADE, type FrameHead, type Framer } from './framer.js';

/** A Framer on the llhttp-wasm npm package. */
export class LlhttpWasmFramer implements Framer {
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
      if (!this.ended || this.offset < 0 || this.offset > data.length) {
        // A pause llhttp chose itself (e.g. before an upgrade body): not a framing we forward.
        this.errorName = 'HPE_PAUSED_UPGRADE';
        this.errorReason = 'unexpected pause';
        return FRAME_ERROR;
      }
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
