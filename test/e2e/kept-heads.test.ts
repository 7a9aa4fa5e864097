// Heads kept as templates (docs/architecture.md, "The L7 engine") through real sockets: a
// client repeating its head with other Content-Length values, bearer tokens and cookies of
// the same length, and an upstream repeating its own with other Date and Content-Length
// values, each must get exactly its own bytes across; a key one byte off is still refused.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { proxyFor, startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient, rawExchange } from '../helpers/raw-client.js';
import { readBody, startHttpUpstream, startNetUpstream, type TestServer } from '../helpers/upstreams.js';

const kept = suite('kept heads through the proxy');
let up: TestServer;
let proxy: TestProxy;
const dir = mkdtempSync(join(tmpdir(), 'kept-heads-'));

kept.after.each(async () => {
  await proxy?.close();
  await up?.close();
});
kept.after(() => rmSync(dir, { recursive: true, force: true }));

/** An upstream that answers with what it received, its own head varying (Date, Content-Length, an odd header). */
async function echoUpstream(): Promise<TestServer> {
  let n = 0;
  return startHttpUpstream(async (req, res) => {
    const body = await readBody(req);
    n++;
    const answer = JSON.stringify({ auth: req.headers.authorization ?? null, key: req.headers['x-api-key'] ?? null, cookie: req.headers.cookie ?? null, body: body.toString(), n });
    // A Date of the same length each time but not the same text: the kept head's wildcard.
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer), date: new Date(Date.UTC(2026, 11, 7, 10, 0, n % 60)).toUTCString(), 'x-n': String(n % 10) });
    res.end(answer);
  });
}

kept('one keep-alive connection: other lengths, tokens and cookies each time, each request and answer its own', async () => {
  up = await echoUpstream();
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  for (let i = 0; i < 60; i++) {
    const token = `tok-${String(i % 10)}-${'abcdefghij'[i % 10]}`;
    const cookie = `s=${String(i % 7)}`;
    const body = `{"jsonrpc":"2.0","id":${i},"method":"ping"${' '.repeat(i % 37)}}`;
    c.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nCookie: ${cookie}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const res = await c.readResponse();
    assert.is(res.status, 200);
    const j = JSON.parse(res.body.toString()) as { auth: string; cookie: string; body: string; n: number };
    assert.equal([j.auth, j.cookie, j.body], [`Bearer ${token}`, cookie, body], `request ${i}`);
    assert.is(Number(res.headers['content-length']), res.body.length, `answer ${i}`);
    assert.is(res.headers.date, new Date(Date.UTC(2026, 11, 7, 10, 0, j.n % 60)).toUTCString(), `answer ${i}`);
    assert.is(res.headers['x-n'], String(j.n % 10));
  }
  c.socket.destroy();
});

kept('--auth-keys: a key one byte off the one just accepted is refused, on the same connection and on another', async () => {
  const key = 'kept-key-0123456789abcdef';
  const wrong = 'kept-key-0123456789abcdeg';
  const keyFile = join(dir, 'keys.yaml');
  writeFileSync(keyFile, `keys:\n  - name: k\n    key: ${key}\n`);
  up = await echoUpstream();
  proxy = await startProxy({ mode: 'http', upstreamUrl: new URL(`http://127.0.0.1:${up.port}/mcp`), multiSession: true, authKeys: keyFile });
  const request = (how: string): string => `POST /mcp HTTP/1.1\r\nHost: localhost\r\n${how}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`;
  for (const [good, bad] of [[`Authorization: Bearer ${key}`, `Authorization: Bearer ${wrong}`], [`X-API-Key: ${key}`, `X-API-Key: ${wrong}`]] as const) {
    const c = await RawClient.connect(proxy.port);
    for (let i = 0; i < 10; i++) {
      c.write(request(good));
      const res = await c.readResponse();
      assert.is(res.status, 200);
      // The proxy's own credential never goes on.
      assert.equal(JSON.parse(res.body.toString()).auth, null);
      assert.equal(JSON.parse(res.body.toString()).key, null);
    }
    c.write(request(bad));
    assert.is((await c.readResponse()).status, 401, bad);
    c.socket.destroy();
    assert.is((await rawExchange(proxy.port, request(bad))).status, 401, `${bad}, a new connection`);
    assert.is((await rawExchange(proxy.port, request(good))).status, 200);
  }
});

