// The replay book: which recorded answer a request gets, with what before it.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CallBook, canonical, paramsKey } from '../../../dist/tape/book.js';
import type { LoadedTape, TapeEntry, TapeMeta } from '../../../dist/tape/format.js';
import { Cursors, replyTo } from '../../../dist/tape/replay.js';

const META: TapeMeta = {
  tape: 1, shadowcat: 't', mode: 'http multi-session', upstream: 'u', client: 'c', proxySession: 'p', mcpSessionId: 's', protocolVersion: '2025-06-18', startedAt: 'now',
};

function tape(entries: TapeEntry[], file = 'a.jsonl'): LoadedTape {
  return { file, meta: META, entries, end: null, unreadable: 0 };
}

const post = (exchange: number, extra: Record<string, unknown> = {}) => ({ exchange, method: 'POST', path: '/mcp', ...extra });
const req = (t: number, x: number, id: number, method: string, params: unknown): TapeEntry => ({ t, dir: 'in', http: post(x), msg: { jsonrpc: '2.0', id, method, params } });
const res = (t: number, x: number, id: number, result: unknown, sse = false): TapeEntry => ({
  t, dir: 'out', http: post(x, { status: 200, 'content-type': sse ? 'text/event-stream' : 'application/json' }), msg: { jsonrpc: '2.0', id, result },
});

const HANDSHAKE: TapeEntry[] = [
  req(0, 1, 0, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } }),
  { t: 2, dir: 'out', http: post(1, { status: 200, 'content-type': 'application/json', 'mcp-session-id': 'S' }), msg: { jsonrpc: '2.0', id: 0, result: { protocolVersion: '2025-06-18', capabilities: {} } } },
];

const book = suite('CallBook and replyTo');

book('params match in any key order, _meta aside; the client\'s id is put on the answer', () => {
  const b = new CallBook([tape([...HANDSHAKE, req(10, 2, 1, 'tools/call', { name: 'echo', arguments: { a: 1, b: 2 }, _meta: { progressToken: 1 } }), res(12, 2, 1, { content: 'x' })])]);
  assert.is(b.size, 1);
  assert.is(b.sessions.length, 1);
  assert.ok(b.sessions[0]!.stateful);
  const r = replyTo(b, new Cursors(), { jsonrpc: '2.0', id: 'abc', method: 'tools/call', params: { arguments: { b: 2, a: 1 }, name: 'echo' } }, null);
  assert.equal(r.messages.map((m) => m.msg), [{ jsonrpc: '2.0', id: 'abc', result: { content: 'x' } }]);
  assert.is(r.messages[0]!.at, 2);
  assert.is(paramsKey({ b: 1, a: { d: 1, c: 2 }, _meta: { x: 1 } }), canonical({ a: { c: 2, d: 1 }, b: 1 }));
});

book('a call recorded twice is answered in recorded order, then the last repeats; each client session starts over', () => {
  const b = new CallBook([tape([...HANDSHAKE, req(10, 2, 1, 'ping', {}), res(11, 2, 1, { n: 1 }), req(20, 3, 2, 'ping', {}), res(21, 3, 2, { n: 2 })])]);
  const c = new Cursors();
  const n = () => (replyTo(b, c, { id: 9, method: 'ping', params: {} }, null).messages[0]!.msg.result as { n: number }).n;
  assert.equal([n(), n(), n()], [1, 2, 2]);
  assert.is((replyTo(b, new Cursors(), { id: 9, method: 'ping', params: {} }, null).messages[0]!.msg.result as { n: number }).n, 1);
});

