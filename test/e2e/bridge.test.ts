// A stdio MCP server behind Streamable HTTP (SPEC "Bridges"): server-everything in stdio mode
// behind `forward http … -- <command>`, the SDK's Streamable HTTP client in front, in both
// session modes; then the failures gateways are known for, each a prompt answer with the
// proxy unharmed and no process left behind.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Config } from '../../dist/config.js';
import { EVERYTHING } from '../helpers/everything.js';
import { alive, childPids } from '../helpers/processes.js';
import { adminGet, openFds, startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { rawExchange } from '../helpers/raw-client.js';
import { sdkHttpClient } from '../helpers/sdk.js';

const everything = [process.execPath, EVERYTHING, 'stdio'];

async function bridge(overrides: Partial<Config> = {}, command: readonly string[] = everything): Promise<TestProxy> {
  return startProxy({ mode: 'http', command, adminPort: 0, ...overrides });
}

function textOf(result: unknown): string {
  return (result as { content: Array<{ text?: string }> }).content.map((c) => c.text ?? '').join('');
}

async function sessionsOf(proxy: TestProxy): Promise<Array<{ id: string; childPid?: number }>> {
  return JSON.parse(await adminGet(proxy.adminPort!, '/sessions')) as Array<{ id: string; childPid?: number }>;
}

const INIT = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}';
const post = (body: string, headers = ''): string =>
  `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;

const peers = suite('server-everything (stdio) behind the bridge, the SDK client in front');

for (const multiSession of [true, false]) {
  const mode = multiSession ? 'multi-session (a child per session)' : 'single-session (one shared child)';
  peers(`${mode}: three concurrent clients, tools, progress each sees as its own, sampling, resources, prompts, DELETE`, async () => {
    const proxy = await bridge({ multiSession });
    try {
      const url = `http://127.0.0.1:${proxy.port}/mcp`;
      const clients = [0, 1, 2].map((i) => sdkHttpClient(url, `client-${i}`));
      for (const { client } of clients) {
        client.registerCapabilities({ sampling: {} });
        client.setRequestHandler(CreateMessageRequestSchema, async () => ({ model: 'test', role: 'assistant', content: { type: 'text', text: `sampled by ${client.getServerVersion() === undefined ? '?' : 'me'}` } }));
      }
      await Promise.all(clients.map(({ client, transport }) => client.connect(transport)));
      const ids = clients.map(({ transport }) => transport.sessionId);
      assert.is(new Set(ids).size, 3, 'each client has its own MCP session');
      const sessions = await sessionsOf(proxy);
      assert.is(sessions.length, 3);
      const pids = new Set(sessions.map((s) => s.childPid));
      assert.is(pids.size, multiSession ? 3 : 1, 'children: one per session, or one shared');

      await Promise.all(clients.map(async ({ client }, i) => {
        const tools = (await client.listTools()).tools.map((t) => t.name);
        assert.ok(tools.includes('echo'));
        assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: `hello ${i}` } })), `Echo: hello ${i}`);
        const progress: number[] = [];
        const long = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3 + i * 0.1, steps: 3 } }, undefined, {
          onprogress: (p) => progress.push(p.progress),
        });
        assert.equal(progress, [1, 2, 3], `client ${i} sees exactly its own progress`);
        assert.match(textOf(long), /Long running operation completed/);
        const resources = await client.listResources();
        assert.ok(resources.resources.length > 0);
        const read = await client.readResource({ uri: resources.resources[0]!.uri });
        assert.ok(read.contents.length > 0);
        const prompts = await client.listPrompts();
        assert.ok(prompts.prompts.length > 0);
      }));
      if (multiSession) {
        // A server request (sampling) through the bridge, answered by the client that asked.
        const sampled = await clients[0]!.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
        assert.match(textOf(sampled), /sampled by me/);
      }
      // DELETE ends the session; with a child of its own, the child is stopped.
      const before = await sessionsOf(proxy);
      const pid = before.find((s) => s.id === ids[0])!.childPid!;
      await clients[0]!.transport.terminateSession();
      await until(async () => (await sessionsOf(proxy)).length === 2, 10_000, 'the session to end');
      if (multiSession) await until(() => !alive(pid), 10_000, 'its child to exit');
      else assert.ok(alive(pid), 'the shared child serves the others');
      assert.is(textOf(await clients[1]!.client.callTool({ name: 'echo', arguments: { message: 'still' } })), 'Echo: still');
      for (const { client, agent } of clients) {
        await client.close();
        await agent.close();
      }
      await proxy.close();
      for (const p of pids) await until(() => !alive(p!), 10_000, `child ${p} gone after shutdown`);
    } finally {
      await proxy.close();
    }
  });
}

