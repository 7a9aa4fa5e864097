// The admin API, idle expiry and the session lifecycle, seen from outside.

import http from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient } from '../helpers/raw-client.js';
import { proxyFor, activeHandles, openFds, startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { readBody, startHttpUpstream, type TestServer } from '../helpers/upstreams.js';

let up: TestServer;
let proxy: TestProxy;

function admin(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; type: string; auth: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.adminPort!, method, path, agent: false, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, type: String(res.headers['content-type']), auth: res.headers['www-authenticate'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

const api = suite('admin API');
api.before.each(async () => {
  up = await startHttpUpstream(async (req, res) => {
    await readBody(req);
    res.setHeader('content-type', 'application/json');
    if (req.headers['x-init'] === '1') res.setHeader('mcp-session-id', 'mcp-abc');
    res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
  });
  proxy = await proxyFor(up, { adminPort: 0 });
});
api.after.each(async () => {
  await proxy.close();
  await up.close();
});

api('GET /healthz', async () => {
  const r = await admin('GET', '/healthz');
  assert.is(r.status, 200);
  assert.equal(JSON.parse(r.body), { status: 'ok' });
});

api('GET /policy without --policy is a 404 that says how to load one', async () => {
  const r = await admin('GET', '/policy');
  assert.is(r.status, 404);
  assert.match(r.body, /no policy loaded/);
});

api('GET /sessions, /sessions/:id and DELETE /sessions/:id', async () => {
  const openedAt = Date.now();
  const c = await RawClient.connect(proxy.port);
  c.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Init: 1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
  await c.readResponse();
  const list = JSON.parse((await admin('GET', '/sessions')).body) as Array<Record<string, unknown>>;
  assert.is(list.length, 1);
  const s = list[0]!;
  assert.equal(Object.keys(s).sort(), ['bytesIn', 'bytesOut', 'client', 'createdAt', 'id', 'lastActivityAt', 'mcpSessionId', 'requests', 'state'].sort());
  assert.match(String(s.id), /^[A-Za-z0-9_-]+$/);
  // The client's own address and port (read from the accepted socket's handle), and times
  // of this wall clock (kept as ms since the process's start).
  assert.is(s.client, `127.0.0.1:${c.socket.localPort}`);
  for (const at of [s.createdAt, s.lastActivityAt]) {
    const ms = Date.parse(String(at));
    assert.ok(ms >= openedAt - 1 && ms <= Date.now(), `${String(at)} is not within the test's run`);
  }
  assert.is(s.requests, 1);
  assert.is(s.mcpSessionId, 'mcp-abc');
  assert.is(s.state, 'open');
  assert.ok(Number(s.bytesIn) > 0 && Number(s.bytesOut) > 0);
  const one = await admin('GET', `/sessions/${String(s.id)}`);
  assert.is(one.status, 200);
  assert.is(JSON.parse(one.body).id, s.id);
  assert.is((await admin('DELETE', `/sessions/${String(s.id)}`)).status, 204);
  await c.waitClosed();
  assert.is((await admin('GET', `/sessions/${String(s.id)}`)).status, 404);
  assert.is((await admin('DELETE', `/sessions/${String(s.id)}`)).status, 404);
  assert.equal(JSON.parse((await admin('GET', '/sessions')).body), []);
});

api('GET /metrics has every metric SPEC names', async () => {
  const c = await RawClient.connect(proxy.port);
  c.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}');
  await c.readResponse();
  c.close();
  await until(() => proxy.app.registry.size === 0, 2000, 'session end');
  const r = await admin('GET', '/metrics');
  assert.is(r.status, 200);
  assert.match(r.type, /text\/plain/);
  for (const name of ['shadowcat_sessions_active 0', 'shadowcat_sessions_total 1', 'shadowcat_sessions_rejected_total',
    'shadowcat_sessions_expired_total 0', 'shadowcat_requests_total{status="200"} 1', 'shadowcat_bytes_total{direction="in"}',
    'shadowcat_bytes_total{direction="out"}', 'shadowcat_request_duration_seconds_bucket', 'shadowcat_request_duration_seconds_count 1',
    'shadowcat_upstream_errors_total']) {
    assert.ok(r.body.includes(name), `missing ${name}`);
  }
});

api('unknown routes are 404', async () => {
  assert.is((await admin('GET', '/nope')).status, 404);
});

const expiry = suite('idle expiry');
expiry.after.each(async () => {
  await proxy.close();
  await up.close();
});

expiry('an idle session disappears from GET /sessions after --session-timeout; an active one stays', async () => {
  up = await startHttpUpstream((_req, res) => res.end('ok'));
  proxy = await proxyFor(up, { adminPort: 0, sessionTimeoutMs: 400 });
  const idle = await RawClient.connect(proxy.port);
  const busy = await RawClient.connect(proxy.port);
  await until(() => proxy.app.registry.size === 2, 2000, 'two sessions');
  const deadline = Date.now() + 1200;
  while (Date.now() < deadline) {
    busy.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await busy.readResponse();
    await new Promise((r) => setTimeout(r, 100));
  }
  await idle.waitClosed(2000);
  const ids = (JSON.parse((await admin('GET', '/sessions')).body) as Array<{ id: string }>);
  assert.is(ids.length, 1);
  assert.not.ok(busy.ended);
  assert.match((await admin('GET', '/metrics')).body, /shadowcat_sessions_expired_total 1/);
  busy.close();
});

expiry('an SSE stream with no events still expires', async () => {
  up = await startHttpUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': open\n\n');
  });
  proxy = await proxyFor(up, { adminPort: 0, sessionTimeoutMs: 300 });
  const c = await RawClient.connect(proxy.port);
  c.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n');
  await until(() => c.buffered.includes(': open'), 2000, 'stream open');
  await c.waitClosed(3000);
  await until(() => up.open() === 0, 2000, 'upstream socket closed too');
  assert.is(proxy.app.registry.size, 0);
});

