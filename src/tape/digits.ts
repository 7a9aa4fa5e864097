// The numbers and constant pieces of a tape line, written straight into the slab a line is
// queued in (recorder.ts): no string per number and no call per piece on the path of every
// message. msText is the same figure as text, for the rare lines built as strings.

/** Copies a short constant into `to` at `at`; returns the end. A loop: for a few bytes it costs less than a call to set() (over 12 bytes, use set()). */
export function put(to: Buffer, at: number, bytes: Buffer): number {
  const n = bytes.length;
  for (let i = 0; i < n; i++) to[at + i] = bytes[i]!;
  return at + n;
}

// "00" to "99": two digits per division.
const PAIRS = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''), 'latin1');

/** Writes the decimal digits of a non-negative integer; returns the end. */
export function putInt(to: Buffer, at: number, n: number): number {
  // Integer division (|0) holds below 2^31; a larger figure (a tape of weeks) takes the slow path.
  if (n > 0x7fffffff) return putBigInt(to, at, n);
  let digits = 1;
  for (let x = n; x >= 10; x = (x / 10) | 0) digits++;
  let i = at + digits;
  while (n >= 100) {
    const q = (n / 100) | 0;
    const r = (n - q * 100) << 1;
    to[--i] = PAIRS[r + 1]!;
    to[--i] = PAIRS[r]!;
    n = q;
  }
  if (n >= 10) {
    to[--i] = PAIRS[(n << 1) + 1]!;
    to[--i] = PAIRS[n << 1]!;
  } else {
    to[--i] = 0x30 + n;
  }
  return at + digits;
}

function putBigInt(to: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  for (let i = at + digits - 1; i >= at; i--) {
    const q = Math.floor(n / 10);
    to[i] = 0x30 + n - q * 10;
    n = q;
  }
  return at + digits;
}

/** Writes msText(ms) (a duration in ms to the µs); returns the end. */
export function putMs(to: Buffer, at: number, ms: number): number {
  const us = Math.round(ms * 1000);
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  at = putInt(to, at, whole);
  if (frac === 0) return at;
  // Three digits, as msText pads them.
  const h = (frac / 100) | 0;
  const r = (frac - h * 100) << 1;
  to[at] = 0x2e;
  to[at + 1] = 0x30 + h;
  to[at + 2] = PAIRS[r]!;
  to[at + 3] = PAIRS[r + 1]!;
  return at + 4;
}

/** A duration in ms to the µs as JSON text, from integers (a double's shortest form costs more to print). */
export function msText(ms: number): string {
  const us = Math.round(ms * 1000);
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  if (frac === 0) return `${whole}`;
  return `${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}
