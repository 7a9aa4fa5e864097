// The L7 corridor end to end: real sockets on 127.0.0.1, small node:http / node:net
// upstreams written here, the proxy started in-process.

import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LINGER_MS } from '../../dist/proxy/linger.js';
import { RawClient, rawExchange } from '../helpers/raw-client.js';
import { proxyFor, startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { closedPort, readBody, startHttpUpstream, startNetUpstream, type TestServer } from '../helpers/upstreams.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const multi = suite('multi-session');
let up: TestServer;
let proxy: TestProxy;

multi.after.each(async () => {
  await proxy?.close();
  await up?.close();
});

multi('three concurrent clients are each served by their own upstream connection', async () => {
  const seen = new Set<string>();
  const waiting: Array<() => void> = [];
  up = await startHttpUpstream(async (req, res) => {
    const body = await readBody(req);
    seen.add(`${req.socket.remotePort}`);
    // Hold every answer until all three requests are in: they are concurrent.
    await new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (waiting.length === 3) for (const w of waiting) w();
    });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ echo: body.toString(), via: req.headers.via, xff: req.headers['x-forwarded-for'], host: req.headers.host, url: req.url }));
  });
  proxy = await proxyFor(up);
  const clients = await Promise.all([0, 1, 2].map(() => RawClient.connect(proxy.port)));
  clients.forEach((c, i) => c.write(`POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\nclient${i}`));
  const answers = await Promise.all(clients.map((c) => c.readResponse()));
  answers.forEach((r, i) => {
    assert.is(r.status, 200);
    const j = JSON.parse(r.body.toString());
    assert.is(j.echo, `client${i}`);
    assert.is(j.url, '/mcp');
    assert.is(j.host, `127.0.0.1:${up.port}`);
    assert.is(j.via, '1.1 shadowcat');
    assert.is(j.xff, '127.0.0.1');
    assert.is(r.headers.via, '1.1 shadowcat');
  });
  assert.is(up.accepted(), 3);
  assert.is(seen.size, 3);
  assert.is(proxy.app.registry.size, 3);
  // Keep-alive: a second request on each connection reuses that session's upstream link.
  waiting.length = 0;
  clients.forEach((c, i) => c.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 7\r\n\r\nagain_${i}`));
  const again = await Promise.all(clients.map((c) => c.readResponse()));
  again.forEach((r, i) => assert.is(JSON.parse(r.body.toString()).echo, `again_${i}`));
  assert.is(up.accepted(), 3);
  for (const c of clients) c.close();
  await until(() => proxy.app.registry.size === 0, 5000, 'sessions to end');
});

multi('hop-by-hop headers are removed both ways, Connection-named ones too; end-to-end ones pass', async () => {
  // A raw upstream that answers with the head it received, and hop-by-hop headers of its own.
  up = await startNetUpstream((sock) => {
    let got = '';
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (!got.includes('\r\n\r\n')) return;
      const body = got.slice(0, got.indexOf('\r\n\r\n') + 4);
      got = '';
      sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: keep-alive, X-Up-Hop\r\nX-Up-Hop: secret\r\n` +
        `Keep-Alive: timeout=30\r\nProxy-Connection: x\r\nTrailer: x\r\nX-End-To-End: kept\r\n\r\n${body}`);
    });
  });
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  c.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive, X-Client-Hop\r\nX-Client-Hop: secret\r\nKeep-Alive: 5\r\n' +
    'TE: trailers\r\nTrailer: x\r\nProxy-Authorization: Basic eDp4\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\n' +
    'Mcp-Session-Id: m1\r\nMCP-Protocol-Version: 2025-06-18\r\nLast-Event-ID: 7\r\n\r\n');
  const r = await c.readResponse();
  const seenUp = r.body.toString('latin1').toLowerCase();
  for (const gone of ['x-client-hop', 'keep-alive', '\r\nte:', 'trailer', 'proxy-authorization', 'proxy-connection', 'upgrade', 'connection:']) {
    assert.not.ok(seenUp.includes(gone), `upstream saw ${gone}:\n${seenUp}`);
  }
  for (const kept of ['mcp-session-id: m1', 'mcp-protocol-version: 2025-06-18', 'last-event-id: 7', 'via: 1.1 shadowcat', 'x-forwarded-host: localhost']) {
    assert.ok(seenUp.includes(kept), `upstream did not see ${kept}`);
  }
  for (const gone of ['x-up-hop', 'keep-alive', 'proxy-connection', 'trailer']) {
    assert.not.ok(r.headerNames.includes(gone), `client saw ${gone}`);
  }
  assert.is(r.headers['x-end-to-end'], 'kept');
  assert.is(r.headers.connection, undefined);
  c.close();
});

