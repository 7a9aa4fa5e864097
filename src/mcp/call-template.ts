// Calls read strictly once, kept to read the next one like them. A client sends the same
// call again and again (the same method, tool, member order and spacing) with another id
// and other arguments: a body equal to a kept one but for its id's digits and its
// arguments' value reads exactly as the kept one did, with its own id, once the arguments
// are skipped as the strict read skips them (mcp/envelope.ts valueEnd). Anything else is
// read strictly, member by member, as before. The policy gate (mcp/gate.ts) reads every held
// body this way; what it decides on is the same either way (test/unit/mcp/call-template.test.ts).

import { copyInto, equalBytes } from '../bytes.js';
import { type CallEnvelope, numberText, valueEnd } from './envelope.js';

/** A wildcard of digits: the id, read again from the new bytes. */
const ID = 0;
/** A wildcard JSON value: params.arguments, skipped as the strict read skips it. */
const VALUE = 1;
/** What a kept call holds in place of its arguments' bytes. */
const BLANK = 0x2a;
/** Bodies longer than this are not kept (each kept body costs its bytes). */
const MAX_KEPT_BYTES = 2048;
/** Longer ids read differently (numberText keeps them as text past 15 digits); such calls are read strictly. */
const MAX_ID_DIGITS = 15;
/** Kept calls per gate: a client that alternates a few tools finds each. */
const WAYS = 4;
/** With every way in use, a new call is kept only after this many misses in a row: calls that never repeat pay for a copy only now and then. */
const MISSES_TO_REPLACE = 8;

/** One call read strictly, its id and arguments as wildcards. */
class CallTemplate {
  readonly #bytes: Buffer;
  /** [start, end, kind] of each wildcard in #bytes, in order. */
  readonly #cuts: readonly number[];
  readonly #method: string | null;
  readonly #hasId: boolean;
  readonly #id: string | null;
  readonly #name: string | null;
  readonly #uri: string | null;
  readonly #oddName: boolean;
  readonly #hasResult: boolean;
  readonly #hasError: boolean;

  constructor(body: Buffer, cuts: number[], env: CallEnvelope) {
    this.#bytes = Buffer.allocUnsafe(body.length);
    copyInto(this.#bytes, body, 0);
    // The arguments are never compared: a client's values (a token passed to a tool) are not kept.
    for (let c = 0; c < cuts.length; c += 3) if (cuts[c + 2] === VALUE) this.#bytes.fill(BLANK, cuts[c]!, cuts[c + 1]!);
    this.#cuts = cuts;
    this.#method = env.method;
    this.#hasId = env.hasId;
    this.#id = env.id;
    this.#name = env.name;
    this.#uri = env.uri;
    this.#oddName = env.oddName;
    this.#hasResult = env.hasResult;
    this.#hasError = env.hasError;
  }

  /** True when `b` is this call but for its wildcards: `out` then holds what readCallEnvelope would read from it. */
  read(b: Buffer, out: CallEnvelope): boolean {
    const t = this.#bytes;
    const cuts = this.#cuts;
    const n = b.length;
    let pos = 0;
    let from = 0;
    let idAt = -1;
    let idEnd = -1;
    let argsAt = -1;
    let argsEnd = -1;
    for (let c = 0; c < cuts.length; c += 3) {
      const s = cuts[c]!;
      if (!same(b, pos, t, from, s)) return false;
      pos += s - from;
      if (cuts[c + 2] === ID) {
        // The byte after the kept id is no digit (nor anything a number holds), and it is
        // compared next: the digits here are the whole id, as the strict read finds it.
        let q = pos;
        while (q < n && b[q]! >= 0x30 && b[q]! <= 0x39) q++;
        if (q === pos || q - pos > MAX_ID_DIGITS) return false;
        idAt = pos;
        idEnd = q;
        pos = q;
      } else {
        // The kept value started here, after the colon and the blanks the compare covered.
        const q = pos < n ? valueEnd(b, pos, n) : -1;
        if (q <= pos) return false;
        argsAt = pos;
        argsEnd = q;
        pos = q;
      }
      from = cuts[c + 1]!;
    }
    if (pos + t.length - from !== n || !same(b, pos, t, from, t.length)) return false;
    out.method = this.#method;
    out.hasId = this.#hasId;
    out.id = idAt === -1 ? this.#id : numberText(b, idAt, idEnd);
    out.name = this.#name;
    out.uri = this.#uri;
    out.oddName = this.#oddName;
    out.hasResult = this.#hasResult;
    out.hasError = this.#hasError;
    out.idAt = idAt;
    out.idEnd = idEnd;
    out.argsAt = argsAt;
    out.argsEnd = argsEnd;
    out.argsCount = argsAt === -1 ? 0 : 1;
    return true;
  }
}

/** Segments longer than this are compared by one call into C++ (a memcmp) rather than a loop. */
const LONG_SEGMENT = 24;

/** b[pos...] holds t[from, to). */
function same(b: Buffer, pos: number, t: Buffer, from: number, to: number): boolean {
  const n = to - from;
  if (pos + n > b.length) return false;
  if (n > LONG_SEGMENT) return equalBytes(b, pos, pos + n, t, from);
  for (let k = n - 1; k >= 0; k--) if (b[pos + k] !== t[from + k]) return false;
  return true;
}

/** A gate's kept calls: a few, the one least recently matched giving way to a new one. */
export class CallTemplates {
  readonly #ways: (CallTemplate | undefined)[] = new Array<CallTemplate | undefined>(WAYS).fill(undefined);
  #misses = 0;

  /** True when `b` matches a kept call: `out` then holds its strict read. */
  read(b: Buffer, out: CallEnvelope): boolean {
    const ways = this.#ways;
    for (let w = 0; w < WAYS; w++) {
      const t = ways[w];
      if (t === undefined) return false;
      if (t.read(b, out)) {
        this.#misses = 0;
        // The one matched moves to the front: the next to give way is the last.
        for (let k = w; k > 0; k--) ways[k] = ways[k - 1];
        ways[0] = t;
        return true;
      }
    }
    return false;
  }

  /** Keeps `b`, just read strictly into `env` (ENVELOPE_OK), when it can be kept: a number id of digits, one params.arguments at most. */
  learn(b: Buffer, env: CallEnvelope): void {
    if (b.length > MAX_KEPT_BYTES || env.argsCount > 1) return;
    const ways = this.#ways;
    if (ways[WAYS - 1] !== undefined && ++this.#misses < MISSES_TO_REPLACE) return;
    this.#misses = 0;
    const cuts: number[] = [];
    if (env.idAt !== -1) {
      if (env.idEnd - env.idAt > MAX_ID_DIGITS) return;
      for (let k = env.idAt; k < env.idEnd; k++) if (b[k]! < 0x30 || b[k]! > 0x39) return;
      cuts.push(env.idAt, env.idEnd, ID);
    }
    if (env.argsAt !== -1) {
      const at = env.argsAt < env.idAt || env.idAt === -1 ? 0 : 3;
      cuts.splice(at, 0, env.argsAt, env.argsEnd, VALUE);
    }
    // The last way (the least recently matched, as matches move to the front) gives way.
    for (let w = WAYS - 1; w > 0; w--) ways[w] = ways[w - 1];
    ways[0] = new CallTemplate(b, cuts, env);
  }
}
