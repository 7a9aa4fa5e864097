import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { msText, put, putInt, putMs } from '../../../dist/tape/digits.js';

const digits = suite('tape line digits');

digits('putMs writes what msText says, putInt what String says, for every size of number', () => {
  const slab = Buffer.alloc(64, 0x2a);
  const values = [0, 0.0004, 0.0005, 0.001, 0.01, 0.05, 0.1, 0.999, 0.9996, 1, 1.5, 9.9995, 10, 99.05, 123.456, 1e3, 86_400_000.123, 2 ** 31 + 0.5, 2 ** 40 + 0.25];
  for (let i = 0; i < 2000; i++) values.push(Math.random() * 10 ** (i % 12));
  for (const ms of values) {
    const end = putMs(slab, 3, ms);
    assert.is(slab.toString('latin1', 3, end), msText(ms), String(ms));
    assert.is(slab[end], 0x2a, 'nothing written past the end');
    slab.fill(0x2a);
  }
  const ints = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 999_999, 1_000_000, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 7, 2 ** 52];
  for (let i = 0; i < 2000; i++) ints.push(Math.floor(Math.random() * 10 ** (i % 16)));
  for (const n of ints) {
    const end = putInt(slab, 0, n);
    assert.is(slab.toString('latin1', 0, end), String(n));
  }
  const end = put(slab, 5, Buffer.from(',"msg":'));
  assert.is(slab.toString('latin1', 5, end), ',"msg":');
});

digits.run();