multi('chunked request and response bodies pass byte-exact', async () => {
  up = await startHttpUpstream(async (req, res) => {
    const body = await readBody(req);
    res.setHeader('x-request-sha', sha(body));
    res.setHeader('x-request-te', String(req.headers['transfer-encoding']));
    // Answer with a large chunked body of its own.
    const out = randomBytes(3 * 1024 * 1024 + 17);
    res.setHeader('x-response-sha', sha(out));
    for (let i = 0; i < out.length; i += 65536) res.write(out.subarray(i, i + 65536));
    res.end();
  });
  proxy = await proxyFor(up);
  const body = randomBytes(5 * 1024 * 1024 + 3);
  const c = await RawClient.connect(proxy.port);
  c.write('POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n');
  for (let i = 0; i < body.length; i += 100_000) {
    const part = body.subarray(i, i + 100_000);
    c.write(`${part.length.toString(16)};ext=1\r\n`);
    c.write(part);
    c.write('\r\n');
  }
  c.write('0\r\nX-Trailer: t\r\n\r\n');
  const r = await c.readResponse({ timeoutMs: 30_000 });
  assert.is(r.status, 200);
  assert.is(r.headers['x-request-te'], 'chunked');
  assert.is(r.headers['x-request-sha'], sha(body));
  assert.is(sha(r.body), r.headers['x-response-sha']);
  assert.is(r.headers['transfer-encoding'], 'chunked');
  c.close();
});

multi('Content-Length bodies both ways are counted through byte-exact, and the links stay reusable', async () => {
  const out = randomBytes(3 * 1024 * 1024 + 5);
  up = await startHttpUpstream(async (req, res) => {
    const body = await readBody(req);
    res.writeHead(200, { 'content-length': out.length, 'x-request-sha': sha(body) });
    for (let i = 0; i < out.length; i += 100_000) res.write(out.subarray(i, i + 100_000));
    res.end();
  });
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  for (let round = 0; round < 2; round++) {
    const body = randomBytes(2 * 1024 * 1024 + round);
    c.write(`POST /up HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n`);
    for (let i = 0; i < body.length; i += 70_000) c.write(body.subarray(i, i + 70_000));
    const r = await c.readResponse({ timeoutMs: 30_000 });
    assert.is(r.headers['x-request-sha'], sha(body));
    assert.is(sha(r.body), sha(out));
  }
  assert.is(up.accepted(), 1);
  c.close();
});

multi('pipelined requests are answered in order on one connection', async () => {
  let n = 0;
  up = await startHttpUpstream(async (req, res) => {
    const body = await readBody(req);
    const delay = 30 - n++ * 10; // later requests would finish first if run in parallel
    setTimeout(() => res.end(`${req.method} ${req.url} ${body.toString()}`), Math.max(0, delay));
  });
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  c.write('GET /a HTTP/1.1\r\nHost: localhost\r\n\r\nPOST /b HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nxyzGET /c HTTP/1.1\r\nHost: localhost\r\n\r\n');
  const bodies = [];
  for (let i = 0; i < 3; i++) bodies.push((await c.readResponse()).body.toString());
  assert.equal(bodies, ['GET /a ', 'POST /b xyz', 'GET /c ']);
  c.close();
});