peers('the GET stream: messages wait for it while none is open, carry ids, a new GET replaces an older one, Last-Event-ID resumes', async () => {
  const proxy = await bridge({ multiSession: true });
  const raw = await import('../helpers/raw-client.js');
  try {
    const { client, transport, agent } = sdkHttpClient(`http://127.0.0.1:${proxy.port}/mcp`, 'get-stream');
    await client.connect(transport);
    await client.setLoggingLevel('debug');
    const sid = transport.sessionId!;
    // The SDK client goes away without DELETE; its session lives on, and log messages wait for a GET stream.
    await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    await client.close();
    await agent.close();
    const events = (text: string): number[] => [...text.matchAll(/id: (\d+)\nevent: message\ndata: .*notifications\/message/g)].map((m) => Number(m[1]));
    const a = await raw.RawClient.connect(proxy.port);
    a.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${sid}\r\n\r\n`);
    await until(() => events(a.buffered.toString()).length >= 2, 30_000, 'two log messages on the first GET stream');
    const first = events(a.buffered.toString())[0]!;
    const b = await raw.RawClient.connect(proxy.port);
    b.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${sid}\r\nLast-Event-ID: ${first}\r\n\r\n`);
    // The older stream is ended; the new one starts right after the event it names.
    await a.waitClosed(10_000);
    await until(() => events(b.buffered.toString()).length >= 1, 30_000, 'the resumed stream');
    assert.is(events(b.buffered.toString())[0], events(a.buffered.toString())[1], 'resumed after the last event seen');
    b.close();
  } finally {
    await proxy.close();
  }
});

