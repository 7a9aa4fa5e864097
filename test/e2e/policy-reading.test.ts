// SPEC "Policies": the proxy and the upstream must read the same message. Each attempt is
// first sent straight to a real upstream stack, to show that the stack reads it as the
// blocked call (so the test can fail), and then through the proxy, where it must never reach
// that stack as a blocked or hidden call. Upstreams: express 5 with express.json() (the
// body-parser the SDK's express helper uses), and the SDK's own express app with
// StreamableHTTPServerTransport and an McpServer whose tools count their calls.

import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { z } from 'zod';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient, rawExchange, type RawResponse } from '../helpers/raw-client.js';

const RULES = `
rules:
  - name: no-echo
    match: { method: tools/call, tool: echo }
    action: block
    message: echo is disabled here
  - name: hide-add
    match: { method: tools/list }
    action: hide
    names: ["add"]
`;

const dir = mkdtempSync(join(tmpdir(), 'shadowcat-reading-'));
const policyFile = join(dir, 'rules.yaml');
writeFileSync(policyFile, RULES);

/** UTF-7 as iconv writes it: '+' then modified base64 of UTF-16BE, '-' ends it. */
function utf7(s: string, encode: (c: string) => boolean): string {
  let out = '';
  for (const c of s) {
    if (!encode(c)) {
      out += c;
      continue;
    }
    const be = Buffer.from(c, 'utf16le').swap16();
    out += `+${be.toString('base64').replace(/=+$/, '')}-`;
  }
  return out;
}

const ECHO = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"PWN"}}}';
const ADD = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}';
// The report's three disguises: the tool name, the method, the hidden tool.
const DISGUISED = [
  ECHO.replace('"echo"', `"${utf7('echo', (c) => c === 'h')}"`),
  ECHO.replace('"tools/call"', `"${utf7('tools/call', (c) => c === '/')}"`),
  ADD.replace('"add"', `"${utf7('add', (c) => c === 'd')}"`),
];

/** Content-Type spellings that make body-parser (or another reader) decode UTF-7. */
const UTF7_TYPES = [
  ['application/json; charset=utf-7'],
  ['application/json; charset="utf-7"'],
  ['APPLICATION/JSON; CHARSET=UTF-7'],
  ['application/json;charset=utf-7'],
  ['application/json; charset = utf-7'],
  ['application/json;\tcharset=utf-7'],
  ['application/json; charset=utf-7; charset=utf-8'],
  ['application/json; charset=utf-8; charset=utf-7'],
  ['application/json; foo="a;charset=utf-8"; charset=utf-7'],
  ['application/json', 'application/json; charset=utf-7'],
  ['application/json; charset=utf-7', 'application/json'],
];

function request(body: Buffer | string, headers: string[], path = '/mcp', method = 'POST'): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json, text/event-stream\r\n${headers.map((h) => `${h}\r\n`).join('')}Content-Length: ${b.length}\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), b]);
}

const typeHeaders = (types: string[]): string[] => types.map((t) => `Content-Type: ${t}`);

function refused(res: RawResponse, what: string): void {
  assert.is(res.status, 400, `${what}: status ${res.status} ${res.body.toString()}`);
  const msg = JSON.parse(res.body.toString()) as { error: { data: { reason: string } } };
  assert.is(msg.error.data.reason, 'policy-unreadable', what);
}

/** Starts `app` on 127.0.0.1 and a proxy with the rules in front of it (the suites' `proxy`). */
async function listenBehindProxy(app: express.Express): Promise<{ server: Server; port: number }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  const port = (server.address() as AddressInfo).port;
  proxy = await startProxy({ mode: 'http', multiSession: true, upstreamUrl: new URL(`http://127.0.0.1:${port}/mcp`), policyFile });
  return { server, port };
}

