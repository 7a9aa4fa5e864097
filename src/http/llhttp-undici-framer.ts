// The Framer on llhttp's wasm build as shipped by undici (Node's own HTTP client), with
// a binding that asks llhttp for offsets only: one copy of the input into wasm memory,
// no string per header, no allocation per callback. The wasm instance and its input
// area are shared by every framer of the process: execute() is synchronous, so only one
// parser runs at a time.

import { createRequire } from 'node:module';
import { copyInto } from '../bytes.js';
import { Wasm } from '../wasm.js';
import { LlhttpFramer } from './llhttp-framer.js';

const require = createRequire(import.meta.url);

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
      wasm_on_headers_complete: (_p: number, _statusCode: number, _upgrade: number, keepAlive: number): number =>
        current!.onHeadersComplete(keepAlive),
      wasm_on_message_complete: (): number => current!.onMessageComplete(),
    },
  });
  return instance.exports as unknown as LlhttpExports;
}

let llhttp: LlhttpExports | null = null;
let inputPtr = 0;
let inputSize = 0;
/** A view of wasm memory, made again when memory grows (which detaches the old one). */
let heap = new Uint8Array(0);

function cString(ptr: number): string {
  if (ptr === 0) return '';
  const mem = new Uint8Array(llhttp!.memory.buffer);
  const end = mem.indexOf(0, ptr);
  return Buffer.from(mem.buffer, ptr, end - ptr).toString('latin1');
}

/** A Framer on undici's llhttp wasm. */
export class UndiciLlhttpFramer extends LlhttpFramer {
  readonly #ptr: number;
  #inputPtr = 0;

  // Framers are not made per connection: the corridor's sets of them are pooled whole
  // (proxy/exchange-parts.ts), so a parser is allocated once and freed only past that pool.
  constructor(kind: 'request' | 'response') {
    super();
    llhttp ??= loadLlhttp();
    this.#ptr = llhttp.llhttp_alloc(kind === 'request' ? TYPE_REQUEST : TYPE_RESPONSE);
  }

  /** @internal called from wasm */
  onHeadersComplete(keepAlive: number): number {
    return this.headersComplete(keepAlive === 1);
  }

  /** @internal called from wasm */
  onMessageComplete(): number {
    return this.messageComplete();
  }

  protected run(data: Uint8Array): number {
    const ll = llhttp!;
    const len = data.length;
    if (len > inputSize) {
      if (inputPtr !== 0) ll.free(inputPtr);
      inputSize = Math.max(len, 65536);
      inputPtr = ll.malloc(inputSize);
    }
    if (heap.length === 0) heap = new Uint8Array(ll.memory.buffer);
    copyInto(heap, data, inputPtr);
    this.#inputPtr = inputPtr;
    current = this;
    const ret = ll.llhttp_execute(this.#ptr, inputPtr, len);
    current = null;
    return ret;
  }

  protected errorPosition(): number {
    return llhttp!.llhttp_get_error_pos(this.#ptr) - this.#inputPtr;
  }

  protected describe(ret: number): [string, string] {
    return [cString(llhttp!.llhttp_errno_name(ret)), cString(llhttp!.llhttp_get_error_reason(this.#ptr))];
  }

  protected resume(): void {
    llhttp!.llhttp_resume(this.#ptr);
  }

  protected reset(): void {
    llhttp!.llhttp_reset(this.#ptr);
  }

  protected runFinish(): number {
    current = this;
    const ret = llhttp!.llhttp_finish(this.#ptr);
    current = null;
    return ret;
  }

  protected free(): void {
    llhttp!.llhttp_free(this.#ptr);
  }
}
