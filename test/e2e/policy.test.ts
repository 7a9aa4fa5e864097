// --policy (SPEC "Policies: interceptor rules") driven the way users do: the official SDK
// client to server-everything through the proxy, over Streamable HTTP in both session
// modes and over stdio; a tapping relay in front of the upstream shows what reached it.
// Then the bypass attempts, through raw sockets, against a counting upstream.

import net from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, runCli, startCli } from '../helpers/cli.js';
import { EVERYTHING, startEverythingHttp, type Everything } from '../helpers/everything.js';
import { proxyFor, adminGet, startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { RawClient, rawExchange } from '../helpers/raw-client.js';
import { readBody, startHttpUpstream, type TestServer } from '../helpers/upstreams.js';
import { sdkHttpClient as sdkClient } from '../helpers/sdk.js';

const RULES = `
rules:
  - name: no-echo
    match: { method: tools/call, tool: echo }
    action: block
    message: echo is disabled here
  - name: hide-env
    match: { method: tools/list }
    action: hide
    names: ["get-env", "gzip-*"]
  - name: canned-sum
    match: { method: tools/call, tool: get-sum }
    action: mock
    result: { content: [{ type: text, text: "mocked sum" }] }
  - name: slow-image
    match: { method: tools/call, tool: get-tiny-image }
    action: delay
    ms: 300
`;

const dir = mkdtempSync(join(tmpdir(), 'shadowcat-policy-'));
const policyFile = (name: string, text: string): string => {
  const file = join(dir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, text);
  return file;
};

/** A TCP relay in front of an upstream that keeps every byte sent to it. */
async function startTap(targetPort: number): Promise<{ port: number; sent: () => string; close(): Promise<void> }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const up = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(up);
    client.on('data', (d: Buffer) => chunks.push(d));
    client.pipe(up);
    up.pipe(client);
    const done = (): void => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.on('error', done).on('close', done);
    up.on('error', done).on('close', done);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sent: () => Buffer.concat(chunks).toString('utf8'),
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

function textOf(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

async function expectMcpError(p: Promise<unknown>, code: number, message: RegExp): Promise<McpError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, McpError);
    assert.is((err as McpError).code, code);
    assert.match((err as McpError).message, message);
    return err as McpError;
  }
  throw new Error('expected an McpError');
}

/** The behaviour every transport must show with RULES loaded. */
async function exerciseRules(client: Client, stdioTransport = false): Promise<void> {
  const tools = (await client.listTools()).tools.map((t) => t.name);
  assert.ok(tools.includes('echo'), 'echo is listed (blocked, not hidden)');
  assert.ok(tools.includes('trigger-long-running-operation'));
  assert.not.ok(tools.includes('get-env'), 'get-env is hidden');
  assert.not.ok(tools.some((t) => t.startsWith('gzip-')), 'gzip-* is hidden');
  const blocked = await expectMcpError(client.callTool({ name: 'echo', arguments: { message: 'no' } }), -32001, /echo is disabled here/);
  assert.equal(blocked.data, { reason: 'policy', rule: 'no-echo' });
  await expectMcpError(client.callTool({ name: 'get-env', arguments: {} }), -32001, /get-env is not available here/);
  assert.is(textOf(await client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } })), 'mocked sum');
  const t0 = performance.now();
  const image = await client.callTool({ name: 'get-tiny-image', arguments: {} });
  assert.ok(performance.now() - t0 >= 290, 'the delayed call arrives no sooner than the delay');
  assert.ok((image.content as unknown[]).length > 0);
  const progress: number[] = [];
  const long = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, {
    onprogress: (p) => progress.push(p.progress),
  });
  // The SDK client over stdio drops the last notification now and then with no proxy in
  // between too (measured: 2 of 3 in about half the calls straight to server-everything):
  // what must hold is that they stream, in order, before the result.
  assert.ok(progress.length >= (stdioTransport ? 1 : 3), `progress ${JSON.stringify(progress)}`);
  assert.equal(progress, [1, 2, 3].slice(0, progress.length));
  assert.match(textOf(long), /Long running operation completed/);
}

