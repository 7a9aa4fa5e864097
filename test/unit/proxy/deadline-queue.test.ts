// The deadline queue behind request-head and response-head timeouts: order, disarm,
// re-arm, arming from an expiry callback, close.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Deadline, DeadlineQueue } from '../../../dist/proxy/deadline-queue.js';

// The queue's timer is unref'd (in the proxy, sockets keep the process alive): this one
// stands in for them while a test waits.
let alive: NodeJS.Timeout;
test.before(() => {
  alive = setInterval(() => {}, 1000);
});
test.after(() => clearInterval(alive));

test('deadlines expire in arming order; a disarmed one never does', async () => {
  const log: string[] = [];
  let wake: () => void = () => {};
  const q = new DeadlineQueue<string>(20, (name) => {
    log.push(name);
    if (log.length === 2) wake();
  });
  const a = new Deadline('a');
  const b = new Deadline('b');
  const c = new Deadline('c');
  q.arm(a);
  q.arm(b);
  q.arm(c);
  q.disarm(b);
  assert.is(b.at, 0);
  q.disarm(b); // twice is harmless
  await new Promise<void>((r) => (wake = r));
  assert.equal(log, ['a', 'c']);
  assert.is(a.at, 0);
  q.close();
});

test('re-arming moves a deadline behind the others', async () => {
  const log: string[] = [];
  let wake: () => void = () => {};
  const q = new DeadlineQueue<string>(30, (name) => {
    log.push(name);
    if (log.length === 2) wake();
  });
  const a = new Deadline('a');
  const b = new Deadline('b');
  q.arm(a);
  q.arm(b);
  q.arm(a);
  await new Promise<void>((r) => (wake = r));
  assert.equal(log, ['b', 'a']);
  q.close();
});

test('a deadline armed from an expiry callback still expires, after its own wait', async () => {
  const log: string[] = [];
  let wake: () => void = () => {};
  const second = new Deadline('second');
  let armedAt = 0;
  let firedAt = 0;
  const q: DeadlineQueue<string> = new DeadlineQueue<string>(25, (name) => {
    log.push(name);
    if (name === 'first') {
      armedAt = performance.now();
      q.arm(second);
    } else {
      firedAt = performance.now();
      wake();
    }
  });
  q.arm(new Deadline('first'));
  await new Promise<void>((r) => (wake = r));
  assert.equal(log, ['first', 'second']);
  assert.ok(firedAt - armedAt >= 24, `fired ${firedAt - armedAt} ms after arming`);
  q.close();
});

test('close stops every armed deadline', async () => {
  let calls = 0;
  const q = new DeadlineQueue<string>(10, () => calls++);
  q.arm(new Deadline('x'));
  q.close();
  // A queue of the same period armed after it fires after it would have: then it is known not to have.
  await new Promise<void>((resolve) => {
    const sentinel = new DeadlineQueue<string>(10, () => {
      sentinel.close();
      resolve();
    });
    sentinel.arm(new Deadline('sentinel'));
  });
  assert.is(calls, 0);
});

test.run();
