// The response filter: a decider's `hide` verdict rewrites the result of one request's
// response (mcp/result-rewrite.ts) on its way to the client. A JSON body is gathered
// (bounded by --inspect-limit) and sent whole with its new length; an event stream is
// rewritten event by event and re-framed as chunked, since events change length (an
// HTTP/1.0 client gets it close-delimited). It knows no sockets: what it emits goes to
// the `write` it is given.

import type { ResponseHead } from '../http/head.js';
import { isJson } from '../http/media-type.js';
import type { RewriteVerdict } from '../mcp/message.js';
import { JsonBodyRewrite, SseRewrite, type ResponseTransform } from '../mcp/result-rewrite.js';

/** start(): the response goes as it is. */
export const FILTER_NONE = 0;
/** start(): a JSON body, sent whole by finish() (the caller writes its head with the new length). */
export const FILTER_JSON = 1;
/** start(): an event stream, written as it is rewritten (the caller writes its head first, with `framing`). */
export const FILTER_SSE = 2;

const CHUNKED_END = Buffer.from('0\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);

/** Rewrites one response's result for the request whose id is `idJson`. */
export class ResponseFilter {
  readonly #verdict: RewriteVerdict;
  readonly #idJson: string;
  readonly #limit: number;
  readonly #write: (buf: Buffer) => void;
  #transform: ResponseTransform | null = null;
  #chunked = false;
  /** The head of the response being filtered. */
  head: ResponseHead | null = null;
  kind = FILTER_NONE;

  constructor(verdict: RewriteVerdict, idJson: string, inspectLimitBytes: number, write: (buf: Buffer) => void) {
    this.#verdict = verdict;
    this.#idJson = idJson;
    this.#limit = inspectLimitBytes;
    this.#write = write;
  }

  /** Looks at the response head: FILTER_JSON, FILTER_SSE, or FILTER_NONE when there is no result it can rewrite. */
  start(res: ResponseHead, http10Client: boolean): number {
    if (res.statusCode !== 200) return FILTER_NONE;
    if (isJson(res.contentType)) {
      this.#transform = new JsonBodyRewrite(this.#limit, this.#idJson, this.#verdict);
      this.kind = FILTER_JSON;
    } else {
      const type = res.contentType;
      if (type === null || !type.toLowerCase().startsWith('text/event-stream')) return FILTER_NONE;
      this.#chunked = !http10Client;
      this.#transform = new SseRewrite(this.#limit, this.#idJson, this.#verdict, (event) => this.#emit(event));
      this.kind = FILTER_SSE;
    }
    this.head = res;
    return this.kind;
  }

  /** FILTER_SSE: the framing line its head carries ('' when close-delimited). */
  get framing(): string {
    return this.#chunked ? 'Transfer-Encoding: chunked\r\n' : '';
  }

  /** Body bytes of the response, without chunked framing. */
  push(data: Buffer): void {
    this.#transform!.push(data);
  }

  /** Why the response cannot be filtered (too large, not JSON), or null. */
  get failed(): string | null {
    return this.#transform === null ? null : this.#transform.failed;
  }

  /** The response ended: FILTER_JSON's whole new body, or FILTER_SSE's last bytes; null when it could not be rewritten. */
  finish(): Buffer | null {
    const rest = this.#transform!.finish();
    if (rest === null) return null;
    if (this.kind === FILTER_JSON) return rest;
    const tail = this.#frame(rest);
    return this.#chunked ? (tail.length === 0 ? CHUNKED_END : Buffer.concat([tail, CHUNKED_END])) : tail;
  }

  #emit(event: Buffer): void {
    if (event.length > 0) this.#write(this.#frame(event));
  }

  #frame(data: Buffer): Buffer {
    if (data.length === 0) return EMPTY;
    if (!this.#chunked) return data;
    return Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`, 'latin1'), data, CRLF]);
  }
}