const sdk = suite('policies with the SDK client and server-everything');
let everything: Everything;
let proxy: TestProxy | null = null;

sdk.before(async () => {
  everything = await startEverythingHttp();
});
sdk.after(async () => {
  await everything.close();
  rmSync(dir, { recursive: true, force: true });
});
sdk.after.each(async () => {
  await proxy?.close();
  proxy = null;
});

for (const multiSession of [true, false]) {
  sdk(`Streamable HTTP, ${multiSession ? 'multi' : 'single'}-session: blocked, hidden, mocked and delayed; the upstream never sees the blocked calls`, async () => {
    const tap = await startTap(everything.port);
    try {
      proxy = await startProxy({
        mode: 'http', multiSession, upstreamUrl: new URL(`http://127.0.0.1:${tap.port}/mcp`), adminPort: 0,
        policyFile: policyFile(`rules-${multiSession}.yaml`, RULES),
      });
      const { client, transport, agent } = sdkClient(`http://127.0.0.1:${proxy.port}/mcp`, 'policy');
      await client.connect(transport);
      await exerciseRules(client);
      const sent = tap.sent();
      assert.ok(sent.includes('"tools/list"'), 'the list went upstream');
      assert.ok(sent.includes('get-tiny-image'), 'the delayed call went upstream');
      assert.not.ok(/"name":"echo"/.test(sent), 'the blocked call never reached the upstream');
      assert.not.ok(sent.includes('get-sum'), 'the mocked call never reached the upstream');
      assert.not.ok(/"name":"get-env"/.test(sent), 'the call to a hidden tool never reached the upstream');
      const metrics = await adminGet(proxy.adminPort!, '/metrics');
      assert.match(metrics, /shadowcat_policy_decisions_total\{rule="no-echo",action="block"\} 1/);
      assert.match(metrics, /shadowcat_policy_decisions_total\{rule="hide-env",action="hide"\} 1/);
      assert.match(metrics, /shadowcat_policy_decisions_total\{rule="hide-env",action="block"\} 1/);
      assert.match(metrics, /shadowcat_policy_decisions_total\{rule="canned-sum",action="mock"\} 1/);
      assert.match(metrics, /shadowcat_policy_decisions_total\{rule="slow-image",action="delay"\} 1/);
      const shown = JSON.parse(await adminGet(proxy.adminPort!, '/policy')) as { rules: Array<{ name: string; hits: number }>; file: string };
      assert.equal(shown.rules.map((r) => [r.name, r.hits]), [['no-echo', 1], ['hide-env', 2], ['canned-sum', 1], ['slow-image', 1]]);
      await transport.terminateSession();
      await client.close();
      await agent.close();
    } finally {
      await tap.close();
    }
  });
}

sdk('calls the policy reads and lets go are counted and timed by method as without a policy (the gate\'s read is shared)', async () => {
  // Every call is held and read strictly; the inspector then takes that read rather than
  // reading the body again (docs/architecture.md). What /metrics says must not change: each
  // message counted once under its method, each answer matched to its call by id.
  proxy = await startProxy({
    mode: 'http', multiSession: true, upstreamUrl: new URL(everything.url), adminPort: 0,
    policyFile: policyFile('far.yaml', 'rules:\n  - { name: far, match: { method: tools/call, tool: echo, client: 10.0.0.0/8 }, action: block }\n'),
  });
  const { client, transport, agent } = sdkClient(`http://127.0.0.1:${proxy.port}/mcp`, 'shared-read');
  try {
    await client.connect(transport);
    for (let i = 0; i < 25; i++) assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: `m${i} é` } })), `Echo: m${i} é`);
    await client.listTools();
    const metrics = await adminGet(proxy.adminPort!, '/metrics');
    assert.match(metrics, /shadowcat_mcp_messages_total\{method="tools\/call",direction="client_to_server"\} 25\n/);
    assert.match(metrics, /shadowcat_mcp_messages_total\{method="tools\/call",direction="server_to_client"\} 25\n/);
    assert.match(metrics, /shadowcat_mcp_messages_total\{method="tools\/list",direction="client_to_server"\} 1\n/);
    assert.match(metrics, /shadowcat_mcp_request_duration_seconds_count\{method="tools\/call"\} 25\n/);
    assert.match(metrics, /shadowcat_mcp_request_duration_seconds_count\{method="tools\/list"\} 1\n/);
    assert.not.match(metrics, /shadowcat_policy_decisions_total\{rule="far"/);
  } finally {
    await client.close();
    await agent.close();
  }
});

