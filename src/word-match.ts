// Comparing a few dozen known bytes against a large read four bytes at a time: an event
// stream repeats the same bytes (field lines, a notification's opening members) in every
// event, and a word compare costs a quarter of a byte loop's steps.

import type { Buffer } from 'node:buffer';

/** Reads at least this long are compared four bytes at a time: making their word view once pays off over the messages they carry. */
export const WORD_VIEW_BYTES = 4096;

/**
 * A read seen as aligned 32-bit words, so a prefix is compared a word at a time rather than
 * a byte at a time (an event stream repeats the same ~60 bytes in every event). Made once
 * per read; only the whole words inside the read are in it.
 */
export class WordView {
  of: Buffer | null = null;
  words: Int32Array = new Int32Array(0);
  /** How far the read's first byte lies past the first word's start (0..3). */
  shift = 0;

  /** Points the view at `b`. */
  see(b: Buffer): void {
    const from = b.byteOffset & ~3;
    this.of = b;
    this.shift = b.byteOffset - from;
    this.words = new Int32Array(b.buffer, from, (b.byteOffset + b.length - from) >> 2);
  }
}

/** A prefix laid out at each of the four alignments a word view may find it at: the words and which of their bytes count. Each layout is made when first needed. */
export class PrefixWords {
  readonly #prefix: Uint8Array;
  readonly words: (Int32Array | undefined)[] = [undefined, undefined, undefined, undefined];
  readonly masks: (Int32Array | undefined)[] = [undefined, undefined, undefined, undefined];

  constructor(prefix: Uint8Array) {
    this.#prefix = prefix;
  }

  /** Lays the prefix out at alignment `a` (0..3). */
  layOut(a: number): Int32Array {
    const prefix = this.#prefix;
    const n = (a + prefix.length + 3) >> 2;
    const words = new Int32Array(n);
    const masks = new Int32Array(n);
    // Filled through byte views of the words: the platform's byte order applies to both sides alike.
    new Uint8Array(words.buffer).set(prefix, a);
    new Uint8Array(masks.buffer).fill(0xff, a, a + prefix.length);
    this.masks[a] = masks;
    return (this.words[a] = words);
  }
}

/** 1 when the read under `view` holds `p`'s prefix at byte `start`, 0 when it does not, -1 when the prefix would run past the view's whole words. */
export function wordsMatch(view: WordView, start: number, p: PrefixWords): number {
  const at = start + view.shift;
  const align = at & 3;
  const first = at >> 2;
  const words = p.words[align] ?? p.layOut(align);
  const masks = p.masks[align]!;
  const v = view.words;
  const n = words.length;
  if (first + n > v.length) return -1;
  for (let k = n - 1; k >= 0; k--) if ((v[first + k]! & masks[k]!) !== words[k]) return 0;
  return 1;
}

/** True when b[start...] begins with `prefix`. A loop: at a few dozen bytes it beats Buffer#compare, whose call into C++ costs more than the compare. */
export function startsWith(b: Uint8Array, start: number, prefix: Uint8Array): boolean {
  const n = prefix.length;
  for (let k = n - 1; k >= 0; k--) if (b[start + k] !== prefix[k]) return false;
  return true;
}
