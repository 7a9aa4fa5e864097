// Cooperative drain (SPEC "MCP-aware resilience"): on shutdown a GET event stream is ended
// at an event boundary after `retry: 1000`, so the client reconnects at once; a POST stream
// in flight is given the shutdown timeout to finish. Driven with raw sockets and the SDK
// client against server-everything, through the in-process app and through the CLI.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startCli } from '../helpers/cli.js';
import { startEverythingHttp, type Everything } from '../helpers/everything.js';
import { proxyFor, startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/raw-client.js';

const drain = suite('cooperative drain of event streams');
let everything: Everything;
let proxy: TestProxy | null = null;

drain.before(async () => {
  everything = await startEverythingHttp();
});
drain.after(async () => {
  await everything.close();
});
drain.after.each(async () => {
  await proxy?.close();
  proxy = null;
});

const INIT = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}';
const post = (body: string, session: string | null): string =>
  `POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n${session === null ? '' : `Mcp-Session-Id: ${session}\r\nMCP-Protocol-Version: 2025-06-18\r\n`}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

for (const multiSession of [true, false]) {
  drain(`${multiSession ? 'multi' : 'single'}-session: a GET stream ends with retry: 1000 at an event boundary, and the drain does not wait for it`, async () => {
    proxy = await startProxy({ mode: 'http', multiSession, upstreamUrl: new URL(everything.url) });
    const c = await RawClient.connect(proxy.port);
    c.write(post(INIT, null));
    const init = await c.readResponse();
    const session = init.headers['mcp-session-id']!;
    assert.type(session, 'string');
    c.write(post('{"jsonrpc":"2.0","method":"notifications/initialized"}', session));
    assert.is((await c.readResponse()).status, 202);
    const g = await RawClient.connect(proxy.port);
    g.write(`GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${session}\r\nMCP-Protocol-Version: 2025-06-18\r\n\r\n`);
    // The stream's head is in: it is open.
    await until(() => g.buffered.indexOf('\r\n\r\n') !== -1, 10_000, 'the stream head');
    const report = await proxy.app.close(60_000);
    assert.is(report.forced, 0, 'the GET stream was drained, not cut at the deadline');
    const res = await g.readResponse();
    assert.is(res.status, 200);
    assert.match(String(res.headers['content-type']), /text\/event-stream/);
    assert.match(res.body.toString(), /retry: 1000\n\n$/, JSON.stringify(res.body.toString()));
    await g.waitClosed(5000);
    c.close();
    g.close();
  });
}

drain('with the SDK client: its GET stream ends with retry, and a POST stream in flight completes', async () => {
  proxy = await proxyFor(everything);
  const client = new Client({ name: 'drain', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${proxy.port}/mcp`), {
    reconnectionOptions: { maxReconnectionDelay: 1000, initialReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1, maxRetries: 0 },
  });
  await client.connect(transport);
  // The call is in flight once its first progress notification is back.
  let progressed = false;
  const call = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 4 } }, undefined, {
    onprogress: () => {
      progressed = true;
    },
  });
  await until(() => progressed, 10_000, 'the first progress notification');
  const closing = proxy.app.close(60_000);
  const result = await call;
  assert.match((result.content as Array<{ text: string }>)[0]!.text, /Long running operation completed/);
  const report = await closing;
  assert.is(report.forced, 0);
  await client.close().catch(() => {});
});

drain('SIGTERM through the CLI with an SDK client connected: drained, not forced, exit 0', async () => {
  const p = startCli(['forward', 'http', '--port', '0', '--url', everything.url, '--multi-session', '--shutdown-timeout', '60']);
  const port = Number((await p.waitFor((l) => l.msg === 'listening')).port);
  const client = new Client({ name: 'sigterm', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  await p.waitFor(() => p.lines.filter((x) => x.msg === 'session start').length >= 2);
  p.child.kill('SIGTERM');
  const drained = await p.waitFor((l) => l.msg === 'drained', 30_000);
  assert.is(drained.forced, 0);
  assert.is(await p.exited, 0);
  await client.close().catch(() => {});
});

drain.run();
