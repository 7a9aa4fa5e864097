// Changed copies of a message head, for the tests that check a kept head (http/head-template.ts)
// reads and frames exactly as a full read and llhttp do, whatever its bytes.

/** The lines whose values a kept head holds as wildcards. */
export const WILD_LINES = ['Content-Length:', 'Date:', 'Authorization:', 'X-API-Key:', 'Cookie:', 'Set-Cookie:', 'Proxy-Authorization:'];

/** Bytes that read differently in a header value: controls, blanks, digits, delimiters, letters, DEL, high bytes. */
const AWKWARD = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x2b, 0x2c, 0x2d, 0x30, 0x39, 0x3a, 0x41, 0x61, 0x7f, 0x80, 0xff];

/** [start, end) of each wildcard line's value (its blanks included) in `head`. */
function wildSpans(head: Buffer): [number, number][] {
  const text = head.toString('latin1');
  const spans: [number, number][] = [];
  for (const name of WILD_LINES) {
    const i = text.indexOf(name);
    if (i !== -1) spans.push([i + name.length, text.indexOf('\r\n', i)]);
  }
  return spans;
}

/** A copy of `head` with a few bytes changed: mostly inside the wildcard values (digits, blanks, letters, controls, DEL, high bytes), sometimes anywhere but in its last `keepLast` bytes. */
export function mutateHead(head: Buffer, next: () => number, keepLast = 0): Buffer {
  const m = Buffer.from(head);
  const spans = wildSpans(head);
  const changes = 1 + Math.floor(next() * 3);
  for (let c = 0; c < changes; c++) {
    let at: number;
    if (spans.length > 0 && next() < 0.85) {
      const [s, e] = spans[Math.floor(next() * spans.length)]!;
      at = s + Math.floor(next() * (e - s));
    } else at = Math.floor(next() * (head.length - keepLast));
    const pick = next();
    m[at] = pick < 0.5 ? 0x30 + Math.floor(next() * 10) : pick < 0.6 ? 0x20 : pick < 0.65 ? 0x09 : pick < 0.75 ? 0x41 + Math.floor(next() * 26)
      : pick < 0.85 ? Math.floor(next() * 0x20) : pick < 0.9 ? 0x7f : 0x80 + Math.floor(next() * 0x80);
  }
  return m;
}

/** Every copy of `head` with one byte of a wildcard line's value (its blanks included) set to one awkward byte. */
export function oneByteChanges(head: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (const [s, e] of wildSpans(head)) {
    for (let at = s; at < e; at++) {
      for (const byte of AWKWARD) {
        const m = Buffer.from(head);
        m[at] = byte;
        out.push(m);
      }
    }
  }
  return out;
}
