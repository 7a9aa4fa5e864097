// forward stdio --url (SPEC "Bridges" → "stdio clients to remote servers"): the SDK's
// StdioClientTransport launches shadowcat, which speaks Streamable HTTP to server-everything.
// Tools, progress, a sampling request answered by the stdio client, resource updates on the
// GET stream; the upstream stopped mid-session (calls fail at once) and started again
// (--recover-sessions: calls go on); stdin closed → DELETE upstream and exit 0; an https
// upstream; a line that is not JSON.

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI } from '../helpers/cli.js';
import { startEverythingHttp, type Everything } from '../helpers/everything.js';
import { until } from '../helpers/proxy.js';
import { progressBefore, recordArrivals } from '../helpers/sdk.js';
import { startTlsTerminator, TEST_CA_FILE } from '../helpers/tls-terminator.js';

function textOf(result: unknown): string {
  return (result as { content: Array<{ text?: string }> }).content.map((c) => c.text ?? '').join('');
}

interface Launched {
  readonly client: Client;
  readonly transport: StdioClientTransport;
  readonly log: string[];
}

/** The SDK's stdio client launching `shadowcat forward stdio --url …`. */
async function launch(args: string[]): Promise<Launched> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'forward', 'stdio', ...args], stderr: 'pipe' });
  const log: string[] = [];
  transport.stderr!.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
  const client = new Client({ name: 'stdio-remote', version: '1.0.0' }, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({ model: 'test', role: 'assistant', content: { type: 'text', text: 'sampled on stdio' } }));
  await client.connect(transport);
  return { client, transport, log };
}

const remote = suite('forward stdio --url: a stdio client to a remote Streamable HTTP server');
let everything: Everything;

remote.before(async () => {
  everything = await startEverythingHttp();
});
remote.after(async () => {
  await everything.close();
});

remote('the SDK stdio client: tools, progress, sampling answered on stdio, resource updates on the GET stream; stdin closed → DELETE, exit 0', async () => {
  const { client, transport, log } = await launch(['--url', everything.url]);
  const pid = transport.pid!;
  try {
    const tools = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(tools.includes('echo'));
    assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'over stdio' } })), 'Echo: over stdio');
    const seen = recordArrivals(transport);
    const long = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, { onprogress: () => {} });
    assert.equal(progressBefore(seen, /Long running operation completed/), [1, 2, 3], 'every progress step, in order, before the result');
    assert.match(textOf(long), /Long running operation completed/);
    const sampled = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
    assert.match(textOf(sampled), /sampled on stdio/);
    const updated: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updated.push(n.params.uri));
    const uri = (await client.listResources()).resources[0]!.uri;
    await client.subscribeResource({ uri });
    await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    await until(() => updated.includes(uri), 15_000, 'a resource update on the GET stream');
    await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
  } catch (err) {
    await client.close();
    throw err;
  }

  const exited = new Promise<number | null>((resolve) => {
    const check = setInterval(() => {
      try {
        process.kill(pid, 0);
      } catch {
        clearInterval(check);
        resolve(0);
      }
    }, 50);
  });
  await client.close();
  await exited;
  const deleted = log.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'session ended upstream (DELETE)');
  assert.ok(deleted !== undefined, log.join('\n'));
  assert.is(deleted.status, 200);
  // The server forgot the session: the DELETE reached it.
  const res = await fetch(everything.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': deleted.mcp as string }, body: '{"jsonrpc":"2.0","id":9,"method":"tools/list"}' });
  assert.ok(res.status === 404 || res.status === 400, `the session is gone upstream: ${res.status}`);
});

