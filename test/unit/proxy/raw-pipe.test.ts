// RawPipe between real loopback sockets: a side that ended before the pipe began (a
// client's FIN with no bytes, read while forward tcp dialed the upstream) still has its
// FIN passed on, so the pipe ends instead of holding both sockets open.

import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RawPipe } from '../../../dist/proxy/raw-pipe.js';

const test = suite('RawPipe');

interface Pair {
  /** The proxy's end (what RawPipe gets). */
  inner: net.Socket;
  /** The peer's end. */
  outer: net.Socket;
  server: net.Server;
}

/** A connected loopback pair; the proxy's end is half-open, as the proxy's sockets are. */
async function pair(): Promise<Pair> {
  const server = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const outer = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  outer.on('error', () => {});
  const inner = await accepted;
  inner.pause();
  return { inner, outer, server };
}

/** Destroys both ends and closes the server, so a failed case does not keep the run alive. */
function release(...pairs: Pair[]): void {
  for (const p of pairs) {
    p.inner.destroy();
    p.outer.destroy();
    p.server.close();
  }
}

const closed = (s: net.Socket): Promise<void> => new Promise((r) => (s.closed ? r() : s.once('close', () => r())));

/** `p`, or a failure naming `what` if it has not settled in 10 s (a lost FIN holds the sockets open for good). */
function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within 10 s`)), 10_000);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** One side closes without a byte and its 'end' passes before the pipe exists; the other side must still get the FIN, and the pipe end when both are done. */
async function endedBeforeThePipe(first: 'client' | 'upstream'): Promise<void> {
  const client = await pair();
  const upstream = await pair();
  const [ender, other] = first === 'client' ? [client, upstream] : [upstream, client];
  try {
    other.outer.resume();
    const ended = new Promise<void>((r) => ender.inner.once('end', () => r()));
    ender.outer.end();
    await ended;
    const otherSawFin = new Promise<void>((r) => other.outer.once('end', () => r()));
    let done = '';
    new RawPipe(client.inner, upstream.inner, { onBytes: () => {}, onDone: (reason) => (done = reason) });
    await within(otherSawFin, `the ${first === 'client' ? 'upstream' : 'client'} saw the ${first}'s FIN`);
    // The other side answers with its own FIN: both sides are finished, and so is the pipe.
    other.outer.end();
    await Promise.all([closed(client.inner), closed(upstream.inner)]);
    assert.is(done, 'done');
  } finally {
    release(client, upstream);
  }
}

test('a client that ended before the pipe began: the upstream gets the FIN and the pipe ends', () => endedBeforeThePipe('client'));

test('an upstream that ended before the pipe began: the client gets the FIN', () => endedBeforeThePipe('upstream'));

test('bytes and a FIN that arrive after the pipe began pass through as before', async () => {
  const client = await pair();
  const upstream = await pair();
  let received = '';
  upstream.outer.on('data', (d) => (received += d.toString()));
  const upstreamSawFin = new Promise<void>((r) => upstream.outer.once('end', () => r()));
  let bytes = 0;
  new RawPipe(client.inner, upstream.inner, { onBytes: (n) => (bytes += n), onDone: () => {} });
  client.outer.end('hello');
  await upstreamSawFin;
  assert.is(received, 'hello');
  assert.is(bytes, 5);
  upstream.outer.end();
  await Promise.all([closed(client.inner), closed(upstream.inner)]);
  client.server.close();
  upstream.server.close();
});

test.run();
