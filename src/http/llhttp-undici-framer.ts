// The Framer on llhttp's wasm build as shipped by undici (Node's own HTTP client), with
// a binding that asks llhttp for offsets only: one copy of the input into wasm memory,
// no string per header, no allocation per callback. The wasm instance and its input
// area are shared by every framer of the process: execute() is synchronous, so only one
// parser runs at a time.

import assert from 'node:assert';
import { createRequire } from 'node:module';
import { FRAME_END, FRAME_ERROR, FRAME_MORE, HPE_OK, HPE_PAUSED, HPE_PAUSED_UPGRADE, type FrameHead, type Framer } from './framer.js';

const require = createRequire(import.meta.url);

// The little of the WebAssembly API used here (lib.dom is not part of this build).
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface LlhttpExports {
  memory: { buffer: ArrayBuffer };
  malloc(size: number): number;
  free(ptr: number): void;
  llhttp_alloc(type: number): number;
  llhttp_free(ptr: number): void;
  llhttp_execute(ptr: number, data: number, len: number): number;
  llhttp_finish(ptr: number): number;
  llhttp_reset(ptr: number): void;
  llhttp_resume(ptr: number): void;
  llhttp_get_error_pos(ptr: number): number;
  llhttp_get_error_reason(ptr: number): number;
  llhttp_errno_name(code: number): number;
  llhttp_get_http_minor(ptr: number): number;
  llhttp_get_method(ptr: number): number;
}

const TYPE_REQUEST = 1;
const TYPE_RESPONSE = 2;

// The framer whose execute()/finish() is running: callbacks find their parser here.
let current: UndiciLlhttpFramer | null = null;

function loadLlhttp(): LlhttpExports {
  let bytes: Buffer;
  try {
    bytes = require('undici/lib/llhttp/llhttp_simd-wasm.js') as Buffer;
    new Wasm.Module(bytes);
  } catch {
    bytes = require('undici/lib/llhttp/llhttp-wasm.js') as Buffer;
  }
  const ok = (): number => 0;
  const instance = new Wasm.Instance(new Wasm.Module(bytes), {
    env: {
      wasm_on_url: ok,
      wasm_on_status: ok,
      wasm_on_message_begin: ok,
      wasm_on_header_field: ok,
      wasm_on_header_value: ok,
      wasm_on_body: ok,
      wasm_on_headers_complete: (_p: number, statusCode: number, upgrade: number, keepAlive: number): number =>
        current!.onHeadersComplete(statusCode, upgrade, keepAlive),
      wasm_on_message_complete: (): number => current!.onMessageComplete(),
    },
  });
  return instance.exports as unknown as LlhttpExports;
}

let llhttp: LlhttpExports | null = null;
let inputPtr = 0;
let inputSize = 0;

function cString(ptr: number): string {
  if (ptr === 0) return '';
  const mem = new Uint8Array(llhttp!.memory.buffer);
  const end = mem.indexOf(0, ptr);
  return Buffer.from(mem.buffer, ptr, end - ptr).toString('latin1');
}

/** A Framer on undici's llhttp wasm. */
export class UndiciLlhttpFramer implements Framer {
  readonly #ptr: number;
  #paused = false;
  #skipBody = false;
  head: FrameHead | null = null;
  ended = false;
  offset = 0;
  errorName = '';
  errorReason = '';

  constructor(kind: 'request' | 'response') {
    llhttp ??= loadLlhttp();
    this.#ptr = llhttp.llhttp_alloc(kind === 'request' ? TYPE_REQUEST : TYPE_RESPONSE);
  }

  /** @internal called from wasm */
  onHeadersComplete(statusCode: number, upgrade: number, keepAlive: number): number {
    const p = this.#ptr;
    this.head = {
      versionMinor: llhttp!.llhttp_get_http_minor(p),
      method: statusCode === 0 ? llhttp!.llhttp_get_method(p) : -1,
      statusCode,
      upgrade: upgrade === 1,
      shouldKeepAlive: keepAlive === 1,
    };
    // 1 tells llhttp the message has no body (the answer to a HEAD request).
    return this.#skipBody ? 1 : 0;
  }

  /** @internal called from wasm: pausing at the end of every message lets the caller act. */
  onMessageComplete(): number {
    this.ended = true;
    return HPE_PAUSED;
  }

  expectNoBody(skip: boolean): void {
    this.#skipBody = skip;
  }

  execute(data: Uint8Array): number {
    assert(!this.ended, 'execute() after the end of a message: call next() first');
    const ll = llhttp!;
    if (this.#paused) {
      ll.llhttp_resume(this.#ptr);
      this.#paused = false;
    }
    const len = data.length;
    if (len > inputSize) {
      if (inputPtr !== 0) ll.free(inputPtr);
      inputSize = Math.max(len, 65536);
      inputPtr = ll.malloc(inputSize);
    }
    new Uint8Array(ll.memory.buffer, inputPtr, len).set(data);
    current = this;
    const ret = ll.llhttp_execute(this.#ptr, inputPtr, len);
    current = null;
    if (ret === HPE_OK) return FRAME_MORE;
    if (ret === HPE_PAUSED || ret === HPE_PAUSED_UPGRADE) {
      this.#paused = true;
      this.offset = ll.llhttp_get_error_pos(this.#ptr) - inputPtr;
      if (!this.ended || this.offset < 0 || this.offset > len) {
        // A pause llhttp chose itself (e.g. before an upgrade body): not a framing we forward.
        this.errorName = 'HPE_PAUSED_UPGRADE';
        this.errorReason = 'unexpected pause';
        return FRAME_ERROR;
      }
      return FRAME_END;
    }
    this.errorName = cString(ll.llhttp_errno_name(ret));
    this.errorReason = cString(ll.llhttp_get_error_reason(this.#ptr));
    return FRAME_ERROR;
  }

  finish(): boolean {
    if (this.ended) return true;
    if (this.head === null) return false;
    current = this;
    const ret = llhttp!.llhttp_finish(this.#ptr);
    current = null;
    return (ret === HPE_OK || ret === HPE_PAUSED) && this.ended;
  }

  next(): void {
    llhttp!.llhttp_reset(this.#ptr);
    this.#paused = false;
    this.#skipBody = false;
    this.head = null;
    this.ended = false;
    this.offset = 0;
  }

  destroy(): void {
    llhttp!.llhttp_free(this.#ptr);
  }
}