const lifecycle = suite('lifecycle');

lifecycle('2,000 sessions come and go: fds, handles and registry entries return to their level', async () => {
  up = await startHttpUpstream((_req, res) => res.end('ok'));
  proxy = await proxyFor(up, { adminPort: 0 });
  const run = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i += 20) {
      await Promise.all(Array.from({ length: Math.min(20, n - i) }, async () => {
        const c = await RawClient.connect(proxy.port);
        c.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
        await c.readResponse();
        await c.waitClosed();
        c.close();
      }));
    }
    await until(() => proxy.app.registry.size === 0 && up.open() === 0, 5000, 'all closed');
  };
  await run(10);
  const fds = await openFds();
  const handles = activeHandles().length;
  await run(2000);
  assert.is(proxy.app.registry.size, 0);
  assert.is(await openFds(), fds);
  assert.is(activeHandles().length, handles);
  assert.match(await proxy.app.metrics.render(), /shadowcat_sessions_total 2010/);
  await proxy.close();
  await up.close();
});

lifecycle('app.close() leaves no handle open', async () => {
  const before = activeHandles();
  up = await startHttpUpstream((_req, res) => res.end('ok'));
  proxy = await startProxy({ mode: 'http', multiSession: false, upstreamUrl: new URL(up.url), adminPort: 0 });
  const c = await RawClient.connect(proxy.port);
  c.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await c.readResponse();
  const stream = await RawClient.connect(proxy.port);
  await proxy.close();
  await c.waitClosed();
  await stream.waitClosed();
  c.close();
  stream.close();
  await up.close();
  await until(() => activeHandles().length <= before.length, 3000, `handles to close: ${activeHandles().join(',')}`);
});

const token = suite('admin token');
token.after.each(async () => {
  await proxy.close();
  await up.close();
});

token('with --admin-token every route needs Authorization: Bearer <token> (401 otherwise); sessions and metrics never show it', async () => {
  up = await startHttpUpstream((_req, res) => res.end('ok'));
  const secret = 's3cr3t-token-value';
  proxy = await proxyFor(up, { adminPort: 0, adminToken: secret });
  const c = await RawClient.connect(proxy.port);
  c.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await c.readResponse();
  const id = proxy.app.registry.list()[0]!.id;
  const wrong: Array<Record<string, string>> = [{}, { authorization: 'Bearer nope' }, { authorization: secret }, { authorization: `Basic ${secret}` }, { authorization: `Bearer ${secret}x` }];
  for (const [method, path] of [['GET', '/healthz'], ['GET', '/metrics'], ['GET', '/sessions'], ['GET', `/sessions/${id}`], ['DELETE', `/sessions/${id}`], ['GET', '/nope']]) {
    for (const headers of wrong) {
      const r = await admin(method!, path!, headers);
      assert.is(r.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
      assert.match(String(r.auth), /^Bearer/);
      assert.not.match(r.body, new RegExp(secret));
    }
  }
  assert.is(proxy.app.registry.size, 1, 'an unauthorised DELETE closed nothing');
  const ok = { authorization: `Bearer ${secret}` };
  assert.is((await admin('GET', '/healthz', ok)).status, 200);
  const sessions = await admin('GET', '/sessions', ok);
  assert.is(sessions.status, 200);
  const metrics = await admin('GET', '/metrics', ok);
  assert.is(metrics.status, 200);
  assert.not.match(sessions.body + metrics.body, new RegExp(secret));
  assert.is((await admin('DELETE', `/sessions/${id}`, ok)).status, 204);
  c.close();
});

api.run();
token.run();
expiry.run();
lifecycle.run();