peers('the SDK reconnects its own GET stream: another GET takes it over, the SDK takes it back (Last-Event-ID) and its messages reach it', async () => {
  const proxy = await bridge({ multiSession: true });
  const raw = await import('../helpers/raw-client.js');
  try {
    const { client, transport, agent } = sdkHttpClient(`http://127.0.0.1:${proxy.port}/mcp`, 'sdk-reconnect');
    const logged: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logged.push(n.params.data));
    const errors: string[] = [];
    transport.onerror = (e) => void errors.push(e.message);
    await client.connect(transport);
    await client.setLoggingLevel('debug');
    // A second GET for the session (another tab, a stale client) ends the SDK's stream; the SDK opens it again.
    const other = await raw.RawClient.connect(proxy.port);
    other.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${transport.sessionId!}\r\n\r\n`);
    await other.readResponse({ head: true });
    await other.waitClosed(15_000);
    // The SDK's stream is back: a message tied to no request (the first simulated log line) reaches it.
    await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    await until(() => logged.length > 0, 15_000, 'a log message on the SDK\'s reopened GET stream');
    await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    assert.is(errors.filter((e) => /Maximum reconnection|Failed to reconnect/.test(e)).length, 0, errors.join('; '));
    await client.close();
    await agent.close();
  } finally {
    await proxy.close();
  }
});

// A stdio server that floods: 300 stderr lines at start, and 30 log notifications (tied to no request) per tools/call.
const NOISY = `
process.stderr.write(Array.from({ length: 300 }, (_, i) => 'noise ' + i).join('\\n') + '\\n');
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const m = JSON.parse(buf.slice(0, i));
    buf = buf.slice(i + 1);
    const out = (o) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...o }) + '\\n');
    if (m.method === 'initialize') out({ id: m.id, result: { protocolVersion: '2025-06-18', capabilities: { tools: {}, logging: {} }, serverInfo: { name: 'noisy', version: '1' } } });
    else if (m.method === 'tools/call') {
      for (let n = 0; n < 30; n++) out({ method: 'notifications/message', params: { level: 'info', data: 'flood ' + n } });
      out({ id: m.id, result: { content: [{ type: 'text', text: 'flooded' }] } });
    }
  }
});
process.stdin.on('end', () => process.exit(0));
`;

peers('a flooding child: --event-buffer keeps the newest and counts the rest, stderr is logged at 20 lines a second; a pool child that keeps dying is replaced with a growing backoff', async () => {
  const { startCli } = await import('../helpers/cli.js');
  const dir = mkdtempSync(join(tmpdir(), 'shadowcat-noisy-'));
  const script = join(dir, 'noisy.cjs');
  writeFileSync(script, NOISY);
  const cli = startCli(['forward', 'http', '--port', '0', '--admin-port', '0', '--multi-session', '--event-buffer', '5', '--', process.execPath, script]);
  try {
    const listening = await cli.waitFor((l) => l.msg === 'listening', 15_000);
    const port = listening.port as number;
    const init = await rawExchange(port, post(INIT));
    const sid = init.headers['mcp-session-id']!;
    const call = await rawExchange(port, post('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"flood","arguments":{}}}', `Mcp-Session-Id: ${sid}\r\n`));
    assert.match(call.body.toString(), /flooded/);
    // No GET stream was open: the 30 messages wait in a buffer of 5; the oldest 25 are dropped and counted.
    const metrics = await adminGet(listening.adminPort as number, '/metrics');
    assert.match(metrics, /^shadowcat_bridge_events_dropped_total 25$/m);
    const { RawClient } = await import('../helpers/raw-client.js');
    const get = await RawClient.connect(port);
    get.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${sid}\r\n\r\n`);
    await until(() => get.buffered.toString().includes('flood 29'), 10_000, 'the buffered messages on the GET stream');
    const floods = [...get.buffered.toString().matchAll(/flood (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(floods, [25, 26, 27, 28, 29], 'the newest five (the answer of the POST, already sent, made room first)');
    get.close();
    // 300 stderr lines in one burst: 20 logged with the session id, the rest counted in one warning.
    await cli.waitFor((l) => l.msg === 'child stderr lines suppressed' || cli.lines.filter((x) => x.msg === 'child stderr').length >= 20, 10_000);
    const logged = cli.lines.filter((l) => l.msg === 'child stderr');
    assert.ok(logged.length <= 20, `at most 20 stderr lines logged in the first second: ${logged.length}`);
    assert.ok(logged.every((l) => l.sid === sid), 'with the session id');
  } finally {
    cli.child.kill('SIGKILL');
    await cli.exited;
  }
  // A pool child that exits at once is replaced after 250, 500, 1000 ms …
  const dying = startCli(['forward', 'http', '--port', '0', '--multi-session', '--stdio-pool', '1', '--', process.execPath, '-e', 'process.exit(3)']);
  try {
    await until(() => dying.lines.filter((l) => l.msg === 'a ready stdio child exited: replacing it').length >= 3, 15_000, 'three replacements');
    const waits = dying.lines.filter((l) => l.msg === 'a ready stdio child exited: replacing it').slice(0, 3).map((l) => l.retryMs as number);
    assert.ok(waits[0]! < waits[1]! && waits[1]! < waits[2]!, `a growing backoff: ${waits.join(', ')}`);
  } finally {
    dying.child.kill('SIGTERM');
    assert.is(await dying.exited, 0);
    rmSync(dir, { recursive: true, force: true });
  }
});

const failures = suite('child failures are answers, never hangs; nothing is left behind');

failures('a command that cannot be started: 502 child-spawn naming it; the proxy lives on', async () => {
  const proxy = await bridge({ multiSession: true }, ['/nonexistent/mcp-server']);
  try {
    for (let i = 0; i < 2; i++) {
      const r = await rawExchange(proxy.port, post(INIT));
      assert.is(r.status, 502, r.raw.toString());
      const body = JSON.parse(r.body.toString()) as { id: unknown; error: { message: string; data: { reason: string } } };
      assert.is(body.error.data.reason, 'child-spawn');
      assert.match(body.error.message, /\/nonexistent\/mcp-server/);
      assert.is(body.id, 1);
    }
    await until(async () => (await sessionsOf(proxy)).length === 0, 5000, 'no session left');
  } finally {
    await proxy.close();
  }
});