sdk('reload: a rewritten file rules the next call of a live session; a broken one keeps the rules in force', async () => {
  const file = policyFile('reload.json', JSON.stringify({ rules: [{ name: 'no-echo', match: { method: 'tools/call', tool: 'echo' }, action: 'block' }] }));
  proxy = await proxyFor(everything, { adminPort: 0, policyFile: file });
  const { client, transport, agent } = sdkClient(`http://127.0.0.1:${proxy.port}/mcp`, 'reload');
  await client.connect(transport);
  await expectMcpError(client.callTool({ name: 'echo', arguments: { message: 'x' } }), -32001, /blocked by policy rule no-echo/);
  const app = proxy.app;
  const before = app.policy()!.loadedAt;
  writeFileSync(file, JSON.stringify({ rules: [{ name: 'mock-echo', match: { method: 'tools/call', tool: 'echo' }, action: 'mock', result: { content: [{ type: 'text', text: 'reloaded' }] } }] }));
  await until(() => app.policy()!.loadedAt !== before && app.policy()!.rules[0]!.name === 'mock-echo', 10_000, 'the file to be reloaded');
  assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'x' } })), 'reloaded');
  writeFileSync(file, '{"rules": [{"name": "broken", "action": "explode"}]}');
  await until(async () => /shadowcat_policy_reloads_total\{result="error"\} [1-9]/.test(await adminGet(proxy!.adminPort!, '/metrics')), 10_000, 'the failed reload');
  assert.match(String(app.policy()!.lastReloadError), /rule 1 \(broken\): action: expected one of/);
  assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'x' } })), 'reloaded', 'the old rules stay in force');
  // SIGHUP's path: an explicit reload of the file as it is now fails the same way.
  assert.is(app.reloadPolicy(), false);
  writeFileSync(file, JSON.stringify({ rules: [] }));
  await until(() => app.policy()!.rules.length === 0, 10_000, 'the empty rule set');
  assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'free' } })), 'Echo: free');
  await client.close();
  await agent.close();
});

const stdio = suite('policies over stdio with StdioClientTransport');
stdio.after(() => rmSync(dir, { recursive: true, force: true }));

stdio('the same rules through forward stdio -- server-everything stdio; the recorder learns the handshake from the gate\'s read', async () => {
  const file = policyFile('stdio-rules.yaml', RULES);
  const tapes = join(dir, 'stdio-tapes');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'forward', 'stdio', '--log-level', 'warn', '--policy', file, '--record', tapes, '--', process.execPath, EVERYTHING, 'stdio'],
    stderr: 'pipe',
  });
  const client = new Client({ name: 'stdio-policy', version: '1.0.0' });
  await client.connect(transport);
  await exerciseRules(client, true);
  await client.close();
  // Each client line is judged first and the inspector takes the gate's read of it: the
  // recorder must still see the initialize call by method and id and match its answer.
  const tapeOf = (): string | null => {
    const names = existsSync(tapes) ? readdirSync(tapes).filter((n) => n.endsWith('.jsonl')) : [];
    return names.length === 1 ? readFileSync(join(tapes, names[0]!), 'utf8') : null;
  };
  await until(() => tapeOf()?.includes('"end":') === true, 10_000, 'the stdio tape to close');
  const meta = JSON.parse(tapeOf()!.split('\n')[0]!) as { clientInfo?: { name?: string }; protocolVersion?: unknown };
  assert.is(meta.clientInfo?.name, 'stdio-policy', 'the initialize call was seen as one');
  assert.type(meta.protocolVersion, 'string', 'its answer was matched to it by id');
});

