// A slow client never stalls the others (SPEC "forward http"): --body-timeout bounds a
// body's gaps in both modes, and in single-session mode a request takes the shared link
// only with its body in hand (a larger body gets a connection of its own), while time
// spent waiting for the link counts toward --upstream-timeout.

import type http from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Config } from '../../dist/config.js';
import { startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/raw-client.js';
import { readBody, startHttpUpstream, type TestServer } from '../helpers/upstreams.js';

const slow = suite('slow clients');
let proxy: TestProxy | null = null;
let up: TestServer | null = null;
let seen: string[] = [];
let held: Array<() => void> = [];

/** `upstreamContinues` false: the upstream never sends 100 Continue itself (it handles Expect in its handler). */
async function setup(overrides: Partial<Config>, upstreamContinues = true): Promise<void> {
  seen = [];
  held = [];
  const handler = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    // A request the proxy gives up on (a 408) is aborted on the upstream's side too.
    const body = await readBody(req).catch(() => null);
    if (body === null) return;
    const tag = String(req.headers['x-tag'] ?? body.length);
    seen.push(tag);
    const answer = (): void => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ tag, bytes: body.length }));
    };
    if (req.headers['x-hold'] !== undefined) held.push(answer);
    else if (req.headers['x-delay'] !== undefined) setTimeout(answer, Number(req.headers['x-delay']));
    else answer();
  };
  up = await startHttpUpstream(handler, upstreamContinues ? undefined : (server) => server.on('checkContinue', handler));
  proxy = await startProxy({ mode: 'http', upstreamUrl: new URL(up.url), ...overrides });
}

slow.after.each(async () => {
  for (const h of held) h();
  await proxy?.close();
  await up?.close();
  proxy = null;
  up = null;
});

function post(tag: string, body: string, extra = ''): string {
  return `POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Tag: ${tag}\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`;
}

slow('single-session: a body arriving slowly does not hold the shared link; others are answered meanwhile', async () => {
  await setup({ multiSession: false });
  const dribbler = await RawClient.connect(proxy!.port);
  dribbler.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Tag: slow\r\nContent-Length: 10\r\n\r\n12345`);
  for (let i = 0; i < 3; i++) {
    const c = await RawClient.connect(proxy!.port);
    c.write(post(`fast-${i}`, '{}'));
    const r = await c.readResponse({ timeoutMs: 5000 });
    assert.is(r.status, 200);
    assert.is(JSON.parse(r.body.toString()).tag, `fast-${i}`);
    c.close();
  }
  assert.equal(seen, ['fast-0', 'fast-1', 'fast-2'], 'the slow request has not reached the upstream yet');
  dribbler.write('67890');
  const r = await dribbler.readResponse();
  assert.is(r.status, 200);
  assert.equal(JSON.parse(r.body.toString()), { tag: 'slow', bytes: 10 });
  dribbler.close();
});

for (const framing of ['content-length', 'chunked'] as const) {
  slow(`single-session: a ${framing} body over 1 MiB gets a connection of its own while the link serves others`, async () => {
    await setup({ multiSession: false });
    const big = await RawClient.connect(proxy!.port);
    const half = 'x'.repeat(1536 * 1024);
    if (framing === 'content-length') big.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Tag: big\r\nContent-Length: ${half.length * 2}\r\n\r\n${half}`);
    else big.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Tag: big\r\nTransfer-Encoding: chunked\r\n\r\n${half.length.toString(16)}\r\n${half}\r\n`);
    // Its head reached the upstream on a connection of its own, before its body was in hand.
    await until(() => up!.accepted() === 1, 5000, 'the big request\'s own connection');
    const c = await RawClient.connect(proxy!.port);
    c.write(post('small', '{}'));
    const r = await c.readResponse({ timeoutMs: 5000 });
    assert.is(JSON.parse(r.body.toString()).tag, 'small');
    assert.is(up!.accepted(), 2, 'the small request went over the shared link');
    c.close();
    big.write(framing === 'content-length' ? half : `${half.length.toString(16)}\r\n${half}\r\n0\r\n\r\n`);
    const b = await big.readResponse();
    assert.equal(JSON.parse(b.body.toString()), { tag: 'big', bytes: half.length * 2 });
    big.close();
  });
}

slow('single-session: Expect 100-continue is answered by the proxy while it gathers the body', async () => {
  // An upstream that sends no 100 of its own: only the proxy can release the client's body.
  await setup({ multiSession: false }, false);
  const c = await RawClient.connect(proxy!.port);
  c.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Tag: expect\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n');
  const interim = await c.readResponse({ timeoutMs: 5000 });
  assert.is(interim.status, 100);
  c.write('{}');
  const r = await c.readResponse();
  assert.is(r.status, 200);
  assert.is(JSON.parse(r.body.toString()).tag, 'expect');
  c.close();
});

slow('single-session: waiting for the shared link counts toward --upstream-timeout (504)', async () => {
  await setup({ multiSession: false, upstreamTimeoutMs: 500 });
  const holder = await RawClient.connect(proxy!.port);
  holder.write(post('holder', '{}', 'X-Hold: 1\r\n'));
  await until(() => seen.includes('holder'), 5000, 'the held request upstream');
  const waiter = await RawClient.connect(proxy!.port);
  // Queued behind the holder for ~500 ms, then answered 400 ms after it gets the link:
  // ~900 ms in all, over its 500 ms.
  waiter.write(post('waiter', '{}', 'X-Delay: 400\r\n'));
  const r = await waiter.readResponse({ timeoutMs: 5000 });
  assert.is(r.status, 504);
  assert.is(JSON.parse(r.body.toString()).error.data.reason, 'upstream_timeout');
  assert.is((await holder.readResponse({ timeoutMs: 5000 })).status, 504);
  holder.close();
  waiter.close();
  await until(() => proxy!.app.registry.size === 0, 5000, 'sessions gone');
});

for (const multiSession of [false, true]) {
  const mode = multiSession ? 'multi-session' : 'single-session';

  slow(`${mode}: a body gap over --body-timeout is a 408 that leaves nothing behind`, async () => {
    await setup({ multiSession, bodyTimeoutMs: 300 });
    const c = await RawClient.connect(proxy!.port);
    c.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Tag: stalled\r\nContent-Length: 10\r\n\r\n123');
    const r = await c.readResponse({ timeoutMs: 5000 });
    assert.is(r.status, 408);
    assert.is(r.headers.connection, 'close');
    assert.is(JSON.parse(r.body.toString()).error.data.reason, 'body_timeout');
    await c.waitClosed();
    await until(() => proxy!.app.registry.size === 0, 5000, 'session gone');
    assert.not.ok(seen.includes('stalled'));
  });

  slow(`${mode}: a body that keeps coming, however slowly, is not cut off`, async () => {
    await setup({ multiSession, bodyTimeoutMs: 1000 });
    const c = await RawClient.connect(proxy!.port);
    c.socket.setNoDelay(true);
    const body = 'abcdefghijklmnopqrst';
    c.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Tag: steady\r\nContent-Length: ${body.length}\r\n\r\n`);
    // 20 pieces 80 ms apart: 1.6 s in all, longer than the timeout, no gap near it.
    for (const ch of body) {
      await new Promise((resolve) => setTimeout(resolve, 80));
      c.write(ch);
    }
    const r = await c.readResponse({ timeoutMs: 5000 });
    assert.is(r.status, 200);
    assert.equal(JSON.parse(r.body.toString()), { tag: 'steady', bytes: body.length });
    c.close();
  });
}

slow.run();
