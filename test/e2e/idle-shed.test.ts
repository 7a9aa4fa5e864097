// An idle keep-alive session sheds its exchange (observer, inspector, link, deadlines) a
// second after its last request and keeps only its session and socket; the next request
// gets a fresh one. Through real sockets: the same session carries on (its id, its
// counters, its MCP session with the official SDK client and server-everything), and a
// shed session still ends cleanly when its client leaves, on shutdown and on expiry.

import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEverythingHttp } from '../helpers/everything.js';
import { adminGet, proxyFor, until, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/raw-client.js';
import { sdkHttpClient } from '../helpers/sdk.js';
import { startHttpUpstream, type TestServer } from '../helpers/upstreams.js';

const shed = suite('idle sessions shed their exchange');
let proxy: TestProxy | null = null;
let up: TestServer | null = null;
shed.after.each(async () => {
  await proxy?.close();
  proxy = null;
  await up?.close();
  up = null;
});

const POST = (body: string): string => `POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

/** shadowcat_sessions_shed_total from the admin port. */
async function shedCount(p: TestProxy): Promise<number> {
  const text = await adminGet(p.adminPort!, '/metrics');
  return Number(/^shadowcat_sessions_shed_total (\d+)/m.exec(text)?.[1] ?? 0);
}

interface SessionView { id: string; requests: number; mcpSessionId: string | null; lastActivityAt: string }

async function sessions(p: TestProxy): Promise<SessionView[]> {
  return JSON.parse(await adminGet(p.adminPort!, '/sessions')) as SessionView[];
}

const echoUpstream = (): Promise<TestServer> => startHttpUpstream((req, res) => {
  let body = '';
  req.on('data', (d: Buffer) => (body += d.toString()));
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
});

shed('with --upstream-pool: shed after a request, woken by the next on the same connection, the same session throughout; the client leaving ends it', async () => {
  up = await echoUpstream();
  proxy = await proxyFor(up, { upstreamPool: 2, adminPort: 0 });
  const c = await RawClient.connect(proxy.port);
  c.write(POST('{"jsonrpc":"2.0","id":1,"method":"ping"}'));
  let r = await c.readResponse();
  assert.is(r.status, 200);
  assert.is(r.body.toString(), '{"jsonrpc":"2.0","id":1,"method":"ping"}');
  await until(async () => (await shedCount(proxy!)) === 1, 10_000, 'the idle session to shed');
  const [before] = await sessions(proxy);
  assert.is(before!.requests, 1);
  // Woken by the first half of a head (the session marks the bytes as activity); the rest
  // goes to the fresh exchange's parser.
  c.write('POST /mcp HTTP/1.1\r\nHost: loc');
  await until(async () => (await sessions(proxy!))[0]!.lastActivityAt !== before!.lastActivityAt, 5000, 'the first half to be read');
  assert.is(await shedCount(proxy), 1);
  c.write(POST('{"jsonrpc":"2.0","id":2,"method":"ping"}').slice('POST /mcp HTTP/1.1\r\nHost: loc'.length));
  r = await c.readResponse();
  assert.is(r.status, 200);
  assert.is(r.body.toString(), '{"jsonrpc":"2.0","id":2,"method":"ping"}');
  const [after] = await sessions(proxy);
  assert.is(after!.id, before!.id);
  assert.is(after!.requests, 2);
  await until(async () => (await shedCount(proxy!)) === 2, 10_000, 'the session to shed again');
  c.close();
  await until(async () => (await sessions(proxy!)).length === 0, 5000, 'the session to end with its client');
  assert.is(proxy.app.registry.size, 0);
});

shed('a session asking more often than the shedding delay, for longer than it, keeps its exchange', async () => {
  up = await echoUpstream();
  proxy = await proxyFor(up, { upstreamPool: 2, adminPort: 0 });
  const c = await RawClient.connect(proxy.port);
  // Requests 200 ms apart for 2.5 s: the delay counts from the latest request's end, so
  // nothing sheds. (A deadline counted from the first idle moment would shed mid-way.)
  const started = performance.now();
  let longestGap = 0;
  let answeredAt = performance.now();
  while (performance.now() - started < 2500) {
    await new Promise((r) => setTimeout(r, 200));
    longestGap = Math.max(longestGap, performance.now() - answeredAt);
    c.write(POST('{"jsonrpc":"2.0","id":1,"method":"ping"}'));
    assert.is((await c.readResponse()).status, 200);
    answeredAt = performance.now();
  }
  // A machine stalled for most of a second between two requests proves nothing either way.
  if (longestGap < 900) assert.is(await shedCount(proxy), 0);
  c.close();
});

shed('the official SDK client against server-everything: its MCP session goes on across a shed', async () => {
  const everything = await startEverythingHttp();
  try {
    proxy = await proxyFor({ url: everything.url }, { upstreamPool: 4, adminPort: 0 });
    const { client, transport, agent } = sdkHttpClient(`http://127.0.0.1:${proxy.port}/mcp`, 'shed');
    await client.connect(transport);
    const tools = (await client.listTools()).tools.length;
    assert.ok(tools > 5);
    await until(async () => (await shedCount(proxy!)) >= 1, 10_000, 'an idle connection of the client to shed');
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'after the shed' } });
    assert.match((echo.content as Array<{ text: string }>)[0]!.text, /after the shed/);
    assert.is((await client.listTools()).tools.length, tools);
    await transport.terminateSession();
    await client.close();
    await agent.close();
    await until(() => proxy!.app.registry.size === 0, 5000, 'the SDK client\'s sessions to end');
  } finally {
    await proxy?.close();
    proxy = null;
    await everything.close();
  }
});

