import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CallEnvelope, ENVELOPE_OK, inspectedId, readCallEnvelope } from '../../../dist/mcp/envelope.js';
import { MessageGate } from '../../../dist/mcp/gate.js';
import { McpMessageSink } from '../../../dist/mcp/inspector.js';
import { MessageHooks, type ClientCall, type McpMessage, type MessageDecider, type MessageObserver, type Verdict } from '../../../dist/mcp/message.js';
import { Metrics } from '../../../dist/observe/metrics.js';
import { rng } from '../../helpers/seeded.js';

// With a policy loaded, the gate's strict read of a forwarded body is offered to the sink,
// which then tells the observers what it read rather than reading the bytes again
// (mcp/inspector.ts offer). The observers (metrics, correlation, the recorder) must see the
// same message either way: every body below is told both ways and compared.

const shared = suite('the gate\'s read shared with the inspector');

/** What an observer sees of each message. */
class Seen implements MessageObserver {
  readonly told: string[] = [];
  onMessage(m: McpMessage): void {
    this.told.push(JSON.stringify([m.from, m.kind, m.method, m.id, m.name, m.bytes.toString('latin1')]));
  }
}

function sinkWith(seen: Seen): McpMessageSink {
  const metrics = new Metrics({ liveSessions: () => 0, liveBytes: () => ({ in: 0, out: 0 }) });
  return new McpMessageSink(new MessageHooks([seen], []), metrics, 1 << 20, false);
}

const origin = { proxySession: 'p1', mcpSession: 's1', clientIp: '127.0.0.1', onGetStream: false, http: null, log: () => { throw new Error('no log'); } };

const BODIES = [
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}',
  '{"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}},"jsonrpc":"2.0","id":3}',
  '{"jsonrpc":"2.0","id":"abc","method":"tools/list"}',
  '{"jsonrpc":"2.0","id":"a\\"b","method":"tools/list"}',
  '{"jsonrpc":"2.0","id":null,"method":"tools/list"}',
  '{"jsonrpc":"2.0","id":0,"method":"ping"}',
  '{"jsonrpc":"2.0","id":007,"method":"ping"}',
  '{"jsonrpc":"2.0","id":1.0,"method":"ping"}',
  '{"jsonrpc":"2.0","id":-1,"method":"ping"}',
  '{"jsonrpc":"2.0","id":-0,"method":"ping"}',
  '{"jsonrpc":"2.0","id":1e3,"method":"ping"}',
  '{"jsonrpc":"2.0","id":123456789012345,"method":"ping"}',
  '{"jsonrpc":"2.0","id":1234567890123456789,"method":"ping"}',
  '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1},"id":4}',
  '{"jsonrpc":"2.0","id":4,"method":"notifications/cancelled","params":{"requestId":1}}',
  '{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"file:///a/b.txt"}}',
  '{"jsonrpc":"2.0","id":6,"method":"x/custom","params":{}}',
  '{"jsonrpc":"2.0","id":7,"result":{}}',
  '{"jsonrpc":"2.0","id":8,"error":{"code":1,"message":"m"}}',
  '{ "jsonrpc" : "2.0" , "id" : 9 , "method" : "tools/call" , "params" : { "name" : "add" , "arguments" : { "a" : [1, 2] } } }\n',
];

/** A copy of `body` with one to three bytes changed to bytes JSON cares about. */
function mutant(body: string, next: () => number): Buffer {
  const m = Buffer.from(body);
  for (let c = 1 + Math.floor(next() * 3); c > 0; c--) {
    const at = Math.floor(next() * m.length);
    m[at] = [0x30, 0x31, 0x39, 0x22, 0x7b, 0x7d, 0x2c, 0x3a, 0x20, 0x5c, 0x2d, 0x2e, 0x65, 0x6e][Math.floor(next() * 14)]!;
  }
  return m;
}