failures('a child that exits at once, and one that prints a banner first: 502 child-exited, and a banner is skipped', async () => {
  const quits = await bridge({ multiSession: true }, [process.execPath, '-e', 'process.exit(3)']);
  try {
    const r = await rawExchange(quits.port, post(INIT));
    assert.is(r.status, 502);
    const body = JSON.parse(r.body.toString()) as { error: { message: string; data: { reason: string } } };
    assert.is(body.error.data.reason, 'child-exited');
    assert.match(body.error.message, /code 3/);
  } finally {
    await quits.close();
  }
  const banner = `console.log('Welcome to my server v1!');
    require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
      const m = JSON.parse(l);
      if (m.id !== undefined) console.log(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'banner', version: '1' } } }));
    });`;
  const proxy = await bridge({ multiSession: true }, [process.execPath, '-e', banner]);
  try {
    const r = await rawExchange(proxy.port, post(INIT, 'Accept: application/json\r\n').replace('Accept: application/json, text/event-stream\r\n', ''));
    assert.is(r.status, 200, r.raw.toString());
    assert.match(r.body.toString(), /"serverInfo":\{"name":"banner"/);
    assert.match(await adminGet(proxy.adminPort!, '/metrics'), /shadowcat_mcp_conformance_total\{rule="non-json-stdout"\} 1/);
  } finally {
    await proxy.close();
  }
});

failures('a child that never answers initialize: 504 within --upstream-timeout, session and child gone', async () => {
  const proxy = await bridge({ multiSession: true, upstreamTimeoutMs: 500 }, [process.execPath, '-e', 'process.stdin.resume(); setInterval(() => {}, 1000)']);
  try {
    const r = await rawExchange(proxy.port, post(INIT));
    assert.is(r.status, 504);
    assert.is((JSON.parse(r.body.toString()) as { id: unknown }).id, 1);
    await until(async () => (await sessionsOf(proxy)).length === 0, 5000, 'the session to end');
  } finally {
    await proxy.close();
  }
});

failures('a child killed during a long call: the call gets a JSON-RPC error at once, later requests 404', async () => {
  const proxy = await bridge({ multiSession: true });
  try {
    const { client, transport, agent } = sdkHttpClient(`http://127.0.0.1:${proxy.port}/mcp`, 'killed');
    await client.connect(transport);
    const [s] = await sessionsOf(proxy);
    let progressed: () => void = () => {};
    const started = new Promise<void>((r) => (progressed = r));
    const long = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 30 } }, undefined, { onprogress: () => progressed() });
    await started; // the child is working on it
    process.kill(s!.childPid!, 'SIGKILL');
    const t0 = Date.now();
    const err = await long.then(() => null, (e: unknown) => e);
    assert.ok(err !== null, 'the call failed');
    assert.ok(Date.now() - t0 < 5000, 'promptly');
    assert.match(String((err as Error).message), /exited|child/);
    const later = await rawExchange(proxy.port, post('{"jsonrpc":"2.0","id":9,"method":"ping"}', `Mcp-Session-Id: ${s!.id}\r\n`));
    assert.is(later.status, 404);
    await client.close().catch(() => {});
    await agent.close();
  } finally {
    await proxy.close();
  }
});

failures('protocol edges: a request without a session is 400, an unknown session 404, GET without Accept 406', async () => {
  const proxy = await bridge({ multiSession: true });
  try {
    assert.is((await rawExchange(proxy.port, post('{"jsonrpc":"2.0","id":2,"method":"tools/list"}'))).status, 400);
    assert.is((await rawExchange(proxy.port, post('{"jsonrpc":"2.0","id":2,"method":"tools/list"}', 'Mcp-Session-Id: nope\r\n'))).status, 404);
    assert.is((await rawExchange(proxy.port, 'GET /mcp HTTP/1.1\r\nHost: localhost\r\nMcp-Session-Id: nope\r\nConnection: close\r\n\r\n')).status, 406);
    assert.is((await rawExchange(proxy.port, post('{not json'))).status, 400);
    assert.is((await rawExchange(proxy.port, 'PUT /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')).status, 405);
  } finally {
    await proxy.close();
  }
});