kept('heads framed without llhttp: bodies split and pipelined, HEAD answers, then a same-length head llhttp refuses', async () => {
  up = await echoUpstream();
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  const head = (length: number | string, date = 'Mon, 07 Dec 2026 10:00:00 GMT'): string =>
    `POST /mcp HTTP/1.1\r\nHost: localhost\r\nDate: ${date}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
  const body = (i: number): string => `{"jsonrpc":"2.0","id":${i},"method":"ping","pad":"${'p'.repeat(i % 50)}"}`;
  for (let i = 0; i < 30; i++) {
    const b = body(i);
    if (i % 3 === 1) {
      // The head alone first: the body comes in a later read, counted against the kept head's length.
      c.write(head(b.length));
      await new Promise((r) => setImmediate(r));
      c.write(b);
    } else if (i % 3 === 2) {
      // Two at once: the second waits behind the first's answer.
      const b2 = body(i + 100);
      c.write(head(b.length) + b + head(b2.length) + b2);
      const first = await c.readResponse();
      assert.is(JSON.parse(first.body.toString()).body, b, `request ${i}`);
      const second = await c.readResponse();
      assert.is(JSON.parse(second.body.toString()).body, b2, `request ${i + 100}`);
      continue;
    } else c.write(head(b.length) + b);
    const res = await c.readResponse();
    assert.is(res.status, 200);
    assert.is(JSON.parse(res.body.toString()).body, b, `request ${i}`);
  }
  // A HEAD's answer has a Content-Length and no body: the next answer must start right after it.
  for (let i = 0; i < 5; i++) {
    c.write('HEAD /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const res = await c.readResponse({ head: true });
    assert.is(res.status, 200);
  }
  c.write(head(2) + '{}');
  assert.is(JSON.parse((await c.readResponse()).body.toString()).body, '{}');
  // As long as the kept heads, one byte off in a wildcard value: llhttp's refusal, not a kept framing.
  const sameLength = body(7).length;
  const digits = String(sameLength);
  c.write(head(`${digits.slice(0, -1)}x`) + body(7));
  assert.is((await c.readResponse()).status, 400, 'a Content-Length with a letter');
  c.socket.destroy();
  const d = await RawClient.connect(proxy.port);
  d.write(head(2) + '{}');
  assert.is((await d.readResponse()).status, 200);
  d.write(head(2, 'Mon, 07 Dec 2026 10:00:0\u0001 GMT') + '{}');
  assert.is((await d.readResponse()).status, 400, 'a Date with a control byte');
  d.socket.destroy();
});

kept('an answer that says Connection: close, framed without llhttp, still closes its link: a new one for every request', async () => {
  // The upstream says close but leaves its socket open: only the proxy's reading of the head
  // (llhttp's verdict, kept with the head) decides that the link is not used again.
  up = await startNetUpstream((s) => {
    let pending = '';
    s.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      for (;;) {
        const headEnd = pending.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const m = /content-length: *(\d+)/i.exec(pending.slice(0, headEnd));
        const end = headEnd + 4 + (m === null ? 0 : Number(m[1]));
        if (pending.length < end) return;
        pending = pending.slice(end);
        s.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}');
      }
    });
    s.on('error', () => {});
  });
  proxy = await proxyFor(up);
  const c = await RawClient.connect(proxy.port);
  for (let i = 0; i < 12; i++) {
    c.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
    const res = await c.readResponse();
    assert.is(res.status, 200, `request ${i}`);
    assert.is(res.body.toString(), '{}');
  }
  assert.is(up.accepted(), 12, 'one upstream connection per answer that said close');
  c.socket.destroy();
});

kept.run();
