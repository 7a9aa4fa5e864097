import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  buildClientResponseHead, buildUpstreamRequestHead, readRequestHead, readRequestHeadAnew, readResponseHead, readResponseHeadAnew, RequestRewrite,
} from '../../../dist/http/head.js';
import { mutateHead, oneByteChanges } from '../../helpers/head-mutants.js';
import { rng } from '../../helpers/seeded.js';

// A head equal to a kept one but for its Content-Length and Date values is read and
// written on from the kept one: whatever the bytes, the result must be the full read's.

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const rw = new RequestRewrite('up:3000', '/mcp', '1.1 shadowcat', [{ name: 'X-Injected', value: 'v' }]);

const REQUESTS = [
  'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 103\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Session-Id: s-1\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: proxy\r\nContent-Type: application/json\r\nContent-Length:   42  \r\nConnection: keep-alive\r\n\r\n',
  'POST /x?q=1 HTTP/1.0\r\nHost: proxy\r\nContent-Length: 7\r\nConnection: keep-alive\r\nDate: Mon, 07 Dec 2026 14:50:00 GMT\r\n\r\n',
  'POST /mcp HTTP/1.1\r\nHost: proxy\r\nConnection: close, date\r\nDate: Mon, 07 Dec 2026 14:50:00 GMT\r\nContent-Length: 12\r\nVia: 1.0 a\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n',
  'GET /mcp HTTP/1.1\r\nHost: proxy\r\nAccept: text/event-stream\r\nLast-Event-ID: 17\r\n\r\n',
  'POST /mcp HTTP/1.1\r\nHost: proxy\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nX-Other: 1\r\n\r\n',
  'POST /mcp HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln\r\nContent-Length: 55\r\nMcp-Session-Id: s-2\r\n\r\n',
  'POST /mcp HTTP/1.1\r\nHost: proxy\r\nX-API-Key:  k-0123456789abcdef \r\nCookie: a=b; c=d\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\nContent-Length: 9\r\n\r\n',
];
const RESPONSES = [
  'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 07 Dec 2026 14:50:00 GMT\r\nContent-Type: application/json\r\nContent-Length: 82\r\nConnection: keep-alive\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nmcp-session-id: 4f1c\r\nDate: Mon, 07 Dec 2026 14:50:00 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n',
  'HTTP/1.1 202 Accepted\r\nDate:  Mon, 07 Dec 2026 14:50:00 GMT \r\nContent-Length: 0\r\nVia: 1.1 up\r\nConnection: date\r\n\r\n',
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\nDate: Mon, 07 Dec 2026 14:50:00 GMT\r\n\r\n',
  'HTTP/1.1 200 OK\r\nSet-Cookie: sid=abc123; Path=/\r\nContent-Length: 3\r\nDate: Mon, 07 Dec 2026 14:50:00 GMT\r\n\r\n',
];

/** A copy of `base` as a client or upstream sends it again: other digits in its Content-Length, other text inside its Date. */
function plausible(base: Buffer, next: () => number): Buffer {
  const m = Buffer.from(base);
  const text = base.toString('latin1');
  const cl = /Content-Length:[ \t]*(\d+)/i.exec(text);
  if (cl !== null) {
    const s = cl.index + cl[0].length - cl[1]!.length;
    for (let k = s; k < s + cl[1]!.length; k++) m[k] = 0x30 + Math.floor(next() * 10);
  }
  for (const name of ['Date', 'Authorization', 'X-API-Key', 'Cookie', 'Set-Cookie', 'Proxy-Authorization']) {
    const v = new RegExp(`(?:^|\n)${name}:[ \t]*([^\r]*[^\r \t])`, 'i').exec(text);
    if (v === null) continue;
    const s = v.index + v[0].length - v[1]!.length;
    for (let k = s + 1; k < s + v[1]!.length - 1; k++) if (next() < 0.3) m[k] = 0x20 + Math.floor(next() * 0x5f);
  }
  return m;
}

function outcome<T>(read: () => T): { head: T | null; error: string | null } {
  try {
    return { head: read(), error: null };
  } catch (err) {
    return { head: null, error: (err as Error).message };
  }
}

