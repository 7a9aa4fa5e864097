// Buffer views, searches, copies and latin1/UTF-8 reads for the hot paths, called as
// constants. In Node 20, reading a method or getter off a Buffer instance (`buf.indexOf`,
// `buf.set`, `buf.subarray`, `buf.byteOffset`) is a LoadIC call every time, which optimized
// code does not inline, and `subarray` then looks up the species constructor through more
// of them; calling the same functions as constants skips all of that
// (native-bench/results/buffer-calls-2026-12-07.md). Everything here takes in-range
// indices, as the callers' framing guarantees.

import { Buffer } from 'node:buffer';

const TYPED_ARRAY = Object.getPrototypeOf(Uint8Array.prototype) as object;
const getter = (name: string): (this: Uint8Array) => unknown => Object.getOwnPropertyDescriptor(TYPED_ARRAY, name)!.get as (this: Uint8Array) => unknown;
const BUFFER_OF = getter('buffer') as (this: Uint8Array) => ArrayBuffer;
const OFFSET_OF = getter('byteOffset') as (this: Uint8Array) => number;
const SET = Uint8Array.prototype.set;
const INDEX_OF = Buffer.prototype.indexOf;
const COMPARE = Buffer.prototype.compare;
/** The class of every Buffer (what `subarray` finds by species), so a view is one construction. */
const FAST_BUFFER = (Buffer as unknown as { readonly [Symbol.species]: new (b: ArrayBuffer, offset: number, length: number) => Buffer })[Symbol.species];

// Buffer's own latin1 and UTF-8 readers and writer (what toString and write end in, without
// the argument and encoding dispatch around them); not in @types/node. A Node without them
// gets the public methods.
interface BufferInternals {
  latin1Slice?(start: number, end: number): string;
  utf8Slice?(start: number, end: number): string;
  latin1Write?(text: string, offset: number): number;
}
const PROTO = Buffer.prototype as Buffer & BufferInternals;
const LATIN1_SLICE: (this: Buffer, start: number, end: number) => string = PROTO.latin1Slice ?? function (this: Buffer, start, end) {
  return this.toString('latin1', start, end);
};
const UTF8_SLICE: (this: Buffer, start: number, end: number) => string = PROTO.utf8Slice ?? function (this: Buffer, start, end) {
  return this.toString('utf8', start, end);
};
const LATIN1_WRITE: (this: Buffer, text: string, offset: number) => number = PROTO.latin1Write ?? function (this: Buffer, text, offset) {
  return this.write(text, offset, 'latin1');
};

/** buf[start, end) as a Buffer sharing its memory: `subarray` for indices >= 0. Indices are
 *  clamped to [0, buf.length], so a view never reaches the memory around `buf` (a pool slab). */
export function view(buf: Buffer, start: number, end: number): Buffer {
  const length = buf.length;
  const e = end > length ? length : end < 0 ? 0 : end;
  const s = start > e ? e : start < 0 ? 0 : start;
  return new FAST_BUFFER(BUFFER_OF.call(buf), OFFSET_OF.call(buf) + s, e - s);
}

/** The ArrayBuffer under `buf` (the `buffer` getter, called without an inline-cache miss). */
export function memoryOf(buf: Uint8Array): ArrayBufferLike {
  return BUFFER_OF.call(buf);
}

/** Where `buf` starts in its ArrayBuffer (`byteOffset`). */
export function offsetOf(buf: Uint8Array): number {
  return OFFSET_OF.call(buf);
}

/** The index of `byte` in `buf` at or after `from`, or -1. */
export function indexOfByte(buf: Buffer, byte: number, from: number): number {
  return INDEX_OF.call(buf, byte, from);
}

/** The index of the bytes of `needle` in `buf` at or after `from`, or -1. */
export function indexOfBytes(buf: Buffer, needle: Uint8Array, from: number): number {
  return INDEX_OF.call(buf, needle, from);
}

/** Copies `src` into `dst` at `pos` (TypedArray#set). */
export function copyInto(dst: Uint8Array, src: Uint8Array, pos: number): void {
  SET.call(dst, src, pos);
}

/** Copies buf[start, end) into `dst` at `pos`, through a plain view (no Buffer made). */
export function copyRange(dst: Uint8Array, buf: Uint8Array, start: number, end: number, pos: number): void {
  SET.call(dst, new Uint8Array(BUFFER_OF.call(buf), OFFSET_OF.call(buf) + start, end - start), pos);
}

/** buf[start, end) read as latin1. */
export function latin1(buf: Buffer, start: number, end: number): string {
  return LATIN1_SLICE.call(buf, start, end);
}

/** buf[start, end) read as UTF-8. */
export function utf8(buf: Buffer, start: number, end: number): string {
  return UTF8_SLICE.call(buf, start, end);
}

/** Writes `text` as latin1 into `buf` at `pos`; returns the bytes written. */
export function writeLatin1(buf: Buffer, text: string, pos: number): number {
  return LATIN1_WRITE.call(buf, text, pos);
}

/** Whether a[aStart, aEnd) holds the bytes of b from bStart on: one call into C++ (a memcmp), cheaper than a byte loop past a few dozen bytes. */
export function equalBytes(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number): boolean {
  return COMPARE.call(a, b, bStart, bStart + aEnd - aStart, aStart, aEnd) === 0;
}
