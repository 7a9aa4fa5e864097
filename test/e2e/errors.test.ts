// Every row of SPEC's "Errors a client can see", provoked through raw sockets. Each bad
// request is also checked for what it must not do: reach the upstream, or disturb a
// well-behaved session served during and after it.

import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Config } from '../../dist/config.js';
import { RawClient, rawExchange, type RawResponse } from '../helpers/raw-client.js';
import { proxyFor, startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { closedPort, readBody, startHttpUpstream, startNetUpstream, type TestServer } from '../helpers/upstreams.js';

let up: TestServer;
let proxy: TestProxy;
let seen: string[] = [];
let hold: Array<() => void> = [];

async function setup(overrides: Partial<Config> = {}, handler?: Parameters<typeof startHttpUpstream>[0]): Promise<void> {
  seen = [];
  hold = [];
  up = await startHttpUpstream(handler ?? (async (req, res) => {
    const body = await readBody(req);
    seen.push(`${req.method} ${req.url} ${body.toString()}`);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true, echo: body.toString() }));
  }));
  proxy = await proxyFor(up, { ...overrides });
}

async function teardown(): Promise<void> {
  for (const h of hold) h();
  await proxy?.close();
  await up?.close();
}

/** A normal request on its own connection must be answered normally. */
async function goodRequest(tag = 'good'): Promise<void> {
  const r = await rawExchange(proxy.port, `POST /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${tag.length}\r\n\r\n${tag}`);
  assert.is(r.status, 200, `good request got ${r.status}`);
  assert.is(JSON.parse(r.body.toString()).echo, tag);
}

function assertJsonRpcError(r: RawResponse, status: number, reason: string): void {
  assert.is(r.status, status, `expected ${status}, got ${r.status}: ${r.raw.toString('latin1').slice(0, 200)}`);
  assert.is(r.headers['content-type'], 'application/json');
  assert.is(r.headers.connection, 'close');
  const body = JSON.parse(r.body.toString());
  assert.equal(Object.keys(body), ['jsonrpc', 'id', 'error']);
  assert.is(body.jsonrpc, '2.0');
  assert.is(body.id, null);
  assert.is(body.error.code, -32000);
  assert.type(body.error.message, 'string');
  assert.is(body.error.data.reason, reason);
}

/** Sends `bad` on one connection while a good session is open beside it. */
async function provoke(bad: string | Buffer): Promise<RawResponse & { closed: boolean }> {
  const neighbour = await RawClient.connect(proxy.port);
  neighbour.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\n\r\nbefore');
  assert.is((await neighbour.readResponse()).status, 200);
  const r = await rawExchange(proxy.port, bad);
  // The neighbour's keep-alive session carries on untouched.
  neighbour.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nafter');
  const after = await neighbour.readResponse();
  assert.is(after.status, 200);
  assert.is(JSON.parse(after.body.toString()).echo, 'after');
  neighbour.close();
  await goodRequest();
  return r;
}

const badRequests = suite('400: malformed and smuggling-shaped requests');
badRequests.before.each(() => setup());
badRequests.after.each(teardown);

