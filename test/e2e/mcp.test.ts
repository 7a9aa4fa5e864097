// MCP through shadowcat with real peers: the official SDK client against the official
// server-everything, over Streamable HTTP and over stdio.

import http from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { ChildProcess } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI } from '../helpers/cli.js';
import { EVERYTHING, startEverythingHttp, type Everything } from '../helpers/everything.js';
import { proxyFor, adminGet, startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/raw-client.js';
import { readBody, startHttpUpstream, type TestServer } from '../helpers/upstreams.js';
import { recordArrivals, sdkHttpClient as sdkClient } from '../helpers/sdk.js';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';

let everything: Everything;
let proxy: TestProxy;

function textOf(result: unknown): string {
  const content = (result as { content: Array<{ type: string; text: string }> }).content;
  return content.map((c) => c.text).join('');
}

const streamable = suite('Streamable HTTP with the SDK and server-everything');
streamable.before(async () => {
  everything = await startEverythingHttp();
});
streamable.after(async () => {
  await everything.close();
});
streamable.after.each(async () => {
  await proxy?.close();
});

streamable('five SDK clients at once through --multi-session stay isolated', async () => {
  proxy = await proxyFor(everything, { adminPort: 0 });
  const clients = [0, 1, 2, 3, 4].map((i) => sdkClient(`http://127.0.0.1:${proxy.port}/mcp`, `client-${i}`));
  await Promise.all(clients.map(({ client, transport }) => client.connect(transport)));
  const ids = clients.map(({ transport }) => transport.sessionId);
  assert.is(new Set(ids).size, 5);
  for (const id of ids) assert.type(id, 'string');
  const results = await Promise.all(clients.map(async ({ client }, i) => {
    const tools = await client.listTools();
    assert.ok(tools.tools.some((t) => t.name === 'echo'));
    return textOf(await client.callTool({ name: 'echo', arguments: { message: `hello from ${i}` } }));
  }));
  results.forEach((text, i) => assert.is(text, `Echo: hello from ${i}`));
  const sessions = JSON.parse(await adminGet(proxy.adminPort!, '/sessions')) as Array<{ mcpSessionId: string | null }>;
  const listed = new Set(sessions.map((s) => s.mcpSessionId));
  for (const id of ids) assert.ok(listed.has(id!), `MCP session ${id} not in /sessions`);
  // Every proxy session carries exactly one MCP session.
  for (const s of sessions) assert.ok(ids.includes(s.mcpSessionId ?? ''), `stray session ${JSON.stringify(s)}`);
  // The registry finds one MCP session's connections together (its POSTs and its GET stream).
  for (const id of ids) {
    const mine = JSON.parse(await adminGet(proxy.adminPort!, `/sessions?mcpSessionId=${id}`)) as Array<{ mcpSessionId: string }>;
    assert.ok(mine.length >= 1);
    for (const s of mine) assert.is(s.mcpSessionId, id);
  }
  const metrics = await adminGet(proxy.adminPort!, '/metrics');
  assert.match(metrics, /shadowcat_mcp_messages_total\{method="initialize",direction="client_to_server"\} 5/);
  assert.match(metrics, /shadowcat_mcp_messages_total\{method="tools\/list",direction="client_to_server"\} 5/);
  assert.match(metrics, /shadowcat_mcp_messages_total\{method="tools\/call",direction="client_to_server"\} 5/);
  assert.match(metrics, /shadowcat_mcp_messages_total\{method="tools\/call",direction="server_to_client"\} 5/);
  assert.match(metrics, /shadowcat_mcp_request_duration_seconds_count\{method="tools\/call"\} 5/);
  await Promise.all(clients.map(async ({ client, transport, agent }) => {
    await transport.terminateSession();
    await client.close();
    await agent.close();
  }));
});

streamable('progress notifications of a long-running tool arrive before its result', async () => {
  proxy = await proxyFor(everything);
  const { client, transport, agent } = sdkClient(`http://127.0.0.1:${proxy.port}/mcp`, 'progress');
  await client.connect(transport);
  const events: string[] = [];
  const result = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } }, undefined, {
    onprogress: (p) => events.push(`progress ${p.progress}/${p.total}`),
  });
  events.push('result');
  assert.equal(events, ['progress 1/3', 'progress 2/3', 'progress 3/3', 'result']);
  assert.match(textOf(result), /Long running operation completed/);
  await client.close();
  await agent.close();
});