multi('parsers are lent per request: a session with half a head keeps its own while idle sessions give theirs to others', async () => {
  up = await startHttpUpstream(async (req, res) => {
    const body = await readBody(req);
    res.end(`${req.method} ${req.url} ${body.toString()}`);
  });
  proxy = await proxyFor(up);
  const a = await RawClient.connect(proxy.port);
  const b = await RawClient.connect(proxy.port);
  const post = (path: string, body: string) => `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  a.write(post('/a1', 'x'));
  assert.is((await a.readResponse()).body.toString(), 'POST /a1 x');
  // a is idle now (its set went back); then it starts a head and stops halfway.
  a.write('POST /half HTTP/1.1\r\nHost: local');
  for (let i = 0; i < 3; i++) {
    b.write(post(`/b${i}`, `y${i}`));
    assert.is((await b.readResponse()).body.toString(), `POST /b${i} y${i}`);
  }
  a.write('host\r\nContent-Length: 2\r\n\r\nhi');
  assert.is((await a.readResponse()).body.toString(), 'POST /half hi', 'the half head was kept across the other session\'s requests');
  a.write(post('/a2', 'z'));
  b.write(post('/b3', 'w'));
  assert.is((await a.readResponse()).body.toString(), 'POST /a2 z');
  assert.is((await b.readResponse()).body.toString(), 'POST /b3 w');
  a.close();
  b.close();
});

multi('HEAD, 204 and 304 answers carry no body and keep the connection in step', async () => {
  up = await startHttpUpstream((req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': '1234', 'content-type': 'application/json' });
      res.end();
    } else if (req.url === '/none') {
      res.writeHead(204).end();
    } else if (req.url === '/same') {
      res.writeHead(304, { etag: '"x"' }).end();
    } else {
      res.end('after');
    }
  });
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  c.write('HEAD /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
  const head = await c.readResponse({ head: true });
  assert.is(head.status, 200);
  assert.is(head.headers['content-length'], '1234');
  c.write('GET /none HTTP/1.1\r\nHost: localhost\r\n\r\nGET /same HTTP/1.1\r\nHost: localhost\r\n\r\nGET /last HTTP/1.1\r\nHost: localhost\r\n\r\n');
  assert.is((await c.readResponse()).status, 204);
  assert.is((await c.readResponse()).status, 304);
  const last = await c.readResponse();
  assert.is(last.body.toString(), 'after');
  assert.is(c.buffered.length, 0);
  assert.is(up.accepted(), 1);
  c.close();
});

multi('Connection: close and HTTP/1.0 end the connection after the response', async () => {
  up = await startHttpUpstream((req, res) => res.end(`ok ${req.httpVersion}`));
  proxy = await proxyFor(up);
  const r1 = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  assert.is(r1.status, 200);
  assert.is(r1.headers.connection, 'close');
  assert.ok(r1.closed);
  const r2 = await rawExchange(proxy.port, 'GET / HTTP/1.0\r\n\r\n');
  assert.is(r2.status, 200);
  assert.is(r2.body.toString(), 'ok 1.0');
  assert.ok(r2.closed);
});

/** A client that keeps its side open after the proxy's FIN, recording what happens to it. */
function halfOpenClient(port: number): Promise<{ socket: net.Socket; got: () => string; ended: () => boolean; error: () => string | null }> {
  return new Promise((resolve, reject) => {
    let got = '';
    let ended = false;
    let error: string | null = null;
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve({ socket, got: () => got, ended: () => ended, error: () => error }));
    socket.once('error', reject);
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('end', () => (ended = true));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
  });
}

multi('Connection: close with nothing after it closes at once: no wait for the client to close its side', async () => {
  up = await startHttpUpstream((_req, res) => res.end('answer'));
  proxy = await proxyFor(up);
  const c = await halfOpenClient(proxy.port);
  c.socket.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}');
  await until(() => c.ended(), 5000, 'the answer and a FIN');
  assert.match(c.got(), /^HTTP\/1\.1 200 [^]*\r\n\r\nanswer$/);
  await until(() => proxy.app.registry.size === 0, 5000, 'the session to end');
  // The proxy's socket is closed, not lingering: bytes more are refused with a reset (seen
  // by the write after it). A lingering close reads and discards them until LINGER_MS has
  // passed, so a reset well before that tells the two apart.
  const since = Date.now();
  await until(() => {
    if (c.error() === null && !c.socket.destroyed) c.socket.write('x');
    return c.error() !== null;
  }, 5000, 'a reset');
  assert.ok(['ECONNRESET', 'EPIPE'].includes(c.error()!), c.error()!);
  assert.ok(Date.now() - since < LINGER_MS, `reset only after ${Date.now() - since} ms: the socket lingered`);
  c.socket.destroy();
});

multi('bytes after a Connection: close request take the lingering close: the answer arrives whole', async () => {
  up = await startHttpUpstream((_req, res) => res.end('first'));
  proxy = await proxyFor(up);
  const c = await halfOpenClient(proxy.port);
  // A request the client should not have sent: its bytes are unread when the answer is done.
  c.socket.write('GET /a HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await until(() => c.ended(), 5000, 'the answer and a FIN');
  assert.match(c.got(), /^HTTP\/1\.1 200 [^]*\r\n\r\nfirst$/);
  assert.is(c.error(), null);
  assert.is(up.accepted(), 1);
  c.socket.end();
  await until(() => c.socket.closed, 5000, 'the connection to close');
  assert.is(c.error(), null);
});

multi('an HTTP/1.0 client asking for keep-alive is told so and kept when the answer has a length', async () => {
  // An HTTP/1.0 upstream answering with Content-Length, then closing its side.
  up = await startNetUpstream((s) => {
    s.once('data', () => s.end('HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nten'));
  });
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  for (let i = 0; i < 2; i++) {
    c.write('GET /mcp HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const r = await c.readResponse();
    assert.is(r.body.toString(), 'ten');
    assert.is(r.headers.connection, 'keep-alive');
  }
  assert.not.ok(c.ended);
  assert.is(up.accepted(), 2); // the upstream closed after each answer
  c.close();
});

multi('an HTTP/1.0 client gets Connection: close when the answer is delimited by close', async () => {
  up = await startHttpUpstream((_req, res) => res.end('ten')); // node answers 1.0 without a length
  proxy = await proxyFor(up);
  const r = await rawExchange(proxy.port, 'GET /mcp HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  assert.is(r.body.toString(), 'ten');
  assert.is(r.headers.connection, 'close');
  assert.ok(r.closed);
});

multi('Expect: 100-continue relays the upstream\'s 100 before the body is sent', async () => {
  up = await startHttpUpstream(async (req, res) => {
    const body = await readBody(req);
    res.end(`got ${body.toString()}`);
  });
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  c.write('POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
  const interim = await c.readResponse();
  assert.is(interim.status, 100);
  c.write('data');
  const final = await c.readResponse();
  assert.is(final.status, 200);
  assert.is(final.body.toString(), 'got data');
  c.close();
});

multi('an SSE stream is relayed event by event', async () => {
  let sendNext: (() => void) | null = null;
  up = await startHttpUpstream((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let i = 0;
    const send = (): void => {
      i++;
      res.write(`id: ${i}\ndata: {"n":${i}}\n\n`);
      if (i === 3) res.end();
    };
    sendNext = send;
    send();
  });
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  c.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n');
  // Each event arrives before the upstream has even written the next one.
  for (let i = 1; i <= 3; i++) {
    await until(() => c.buffered.includes(`data: {"n":${i}}`), 5000, `event ${i}`);
    assert.not.ok(c.buffered.includes(`data: {"n":${i + 1}}`));
    if (i < 3) sendNext!();
  }
  const r = await c.readResponse();
  assert.is(r.headers['content-type'], 'text/event-stream');
  assert.is(r.body.toString().split('\n\n').filter(Boolean).length, 3);
  c.close();
});

multi('a slow reader pauses the upstream: what the upstream can write stays bounded', async () => {
  let written = 0;
  let stalled = false;
  up = await startHttpUpstream((req, res) => {
    if (req.url !== '/big') return res.end('ok');
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = (): void => {
      while (written < 512 * 1024 * 1024) {
        written += chunk.length;
        if (!res.write(chunk)) {
          stalled = true;
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  c.socket.pause(); // read nothing
  c.write('GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await until(() => stalled, 5000, 'upstream to stall');
  // The window is counted in work, not time: round trips of another client through the
  // same proxy and upstream (one event loop), each giving a reading proxy many chances to
  // let the stalled stream move.
  const other = await RawClient.connect(proxy.port);
  const roundTrips = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      other.write('GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n');
      assert.is((await other.readResponse()).status, 200);
    }
  };
  await roundTrips(20);
  const before = written;
  await roundTrips(20);
  other.close();
  // Only socket buffers hold data: a few MiB at most, not the 512 MiB on offer.
  assert.ok(written < 32 * 1024 * 1024, `upstream wrote ${written} bytes into a stalled client`);
  assert.is(written, before, 'the upstream is paused, not trickling');
  c.close();
});

multi('an upstream that stops reading pauses the client: what the client can send stays bounded', async () => {
  let upstreamReq: http.IncomingMessage | null = null;
  up = await startHttpUpstream((req) => {
    upstreamReq = req;
    req.pause(); // never read the body
  });
  proxy = await proxyFor(up, { maxBodyBytes: 4 * 1024 ** 3 });
  const c = await RawClient.connect(proxy.port);
  c.write(`POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${2 * 1024 ** 3}\r\n\r\n`);
  let sent = 0;
  let blocked = false;
  const chunk = Buffer.alloc(64 * 1024, 1);
  await until(() => upstreamReq !== null, 5000, 'request head upstream');
  // Write until the kernel and the proxy stop taking bytes.
  for (let i = 0; i < 2000 && !blocked; i++) {
    sent += chunk.length;
    if (!c.socket.write(chunk)) {
      blocked = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(true), 300);
        c.socket.once('drain', () => {
          clearTimeout(t);
          resolve(false);
        });
      });
    }
  }
  assert.ok(blocked, `client was never blocked after ${sent} bytes`);
  assert.ok(sent < 48 * 1024 * 1024, `proxy accepted ${sent} bytes for a stalled upstream`);
  c.close();
});

multi('an idle upstream link is retired before the upstream\'s announced keep-alive timeout', async () => {
  // node:http announces "Keep-Alive: timeout=2" and closes idle links after 2 s.
  up = await startHttpUpstream((_req, res) => res.end('ok'), (server) => {
    server.keepAliveTimeout = 2000;
  });
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  const ask = async (): Promise<number> => {
    c.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
    return (await c.readResponse()).status;
  };
  assert.is(await ask(), 200);
  const answeredAt = performance.now();
  assert.is(await ask(), 200);
  // Reused within the window (timeout - 1 s), when this box was quick enough to ask within it.
  if (performance.now() - answeredAt < 900) assert.is(up.accepted(), 1, 'reused within the window');
  const links = up.accepted();
  // Past timeout - 1 s the link is not trusted any more: a fresh one is opened, no 502.
  await new Promise((r) => setTimeout(r, 1300));
  assert.is(await ask(), 200);
  assert.is(up.accepted(), links + 1);
  c.close();
});

multi('Upgrade answered with 101 becomes a raw byte pipe', async () => {
  up = await startHttpUpstream((_req, res) => res.end('no'), (server) => {
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
      if (head.length > 0) socket.write(head);
      socket.on('data', (d) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
      socket.on('end', () => socket.end());
    });
  });
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  c.write('GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
  const r = await c.readResponse();
  assert.is(r.status, 101);
  assert.is(r.headers.upgrade, 'echo');
  c.write('hello\x00\xff');
  await until(() => c.buffered.includes(Buffer.from('echo:hello\x00\xff', 'latin1')), 5000, 'echo');
  await until(() => proxy.app.registry.list()[0]?.state === 'upgraded', 2000, 'upgraded state');
  c.close();
  await until(() => proxy.app.registry.size === 0, 5000, 'session end');
});

multi('a closed upstream port gets 502 with the JSON-RPC error body; the proxy serves on', async () => {
  const port = await closedPort();
  up = await startHttpUpstream((_req, res) => res.end('fine'));
  proxy = await startProxy({ mode: 'http', multiSession: true, upstreamUrl: new URL(`http://127.0.0.1:${port}/mcp`) });
  const r = await rawExchange(proxy.port, 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}');
  assert.is(r.status, 502);
  assert.is(r.headers['content-type'], 'application/json');
  assert.is(r.headers.connection, 'close');
  const body = JSON.parse(r.body.toString());
  assert.is(body.jsonrpc, '2.0');
  assert.is(body.id, null);
  assert.is(body.error.code, -32000);
  assert.is(body.error.data.reason, 'upstream_unreachable');
  assert.ok(r.closed);
  await until(() => proxy.app.registry.size === 0, 5000, 'no session left');
});

