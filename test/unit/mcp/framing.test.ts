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


sse('agrees with a line-by-line reading of the spec on generated streams cut anywhere', () => {
  // The reference: split on CRLF, CR or LF; a blank line dispatches the data lines joined by LF.
  const reference = (text: string): string[] => {
    const out: string[] = [];
    let data: string[] = [];
    const lines = text.split(/\r\n|\r|\n/);
    lines.pop(); // what follows the last line break is no line yet
    for (const line of lines) {
      if (line === '') {
        if (data.length > 0) out.push(data.join('\n'));
        data = [];
      } else if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
    }
    return out;
  };
  let seed = 11;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const breaks = ['\n', '\r\n', '\r'];
  for (let n = 0; n < 300; n++) {
    let text = '';
    for (let e = rnd(12); e >= 0; e--) {
      const br = breaks[rnd(breaks.length)]!;
      for (let f = rnd(4); f >= 0; f--) {
        switch (rnd(7)) {
          case 0: text += `id: ${rnd(1000)}${br}`; break;
          case 1: text += `event: message${br}`; break;
          case 2: text += `: ${'c'.repeat(rnd(40))}${br}`; break;
          case 3: text += `retry: 10${br}`; break;
          case 4: text += `dat: not data${br}`; break;
          default: text += `data:${rnd(2) === 0 ? ' ' : ''}{"n":${rnd(100)},"s":"${'x'.repeat(rnd(60))}"}${br}`;
        }
      }
      text += br;
    }
    const bytes = Buffer.from(text);
    const got: string[] = [];
    const r = new SseReader(1000, (b, s, e) => got.push(b.toString('utf8', s, e)));
    for (let i = 0; i < bytes.length;) {
      const step = 1 + rnd(rnd(2) === 0 ? 8 : 200);
      r.push(Buffer.from(bytes.subarray(i, i + step)));
      i += step;
    }
    assert.equal(got, reference(text), JSON.stringify(text));
  }
});

sse('with a repeat handler: every event is handed over once, in order, a repeat only when it starts as the template', () => {
  const PREFIX = '{"jsonrpc":"2.0","method":"notifications/progress","params":';
  // mulberry32: the low bits of a plain LCG repeat too regularly for the mixes below.
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const breaks = ['\n', '\r\n', '\r'];
  let repeatsSeen = 0;
  let events = 0;
  for (let n = 0; n < 40; n++) {
    // Mostly one shape per stream (as servers write), with the odd different event in it.
    const br = breaks[rnd(breaks.length)]!;
    const idFirst = rnd(2) === 0;
    const sdkIds = rnd(2) === 0;
    let text = '';
    const expected: string[] = [];
    for (let e = 0; e < 400; e++) {
      const data = rnd(15) === 0 ? `{"jsonrpc":"2.0","method":"notifications/message","params":{"n":${e}}}`
        : rnd(40) === 0 ? `${PREFIX}{"progress":${e}` // no closing brace: the handler is still told
        : `${PREFIX}{"progress":${e},"total":400}}`;
      // Short ids, long ones of one stream numbered as the SDK numbers them, odd ones.
      const id = rnd(20) === 0 ? `id: ${'x'.repeat(rnd(60))}${rnd(2) === 0 ? e : ''}${br}`
        : sdkIds ? `id: 1f0c2a7e-8e3b-4c1e-9a57-3f1b2c4d5e6f_${e}${rnd(30) === 0 ? 'z' : ''}${br}`
        : `id: ${e}${br}`;
      const b = rnd(30) === 0 ? breaks[rnd(breaks.length)]! : br;
      switch (rnd(25)) {
        case 0: text += `: keep-alive${b}${b}`; continue;
        case 1: text += `event: message${b}${id}data: ${data}${b}retry: 5${b}${b}`; break;
        case 2: text += `${id}${id}event: message${b}data: ${data}${b}${b}`; break;
        case 3: text += `data: ${data}${b}data: more${b}${b}`; expected.push(`${data}\nmore`); continue;
        default: text += idFirst ? `${id}event: message${b}data: ${data}${b}${b}` : `event: message${b}${id}data: ${data}${b}${b}`;
      }
      expected.push(data);
    }
    const got: string[] = [];
    let same = '';
    const r = new SseReader(1 << 20, (b, s, e) => {
      const data = b.toString('utf8', s, e);
      got.push(data);
      same = data.startsWith(PREFIX) ? PREFIX : '';
      return same.length;
    }, false, (b, s, e) => {
      const data = b.toString('utf8', s, e);
      assert.ok(same !== '' && data.startsWith(same), data);
      got.push(data);
      repeatsSeen++;
    });
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length;) {
      const step = rnd(4) === 0 ? 1 + rnd(300) : 4096 + rnd(20000);
      r.push(Buffer.from(bytes.subarray(i, i + step)));
      i += step;
    }
    assert.equal(got, expected, `stream ${n}`);
    events += expected.length;
  }
  // Most events went by the template (so the path above was tried), not all (so was the other).
  assert.ok(repeatsSeen > events / 2 && repeatsSeen < events, `${repeatsSeen} repeats of ${events} events`);
});

sse('with ids tracked (the recorder), no event goes to the repeat handler', () => {
  let text = '';
  for (let i = 0; i < 200; i++) text += `id: ${i}\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${i}}}\n\n`;
  let events = 0;
  const r = new SseReader(1 << 20, () => {
    events++;
    return 50;
  }, true, () => assert.unreachable());
  r.push(Buffer.from(text));
  assert.is(events, 200);
  assert.is(r.eventId, '199');
});

ndjson.run();
sse.run();
rpc.run();