/** Tells `body` to a sink on its own, and to another after the strict read was offered; returns whether it was offered. */
function compare(body: Buffer, what: string): boolean {
  const alone = new Seen();
  sinkWith(alone).body(body, 'client', origin);
  const offered = new Seen();
  const sink = sinkWith(offered);
  const env = new CallEnvelope();
  const ok = readCallEnvelope(body, 0, body.length, env) === ENVELOPE_OK;
  sink.offer(ok ? body : null, env);
  sink.body(body, 'client', origin);
  assert.equal(offered.told, alone.told, what);
  return ok && env.method !== null && inspectedId(env) !== undefined;
}

shared('each body is told the same, read again or offered', () => {
  let taken = 0;
  for (const b of BODIES) if (compare(Buffer.from(b), b)) taken++;
  // Not vacuous: most of them are taken from the offer.
  assert.ok(taken >= 10, `offered ${taken}`);
});

shared('bodies with bytes changed are told the same, read again or offered', () => {
  const next = rng(26);
  let taken = 0;
  for (let r = 0; r < 4000; r++) {
    const m = mutant(BODIES[r % BODIES.length]!, next);
    if (compare(m, m.toString('latin1'))) taken++;
  }
  assert.ok(taken > 200, `offered ${taken}`);
});

shared('ids the two reads write differently are not taken from the offer', () => {
  const idOf = (text: string): string | null | undefined => {
    const env = new CallEnvelope();
    assert.is(readCallEnvelope(Buffer.from(text), 0, text.length, env), ENVELOPE_OK, text);
    return inspectedId(env);
  };
  assert.is(idOf('{"id":12,"method":"ping"}'), '12');
  assert.is(idOf('{"id":"x","method":"ping"}'), '"x"');
  assert.is(idOf('{"id":null,"method":"ping"}'), null);
  assert.is(idOf('{"method":"ping"}'), null);
  for (const id of ['1.0', '-1', '1e3', '1234567890123456']) assert.is(idOf(`{"id":${id},"method":"ping"}`), undefined, id);
  assert.is(idOf('{"method":"notifications/progress","id":3}'), undefined);
  assert.is(idOf('{"id":3,"result":{}}'), undefined);
});

shared('an offer is used only by the very buffer read, once', () => {
  const seen = new Seen();
  const sink = sinkWith(seen);
  const body = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/list"}');
  const env = new CallEnvelope();
  readCallEnvelope(body, 0, body.length, env);
  sink.offer(body, env);
  // Another buffer (even with the same bytes changed after) is read on its own.
  const other = Buffer.from('{"jsonrpc":"2.0","id":2,"method":"ping"}');
  sink.body(other, 'client', origin);
  sink.body(body, 'client', origin);
  assert.equal(seen.told.map((t) => JSON.parse(t).slice(1, 4)), [['request', 'ping', '2'], ['request', 'tools/list', '1']]);
});

shared('through the gate: a judged body is told as the sink reads it', () => {
  const calls: string[] = [];
  const decider: MessageDecider = {
    cares: () => true,
    decide(call: ClientCall): Verdict {
      calls.push(call.rawMethod);
      return null;
    },
  };
  const seen = new Seen();
  const metrics = new Metrics({ liveSessions: () => 0, liveBytes: () => ({ in: 0, out: 0 }) });
  const hooks = new MessageHooks([seen], [decider]);
  const sink = new McpMessageSink(hooks, metrics, 1 << 20, false);
  const gate = new MessageGate(hooks, sink);
  const alone = new Seen();
  const plain = sinkWith(alone);
  const ctx = { proxySession: 'p1', mcpSession: null, clientIp: '127.0.0.1', subject: null, claims: null, log: origin.log };
  for (let r = 0; r < 3; r++) {
    for (const text of BODIES) {
      const body = Buffer.from(text.replace('"id":1,', `"id":${r + 1},`));
      if (gate.judge(body, ctx).type !== 'forward') continue;
      sink.body(body, 'client', origin);
      plain.body(body, 'client', origin);
    }
  }
  assert.ok(calls.length > 40);
  assert.equal(seen.told, alone.told);
});

shared.run();
