// Rewriting the result of one JSON-RPC response (a `hide` rule filtering a list), in a
// JSON body, an NDJSON line or a text/event-stream event. Only the response to the held
// request is re-serialised; every other message and event passes as its own bytes. Both
// readers are bounded by --inspect-limit and fail closed: what they cannot read where a
// rewrite is due is reported, and the transport drops it rather than pass it unfiltered.

import type { RewriteVerdict } from './message.js';

const LF = 0x0a;
const CR = 0x0d;

/** The message with its response to `idJson` rewritten; the same buffer when nothing changed; null when unreadable. */
export function rewriteMessage(body: Buffer, idJson: string, verdict: RewriteVerdict): Buffer | null {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  let changed = false;
  const one = (m: unknown): unknown => {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return m;
    const msg = m as Record<string, unknown>;
    if (typeof msg.result !== 'object' || msg.result === null || JSON.stringify(msg.id ?? null) !== idJson) return m;
    const result = verdict.rewrite(msg.result as Record<string, unknown>);
    if (result === msg.result) return m;
    changed = true;
    return { ...msg, result };
  };
  const out = Array.isArray(value) ? value.map(one) : one(value);
  return changed ? Buffer.from(JSON.stringify(out), 'utf8') : body;
}

/** A response body being rewritten: fed data as it arrives, asked for the rest at the end. */
export interface ResponseTransform {
  /** Why the body cannot be rewritten (then it must not reach the client), or null. */
  readonly failed: string | null;
  push(data: Buffer): void;
  /** The body ended: what is left to send (null when failed). */
  finish(): Buffer | null;
}

/** A JSON body: gathered whole (bounded), rewritten at its end. */
export class JsonBodyRewrite implements ResponseTransform {
  failed: string | null = null;
  readonly #limit: number;
  readonly #idJson: string;
  readonly #verdict: RewriteVerdict;
  #parts: Buffer[] = [];
  #bytes = 0;

  constructor(limitBytes: number, idJson: string, verdict: RewriteVerdict) {
    this.#limit = limitBytes;
    this.#idJson = idJson;
    this.#verdict = verdict;
  }

  push(data: Buffer): void {
    if (this.failed !== null) return;
    this.#bytes += data.length;
    if (this.#bytes > this.#limit) {
      this.failed = 'the response is larger than --inspect-limit';
      this.#parts = [];
      return;
    }
    this.#parts.push(data);
  }

  finish(): Buffer | null {
    if (this.failed !== null) return null;
    const out = rewriteMessage(Buffer.concat(this.#parts), this.#idJson, this.#verdict);
    this.#parts = [];
    if (out === null) this.failed = 'the response is not valid JSON';
    return out;
  }
}

/** A text/event-stream: split into events (each bounded), the response's event rewritten, every event handed on whole. */
export class SseRewrite implements ResponseTransform {
  failed: string | null = null;
  readonly #limit: number;
  readonly #idJson: string;
  readonly #verdict: RewriteVerdict;
  readonly #out: (event: Buffer) => void;
  #buf: Buffer | null = null;
  /** Where the line being read starts in #buf. */
  #lineStart = 0;
  /** Where scanning resumes in #buf. */
  #scan = 0;

  constructor(limitBytes: number, idJson: string, verdict: RewriteVerdict, out: (event: Buffer) => void) {
    this.#limit = limitBytes;
    this.#idJson = idJson;
    this.#verdict = verdict;
    this.#out = out;
  }

  push(data: Buffer): void {
    if (this.failed !== null || data.length === 0) return;
    this.#split(this.#buf === null ? data : Buffer.concat([this.#buf, data]), false);
  }

  /** Hands on every whole event in `b`; `final`: the stream ended, so a CR at the end is a line end. */
  #split(b: Buffer, final: boolean): void {
    let eventStart = 0;
    let lineStart = this.#lineStart;
    let i = this.#scan;
    while (i < b.length) {
      const c = b[i]!;
      if (c !== LF && c !== CR) {
        i++;
        continue;
      }
      let next = i + 1;
      if (c === CR) {
        if (next >= b.length && !final) break; // a CRLF may be split across reads
        if (b[next] === LF) next++;
      }
      if (i === lineStart) {
        // A blank line: the event ends here.
        this.#event(b.subarray(eventStart, next));
        if (this.failed !== null) return;
        eventStart = next;
      }
      lineStart = next;
      i = next;
    }
    const rest = b.subarray(eventStart);
    if (rest.length > this.#limit) {
      this.failed = 'an event is larger than --inspect-limit';
      this.#buf = null;
      return;
    }
    this.#buf = rest.length === 0 ? null : rest;
    this.#lineStart = lineStart - eventStart;
    this.#scan = i - eventStart;
  }

  finish(): Buffer | null {
    if (this.failed !== null) return null;
    if (this.#buf !== null) this.#split(this.#buf, true);
    if (this.failed !== null) return null;
    const rest = this.#buf;
    this.#buf = null;
    // An unterminated last event is no event (the client discards it too): passed as is.
    return rest ?? Buffer.alloc(0);
  }

  #event(event: Buffer): void {
    const text = event.toString('utf8');
    const lines = text.split(/\r\n|\r|\n/);
    const data: string[] = [];
    const other: string[] = [];
    for (const line of lines) {
      if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      else if (line !== '') other.push(line);
    }
    if (data.length === 0) return this.#out(event);
    const payload = Buffer.from(data.join('\n'), 'utf8');
    let rewritten: Buffer | null = payload;
    if (payload.includes(this.#idJson)) rewritten = rewriteMessage(payload, this.#idJson, this.#verdict);
    // Not JSON: no client can read a list in it; it passes.
    if (rewritten === null || rewritten === payload) return this.#out(event);
    const head = other.length === 0 ? '' : `${other.join('\n')}\n`;
    this.#out(Buffer.from(`${head}data: ${rewritten.toString('utf8')}\n\n`, 'utf8'));
  }
}
