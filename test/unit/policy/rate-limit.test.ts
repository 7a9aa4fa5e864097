import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RateLimiter } from '../../../dist/policy/rate-limit.js';

const limiter = suite('RateLimiter');

limiter('a burst of R, then refills at R per second, per IP', () => {
  let now = 0;
  const rl = new RateLimiter(2, 100, () => now);
  assert.is(rl.take('a'), 0);
  assert.is(rl.take('a'), 0);
  assert.is(rl.take('a'), 1); // empty: retry after a second
  assert.is(rl.take('b'), 0); // another IP has its own bucket
  now += 500; // half a second refills one token
  assert.is(rl.take('a'), 0);
  assert.is(rl.take('a'), 1);
  now += 10_000; // never more than the burst
  assert.is(rl.take('a'), 0);
  assert.is(rl.take('a'), 0);
  assert.ok(rl.take('a') > 0);
});

limiter('buckets are bounded: the least recent IPs are forgotten', () => {
  const now = 0;
  const rl = new RateLimiter(1, 2, () => now);
  assert.is(rl.take('a'), 0);
  assert.is(rl.take('b'), 0);
  assert.is(rl.take('c'), 0); // evicts a
  assert.is(rl.take('a'), 0); // a starts afresh
});

limiter.run();