stdio('raw lines: escapes, repeats, batches, oversize lines and notifications never reach the child; a list is filtered', async () => {
  const file = policyFile('stdio-raw.yaml', RULES);
  // The child answers every request; it names on stdout what it received, as a result.
  const child = `
    const rl = require('readline').createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      let m; try { m = JSON.parse(line); } catch { m = null; }
      const id = m && m.id !== undefined ? m.id : null;
      if (m && m.method === 'tools/list') process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id, result: { tools: [{ name: 'get-env' }, { name: 'echo' }] } }) + '\\n');
      else process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id, result: { got: line } }) + '\\n');
    });`;
  const { spawn } = await import('node:child_process');
  const p = spawn(process.execPath, [CLI, 'forward', 'stdio', '--log-level', 'warn', '--inspect-limit', '300', '--policy', file, '--', process.execPath, '-e', child], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let partial = '';
  p.stdout.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const l of parts) lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  const input = [
    '{"jsonrpc":"2.0","id":1,"method":"tools\\/call","params":{"name":"echo"}}',
    '{"jsonrpc":"2.0","id":2,"method":"ping","method":"tools/call","params":{"name":"echo"}}',
    '[{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo"}}]',
    `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo"}}${' '.repeat(400)}`,
    '{"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo"}}',
    '{"jsonrpc":"2.0","id":5,"method":"tools/list"}',
    '{"jsonrpc":"2.0","id":6,"method":"ping"}',
  ];
  p.stdin.write(`${input.join('\n')}\n`);
  await until(() => lines.length >= 6, 10_000, 'six answers');
  p.stdin.end();
  const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  assert.is(code, 0);
  const byId = new Map(lines.map((l) => [JSON.stringify(l.id), l]));
  assert.is((byId.get('1')!.error as { code: number }).code, -32001);
  const unreadableLines = lines.filter((l) => l.id === null && (l.error as { data?: { reason?: string } } | undefined)?.data?.reason === 'policy-unreadable');
  assert.is(unreadableLines.length, 3, JSON.stringify(lines));
  assert.equal((byId.get('5')!.result as { tools: Array<{ name: string }> }).tools.map((t) => t.name), ['echo']);
  assert.equal(byId.get('6')!.result, { got: input[6] });
  // The child answered only what reached it: the list and the ping.
  assert.is(lines.filter((l) => (l.result as { got?: string } | undefined)?.got !== undefined).length, 1);
  assert.is(lines.length, 6);
});

// ---- bypass attempts against a counting upstream ------------------------------------

const bypass = suite('nothing slips a blocked call past the policy');
let up: TestServer;
let seen: string[] = [];

bypass.before(async () => {
  up = await startHttpUpstream(async (req, res) => {
    const body = (await readBody(req)).toString();
    seen.push(body);
    res.setHeader('content-type', 'application/json');
    res.end('{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"upstream"}]}}');
  });
  proxy = await startProxy({
    mode: 'http', multiSession: true, upstreamUrl: new URL(up.url), inspectLimitBytes: 1024,
    policyFile: policyFile('bypass.yaml', RULES),
  });
});
bypass.after(async () => {
  await proxy?.close();
  proxy = null;
  await up.close();
  rmSync(dir, { recursive: true, force: true });
});
bypass.before.each(() => {
  seen = [];
});

