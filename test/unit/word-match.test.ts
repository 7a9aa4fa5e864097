import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PrefixWords, WordView, wordsMatch } from '../../dist/word-match.js';

const words = suite('word-match');

words('agrees with a byte compare at every alignment, with and without zero bytes', () => {
  let seed = 3;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed >>> 8) % n;
  };
  // A small alphabet, so near-misses are common; 0 and 0x80 (the bytes of -0) among them.
  const alphabet = [0x61, 0x62, 0x22, 0x3a, 0x00, 0x80, 0x7f, 0xff, 0xf0];
  for (let round = 0; round < 300; round++) {
    const slab = Buffer.alloc(512 + rnd(64));
    for (let i = 0; i < slab.length; i++) slab[i] = alphabet[rnd(alphabet.length)]!;
    // A view into the slab at any offset, as a pooled read would be.
    const off = rnd(16);
    const b = slab.subarray(off, off + 400 + rnd(64));
    const view = new WordView();
    view.see(b);
    const len = 1 + rnd(90);
    const at = rnd(b.length - len);
    const prefix = Buffer.from(b.subarray(at, at + len));
    if (rnd(2) === 0) prefix[rnd(len)] = alphabet[rnd(alphabet.length)]!;
    const p = new PrefixWords(prefix);
    for (let start = 0; start + len <= b.length; start += 1 + rnd(5)) {
      const got = wordsMatch(view, start, p);
      if (got === -1) {
        assert.ok(start + len > b.length - 16, `-1 only near the end (${start} of ${b.length})`);
        continue;
      }
      const want = prefix.equals(b.subarray(start, start + len)) ? 1 : 0;
      assert.is(got, want, `round ${round} start ${start} prefix ${prefix.toString('hex')}`);
    }
  }
});

words('zero and negative zero are different bytes', () => {
  const slab = Buffer.alloc(64);
  slab.writeDoubleLE(-0, 16);
  const p = new PrefixWords(Buffer.alloc(24));
  const view = new WordView();
  view.see(slab);
  assert.is(wordsMatch(view, 8, p), 0);
  assert.is(wordsMatch(view, 24, p), 1);
});

words.run();
