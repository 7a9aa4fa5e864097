// Old clients in front (SPEC "Bridges" → "Legacy HTTP+SSE", --serve-sse): the SDK's
// SSEClientTransport against `forward http --serve-sse` in front of server-everything over
// Streamable HTTP, in front of a stdio child, and in front of server-everything's own SSE
// transport; a Streamable HTTP client beside them on the same port; what a malformed legacy
// POST gets. And --upstream-transport auto against both kinds of server.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Agent, fetch as undiciFetch } from 'undici';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, startCli, type CliProcess } from '../helpers/cli.js';
import { EVERYTHING, startEverythingHttp, type Everything } from '../helpers/everything.js';
import { alive } from '../helpers/processes.js';
import { adminGet, until } from '../helpers/proxy.js';
import { rawExchange } from '../helpers/raw-client.js';
import { progressBefore, recordArrivals, sdkHttpClient } from '../helpers/sdk.js';

function textOf(result: unknown): string {
  return (result as { content: Array<{ text?: string }> }).content.map((c) => c.text ?? '').join('');
}

interface Session { id: string; childPid?: number | null }
const sessions = async (admin: number): Promise<Session[]> => JSON.parse(await adminGet(admin, '/sessions')) as Session[];

/** Starts the CLI and waits for its listening line. */
async function proxyOf(args: string[]): Promise<{ proxy: CliProcess; port: number; admin: number; listening: Record<string, unknown> }> {
  const proxy = startCli(['forward', 'http', '--port', '0', '--admin-port', '0', ...args]);
  try {
    // With --workers, the primary's line (it names the workers) carries the ports.
    const workers = args.includes('--workers');
    const listening = await proxy.waitFor((l) => l.msg === 'listening' && (!workers || typeof l.workers === 'number'), 30_000);
    return { proxy, port: listening.port as number, admin: listening.adminPort as number, listening };
  } catch (err) {
    proxy.child.kill('SIGKILL');
    throw err;
  }
}

async function stop(proxy: CliProcess): Promise<void> {
  proxy.child.kill('SIGTERM');
  assert.is(await proxy.exited, 0, 'the proxy exits 0 on SIGTERM');
}

/** An SDK client over the legacy SSE transport, answering sampling requests. */
async function sseClient(url: string, name: string): Promise<{ client: Client; transport: SSEClientTransport }> {
  const transport = new SSEClientTransport(new URL(url));
  const client = new Client({ name, version: '1.0.0' }, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({ model: 'm', role: 'assistant', content: { type: 'text', text: `sampled for ${name}` } }));
  await client.connect(transport);
  return { client, transport };
}

/** Tools, echo, progress in order before the result; sampling when `sampling`. */
async function exercise(client: Client, transport: { onmessage?: unknown }, tag: string, sampling: boolean): Promise<void> {
  assert.ok((await client.listTools()).tools.some((t) => t.name === 'echo'));
  assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: tag } })), `Echo: ${tag}`);
  const seen = recordArrivals(transport as Parameters<typeof recordArrivals>[0]);
  await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, { onprogress: () => {} });
  assert.equal(progressBefore(seen, /Long running operation completed/), [1, 2, 3], `${tag}: every progress step on the SSE stream before the result`);
  if (sampling) assert.match(textOf(await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } })), /sampled for/);
}

let everything: Everything;
let everythingSse: Everything;
/** server-everything over Streamable HTTP and over SSE, for the suite's tests. */
function withServers(t: ReturnType<typeof suite>): void {
  t.before(async () => {
    [everything, everythingSse] = await Promise.all([startEverythingHttp(), startEverythingHttp(0, 'sse')]);
  });
  t.after(async () => {
    await everything.close();
    await everythingSse.close();
  });
}

const legacy = suite('--serve-sse: old clients in front of any upstream');
withServers(legacy);