/** Closes the suite's proxy and the upstream behind it. */
async function closeBoth(server: Server): Promise<void> {
  await proxy?.close();
  proxy = null;
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

// ---- express 5 + express.json() --------------------------------------------------------

const bp = suite('express.json() upstream: nothing it would read as a blocked call passes');
let upstream: Server;
let upPort = 0;
let parsed: unknown[] = [];
let proxy: TestProxy | null = null;

/** The blocked or hidden calls among what the upstream parsed. */
function blockedCalls(): unknown[] {
  return parsed.filter((b) => {
    const m = b as { method?: unknown; params?: { name?: unknown } } | undefined;
    return m?.method === 'tools/call' && (m.params?.name === 'echo' || m.params?.name === 'add');
  });
}

bp.before(async () => {
  const app = express();
  app.use(express.json());
  app.post('/mcp', (req, res) => {
    parsed.push(req.body);
    res.json({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'upstream' }] } });
  });
  // body-parser's own refusals (415 for a charset it does not know), without a stack trace on stderr.
  app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).end();
  });
  ({ server: upstream, port: upPort } = await listenBehindProxy(app));
});
bp.after(() => closeBoth(upstream));
bp.before.each(() => {
  parsed = [];
});

bp('each disguise is the blocked call to express itself, and is refused by the proxy in every charset spelling', async () => {
  for (const body of DISGUISED) {
    parsed = [];
    await rawExchange(upPort, request(body, typeHeaders(['application/json; charset=utf-7'])));
    assert.is(blockedCalls().length, 1, `express reads ${body} as the blocked call`);
    parsed = [];
    for (const types of UTF7_TYPES) {
      refused(await rawExchange(proxy!.port, request(body, typeHeaders(types))), `${types.join(' + ')}: ${body}`);
    }
    assert.equal(blockedCalls(), [], 'no blocked call reached express');
  }
  assert.equal(parsed, [], 'nothing at all reached express');
});

bp('a charset other than UTF-8 is refused before the proxy asks whether a rule cares about the method', async () => {
  const ping = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
  refused(await rawExchange(proxy!.port, request(ping, typeHeaders(['application/json; charset=utf-7']))), 'utf-7 ping');
  refused(await rawExchange(proxy!.port, request(Buffer.from(ping, 'utf16le'), typeHeaders(['application/json; charset=utf-16le']))), 'utf-16le');
  refused(await rawExchange(proxy!.port, request(ping, typeHeaders(['application/json; charset=iso-8859-1']))), 'latin1');
  assert.equal(parsed, []);
});

bp('content codings express inflates are refused', async () => {
  for (const [coding, bytes] of [['gzip', gzipSync(ECHO)], ['deflate', deflateSync(ECHO)], ['br', brotliCompressSync(ECHO)], ['GZIP', gzipSync(ECHO)]] as const) {
    parsed = [];
    await rawExchange(upPort, request(bytes, ['Content-Type: application/json', `Content-Encoding: ${coding}`]));
    assert.is(blockedCalls().length, 1, `express inflates ${coding}`);
    parsed = [];
    refused(await rawExchange(proxy!.port, request(bytes, ['Content-Type: application/json', `Content-Encoding: ${coding}`])), coding);
    assert.equal(parsed, []);
  }
  // identity is no coding at all.
  const ok = await rawExchange(proxy!.port, request(ECHO.replace('echo', 'other'), ['Content-Type: application/json', 'Content-Encoding: identity']));
  assert.is(ok.status, 200);
});

