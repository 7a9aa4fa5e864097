// A client that drops a response stream aborts it upstream at once (SPEC "forward http"),
// in both session modes: the upstream sees its stream end, and an MCP server that allows
// one GET stream per session takes the client's reconnect.

import type http from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEverythingHttp, type Everything } from '../helpers/everything.js';
import { startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/raw-client.js';
import { startHttpUpstream, type TestServer } from '../helpers/upstreams.js';

const abort = suite('a client dropping its stream');
let proxy: TestProxy | null = null;
let up: TestServer | null = null;
let everything: Everything | null = null;

abort.after.each(async () => {
  await proxy?.close();
  await up?.close();
  proxy = null;
  up = null;
});
abort.after(async () => {
  await everything?.close();
});

for (const multiSession of [false, true]) {
  const mode = multiSession ? 'multi-session' : 'single-session';

  abort(`${mode}: FIN or reset mid-stream closes the upstream stream, with no further upstream write needed`, async () => {
    const ended: string[] = [];
    up = await startHttpUpstream((req, res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      // Nothing more is written: only the proxy closing its side can end this stream.
      res.on('close', () => ended.push(String(req.headers['x-which'])));
    });
    proxy = await startProxy({ mode: 'http', multiSession, upstreamUrl: new URL(up.url) });
    for (const how of ['fin', 'reset']) {
      const c = await RawClient.connect(proxy.port);
      c.write(`GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nX-Which: ${how}\r\n\r\n`);
      const res = await c.readResponse({ head: true });
      assert.is(res.status, 200);
      await until(() => c.buffered.includes(': open'), 5000, 'first event');
      if (how === 'fin') c.socket.end();
      else c.socket.resetAndDestroy();
      await until(() => ended.includes(how), 5000, `upstream stream closed after the client's ${how}`);
    }
    await until(() => proxy!.app.registry.size === 0, 5000, 'sessions gone');
  });

  abort(`${mode}: server-everything takes the reconnect of a dropped GET stream (no 409)`, async () => {
    everything ??= await startEverythingHttp();
    proxy = await startProxy({ mode: 'http', multiSession, upstreamUrl: new URL(everything.url) });
    const init = await RawClient.connect(proxy.port);
    const body = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}';
    init.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const head = await init.readResponse({ head: true });
    const sid = head.headers['mcp-session-id'];
    assert.ok(sid, 'session id');
    init.close();
    const note = '{"jsonrpc":"2.0","method":"notifications/initialized"}';
    const n = await RawClient.connect(proxy.port);
    n.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Session-Id: ${sid}\r\nMcp-Protocol-Version: 2025-06-18\r\nContent-Length: ${note.length}\r\n\r\n${note}`);
    assert.is((await n.readResponse()).status, 202);
    n.close();
    const get = `GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${sid}\r\nMcp-Protocol-Version: 2025-06-18\r\n\r\n`;
    const first = await RawClient.connect(proxy.port);
    first.write(get);
    assert.is((await first.readResponse({ head: true })).status, 200);
    first.socket.end(); // what a killed client sends
    // The server frees its one GET stream once it sees the close: a retry may come first.
    let status = 0;
    await until(async () => {
      const again = await RawClient.connect(proxy!.port);
      again.write(get);
      status = (await again.readResponse({ head: true })).status;
      again.close();
      return status === 200;
    }, 5000, 'a reconnected GET stream');
    assert.is(status, 200);
  });
}

abort.run();
