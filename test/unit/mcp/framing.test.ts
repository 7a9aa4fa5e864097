import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { classify, methodLabel, parseMessages } from '../../../dist/mcp/jsonrpc.js';
import { NdjsonFramer } from '../../../dist/mcp/ndjson.js';
import { SseReader } from '../../../dist/mcp/sse-reader.js';

const ndjson = suite('NdjsonFramer');

ndjson('splits lines across arbitrary chunk boundaries', () => {
  const lines: string[] = [];
  const f = new NdjsonFramer(1000, (l) => lines.push(l.toString().trim()), () => assert.unreachable());
  const text = '{"a":1}\n{"b":2}\r\n\n{"c":3}\n{"d"';
  for (let i = 0; i < text.length; i += 3) f.push(Buffer.from(text.slice(i, i + 3)));
  f.push(Buffer.from(':4}'));
  f.end();
  assert.equal(lines.filter((l) => l !== ''), ['{"a":1}', '{"b":2}', '{"c":3}', '{"d":4}']);
});

ndjson('a line over the limit is reported, not kept, and the next line is read', () => {
  const lines: string[] = [];
  const sizes: number[] = [];
  const f = new NdjsonFramer(10, (l) => lines.push(l.toString()), (n) => sizes.push(n));
  f.push(Buffer.from('x'.repeat(25)));
  f.push(Buffer.from('yy\n{"ok":1}\n'));
  assert.equal(sizes, [27]);
  assert.equal(lines, ['{"ok":1}']);
});

const sse = suite('SseReader');

sse('yields each event\'s data, joined across data lines, any line ending', () => {
  const events: string[] = [];
  const r = new SseReader(1000, (b, s, e) => events.push(b.toString('utf8', s, e)));
  const text = 'event: message\nid: 1\ndata: {"a":\ndata: 1}\n\n: comment\r\ndata:{"b":2}\r\n\r\ndata: three\r\rdata: x';
  for (let i = 0; i < text.length; i += 2) r.push(Buffer.from(text.slice(i, i + 2)));
  assert.equal(events, ['{"a":\n1}', '{"b":2}', 'three']);
});

sse('an event left open when a read ends is kept as a copy, not as the read', () => {
  const events: string[] = [];
  const r = new SseReader(1000, (b, s, e) => events.push(b.toString('utf8', s, e)));
  const first = Buffer.from('data: one\ndata: two\n');
  r.push(first);
  first.fill(0x78); // had the reader kept a view of this read, the event would now read "xxx"
  r.push(Buffer.from('data: three\n\n'));
  assert.equal(events, ['one\ntwo\nthree']);
});

sse('an event over the limit is dropped', () => {
  const events: string[] = [];
  const r = new SseReader(8, (b, s, e) => events.push(b.toString('utf8', s, e)));
  r.push(Buffer.from('data: 0123456789abc\n\ndata: ok\n\n'));
  assert.equal(events, ['ok']);
});

const rpc = suite('jsonrpc');

rpc('classifies requests, notifications, results and errors', () => {
  assert.equal(classify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } }), { kind: 'request', method: 'tools/call', id: '1', tool: 'echo' });
  assert.equal(classify({ jsonrpc: '2.0', method: 'notifications/progress' }), { kind: 'notification', method: 'notifications/progress', id: null, tool: null });
  assert.is(classify({ jsonrpc: '2.0', id: 'a', result: {} }).kind, 'result');
  assert.is(classify({ jsonrpc: '2.0', id: 'a', error: {} }).kind, 'error');
  assert.is(classify(42).kind, 'invalid');
  assert.is(classify({ jsonrpc: '2.0', id: 1, method: 'x/unknown' }).method, 'other');
  assert.is(methodLabel('tools/list'), 'tools/list');
});

rpc('parses single messages and batches; null for invalid JSON', () => {
  assert.is(parseMessages('{"a":1}')?.length, 1);
  assert.is(parseMessages('[{"a":1},{"b":2}]')?.length, 2);
  assert.is(parseMessages('{"a":'), null);
});

ndjson.run();
sse.run();
rpc.run();
