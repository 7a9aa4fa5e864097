// The Framer on the `llhttp-wasm` npm package. Its wrapper copies every input into wasm
// memory through malloc/free and decodes every header into a string, which costs more
// than the framing itself (see native-bench/parser-bench.mjs); kept as the alternative
// binding the benchmark measures against.

import { createParser, TYPE, type HeadersComplete, type Parser } from 'llhttp-wasm';
import { LlhttpFramer } from '../../dist/http/llhttp-framer.js';

/** A Framer on the llhttp-wasm npm package. */
export class LlhttpWasmFramer extends LlhttpFramer {
  readonly #parser: Parser;

  constructor(kind: 'request' | 'response') {
    super();
    this.#parser = createParser(kind === 'request' ? TYPE.REQUEST! : TYPE.RESPONSE!);
    this.#parser.onHeadersComplete = (msg: HeadersComplete): number => this.headersComplete(msg.shouldKeepAlive);
    this.#parser.onMessageComplete = (): number => this.messageComplete();
  }

  protected run(data: Uint8Array): number {
    return this.#parser.execute(data);
  }

  protected errorPosition(): number {
    return this.#parser.getErrorPosition();
  }

  protected describe(ret: number): [string, string] {
    return [this.#parser.getErrorName(ret) ?? `HPE_${ret}`, this.#parser.getErrorReason(ret) ?? 'invalid framing'];
  }

  protected resume(): void {
    this.#parser.resume();
  }

  protected reset(): void {
    this.#parser.reset();
  }

  protected runFinish(): number {
    return this.#parser.finish();
  }

  protected free(): void {
    this.#parser.destroy();
  }
}
