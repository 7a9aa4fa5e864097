// HTTP/1.1 message framing over llhttp (strict mode): the interface the corridor uses.
// A framer validates bytes and finds where each message ends; it never copies or
// converts bodies for the caller. Two bindings implement it; createFramer() picks the
// one native-bench/parser-bench.mjs measured fastest.

import { UndiciLlhttpFramer } from './llhttp-undici-framer.js';

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

/** What a completed head told the parser (the raw bytes are read by http/head.ts). */
export interface FrameHead {
  readonly versionMinor: number;
  readonly method: number;
  readonly statusCode: number;
  readonly upgrade: boolean;
  readonly shouldKeepAlive: boolean;
}

/** One llhttp parser framing a stream of requests or of responses. */
export interface Framer {
  /** Head of the current message once its headers are complete, else null. */
  readonly head: FrameHead | null;
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
  /** Frees the parser; the framer is unusable afterwards. */
  destroy(): void;
}

/** A framer on the binding in use. */
export function createFramer(kind: 'request' | 'response'): Framer {
  return new UndiciLlhttpFramer(kind);
}