bp('a BOM, bytes that are not UTF-8, case-folded members and non-string names are refused', async () => {
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ECHO)]);
  await rawExchange(upPort, request(bom, typeHeaders(['application/json'])));
  assert.is(blockedCalls().length, 1, 'express strips the BOM');
  parsed = [];
  refused(await rawExchange(proxy!.port, request(bom, typeHeaders(['application/json']))), 'BOM');
  // Python's json.loads reads UTF-16 and UTF-32 bytes, with or without a BOM, and strips a UTF-8 BOM.
  refused(await rawExchange(proxy!.port, request(Buffer.from(ECHO, 'utf16le'), typeHeaders(['application/json']))), 'UTF-16LE');
  refused(await rawExchange(proxy!.port, request(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(ECHO, 'utf16le')]), typeHeaders(['application/json']))), 'UTF-16LE with BOM');
  refused(await rawExchange(proxy!.port, request(Buffer.from(ECHO, 'utf16le').swap16(), typeHeaders(['application/json']))), 'UTF-16BE');
  const bad = Buffer.from(ECHO.replace('"echo"', '"ech\u00ffo"'), 'latin1');
  refused(await rawExchange(proxy!.port, request(bad, typeHeaders(['application/json']))), 'invalid UTF-8');
  // Go's encoding/json matches member names case-insensitively (Unicode simple folding:
  // U+017F is 's', U+212A is 'k'), so each of these is the blocked call to a Go server.
  const folded = [
    ECHO.replace('"method"', '"Method"'),
    ECHO.replace('"method"', '"METHOD"'),
    ECHO.replace('"params"', '"Params"'),
    ECHO.replace('"params"', '"param\u017f"'),
    ECHO.replace('"name"', '"Name"'),
    ECHO.replace('"jsonrpc"', '"JSONRPC"'),
    ECHO.replace('"id"', '"ID"'),
    ECHO.replace('"arguments"', '"argument\u017f"'),
    '{"jsonrpc":"2.0","id":1,"method":"ping","METHOD":"tools/call","params":{"name":"echo"}}',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"other","NAME":"echo"}}',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"other","N\\u0041ME":"echo"}}',
    '[{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"name":"echo"}}]',
  ];
  for (const body of folded) refused(await rawExchange(proxy!.port, request(Buffer.from(body, 'utf8'), typeHeaders(['application/json']))), body);
  for (const name of ['["echo"]', '{"x":"echo"}', '7', 'null']) {
    refused(await rawExchange(proxy!.port, request(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":${name}}}`, typeHeaders(['application/json']))), `name ${name}`);
  }
  assert.equal(parsed, []);
});

bp('allowed calls in UTF-8, with or without a charset, still flow', async () => {
  const other = ECHO.replace('"echo"', '"other"');
  for (const t of ['application/json', 'application/json; charset=utf-8', 'application/json; charset=UTF-8', 'application/json;charset="utf-8"']) {
    const res = await rawExchange(proxy!.port, request(other, [`Content-Type: ${t}`]));
    assert.is(res.status, 200, t);
    assert.match(res.body.toString(), /upstream/);
  }
  assert.is(parsed.length, 4);
  // Non-ASCII text in UTF-8 is fine, and so is an unrelated member with capitals.
  const res = await rawExchange(proxy!.port, request(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"other","arguments":{"Message":"h\u00e9llo \u{1f600}"}},"Extra":1}', 'utf8'), typeHeaders(['application/json'])));
  assert.is(res.status, 200);
  assert.equal((parsed[4] as { params: { arguments: { Message: string } } }).params.arguments.Message, 'h\u00e9llo \u{1f600}');
});

bp('the blocked call split at every byte boundary is still blocked', async () => {
  const body = Buffer.from(ECHO);
  const c = await RawClient.connect(proxy!.port);
  try {
    for (let i = 1; i < body.length; i++) {
      c.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      c.write(body.subarray(0, i));
      await new Promise((r) => setImmediate(r));
      c.write(body.subarray(i));
      const res = await c.readResponse();
      assert.is(res.status, 200, `split at ${i}`);
      assert.match(res.body.toString(), /"rule":"no-echo"/, `split at ${i}`);
    }
  } finally {
    c.close();
  }
  assert.equal(parsed, []);
});

bp('Content-Length shorter or longer than the body, HTTP/1.0 and a GET with a body', async () => {
  const other = ECHO.replace('"echo"', '"other"');
  // Shorter: the bytes past it are the next request on the connection, and that is no request at all.
  const c = await RawClient.connect(proxy!.port);
  try {
    c.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${other.length}\r\n\r\n${other}${ECHO}`);
    assert.is((await c.readResponse()).status, 200);
    assert.is((await c.readResponse()).status, 400);
  } finally {
    c.close();
  }
  assert.is(parsed.length, 1);
  assert.equal(blockedCalls(), []);
  // Longer: the body never completes, so nothing is sent on; the client giving up ends it.
  const d = await RawClient.connect(proxy!.port);
  d.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${ECHO.length + 10}\r\n\r\n${ECHO}`);
  await new Promise((r) => setTimeout(r, 50));
  d.close();
  const h10 = await rawExchange(proxy!.port, `POST /mcp HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: ${ECHO.length}\r\n\r\n${ECHO}`);
  assert.match(h10.body.toString(), /"rule":"no-echo"/);
  const get = await rawExchange(proxy!.port, request(ECHO, typeHeaders(['application/json']), '/mcp', 'GET'));
  assert.match(get.body.toString(), /"rule":"no-echo"/);
  assert.is(parsed.length, 1);
});

bp('requests that arrive while the file is rewritten, replaced and broken meet the old rules or the new, never none', async () => {
  const file = join(dir, 'reloading.yaml');
  const block = 'rules:\n  - name: no-echo\n    match: { method: tools/call, tool: echo }\n    action: block\n';
  const mock = 'rules:\n  - name: mock-echo\n    match: { method: tools/call, tool: echo }\n    action: mock\n    result: { content: [] }\n';
  writeFileSync(file, block);
  const own = await startProxy({ mode: 'http', multiSession: true, upstreamUrl: new URL(`http://127.0.0.1:${upPort}/mcp`), policyFile: file });
  const { renameSync } = await import('node:fs');
  try {
    const answers: string[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        if (i % 3 === 2) {
          writeFileSync(`${file}.tmp`, i % 2 === 0 ? block : mock);
          renameSync(`${file}.tmp`, file);
        } else {
          writeFileSync(file, i % 4 === 1 ? 'rules: [' : i % 2 === 0 ? block : mock);
        }
        await new Promise((r) => setTimeout(r, 20));
        if (i % 10 === 9) own.app.reloadPolicy();
      }
    })();
    for (let round = 0; round < 40; round++) {
      const batch = await Promise.all([0, 1, 2, 3].map(() => rawExchange(own.port, request(ECHO, typeHeaders(['application/json'])))));
      for (const res of batch) answers.push(res.body.toString());
    }
    writing = false;
    await writer;
    for (const a of answers) assert.ok(/"rule":"no-echo"/.test(a) || /"result":\{"content":\[\]\}/.test(a), a);
    assert.equal(blockedCalls(), [], 'no blocked call reached express');
  } finally {
    await own.close();
  }
});

