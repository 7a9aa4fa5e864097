import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createFramer } from '../../../dist/http/framer.js';
import { BODY_END, BODY_ERROR, BODY_MORE, BodyReader, HEAD_DONE, HEAD_NO_END, HEAD_TOO_LARGE, HeadReader } from '../../../dist/http/message-reader.js';

const head = suite('HeadReader');

head('a head in one chunk is located without a copy, after the empty lines a request may start with', () => {
  const r = new HeadReader(1024, true);
  const chunk = Buffer.from('\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nBODY');
  assert.is(r.complete(chunk), HEAD_DONE);
  assert.is(r.all, chunk);
  assert.is(r.all.subarray(r.start, r.end).toString(), 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.is(chunk.subarray(r.bodyStart).toString(), 'BODY');
});

head('a head in pieces, its end split across them: bodyStart is within the last piece', () => {
  const text = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  for (let cut = 1; cut < text.length - 2; cut++) {
    const r = new HeadReader(1024, false);
    const a = Buffer.from(text.slice(0, cut));
    const b = Buffer.from(text.slice(cut));
    if (cut < text.length - 4) {
      assert.is(r.more(a), HEAD_DONE);
      assert.ok(r.pending);
      assert.is(r.complete(b), HEAD_DONE, `cut ${cut}`);
    } else {
      assert.is(r.complete(Buffer.concat([a, b])), HEAD_DONE);
    }
    assert.not.ok(r.pending);
    assert.is(r.all.subarray(r.start, r.end).toString(), text.slice(0, -2));
  }
});

head('the limit counts the head, not the empty lines before it; a missing end is told apart', () => {
  const small = new HeadReader(10, true);
  assert.is(small.more(Buffer.from('\r\n\r\n\r\n\r\nGET / HT')), HEAD_DONE);
  assert.is(small.more(Buffer.from('TP/1.1')), HEAD_TOO_LARGE);
  const noEnd = new HeadReader(100, false);
  assert.is(noEnd.complete(Buffer.from('HTTP/1.1 200 OK\r\n\n')), HEAD_NO_END);
  const big = new HeadReader(10, false);
  assert.is(big.complete(Buffer.from('HTTP/1.1 200 OK\r\n\r\n')), HEAD_TOO_LARGE);
});

const body = suite('BodyReader');

body('a Content-Length body is counted here: what follows it is the rest', () => {
  const r = new BodyReader();
  const framer = createFramer('request');
  r.expect(5);
  const one = Buffer.from('ab');
  assert.is(r.read(one, framer), BODY_MORE);
  assert.is(r.body, one);
  assert.is(r.read(Buffer.from('cdeGET'), framer), BODY_END);
  assert.is(r.body.toString(), 'cde');
  assert.is(r.rest!.toString(), 'GET');
  assert.is(r.remaining, -1);
  r.expect(2);
  assert.is(r.read(Buffer.from('xy'), framer), BODY_END);
  assert.is(r.rest, null);
});

body('a chunked body is delimited by the framer, and a bad one is refused', () => {
  const framer = createFramer('request');
  assert.is(framer.execute(Buffer.from('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n')), 0);
  const r = new BodyReader();
  assert.is(r.read(Buffer.from('3\r\nabc\r\n'), framer), BODY_MORE);
  assert.is(r.read(Buffer.from('0\r\n\r\nNEXT'), framer), BODY_END);
  assert.is(r.body.toString(), '0\r\n\r\n');
  assert.is(r.rest!.toString(), 'NEXT');
  const bad = createFramer('request');
  bad.execute(Buffer.from('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'));
  assert.is(r.read(Buffer.from('zz\r\n'), bad), BODY_ERROR);
});

head.run();
body.run();