const post = (body: string, headers = 'Content-Type: application/json\r\n'): string =>
  `POST /mcp HTTP/1.1\r\nHost: localhost\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

const blockedEcho = (res: { status: number; body: Buffer }, id: unknown): void => {
  assert.is(res.status, 200);
  const msg = JSON.parse(res.body.toString()) as { id: unknown; error: { code: number; data: { rule: string } } };
  assert.is(msg.id, id);
  assert.is(msg.error.code, -32001);
  assert.is(msg.error.data.rule, 'no-echo');
};

const unreadable = (res: { status: number; body: Buffer }, status: number): void => {
  assert.is(res.status, status);
  const msg = JSON.parse(res.body.toString()) as { error: { data: { reason: string } } };
  assert.is(msg.error.data.reason, 'policy-unreadable');
};

bypass('a plain blocked call is answered with its own id; an allowed one passes', async () => {
  blockedEcho(await rawExchange(proxy!.port, post('{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"echo","arguments":{}}}', 'Content-Type: application/json\r\nConnection: close\r\n')), 'a-1');
  const ok = await rawExchange(proxy!.port, post('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"other"}}', 'Content-Type: application/json\r\nConnection: close\r\n'));
  assert.is(ok.status, 200);
  assert.match(ok.body.toString(), /upstream/);
  assert.is(seen.length, 1);
});

bypass('kept calls: repeats with other ids and arguments are decided as the first, each answered with its own id; near-misses are read whole', async () => {
  const c = await RawClient.connect(proxy!.port);
  const call = (id: number, name: string, args: string): string => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"${name}","arguments":${args}}}`;
  for (let i = 1; i <= 40; i++) {
    const args = `{"message":"${'x'.repeat(i % 9)}","n":${i}}`;
    // Alternating: a blocked tool and an allowed one, both kept after their first read.
    c.write(post(call(i * 37, i % 2 === 0 ? 'echo' : 'other', args)));
    const res = await c.readResponse();
    if (i % 2 === 0) blockedEcho(res, i * 37);
    else assert.match(res.body.toString(), /upstream/, `call ${i}`);
  }
  assert.is(seen.length, 20, 'the allowed calls only');
  // As long as a kept call, but another tool name, a second name, an escaped one: each read whole.
  c.write(post(call(1, 'echp', '{}')));
  assert.match((await c.readResponse()).body.toString(), /upstream/);
  c.write(post('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"other","arguments":{},"name":"echo"}}'));
  unreadable(await c.readResponse(), 400);
  c.socket.destroy();
  const d = await RawClient.connect(proxy!.port);
  d.write(post(call(3, 'ech\\u006f', '{}')));
  blockedEcho(await d.readResponse(), 3);
  d.socket.destroy();
});

bypass('a blocked call with another pipelined behind it in the same read: both answered, in order, on one connection', async () => {
  const c = await RawClient.connect(proxy!.port);
  try {
    c.write(post('{"jsonrpc":"2.0","id":"p-1","method":"tools/call","params":{"name":"echo","arguments":{}}}')
      + post('{"jsonrpc":"2.0","id":"p-2","method":"tools/call","params":{"name":"other"}}')
      + post('{"jsonrpc":"2.0","id":"p-3","method":"tools/call","params":{"name":"echo","arguments":{}}}'));
    blockedEcho(await c.readResponse(), 'p-1');
    const passed = await c.readResponse();
    assert.is(passed.status, 200);
    assert.match(passed.body.toString(), /upstream/);
    blockedEcho(await c.readResponse(), 'p-3');
    assert.equal(seen.map((b) => (JSON.parse(b) as { id: string }).id), ['p-2']);
  } finally {
    c.close();
  }
});

