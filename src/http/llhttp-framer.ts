// The Framer contract and the state machine every llhttp binding shares: pause at the
// end of each message, skip bodies of HEAD answers, turn llhttp's return codes into
// FRAME_* events. A binding only says how to call its llhttp.

import assert from 'node:assert';

// llhttp errno values (llhttp.h); pinned by test/unit/http/framer.test.ts.
export const HPE_OK = 0;
export const HPE_PAUSED = 21;
export const HPE_PAUSED_UPGRADE = 22;

/** execute() consumed all input; the message goes on. */
export const FRAME_MORE = 0;
/** execute() stopped at the end of a message; `offset` is where the next one starts. */
export const FRAME_END = 1;
/** execute() found invalid framing; `errorName` / `errorReason` say what. */
export const FRAME_ERROR = 2;

/** One llhttp parser framing a stream of requests or of responses. */
export interface Framer {
  /** True once the current message's head is complete (http/head.ts reads its bytes). */
  readonly headComplete: boolean;
  /** llhttp's verdict after the head: the connection may carry another message. */
  readonly keepAlive: boolean;
  /** True once the current message has ended. */
  readonly ended: boolean;
  /** After FRAME_END: bytes of the input that belong to the current message. */
  readonly offset: number;
  readonly errorName: string;
  readonly errorReason: string;
  /** The next response answers a HEAD request, so it has no body whatever it says. */
  expectNoBody(skip: boolean): void;
  /** Feeds bytes; returns FRAME_MORE, FRAME_END (see `offset`) or FRAME_ERROR. */
  execute(data: Uint8Array): number;
  /** Signals EOF: true when that ends the current message (a body delimited by close). */
  finish(): boolean;
  /** Prepares for the next message on the same connection. */
  next(): void;
  /**
   * The current message's head was framed without llhttp, as a head it framed before
   * (http/head.ts framedBefore), before any byte of the message was fed: its body is counted
   * by the caller, and `keepAlive` is what llhttp said of that head.
   */
  framedAhead(keepAlive: boolean): void;
  /** Frees the parser; the framer is unusable afterwards. */
  destroy(): void;
}

/** The shared framing state machine; subclasses bind it to one llhttp build. */
export abstract class LlhttpFramer implements Framer {
  #paused = false;
  #skipBody = false;
  #freed = false;
  headComplete = false;
  keepAlive = false;
  ended = false;
  offset = 0;
  errorName = '';
  errorReason = '';

  /** Runs llhttp_execute over `data`; returns its errno. */
  protected abstract run(data: Uint8Array): number;
  /** Bytes of the last input llhttp consumed before pausing or failing. */
  protected abstract errorPosition(): number;
  /** llhttp_errno_name and llhttp_get_error_reason for a failed execute. */
  protected abstract describe(ret: number): [name: string, reason: string];
  protected abstract resume(): void;
  protected abstract reset(): void;
  /** Runs llhttp_finish; returns its errno. */
  protected abstract runFinish(): number;
  protected abstract free(): void;

  /** The binding's on_headers_complete; returning 1 tells llhttp there is no body. */
  protected headersComplete(keepAlive: boolean): number {
    this.headComplete = true;
    this.keepAlive = keepAlive;
    return this.#skipBody ? 1 : 0;
  }

  /** The binding's on_message_complete: pausing lets the caller act before the next message. */
  protected messageComplete(): number {
    this.ended = true;
    return HPE_PAUSED;
  }

  expectNoBody(skip: boolean): void {
    this.#skipBody = skip;
  }

  execute(data: Uint8Array): number {
    assert(!this.ended, 'execute() after the end of a message: call next() first');
    if (this.#paused) {
      this.resume();
      this.#paused = false;
    }
    const ret = this.run(data);
    if (ret === HPE_OK) return FRAME_MORE;
    if (ret === HPE_PAUSED || ret === HPE_PAUSED_UPGRADE) {
      this.#paused = true;
      this.offset = this.errorPosition();
      if (!this.ended || this.offset < 0 || this.offset > data.length) {
        // A pause llhttp chose itself (e.g. before an upgrade body): not a framing we forward.
        this.errorName = 'HPE_PAUSED_UPGRADE';
        this.errorReason = 'unexpected pause';
        return FRAME_ERROR;
      }
      return FRAME_END;
    }
    [this.errorName, this.errorReason] = this.describe(ret);
    return FRAME_ERROR;
  }

  finish(): boolean {
    if (this.ended) return true;
    if (!this.headComplete) return false;
    const ret = this.runFinish();
    return (ret === HPE_OK || ret === HPE_PAUSED) && this.ended;
  }

  next(): void {
    this.reset();
    this.#paused = false;
    this.#skipBody = false;
    this.headComplete = false;
    this.keepAlive = false;
    this.ended = false;
    this.offset = 0;
  }

  framedAhead(keepAlive: boolean): void {
    this.headComplete = true;
    this.keepAlive = keepAlive;
  }

  destroy(): void {
    // Once only: a parser freed twice would be handed to two framers (the binding reuses them).
    if (this.#freed) return;
    this.#freed = true;
    this.free();
  }
}
