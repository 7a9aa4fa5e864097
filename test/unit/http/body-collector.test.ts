import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BodyCollector } from '../../../dist/http/body-collector.js';

const collector = suite('BodyCollector');
const text = (b: Buffer): string => b.toString('latin1');

collector('keeps one part as it came, several joined in order, and empties on take', () => {
  const c = new BodyCollector();
  assert.is(text(c.take()), '');
  const one = Buffer.from('abc');
  c.push(one, 100);
  assert.is(c.whole(), one, 'a lone part is not copied');
  assert.is(c.take(), one);
  assert.is(c.bytes, 0);
  assert.is(text(c.take()), '', 'take() leaves nothing behind');
  for (const p of ['ab', 'cd', 'ef']) c.push(Buffer.from(p), 100);
  assert.is(text(c.whole()), 'abcdef');
  c.push(Buffer.from('gh'), 100);
  assert.is(text(c.whole()), 'abcdefgh', 'parts after a whole() join behind it');
  assert.is(c.bytes, 8);
  assert.is(text(c.take()), 'abcdefgh');
  c.push(Buffer.from('x'), 100);
  assert.is(text(c.take()), 'x', 'nothing of the last body stays');
});

collector('past its limit it keeps nothing, counts on, and reset() starts again', () => {
  const c = new BodyCollector();
  c.push(Buffer.from('abcd'), 6);
  c.push(Buffer.from('efg'), 6);
  assert.ok(c.overflow);
  assert.is(c.bytes, 7);
  c.push(Buffer.from('h'), 6);
  assert.is(c.bytes, 8);
  assert.is(text(c.whole()), '');
  c.reset();
  assert.not.ok(c.overflow);
  assert.is(c.bytes, 0);
  c.push(Buffer.from('ok'), 6);
  assert.is(text(c.take()), 'ok');
});

collector.run();