failures('200 sessions abandoned without DELETE under --session-timeout 1: every child gone', async () => {
  const proxy = await bridge({ multiSession: true, sessionTimeoutMs: 1000, maxPerClient: 1000 }, [process.execPath, '-e', `
    require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
      const m = JSON.parse(l);
      if (m.id !== undefined) console.log(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'tiny', version: '1' } } }));
    });`]);
  try {
    const fdsBefore = await openFds();
    const pids: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => rawExchange(proxy.port, post(INIT))));
      assert.ok(answers.every((a) => a.status === 200), 'every initialize answered');
      // Sessions of earlier batches may have expired already: what is listed now is a sample.
      for (const s of await sessionsOf(proxy)) if (s.childPid !== undefined && !pids.includes(s.childPid)) pids.push(s.childPid);
    }
    assert.match(await adminGet(proxy.adminPort!, '/metrics'), /shadowcat_sessions_total 200/);
    assert.ok(pids.length >= 20, `${pids.length} children seen`);
    await until(async () => (await sessionsOf(proxy)).length === 0, 30_000, 'every session to expire');
    await until(() => pids.every((p) => !alive(p)), 30_000, 'every child to exit');
    // And by the process tree: no child of this process (the proxy runs in it) is left.
    await until(() => childPids().length === 0, 30_000, 'no child process left');
    // Three pipes a child: all closed with it.
    await until(async () => (await openFds()) <= fdsBefore + 10, 10_000, `fds back near ${fdsBefore}`);
  } finally {
    await proxy.close();
  }
});

failures('SIGTERM with sessions open: GET streams end with retry, a call in flight finishes, every child is gone after exit', async () => {
  const { startCli } = await import('../helpers/cli.js');
  const p = startCli(['forward', 'http', '--port', '0', '--multi-session', '--admin-port', '0', '--shutdown-timeout', '10', '--', ...everything]);
  const port = Number((await p.waitFor((l) => l.msg === 'listening' && l.adminPort !== null)).port);
  const adminPort = Number(p.lines.find((l) => l.msg === 'listening')!.adminPort);
  const clients = [0, 1].map((i) => sdkHttpClient(`http://127.0.0.1:${port}/mcp`, `term-${i}`));
  await Promise.all(clients.map(({ client, transport }) => client.connect(transport)));
  const pids = (JSON.parse(await adminGet(adminPort, '/sessions')) as Array<{ childPid: number }>).map((s) => s.childPid);
  assert.is(pids.length, 2);
  const raw = await import('../helpers/raw-client.js');
  const get = await raw.RawClient.connect(port);
  get.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${clients[1]!.transport.sessionId}\r\n\r\n`);
  await until(() => get.buffered.toString().includes('200 OK'), 10_000, 'the GET stream');
  let progressed: () => void = () => {};
  const started = new Promise<void>((r) => (progressed = r));
  const long = clients[0]!.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 2 } }, undefined, { onprogress: () => progressed() });
  await started; // the call is in flight in its child
  p.child.kill('SIGTERM');
  assert.match(textOf(await long), /completed/, 'the call in flight finished');
  await get.waitClosed(10_000);
  assert.match(get.buffered.toString(), /retry: 1000/);
  assert.is(await p.exited, 0);
  await until(() => pids.every((pid) => !alive(pid)), 10_000, 'no child outlives the proxy');
  for (const { client, agent } of clients) {
    await client.close().catch(() => {});
    await agent.close();
  }
});

const routing = suite('a shared child: what the child receives, id by id');

routing('one handshake, client ids rewritten, a cancel and a session end reach the child with its ids, an ambiguous server request is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadowcat-routing-'));
  const seen = join(dir, 'seen.jsonl');
  // Records every line it receives; `hang` is never answered; `ask` sends a server request first.
  const child = `
    const fs = require('fs');
    const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
    require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
      fs.appendFileSync(${JSON.stringify(seen)}, l + '\\n');
      const m = JSON.parse(l);
      if (m.method === 'initialize') out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'rec', version: '1' } } });
      else if (m.method === 'tools/call' && m.params.name === 'ask') out({ jsonrpc: '2.0', id: 's1', method: 'roots/list' });
    });`;
  const proxy = await bridge({ multiSession: false }, [process.execPath, '-e', child]);
  const lines = (): Array<Record<string, unknown>> => {
    try {
      return readFileSync(seen, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    } catch {
      return [];
    }
  };
  const url = `http://127.0.0.1:${proxy.port}/mcp`;
  const send = (body: unknown, sid?: string): Promise<Response> => fetch(url, {
    method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(sid === undefined ? {} : { 'mcp-session-id': sid }) },
  });
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'r', version: '1' } } };
  const pending: Array<Promise<unknown>> = [];
  try {
    const a = (await send(init)).headers.get('mcp-session-id')!;
    const b = (await send(init)).headers.get('mcp-session-id')!;
    assert.is.not(a, b);
    for (const sid of [a, b]) assert.is((await send({ jsonrpc: '2.0', method: 'notifications/initialized' }, sid)).status, 202);
    pending.push(send({ jsonrpc: '2.0', id: 'a1', method: 'tools/call', params: { name: 'hang' } }, a).catch(() => null));
    pending.push(send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hang' } }, b).catch(() => null));
    await until(() => lines().filter((l) => l.method === 'tools/call').length === 2, 10_000, 'both calls at the child');
    const calls = lines().filter((l) => l.method === 'tools/call');
    assert.is(lines().filter((l) => l.method === 'initialize').length, 1, 'one handshake for both clients');
    assert.is(lines().filter((l) => l.method === 'notifications/initialized').length, 1);
    assert.is.not(calls[0]!.id, calls[1]!.id, 'client ids rewritten: no collision');
    assert.ok(calls.every((c) => c.id !== 'a1'), 'the child never sees a client id');
    // A's cancel names its own id; the child gets the id it knows.
    assert.is((await send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'a1' } }, a)).status, 202);
    await until(() => lines().some((l) => l.method === 'notifications/cancelled'), 10_000, 'the cancel at the child');
    assert.is((lines().find((l) => l.method === 'notifications/cancelled')!.params as { requestId: unknown }).requestId, calls[0]!.id);
    // A server request while both sessions have calls in flight: nobody to ask, the child gets an error.
    pending.push(send({ jsonrpc: '2.0', id: 'a2', method: 'tools/call', params: { name: 'ask' } }, a).catch(() => null));
    await until(() => lines().some((l) => l.id === 's1' && l.error !== undefined), 10_000, 'the refused server request');
    // B ends: its call in flight is cancelled upstream under the child's id.
    const del = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': b } });
    assert.is(del.status, 204);
    await until(() => lines().filter((l) => l.method === 'notifications/cancelled').length === 2, 10_000, 'the cancel of the ended session');
    assert.is((lines().filter((l) => l.method === 'notifications/cancelled')[1]!.params as { requestId: unknown }).requestId, calls[1]!.id);
  } finally {
    await proxy.close();
    await Promise.all(pending);
    rmSync(dir, { recursive: true, force: true });
  }
});

