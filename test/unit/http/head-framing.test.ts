import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createFramer, FRAME_END, FRAME_ERROR } from '../../../dist/http/framer.js';
import { framedBefore, framedKeepAlive, keptRequestHead, keptResponseHead, noteRequestFramed, noteResponseFramed, readRequestHead, readResponseHead } from '../../../dist/http/head.js';
import { mutateHead, oneByteChanges } from '../../helpers/head-mutants.js';
import { rng } from '../../helpers/seeded.js';

// A head like one llhttp framed before skips llhttp (http/head.ts keptRequestHead). The
// corridor's framing must then be llhttp's own, whatever the bytes: every chunk below is
// framed both ways, the corridor's way (a kept head, else llhttp and a read that may keep
// it) and by llhttp alone, and the two must agree on whether it is refused, where the
// message ends and, for a response, whether the connection stays open.

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

const REQUESTS = [
  'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 103\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Session-Id: s-1\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: proxy\r\nContent-Type: application/json\r\nContent-Length:   42  \r\nConnection: keep-alive\r\n\r\n',
  'POST /x?q=1 HTTP/1.0\r\nHost: proxy\r\nContent-Length: 7\r\nConnection: keep-alive\r\nDate: Mon, 07 Dec 2026 14:50:00 GMT\r\n\r\n',
  'POST /mcp HTTP/1.1\r\nHost: proxy\r\nConnection: close, date\r\nDate: Mon, 07 Dec 2026 14:50:00 GMT\r\nContent-Length: 12\r\nVia: 1.0 a\r\n\r\n',
  'GET /mcp HTTP/1.1\r\nHost: proxy\r\nAccept: text/event-stream\r\nLast-Event-ID: 17\r\n\r\n',
  'DELETE /mcp HTTP/1.1\r\nHost: proxy\r\nMcp-Session-Id: s-3\r\nContent-Length: 0\r\n\r\n',
  'POST /mcp HTTP/1.1\r\nHost: proxy\r\nTransfer-Encoding: chunked\r\nX-Other: 1\r\n\r\n',
  'POST /mcp HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer abc.def.ghi\r\nContent-Length: 5\r\n\r\n',
  'POST /mcp HTTP/1.1\r\nHost: proxy\r\nX-API-Key:  k-0123456789abcdef \r\nCookie: a=b; c=d\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\nContent-Length: 9\r\n\r\n',
];
const RESPONSES = [
  'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 07 Dec 2026 14:50:00 GMT\r\nContent-Type: application/json\r\nContent-Length: 82\r\nConnection: keep-alive\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n',
  'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n',
  'HTTP/1.0 202 Accepted\r\nConnection: keep-alive\r\nContent-Length: 0\r\nDate:  Mon, 07 Dec 2026 14:50:00 GMT \r\n\r\n',
  'HTTP/1.1 404 Not Found\r\nDate: Mon, 07 Dec 2026 14:50:00 GMT\r\nContent-Length: 120\r\nKeep-Alive: timeout=5\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n',
  'HTTP/1.1 204 No Content\r\nDate: Mon, 07 Dec 2026 14:50:00 GMT\r\n\r\n',
  'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n',
  'HTTP/1.1 200 OK\r\nSet-Cookie: sid=abc123\r\nContent-Length: 3\r\n\r\n',
];
/** Bytes after each head: the body and, past it, what a next message would start with. */
const PLAIN_TAIL = b('x'.repeat(1200));
/** After a chunked head: a whole chunked body, then more. */
const CHUNKED_TAIL = b(`5\r\nhello\r\n0\r\n\r\n${'x'.repeat(1200)}`);
const tailOf = (head: Buffer): Buffer => (head.includes('chunked') ? CHUNKED_TAIL : PLAIN_TAIL);

/** What framing a chunk comes to: refused, or where its message ends (-1: past the chunk) and llhttp's keep-alive verdict. */
interface Framing {
  readonly error: boolean;
  readonly end: number;
  readonly keepAlive: boolean;
}

/** llhttp alone on `chunk`, a fresh parser. */
function byLlhttp(kind: 'request' | 'response', chunk: Buffer, head: boolean): Framing {
  const f = createFramer(kind);
  f.expectNoBody(head);
  const ret = f.execute(chunk);
  const r = ret === FRAME_ERROR || !f.headComplete ? { error: true, end: -1, keepAlive: false } : { error: false, end: ret === FRAME_END ? f.offset : -1, keepAlive: f.keepAlive };
  f.destroy();
  return r;
}