book('an unrecorded call gets -32601 naming the closest recorded call: same method first, then the nearest method', () => {
  const b = new CallBook([tape([...HANDSHAKE,
    req(10, 2, 1, 'tools/call', { name: 'echo', arguments: { message: 'hello' } }), res(11, 2, 1, {}),
    req(12, 3, 2, 'tools/call', { name: 'add', arguments: { a: 1 } }), res(13, 3, 2, {}),
    req(14, 4, 3, 'resources/read', { uri: 'x://1' }), res(15, 4, 3, {})])]);
  const r = replyTo(b, new Cursors(), { id: 5, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hellp' } } }, null);
  const err = r.messages[0]!.msg.error as { code: number; data: { closest: { method: string; params: { name: string } } } };
  assert.is(err.code, -32601);
  assert.is(err.data.closest.params.name, 'echo');
  const r2 = replyTo(b, new Cursors(), { id: 6, method: 'resources/reads', params: {} }, null);
  assert.is((r2.messages[0]!.msg.error as { data: { closest: { method: string } } }).data.closest.method, 'resources/read');
  assert.is(r.messages[0]!.msg.id, 5);
});

book('notifications on the request\'s stream come first, at their delays, with the client\'s progress token (or not at all without one)', () => {
  const notif = (t: number, x: number, method: string, params: unknown, eid: string): TapeEntry => ({
    t, dir: 'out', http: post(x, { status: 200, 'content-type': 'text/event-stream', 'event-id': eid }), msg: { jsonrpc: '2.0', method, params },
  });
  const b = new CallBook([tape([...HANDSHAKE,
    req(100, 2, 7, 'tools/call', { name: 'long', _meta: { progressToken: 7 } }),
    notif(110, 2, 'notifications/progress', { progressToken: 7, progress: 1 }, 'e1'),
    // Another exchange's notification in between belongs to that exchange.
    notif(115, 9, 'notifications/message', { level: 'info' }, 'z'),
    notif(120, 2, 'notifications/message', { level: 'info', data: 'log' }, 'e2'),
    res(130, 2, 7, { done: true }, true)])]);
  const withToken = replyTo(b, new Cursors(), { id: 1, method: 'tools/call', params: { name: 'long', _meta: { progressToken: 'tok' } } }, null);
  assert.ok(withToken.stream);
  assert.equal(withToken.messages.map((m) => [m.at, m.eventId, m.msg.method ?? 'answer']), [[10, 'e1', 'notifications/progress'], [20, 'e2', 'notifications/message'], [30, null, 'answer']]);
  assert.is((withToken.messages[0]!.msg.params as { progressToken: unknown }).progressToken, 'tok');
  const without = replyTo(b, new Cursors(), { id: 1, method: 'tools/call', params: { name: 'long' } }, null);
  assert.equal(without.messages.map((m) => m.msg.method ?? 'answer'), ['notifications/message', 'answer']);
});

book('stdio tapes (no HTTP facts): a notification belongs to the request its progress token names, or to the only request open', () => {
  const b = new CallBook([tape([
    { t: 0, dir: 'in', msg: { jsonrpc: '2.0', id: 1, method: 'a', params: { _meta: { progressToken: 1 } } } },
    { t: 1, dir: 'in', msg: { jsonrpc: '2.0', id: 2, method: 'b', params: {} } },
    { t: 2, dir: 'out', msg: { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } } },
    { t: 3, dir: 'out', msg: { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info' } } },
    { t: 4, dir: 'out', msg: { jsonrpc: '2.0', id: 2, result: {} } },
    { t: 5, dir: 'out', msg: { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'debug' } } },
    { t: 6, dir: 'out', msg: { jsonrpc: '2.0', id: 1, result: {} } },
  ])]);
  const a = replyTo(b, new Cursors(), { id: 1, method: 'a', params: { _meta: { progressToken: 9 } } }, null);
  // The info message came while two requests were open: nobody's. The debug one while only a was.
  assert.equal(a.messages.map((m) => (m.msg.params as { level?: string; progressToken?: unknown } | undefined)?.level ?? (m.msg.params as { progressToken?: unknown } | undefined)?.progressToken ?? 'answer'), [9, 'debug', 'answer']);
  assert.is(replyTo(b, new Cursors(), { id: 2, method: 'b', params: {} }, null).messages.length, 1);
});

book('initialize: the handshake recorded for the same protocol version, else the first; a call never answered says so', () => {
  const other: TapeEntry[] = [
    req(0, 1, 0, 'initialize', { protocolVersion: '2025-11-25' }),
    { t: 1, dir: 'out', http: post(1, { status: 200, 'content-type': 'application/json' }), msg: { jsonrpc: '2.0', id: 0, result: { protocolVersion: '2025-11-25' } } },
    req(5, 2, 1, 'tools/list', {}),
  ];
  const b = new CallBook([tape(HANDSHAKE), tape(other, 'b.jsonl')]);
  assert.is(b.session('2025-11-25')!.protocolVersion, '2025-11-25');
  assert.not.ok(b.session('2025-11-25')!.stateful, 'no session id was issued');
  assert.is(b.session('1999-01-01')!.protocolVersion, '2025-06-18');
  const r = replyTo(b, new Cursors(), { id: 3, method: 'tools/list', params: {} }, null);
  assert.is((r.messages[0]!.msg.error as { code: number }).code, -32603);
});

book.run();
