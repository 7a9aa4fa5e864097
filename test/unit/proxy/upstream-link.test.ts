// The upstream link without a network: how a socket goes back to each kind of source.
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ProxyError } from '../../../dist/errors.js';
import { UpstreamLink, type LinkOwner } from '../../../dist/proxy/upstream-link.js';
import type { SocketWaiter, UpstreamSource } from '../../../dist/upstream/upstream-source.js';

/** Enough of a socket for the link: events, pause/resume, writes, destroy. */
class FakeSocket extends EventEmitter {
  paused = false;
  destroyed = false;
  written: string[] = [];
  pause(): this { this.paused = true; return this; }
  resume(): this { this.paused = false; return this; }
  write(buf: Buffer): boolean { this.written.push(buf.toString()); return true; }
  cork(): void {}
  uncork(): void {}
  destroy(): this { this.destroyed = true; return this; }
}

/** A source that records what happens to its sockets; `hand` answers the pending acquire. */
function source(sharesSockets: boolean, queues = sharesSockets) {
  const calls: string[] = [];
  let pending: SocketWaiter | null = null;
  const src: UpstreamSource = {
    sharesSockets, queues,
    acquire: (waiter) => { calls.push('acquire'); pending = waiter; },
    acquireOwn: (waiter) => { calls.push('acquireOwn'); pending = waiter; },
    release: (_s, reusable, until) => { calls.push(`release ${reusable} ${until ?? ''}`.trim()); },
    detach: () => { calls.push('detach'); },
    retire: (_s, reusable) => { calls.push(`retire ${reusable}`); },
    cancel: (waiter) => { calls.push(waiter === pending ? 'cancel' : 'cancel ?'); },
    close: () => { calls.push('close'); },
  };
  const hand = (socket: FakeSocket | null, err: ProxyError | null = null, dialed = true) => {
    const waiter = pending!;
    pending = null;
    waiter.socketReady(err, socket as unknown as net.Socket | null, dialed);
  };
  return { src, calls, hand };
}

function owner() {
  const seen: string[] = [];
  const o: LinkOwner = {
    linkReady: (_s, dialed) => { seen.push(`ready ${dialed}`); },
    linkFailed: (err) => { seen.push(`failed ${err?.code}`); },
    upstreamData: (c) => { seen.push(`data ${c}`); },
    upstreamEnd: () => { seen.push('end'); },
    upstreamError: () => { seen.push('error'); },
    upstreamClose: () => { seen.push('close'); },
    upstreamDrain: () => { seen.push('drain'); },
  };
  return { o, seen };
}

const link = suite('UpstreamLink');

link('a session\'s own link stays bound after a clean response, is let go when stale, and closes its source', () => {
  const { src, calls, hand } = source(false);
  const { o, seen } = owner();
  const l = new UpstreamLink(src, true, o);
  assert.ok(l.acquire(false), 'still coming');
  assert.not.ok(l.acquire(false), 'one acquire at a time');
  const s = new FakeSocket();
  hand(s);
  assert.equal(seen, ['ready true']);
  s.emit('data', Buffer.from('x'));
  assert.equal(seen, ['ready true', 'data x'], 'events reach the owner');
  l.pause();
  assert.ok(s.paused);
  l.finish(true, 500);
  assert.is(l.socket, s as unknown as net.Socket, 'kept bound between requests');
  assert.not.ok(s.paused, 'a kept link reads again');
  assert.not.ok(l.stale(499));
  assert.ok(l.stale(501));
  l.letGo(false);
  assert.is(l.socket, null);
  s.emit('data', Buffer.from('late'));
  assert.equal(seen.length, 2, 'a let-go socket no longer reaches the owner');
  l.close(true);
  assert.equal(calls, ['acquire', 'release false 500', 'close']);
});

link('the shared link: released after a clean response, detached for a stream and retired after it', () => {
  const { src, calls, hand } = source(true);
  const l = new UpstreamLink(src, false, owner().o);
  assert.ok(l.engaged, 'waiting in line for the shared link counts as engaged');
  l.acquire(false);
  hand(new FakeSocket(), null, false);
  l.finish(true, Infinity);
  assert.is(l.socket, null);
  l.acquire(false);
  hand(new FakeSocket(), null, false);
  l.keepForStream();
  l.keepForStream();
  l.finish(true, Infinity);
  assert.equal(calls, ['acquire', 'release true Infinity', 'acquire', 'detach', 'retire true']);
  l.close(false);
  assert.equal(calls.length, 5, 'a shared source is not closed by one link');
});

link('a connection of its own is never the shared link: destroyed when let go, not released', () => {
  const { src, calls, hand } = source(true);
  const l = new UpstreamLink(src, false, owner().o);
  l.acquire(true);
  assert.not.ok(l.engaged, 'an own connection is not a place in line');
  const s = new FakeSocket();
  hand(s);
  l.letGo(true);
  assert.ok(s.destroyed);
  assert.equal(calls, ['acquireOwn']);
});

link('a tunnel takes the socket and its events; a failed acquire reaches the owner', () => {
  const { src, calls, hand } = source(true);
  const { o, seen } = owner();
  const l = new UpstreamLink(src, false, o);
  l.acquire(false);
  const s = new FakeSocket();
  hand(s);
  assert.is(l.takeForTunnel(), s as unknown as net.Socket);
  assert.is(s.listenerCount('data'), 0, 'routing listeners are off');
  l.acquire(false);
  hand(null, { code: 'UPSTREAM_UNREACHABLE' } as ProxyError);
  assert.equal(calls, ['acquire', 'detach', 'acquire']);
  assert.equal(seen, ['ready true', 'failed UPSTREAM_UNREACHABLE']);
});

link('closed while acquiring: the acquire is cancelled, and a socket that comes anyway goes back', () => {
  const { src, calls, hand } = source(false);
  const l = new UpstreamLink(src, true, owner().o);
  l.acquire(false);
  l.close(false);
  // The source's answer was already on its way when the cancel came.
  const s = new FakeSocket();
  hand(s);
  assert.equal(calls, ['acquire', 'cancel', 'close', 'release true']);
  assert.is(l.socket, null);
  assert.is(s.listenerCount('data'), 0, 'never routed to the closed link');
  assert.not.ok(l.acquire(false), 'a closed link acquires nothing');
});

link.run();