/** The corridor's way (proxy/http-exchange.ts): a kept head when one frames it, else llhttp, a read, and a note that may let heads like it skip llhttp. */
function byCorridor(kind: 'request' | 'response', chunk: Buffer, head: boolean): Framing & { fast: boolean } {
  const req = kind === 'request' ? keptRequestHead(chunk, 8192) : null;
  const res = kind === 'response' ? keptResponseHead(chunk, 65536) : null;
  const kept = req ?? res;
  if (kept !== null && framedBefore(kept)) {
    const end = kept.raw.length + (res !== null && head ? 0 : Math.max(0, kept.contentLength));
    return { fast: true, error: false, end: end > chunk.length ? -1 : end, keepAlive: framedKeepAlive(kept) };
  }
  const r = byLlhttp(kind, chunk, head);
  if (!r.error) {
    const headEnd = chunk.indexOf('\r\n\r\n') + 4;
    try {
      // A head read as a kept one is not read again.
      if (kind === 'request') noteRequestFramed(req ?? readRequestHead(chunk.subarray(0, headEnd)), r.keepAlive);
      else noteResponseFramed(res ?? readResponseHead(chunk.subarray(0, headEnd)), r.keepAlive);
    } catch {
      // Refused by the read: the corridor answers it with an error; nothing is kept.
    }
  }
  return { fast: false, ...r };
}

/** Both ways agree on `chunk`; returns whether the corridor took the kept head. */
function same(kind: 'request' | 'response', chunk: Buffer, head: boolean, what: string): boolean {
  const want = byLlhttp(kind, chunk, head);
  const got = byCorridor(kind, chunk, head);
  if (got.fast) {
    assert.is(got.error, want.error, `${what}: refused by llhttp, framed by a kept head`);
    assert.is(got.end, want.end, `${what}: message end`);
    assert.is(got.keepAlive, want.keepAlive, `${what}: keep-alive`);
  }
  return got.fast;
}

/** A changed copy of `head` (see mutateHead), then its tail. */
function mutant(head: Buffer, next: () => number): Buffer {
  return Buffer.concat([mutateHead(head, next), tailOf(head)]);
}

/** Every copy of `head` with one byte of a wildcard value changed, then its tail. */
function everyByte(head: Buffer): Buffer[] {
  return oneByteChanges(head).map((m) => Buffer.concat([m, tailOf(head)]));
}

const t = suite('heads framed without llhttp');

for (const [kind, bases] of [['request', REQUESTS], ['response', RESPONSES]] as const) {
  for (const [i, base] of bases.entries()) {
    t(`${kind} ${i}: the corridor frames as llhttp does`, () => {
      const head = b(base);
      const plain = !/chunked|204|304|HTTP\/1\.1 1/.test(base);
      for (const asHead of kind === 'response' ? [false, true] : [false]) {
        // The first is framed by llhttp (and kept); repeats with other Content-Length
        // digits of the same count take the kept head when it is a plain message.
        const first = same(kind, Buffer.concat([head, tailOf(head)]), asHead, 'first');
        if (!asHead) assert.is(first, false, 'the first of a kind goes through llhttp');
        let fast = 0;
        for (let r = 0; r < 50; r++) {
          const m = Buffer.concat([head, tailOf(head)]);
          const at = base.indexOf('Content-Length:');
          if (at !== -1) {
            const s = at + 'Content-Length:'.length;
            for (let k = s; k < base.indexOf('\r\n', at); k++) if (m[k]! >= 0x30 && m[k]! <= 0x39) m[k] = 0x30 + ((r + k) % 10);
          }
          if (same(kind, m, asHead, `repeat ${r}`)) fast++;
        }
        // A full set takes a new head only after a few misses in a row (head-template.ts).
        if (plain) assert.ok(fast >= 40, `repeats framed by the kept head: ${fast} of 50`);
        else assert.is(fast, 0, 'such heads always go through llhttp');
        const next = rng(0x5eed + i * 31 + (asHead ? 7 : 0));
        for (let n = 0; n < 400; n++) same(kind, mutant(head, next), asHead, `mutant ${n} (seed ${i})`);
        for (const m of everyByte(head)) same(kind, m, asHead, `byte ${JSON.stringify(m.subarray(0, head.length).toString('latin1'))}`);
      }
    });
  }
}

t('a head longer than the limit is not framed by a kept head', () => {
  const head = b(REQUESTS[0]!);
  same('request', Buffer.concat([head, tailOf(head)]), false, 'first');
  const kept = keptRequestHead(Buffer.concat([head, tailOf(head)]), 8192);
  assert.ok(kept !== null && framedBefore(kept));
  assert.is(keptRequestHead(Buffer.concat([head, tailOf(head)]), head.length - 1), null);
  assert.is(keptRequestHead(Buffer.concat([b('\r\n'), head, tailOf(head)]), 8192), null, 'leading empty lines are llhttp\'s');
  assert.is(keptRequestHead(head.subarray(0, head.length - 1), 8192), null, 'a head not yet whole');
});

t.run();