legacy('in front of a Streamable HTTP server: two SSE clients and a Streamable HTTP client on one port; a closed SSE stream ends its session', async () => {
  const { proxy, port, admin } = await proxyOf(['--url', everything.url, '--serve-sse', '--multi-session']);
  try {
    const a = await sseClient(`http://127.0.0.1:${port}/sse`, 'old-a');
    const b = await sseClient(`http://127.0.0.1:${port}/sse`, 'old-b');
    const modern = sdkHttpClient(`http://127.0.0.1:${port}/mcp`, 'modern');
    await modern.client.connect(modern.transport);
    await Promise.all([exercise(a.client, a.transport, 'old a', true), exercise(b.client, b.transport, 'old b', true), exercise(modern.client, modern.transport, 'modern', false)]);
    assert.is((await sessions(admin)).length, 3);
    await a.client.close();
    await until(async () => (await sessions(admin)).length === 2, 10_000, 'the closed SSE client\'s session ended');
    assert.is(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'still here' } })), 'Echo: still here');
    await b.client.close();
    await modern.transport.terminateSession();
    await modern.client.close();
    await modern.agent.close();
    await until(async () => (await sessions(admin)).length === 0, 10_000, 'every session ended');
  } finally {
    await stop(proxy);
  }
});

legacy('in front of a stdio child (--multi-session): the SSE client\'s session has its own child, stopped when the stream closes', async () => {
  const { proxy, port, admin } = await proxyOf(['--serve-sse', '--multi-session', '--', process.execPath, EVERYTHING, 'stdio']);
  try {
    const { client, transport } = await sseClient(`http://127.0.0.1:${port}/sse`, 'old-stdio');
    await exercise(client, transport, 'to stdio', true);
    const [s] = await sessions(admin);
    const pid = s!.childPid!;
    assert.ok(pid > 0 && alive(pid), 'the session\'s child runs');
    await client.close();
    await until(() => !alive(pid), 10_000, 'the child stopped with the session');
  } finally {
    await stop(proxy);
  }
});

legacy('in front of an SSE server (--upstream-transport sse): old to old, the session\'s messages in order', async () => {
  const { proxy, port } = await proxyOf(['--url', everythingSse.url, '--upstream-transport', 'sse', '--serve-sse', '--multi-session']);
  try {
    const { client, transport } = await sseClient(`http://127.0.0.1:${port}/sse`, 'old-old');
    await exercise(client, transport, 'sse to sse', false);
    await client.close();
  } finally {
    await stop(proxy);
  }
});

legacy('SIGTERM with a call in flight on an SSE stream: the drain lets it finish there (the stream carries answers), then the proxy exits 0', async () => {
  const { proxy, port } = await proxyOf(['--serve-sse', '--multi-session', '--shutdown-timeout', '20', '--', process.execPath, EVERYTHING, 'stdio']);
  const { client } = await sseClient(`http://127.0.0.1:${port}/sse`, 'old-drain');
  let signalled = false;
  const long = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1.5, steps: 3 } }, undefined, {
    onprogress: () => {
      if (signalled) return;
      signalled = true;
      proxy.child.kill('SIGTERM');
    },
  });
  assert.match(textOf(await long), /Long running operation completed/);
  assert.ok(signalled, 'the proxy was told to stop mid-call');
  assert.is(await proxy.exited, 0);
  await client.close().catch(() => {});
});

legacy('malformed legacy POSTs: no sessionId 400, an unknown one 404, a body that is not JSON 400 (-32700); the session goes on', async () => {
  const { proxy, port, admin } = await proxyOf(['--url', everything.url, '--serve-sse']);
  try {
    const post = (path: string, body: string): string =>
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
    const ping = '{"jsonrpc":"2.0","id":7,"method":"ping"}';
    const none = await rawExchange(port, post('/message', ping), 10_000);
    assert.is(none.status, 400);
    assert.match(none.body.toString(), /sessionId/);
    const unknown = await rawExchange(port, post('/message?sessionId=00000000-0000-0000-0000-000000000000', ping), 10_000);
    assert.is(unknown.status, 404);
    const { client } = await sseClient(`http://127.0.0.1:${port}/sse`, 'old-bad');
    const [s] = await sessions(admin);
    const junk = await rawExchange(port, post(`/message?sessionId=${s!.id}`, '{not json'), 10_000);
    assert.is(junk.status, 400);
    assert.match(junk.body.toString(), /-32700/);
    assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'after junk' } })), 'Echo: after junk');
    await client.close();
  } finally {
    await stop(proxy);
  }
});