shed('without the pool: the session\'s own upstream link is waited for, then the exchange is shed; the next request dials again', async () => {
  // Who ends the kept link: the upstream (its keep-alive timeout, past the shedding delay)
  // or the proxy (a FIN the upstream reads as 'end').
  let proxyClosedLink = false;
  up = await startHttpUpstream((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  }, (server: http.Server) => {
    server.keepAliveTimeout = 2500;
    server.on('connection', (socket: net.Socket) => socket.on('end', () => {
      proxyClosedLink = true;
    }));
  });
  proxy = await proxyFor(up, { adminPort: 0 });
  const c = await RawClient.connect(proxy.port);
  c.write(POST('{}'));
  assert.is((await c.readResponse()).status, 200);
  await until(() => up!.open() === 0, 10_000, 'the upstream to close its idle link');
  assert.not.ok(proxyClosedLink, 'the proxy let the kept upstream link go (shed while it was kept)');
  await until(async () => (await shedCount(proxy!)) === 1, 10_000, 'the session to shed once its link is gone');
  c.write(POST('{}'));
  assert.is((await c.readResponse()).status, 200);
  assert.is(up.accepted(), 2);
  c.close();
});

shed('shutdown closes shed sessions at once; so does --session-timeout', async () => {
  up = await echoUpstream();
  proxy = await proxyFor(up, { upstreamPool: 2, adminPort: 0, sessionTimeoutMs: 2500 });
  const expiring = await RawClient.connect(proxy.port);
  expiring.write(POST('{}'));
  assert.is((await expiring.readResponse()).status, 200);
  await until(async () => (await shedCount(proxy!)) === 1, 10_000, 'the first session to shed');
  await expiring.waitClosed(10_000);
  const text = await adminGet(proxy.adminPort!, '/metrics');
  assert.match(text, /^shadowcat_sessions_expired_total 1$/m);
  const c = await RawClient.connect(proxy.port);
  c.write(POST('{}'));
  assert.is((await c.readResponse()).status, 200);
  await until(async () => (await shedCount(proxy!)) === 2, 10_000, 'the second session to shed');
  const closing = proxy.close();
  await c.waitClosed(5000);
  await closing;
  proxy = null;
});

shed('single-session with a policy: the woken exchange holds the same rules; a malformed request after a wake gets its 400', async () => {
  up = await echoUpstream();
  const file = join(mkdtempSync(join(tmpdir(), 'shadowcat-shed-')), 'rules.yaml');
  writeFileSync(file, 'rules:\n  - name: no-danger\n    match: { method: tools/call, tool: danger }\n    action: block\n    message: not here\n');
  proxy = await proxyFor(up, { multiSession: false, policyFile: file, adminPort: 0 });
  const c = await RawClient.connect(proxy.port);
  const call = (id: number, tool: string): string => POST(`{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"${tool}","arguments":{}}}`);
  c.write(call(1, 'danger'));
  assert.match((await c.readResponse()).body.toString(), /not here/);
  await until(async () => (await shedCount(proxy!)) === 1, 10_000, 'the idle session to shed');
  c.write(call(2, 'danger'));
  assert.match((await c.readResponse()).body.toString(), /"id":2.*not here|not here.*"id":2/);
  c.write(call(3, 'fine'));
  const passed = await c.readResponse();
  assert.is(passed.status, 200);
  assert.match(passed.body.toString(), /"name":"fine"/);
  await until(async () => (await shedCount(proxy!)) === 2, 10_000, 'the session to shed again');
  c.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}');
  const bad = await c.readResponse();
  assert.is(bad.status, 400);
  assert.match(bad.body.toString(), /"jsonrpc":"2.0"/);
  await c.waitClosed(5000);
  await until(() => proxy!.app.registry.size === 0, 5000, 'the session to end');
});

shed.run();
