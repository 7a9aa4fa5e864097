// Comparing a few dozen known bytes against a large read eight bytes at a time: an event
// stream repeats the same bytes (field lines, a notification's opening members) in every
// event, and a word compare costs an eighth of a byte loop's steps.

import type { Buffer } from 'node:buffer';
import { memoryOf, offsetOf } from './bytes.js';

/** Reads at least this long get a word view of their own: making it pays off over the messages they carry (pieces of a read already seen share its view). */
export const WORD_VIEW_BYTES = 4096;

/**
 * A read's memory seen as aligned 8-byte words, so a prefix is compared eight bytes at a time
 * rather than a byte at a time (an event stream repeats the same ~80 bytes in every event):
 * as doubles where every byte counts, as pairs of 32-bit words where a mask picks the bytes.
 * The view spans the read's whole ArrayBuffer, so the pieces of one read (a chunked body's
 * chunks, handed over one at a time) share one view; only whole words are in it.
 */
export class WordView {
  /** The buffer last seen. */
  of: Buffer | null = null;
  memory: ArrayBufferLike | null = null;
  doubles: Float64Array = new Float64Array(0);
  ints: Int32Array = new Int32Array(0);
  /** Where the buffer last seen starts in the view (its byteOffset). */
  shift = 0;

  /** Points the view at `b`: new arrays only when `b` lies in other memory than the last buffer. */
  see(b: Buffer): void {
    const memory = memoryOf(b);
    this.of = b;
    this.shift = offsetOf(b);
    if (memory === this.memory) return;
    const n = memory.byteLength >> 3;
    this.memory = memory;
    this.doubles = new Float64Array(memory, 0, n);
    this.ints = new Int32Array(memory, 0, n * 2);
  }
}

/** A prefix laid out at one alignment: as doubles, the same bytes as 32-bit words, and which of those bytes count. */
class Layout {
  readonly doubles: Float64Array;
  readonly ints: Int32Array;
  readonly masks: Int32Array;

  constructor(prefix: Uint8Array, align: number) {
    const n = (align + prefix.length + 7) >> 3;
    this.doubles = new Float64Array(n);
    this.ints = new Int32Array(this.doubles.buffer);
    this.masks = new Int32Array(n * 2);
    // Filled through byte views: the platform's byte order applies to both sides alike.
    new Uint8Array(this.doubles.buffer).set(prefix, align);
    new Uint8Array(this.masks.buffer).fill(0xff, align, align + prefix.length);
  }
}

/**
 * A prefix laid out at each of the eight alignments a word view may find it at, each made
 * when first needed. Two doubles are equal exactly when their bytes are, but for NaN (never
 * equal: a mismatch, so the caller reads the slow way) and 0 === -0, which needs seven zero
 * bytes: a prefix with a zero byte is compared as 32-bit words throughout.
 */
export class PrefixWords {
  readonly #prefix: Uint8Array;
  readonly #layouts: (Layout | undefined)[] = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined];
  /** No zero byte in the prefix: its whole words may be compared as doubles. */
  readonly asDoubles: boolean;

  constructor(prefix: Uint8Array) {
    this.#prefix = prefix;
    this.asDoubles = !prefix.includes(0);
  }

  /** The layout at alignment `a` (0..7). */
  at(a: number): Layout {
    return this.#layouts[a] ??= new Layout(this.#prefix, a);
  }
}

/** 1 when the buffer under `view` holds `p`'s prefix at byte `start`, 0 when it does not, -1 when the prefix would run past the view's whole words. The caller sees to it that the prefix would end inside the buffer. */
export function wordsMatch(view: WordView, start: number, p: PrefixWords): number {
  const at = start + view.shift;
  const first = at >> 3;
  const layout = p.at(at & 7);
  const words = layout.doubles;
  const n = words.length;
  if (first + n > view.doubles.length) return -1;
  const ints = view.ints;
  const wi = layout.ints;
  const m = layout.masks;
  const last = n - 1;
  const fi = first << 1;
  const li = (first + last) << 1;
  // The two end words hold bytes outside the prefix: compared under the mask.
  if ((ints[fi]! & m[0]!) !== wi[0] || (ints[fi + 1]! & m[1]!) !== wi[1]) return 0;
  if ((ints[li]! & m[last << 1]!) !== wi[last << 1] || (ints[li + 1]! & m[(last << 1) + 1]!) !== wi[(last << 1) + 1]) return 0;
  if (p.asDoubles) {
    const d = view.doubles;
    for (let k = 1; k < last; k++) if (d[first + k] !== words[k]) return 0;
  } else {
    for (let k = 2; k < last << 1; k++) if (ints[fi + k] !== wi[k]) return 0;
  }
  return 1;
}

/** True when b[start...] begins with `prefix`. A loop: at a few dozen bytes it beats Buffer#compare, whose call into C++ costs more than the compare. */
export function startsWith(b: Uint8Array, start: number, prefix: Uint8Array): boolean {
  const n = prefix.length;
  for (let k = n - 1; k >= 0; k--) if (b[start + k] !== prefix[k]) return false;
  return true;
}
