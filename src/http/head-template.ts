// Heads already read, kept to recognise the next one like them: a client sends the same
// head on every request of a connection, and an upstream the same head on every response,
// but for the Content-Length and Date values. A head equal to a kept one in every other
// byte is read as that one was, and written on as it was, without walking its fields again.

import { Buffer } from 'node:buffer';
import { copyInto, copyRange, equalBytes, indexOfByte, latin1 } from '../bytes.js';
import type { HeaderField } from './head.js';

const SP = 0x20;
const HTAB = 0x09;
const CR = 0x0d;
/** A wildcard value of decimal digits (Content-Length): read again from the new bytes. */
const DIGITS = 0;
/** A wildcard value of visible ASCII and inner spaces (Date): nothing reads it. */
const TEXT = 1;
/** A credential's value (Authorization, X-API-Key, cookies): never compared with another head's, never kept (its bytes in a template are blanked), read again from each head. */
const SECRET = 2;
/** What a template holds in place of a credential's bytes. */
const BLANK = 0x2a;
/** A set whose ways are all in use takes a new head only after this many misses in a row (and a kept build, a build for other arguments): what does not fit does not take turns evicting the other, and heads that never repeat pay for a copy only now and then. */
const MISSES_TO_REPLACE = 8;
/** Heads longer than this are not kept (each kept head costs its bytes twice). */
export const MAX_TEMPLATE_BYTES = 2048;
/** HeadTemplate.framing: llhttp has not framed such a head yet (or it is not a plain message). */
export const FRAMING_UNKNOWN = 0;
/** HeadTemplate.framing: llhttp framed such a head as a plain message (a Content-Length body, or none for a request), the connection to close after it. */
export const FRAMED_CLOSE = 1;
/** HeadTemplate.framing: as FRAMED_CLOSE, the connection kept alive. */
export const FRAMED_KEEP_ALIVE = 2;
/** Wildcards longer than this are copied by one native call rather than a loop. */
const LONG_WILDCARD = 32;
// Buffer.compare is one call into C++ (a memcmp): about 35 ns for a 170-byte head, where
// a byte loop takes 200.
const COMPARE = Buffer.compare;

/** The head a template was read as, less its bytes: the reader makes one like it for a head that matches. */
export interface TemplateModel {
  readonly contentLength: number;
}

/** A head read once and its bytes, with its Content-Length, Date and credential values as wildcards, and the last head built from it. */
export class HeadTemplate<H extends TemplateModel> {
  /** The head's bytes, credentials blanked; a match writes the new Content-Length and Date bytes over the old before comparing. */
  readonly bytes: Buffer;
  /** [start, end, kind] of each wildcard value, in order. */
  readonly wild: readonly number[];
  /** Some wildcard is a credential: the compare goes around it. */
  readonly secrets: boolean;
  /** Where the Content-Length, Authorization and X-API-Key values start and end, or -1 and -1. */
  readonly lengthAt: number;
  readonly lengthEnd: number;
  readonly authorizationAt: number;
  readonly authorizationEnd: number;
  readonly apiKeyAt: number;
  readonly apiKeyEnd: number;
  /** The head as read, its `raw` being `bytes` and its credentials null: what a matching head copies. */
  model: H | null = null;
  /**
   * FRAMED_* once llhttp framed a head like this one as a plain message, so a head that
   * matches may skip llhttp: it differs only in wildcard values of digits (no longer than
   * 15) and of printable ASCII, bytes llhttp reads the same whatever they are (a
   * credential's bytes are checked for that by `plainSecrets`, as the match does not).
   */
  framing = FRAMING_UNKNOWN;
  /** A head built from this one (without a body, credentials blanked) and what it was built for; null until one is. */
  out: Buffer | null = null;
  /** Where each wildcard's bytes sit in `out`, -1 where the build dropped its line. */
  outAt: number[] = [];
  outRewrite: object | null = null;
  outPeer: string | null = null;
  outSession: string | null = null;
  outCors: string | null = null;
  outFlags = 0;
  /** Builds in a row for other arguments than `out`'s. */
  #outMisses = 0;

