// The corridor's phase objects, without sockets: the policy hold, the response filter,
// retries (resend and session recovery) and the SSE drain.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readRequestHead, readResponseHead } from '../../../dist/http/head.js';
import { MessageGate } from '../../../dist/mcp/gate.js';
import { MessageHooks, type MessageDecider } from '../../../dist/mcp/message.js';
import { SessionRecovery } from '../../../dist/mcp/session-recovery.js';
import { Metrics } from '../../../dist/observe/metrics.js';
import { PolicyHold } from '../../../dist/proxy/policy-hold.js';
import { RequestRetry } from '../../../dist/proxy/request-retry.js';
import { FILTER_JSON, FILTER_NONE, FILTER_SSE, ResponseFilter } from '../../../dist/proxy/response-filter.js';
import { atSseBoundary, StreamDrain } from '../../../dist/proxy/stream-drain.js';

const req = (text: string) => readRequestHead(Buffer.from(text.replace(/\n/g, '\r\n') + '\r\n'));
const res = (text: string) => readResponseHead(Buffer.from(text.replace(/\n/g, '\r\n') + '\r\n'));
const post = (length: number, extra = '') => req(`POST /mcp HTTP/1.1\nHost: localhost\nContent-Type: application/json\nContent-Length: ${length}\n${extra}`);
const ctx = { proxySession: 'p', mcpSession: null, clientIp: '127.0.0.1', subject: null, claims: null, log: () => { throw new Error('no logs here'); } };

