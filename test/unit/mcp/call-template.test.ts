import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CallTemplates } from '../../../dist/mcp/call-template.js';
import { CallEnvelope, ENVELOPE_OK, readCallEnvelope } from '../../../dist/mcp/envelope.js';
import { rng } from '../../helpers/seeded.js';

// A call equal to a kept one but for its id's digits and its arguments' value reads as the
// kept one did (mcp/call-template.ts). Whatever the bytes, what the policy gate decides on
// must be the strict read's: every call below is read both ways and compared.

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

const CALLS = [
  // The TypeScript SDK's member order: method and params first, then jsonrpc and id.
  '{"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}},"jsonrpc":"2.0","id":3}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}',
  '{ "jsonrpc": "2.0", "id": 17, "method": "tools/call", "params": { "name": "add", "arguments": { "a": 1, "b": [2, 3] } } }\n',
  '{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"file:///a/b.txt"}}',
  '{"jsonrpc":"2.0","id":6,"method":"tools/list","params":{}}',
  '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  '{"jsonrpc":"2.0","id":"abc","method":"tools/call","params":{"name":"echo","arguments":{"m":"x"}}}',
  '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"arguments":"just text","name":"echo","_meta":{"progressToken":8}}}',
  '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":7,"arguments":{}}}',
  '{"jsonrpc":"2.0","id":10,"method":"x/custom","params":{"name":"n","arguments":{"s":"a\\"b\\\\c","u":"\u00e9"}}}',
];

/** The fields a strict read gives the gate. */
function fields(env: CallEnvelope): unknown[] {
  return [env.method, env.hasId, env.id, env.name, env.uri, env.oddName, env.hasResult, env.hasError];
}

/** Reads `body` both ways; returns whether the kept call read it. */
function same(kept: CallTemplates, body: Buffer, what: string): boolean {
  const fast = new CallEnvelope();
  if (!kept.read(body, fast)) return false;
  const strict = new CallEnvelope();
  assert.is(readCallEnvelope(body, 0, body.length, strict), ENVELOPE_OK, `${what}: read by a kept call, not whole to the strict read`);
  assert.equal(fields(fast), fields(strict), what);
  return true;
}

/** The call with another id (other digits, another count of them) and other arguments. */
function repeat(base: string, r: number): string {
  return base.replace(/"id": ?\d+/, (m) => m.replace(/\d+/, String((r * 7919) % 10 ** (1 + (r % 6)))))
    .replace('"id":"abc"', `"id":"abc${r}"`)
    .replace(/"message":"[^"]*"/, `"message":"${'x'.repeat(r % 40)}${r}"`)
    .replace(/"a": 1/, `"a": ${r}`);
}

/** A copy of `body` with a few bytes changed, anywhere: digits, quotes, braces, blanks, backslashes, high bytes. */
function mutant(body: Buffer, next: () => number): Buffer {
  const m = Buffer.from(body);
  const changes = 1 + Math.floor(next() * 3);
  for (let c = 0; c < changes; c++) {
    const at = Math.floor(next() * m.length);
    const pick = next();
    m[at] = pick < 0.3 ? 0x30 + Math.floor(next() * 10) : pick < 0.4 ? 0x22 : pick < 0.5 ? [0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a][Math.floor(next() * 6)]!
      : pick < 0.6 ? [0x20, 0x09, 0x0a, 0x0d][Math.floor(next() * 4)]! : pick < 0.7 ? 0x5c : pick < 0.8 ? 0x2d : pick < 0.9 ? 0x41 + Math.floor(next() * 58) : 0x80 + Math.floor(next() * 0x80);
  }
  // Sometimes bytes go in or out, so what follows the change moves.
  if (next() < 0.2) {
    const at = Math.floor(next() * m.length);
    return next() < 0.5 ? Buffer.concat([m.subarray(0, at), b('0'), m.subarray(at)]) : Buffer.concat([m.subarray(0, at), m.subarray(at + 1)]);
  }
  return m;
}

const t = suite('kept calls');

for (const [i, call] of CALLS.entries()) {
  t(`call ${i}: read as the strict read reads it`, () => {
    const kept = new CallTemplates();
    const env = new CallEnvelope();
    const base = b(call);
    assert.is(readCallEnvelope(base, 0, base.length, env), ENVELOPE_OK);
    kept.learn(base, env);
    const keepable = !call.includes('"id":"abc"');
    let hits = 0;
    for (let r = 0; r < 200; r++) if (same(kept, b(repeat(call, r)), `repeat ${r}: ${repeat(call, r)}`)) hits++;
    assert.is(hits, keepable ? 200 : 0, keepable ? 'every repeat is read by the kept call' : 'another string id is read strictly');
    const next = rng(0xca11 + i);
    for (let n = 0; n < 3000; n++) {
      const m = mutant(base, next);
      same(kept, m, `mutant ${n} (seed ${i}): ${JSON.stringify(m.toString('latin1'))}`);
    }
  });
}

t('a duplicate member, or a second arguments, is not read by a kept call', () => {
  const kept = new CallTemplates();
  const env = new CallEnvelope();
  const base = b(CALLS[1]!);
  readCallEnvelope(base, 0, base.length, env);
  kept.learn(base, env);
  const dup = b('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"},"name":"rm"}}');
  assert.not.ok(kept.read(dup, new CallEnvelope()));
  const twice = b('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{},"arguments":{}}}');
  readCallEnvelope(twice, 0, twice.length, env);
  assert.is(env.argsCount, 2);
  const k2 = new CallTemplates();
  k2.learn(twice, env);
  assert.not.ok(k2.read(twice, new CallEnvelope()), 'not kept');
});

t('four calls are kept; a fifth waits for misses in a row, then takes the least recently read', () => {
  const kept = new CallTemplates();
  const env = new CallEnvelope();
  const tool = (name: string, id: number): Buffer => b(`{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"${name}","arguments":{}}}`);
  const learn = (body: Buffer): void => {
    if (kept.read(body, env)) return;
    readCallEnvelope(body, 0, body.length, env);
    kept.learn(body, env);
  };
  for (const name of ['a', 'b', 'c', 'd']) learn(tool(name, 1));
  for (const name of ['a', 'b', 'c', 'd']) assert.ok(kept.read(tool(name, 2), env), name);
  for (let k = 0; k < 7; k++) learn(tool('e', k));
  assert.not.ok(kept.read(tool('e', 1), env), 'kept only after 8 misses in a row');
  learn(tool('e', 8));
  assert.ok(kept.read(tool('e', 9), env));
  // 'a' was read least recently of the four: it gave way.
  assert.not.ok(kept.read(tool('a', 9), env));
  for (const name of ['b', 'c', 'd']) assert.ok(kept.read(tool(name, 3), env), name);
});

t.run();
