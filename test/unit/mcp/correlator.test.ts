import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Correlator } from '../../../dist/mcp/correlator.js';

const corr = suite('Correlator');

corr('a response takes its request once, by scope, direction and id', () => {
  const c = new Correlator();
  c.start('s1', 'client', '1', 'tools/call', 10);
  c.start('s2', 'client', '1', 'ping', 20);
  assert.is(c.finish('s1', 'server', '1'), undefined); // the other direction
  assert.equal(c.finish('s1', 'client', '1'), { method: 'tools/call', startedAt: 10 });
  assert.is(c.finish('s1', 'client', '1'), undefined);
  assert.equal(c.finish('s2', 'client', '1'), { method: 'ping', startedAt: 20 });
  assert.is(c.size, 0);
});

corr('bounded: the oldest pending request goes first; a reused id counts as new', () => {
  const c = new Correlator(3);
  c.start('s', 'client', '1', 'a', 1);
  c.start('s', 'client', '2', 'b', 2);
  c.start('s', 'client', '3', 'c', 3);
  c.start('s', 'client', '1', 'a2', 4); // replaces 1, now the newest
  c.start('s', 'client', '4', 'd', 5); // evicts 2, the oldest
  assert.is(c.size, 3);
  assert.is(c.finish('s', 'client', '2'), undefined);
  assert.equal(c.finish('s', 'client', '1'), { method: 'a2', startedAt: 4 });
  assert.ok(c.finish('s', 'client', '3'));
  assert.ok(c.finish('s', 'client', '4'));
});

corr.run();