streamable('the default single-session mode carries an SDK client too', async () => {
  proxy = await startProxy({ mode: 'http', multiSession: false, upstreamUrl: new URL(everything.url) });
  const a = sdkClient(`http://127.0.0.1:${proxy.port}/`, 'single-a');
  const b = sdkClient(`http://127.0.0.1:${proxy.port}/mcp`, 'single-b');
  await a.client.connect(a.transport);
  await b.client.connect(b.transport);
  assert.is.not(a.transport.sessionId, b.transport.sessionId);
  assert.is(textOf(await a.client.callTool({ name: 'echo', arguments: { message: 'a' } })), 'Echo: a');
  assert.is(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'b' } })), 'Echo: b');
  for (const c of [a, b]) {
    await c.client.close();
    await c.agent.close();
  }
});

streamable('the embedded demo server speaks Streamable HTTP to the SDK client', async () => {
  proxy = await startProxy({ mode: 'http', multiSession: true });
  const { client, transport, agent } = sdkClient(`http://127.0.0.1:${proxy.port}/mcp`, 'demo');
  await client.connect(transport);
  assert.match(String(transport.sessionId), /^[0-9a-f-]{36}$/);
  assert.is(client.getServerVersion()?.name, 'shadowcat-demo');
  const tools = await client.listTools();
  assert.equal(tools.tools.map((t) => t.name), ['echo']);
  assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'demo' } })), 'Echo: demo');
  await transport.terminateSession();
  assert.is(transport.sessionId, undefined);
  await client.close();
  await agent.close();
});

const stdio = suite('stdio with the SDK and server-everything');

stdio('StdioClientTransport through `shadowcat forward stdio`: initialise, list, echo, close, exit 0', async () => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'forward', 'stdio', '--log-level', 'warn', '--', process.execPath, EVERYTHING, 'stdio'],
    stderr: 'pipe',
  });
  const client = new Client({ name: 'stdio-test', version: '1.0.0' });
  await client.connect(transport);
  // The SDK keeps the child private; we read its exit code through it.
  const child = (transport as unknown as { _process: ChildProcess })._process;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  assert.match(String(client.getServerVersion()?.name), /everything/);
  const tools = await client.listTools();
  assert.ok(tools.tools.some((t) => t.name === 'echo'));
  assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'over stdio' } })), 'Echo: over stdio');
  await client.close();
  assert.is(await exited, 0);
});

const inspector = suite('JSON-RPC inspection');
let up: TestServer;
let bodies: Buffer[] = [];
let headers: http.IncomingHttpHeaders[] = [];

inspector.before.each(async () => {
  bodies = [];
  headers = [];
  up = await startHttpUpstream(async (req, res) => {
    const body = await readBody(req);
    bodies.push(body);
    headers.push(req.headers);
    if (req.headers['x-answer'] === 'sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // A run of the same notification (read by its leading bytes after the first), another
      // notification, and the result with its id last, as the TypeScript SDK writes it.
      for (let i = 1; i <= 3; i++) res.write(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${i}}}\n\n`);
      res.write('data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}\n\n');
      res.end('data: {"result":{"content":[{"type":"text","text":"\\"id\\":9"}]},"jsonrpc":"2.0","id":7}\n\n');
      return;
    }
    if (req.headers['x-answer'] === 'progress-run') {
      // A long progress stream in large writes, with another method inside it: runs of one
      // notification within a read are counted at once and must add up exactly.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let text = '';
      for (let i = 0; i < 2000; i++) {
        text += `id: ${i}\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${i},"total":2000}}\n\n`;
        if (i % 250 === 7) text += 'data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}\n\n';
      }
      res.write(text.slice(0, 100_000));
      res.end(text.slice(100_000));
      return;
    }
    if (req.headers['x-answer'] === 'progress-chunked') {
      // As a Node server writes events (the TypeScript SDK: one res.write each, so one chunk
      // each, ids <stream>_<n>), all in one turn so that many chunks share a socket read;
      // another method inside the run, and CRLF events among LF ones.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < 2000; i++) {
        const br = i % 300 < 150 ? '\n' : '\r\n';
        res.write(`event: message${br}id: 1f0c2a7e-8e3b-4c1e-9a57-3f1b2c4d5e6f_${i}${br}data: {"method":"notifications/progress","params":{"progressToken":1,"progress":${i},"total":2000},"jsonrpc":"2.0"}${br}${br}`);
        if (i % 250 === 7) res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}\n\n');
      }
      res.end();
      return;
    }
    if (req.headers['x-answer'] === '404') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}');
      return;
    }
    res.setHeader('content-type', 'application/json');
    const text = body.toString();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      res.end('{}');
      return;
    }
    if (Array.isArray(parsed)) {
      res.end(JSON.stringify(parsed.filter((m: { id?: unknown }) => m.id !== undefined).map((m: { id: unknown }) => ({ jsonrpc: '2.0', id: m.id, result: {} }))));
    } else if (req.method === 'POST' && text.includes('"id"')) {
      const m = parsed as { id: unknown; method: string };
      res.end(JSON.stringify(m.method === 'tools/call' ? { jsonrpc: '2.0', id: m.id, error: { code: -32602, message: 'bad' } } : { jsonrpc: '2.0', id: m.id, result: {} }));
    } else {
      res.end('{}');
    }
  });
  proxy = await proxyFor(up, { adminPort: 0 });
});
inspector.after.each(async () => {
  await proxy.close();
  await up.close();
});

async function post(body: string | Buffer, extra = '', contentType = 'application/json'): Promise<void> {
  const c = await RawClient.connect(proxy.port);
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  c.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${contentType}\r\nContent-Length: ${b.length}\r\nMcp-Session-Id: m-1\r\n${extra}\r\n`);
  c.write(b);
  await c.readResponse();
  c.close();
}

