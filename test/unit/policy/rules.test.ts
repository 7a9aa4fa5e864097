// Rule files: validation (one line naming the rule and field), and matching (first match
// wins; method, tool, client CIDR, MCP session and direction; hide's implicit block).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ClientCall } from '../../../dist/mcp/message.js';
import { compileRules, glob, loadRuleFile } from '../../../dist/policy/rules.js';

const valid = suite('rule validation');

const errorOf = (doc: unknown): string => {
  try {
    compileRules(doc, 'test.yaml');
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
};

valid('each problem names the rule and field', () => {
  const cases: Array<[unknown, RegExp]> = [
    [[], /expected an object with a rules list/],
    [{ rules: {} }, /rules: expected a list/],
    [{ rules: [], extra: 1 }, /unknown key 'extra'/],
    [{ rules: [{ name: 'a', action: 'nope' }] }, /rule 1 \(a\): action: expected one of allow, block, hide, mock, delay/],
    [{ rules: [{ name: 'a', action: 'block' }, { name: 'a', action: 'block' }] }, /rule 2 \(a\): name: used by an earlier rule/],
    [{ rules: [{ name: 'bad name', action: 'block' }] }, /rule 1 \(bad name\): name: expected/],
    [{ rules: [{ name: 'a', action: 'block', match: { tool: 3 } }] }, /rule 1 \(a\): match.tool: expected a non-empty string/],
    [{ rules: [{ name: 'a', action: 'block', match: { client: '10.0.0.0/40' } }] }, /match.client: '10.0.0.0\/40' has a bad prefix length/],
    [{ rules: [{ name: 'a', action: 'block', match: { client: 'example.com' } }] }, /match.client: 'example.com' is not an IP or CIDR/],
    [{ rules: [{ name: 'a', action: 'block', match: { colour: 'red' } }] }, /match.colour: unknown field/],
    [{ rules: [{ name: 'a', action: 'block', match: { direction: 'up' } }] }, /match.direction: expected request or notification/],
    [{ rules: [{ name: 'a', action: 'hide', match: { method: 'tools/call' }, names: ['x'] }] }, /match.method: hide needs one of tools\/list/],
    [{ rules: [{ name: 'a', action: 'hide', match: { method: 'tools/list' } }] }, /names: expected a list of names or globs/],
    [{ rules: [{ name: 'a', action: 'mock', result: 'sunny' }] }, /result: expected an object/],
    [{ rules: [{ name: 'a', action: 'delay', ms: 1.5 }] }, /ms: expected whole milliseconds/],
    [{ rules: [{ name: 'a', action: 'block', ms: 5 }] }, /rule 1 \(a\): ms: only for action delay/],
    [{ rules: [{ name: 'a', action: 'block', colour: 'red' }] }, /rule 1 \(a\): colour: unknown field/],
  ];
  for (const [doc, re] of cases) assert.match(errorOf(doc), re, JSON.stringify(doc));
});

valid('a method no MCP message carries is a load error naming the nearest method, unless the rule says custom: true', () => {
  assert.match(errorOf({ rules: [{ name: 'sum', action: 'block', match: { method: 'tools/cal', tool: 'get-sum' } }] }),
    /^policy test.yaml: rule 1 \(sum\): match.method: 'tools\/cal' is no MCP method \(nearest: tools\/call\); a server's own method needs custom: true$/);
  assert.match(errorOf({ rules: [{ name: 'a', action: 'block', match: { method: 'resource/read' } }] }), /nearest: resources\/read/);
  assert.match(errorOf({ rules: [{ name: 'a', action: 'block', match: { method: 'Tools/call' } }] }), /nearest: tools\/call/);
  assert.match(errorOf({ rules: [{ name: 'a', action: 'block', match: { method: 'tool/*' } }] }), /is no MCP method/);
  // A tool name on a method that carries none would never match either.
  assert.match(errorOf({ rules: [{ name: 'a', action: 'block', match: { method: 'tools/list', tool: 'x' } }] }), /match.tool: 'tools\/list' carries no tool name/);
  assert.match(errorOf({ rules: [{ name: 'a', action: 'block', custom: 'yes', match: { method: 'x' } }] }), /custom: expected true or false/);
  // Globs that match a known method, every revision's methods, and custom methods load.
  for (const method of ['tools/call', 'tools/*', '*', 'notifications/*', 'resources/?ead', 'tasks/get', 'elicitation/create', 'notifications/elicitation/complete']) {
    assert.is(errorOf({ rules: [{ name: 'a', action: 'block', match: { method } }] }), 'no error', method);
  }
  assert.is(errorOf({ rules: [{ name: 'a', action: 'block', match: { method: '*/call', tool: 'x' } }] }), 'no error');
  assert.is(errorOf({ rules: [{ name: 'a', action: 'block', custom: true, match: { method: 'acme/deploy', tool: 'prod' } }] }), 'no error');
});

valid('files by extension; YAML with a repeated key is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rules-'));
  try {
    writeFileSync(join(dir, 'a.yml'), 'rules:\n  - name: a\n    action: block\n');
    assert.is(loadRuleFile(join(dir, 'a.yml')).set.rules.length, 1);
    writeFileSync(join(dir, 'b.yaml'), 'rules: []\nrules: []\n');
    assert.throws(() => loadRuleFile(join(dir, 'b.yaml')), /not valid YAML/);
    writeFileSync(join(dir, 'c.txt'), '{}');
    assert.throws(() => loadRuleFile(join(dir, 'c.txt')), /expected a .json, .yaml or .yml file/);
    writeFileSync(join(dir, 'd.json'), '{"rules": [');
    assert.throws(() => loadRuleFile(join(dir, 'd.json')), /not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const match = suite('rule matching');

function call(rawMethod: string, name: string | null = null, extra: Partial<ClientCall> = {}): ClientCall {
  return {
    subject: null, claims: null, from: 'client', proxySession: 'p', mcpSession: 'sess-1', kind: 'request', method: rawMethod, rawMethod, hasId: true, id: '1', name,
    bytes: Buffer.alloc(0), clientIp: '127.0.0.1', onGetStream: false, http: null, log: () => { throw new Error('no log'); }, ...extra,
  } as ClientCall;
}

const set = compileRules({
  rules: [
    { name: 'lan-only', match: { method: 'tools/call', tool: 'admin_*', client: ['10.0.0.0/8', '::1'] }, action: 'allow' },
    { name: 'no-admin', match: { method: 'tools/call', tool: 'admin_*' }, action: 'block' },
    { name: 'hide', match: { method: 'tools/list' }, action: 'hide', names: ['secret?'] },
    { name: 'one-session', match: { method: 'prompts/*', mcpSessionId: 'sess-9*' }, action: 'block' },
    { name: 'quiet', match: { method: 'notifications/*', direction: 'notification' }, action: 'block' },
  ],
}, 'test');

const ruleOf = (c: ClientCall): string | null => {
  const m = set.match(c);
  return m === null ? null : `${m.rule.name}${m.hiddenCall ? ' (hidden)' : ''}`;
};

match('first match wins; client CIDRs, IPv4-mapped addresses and IPv6', () => {
  assert.is(ruleOf(call('tools/call', 'admin_drop', { clientIp: '10.1.2.3' })), 'lan-only');
  assert.is(ruleOf(call('tools/call', 'admin_drop', { clientIp: '::ffff:10.1.2.3' })), 'lan-only');
  assert.is(ruleOf(call('tools/call', 'admin_drop', { clientIp: '::1' })), 'lan-only');
  assert.is(ruleOf(call('tools/call', 'admin_drop', { clientIp: '192.168.0.1' })), 'no-admin');
  assert.is(ruleOf(call('tools/call', 'echo')), null);
  assert.is(ruleOf(call('tools/call', null)), null);
});

match('hide rewrites its list and blocks calls to what it hides', () => {
  assert.is(ruleOf(call('tools/list')), 'hide');
  assert.is(ruleOf(call('tools/call', 'secret1')), 'hide (hidden)');
  assert.is(ruleOf(call('tools/call', 'secret12')), null);
});

match('globs on method and MCP session; direction', () => {
  assert.is(ruleOf(call('prompts/get', 'p', { mcpSession: 'sess-99' })), 'one-session');
  assert.is(ruleOf(call('prompts/get', 'p', { mcpSession: 'sess-1' })), null);
  assert.is(ruleOf(call('prompts/get', 'p', { mcpSession: null })), null);
  assert.is(ruleOf(call('notifications/cancelled', null, { hasId: false, kind: 'notification' })), 'quiet');
  assert.is(ruleOf(call('notifications/cancelled', null, { hasId: true })), null);
  // A request rule still matches a call sent without an id (a server may run it anyway).
  assert.is(ruleOf(call('tools/call', 'admin_x', { hasId: false, clientIp: '8.8.8.8' })), 'no-admin');
});

match('subject: a glob on the caller\'s identity; a caller without one never matches (fails closed for a block on named callers only)', () => {
  const rules = compileRules({ rules: [{ name: 'no-guest-shell', match: { method: 'tools/call', tool: 'shell', subject: 'guest-*' }, action: 'block' }] }, 'test');
  assert.is(rules.match(call('tools/call', 'shell', { subject: 'guest-7' }))?.rule.name, 'no-guest-shell');
  assert.is(rules.match(call('tools/call', 'shell', { subject: 'alice' })), null);
  assert.is(rules.match(call('tools/call', 'shell', { subject: null })), null);
  assert.throws(() => compileRules({ rules: [{ name: 'x', match: { subject: '' }, action: 'block' }] }, 'test'), /match.subject/);
});

match('claims: each named claim equals one of the values (or is a list holding one); a caller without a token never matches', () => {
  const rules = compileRules({ rules: [{ name: 'guests', match: { method: 'tools/call', claims: { role: ['guest', 'visitor'], tier: 1 } }, action: 'block' }] }, 'test');
  const as = (claims: Record<string, unknown> | null): string | null => rules.match(call('tools/call', 'echo', { subject: 's', claims }))?.rule.name ?? null;
  assert.is(as({ role: 'guest', tier: 1 }), 'guests');
  assert.is(as({ role: ['reader', 'visitor'], tier: 1 }), 'guests');
  assert.is(as({ role: 'guest', tier: '1' }), null, 'exact values: "1" is not 1');
  assert.is(as({ role: 'staff', tier: 1 }), null);
  assert.is(as({ tier: 1 }), null, 'a missing claim does not match');
  assert.is(as(null), null);
  for (const bad of [{}, [], 'role', { role: {} }, { role: [] }, { role: [null] }]) {
    assert.throws(() => compileRules({ rules: [{ name: 'x', match: { claims: bad }, action: 'block' }] }, 'test'), /match.claims/);
  }
});

match('a name seen before is matched again on what rests on the caller; a flood of names changes no answer', () => {
  // Matches by method and name are remembered per name (bounded): the client, session and direction are tested every call.
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 3000; i++) {
      const tool = `admin_${i % 1500}`;
      assert.is(ruleOf(call('tools/call', tool, { clientIp: i % 2 === 0 ? '10.0.0.1' : '8.8.8.8' })), i % 2 === 0 ? 'lan-only' : 'no-admin', tool);
      assert.is(ruleOf(call('tools/call', `other_${i}`)), null);
    }
    assert.is(ruleOf(call('tools/call', 'secret1')), 'hide (hidden)');
    assert.is(ruleOf(call('prompts/get', 'p', { mcpSession: 'sess-99' })), 'one-session');
    assert.is(ruleOf(call('prompts/get', 'p', { mcpSession: 'sess-1' })), null);
    assert.is(ruleOf(call('notifications/cancelled', null, { hasId: true })), null);
    assert.is(ruleOf(call('notifications/cancelled', null, { hasId: false, kind: 'notification' })), 'quiet');
    // Names and methods too long to remember are matched all the same.
    const long = `admin_${'x'.repeat(5000)}`;
    assert.is(ruleOf(call('tools/call', long, { clientIp: '10.0.0.1' })), 'lan-only');
    assert.is(ruleOf(call('tools/call', long, { clientIp: '8.8.8.8' })), 'no-admin');
    assert.is(ruleOf(call(`notifications/${'y'.repeat(5000)}`, long, { hasId: false, kind: 'notification' })), 'quiet');
    assert.is(ruleOf(call(`prompts/${'z'.repeat(5000)}`, 'p', { mcpSession: 'sess-9' })), 'one-session');
  }
});

match('cares() names exactly the methods rules can match', () => {
  assert.ok(set.cares('tools/call'));
  assert.ok(set.cares('tools/list'));
  assert.ok(set.cares('prompts/get'));
  assert.ok(set.cares('notifications/cancelled'));
  assert.not.ok(set.cares('ping'));
  assert.not.ok(set.cares('initialize'));
  const all = compileRules({ rules: [{ name: 'any', match: { tool: 'x' }, action: 'block' }] }, 't');
  assert.ok(all.cares('ping'));
});

match('glob: * and ? only; other characters are literal', () => {
  assert.ok(glob('a.b*')('a.bcd'));
  assert.not.ok(glob('a.b*')('axbcd'));
  assert.ok(glob('x?z')('xyz'));
  assert.not.ok(glob('x?z')('xyyz'));
  assert.ok(glob('(re)[x]+')('(re)[x]+'));
});

valid.run();
match.run();