  constructor(bytes: Buffer, wild: number[], at: Int32Array) {
    this.bytes = bytes;
    this.wild = wild;
    let secrets = false;
    for (let w = 2; w < wild.length; w += 3) if (wild[w] === SECRET) secrets = true;
    this.secrets = secrets;
    this.lengthAt = at[0]!;
    this.lengthEnd = at[1]!;
    this.authorizationAt = at[2]!;
    this.authorizationEnd = at[3]!;
    this.apiKeyAt = at[4]!;
    this.apiKeyEnd = at[5]!;
  }

  /** The Content-Length of a head that matched, read from its wildcard bytes (all digits), or -1 without one. */
  contentLength(raw: Buffer): number {
    const s = this.lengthAt;
    if (s === -1) return -1;
    // Digits only, checked by the match; longer than 15 they would lose precision, so never templated.
    let n = 0;
    for (let i = s; i < this.lengthEnd; i++) n = n * 10 + raw[i]! - 0x30;
    return n;
  }

  /** The Authorization value of a head that matched, or null without one. */
  authorization(raw: Buffer): string | null {
    return this.authorizationAt === -1 ? null : latin1(raw, this.authorizationAt, this.authorizationEnd);
  }

  /** The X-API-Key value of a head that matched, or null without one. */
  apiKey(raw: Buffer): string | null {
    return this.apiKeyAt === -1 ? null : latin1(raw, this.apiKeyAt, this.apiKeyEnd);
  }

  /** Whether every credential value of `raw` (a head that matched) is printable ASCII and inner spaces or tabs, bytes llhttp reads alike whatever they are. */
  plainSecrets(raw: Buffer): boolean {
    const wild = this.wild;
    for (let w = 0; w < wild.length; w += 3) {
      if (wild[w + 2] !== SECRET) continue;
      for (let k = wild[w]!; k < wild[w + 1]!; k++) {
        const c = raw[k]!;
        if ((c < 0x20 && c !== HTAB) || c > 0x7e) return false;
      }
    }
    return true;
  }

  /** Whether `out` was built for these arguments. */
  builtFor(rewrite: object, peer: string | null, session: string | null, cors: string | null, flags: number): boolean {
    return this.out !== null && this.outRewrite === rewrite && this.outPeer === peer && this.outSession === session && this.outCors === cors && this.outFlags === flags;
  }

