import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry } from '../../../dist/session/registry.js';
import { Session } from '../../../dist/session/session.js';
import { until } from '../../helpers/wait.js';

function setup(opts: { maxSessions?: number; maxPerClient?: number; idleTimeoutMs?: number } = {}) {
  let now = 1_000_000;
  const expired: string[] = [];
  const registry: Registry = new Registry({
    maxSessions: opts.maxSessions ?? 10,
    maxPerClient: opts.maxPerClient ?? 10,
    idleTimeoutMs: opts.idleTimeoutMs ?? 1000,
    now: () => now,
    onExpire: (s) => {
      expired.push(s.id);
      s.close('expired');
    },
  });
  const make = (ip = '10.0.0.1'): Session => {
    const s: Session = new Session(ip, 1234, now, (sess) => registry.remove(sess));
    registry.add(s);
    return s;
  };
  return { registry, make, expired, advance: (ms: number) => { now += ms; } };
}

const reg = suite('Registry');

reg('admission: max sessions and max per client', () => {
  const { registry, make } = setup({ maxSessions: 3, maxPerClient: 2 });
  make('a');
  make('a');
  assert.is(registry.admit('a'), 'max-per-client');
  assert.is(registry.admit('b'), 'ok');
  const b = make('b');
  assert.is(registry.admit('c'), 'max-sessions');
  b.close('done');
  assert.is(registry.admit('c'), 'ok');
  assert.is(registry.countFor('a'), 2);
  assert.is(registry.countFor('b'), 0);
  registry.close();
});

reg('list is in idle order: touch moves a session to the head', () => {
  const { registry, make, advance } = setup();
  const s1 = make();
  advance(1);
  const s2 = make();
  advance(1);
  const s3 = make();
  assert.equal(registry.list().map((s) => s.id), [s3.id, s2.id, s1.id]);
  advance(1);
  registry.touch(s1);
  assert.equal(registry.list().map((s) => s.id), [s1.id, s3.id, s2.id]);
  assert.is(registry.get(s2.id), s2);
  // get() is a peek: it did not change the order
  assert.equal(registry.list().map((s) => s.id), [s1.id, s3.id, s2.id]);
  registry.close();
});

reg('expiry closes from the least recently active, and only the expired ones', () => {
  const { registry, make, advance, expired } = setup({ idleTimeoutMs: 1000 });
  const s1 = make();
  advance(300);
  const s2 = make();
  advance(300);
  const s3 = make();
  advance(300);
  registry.touch(s1); // s1 is now the most recent
  advance(500); // s2 idle 1100, s3 idle 800, s1 idle 500
  const visits = registry.expireIdle();
  assert.equal(expired, [s2.id]);
  assert.is(visits, 2); // s2 (expired) + s3 (stopped there)
  assert.is(registry.size, 2);
  assert.is(s2.state, 'closed');
  assert.is(s2.closeReason, 'expired');
  registry.close();
});

reg('an expiry pass over 100,000 live sessions visits only the expired ones', () => {
  const { registry, make, advance, expired } = setup({ maxSessions: 100_000, maxPerClient: 100_000, idleTimeoutMs: 1000 });
  for (let i = 0; i < 100; i++) make('10.1.1.1');
  advance(600);
  for (let i = 0; i < 99_900; i++) make('10.1.1.1');
  advance(500); // the first 100 are 1100 ms idle, the rest 500 ms
  const visits = registry.expireIdle();
  assert.is(expired.length, 100);
  assert.is(visits, 101);
  assert.is(registry.size, 99_900);
  assert.is(registry.countFor('10.1.1.1'), 99_900);
  registry.close();
});

reg('MCP session index groups connections and forgets closed ones', () => {
  const { registry, make } = setup();
  const a = make();
  const b = make();
  registry.setMcpSession(a, 'm1');
  registry.setMcpSession(b, 'm1');
  assert.is(registry.byMcpSession('m1').length, 2);
  a.close('done');
  assert.equal(registry.byMcpSession('m1').map((s) => s.id), [b.id]);
  b.close('done');
  assert.is(registry.byMcpSession('m1').length, 0);
  registry.close();
});

reg('the idle timer expires sessions on its own', async () => {
  const registry: Registry = new Registry({ maxSessions: 10, maxPerClient: 10, idleTimeoutMs: 50, onExpire: (s) => s.close('expired') });
  const s = new Session('1.1.1.1', 1, Date.now(), (sess) => registry.remove(sess));
  registry.add(s);
  await until(() => s.closeReason !== null, 5000, 'the idle timer');
  assert.is(s.closeReason, 'expired');
  assert.is(registry.size, 0);
  registry.close();
});

reg('session ids are distinct random (v4) UUIDs, each one flat string', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 5000; i++) ids.add(new Session('10.0.0.1', 1, 0, () => {}).id);
  assert.is(ids.size, 5000);
  for (const id of [...ids].slice(0, 300)) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

reg.run();