/** Every property but the head's bytes and its template. */
function comparable(head: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(head)) if (k !== 'raw' && k !== 'template') out[k] = v;
  return out;
}

const differential = suite('kept heads: the same as a full read');

interface Kind<H extends { readonly fields: readonly unknown[]; readonly template: unknown }> {
  read(raw: Buffer): H;
  readAnew(raw: Buffer): H;
  /** Every way the head is built for sending on, as text: the kept head's and a full read's must agree. */
  builds(head: H, body: Buffer | null): string[];
}

/** Reads each base head until it is kept, then heads as they come again, heads changed anywhere and each byte of the wildcard lines: each read and build must be a full read's. */
function checkAgainstFullReads<H extends { readonly fields: readonly unknown[]; readonly template: unknown }>(bases: string[], kind: Kind<H>, seed: number): void {
  const next = rng(seed);
  let viaTemplate = 0;
  let total = 0;
  for (const text of bases) {
    const base = b(text);
    // Enough reads to take a slot another head may hold.
    for (let i = 0; i < 9; i++) kind.builds(kind.read(Buffer.from(base)), null);
    const kept = kind.read(Buffer.from(base));
    assert.ok(kept.template !== null, `a head like this is kept: ${JSON.stringify(text)}`);
    const changed = oneByteChanges(base);
    for (let n = 0; n < 400 + changed.length; n++) {
      // First heads as they come again (each must be read from the kept one), then heads changed anywhere, then each byte of the wildcard lines.
      const again = n < 100;
      const m = again ? plausible(base, next) : n < 400 ? mutateHead(base, next, 4) : changed[n - 400]!;
      const fast = outcome(() => kind.read(m));
      const full = outcome(() => kind.readAnew(Buffer.from(m)));
      const label = `case ${n} of ${JSON.stringify(text)}: ${JSON.stringify(m.toString('latin1'))}`;
      assert.is(fast.error, full.error, label);
      if (fast.head === null || full.head === null) continue;
      if (again) assert.ok(fast.head.fields === kept.fields, `read from the kept head: ${label}`);
      else if (fast.head.fields === kept.fields) viaTemplate++;
      total++;
      assert.equal(comparable(fast.head), comparable(full.head), label);
      const body = n % 2 === 0 ? null : b('{"jsonrpc":"2.0"}');
      const expected = kind.builds({ ...full.head, template: null }, body);
      assert.equal(kind.builds(fast.head, body), expected, label);
      // Twice: the second build is the kept one's.
      assert.equal(kind.builds(fast.head, body), expected, label);
    }
  }
  // Some changed heads still match (a digit for a digit): they too were compared above.
  assert.ok(viaTemplate > 0, `${viaTemplate} of ${total} changed heads via the template`);
}

differential('request heads: read and rewritten as a full read does, whatever changed', () => {
  checkAgainstFullReads(REQUESTS, {
    read: readRequestHead,
    readAnew: readRequestHeadAnew,
    builds: (head, body) => ([['127.0.0.1', null], ['10.1.2.3', null], ['127.0.0.1', 'mapped-id']] as const)
      .map(([ip, session]) => buildUpstreamRequestHead(head, rw, ip, body, session).toString('latin1')),
  }, 7);
});

differential('response heads: read and rewritten as a full read does, whatever changed', () => {
  const variants: [boolean, boolean, string | null, string | null][] = [
    [false, false, null, null], [true, false, null, null], [false, true, null, null], [false, false, 'mapped', null],
    [false, false, null, 'Access-Control-Allow-Origin: http://a\r\n'],
  ];
  checkAgainstFullReads(RESPONSES, {
    read: readResponseHead,
    readAnew: readResponseHeadAnew,
    builds: (head, body) => variants.map(([close, http10, session, cors]) => buildClientResponseHead(head, rw, close, http10, body, session, cors).toString('latin1')),
  }, 11);
});

