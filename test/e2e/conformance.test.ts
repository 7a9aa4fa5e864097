// Conformance lint (SPEC "MCP-aware resilience"): each rule fires on a real breach —
// server-everything's 400 for an unknown session, a raw upstream's odd answers, a stdio
// server's banner — and shows in /conformance and /metrics; a clean SDK session to
// server-everything counts nothing. Linting never changes what the client receives.

import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI } from '../helpers/cli.js';
import { startEverythingHttp, type Everything } from '../helpers/everything.js';
import { adminGet, proxyFor, type TestProxy } from '../helpers/proxy.js';
import { rawExchange } from '../helpers/raw-client.js';
import { readBody, startHttpUpstream, type TestServer } from '../helpers/upstreams.js';

type Shown = Record<string, { count: number; latest: { status: number | null; excerpt: string; session: string | null } | null }>;

const lint = suite('conformance lint');
let everything: Everything;
let proxy: TestProxy | null = null;
let up: TestServer;

lint.before(async () => {
  everything = await startEverythingHttp();
  up = await startHttpUpstream(async (req, res) => {
    await readBody(req);
    const how = req.headers['x-how'];
    if (how === '202-body') {
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"ok":true}');
    } else if (how === 'get-response') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"jsonrpc":"2.0","id":3,"result":{}}\n\n');
    } else if (how === 'untyped-sse') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n');
    } else if (how === 'bad-session') {
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'bad\u00e9id' }).end('{"jsonrpc":"2.0","id":1,"result":{}}');
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'good-session' }).end('{"jsonrpc":"2.0","id":1,"result":{}}');
    }
  });
});
lint.after(async () => {
  await everything.close();
  await up.close();
});
lint.after.each(async () => {
  await proxy?.close();
  proxy = null;
});

const shown = async (): Promise<Shown> => JSON.parse(await adminGet(proxy!.adminPort!, '/conformance')) as Shown;
const total = (s: Shown): number => Object.values(s).reduce((n, r) => n + r.count, 0);

lint('a clean SDK session counts nothing; server-everything\'s 400 for an unknown session is counted', async () => {
  proxy = await proxyFor(everything, { adminPort: 0 });
  const client = new Client({ name: 'clean', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${proxy.port}/mcp`));
  await client.connect(transport);
  await client.listTools();
  await client.callTool({ name: 'echo', arguments: { message: 'x' } });
  await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 } }, undefined, { onprogress: () => {} });
  assert.is(total(await shown()), 0, JSON.stringify(await shown()));
  await transport.terminateSession();
  await client.close();
  const body = '{"jsonrpc":"2.0","id":9,"method":"tools/list"}';
  const res = await rawExchange(proxy.port, `POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Session-Id: never-issued\r\nMCP-Protocol-Version: 2025-06-18\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  assert.is(res.status, 400, 'server-everything answers 400 (the spec says 404)');
  const s = await shown();
  assert.is(s['unknown-session-status']!.count, 1);
  assert.is(s['unknown-session-status']!.latest!.status, 400);
  assert.is(s['unknown-session-status']!.latest!.session, 'never-issued');
  assert.match(await adminGet(proxy.adminPort!, '/metrics'), /shadowcat_mcp_conformance_total\{rule="unknown-session-status"\} 1/);
});

lint('a raw upstream\'s breaches, each under its rule, with what the client receives unchanged', async () => {
  proxy = await proxyFor(up, { adminPort: 0 });
  const ask = (how: string, extra = '', method = 'POST'): ReturnType<typeof rawExchange> => rawExchange(proxy!.port,
    `${method} /mcp HTTP/1.1\r\nHost: localhost\r\nX-How: ${how}\r\n${extra}Connection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
  const r202 = await ask('202-body', 'MCP-Protocol-Version: 2025-06-18\r\n');
  assert.is(r202.body.toString(), '{"ok":true}');
  await ask('get-response', 'Accept: text/event-stream\r\n', 'GET');
  const untyped = await ask('untyped-sse');
  assert.match(untyped.body.toString(), /^event: message/);
  await ask('bad-session');
  await ask('good', 'Mcp-Session-Id: good-session\r\n');
  const s = await shown();
  assert.is(s['202-with-body']!.count, 1);
  assert.is(s['response-on-get-stream']!.count, 1);
  assert.match(s['response-on-get-stream']!.latest!.excerpt, /"id":3/);
  assert.is(s['sse-without-event-stream-type']!.count, 1);
  assert.is(s['session-id-characters']!.count, 1);
  assert.is(s['missing-protocol-version']!.count, 1, 'the request with a session id and no MCP-Protocol-Version');
  assert.is(s['unknown-session-status']!.count, 0);
});

lint('a stdio server that prints a banner on stdout: one warn line naming the rule', async () => {
  const child = 'console.log("Server starting..."); process.stdin.on("data", () => {}); process.stdin.on("end", () => process.exit(0));';
  const p = spawn(process.execPath, [CLI, 'forward', 'stdio', '--log-level', 'warn', '--', process.execPath, '-e', child], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  p.stderr.on('data', (d) => (err += d));
  p.stdout.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no conformance line:\n${err}`)), 10_000);
    p.stderr.on('data', () => {
      if (err.includes('non-json-stdout')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  p.stdin.end();
  await new Promise((r) => p.once('exit', r));
  assert.is(out, 'Server starting...\n', 'the banner still reaches the client as it was');
  const line = JSON.parse(err.split('\n').find((l) => l.includes('non-json-stdout'))!) as { level: number; rule: string };
  assert.is(line.rule, 'non-json-stdout');
  assert.is(line.level, 40);
});

lint.run();