bypass('escaped method and name, duplicate members, odd ids and batches', async () => {
  const c = await RawClient.connect(proxy!.port);
  try {
    c.write(post('{"jsonrpc":"2.0","id":1,"method":"tools\\/call","params":{"name":"echo"}}'));
    blockedEcho(await c.readResponse(), 1);
    c.write(post('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ec\\u0068o"}}'));
    blockedEcho(await c.readResponse(), 2);
    c.write(post('{"jsonrpc":"2.0","id":3,"m\\u0065thod":"tools/call","params":{"name":"echo"}}'));
    blockedEcho(await c.readResponse(), 3);
    c.write(post('{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"echo"}}'));
    blockedEcho(await c.readResponse(), null);
  } finally {
    c.close();
  }
  // A notification-shaped call (no id) is dropped with 202, never forwarded.
  const note = await rawExchange(proxy!.port, post('{"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo"}}', 'Content-Type: application/json\r\nConnection: close\r\n'));
  assert.is(note.status, 202);
  // Repeated members: parsers that keep the first and the last would disagree.
  unreadable(await rawExchange(proxy!.port, post('{"jsonrpc":"2.0","id":4,"method":"ping","method":"tools/call","params":{"name":"echo"}}')), 400);
  unreadable(await rawExchange(proxy!.port, post('{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"other","name":"echo"}}')), 400);
  unreadable(await rawExchange(proxy!.port, post('{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"other"},"params":{"name":"echo"}}')), 400);
  unreadable(await rawExchange(proxy!.port, post('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x"},"\\u006dethod":"tools/call"}')), 400);
  // A batch holding a matched call.
  unreadable(await rawExchange(proxy!.port, post('[{"jsonrpc":"2.0","id":8,"method":"ping"},{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo"}}]')), 400);
  // Not JSON at all, or JSON with trailing bytes.
  unreadable(await rawExchange(proxy!.port, post('{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"echo"}} x')), 400);
  unreadable(await rawExchange(proxy!.port, post("{'method':'tools/call'}")), 400);
  assert.equal(seen, [], 'nothing reached the upstream');
});

bypass('an object id is echoed back as sent', async () => {
  const res = await rawExchange(proxy!.port, post('{"jsonrpc":"2.0","id":{"x":1},"method":"tools/call","params":{"name":"echo"}}', 'Content-Type: application/json\r\nConnection: close\r\n'));
  assert.is(res.status, 200);
  assert.equal((JSON.parse(res.body.toString()) as { id: unknown }).id, { x: 1 });
  assert.equal(seen, []);
});