const single = suite('single-session');

single.after.each(async () => {
  await proxy?.close();
  await up?.close();
});

single('all clients share one upstream connection and each gets its own response', async () => {
  up = await startHttpUpstream(async (req, res) => {
    const body = await readBody(req);
    setTimeout(() => res.end(`for ${body.toString()}`), 5);
  });
  proxy = await startProxy({ mode: 'http', multiSession: false, upstreamUrl: new URL(up.url) });
  const clients = await Promise.all([0, 1, 2, 3].map(() => RawClient.connect(proxy.port)));
  for (let round = 0; round < 3; round++) {
    clients.forEach((c, i) => c.write(`POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${`c${i}r${round}`.length}\r\n\r\nc${i}r${round}`));
    const rs = await Promise.all(clients.map((c) => c.readResponse()));
    rs.forEach((r, i) => assert.is(r.body.toString(), `for c${i}r${round}`));
  }
  assert.is(up.accepted(), 1);
  for (const c of clients) c.close();
});

single('an SSE stream moves off the shared link; other requests go on', async () => {
  up = await startHttpUpstream((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: open\n\n');
      return; // stays open
    }
    res.end('posted');
  });
  proxy = await startProxy({ mode: 'http', multiSession: false, upstreamUrl: new URL(up.url) });
  const stream = await RawClient.connect(proxy.port);
  stream.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n');
  await until(() => stream.buffered.includes('data: open'), 5000, 'stream open');
  const poster = await RawClient.connect(proxy.port);
  for (let i = 0; i < 3; i++) {
    poster.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n');
    assert.is((await poster.readResponse()).body.toString(), 'posted');
  }
  assert.is(up.accepted(), 2); // the stream's own connection + the shared link
  stream.close();
  poster.close();
});

