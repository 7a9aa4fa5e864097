import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Envelope, ENVELOPE_EMPTY, ENVELOPE_FALLBACK, ENVELOPE_MALFORMED, ENVELOPE_OK, readEnvelope } from '../../../dist/mcp/envelope.js';
import { classify } from '../../../dist/mcp/jsonrpc.js';

const env = suite('readEnvelope');
// One Envelope for every read, as the inspector uses it: what it remembers between
// messages must never change an answer.
const shared = new Envelope();

function read(text: string, pad = 0): { code: number; kind: string; method: string; id: string | null } {
  // Padding on both sides: the reader must keep to [start, end) of a larger buffer.
  const buf = Buffer.concat([Buffer.alloc(pad, 0x7b), Buffer.from(text), Buffer.alloc(pad, 0x22)]);
  const out = shared;
  const code = readEnvelope(buf, pad, pad + Buffer.byteLength(text), out);
  return { code, kind: out.kind, method: out.method, id: out.id };
}

function agrees(text: string): void {
  const expected = classify(JSON.parse(text));
  const got = read(text, 3);
  assert.is(got.code, ENVELOPE_OK, text);
  assert.equal({ kind: got.kind, method: got.method, id: got.id }, { kind: expected.kind, method: expected.method, id: expected.id }, text);
}

env('reads requests, notifications, results and errors in any member order', () => {
  agrees('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"a \\"quoted\\" }{ text"}}}');
  agrees('{"method":"tools/call","params":{"name":"echo","arguments":{"list":[1,2,{"x":[]}]}},"jsonrpc":"2.0","id":3}');
  agrees('{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":4,"total":1000}}');
  agrees('{"result":{"content":[{"type":"text","text":"Echo: hi"}]},"jsonrpc":"2.0","id":"abc-1"}');
  agrees('{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found"}}');
  agrees(' \r\n\t{ "jsonrpc" : "2.0" , "id" : 12 , "result" : { } } \n');
  agrees('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}');
  agrees('{"jsonrpc":"2.0","id":1,"method":"x/not-known"}');
  agrees('{"jsonrpc":"2.0","id":1,"method":"notifications/tools/list_changed"}');
  agrees('{"jsonrpc":"2.0","id":1,"method":"notifications/roots/list_changed"}');
  agrees('{"jsonrpc":"2.0","id":2,"method":42,"result":true}');
  agrees('{"jsonrpc":"2.0","id":1.50,"result":null}');
  agrees('{"jsonrpc":"2.0","id":-0,"result":"ok"}');
  agrees('{"jsonrpc":"2.0","id":1e3,"result":[]}');
  // Whole-number ids read from their digits, at and past the nine digits that path takes.
  for (const id of ['0', '9', '10', '100', '123456789', '999999999', '1000000000', '12345678901234567890', '0.0', '10.0', '5E1']) {
    agrees(`{"jsonrpc":"2.0","id":${id},"result":{}}`);
    agrees(`{"jsonrpc":"2.0","method":"ping","id":${id}}`);
  }
  agrees('{"jsonrpc":"2.0","id":"ünï","result":{}}');
  agrees('{"jsonrpc":"2.0"}');
  agrees('{}');
  agrees('{"id":1,"id":2,"method":"ping"}');
});

env('every known MCP method keeps its name as its label', () => {
  for (const m of ['initialize', 'ping', 'tools/list', 'resources/templates/list', 'notifications/initialized', 'notifications/cancelled',
    'notifications/message', 'notifications/resources/updated', 'notifications/resources/list_changed', 'notifications/prompts/list_changed',
    'sampling/createMessage', 'elicitation/create', 'completion/complete', 'logging/setLevel']) {
    agrees(`{"jsonrpc":"2.0","id":5,"method":"${m}"}`);
    assert.is(read(`{"jsonrpc":"2.0","id":5,"method":"${m}"}`).method, m);
  }
  // Same length as a known name, one byte off.
  assert.is(read('{"jsonrpc":"2.0","id":5,"method":"tools/lisT"}').method, 'other');
});

