// Heads already read, kept to recognise the next one like them: a client sends the same
// head on every request of a connection, and an upstream the same head on every response,
// but for the Content-Length and Date values. A head equal to a kept one in every other
// byte is read as that one was, and written on as it was, without walking its fields again.

import { Buffer } from 'node:buffer';
import { copyInto, copyRange } from '../bytes.js';
import type { HeaderField } from './head.js';

const SP = 0x20;
/** A wildcard value of decimal digits (Content-Length): read again from the new bytes. */
const DIGITS = 0;
/** A wildcard value of visible ASCII and inner spaces (Date): nothing reads it. */
const TEXT = 1;
/** Heads longer than this are not kept (each kept head costs its bytes twice). */
const MAX_TEMPLATE_BYTES = 1024;
// Buffer.compare is one call into C++ (a memcmp): about 35 ns for a 170-byte head, where
// a byte loop takes 200.
const COMPARE = Buffer.compare;

/** The head a template was read as, less its bytes: the reader makes one like it for a head that matches. */
export interface TemplateModel {
  readonly contentLength: number;
}

/** A head read once and its bytes, with its Content-Length and Date values as wildcards, and the last head built from it. */
export class HeadTemplate<H extends TemplateModel> {
  /** The head's bytes; a match writes the new wildcard bytes over the old before comparing. */
  readonly bytes: Buffer;
  /** [start, end, kind] of each wildcard value. */
  readonly wild: readonly number[];
  /** Where the Content-Length value starts and ends, or -1 and -1. */
  readonly lengthAt: number;
  readonly lengthEnd: number;
  /** The head as read, its `raw` being `bytes`: what a matching head copies. */
  model: H | null = null;
  /** A head built from this one (without a body) and what it was built for; null until one is. */
  out: Buffer | null = null;
  /** Where each wildcard's bytes sit in `out`, -1 where the build dropped its line. */
  outAt: number[] = [];
  outRewrite: object | null = null;
  outPeer: string | null = null;
  outSession: string | null = null;
  outCors: string | null = null;
  outFlags = 0;

  constructor(bytes: Buffer, wild: number[], lengthAt: number, lengthEnd: number) {
    this.bytes = bytes;
    this.wild = wild;
    this.lengthAt = lengthAt;
    this.lengthEnd = lengthEnd;
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

  /** Whether `out` was built for these arguments. */
  builtFor(rewrite: object, peer: string | null, session: string | null, cors: string | null, flags: number): boolean {
    return this.out !== null && this.outRewrite === rewrite && this.outPeer === peer && this.outSession === session && this.outCors === cors && this.outFlags === flags;
  }

  /** Keeps `built`'s first `headLength` bytes, the head built from this template's head for these arguments. `runs` and `prefixLength` say where raw's bytes went in it. */
  keep(built: Buffer, headLength: number, prefixLength: number, runs: readonly number[], rewrite: object, peer: string | null, session: string | null, cors: string | null, flags: number): void {
    // An exact copy of its own: `built` may share a pool slab that would stay pinned.
    const out = Buffer.allocUnsafe(headLength);
    copyRange(out, built, 0, headLength, 0);
    const at: number[] = [];
    const wild = this.wild;
    for (let w = 0; w < wild.length; w += 3) at.push(placeOf(runs, prefixLength, wild[w]!));
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
      for (let k = s; k < e; k++) b[pos + k - s] = raw[k]!;
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
/** A head with it is never kept: credentials stay out of a table every client shares. */
export const FIELD_UNKEPT = 3;
/** A set whose ways are all in use takes a new head only after this many misses in a row: heads that do not fit do not take turns evicting each other, and a stream of heads that never repeat pays for a copy only now and then. */
const MISSES_TO_REPLACE = 8;

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
    let lengthAt = -1;
    let lengthEnd = -1;
    let dates = 0;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const role = f.known === -1 ? FIELD_PLAIN : roles[f.known]!;
      if (role === FIELD_PLAIN) continue;
      if (role === FIELD_LENGTH) {
        const n = f.valueEnd - f.valueStart;
        if (lengthAt !== -1 || n === 0 || n > 15) return null;
        for (let k = f.valueStart; k < f.valueEnd; k++) if (raw[k]! < 0x30 || raw[k]! > 0x39) return null;
        lengthAt = f.valueStart;
        lengthEnd = f.valueEnd;
        wild.push(f.valueStart, f.valueEnd, DIGITS);
      } else if (role === FIELD_DATE) {
        if (++dates > 1 || f.valueEnd === f.valueStart) return null;
        wild.push(f.valueStart, f.valueEnd, TEXT);
      } else return null;
    }
    const bytes = Buffer.allocUnsafe(raw.length);
    copyInto(bytes, raw, 0);
    const t = new HeadTemplate<H>(bytes, wild, lengthAt, lengthEnd);
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

/** Whether `raw` (as long as the template) holds the template's bytes but for its wildcards, which it writes into the template's bytes. */
function matches<H extends TemplateModel>(raw: Buffer, t: HeadTemplate<H>): boolean {
  const bytes = t.bytes;
  const wild = t.wild;
  for (let w = 0; w < wild.length; w += 3) {
    const s = wild[w]!;
    const e = wild[w + 1]!;
    if (wild[w + 2] === DIGITS) {
      for (let k = s; k < e; k++) {
        const c = raw[k]!;
        if (c < 0x30 || c > 0x39) return false;
        bytes[k] = c;
      }
    } else {
      // Inner spaces only: an edge space would move where the value is trimmed.
      if (raw[s] === SP || raw[e - 1] === SP) return false;
      for (let k = s; k < e; k++) {
        const c = raw[k]!;
        if (c < 0x20 || c > 0x7e) return false;
        bytes[k] = c;
      }
    }
  }
  return COMPARE(raw, bytes) === 0;
}