single('a finished stream\'s connection becomes the idle link instead of being closed', async () => {
  const big = Buffer.alloc(4 * 1024 * 1024, 0x61);
  up = await startHttpUpstream((req, res) => {
    if (req.url === '/big') {
      // Written in two steps: the response is still streaming after its head, so it detaches.
      res.writeHead(200, { 'content-length': String(big.length) });
      res.write(big.subarray(0, 1024));
      setTimeout(() => res.end(big.subarray(1024)), 20);
      return;
    }
    res.end('small');
  });
  proxy = await startProxy({ mode: 'http', multiSession: false, upstreamUrl: new URL(up.url) });
  const c = await RawClient.connect(proxy.port);
  for (let i = 0; i < 3; i++) {
    c.write('GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.is((await c.readResponse()).body.length, big.length);
    c.write('GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.is((await c.readResponse()).body.toString(), 'small');
  }
  // Each big response moved off the shared link, and its connection came back once done.
  assert.is(up.accepted(), 1);
  c.close();
});

const tcp = suite('forward tcp');

tcp.after.each(async () => {
  await proxy?.close();
  await up?.close();
});

tcp('bytes are piped both ways, half-close included', async () => {
  up = await startNetUpstream((s) => {
    const parts: Buffer[] = [];
    s.on('data', (d) => parts.push(d));
    s.on('end', () => s.end(Buffer.concat([Buffer.from('echo:'), ...parts])));
  });
  proxy = await startProxy({ mode: 'tcp', upstream: { host: '127.0.0.1', port: up.port } });
  const payload = randomBytes(2 * 1024 * 1024);
  const got = await new Promise<Buffer>((resolve, reject) => {
    const s = net.connect(proxy.port, '127.0.0.1', () => s.end(payload));
    const parts: Buffer[] = [];
    s.on('data', (d) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
  assert.is(sha(got), sha(Buffer.concat([Buffer.from('echo:'), payload])));
  await until(() => proxy.app.registry.size === 0, 5000, 'session end');
  assert.is(up.accepted(), 1);
});

tcp('a client that closes without sending a byte: its upstream gets the FIN and the session ends', async () => {
  // The FIN is often read while the upstream is still being dialed (forward tcp dials on
  // accept): it must still reach the upstream, or both sockets stay open.
  let fins = 0;
  up = await startNetUpstream((s) => {
    s.resume();
    s.on('end', () => {
      fins++;
      s.end();
    });
  });
  proxy = await startProxy({ mode: 'tcp', multiSession: true, upstream: { host: '127.0.0.1', port: up.port } });
  const n = 30;
  const clients = Array.from({ length: n }, () => {
    const s = net.connect(proxy.port, '127.0.0.1');
    s.on('error', () => undefined);
    s.resume();
    s.end();
    return s;
  });
  try {
    await until(() => proxy.app.registry.size === 0 && fins === n, 5000, 'every session to end and its FIN to reach the upstream');
    assert.is(up.accepted(), n);
    await until(() => clients.every((c) => c.closed), 5000, 'every client to be closed');
  } finally {
    for (const c of clients) c.destroy();
  }
});

tcp('each connection gets its own upstream connection', async () => {
  up = await startNetUpstream((s) => {
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
  });
  proxy = await startProxy({ mode: 'tcp', multiSession: true, upstream: { host: '127.0.0.1', port: up.port } });
  const socks = await Promise.all([1, 2, 3].map(() => new Promise<net.Socket>((r) => {
    const s = net.connect(proxy.port, '127.0.0.1', () => r(s));
  })));
  await Promise.all(socks.map((s, i) => new Promise<void>((resolve) => {
    s.once('data', (d) => {
      assert.is(d.toString(), `ping${i}`);
      resolve();
    });
    s.write(`ping${i}`);
  })));
  assert.is(up.accepted(), 3);
  for (const s of socks) s.destroy();
  await until(() => proxy.app.registry.size === 0, 5000, 'sessions end');
});

tcp('limits and idle expiry apply to L4 sessions too', async () => {
  up = await startNetUpstream((s) => {
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
  });
  proxy = await startProxy({ mode: 'tcp', upstream: { host: '127.0.0.1', port: up.port }, maxSessions: 1, sessionTimeoutMs: 300 });
  const first = net.connect(proxy.port, '127.0.0.1');
  first.on('error', () => undefined);
  await until(() => proxy.app.registry.size === 1, 2000, 'first session');
  // A second connection over --max-sessions is closed at once (no HTTP answer at L4).
  const refused = await new Promise<Buffer>((resolve) => {
    const s = net.connect(proxy.port, '127.0.0.1');
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    s.on('error', () => resolve(Buffer.concat(got)));
    s.on('close', () => resolve(Buffer.concat(got)));
  });
  assert.is(refused.length, 0);
  assert.match(await proxy.app.metrics.render(), /shadowcat_sessions_rejected_total\{reason="max-sessions"\} 1/);
  // The idle first session expires and frees the slot.
  await new Promise<void>((resolve) => first.on('close', () => resolve()));
  assert.is(proxy.app.registry.size, 0);
  assert.match(await proxy.app.metrics.render(), /shadowcat_sessions_expired_total 1/);
});

multi.run();
single.run();
tcp.run();
