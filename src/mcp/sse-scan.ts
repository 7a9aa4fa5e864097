// The SSE reader's repeat scan in wasm (sse-scan.wat): a large read of one kind of
// notification is counted 16 bytes at a time, in one call, where the reader's own walk
// costs a few dozen JS steps per event. The module is made on first use and shared by every
// reader of the process (reads are handled one at a time); a Node without wasm SIMD gets
// null, and the reader walks as before.

import { Buffer } from 'node:buffer';
import { Wasm } from '../wasm.js';
import { SSE_SCAN_WASM } from './sse-scan-wasm.js';

interface ScanExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  stop: { value: number };
  scan(at: number, end: number, headLen: number, idLine: number, tailLen: number, valueAt: number, same: number, limit: number): number;
}

// The module's memory layout (sse-scan.wat).
const HEAD = 0;
const TAIL = 512;
const READ = 1024;
/** The vector loads may read this far past a read's end. */
const SLACK = 16;
const PAGE = 65536;
/** Longer heads and tails are left to the reader's walk. */
const MAX_SCAN_TEMPLATE = 512;
/** Larger reads are left to the reader's walk (memory stays small: node reads 64 KiB at most). */
const MAX_SCAN_READ = 1 << 20;

let scanner: ScanExports | null | undefined;
/** A view of the module's memory, made again when memory grows (which detaches the old one). */
let heap = new Uint8Array(0);
/** The template whose bytes are in memory. */
let loaded: object | null = null;
/** The read whose bytes from `copiedFrom` on are in memory. */
let copied: Buffer | null = null;
let copiedFrom = 0;

function load(): ScanExports | null {
  try {
    const instance = new Wasm.Instance(new Wasm.Module(Buffer.from(SSE_SCAN_WASM, 'base64')), {});
    const exports = instance.exports as ScanExports;
    heap = new Uint8Array(exports.memory.buffer);
    return exports;
  } catch {
    // No wasm SIMD here (or no wasm at all): every event is walked.
    return null;
  }
}

/** The bytes of the read the reader pushes next may be other bytes in the same Buffer: nothing copied is reused. */
export function forgetRead(): void {
  copied = null;
}

/** A template as the scan reads it (the reader's EventTemplate). */
export interface ScanTemplate {
  readonly head: Buffer;
  readonly idLine: boolean;
  readonly tail: Buffer;
  readonly valueAt: number;
}

/**
 * Counts the events of b from `start` on that the reader's walk would hand to its repeat
 * handler as repeats of `t` (and that a handler checking what follows the first `same`
 * bytes of the data would count); where the first one not counted starts is scanStop().
 * -1 when the scan cannot run here (no wasm SIMD, a template or read too large).
 */
export function scanRepeats(b: Buffer, start: number, t: ScanTemplate, same: number, limit: number): number {
  let s = scanner;
  if (s === undefined) s = scanner = load();
  const n = b.length;
  if (s === null || n - start > MAX_SCAN_READ || t.head.length > MAX_SCAN_TEMPLATE || t.tail.length > MAX_SCAN_TEMPLATE) return -1;
  if (copied !== b || start < copiedFrom) {
    const need = READ + (n - start) + SLACK;
    if (need > heap.length) {
      s.memory.grow(Math.ceil((need - heap.length) / PAGE));
      heap = new Uint8Array(s.memory.buffer);
    }
    heap.set(start === 0 ? b : b.subarray(start), READ);
    copied = b;
    copiedFrom = start;
  }
  if (loaded !== t) {
    heap.set(t.head, HEAD);
    heap.set(t.tail, TAIL);
    loaded = t;
  }
  const base = READ - copiedFrom;
  return s.scan(base + start, base + n, t.head.length, t.idLine ? 1 : 0, t.tail.length, t.valueAt, same, Math.min(limit, 0x7fffffff));
}

/** Where the last scanRepeats() stopped: the start of the first event it did not count, an index into its read. */
export function scanStop(): number {
  return scanner!.stop.value - READ + copiedFrom;
}
