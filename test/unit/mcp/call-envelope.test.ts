// The strict read a policy decides on (readCallEnvelope), the gate's verdicts, and the
// rewriting of list results in JSON and event streams however the bytes are split.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CallEnvelope, ENVELOPE_BATCH, ENVELOPE_DUPLICATE, ENVELOPE_EMPTY, ENVELOPE_FALLBACK, ENVELOPE_FOLDED, ENVELOPE_MALFORMED, ENVELOPE_OK,
  hasDuplicateKeys, readCallEnvelope,
} from '../../../dist/mcp/envelope.js';
import { MessageGate } from '../../../dist/mcp/gate.js';
import { MessageHooks, type ClientCall, type MessageDecider, type RewriteVerdict } from '../../../dist/mcp/message.js';
import { SseRewrite, rewriteMessage } from '../../../dist/mcp/result-rewrite.js';

const strict = suite('readCallEnvelope');

function read(text: string, pad = 3): { code: number; env: CallEnvelope } {
  const buf = Buffer.concat([Buffer.alloc(pad, 0x7b), Buffer.from(text), Buffer.alloc(pad, 0x22)]);
  const env = new CallEnvelope();
  return { code: readCallEnvelope(buf, pad, pad + Buffer.byteLength(text), env), env };
}

strict('reads method, id, params.name and params.uri wherever they sit', () => {
  let r = read('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"arguments":{"name":"inner","x":[1,{"name":"deep"}]},"name":"echo"}}');
  assert.is(r.code, ENVELOPE_OK);
  assert.is(r.env.method, 'tools/call');
  assert.is(r.env.id, '7');
  assert.ok(r.env.hasId);
  assert.is(r.env.name, 'echo');
  r = read('{ "params" : { "uri" : "file:///x" } , "method" : "resources/read" , "id" : "a" }');
  assert.is(r.code, ENVELOPE_OK);
  assert.is(r.env.uri, 'file:///x');
  assert.is(r.env.id, '"a"');
  r = read('{"jsonrpc":"2.0","method":"custom/thing","params":{"name":"ünï"}}');
  assert.is(r.env.method, 'custom/thing');
  assert.is(r.env.name, 'ünï');
  assert.not.ok(r.env.hasId);
  r = read('{"jsonrpc":"2.0","id":null,"method":"tools/call"}');
  assert.ok(r.env.hasId);
  assert.is(r.env.id, 'null');
});

strict('takes no shortcut: members after a notification\'s params are read too', () => {
  const r = read('{"jsonrpc":"2.0","method":"notifications/initialized","params":{},"method":"tools/call","id":1}');
  assert.is(r.code, ENVELOPE_DUPLICATE);
});

strict('repeated members that decide a match are unreadable', () => {
  for (const text of [
    '{"method":"ping","method":"tools/call","id":1}',
    '{"id":1,"id":2,"method":"x"}',
    '{"method":"tools/call","params":{"name":"a"},"params":{"name":"b"},"id":1}',
    '{"method":"tools/call","params":{"name":"a","name":"b"},"id":1}',
    '{"method":"resources/read","params":{"uri":"a","uri":"b"},"id":1}',
  ]) assert.is(read(text).code, ENVELOPE_DUPLICATE, text);
});

strict('escapes, odd ids and batches go to the full parser; broken JSON is malformed', () => {
  assert.is(read('{"method":"tools\\/call","id":1}').code, ENVELOPE_FALLBACK);
  assert.is(read('{"m\\u0065thod":"tools/call","id":1}').code, ENVELOPE_FALLBACK);
  assert.is(read('{"method":"tools/call","params":{"name":"e\\u0063ho"},"id":1}').code, ENVELOPE_FALLBACK);
  assert.is(read('{"method":"tools/call","id":{"a":1}}').code, ENVELOPE_FALLBACK);
  assert.is(read('[{"method":"tools/call","id":1}]').code, ENVELOPE_BATCH);
  assert.is(read('   ').code, ENVELOPE_EMPTY);
  for (const text of ['{"method":"tools/call","id":1} x', '{"method":"tools/call" "id":1}', '{"method":"tools/call",', "{'method':'x'}", '"x"', '{"method":"a","params":{"name":"x" "y":1}}']) {
    assert.is(read(text).code, ENVELOPE_MALFORMED, text);
  }
});

