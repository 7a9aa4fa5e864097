// Responses whose first read holds the head and a large part of the body, written by the
// upstream in one write: llhttp sees only the first bytes of such a read unless the body's
// framing needs it (http-exchange.ts, #consumeResponseHead). Each case is checked byte for
// byte and then again on the same connection, so a wrong end of message shows as a broken
// second answer or a link that should have been dropped.

import { createHash } from 'node:crypto';
import type net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient } from '../helpers/raw-client.js';
import { proxyFor, type TestProxy } from '../helpers/proxy.js';
import { startNetUpstream, type TestServer } from '../helpers/upstreams.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const test = suite('large first read');
let up: TestServer;
let proxy: TestProxy;

test.after.each(async () => {
  await proxy?.close();
  await up?.close();
});

/** A body of `n` bytes that differs at every position (a shifted copy would not match). */
function bodyOf(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = 0x21 + ((i * 7 + seed + (i >> 8)) % 90);
  return b;
}

function chunked(body: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const piece = body.subarray(i, i + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** An upstream that answers the i-th request on a connection with answers[i](), in one write. */
async function upstreamAnswering(answers: Array<() => Buffer>, onSocket?: (s: net.Socket) => void): Promise<TestServer> {
  return startNetUpstream((s) => {
    onSocket?.(s);
    let pending = '';
    let n = 0;
    s.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        pending = pending.slice(end + 4);
        s.write(answers[Math.min(n++, answers.length - 1)]!());
      }
    });
    s.on('error', () => {});
  });
}

async function get(c: RawClient): Promise<ReturnType<RawClient['readResponse']>> {
  c.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
  return c.readResponse();
}

test('a Content-Length body that ends inside the first read, and one that goes on past it', async () => {
  const small = bodyOf(20_000, 1);
  const large = bodyOf(300_000, 2);
  up = await upstreamAnswering([
    () => Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${small.length}\r\n\r\n`), small]),
    () => Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${large.length}\r\n\r\n`), large]),
    () => Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${small.length}\r\n\r\n`), small]),
  ]);
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  for (const want of [small, large, small]) {
    const r = await get(c);
    assert.is(r.status, 200);
    assert.is(r.body.length, want.length);
    assert.is(sha(r.body), sha(want));
  }
  assert.is(up.accepted(), 1, 'one upstream link carried the three answers');
  c.close();
});

test('a chunked body past the first read is framed by llhttp to its last chunk', async () => {
  const body = bodyOf(50_000, 3);
  const wire = chunked(body, 3000);
  up = await upstreamAnswering([() => Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n'), wire])]);
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  for (let i = 0; i < 3; i++) {
    const r = await get(c);
    assert.is(r.status, 200);
    assert.is(sha(r.body), sha(body));
  }
  assert.is(up.accepted(), 1);
  c.close();
});

test('a broken chunk past the first read is a 502, as at any other place', async () => {
  const good = chunked(bodyOf(6000, 4), 6000);
  up = await upstreamAnswering([() => Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), good.subarray(0, good.length - 5), Buffer.from('zz\r\n\r\n')])]);
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  c.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
  // The head and the first chunk may have gone out before the bad bytes: the answer ends
  // short of a whole chunked body, and the connection closes.
  await c.waitClosed();
  const raw = c.buffered.toString('latin1');
  assert.ok(raw.startsWith('HTTP/1.1 200') || raw.startsWith('HTTP/1.1 502'), raw.slice(0, 40));
  assert.not.ok(raw.endsWith('0\r\n\r\n'), 'no last chunk was made up');
});

test('a head longer than the first bytes llhttp is given, with its body in the same read', async () => {
  const body = bodyOf(30_000, 5);
  const long = 'x'.repeat(7000);
  up = await upstreamAnswering([() => Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nX-Long: ${long}\r\nContent-Length: ${body.length}\r\n\r\n`), body])]);
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  for (let i = 0; i < 2; i++) {
    const r = await get(c);
    assert.is(r.headers['x-long'], long);
    assert.is(sha(r.body), sha(body));
  }
  c.close();
});

test('bytes after a Content-Length body in the same read: the answer passes, the link is not used again', async () => {
  const body = bodyOf(10_000, 6);
  let sockets = 0;
  up = await upstreamAnswering([() => Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body, Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra')])], () => sockets++);
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  for (let i = 0; i < 2; i++) {
    const r = await get(c);
    assert.is(r.status, 200);
    assert.is(sha(r.body), sha(body));
  }
  assert.is(sockets, 2, 'the link that sent more than one answer was dropped');
  c.close();
});

test('an interim 100 and the final answer with its body in one read', async () => {
  const body = bodyOf(12_000, 7);
  up = await upstreamAnswering([() => Buffer.concat([Buffer.from(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body])]);
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  c.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
  const interim = await c.readResponse();
  assert.is(interim.status, 100);
  const r = await c.readResponse();
  assert.is(r.status, 200);
  assert.is(sha(r.body), sha(body));
  c.close();
});

test.run();