bypass('padding past --inspect-limit, chunked bodies, other content types, upgrades', async () => {
  const padded = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}${' '.repeat(2000)}`;
  unreadable(await rawExchange(proxy!.port, post(padded)), 413);
  // The same padding without a Content-Length: refused once the gathered body passes the limit.
  const chunk = (s: string): string => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
  const chunked = `POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(padded.slice(0, 600))}${chunk(padded.slice(600))}0\r\n\r\n`;
  unreadable(await rawExchange(proxy!.port, chunked), 413);
  // A small chunked call, split in pieces with an extension: read and blocked.
  const body = '{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"echo"}}';
  const small = `POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${Buffer.byteLength(body.slice(0, 20)).toString(16)};ext=1\r\n${body.slice(0, 20)}\r\n${chunk(body.slice(20))}0\r\n\r\n`;
  blockedEcho(await rawExchange(proxy!.port, small), 11);
  // The content type is no way around it.
  blockedEcho(await rawExchange(proxy!.port, post(body, 'Content-Type: text/plain\r\nConnection: close\r\n')), 11);
  // Nor is a tunnel.
  unreadable(await rawExchange(proxy!.port, 'GET /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n'), 400);
  assert.equal(seen, []);
});

bypass('a body that arrives in pieces is held until whole, and 100-continue is answered by the proxy', async () => {
  const body = '{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"echo"}}';
  const c = await RawClient.connect(proxy!.port);
  try {
    c.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
    const cont = await c.readResponse();
    assert.is(cont.status, 100);
    c.write(body.slice(0, 30));
    await new Promise((r) => setImmediate(r));
    c.write(body.slice(30));
    blockedEcho(await c.readResponse(), 12);
  } finally {
    c.close();
  }
  assert.equal(seen, []);
});

// ---- hide over a JSON body, plain and chunked -------------------------------------------

const hide = suite('hide rewrites JSON bodies and event streams, re-framed');
let listUp: TestServer;

hide.before(async () => {
  listUp = await startHttpUpstream(async (req, res) => {
    const msg = JSON.parse((await readBody(req)).toString()) as { id: unknown };
    const result = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { tools: [{ name: 'get-env' }, { name: 'echo' }, { name: 'gzip-file' }], nextCursor: 'c2' } });
    const how = req.headers['x-how'];
    if (how === 'sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message\nid: e1\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}\n\n');
      // The response event split across writes, CRLF line ends.
      const ev = `event: message\r\nid: e2\r\ndata: ${result}\r\n\r\n`;
      res.write(ev.slice(0, 25));
      setTimeout(() => res.end(ev.slice(25)), 20);
      return;
    }
    if (how === 'chunked') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(result.slice(0, 10));
      res.end(result.slice(10));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(result) });
    res.end(result);
  });
  proxy = await proxyFor(listUp, { policyFile: policyFile('hide.yaml', RULES) });
});
hide.after(async () => {
  await proxy?.close();
  proxy = null;
  await listUp.close();
  rmSync(dir, { recursive: true, force: true });
});

hide('JSON with Content-Length and chunked: hidden entries gone, cursor kept, length re-framed', async () => {
  for (const how of ['length', 'chunked']) {
    const c = await RawClient.connect(proxy!.port);
    try {
      c.write(post('{"jsonrpc":"2.0","id":"L","method":"tools/list","params":{"cursor":"c1"}}', `Content-Type: application/json\r\nX-How: ${how}\r\n`));
      const res = await c.readResponse();
      assert.is(res.status, 200);
      assert.is(res.headers['content-length'], String(res.body.length));
      assert.is(res.headers['transfer-encoding'], undefined);
      const msg = JSON.parse(res.body.toString()) as { id: string; result: { tools: Array<{ name: string }>; nextCursor: string } };
      assert.is(msg.id, 'L');
      assert.equal(msg.result.tools.map((t) => t.name), ['echo']);
      assert.is(msg.result.nextCursor, 'c2');
      // The connection stays usable for the next request.
      c.write(post('{"jsonrpc":"2.0","id":"M","method":"tools/list"}', `Content-Type: application/json\r\nX-How: ${how}\r\n`));
      assert.is((await c.readResponse()).status, 200);
    } finally {
      c.close();
    }
  }
});

hide('an event stream: other events pass as sent, the response event is rewritten, framing is chunked', async () => {
  const res = await rawExchange(proxy!.port, post('{"jsonrpc":"2.0","id":5,"method":"tools/list"}', 'Content-Type: application/json\r\nX-How: sse\r\nConnection: close\r\n'));
  assert.is(res.status, 200);
  assert.is(res.headers['transfer-encoding'], 'chunked');
  const text = res.body.toString();
  assert.ok(text.startsWith('event: message\nid: e1\ndata: {"jsonrpc":"2.0","method":"notifications/message"'), text);
  assert.match(text, /event: message\nid: e2\ndata: \{"jsonrpc":"2.0","id":5,"result":\{"tools":\[\{"name":"echo"\}\],"nextCursor":"c2"\}\}\n\n$/);
});

const cli = suite('--policy on the command line');
cli.after(() => rmSync(dir, { recursive: true, force: true }));

cli('a bad rule file is a one-line error naming the rule and field, exit 2', async () => {
  const bad = policyFile('bad.yaml', 'rules:\n  - name: ok\n    action: block\n  - name: slow\n    action: delay\n    ms: -5\n');
  const r = await runCli(['forward', 'http', '--port', '0', '--policy', bad]);
  assert.is(r.code, 2);
  assert.is(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /policy .*bad\.yaml: rule 2 \(slow\): ms: expected whole milliseconds/);
  const missing = await runCli(['forward', 'stdio', '--policy', join(dir, 'nope.json'), '--', 'true']);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /cannot read it: ENOENT/);
  const tcp = await runCli(['forward', 'tcp', '--upstream', '127.0.0.1:1', '--policy', bad]);
  assert.is(tcp.code, 2);
});

cli('a typo in a rule\'s method fails the start, and a live edit to one keeps the old rules; custom: true loads', async () => {
  const typo = policyFile('typo.yaml', 'rules:\n  - name: no-sum\n    match: { method: tools/cal, tool: get-sum }\n    action: block\n');
  const r = await runCli(['forward', 'http', '--port', '0', '--policy', typo]);
  assert.is(r.code, 2);
  assert.is(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /rule 1 \(no-sum\): match.method: 'tools\/cal' is no MCP method \(nearest: tools\/call\)/);
  const file = policyFile('live.yaml', 'rules:\n  - name: no-sum\n    match: { method: tools/call, tool: get-sum }\n    action: block\n');
  const p = startCli(['forward', 'http', '--port', '0', '--multi-session', '--policy', file]);
  try {
    const port = Number((await p.waitFor((l) => l.msg === 'listening')).port);
    writeFileSync(file, 'rules:\n  - name: no-sum\n    match: { method: tools/cal, tool: get-sum }\n    action: block\n');
    const failed = await p.waitFor((l) => l.msg === 'policy reload failed: the rules in force stay');
    assert.match(String(failed.err), /nearest: tools\/call/);
    // The demo server has get-sum: the old rule still blocks it.
    const { client, transport, agent } = sdkClient(`http://127.0.0.1:${port}/mcp`, 'typo');
    await client.connect(transport);
    await expectMcpError(client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } }), -32001, /blocked by policy rule no-sum/);
    writeFileSync(file, 'rules:\n  - name: deploy\n    custom: true\n    match: { method: acme/deploy }\n    action: block\n');
    const reloaded = await p.waitFor((l) => l.msg === 'policy reloaded');
    assert.is(reloaded.rules, 1);
    await client.close();
    await agent.close();
  } finally {
    p.child.kill('SIGTERM');
    assert.is(await p.exited, 0);
  }
});