remote('the upstream stopped mid-session: calls fail at once; started again with --recover-sessions: calls go on', async () => {
  const own = await startEverythingHttp();
  const port = own.port;
  const { client } = await launch(['--url', own.url, '--recover-sessions']);
  let stopped = false;
  try {
    assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'before' } })), 'Echo: before');
    await own.close();
    stopped = true;
    const started = Date.now();
    const err = await client.callTool({ name: 'echo', arguments: { message: 'down' } }).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof Error, 'an error, not a hang');
    assert.match((err as Error).message, /unreachable|upstream/i);
    assert.ok(Date.now() - started < 10_000, 'at once');
    const again = await startEverythingHttp(port);
    try {
      // A new server process knows no session: the proxy sets it up again and the call goes on.
      assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'after' } }, undefined, { timeout: 10_000 })), 'Echo: after');
    } finally {
      await client.close();
      await again.close();
    }
  } finally {
    if (!stopped) await own.close();
  }
});

remote('an https upstream with --upstream-ca', async () => {
  const terminator = await startTlsTerminator('server', everything.port);
  try {
    const { client } = await launch(['--url', `https://localhost:${terminator.port}/mcp`, '--upstream-ca', TEST_CA_FILE]);
    try {
      assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'tls' } })), 'Echo: tls');
    } finally {
      await client.close();
    }
  } finally {
    await terminator.close();
  }
});

remote('a line that is not JSON gets a parse error line and the session goes on; stdout carries JSON-RPC only', async () => {
  const child = spawn(process.execPath, [CLI, 'forward', 'stdio', '--url', everything.url, '--log-level', 'debug'], { stdio: ['pipe', 'pipe', 'pipe'] });
  // A failed assertion must not leave the child holding the test process open.
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  guard.unref();
  child.once('exit', () => clearTimeout(guard));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.resume();
  const lines = (): Array<Record<string, unknown>> => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  child.stdin.write('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}\n');
  await until(() => lines().some((l) => l.id === 1), 10_000, 'the initialize answer');
  child.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\nnot json at all\n{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"still"}}}\n');
  await until(() => lines().some((l) => l.id === 2), 10_000, 'the call after the bad line');
  const parseError = lines().find((l) => l.id === null) as { error: { code: number } } | undefined;
  assert.is(parseError?.error.code, -32700);
  assert.match(JSON.stringify(lines().find((l) => l.id === 2)), /Echo: still/);
  child.stdin.end();
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  assert.is(code, 0);
  for (const l of lines()) assert.is(l.jsonrpc, '2.0', 'nothing but JSON-RPC on stdout');
});

remote('--policy blocks and hides, --record writes the session\'s tape', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadowcat-stdio-remote-'));
  try {
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'rules:\n  - name: no-echo\n    match: { method: tools/call, tool: echo }\n    action: block\n  - name: hide-sum\n    match: { method: tools/list }\n    action: hide\n    names: ["get-sum"]\n');
    const { client } = await launch(['--url', everything.url, '--policy', rules, '--record', join(dir, 'tapes')]);
    const guard = setTimeout(() => void client.close(), 60_000);
    guard.unref();
    const tools = (await client.listTools()).tools.map((t) => t.name);
    assert.not.ok(tools.includes('get-sum'), 'hidden');
    const blocked = await client.callTool({ name: 'echo', arguments: { message: 'x' } }).then(() => null, (e: unknown) => e as Error);
    assert.match(String(blocked?.message), /blocked by policy rule no-echo/);
    const hidden = await client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } }).then(() => null, (e: unknown) => e as Error);
    assert.match(String(hidden?.message), /get-sum is not available/, 'a hidden tool is not callable either');
    assert.ok(((await client.callTool({ name: 'get-tiny-image', arguments: {} })).content as unknown[]).length > 0);
    await client.close();
    await until(() => readdirSync(join(dir, 'tapes')).some((f) => f.endsWith('.jsonl') && readFileSync(join(dir, 'tapes', f), 'utf8').includes('get-tiny-image')), 10_000, 'the tape');
    const tape = readdirSync(join(dir, 'tapes')).filter((f) => f.endsWith('.jsonl')).map((f) => readFileSync(join(dir, 'tapes', f), 'utf8')).join('');
    assert.match(tape, /blocked by policy rule no-echo/);
    assert.match(tape, /"method":"tools\/list"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

remote.run();