  /** Keeps `built`'s first `headLength` bytes, the head built from this template's head for these arguments (when none is kept, or after enough builds for others). `runs` and `prefixLength` say where raw's bytes went in it. */
  keep(built: Buffer, headLength: number, prefixLength: number, runs: readonly number[], rewrite: object, peer: string | null, session: string | null, cors: string | null, flags: number): void {
    // A kept build for other arguments (another client's address, a mapped session id) is
    // taken over only after enough builds in a row: two clients that share a template do
    // not copy a head on every request in turn.
    if (this.out !== null && ++this.#outMisses < MISSES_TO_REPLACE) return;
    this.#outMisses = 0;
    const out = Buffer.allocUnsafe(headLength);
    copyRange(out, built, 0, headLength, 0);
    const at: number[] = [];
    const wild = this.wild;
    for (let w = 0; w < wild.length; w += 3) {
      const pos = placeOf(runs, prefixLength, wild[w]!);
      at.push(pos);
      if (pos !== -1 && wild[w + 2] === SECRET) out.fill(BLANK, pos, pos + wild[w + 1]! - wild[w]!);
    }
    this.out = out;
    this.outAt = at;
    this.outRewrite = rewrite;
    this.outPeer = peer;
    this.outSession = session;
    this.outCors = cors;
    this.outFlags = flags;
  }

  /** The head built for a matching head `raw` (as `keep` was told), followed by `body` when given. */
  fill(raw: Buffer, body: Buffer | null): Buffer {
    this.#outMisses = 0;
    const out = this.out!;
    const b = Buffer.allocUnsafe(out.length + (body === null ? 0 : body.length));
    copyInto(b, out, 0);
    const wild = this.wild;
    const at = this.outAt;
    for (let w = 0, i = 0; w < wild.length; w += 3, i++) {
      const pos = at[i]!;
      if (pos === -1) continue;
      const s = wild[w]!;
      const e = wild[w + 1]!;
      if (e - s > LONG_WILDCARD) copyRange(b, raw, s, e, pos);
      else for (let k = s; k < e; k++) b[pos + k - s] = raw[k]!;
    }
    if (body !== null) copyInto(b, body, out.length);
    return b;
  }
}

/** Where raw byte `at` went in a head assembled from `prefixLength` bytes and then `runs` of raw, or -1. */
function placeOf(runs: readonly number[], prefixLength: number, at: number): number {
  let pos = prefixLength;
  for (let i = 0; i < runs.length; i += 2) {
    const s = runs[i]!;
    const e = runs[i + 1]!;
    if (at >= s && at < e) return pos + at - s;
    pos += e - s;
  }
  return -1;
}

/** What a field is to a template, by its place among the known names (HeaderField.known). */
export const FIELD_PLAIN = 0;
/** Its value is a DIGITS wildcard. */
export const FIELD_LENGTH = 1;
/** Its value is a TEXT wildcard. */
export const FIELD_DATE = 2;
/** Its value is a SECRET wildcard, read again as the head's authorization. */
export const FIELD_AUTHORIZATION = 3;
/** Its value is a SECRET wildcard, read again as the head's API key. */
export const FIELD_API_KEY = 4;
/** Its value is a SECRET wildcard that nothing reads (cookies, Proxy-Authorization). */
export const FIELD_SECRET = 5;

/**
 * A small set-associative table of templates, one per head kind (requests, responses). A
 * head's set is chosen by its length and start line only: its wildcard values may sit
 * anywhere else, and a head must find its template whatever they hold.
 */
export class TemplateTable<H extends TemplateModel> {
  readonly #ways: (HeadTemplate<H> | undefined)[] = new Array<HeadTemplate<H> | undefined>(SETS * WAYS).fill(undefined);
  /** Matches per way since it was filled, halved at each replacement in its set: the least used goes. */
  readonly #uses = new Uint32Array(SETS * WAYS);
  readonly #misses = new Uint8Array(SETS);
  readonly #roles: Uint8Array;

  /** `roles`: FIELD_* of each known field name, by its place. */
  constructor(roles: Uint8Array) {
    this.#roles = roles;
  }

  /** The template `raw` (a whole head, CRLFCRLF included) matches, or null. */
  match(raw: Buffer): HeadTemplate<H> | null {
    const set = setOf(raw);
    const n = raw.length;
    for (let w = set * WAYS; w < set * WAYS + WAYS; w++) {
      const t = this.#ways[w];
      if (t === undefined) break;
      if (t.bytes.length === n && matches(raw, t)) {
        this.#misses[set] = 0;
        this.#uses[w]++;
        return t;
      }
    }
    return null;
  }