inspector('a long progress stream in large reads is counted exactly (runs of one notification)', async () => {
  await post('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","arguments":{}}}', 'X-Answer: progress-run\r\n');
  const m = await adminGet(proxy.adminPort!, '/metrics');
  assert.ok(m.includes('shadowcat_mcp_messages_total{method="notifications/progress",direction="server_to_client"} 2000\n'), m);
  assert.ok(m.includes('shadowcat_mcp_messages_total{method="notifications/message",direction="server_to_client"} 8\n'), m);
});

inspector('a chunked progress stream (an event a chunk, many chunks a read) is counted exactly', async () => {
  await post('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","arguments":{}}}', 'X-Answer: progress-chunked\r\n');
  const m = await adminGet(proxy.adminPort!, '/metrics');
  assert.ok(m.includes('shadowcat_mcp_messages_total{method="notifications/progress",direction="server_to_client"} 2000\n'), m);
  assert.ok(m.includes('shadowcat_mcp_messages_total{method="notifications/message",direction="server_to_client"} 8\n'), m);
});

inspector('messages and batches are counted per method, responses correlated for latency and errors', async () => {
  await post('{"jsonrpc":"2.0","id":1,"method":"tools/list"}');
  await post('[{"jsonrpc":"2.0","id":2,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":"x","method":"ping"}]');
  await post('{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{}}}');
  await post('{"jsonrpc":"2.0","id":7,"method":"resources/list"}', 'X-Answer: sse\r\n');
  await post('{"jsonrpc":"2.0","id":8,"method":"vendor/secret-method-name"}');
  const m = await adminGet(proxy.adminPort!, '/metrics');
  const expect = [
    'shadowcat_mcp_messages_total{method="tools/list",direction="client_to_server"} 2',
    'shadowcat_mcp_messages_total{method="tools/list",direction="server_to_client"} 2',
    'shadowcat_mcp_messages_total{method="notifications/initialized",direction="client_to_server"} 1',
    'shadowcat_mcp_messages_total{method="ping",direction="server_to_client"} 1',
    'shadowcat_mcp_errors_total{method="tools/call"} 1',
    'shadowcat_mcp_messages_total{method="notifications/progress",direction="server_to_client"} 3',
    'shadowcat_mcp_messages_total{method="notifications/message",direction="server_to_client"} 1',
    'shadowcat_mcp_messages_total{method="resources/list",direction="server_to_client"} 1',
    'shadowcat_mcp_request_duration_seconds_count{method="resources/list"} 1',
    'shadowcat_mcp_request_duration_seconds_count{method="tools/list"} 2',
    'shadowcat_mcp_messages_total{method="other",direction="client_to_server"} 1',
  ];
  for (const line of expect) assert.ok(m.includes(line), `missing ${line}`);
  assert.not.ok(m.includes('secret-method-name'), 'unknown method names never become labels');
});