/** Blocks tools/call "bad", delays "slow", hides from tools/list. */
function gate(): MessageGate {
  const decider: MessageDecider = {
    cares: (m) => m === 'tools/call' || m === 'tools/list',
    decide: (call) => {
      if (call.rawMethod === 'tools/list') return { type: 'rewrite', rewrite: (r) => ({ ...r, tools: [] }) };
      if (call.name === 'slow') return { type: 'delay', ms: 5 };
      return call.name === 'bad' ? { type: 'answer', member: 'error', json: '{"code":-32001,"message":"no"}' } : null;
    },
  };
  return new MessageGate(new MessageHooks([], [decider]));
}
const call = (name: string) => Buffer.from(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"${name}"}}`);

const hold = suite('PolicyHold');

hold('refused from the head: an upgrade, a coded body, a body past --inspect-limit; a bodyless request is not held', () => {
  const h = new PolicyHold(gate(), 100);
  assert.match(String(h.begin(req('GET /mcp HTTP/1.1\nHost: localhost\nConnection: upgrade\nUpgrade: websocket\n'))), /upgrade/);
  assert.is(h.begin(post(10, 'Content-Encoding: gzip\n'))?.code, 'POLICY_UNREADABLE');
  assert.is(h.begin(post(101))?.code, 'POLICY_TOO_LARGE');
  assert.is(h.begin(req('GET /mcp HTTP/1.1\nHost: localhost\n')), null);
  assert.not.ok(h.holds);
  assert.is(h.begin(post(50)), null);
  assert.ok(h.holds);
});

hold('a body that came whole is judged at once: forward and rewrite let it go, an answer keeps it held', () => {
  const h = new PolicyHold(gate(), 1000);
  const ok = call('fine');
  h.begin(post(ok.length));
  assert.is(h.judgeEarly(ok, ctx)?.type, 'forward');
  assert.not.ok(h.holds);
  const list = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/list"}');
  h.begin(post(list.length));
  const j = h.judgeEarly(list, ctx);
  assert.is(j?.type, 'rewrite');
  const bad = call('bad');
  h.begin(post(bad.length));
  assert.is(h.judgeEarly(bad, ctx), null);
  assert.ok(h.holds);
  h.push(bad);
  const answer = h.judge(ctx);
  assert.is(answer.type, 'answer');
  assert.match(answer.type === 'answer' ? String(answer.body) : '', /"id":7,"error":\{"code":-32001/);
  assert.not.ok(h.holds);
});

hold('a body in pieces is gathered and judged when complete; past the limit it is refused, never judged', () => {
  const h = new PolicyHold(gate(), 40);
  const slow = call('slow');
  h.begin(req('POST /mcp HTTP/1.1\nHost: localhost\nTransfer-Encoding: chunked\n'));
  assert.ok(h.holds);
  h.push(slow.subarray(0, 20));
  assert.is(h.overLimit(), null);
  h.push(slow.subarray(20));
  assert.is(h.overLimit()?.code, 'POLICY_TOO_LARGE');
  const g = new PolicyHold(gate(), 1000);
  g.begin(req('POST /mcp HTTP/1.1\nHost: localhost\nTransfer-Encoding: chunked\n'));
  g.push(slow.subarray(0, 20));
  g.push(slow.subarray(20));
  const j = g.judge(ctx);
  assert.equal(j, { type: 'delay', ms: 5 });
  g.begin(req('POST /mcp HTTP/1.1\nHost: localhost\nTransfer-Encoding: chunked\n'));
  g.push(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","name":"bad"}}'));
  assert.is(g.judge(ctx).type, 'refuse');
});

const filter = suite('ResponseFilter');
const hide = { type: 'rewrite' as const, rewrite: (r: Record<string, unknown>) => ({ ...r, tools: [] }) };

filter('a JSON answer is rewritten whole; other statuses and types pass as they are', () => {
  const out: Buffer[] = [];
  const f = new ResponseFilter(hide, '1', 1000, (b) => out.push(b));
  assert.is(f.start(res('HTTP/1.1 500 Oops\nContent-Type: application/json\nContent-Length: 2\n'), false), FILTER_NONE);
  assert.is(new ResponseFilter(hide, '1', 1000, (b) => out.push(b)).start(res('HTTP/1.1 200 OK\nContent-Type: text/plain\n'), false), FILTER_NONE);
  assert.is(f.start(res('HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: 60\n'), false), FILTER_JSON);
  f.push(Buffer.from('{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"}]'));
  f.push(Buffer.from('}}'));
  const body = f.finish();
  assert.equal(JSON.parse(String(body)), { jsonrpc: '2.0', id: 1, result: { tools: [] } });
  assert.is(out.length, 0);
});

filter('an event stream is rewritten event by event and re-framed as chunked (plain for HTTP/1.0)', () => {
  for (const http10 of [false, true]) {
    const out: Buffer[] = [];
    const f = new ResponseFilter(hide, '1', 1000, (b) => out.push(b));
    assert.is(f.start(res('HTTP/1.1 200 OK\nContent-Type: text/event-stream\n'), http10), FILTER_SSE);
    assert.is(f.framing, http10 ? '' : 'Transfer-Encoding: chunked\r\n');
    f.push(Buffer.from('event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"tools":[1]}}\n\n'));
    f.push(Buffer.from('data: {"jsonrpc":"2.0","method":"x"}\n\n'));
    const tail = f.finish()!;
    const all = Buffer.concat([...out, tail]).toString();
    assert.match(all, /"result":\{"tools":\[\]\}/);
    assert.match(all, /"method":"x"/);
    if (http10) assert.not.match(all, /0\r\n\r\n$/);
    else assert.ok(all.endsWith('0\r\n\r\n') && /^[0-9a-f]+\r\n/.test(all), all);
  }
});

filter('what cannot be read is a failure, never passed through', () => {
  const f = new ResponseFilter(hide, '1', 10, () => {});
  f.start(res('HTTP/1.1 200 OK\nContent-Type: application/json\n'), false);
  f.push(Buffer.from('{"jsonrpc":"2.0","id":1,"result":{}}'));
  assert.ok(f.failed !== null);
  assert.is(f.finish(), null);
  const g = new ResponseFilter(hide, '1', 1000, () => {});
  g.start(res('HTTP/1.1 200 OK\nContent-Type: application/json\n'), false);
  g.push(Buffer.from('{"jsonrpc":'));
  assert.is(g.finish(), null);
  assert.match(String(g.failed), /not valid JSON/);
});

const retry = suite('RequestRetry');

retry('only a bodyless idempotent request on a reused link is resent, and only once', () => {
  const r = new RequestRetry(null, 1000);
  const get = req('GET /mcp HTTP/1.1\nHost: localhost\n');
  r.begin(get, false);
  r.sentHead(get, Buffer.from('GET'));
  assert.not.ok(r.canResend());
  r.begin(get, true);
  r.sentHead(get, Buffer.from('GET'));
  assert.ok(r.canResend());
  assert.is(String(r.takeResend()), 'GET');
  assert.not.ok(r.canResend());
  const p = post(2);
  r.begin(p, true);
  r.sentHead(p, Buffer.from('POST'));
  assert.not.ok(r.canResend());
});

retry('recovery: learns a handshake, recognises a forgotten session, re-sends the copied body once', async () => {
  const posts: string[] = [];
  const recovery = new SessionRecovery(async (body, sid) => {
    posts.push(`${sid}:${String(body)}`);
    return { status: 200, sessionId: 'new' };
  }, new Metrics({ liveSessions: () => 0, liveBytes: () => ({ in: 0, out: 0 }) }));
  const r = new RequestRetry(recovery, 1000);
  const init = Buffer.from('{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}');
  const initReq = post(init.length);
  r.begin(initReq, false);
  r.copy(init);
  r.learn(initReq, res('HTTP/1.1 200 OK\nMcp-Session-Id: s1\nContent-Length: 0\n'), true);
  assert.ok(recovery.knows('s1'));
  const body = call('fine');
  const later = post(body.length, 'Mcp-Session-Id: s1\n');
  r.begin(later, true);
  r.copy(body);
  assert.not.ok(r.shouldRecover(later, 500, Buffer.alloc(0)));
  assert.not.ok(r.shouldRecover(later, 400, Buffer.from('{"error":{"message":"bad params"}}')));
  assert.ok(r.shouldRecover(later, 400, Buffer.from('{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: No valid session ID provided"},"id":null}')));
  assert.ok(r.shouldRecover(later, 404, Buffer.alloc(0)));
  assert.is(String(r.takeBody()), String(body));
  assert.not.ok(r.shouldRecover(later, 404, Buffer.alloc(0)), 'once per request');
  assert.is(await recovery.recover('s1', { info() {}, warn() {}, debug() {} } as never), 'new');
  assert.is(posts.length >= 1, true);
  const del = req('DELETE /mcp HTTP/1.1\nHost: localhost\nMcp-Session-Id: s1\n');
  r.begin(del, false);
  r.learn(del, res('HTTP/1.1 200 OK\nContent-Length: 0\n'), false);
  assert.not.ok(recovery.knows('s1'));
});

retry('a body past --inspect-limit is not copied, so it cannot be re-sent: no recovery', () => {
  const recovery = new SessionRecovery(async () => ({ status: 200, sessionId: 'x' }), new Metrics({ liveSessions: () => 0, liveBytes: () => ({ in: 0, out: 0 }) }));
  recovery.learnInit('s2', Buffer.from('{}'));
  const r = new RequestRetry(recovery, 8);
  const big = post(30, 'Mcp-Session-Id: s2\n');
  r.begin(big, false);
  r.copy(Buffer.alloc(30, 0x20));
  assert.not.ok(r.shouldRecover(big, 404, Buffer.alloc(0)));
});

const drain = suite('StreamDrain');

drain('boundaries: LF LF, CR CR, CRLF CRLF and LF CRLF; not mid-event', () => {
  const tail = (s: string) => [...Buffer.from(s).subarray(-4)].reduce((t, b) => ((t << 8) | b) >>> 0, 0);
  for (const end of ['x\n\n', 'x\r\r', 'x\r\n\r\n', 'x\n\r\n']) assert.ok(atSseBoundary(tail(end)), JSON.stringify(end));
  for (const end of ['data: x\n', 'data: x', 'x\r\n']) assert.not.ok(atSseBoundary(tail(end)), JSON.stringify(end));
  const d = new StreamDrain();
  d.begin(true);
  assert.ok(d.atBoundary, 'a stream that sent nothing stands at a boundary');
  d.track(Buffer.from('data: {"a":1}\n'));
  assert.not.ok(d.atBoundary);
  d.track(Buffer.from('\n'));
  assert.ok(d.atBoundary, 'the boundary may come in a chunk of its own');
});

drain('the last bytes follow the stream\'s framing; a length-delimited stream gets none', () => {
  const d = new StreamDrain();
  assert.is(String(d.lastBytes(true, false)), 'd\r\nretry: 1000\n\n\r\n0\r\n\r\n');
  assert.is(String(d.lastBytes(false, false)), 'retry: 1000\n\n');
  assert.is(d.lastBytes(false, true), null);
});

hold.run();
filter.run();
retry.run();
drain.run();