routing('--rate-limit and what node:http refuses before a request exists: the error table\'s status and JSON-RPC body', async () => {
  const proxy = await bridge({ multiSession: true, rateLimit: 1, maxHeaderBytes: 1024 }, [process.execPath, '-e', 'process.stdin.resume()']);
  try {
    const first = await rawExchange(proxy.port, post('{"jsonrpc":"2.0","id":3,"method":"ping"}'));
    assert.is(first.status, 400, 'no session: 400, but admitted by the limiter');
    const limited = await rawExchange(proxy.port, post('{"jsonrpc":"2.0","id":3,"method":"ping"}'));
    assert.is(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.is((JSON.parse(limited.body.toString()) as { error: { data: { reason: string } } }).error.data.reason, 'rate_limited');
    const big = await rawExchange(proxy.port, `GET /mcp HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`);
    assert.is(big.status, 431);
    assert.is((JSON.parse(big.body.toString()) as { jsonrpc: string }).jsonrpc, '2.0');
    const bad = await rawExchange(proxy.port, 'GET /mcp HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n');
    assert.is(bad.status, 400);
    assert.is((JSON.parse(bad.body.toString()) as { error: { data: { reason: string } } }).error.data.reason, 'bad_request');
  } finally {
    await proxy.close();
  }
});

const config = suite('bridge settings');

config('a policy blocks and hides on the bridge; --record writes a tape replay plays back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadowcat-bridge-'));
  try {
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'rules:\n  - name: no-echo\n    match: { method: tools/call, tool: echo }\n    action: block\n  - name: hide-sum\n    match: { method: tools/list }\n    action: hide\n    names: ["get-sum"]\n');
    const proxy = await bridge({ multiSession: false, policyFile: rules, recordDir: join(dir, 'tapes') });
    try {
      const { client, transport, agent } = sdkHttpClient(`http://127.0.0.1:${proxy.port}/mcp`, 'policy');
      await client.connect(transport);
      const tools = (await client.listTools()).tools.map((t) => t.name);
      assert.not.ok(tools.includes('get-sum'), 'hidden');
      assert.ok(tools.includes('echo'));
      const blocked = await client.callTool({ name: 'echo', arguments: { message: 'x' } }).then(() => null, (e: unknown) => e as Error);
      assert.match(String(blocked?.message), /blocked by policy rule no-echo/);
      assert.match(textOf(await client.callTool({ name: 'get-tiny-image', arguments: {} })).toString(), /|/);
      await transport.terminateSession();
      await client.close();
      await agent.close();
    } finally {
      await proxy.close();
    }
    const tapes = readdirSync(join(dir, 'tapes')).filter((f) => f.endsWith('.jsonl'));
    assert.is(tapes.length, 1);
    const lines = readFileSync(join(dir, 'tapes', tapes[0]!), 'utf8');
    assert.match(lines, /"method":"tools\/list"/);
    assert.match(lines, /blocked by policy rule no-echo/);
    // The tape is a fake upstream: replay answers the SDK client as the bridge did.
    const { startCli } = await import('../helpers/cli.js');
    const replay = startCli(['replay', join(dir, 'tapes'), '--port', '0', '--timing', 'fast']);
    try {
      const url = String((await replay.waitFor((l) => l.msg === 'replaying')).url);
      const { client, transport, agent } = sdkHttpClient(url, 'replayed');
      await client.connect(transport);
      const tools = (await client.listTools()).tools.map((t) => t.name);
      assert.ok(tools.includes('echo') && !tools.includes('get-sum'), tools.join(','));
      await client.close();
      await agent.close();
    } finally {
      replay.child.kill('SIGTERM');
      await replay.exited;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

config('start errors: --url with a command, --stdio-pool without --multi-session', async () => {
  const { runCli } = await import('../helpers/cli.js');
  for (const [args, re] of [
    [['forward', 'http', '--url', 'http://h/mcp', '--', 'node', 'x.js'], /two upstreams/],
    [['forward', 'http', '--stdio-pool', '2', '--', 'node', 'x.js'], /--stdio-pool needs --multi-session/],
  ] as Array<[string[], RegExp]>) {
    const r = await runCli(args);
    assert.is(r.code, 2, args.join(' '));
    assert.match(r.stderr, re);
  }
});

config('the embedding API: startProxy({ command }) serves a stdio server; close() stops its child', async () => {
  const { startProxy: embed } = await import('../../dist/index.js');
  const seen: string[] = [];
  const running = await embed({ port: 0, multiSession: true, command: everything, hooks: { onMessage: (m) => seen.push(`${m.from} ${m.method}${m.name === null ? '' : ` ${m.name}`}`) } });
  const { client, transport, agent } = sdkHttpClient(`http://127.0.0.1:${running.addresses.port}/mcp`, 'embedded');
  await client.connect(transport);
  assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'embedded' } })), 'Echo: embedded');
  const pid = (running.sessions()[0] as unknown as { childPid: number }).childPid;
  assert.ok(seen.includes('client tools/call echo'), seen.join(', '));
  await client.close();
  await agent.close();
  await running.close({ drainMs: 500 });
  await until(() => !alive(pid), 10_000, 'the child stopped');
  const bad = await embed({ command: [] as string[] }).then(() => null, (e: unknown) => e as Error);
  assert.match(String(bad?.message), /command must be a non-empty list/);
});

config('--stdio-pool: children wait ready, one taken is replaced, /metrics shows them', async () => {
  const proxy = await bridge({ multiSession: true, stdioPool: 2 });
  try {
    await until(async () => /shadowcat_stdio_children\{state="ready"\} 2/.test(await adminGet(proxy.adminPort!, '/metrics')), 10_000, 'two ready');
    const { client, transport, agent } = sdkHttpClient(`http://127.0.0.1:${proxy.port}/mcp`, 'pooled');
    await client.connect(transport);
    assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'pooled' } })), 'Echo: pooled');
    await until(async () => {
      const m = await adminGet(proxy.adminPort!, '/metrics');
      return /shadowcat_stdio_children\{state="ready"\} 2/.test(m) && /shadowcat_stdio_children\{state="active"\} 1/.test(m);
    }, 10_000, 'the pool refilled');
    await client.close();
    await agent.close();
  } finally {
    await proxy.close();
  }
});

peers.run();
failures.run();
routing.run();
config.run();
