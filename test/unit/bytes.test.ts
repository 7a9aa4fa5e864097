// The hot paths' Buffer calls (src/bytes.ts) give what the Buffer methods they stand for
// give: views, searches, copies and text, at every offset of a buffer that is itself a
// slice of a larger one (as socket reads and pool allocations are).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyInto, copyRange, indexOfByte, indexOfBytes, latin1, utf8, view, writeLatin1 } from '../../dist/bytes.js';

const bytes = suite('bytes');

/** A Buffer that starts part-way into a larger allocation, with bytes on either side. */
function sliced(text: string, encoding: BufferEncoding = 'latin1'): Buffer {
  const inner = Buffer.from(text, encoding);
  const outer = Buffer.concat([Buffer.from('<<<'), inner, Buffer.from('>>>')]);
  return outer.subarray(3, 3 + inner.length);
}

bytes('view is subarray for every in-range and over-long pair, shares memory, and is a Buffer', () => {
  const b = sliced('POST /mcp HTTP/1.1\r\n');
  for (let s = 0; s <= b.length + 2; s++) {
    for (let e = 0; e <= b.length + 3; e++) {
      const v = view(b, s, e);
      const want = b.subarray(s, e);
      assert.ok(Buffer.isBuffer(v));
      assert.is(v.length, want.length, `${s}..${e}`);
      assert.is(v.toString('latin1'), want.toString('latin1'), `${s}..${e}`);
      if (v.length > 0) assert.is(v.byteOffset, want.byteOffset, `${s}..${e}`);
    }
  }
  // Negative indices (subarray counts them from the end) are clamped to 0: never outside the buffer.
  assert.is(view(b, -2, 3).toString('latin1'), b.subarray(0, 3).toString('latin1'));
  assert.is(view(b, 2, -1).length, 0);
  const v = view(b, 5, 8);
  v[0] = 0x4d;
  assert.is(b[5], 0x4d, 'the view writes through to the buffer');
});

bytes('indexOfByte and indexOfBytes find what Buffer#indexOf finds, from every offset', () => {
  const b = sliced('a\r\nb: c\r\n\r\nbody\r\n');
  const crlf2 = Buffer.from('\r\n\r\n');
  for (let from = 0; from <= b.length; from++) {
    assert.is(indexOfByte(b, 0x0d, from), b.indexOf(0x0d, from), `CR from ${from}`);
    assert.is(indexOfByte(b, 0x0a, from), b.indexOf(0x0a, from), `LF from ${from}`);
    assert.is(indexOfBytes(b, crlf2, from), b.indexOf(crlf2, from), `CRLFCRLF from ${from}`);
  }
  assert.is(indexOfByte(b, 0x7e, 0), -1);
});

bytes('latin1 and utf8 read what toString reads', () => {
  const b = sliced('héllo wörld ✓', 'utf8');
  for (let s = 0; s <= b.length; s++) {
    for (let e = s; e <= b.length; e++) {
      assert.is(latin1(b, s, e), b.toString('latin1', s, e));
      assert.is(utf8(b, s, e), b.toString('utf8', s, e));
    }
  }
});

bytes('copyInto, copyRange and writeLatin1 write what set, copy and write do', () => {
  const src = sliced('0123456789');
  const a = Buffer.alloc(16, 0x2e);
  const b = Buffer.alloc(16, 0x2e);
  copyInto(a, src, 3);
  b.set(src, 3);
  assert.is(a.toString('latin1'), b.toString('latin1'));
  copyRange(a, src, 2, 6, 0);
  src.copy(b, 0, 2, 6);
  assert.is(a.toString('latin1'), b.toString('latin1'));
  assert.is(writeLatin1(a, 'xé', 10), b.write('xé', 10, 'latin1'));
  assert.is(a.toString('latin1'), b.toString('latin1'));
});

bytes.run();