env('what it does not read simply goes to the full parser', () => {
  assert.is(read('[{"jsonrpc":"2.0","id":1,"method":"ping"}]').code, ENVELOPE_FALLBACK);
  assert.is(read('{"jsonrpc":"2.0","id":1,"meth\\u006fd":"ping"}').code, ENVELOPE_FALLBACK);
  assert.is(read('{"jsonrpc":"2.0","id":1,"method":"pi\\u006eg"}').code, ENVELOPE_FALLBACK);
  assert.is(read('{"jsonrpc":"2.0","id":"a\\"b","result":{}}').code, ENVELOPE_FALLBACK);
  assert.is(read('{"jsonrpc":"2.0","id":{"x":1},"result":{}}').code, ENVELOPE_FALLBACK);
});

env('broken structure is malformed; whitespace alone is empty', () => {
  for (const text of ['', '{', '{"a":1', '{"a":1,}', '{"a" 1}', '{"a":{"b":[1,2}}', '{"a":"x}', '{"a":1}}', '{"a":1} x', 'null', '42', '"s"', '{a:1}', '{"a":]}']) {
    const code = read(text).code;
    if (text === '') assert.is(code, ENVELOPE_EMPTY);
    else assert.is(code, ENVELOPE_MALFORMED, text);
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      // what the full parser says too
    }
    assert.ok(parsed === null || typeof parsed !== 'object', `JSON.parse reads ${text} as an object`);
  }
  assert.is(read(' \r\n ').code, ENVELOPE_EMPTY);
});

