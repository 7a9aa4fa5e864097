// HTTP/1.1 message framing over llhttp (strict mode): the interface the corridor uses.
// A framer validates bytes and finds where each message ends; it never copies or
// converts bodies for the caller. Two bindings implement it; createFramer() picks the
// one native-bench/parser-bench.mjs measured fastest.

import type { Framer } from './llhttp-framer.js';
import { UndiciLlhttpFramer } from './llhttp-undici-framer.js';

export { FRAME_END, FRAME_ERROR, FRAME_MORE, HPE_OK, HPE_PAUSED, HPE_PAUSED_UPGRADE } from './llhttp-framer.js';
export type { Framer } from './llhttp-framer.js';

/** A framer on the binding in use. */
export function createFramer(kind: 'request' | 'response'): Framer {
  return new UndiciLlhttpFramer(kind);
}