const smuggling: Array<[string, string]> = [
  ['Content-Length and Transfer-Encoding', 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['differing Content-Lengths', 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nsmug'],
  ['repeated Content-Length', 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nsmug'],
  ['Content-Length list', 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4, 4\r\n\r\nsmug'],
  ['bad chunk size', 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nsmug\r\n0\r\n\r\n'],
  ['chunk size with a space', 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n4 \r\nsmug\r\n0\r\n\r\n'],
  ['obs-fold', 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n folded\r\nContent-Length: 0\r\n\r\n'],
  ['bare CR', 'POST /mcp HTTP/1.1\r\nHost: p\rX-A: a\r\nContent-Length: 0\r\n\r\n'],
  ['bare LF', 'POST /mcp HTTP/1.1\nHost: p\nContent-Length: 0\n\n'],
  ['invalid header name', 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nBad[Name]: x\r\nContent-Length: 0\r\n\r\n'],
  ['space before the colon', 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length : 4\r\n\r\nsmug'],
  ['NUL byte in a value', 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n'],
  ['two Host headers', 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n'],
  ['no Host in HTTP/1.1', 'POST /mcp HTTP/1.1\r\nContent-Length: 0\r\n\r\n'],
  ['garbage', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'],
  ['CONNECT', 'CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n'],
];
for (const [name, bytes] of smuggling) {
  badRequests(name, async () => {
    const r = await provoke(bytes);
    assertJsonRpcError(r, 400, 'bad_request');
    assert.ok(r.closed, 'the connection is closed after the error');
    // The upstream saw the neighbour's two requests and the good one, never the bad one.
    assert.equal(seen, ['POST /mcp before', 'POST /mcp after', 'POST /mcp good']);
    await until(() => proxy.app.registry.size === 0, 5000, 'no session left');
  });
}

// SPEC: only `Transfer-Encoding: chunked` is accepted; any other coding is a 501 (nginx's answer).
const codings = suite('501: a Transfer-Encoding other than chunked');
codings.before.each(() => setup());
codings.after.each(teardown);
const otherCodings: Array<[string, string]> = [
  ['chunked, identity', 'Transfer-Encoding: chunked, identity'],
  ['identity, chunked', 'Transfer-Encoding: identity, chunked'],
  ['gzip alone', 'Transfer-Encoding: gzip'],
  ['chunked twice', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked'],
  ['gzip then chunked in two fields', 'Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked'],
];
for (const [name, field] of otherCodings) {
  codings(name, async () => {
    const r = await provoke(`POST /mcp HTTP/1.1\r\nHost: localhost\r\n${field}\r\n\r\n4\r\nsmug\r\n0\r\n\r\n`);
    assertJsonRpcError(r, 501, 'unsupported_transfer_coding');
    assert.ok(r.closed, 'the connection is closed after the error');
    assert.equal(seen, ['POST /mcp before', 'POST /mcp after', 'POST /mcp good']);
    await until(() => proxy.app.registry.size === 0, 5000, 'no session left');
  });
}

const limits = suite('408, 413, 431');
limits.after.each(teardown);

limits('408 when the head does not arrive within --header-timeout (slowloris)', async () => {
  await setup({ headerTimeoutMs: 300 });
  const neighbour = await RawClient.connect(proxy.port);
  const slow = await RawClient.connect(proxy.port);
  slow.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\n');
  const t = setInterval(() => slow.socket.writable && slow.write('X-Drip: 1\r\n'), 50);
  neighbour.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi');
  assert.is((await neighbour.readResponse()).status, 200);
  const r = await slow.readResponse({ timeoutMs: 3000 });
  clearInterval(t);
  assertJsonRpcError(r, 408, 'header_timeout');
  await slow.waitClosed();
  neighbour.close();
  await goodRequest();
  assert.equal(seen, ['POST /mcp hi', 'POST /mcp good']);
});

limits('408 also for a connection that sends nothing at all', async () => {
  await setup({ headerTimeoutMs: 200 });
  const idle = await RawClient.connect(proxy.port);
  const r = await idle.readResponse({ timeoutMs: 3000 });
  assertJsonRpcError(r, 408, 'header_timeout');
  await idle.waitClosed();
});

limits('413 for a Content-Length over --max-body-size, before anything is forwarded', async () => {
  await setup({ maxBodyBytes: 1000 });
  const r = await provoke(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1001\r\n\r\n${'x'.repeat(1001)}`);
  assertJsonRpcError(r, 413, 'body_too_large');
  assert.equal(seen, ['POST /mcp before', 'POST /mcp after', 'POST /mcp good']);
});

limits('413 for a chunked body that grows past --max-body-size', async () => {
  await setup({ maxBodyBytes: 1000 });
  const c = await RawClient.connect(proxy.port);
  c.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n');
  c.write(`200\r\n${'y'.repeat(0x200)}\r\n`);
  c.write(`200\r\n${'y'.repeat(0x200)}\r\n`);
  const r = await c.readResponse();
  assertJsonRpcError(r, 413, 'body_too_large');
  await c.waitClosed();
  await goodRequest();
});

limits('431 for a head over --max-header-size', async () => {
  await setup({ maxHeaderBytes: 1024 });
  const r = await provoke(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'z'.repeat(2000)}\r\nContent-Length: 0\r\n\r\n`);
  assertJsonRpcError(r, 431, 'head_too_large');
  assert.equal(seen, ['POST /mcp before', 'POST /mcp after', 'POST /mcp good']);
});

limits('431 also when the oversized head arrives a byte at a time', async () => {
  await setup({ maxHeaderBytes: 512 });
  const c = await RawClient.connect(proxy.port);
  const head = `GET /mcp HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'z'.repeat(600)}`;
  for (let i = 0; i < head.length && !c.ended; i += 100) {
    c.write(head.slice(i, i + 100));
    await new Promise((r) => setTimeout(r, 5));
  }
  const r = await c.readResponse();
  assertJsonRpcError(r, 431, 'head_too_large');
});

const admission = suite('503 and 429');
admission.after.each(teardown);

admission('--max-sessions 2 refuses the third client, then serves a new one once a slot is free', async () => {
  await setup({ maxSessions: 2 });
  const a = await RawClient.connect(proxy.port);
  const b = await RawClient.connect(proxy.port);
  await until(() => proxy.app.registry.size === 2, 2000, 'two sessions');
  const third = await rawExchange(proxy.port, 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nthird');
  assertJsonRpcError(third, 503, 'session_limit');
  assert.ok(third.headers['retry-after'] !== undefined);
  // The two admitted sessions are served normally.
  a.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\na');
  assert.is((await a.readResponse()).status, 200);
  a.close();
  await until(() => proxy.app.registry.size === 1, 2000, 'a slot to free');
  await goodRequest();
  b.close();
  assert.equal(seen, ['POST /mcp a', 'POST /mcp good']);
  const metrics = await proxy.app.metrics.render();
  assert.match(metrics, /shadowcat_sessions_rejected_total\{reason="max-sessions"\} 1/);
});

admission('--max-per-client counts sessions by client IP', async () => {
  await setup({ maxPerClient: 1 });
  const a = await RawClient.connect(proxy.port);
  await until(() => proxy.app.registry.size === 1, 2000, 'one session');
  const r = await rawExchange(proxy.port, 'GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
  assertJsonRpcError(r, 503, 'session_limit');
  assert.match(JSON.parse(r.body.toString()).error.message, /this client/);
  a.close();
  await until(() => proxy.app.registry.size === 0, 2000, 'slot free');
  await goodRequest();
});

admission('429 with Retry-After once --rate-limit is spent', async () => {
  await setup({ rateLimit: 2 });
  await goodRequest('one');
  await goodRequest('two');
  const r = await rawExchange(proxy.port, 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nthree');
  assertJsonRpcError(r, 429, 'rate_limited');
  assert.ok(Number(r.headers['retry-after']) >= 1);
  assert.equal(seen, ['POST /mcp one', 'POST /mcp two']);
});

const ids = suite('proxy-made errors carry the request\'s id when it was read');
ids.after.each(teardown);

const rpc = (id: string, extra = ''): string => {
  const body = `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo"}}`;
  return `POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`;
};
const idOf = (r: RawResponse): unknown => (JSON.parse(r.body.toString()) as { id: unknown }).id;

ids('502 from a closed port, 504 from a silent upstream, 429 from the rate limit: the id as sent; unread bodies: null', async () => {
  const port = await closedPort();
  const closed = await startProxy({ mode: 'http', multiSession: true, upstreamUrl: new URL(`http://127.0.0.1:${port}/mcp`) });
  try {
    for (const id of ['1', '"req-7"', '0', '-3']) {
      const r = await rawExchange(closed.port, rpc(id));
      assert.is(r.status, 502);
      assert.equal(idOf(r), JSON.parse(id));
    }
    // A notification has no id to carry; a body that is not JSON-RPC neither.
    const note = '{"jsonrpc":"2.0","method":"notifications/initialized"}';
    assert.is(idOf(await rawExchange(closed.port, `POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${note.length}\r\n\r\n${note}`)), null);
    assert.is(idOf(await rawExchange(closed.port, 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\nabc')), null);
    // An escaped id is read with the full parser.
    assert.is(idOf(await rawExchange(closed.port, rpc('"a\\u0062c"'))), 'abc');
  } finally {
    await closed.close();
  }
  await setup({ upstreamTimeoutMs: 300, rateLimit: 3 }, (req, res) => {
    if (req.headers['x-stall'] === '1') {
      hold.push(() => res.end());
      return;
    }
    void readBody(req).then((b) => res.end(JSON.stringify({ echo: b.toString() })));
  });
  const slow = await rawExchange(proxy.port, rpc('8', 'X-Stall: 1\r\n'));
  assert.is(slow.status, 504);
  assert.is(idOf(slow), 8);
  // The bucket (burst 3) refills at 3 a second: send until it is empty rather than count on
  // the clock (on a loaded machine the stall above alone lasts long enough to refill one).
  let limited = -1;
  for (let i = 9; i < 200 && limited === -1; i++) {
    const r = await rawExchange(proxy.port, rpc(String(i), 'Connection: close\r\n'));
    if (r.status !== 429) assert.is(r.status, 200);
    else {
      limited = i;
      assert.is(idOf(r), i);
    }
  }
  assert.ok(limited !== -1, 'no 429 from the rate limit');
});

ids('413 for a body never read: null', async () => {
  await setup({ maxBodyBytes: 10 });
  const r = await rawExchange(proxy.port, rpc('4'));
  assert.is(r.status, 413);
  assert.is(idOf(r), null);
});

const upstream = suite('502 and 504');

/** An upstream that never answers a request with `X-Stall: 1` (until teardown) and echoes the rest. */
const stallOnHeader: Parameters<typeof startHttpUpstream>[0] = (req, res) => {
  if (req.headers['x-stall'] === '1') {
    hold.push(() => res.end());
    return;
  }
  void readBody(req).then((b) => res.end(JSON.stringify({ echo: b.toString() })));
};
upstream.after.each(teardown);

upstream('502 when the upstream closes before responding', async () => {
  await setup({}, (req, res) => {
    if (req.url === '/mcp' && req.headers['x-kill'] === '1') {
      req.socket.destroy();
      return;
    }
    void readBody(req).then((b) => res.end(JSON.stringify({ echo: b.toString() })));
  });
  const r = await provoke('POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Kill: 1\r\nContent-Length: 0\r\n\r\n');
  assertJsonRpcError(r, 502, 'upstream_broken');
});

upstream('502 for an upstream head with obs-fold or a bad field name; the proxy lives on', async () => {
  for (const head of ['HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\nContent-Length: 0\r\n\r\n', 'HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n']) {
    const raw = await startNetUpstream((sock) => sock.once('data', () => sock.end(head)));
    const p = await proxyFor(raw);
    const r = await rawExchange(p.port, 'GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assertJsonRpcError(r, 502, 'upstream_broken');
    await p.close();
    await raw.close();
  }
  await setup();
  await goodRequest();
});

upstream('a reset mid-response closes the client connection (its head was already sent)', async () => {
  await setup({}, (req, res) => {
    if (req.headers['x-kill'] === '1') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 50);
      return;
    }
    void readBody(req).then((b) => res.end(JSON.stringify({ echo: b.toString() })));
  });
  const c = await RawClient.connect(proxy.port);
  c.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\nX-Kill: 1\r\n\r\n');
  await c.waitClosed();
  assert.ok(c.buffered.toString().startsWith('HTTP/1.1 200'));
  assert.ok(c.buffered.toString().endsWith('partial'));
  await goodRequest();
  const m = await proxy.app.metrics.render();
  assert.match(m, /shadowcat_upstream_errors_total\{kind="reset"\} 1/);
});

upstream('504 when the upstream sends no response head within --upstream-timeout', async () => {
  await setup({ upstreamTimeoutMs: 300 }, stallOnHeader);
  const r = await provoke('POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Stall: 1\r\nContent-Length: 0\r\n\r\n');
  assertJsonRpcError(r, 504, 'upstream_timeout');
});

upstream('504 for each of two stalled requests in turn: the response deadline passes with the parts to the next connection', async () => {
  // The second connection borrows the parts (and their deadline) the first gave back at
  // its close; the deadline must time out its new borrower, not the closed one.
  await setup({ upstreamTimeoutMs: 300 }, stallOnHeader);
  for (let i = 0; i < 2; i++) {
    const r = await rawExchange(proxy.port, 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Stall: 1\r\nContent-Length: 0\r\n\r\n', 5000);
    assertJsonRpcError(r, 504, 'upstream_timeout');
  }
  await goodRequest();
});

upstream('504 when the upstream does not accept within --connect-timeout', async () => {
  // A listener whose process is stopped: once its backlog is full, connects hang.
  const child: ChildProcess = spawn(process.execPath, ['-e', `
    const s = require('net').createServer(() => {});
    s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((r) => child.stdout!.once('data', (d) => r(Number(String(d).trim()))));
  child.kill('SIGSTOP');
  const fillers: net.Socket[] = [];
  try {
    // Fill the accept queue until a connect no longer completes.
    for (let i = 0; i < 64; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      fillers.push(s);
      const ok = await new Promise<boolean>((r) => {
        const t = setTimeout(() => r(false), 200);
        s.once('connect', () => {
          clearTimeout(t);
          r(true);
        });
      });
      if (!ok) break;
    }
    seen = [];
    up = await startHttpUpstream((_q, s) => s.end());
    proxy = await startProxy({ mode: 'http', multiSession: true, upstreamUrl: new URL(`http://127.0.0.1:${port}/mcp`), connectTimeoutMs: 300 });
    const r = await rawExchange(proxy.port, 'GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assertJsonRpcError(r, 504, 'upstream_timeout');
    assert.match(await proxy.app.metrics.render(), /shadowcat_upstream_errors_total\{kind="timeout"\} 1/);
  } finally {
    for (const s of fillers) s.destroy();
    child.kill('SIGKILL');
  }
});

badRequests.run();
codings.run();
limits.run();
admission.run();
ids.run();
upstream.run();