differential('a kept head holds no credential, and each head is read and sent with its own', () => {
  const secrets = ['eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LW9uZQ.AAAA', 'eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXR3bw.BBBB'];
  const head = (token: string, key: string): Buffer =>
    b(`POST /mcp HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer ${token}\r\nX-API-Key: ${key}\r\nCookie: s=${key}\r\nContent-Length: 2\r\n\r\n`);
  for (let i = 0; i < 9; i++) buildUpstreamRequestHead(readRequestHead(head(secrets[0]!, 'key-one')), rw, '127.0.0.1');
  const first = readRequestHead(head(secrets[0]!, 'key-one'));
  const t = first.template!;
  assert.ok(t !== null, 'kept');
  assert.is(first.authorization, `Bearer ${secrets[0]}`);
  const second = readRequestHead(head(secrets[1]!, 'key-two'));
  assert.ok(second.fields === first.fields, 'read from the kept head');
  assert.is(second.authorization, `Bearer ${secrets[1]}`);
  assert.is(second.apiKey, 'key-two');
  const out = buildUpstreamRequestHead(second, rw, '127.0.0.1').toString('latin1');
  assert.ok(out.includes(`Authorization: Bearer ${secrets[1]}\r\n`) && out.includes('Cookie: s=key-two\r\n'), out);
  for (const held of [t.bytes, t.out!]) {
    const text = held.toString('latin1');
    for (const secret of [...secrets, 'key-one', 'key-two']) assert.not.ok(text.includes(secret), `${secret} kept in ${JSON.stringify(text)}`);
  }
  assert.is(t.model!.authorization, null);
  assert.is(t.model!.apiKey, null);
  // Dropped as the proxy's own credential (--auth-keys): not in the head sent on.
  const own = new RequestRewrite('up:3000', '/mcp', '1.1 shadowcat', [], ['authorization', 'x-api-key']);
  const sent = buildUpstreamRequestHead(readRequestHead(head(secrets[1]!, 'key-two')), own, '127.0.0.1').toString('latin1');
  assert.not.ok(sent.includes(secrets[1]!) || sent.includes('X-API-Key'), sent);
});

differential('two clients sharing a kept head: the kept build stays until the other builds 8 times in a row', () => {
  const raw = b('POST /mcp HTTP/1.1\r\nHost: shared\r\nContent-Length: 2\r\n\r\n');
  const read = (): ReturnType<typeof readRequestHead> => readRequestHead(Buffer.from(raw));
  for (let i = 0; i < 9; i++) buildUpstreamRequestHead(read(), rw, '10.0.0.1');
  const t = read().template!;
  const first = t.out;
  assert.ok(first !== null && first.toString('latin1').includes('X-Forwarded-For: 10.0.0.1\r\n'));
  // Alternating: each client's head is right, and the kept build is never copied again.
  for (let i = 0; i < 20; i++) {
    const ip = i % 2 === 0 ? '10.0.0.2' : '10.0.0.1';
    assert.ok(buildUpstreamRequestHead(read(), rw, ip).toString('latin1').includes(`X-Forwarded-For: ${ip}\r\n`));
  }
  assert.ok(t.out === first, 'not taken over while the first client still comes');
  for (let i = 0; i < 8; i++) assert.ok(buildUpstreamRequestHead(read(), rw, '10.0.0.2').toString('latin1').includes('X-Forwarded-For: 10.0.0.2\r\n'));
  assert.ok(t.out !== first && t.out!.toString('latin1').includes('X-Forwarded-For: 10.0.0.2\r\n'), 'taken over after 8 in a row');
});

differential('another rewrite (a second proxy in the process) builds its own head', () => {
  const other = new RequestRewrite('elsewhere:9', '/other', '1.1 other');
  const raw = b('POST / HTTP/1.1\r\nHost: proxy\r\nContent-Length: 2\r\n\r\n');
  for (let i = 0; i < 9; i++) buildUpstreamRequestHead(readRequestHead(Buffer.from(raw)), rw, '127.0.0.1');
  const out = buildUpstreamRequestHead(readRequestHead(Buffer.from(raw)), other, '127.0.0.1').toString('latin1');
  assert.ok(out.startsWith('POST /other HTTP/1.1\r\n'), out);
  assert.ok(out.includes('Host: elsewhere:9\r\n'), out);
});

differential.run();
