// The pool of framers and readers idle sessions give back.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FRAME_END, FRAME_MORE } from '../../../dist/http/framer.js';
import { PartsPool } from '../../../dist/proxy/exchange-parts.js';

const pool = suite('PartsPool');
const head = Buffer.from('POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}');

pool('a set given back is the next one taken; a new one is made when none is spare', () => {
  const p = new PartsPool(8192, null, 1 << 20);
  const a = p.take();
  const b = p.take();
  assert.is.not(a, b);
  p.give(a);
  assert.is(p.take(), a);
});

pool('a set stopped mid-message is cleared before it is given back: the next taker starts at a new request', () => {
  const p = new PartsPool(8192, null, 1 << 20);
  const a = p.take();
  assert.is(a.reqFramer.execute(head.subarray(0, 20)), FRAME_MORE);
  assert.is(a.reqHead.more(head.subarray(0, 20)), 0);
  assert.ok(a.reqHead.pending);
  a.clear();
  p.give(a);
  const again = p.take();
  assert.is(again, a);
  assert.not.ok(again.reqHead.pending, 'no head kept from the last taker');
  assert.is(again.reqFramer.execute(head), FRAME_END, 'the framer reads a whole new request');
});

pool.run();