  /** A new template for `raw` (which matched none), read as `fields`, in its set; null when such a head is not kept, or not yet. The caller sets its model. */
  learn(raw: Buffer, fields: readonly HeaderField[]): HeadTemplate<H> | null {
    if (raw.length > MAX_TEMPLATE_BYTES) return null;
    const set = setOf(raw);
    const way = this.#wayFor(set);
    if (way === -1) return null;
    const roles = this.#roles;
    const wild: number[] = [];
    // Content-Length, Authorization, X-API-Key: [start, end) each; a second field of one is not kept.
    const at = new Int32Array(6).fill(-1);
    let dates = 0;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const role = f.known === -1 ? FIELD_PLAIN : roles[f.known]!;
      if (role === FIELD_PLAIN) continue;
      const s = f.valueStart;
      const e = f.valueEnd;
      if (role === FIELD_LENGTH) {
        if (at[0] !== -1 || e === s || e - s > 15) return null;
        for (let k = s; k < e; k++) if (raw[k]! < 0x30 || raw[k]! > 0x39) return null;
        at[0] = s;
        at[1] = e;
        wild.push(s, e, DIGITS);
      } else if (role === FIELD_DATE) {
        if (++dates > 1 || e === s) return null;
        wild.push(s, e, TEXT);
      } else {
        if (e === s) return null;
        const slot = role === FIELD_AUTHORIZATION ? 2 : role === FIELD_API_KEY ? 4 : -1;
        if (slot !== -1) {
          if (at[slot] !== -1) return null;
          at[slot] = s;
          at[slot + 1] = e;
        }
        wild.push(s, e, SECRET);
      }
    }
    const bytes = Buffer.allocUnsafe(raw.length);
    copyInto(bytes, raw, 0);
    for (let w = 0; w < wild.length; w += 3) if (wild[w + 2] === SECRET) bytes.fill(BLANK, wild[w]!, wild[w + 1]!);
    const t = new HeadTemplate<H>(bytes, wild, at);
    this.#ways[way] = t;
    this.#uses[way] = 0;
    return t;
  }

  /** The way a new head takes in `set`: a free one, or after enough misses the least used; -1 for none yet. */
  #wayFor(set: number): number {
    const first = set * WAYS;
    for (let w = first; w < first + WAYS; w++) if (this.#ways[w] === undefined) return w;
    if (++this.#misses[set]! < MISSES_TO_REPLACE) return -1;
    this.#misses[set] = 0;
    let least = first;
    for (let w = first; w < first + WAYS; w++) {
      if (this.#uses[w]! < this.#uses[least]!) least = w;
      this.#uses[w] = this.#uses[w]! >>> 1;
    }
    return least;
  }
}

const SETS = 16;
const WAYS = 4;

/** A head's set: its length and two bytes of its start line (method, status), never a header value's. */
function setOf(raw: Buffer): number {
  return (raw.length + raw[0]! + raw[9]!) & (SETS - 1);
}

/** Whether `raw` (as long as the template) holds the template's bytes but for its wildcards; it writes the Content-Length and Date bytes into the template's. */
function matches<H extends TemplateModel>(raw: Buffer, t: HeadTemplate<H>): boolean {
  const bytes = t.bytes;
  const wild = t.wild;
  for (let w = 0; w < wild.length; w += 3) {
    const s = wild[w]!;
    const e = wild[w + 1]!;
    const kind = wild[w + 2];
    if (kind === DIGITS) {
      for (let k = s; k < e; k++) {
        const c = raw[k]!;
        if (c < 0x30 || c > 0x39) return false;
        bytes[k] = c;
      }
    } else if (kind === TEXT) {
      // Inner spaces only: an edge space would move where the value is trimmed.
      if (raw[s] === SP || raw[e - 1] === SP) return false;
      for (let k = s; k < e; k++) {
        const c = raw[k]!;
        if (c < 0x20 || c > 0x7e) return false;
        bytes[k] = c;
      }
    } else {
      // A full read takes any bytes up to the line's CR as the value, less edge whitespace: no
      // CR inside and no whitespace at its edges (what follows is compared) is the same value.
      const c0 = raw[s]!;
      const c1 = raw[e - 1]!;
      if (c0 === SP || c0 === HTAB || c1 === SP || c1 === HTAB || indexOfByte(raw, CR, s) < e) return false;
    }
  }
  if (!t.secrets) return COMPARE(raw, bytes) === 0;
  // Around each credential: its bytes are compared with nothing (a compare that stops at the
  // first difference would tell how much of another client's credential a head shares).
  let from = 0;
  for (let w = 0; w < wild.length; w += 3) {
    if (wild[w + 2] !== SECRET) continue;
    if (!equalBytes(raw, from, wild[w]!, bytes, from)) return false;
    from = wild[w + 1]!;
  }
  return equalBytes(raw, from, raw.length, bytes, from);
}
