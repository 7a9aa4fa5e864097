import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Correlator, type Pending } from '../../../dist/mcp/correlator.js';

const corr = suite('Correlator');

const facts = (p: Pending | undefined): { method: string; startedAt: number } | undefined => (p === undefined ? undefined : { method: p.method, startedAt: p.startedAt });

corr('a response takes its request once, by scope, direction and id', () => {
  const c = new Correlator();
  c.start('s1', 'client', '1', 'tools/call', 10);
  c.start('s2', 'client', '1', 'ping', 20);
  assert.is(c.finish('s1', 'server', '1'), undefined); // the other direction
  assert.equal(facts(c.finish('s1', 'client', '1')), { method: 'tools/call', startedAt: 10 });
  assert.is(c.finish('s1', 'client', '1'), undefined);
  assert.equal(facts(c.finish('s2', 'client', '1')), { method: 'ping', startedAt: 20 });
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
  assert.equal(facts(c.finish('s', 'client', '1')), { method: 'a2', startedAt: 4 });
  assert.ok(c.finish('s', 'client', '3'));
  assert.ok(c.finish('s', 'client', '4'));
  assert.is(c.size, 0);
});

corr('the bound is across scopes and directions, oldest first', () => {
  const c = new Correlator(2);
  c.start('a', 'client', '1', 'first', 1);
  c.start('b', 'server', '1', 'second', 2);
  c.start('c', 'client', '1', 'third', 3); // evicts a's, the oldest
  assert.is(c.finish('a', 'client', '1'), undefined);
  assert.equal(facts(c.finish('b', 'server', '1')), { method: 'second', startedAt: 2 });
  assert.equal(facts(c.finish('c', 'client', '1')), { method: 'third', startedAt: 3 });
});

corr('a scope with nothing pending is forgotten, also when its last request is evicted by a new one of its own', () => {
  const c = new Correlator(1);
  c.start('s', 'client', '1', 'a', 1);
  assert.is(c.scopes, 1);
  c.start('s', 'client', '2', 'b', 2); // evicts s/1, the scope's last: the scope is made again
  assert.is(c.scopes, 1);
  assert.is(c.finish('s', 'client', '1'), undefined);
  assert.equal(facts(c.finish('s', 'client', '2')), { method: 'b', startedAt: 2 });
  assert.is(c.scopes, 0);
  // Many sessions, one request each, all answered: nothing is left behind.
  const many = new Correlator();
  for (let i = 0; i < 1000; i++) many.start(`session-${i}`, 'client', '1', 'ping', i);
  for (let i = 0; i < 1000; i++) assert.ok(many.finish(`session-${i}`, 'client', '1'));
  assert.is(many.size, 0);
  assert.is(many.scopes, 0);
  // A reused scope map starts empty.
  many.start('x', 'client', '7', 'tools/list', 1);
  assert.is(many.finish('x', 'client', '1'), undefined);
  assert.ok(many.finish('x', 'client', '7'));
});

corr.run();