cli('SIGHUP reloads the file; a broken file is logged and the old rules stay', async () => {
  const file = policyFile('hup.json', JSON.stringify({ rules: [{ name: 'one', action: 'block', match: { method: 'tools/call' } }] }));
  const p = startCli(['forward', 'http', '--port', '0', '--policy', file, '--log-level', 'info']);
  try {
    await p.waitFor((l) => l.msg === 'listening');
    writeFileSync(file, JSON.stringify({ rules: [{ name: 'two', action: 'block' }] }));
    // The watcher may see the write first: either way a reload names the file.
    await p.waitFor((l) => l.msg === 'policy reloaded');
    p.child.kill('SIGHUP');
    await p.waitFor((l) => l.msg === 'policy reloaded' && l.why === 'SIGHUP');
    writeFileSync(file, '{"rules": [{"name": "bad"}]}');
    p.child.kill('SIGHUP');
    const failed = await p.waitFor((l) => l.msg === 'policy reload failed: the rules in force stay' && l.why === 'SIGHUP');
    assert.match(String(failed.err), /rule 1 \(bad\): action: expected one of/);
    assert.is(p.child.exitCode, null, 'SIGHUP does not end the process');
  } finally {
    p.child.kill('SIGTERM');
    assert.is(await p.exited, 0);
  }
});

cli('startProxy with the rules as an object: the SDK client to the demo server sees the block', async () => {
  const { startProxy: embed } = await import('../../dist/index.js');
  const running = await embed({ port: 0, multiSession: true, policy: { rules: [{ name: 'no-echo', match: { method: 'tools/call', tool: 'echo' }, action: 'block' }] } });
  try {
    const { client, transport, agent } = sdkClient(`http://127.0.0.1:${running.addresses.port}/mcp`, 'embedded');
    await client.connect(transport);
    await expectMcpError(client.callTool({ name: 'echo', arguments: { message: 'x' } }), -32001, /blocked by policy rule no-echo/);
    assert.is(running.policy()!.rules[0]!.hits, 1);
    assert.is(running.policy()!.file, null);
    await client.close();
    await agent.close();
  } finally {
    await running.close({ drainMs: 1000 });
  }
});

sdk.run();
stdio.run();
bypass.run();
hide.run();
cli.run();
