// The numbers and constant pieces of a tape line, written straight into the slab a line is
// queued in (recorder.ts): no string per number and no call per piece on the path of every
// message. msText is the same figure as text, for the rare lines built as strings.

/** Copies a short constant into `to` at `at`; returns the end. A loop: for a few bytes it costs less than Buffer#copy's call. */
export function put(to: Buffer, at: number, bytes: Buffer): number {
  const n = bytes.length;
  for (let i = 0; i < n; i++) to[at + i] = bytes[i]!;
  return at + n;
}

/** Writes the decimal digits of a non-negative integer; returns the end. */
export function putInt(to: Buffer, at: number, n: number): number {
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
  to[at] = 0x2e;
  to[at + 1] = 0x30 + Math.floor(frac / 100);
  to[at + 2] = 0x30 + (Math.floor(frac / 10) % 10);
  to[at + 3] = 0x30 + (frac % 10);
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