legacy('--workers 2: every POST on a new connection reaches the worker holding its SSE stream (relayed); SIGTERM leaves no child', async () => {
  const { proxy, port, admin } = await proxyOf(['--workers', '2', '--serve-sse', '--multi-session', '--', process.execPath, EVERYTHING, 'stdio']);
  const agent = new Agent({ maxRequestsPerClient: 1, keepAliveTimeout: 1 });
  const fresh = ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
  try {
    const clients = await Promise.all([0, 1, 2, 3].map(async (i) => {
      const transport = new SSEClientTransport(new URL(`http://127.0.0.1:${port}/sse`), { fetch: fresh });
      const client = new Client({ name: `relay-${i}`, version: '1.0.0' });
      await client.connect(transport);
      return client;
    }));
    await Promise.all(clients.map(async (client, i) => {
      for (let k = 0; k < 3; k++) assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: `m${i}.${k}` } })), `Echo: m${i}.${k}`);
    }));
    const metrics = await adminGet(admin, '/metrics');
    assert.ok(Number(/^shadowcat_bridge_relayed_requests_total (\d+)/m.exec(metrics)?.[1] ?? 0) > 0, 'some POSTs were relayed to the worker holding their stream');
    const pids = (await sessions(admin)).map((s) => s.childPid!);
    assert.is(pids.length, 4);
    proxy.child.kill('SIGTERM');
    const code = await proxy.exited;
    assert.is(code, 0, `exit code ${code}; the last log lines:\n${proxy.lines.slice(-12).map((l) => JSON.stringify(l)).join('\n')}`);
    await until(() => pids.every((p) => !alive(p)), 10_000, 'no child left');
    for (const c of clients) await c.close().catch(() => {});
  } finally {
    // SIGTERM reaches the workers through the primary; a SIGKILL would leave them running.
    if (proxy.child.exitCode === null && proxy.child.signalCode === null) proxy.child.kill('SIGTERM');
    await proxy.exited;
    await agent.close();
  }
});

legacy.run();

const auto = suite('--upstream-transport auto');
withServers(auto);

auto('forward http: Streamable HTTP where the server speaks it, SSE (logged) where its first initialize gets a 4xx', async () => {
  for (const [target, fellBack] of [[everything, false], [everythingSse, true]] as const) {
    const { proxy, port, listening } = await proxyOf(['--url', target.url, '--upstream-transport', 'auto', '--multi-session']);
    try {
      assert.is(listening.upstream, `auto: ${target.url}`);
      const { client, transport, agent } = sdkHttpClient(`http://127.0.0.1:${port}/mcp`, 'auto');
      client.registerCapabilities({ sampling: {} });
      client.setRequestHandler(CreateMessageRequestSchema, async () => ({ model: 'm', role: 'assistant', content: { type: 'text', text: 'sampled for auto' } }));
      await client.connect(transport);
      await exercise(client, transport, `auto ${fellBack ? 'sse' : 'streamable'}`, true);
      await transport.terminateSession();
      await client.close();
      await agent.close();
      assert.is(proxy.lines.some((l) => /falling back to the legacy SSE transport/.test(String(l.msg))), fellBack);
    } finally {
      await stop(proxy);
    }
  }
});

auto('forward stdio --url … auto: the SDK stdio client reaches an SSE-only server', async () => {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'forward', 'stdio', '--url', everythingSse.url, '--upstream-transport', 'auto'], stderr: 'pipe' });
  let log = '';
  transport.stderr!.on('data', (d: Buffer) => void (log += d.toString()));
  const client = new Client({ name: 'stdio-auto', version: '1.0.0' });
  await client.connect(transport);
  try {
    await exercise(client, transport, 'stdio auto', false);
    assert.match(log, /falling back to the legacy SSE transport/);
  } finally {
    await client.close();
  }
});

auto.run();