inspector('malformed JSON, non-JSON and oversized bodies pass through byte for byte and are counted', async () => {
  const malformed = '{"jsonrpc":"2.0","id":1,"method":"tools/list"';
  const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x7b, 0x0a]);
  await post(malformed);
  await post(binary, '', 'application/octet-stream');
  const first = await adminGet(proxy.adminPort!, '/metrics');
  assert.match(first, /shadowcat_mcp_unparsed_total\{reason="malformed"\} 1/);
  assert.match(first, /shadowcat_mcp_unparsed_total\{reason="not_json"\} 1/);
  await proxy.close();
  proxy = await proxyFor(up, { adminPort: 0, inspectLimitBytes: 16 });
  const big = '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}';
  await post(big);
  assert.equal(bodies.map((b) => b.toString('latin1')), [malformed, binary.toString('latin1'), big]);
  const m = await adminGet(proxy.adminPort!, '/metrics');
  // Both the request and its answer exceed the 16-byte limit.
  assert.match(m, /shadowcat_mcp_unparsed_total\{reason="too_large"\} 2/);
});

inspector('MCP headers, DELETE and upstream 404s pass through untouched', async () => {
  const c = await RawClient.connect(proxy.port);
  c.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n' +
    'MCP-Protocol-Version: 2025-06-18\r\nMcp-Session-Id: gone\r\nLast-Event-ID: ev-41\r\nX-Answer: 404\r\nContent-Length: 2\r\n\r\n{}');
  const r = await c.readResponse();
  assert.is(r.status, 404);
  assert.is(JSON.parse(r.body.toString()).error.message, 'Session not found');
  c.write('DELETE /mcp HTTP/1.1\r\nHost: localhost\r\nMcp-Session-Id: gone\r\n\r\n');
  assert.is((await c.readResponse()).status, 200);
  c.close();
  assert.is(headers[0]!['mcp-protocol-version'], '2025-06-18');
  assert.is(headers[0]!['last-event-id'], 'ev-41');
  assert.is(headers[0]!.accept, 'application/json, text/event-stream');
  assert.is(headers[0]!['mcp-session-id'], 'gone');
  assert.is(headers[1]!['mcp-session-id'], 'gone');
  await until(() => proxy.app.registry.size === 0, 3000, 'session end');
});

const sdkStream = suite("the SDK's own server (event store, a burst of progress) behind the proxy");

sdkStream('every progress event the SDK server sends is counted once, and reaches the SDK client', async () => {
  const BURST = 1500;
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const up = await startHttpUpstream((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const sid = req.headers['mcp-session-id'];
      let t = typeof sid === 'string' ? transports.get(sid) : undefined;
      if (t === undefined) {
        const made: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          eventStore: new InMemoryEventStore(),
          onsessioninitialized: (id) => {
            transports.set(id, made);
          },
        });
        t = made;
        const server = new McpServer({ name: 'burst', version: '1.0.0' });
        server.tool('burst', async (extra) => {
          for (let i = 0; i < BURST; i++) {
            await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: extra._meta?.progressToken ?? 0, progress: i, total: BURST } });
          }
          return { content: [{ type: 'text', text: 'done' }] };
        });
        await server.connect(t);
      }
      await t.handleRequest(req, res, raw.length > 0 ? JSON.parse(raw.toString()) : undefined);
    })();
  });
  const proxy = await proxyFor(up, { adminPort: 0 });
  const { client, transport, agent } = sdkClient(`http://127.0.0.1:${proxy.port}/mcp`, 'burst-client');
  try {
    await client.connect(transport);
    const seen = recordArrivals(transport);
    for (let call = 0; call < 3; call++) await client.callTool({ name: 'burst', arguments: {} }, undefined, { onprogress: () => {} });
    const arrived = seen.filter((m) => 'method' in m && m.method === 'notifications/progress').length;
    assert.is(arrived, 3 * BURST);
    const m = await adminGet(proxy.adminPort!, '/metrics');
    assert.ok(m.includes(`shadowcat_mcp_messages_total{method="notifications/progress",direction="server_to_client"} ${3 * BURST}\n`), m);
  } finally {
    await client.close();
    await agent.close();
    await proxy.close();
    for (const t of transports.values()) await t.close();
    await up.close();
  }
});

streamable.run();
stdio.run();
inspector.run();
sdkStream.run();