env('agrees with JSON.parse + classify on generated messages', () => {
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const methods = ['initialize', 'tools/call', 'notifications/progress', 'other/thing', 'ping', 'resources/read'];
  const requestMethods = methods.filter((m) => !m.startsWith('notifications/'));
  const value = (depth: number): unknown => {
    switch (rnd(depth > 2 ? 4 : 7)) {
      case 0: return rnd(1000) - 500;
      case 1: return ['', 'a', 'x y', 'q"uo\\te', '}{][,:', 'é€😀'][rnd(6)];
      case 2: return [true, false, null][rnd(3)];
      case 3: return rnd(100) / 8;
      case 4: return Array.from({ length: rnd(4) }, () => value(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let k = rnd(4); k > 0; k--) o[['id', 'method', 'result', 'error', 'k', 'params'][rnd(6)]!] = value(depth + 1);
        return o;
      }
    }
  };
  const shuffle = <T>(a: T[]): T[] => {
    for (let i = a.length - 1; i > 0; i--) {
      const j = rnd(i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  };
  const ids = (): unknown => [rnd(100000), `req-${rnd(50)}`, rnd(1000) / 4, -rnd(9)][rnd(4)];
  let fast = 0;
  for (let n = 0; n < 4000; n++) {
    // Valid JSON-RPC shapes, members in any order, nested values of any make.
    const members: [string, unknown][] = [['jsonrpc', '2.0']];
    switch (rnd(4)) {
      case 0: members.push(['id', ids()], ['method', requestMethods[rnd(requestMethods.length)]], ['params', value(0)]); break;
      case 1: members.push(['method', methods[rnd(methods.length)]], ['params', value(0)]); break;
      case 2: members.push(['id', rnd(5) === 0 ? null : ids()], ['result', value(0)]); break;
      default: members.push(['id', rnd(5) === 0 ? null : ids()], ['error', { code: -32000 - rnd(100), message: 'm', data: value(1) }]);
    }
    const text = JSON.stringify(Object.fromEntries(shuffle(members)), null, [0, 0, 2, '\t'][rnd(4)]);
    const got = read(text, rnd(3));
    if (got.code === ENVELOPE_FALLBACK) continue; // escapes in a string id
    fast++;
    agrees(text);
  }
  assert.ok(fast > 3500, `only ${fast} read without the full parser`);
});

env('an MCP notifications/* method is a notification without looking for an id', () => {
  // The MCP spec forbids an id on these; the reader does not walk params to find one.
  assert.equal(read('{"method":"notifications/progress","params":{"progress":1},"id":9}'), { code: ENVELOPE_OK, kind: 'notification', method: 'notifications/progress', id: null });
  // An id before the params is still seen.
  agrees('{"id":9,"method":"notifications/progress","params":{"progress":1}}');
});

env('a run of notifications with the same start reads each one right', () => {
  for (let i = 0; i < 5; i++) agrees(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${i},"total":9}}`);
  // Same first bytes, then something else: each is read in full again.
  agrees('{"jsonrpc":"2.0","method":"notifications/progress","params":[1]}');
  agrees('{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info"}}');
  agrees('{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}');
  // Cut short: the reader checks that the message closes, not how each nested value does.
  assert.is(read('{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1').code, ENVELOPE_MALFORMED);
  assert.is(read('{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}} x').code, ENVELOPE_MALFORMED);
  agrees('{"jsonrpc":"2.0","method":"notifications/progress","id":4,"params":{"progress":1}}');
  agrees('{"jsonrpc":"2.0","method":"tools/call","params":{"progress":1},"id":5}');
  assert.is(read('{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}').method, 'notifications/progress');
});

env('a message of no JSON-RPC shape still gets an answer', () => {
  for (const text of ['{"id":1,"result":{},"method":"ping"}', '{"method":"ping","result":[1],"id":2}', '{"error":{},"result":{}}']) {
    assert.is(read(text).code, ENVELOPE_OK, text);
  }
});

env('a tail that only looks like an id is not taken for one', () => {
  agrees('{"method":"tools/call","params":{"a":1,"id":2}}');
  agrees('{"method":"tools/call","params":{"x":",\\"id\\":5"}}');
  agrees('{"result":{"k":"v"},"note":"a,\\"id\\":\\"7\\""}');
  agrees('{"result":{"k":"v"},"id" : "x" }');
  agrees('{"result":{"k":"v"},"xid":3}');
  agrees('{"result":{"k":"v"},"id":null}');
});


env('in a large read the repeated start is compared by words, with the same answers as byte by byte', () => {
  // One read of many events (as an event stream's read is), each message at every alignment,
  // with one byte of the remembered start changed in turn: each must read as alone.
  const base = '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1,"total":9}}';
  const variants: string[] = [base];
  const prefixEnd = base.indexOf('"params":{') + 10;
  for (let i = 0; i < prefixEnd; i++) {
    variants.push(base.slice(0, i) + (base[i] === 'o' ? 'x' : 'o') + base.slice(i + 1), base);
  }
  variants.push('{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":2}}', '{"jsonrpc":"2.0","id":3,"method":"notifications/progress","params":{}}');
  for (let shift = 0; shift < 4; shift++) {
    const parts: Buffer[] = [Buffer.alloc(shift, 0x20)];
    const at: [number, number][] = [];
    let pos = shift;
    for (let k = 0; k < 4; k++) {
      for (const v of variants) {
        const b = Buffer.from(`${v}\n`);
        at.push([pos, pos + b.length - 1]);
        parts.push(b);
        pos += b.length;
      }
    }
    // A read that is a view into a larger one, at an odd offset: the word view must line up.
    const whole = Buffer.concat([Buffer.alloc(3), ...parts]).subarray(3);
    assert.ok(whole.length >= 4096, 'the read is large enough for the word view');
    const out = new Envelope();
    for (const [s, e] of at) {
      const code = readEnvelope(whole, s, e, out);
      const alone = new Envelope();
      const aloneCode = readEnvelope(Buffer.from(whole.subarray(s, e)), 0, e - s, alone);
      const text = whole.toString('utf8', s, e);
      assert.is(code, aloneCode, text);
      // What a read that failed leaves in the envelope is no answer.
      if (code === ENVELOPE_OK) assert.equal([out.kind, out.method, out.id], [alone.kind, alone.method, alone.id], text);
    }
  }
  // A message at the very end of a read whose last bytes are not a whole word: read right too.
  const tail = Buffer.from(`${' '.repeat(4096)}${base}`);
  for (let cut = 0; cut < 4; cut++) {
    const b = Buffer.concat([tail, Buffer.alloc(cut, 0x20)]);
    const out = new Envelope();
    readEnvelope(b, 4096, 4096 + base.length, out);
    readEnvelope(b, 4096, 4096 + base.length, out);
    assert.is(out.repeated, true);
    assert.equal([out.kind, out.method], ['notification', 'notifications/progress']);
  }
});

env.run();