strict('one reader, message after message: names, uris, methods and ids as sent, however alike', () => {
  // The reader remembers the last name's bytes: same-length names, long names and repeats must each read as themselves.
  const env = new CallEnvelope();
  const long = 'n'.repeat(63) + 'x';
  const longer = 'n'.repeat(100);
  const cases: Array<[string | null, string | null, string, string]> = [
    ['echo', null, '1', 'tools/call'], ['echo', null, '1', 'tools/call'], ['ecxo', null, '2', 'tools/call'], ['echo', null, '0', 'tools/call'],
    [long, null, '10', 'tools/call'], [long.slice(0, -1) + 'y', null, '-3', 'tools/call'], [longer, null, '1e3', 'tools/call'], [longer, null, '007', 'tools/call'],
    ['ünï', null, '123456789', 'tools/call'], ['üni', null, '1234567890', 'custom/a'], ['', null, '1.5', 'custom/b'],
    [null, 'file:///a', '"s"', 'resources/read'], [null, 'file:///b', 'null', 'resources/read'], [null, 'file:///b', '99', 'custom/a'],
  ];
  for (const [name, uri, id, method] of cases) {
    const params = name !== null ? `{"name":${JSON.stringify(name)}}` : `{"uri":${JSON.stringify(uri)}}`;
    const text = `{"jsonrpc":"2.0","id":${id},"method":"${method}","params":${params}}`;
    const buf = Buffer.concat([Buffer.from('xx'), Buffer.from(text), Buffer.from('yy')]);
    assert.is(readCallEnvelope(buf, 2, buf.length - 2, env), ENVELOPE_OK, text);
    assert.is(env.name, name, text);
    assert.is(env.uri, uri, text);
    assert.is(env.id, id, text);
    assert.is(env.method, method, text);
  }
});

strict('"jsonrpc" and "arguments" are read as written; their case variants are folded', () => {
  assert.is(read('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"ARGUMENTS":1}}}').code, ENVELOPE_OK);
  for (const text of [
    '{"JSONRPC":"2.0","id":1,"method":"tools/call"}', '{"jsonrpC":"2.0","id":1,"method":"tools/call"}', '{"Id":1,"method":"tools/call"}',
    '{"id":1,"method":"tools/call","params":{"Arguments":{}}}', '{"id":1,"method":"tools/call","params":{"argumentS":{},"name":"x"}}',
    '{"id":1,"method":"tools/call","params":{"URI":"x"}}', '{"id":1,"method":"tools/call","pARAMS":{}}',
  ]) assert.is(read(text).code, ENVELOPE_FOLDED, text);
  assert.is(read('{"id":1,"method":"tools/call","params":{"argumentſ":{}}}').code, ENVELOPE_FALLBACK);
  assert.is(read('{"jsonrpcſ":"2.0","id":1,"method":"tools/call"}').code, ENVELOPE_FALLBACK);
});

strict('hasDuplicateKeys compares decoded keys at any depth', () => {
  assert.ok(hasDuplicateKeys('{"a":1,"\\u0061":2}'));
  assert.ok(hasDuplicateKeys('[{"x":{"k":1,"k":2}}]'));
  assert.not.ok(hasDuplicateKeys('{"a":{"a":1},"b":["a","a"],"c":"a"}'));
  assert.not.ok(hasDuplicateKeys('[{"a":1},{"a":2}]'));
});

const gate = suite('MessageGate');

/** A decider that blocks tools/call of "bad" and rewrites tools/list. */
function gateWith(seen: ClientCall[] = []): MessageGate {
  const decider: MessageDecider = {
    cares: (m) => m === 'tools/call' || m === 'tools/list',
    decide: (call) => {
      seen.push(call);
      if (call.rawMethod === 'tools/list') return { type: 'rewrite', rewrite: (r) => r };
      return call.name === 'bad' ? { type: 'answer', member: 'error', json: '{"code":-32001,"message":"no"}' } : null;
    },
  };
  return new MessageGate(new MessageHooks([], [decider]));
}
const ctx = { proxySession: 'p', mcpSession: 'm', clientIp: '127.0.0.1', subject: null, claims: null, log: () => { throw new Error('no logs here'); } };
const judge = (g: MessageGate, text: string) => g.judge(Buffer.from(text), ctx);