// ---- the SDK's own express app ------------------------------------------------------------

const sdk = suite("the SDK's express app (createMcpExpressApp + StreamableHTTPServerTransport): the same attempts");
let sdkServer: Server;
let sdkPort = 0;
const calls = { echo: 0, add: 0 };

sdk.before(async () => {
  const app = createMcpExpressApp();
  app.post('/mcp', async (req, res) => {
    // Stateless, as the SDK's example: a server and a transport per request.
    const server = new McpServer({ name: 'counting', version: '1.0.0' });
    server.registerTool('echo', { inputSchema: { message: z.string() } }, ({ message }) => {
      calls.echo++;
      return { content: [{ type: 'text', text: `Echo: ${message}` }] };
    });
    server.registerTool('add', { inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => {
      calls.add++;
      return { content: [{ type: 'text', text: String(a + b) }] };
    });
    server.registerTool('other', {}, () => ({ content: [{ type: 'text', text: 'other' }] }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  ({ server: sdkServer, port: sdkPort } = await listenBehindProxy(app));
});
sdk.after(async () => {
  await closeBoth(sdkServer);
  rmSync(dir, { recursive: true, force: true });
});

sdk('every disguise runs the tool when sent straight, and never through the proxy', async () => {
  const headers = (types: string[]): string[] => [...typeHeaders(types), 'MCP-Protocol-Version: 2025-06-18'];
  for (const body of DISGUISED) {
    const before = calls.echo + calls.add;
    const direct = await rawExchange(sdkPort, request(body, headers(['application/json; charset=utf-7'])));
    assert.is(direct.status, 200, direct.body.toString());
    assert.is(calls.echo + calls.add, before + 1, `the SDK server runs ${body}`);
  }
  const ran = calls.echo + calls.add;
  for (const body of DISGUISED) {
    for (const types of UTF7_TYPES) refused(await rawExchange(proxy!.port, request(body, headers(types))), `${types.join(' + ')}: ${body}`);
  }
  refused(await rawExchange(proxy!.port, request(gzipSync(ECHO), [...headers(['application/json']), 'Content-Encoding: gzip'])), 'gzip');
  assert.is(calls.echo + calls.add, ran, 'no tool ran through the proxy');
  // The plain blocked call is blocked, and an allowed one with charset=utf-8 runs.
  const blocked = await rawExchange(proxy!.port, request(ECHO, headers(['application/json; charset=utf-8'])));
  assert.match(blocked.body.toString(), /"rule":"no-echo"/);
  const other = await rawExchange(proxy!.port, request(ECHO.replace('"echo"', '"other"'), headers(['application/json; charset=utf-8'])));
  assert.is(other.status, 200);
  assert.match(other.body.toString(), /"text":"other"/);
  assert.is(calls.echo + calls.add, ran);
});

// ---- forward stdio: the same thought for lines ----------------------------------------

const stdio = suite('forward stdio with a policy: lines read differently elsewhere never reach the child');

stdio('a BOM, bytes that are not UTF-8 and case-folded members are refused; plain lines pass', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'shadowcat-reading-')), 'rules.yaml');
  writeFileSync(file, RULES);
  // The child answers every line it receives with what it received.
  const child = `
    const rl = require('readline').createInterface({ input: process.stdin });
    rl.on('line', (line) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: 0, result: { got: line } }) + '\\n'));`;
  const { spawn } = await import('node:child_process');
  const { CLI } = await import('../helpers/cli.js');
  const p = spawn(process.execPath, [CLI, 'forward', 'stdio', '--log-level', 'silent', '--policy', file, '--', process.execPath, '-e', child], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let partial = '';
  p.stdout.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const l of parts) lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  const refusedLines = [
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ECHO)]),
    Buffer.from(ECHO.replace('"echo"', '"ech\u00ffo"'), 'latin1'),
    Buffer.from(ECHO.replace('"method"', '"Method"')),
    Buffer.from(ECHO.replace('"params"', '"param\u017f"'), 'utf8'),
    Buffer.from(ECHO.replace('"name"', '"NAME"')),
  ];
  const plain = Buffer.from('{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"other","arguments":{"x":"h\u00e9"}}}', 'utf8');
  for (const l of [...refusedLines, plain]) p.stdin.write(Buffer.concat([l, Buffer.from('\n')]));
  const { until } = await import('../helpers/proxy.js');
  await until(() => lines.length >= refusedLines.length + 1, 10_000, 'an answer to every line');
  p.stdin.end();
  assert.is(await new Promise<number | null>((r) => p.once('exit', (c) => r(c))), 0);
  const reasons = lines.map((l) => (l.error as { data?: { reason?: string } } | undefined)?.data?.reason ?? 'passed');
  assert.is(reasons.filter((r) => r === 'policy-unreadable').length, refusedLines.length, JSON.stringify(lines));
  const got = lines.filter((l) => l.result !== undefined).map((l) => (l.result as { got: string }).got);
  assert.equal(got, [plain.toString('utf8')], 'only the plain line reached the child');
  rmSync(join(file, '..'), { recursive: true, force: true });
});

bp.run();
sdk.run();
stdio.run();