gate('methods no decider names pass without a verdict asked', () => {
  const seen: ClientCall[] = [];
  const g = gateWith(seen);
  assert.is(judge(g, '{"jsonrpc":"2.0","id":1,"method":"ping"}').type, 'forward');
  assert.is(judge(g, '{"jsonrpc":"2.0","id":1,"result":{}}').type, 'forward');
  assert.is(seen.length, 0);
});

gate('answers carry the request id as sent; a notification gets no answer', () => {
  const g = gateWith();
  const j = judge(g, '{"jsonrpc":"2.0","id":"x-1","method":"tools/call","params":{"name":"bad"}}');
  assert.is(j.type, 'answer');
  assert.is((j as { body: Buffer }).body.toString(), '{"jsonrpc":"2.0","id":"x-1","error":{"code":-32001,"message":"no"}}');
  const big = judge(g, '{"jsonrpc":"2.0","id":12345678901234567890,"method":"tools/call","params":{"name":"bad"}}');
  assert.match((big as { body: Buffer }).body.toString(), /"id":12345678901234567890,/, "the id as sent, digits and all");
  const note = judge(g, '{"jsonrpc":"2.0","method":"tools/call","params":{"name":"bad"}}');
  assert.equal(note, { type: 'answer', body: null });
  const rw = judge(g, '{"jsonrpc":"2.0","id":3,"method":"tools/list"}');
  assert.is(rw.type, 'rewrite');
  assert.is((rw as { idJson: string }).idJson, '3');
});

gate('batches: forwarded when nothing in them is acted on, else refused', () => {
  const g = gateWith();
  assert.is(judge(g, '[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ok"}}]').type, 'forward');
  assert.is(judge(g, '[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"bad"}}]').type, 'refuse');
  assert.is(judge(g, '[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]').type, 'refuse');
  assert.is(judge(g, '[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ok","name":"bad"}}]').type, 'refuse');
});

const rewrite = suite('list rewriting');
const dropX: RewriteVerdict = {
  type: 'rewrite',
  rewrite: (r) => ({ ...r, tools: (r.tools as Array<{ name: string }>).filter((t) => t.name !== 'x') }),
};

rewrite('rewriteMessage touches only the response with the id, and keeps other members', () => {
  const body = Buffer.from('{"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"x"},{"name":"y"}],"nextCursor":"n"}}');
  assert.is(rewriteMessage(body, '4', dropX)!.toString(), '{"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"y"}],"nextCursor":"n"}}');
  assert.is(rewriteMessage(body, '5', dropX), body);
  assert.is(rewriteMessage(Buffer.from('{"id":4,'), '4', dropX), null);
});

rewrite('SseRewrite: the same output however the stream is split, CR, LF or CRLF', () => {
  const response = '{"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"x"},{"name":"y"}]}}';
  for (const nl of ['\n', '\r\n', '\r']) {
    const stream = `: comment${nl}${nl}event: message${nl}data: {"jsonrpc":"2.0","method":"notifications/progress"}${nl}${nl}id: 9${nl}data: ${response}${nl}${nl}`;
    let expected: string | null = null;
    for (let cut = 0; cut <= stream.length; cut += 7) {
      const out: Buffer[] = [];
      const t = new SseRewrite(1 << 20, '4', dropX, (b) => out.push(b));
      t.push(Buffer.from(stream.slice(0, cut)));
      t.push(Buffer.from(stream.slice(cut)));
      out.push(t.finish()!);
      const text = Buffer.concat(out).toString();
      expected ??= text;
      assert.is(text, expected, `cut at ${cut}`);
    }
    assert.ok(expected!.startsWith(`: comment${nl}${nl}event: message${nl}data: {"jsonrpc":"2.0","method":"notifications/progress"}${nl}${nl}`), JSON.stringify(expected));
    assert.ok(expected!.endsWith('id: 9\ndata: {"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"y"}]}}\n\n'), JSON.stringify(expected));
  }
});

rewrite('SseRewrite fails closed on an event over the limit', () => {
  const t = new SseRewrite(64, '4', dropX, () => {});
  t.push(Buffer.from(`data: ${'x'.repeat(100)}`));
  assert.ok(t.failed !== null);
  assert.is(t.finish(), null);
});

strict.run();
gate.run();
rewrite.run();
