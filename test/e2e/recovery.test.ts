// --recover-sessions (docs/reference.md "MCP-aware resilience"): an MCP server on the SDK
// (StreamableHTTPServerTransport, stateful) is restarted on the same port mid-session. With
// the flag the SDK client's next call succeeds without re-initialising, under the same
// session id, and the new server got a fresh initialize; without it the client sees the
// 404; a recovery whose handshake fails passes the 404 down.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEverythingHttp } from '../helpers/everything.js';
import { adminGet, startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { sdkHttpClient } from '../helpers/sdk.js';
import { startTlsTerminator, TEST_CA } from '../helpers/tls-terminator.js';
import { readBody } from '../helpers/upstreams.js';

/** What the restartable server counts across its lives. */
interface Life {
  instance: number;
  inits: number;
  refuseInit: boolean;
}

/** A stateful SDK server on `port` (0: any); its sessions die with it. */
async function startSdkServer(port: number, life: Life): Promise<{ port: number; close(): Promise<void> }> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const instance = life.instance;
  const server = http.createServer((req, res) => {
    void (async () => {
      const sid = req.headers['mcp-session-id'];
      const raw = req.method === 'POST' ? (await readBody(req)).toString() : '';
      const body = raw === '' ? undefined : JSON.parse(raw) as { method?: string };
      let t = typeof sid === 'string' ? transports.get(sid) : undefined;
      if (t === undefined) {
        if (sid !== undefined || body?.method !== 'initialize') {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}');
          return;
        }
        if (life.refuseInit) {
          res.writeHead(503).end();
          return;
        }
        life.inits++;
        const fresh = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => void transports.set(id, fresh) });
        const mcp = new McpServer({ name: 'restartable', version: '1.0.0' });
        mcp.registerTool('whoami', { description: 'which server instance answers' }, async () => ({ content: [{ type: 'text' as const, text: `instance ${instance}` }] }));
        await mcp.connect(fresh);
        t = fresh;
      }
      await t.handleRequest(req, res, body);
    })();
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

const textOf = (result: unknown): string => (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');

const recovery = suite('--recover-sessions across an upstream restart');
let proxy: TestProxy | null = null;
let closers: Array<() => Promise<void>> = [];

recovery.after.each(async () => {
  await proxy?.close();
  proxy = null;
  for (const c of closers.splice(0)) await c();
});

async function scenario(recover: boolean, multiSession: boolean, refuseAfterRestart = false, overTls = false): Promise<{ second: string | Error; life: Life; before: string; after: string | undefined; metrics: string }> {
  const life: Life = { instance: 1, inits: 0, refuseInit: false };
  const first = await startSdkServer(0, life);
  let current = first;
  closers.push(() => current.close());
  // Over TLS: a terminator in front of the port, which outlives the server's restart.
  const tls = overTls ? await startTlsTerminator('server', first.port) : null;
  if (tls !== null) closers.push(() => tls.close());
  proxy = await startProxy({
    mode: 'http', multiSession, recoverSessions: recover, adminPort: 0,
    ...(tls === null ? { upstreamUrl: new URL(`http://127.0.0.1:${first.port}/mcp`) } : { upstreamUrl: new URL(`https://localhost:${tls.port}/mcp`), upstreamCa: TEST_CA }),
  });
  const client = new Client({ name: 'restart', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${proxy.port}/mcp`), {
    reconnectionOptions: { initialReconnectionDelay: 50, maxReconnectionDelay: 200, reconnectionDelayGrowFactor: 1, maxRetries: 2 },
  });
  await client.connect(transport);
  assert.is(textOf(await client.callTool({ name: 'whoami', arguments: {} })), 'instance 1');
  const before = transport.sessionId!;
  // The restart: the server and every session it held are gone; a new one takes the port.
  await first.close();
  // The terminator passes the close on to the proxy's link: let it arrive first, as it does without TLS.
  if (tls !== null) await until(() => tls.open() === 0, 5000, 'the upstream link closed through the terminator');
  life.instance = 2;
  life.refuseInit = refuseAfterRestart;
  current = await startSdkServer(first.port, life);
  let second: string | Error;
  try {
    second = textOf(await client.callTool({ name: 'whoami', arguments: {} }));
  } catch (err) {
    second = err as Error;
  }
  // From then on the mapping carries every call: no second recovery.
  const third = second instanceof Error ? null : textOf(await client.callTool({ name: 'whoami', arguments: {} }));
  if (third !== null) assert.is(third, 'instance 2');
  const after = transport.sessionId;
  const metrics = await adminGet(proxy.adminPort!, '/metrics');
  await client.close().catch(() => {});
  return { second, life, before, after, metrics };
}

for (const multiSession of [true, false]) {
  recovery(`${multiSession ? 'multi' : 'single'}-session: the next call succeeds under the same session id, and the new server got a fresh initialize`, async () => {
    const r = await scenario(true, multiSession);
    assert.is(r.second, 'instance 2', String(r.second));
    assert.is(r.after, r.before, 'the client kept its session id');
    assert.is(r.life.inits, 2, 'the new server was initialised by the proxy');
    assert.match(r.metrics, /shadowcat_mcp_sessions_recovered_total\{result="ok"\} 1/);
  });
}

recovery('over TLS with --upstream-ca: the handshake goes out with the upstream\'s TLS settings', async () => {
  const r = await scenario(true, true, false, true);
  assert.is(r.second, 'instance 2', String(r.second));
  assert.is(r.life.inits, 2);
  assert.match(r.metrics, /shadowcat_mcp_sessions_recovered_total\{result="ok"\} 1/);
});

recovery('without the flag the client sees the 404', async () => {
  const r = await scenario(false, true);
  assert.instance(r.second, Error);
  assert.match(String((r.second as Error).message), /404|Session not found/);
  assert.is(r.life.inits, 1);
});

recovery('a recovery whose handshake fails passes the 404 down', async () => {
  const r = await scenario(true, true, true);
  assert.instance(r.second, Error);
  assert.match(String((r.second as Error).message), /404|Session not found/);
  assert.match(r.metrics, /shadowcat_mcp_sessions_recovered_total\{result="failed"\} [1-9]/);
});

// The reference server: server-everything answers a session it does not know with
// 400 "Bad Request: No valid session ID provided", not 404.
const everything = suite('--recover-sessions in front of server-everything (which answers a forgotten session with 400)');

for (const multiSession of [true, false]) {
  everything(`${multiSession ? 'multi' : 'single'}-session: server-everything restarted on its port, the SDK client's next call succeeds`, async () => {
    let server = await startEverythingHttp();
    const port = server.port;
    const proxy = await startProxy({ mode: 'http', multiSession, recoverSessions: true, upstreamUrl: new URL(server.url), adminPort: 0 });
    const { client, transport, agent } = sdkHttpClient(`http://127.0.0.1:${proxy.port}/mcp`, 'recover-everything');
    try {
      await client.connect(transport);
      const first = await client.callTool({ name: 'echo', arguments: { message: 'one' } });
      assert.match(JSON.stringify(first), /Echo: one/);
      const before = transport.sessionId;
      await server.close();
      server = await startEverythingHttp(port);
      const second = await client.callTool({ name: 'echo', arguments: { message: 'two' } });
      assert.match(JSON.stringify(second), /Echo: two/);
      assert.is(transport.sessionId, before, 'the client kept its session id');
      assert.match(await adminGet(proxy.adminPort!, '/metrics'), /shadowcat_mcp_sessions_recovered_total\{result="ok"\} [1-9]/);
      // The lint still counts the 400 the server sent for an unknown session.
      assert.match(await adminGet(proxy.adminPort!, '/metrics'), /shadowcat_mcp_conformance_total\{rule="[^"]*"\} [1-9]/);
    } finally {
      await client.close().catch(() => {});
      await agent.close();
      await proxy.close();
      await server.close();
    }
  });
}

everything('a 400 about something other than the session is passed down, not recovered', async () => {
  const { isForgottenSession } = await import('../../dist/mcp/session-recovery.js');
  assert.ok(isForgottenSession(404, Buffer.alloc(0)));
  assert.ok(isForgottenSession(400, Buffer.from('{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: No valid session ID provided"},"id":null}')));
  assert.not.ok(isForgottenSession(400, Buffer.from('{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}')));
  assert.not.ok(isForgottenSession(400, Buffer.from('Bad Request: session')), 'not JSON');
  assert.not.ok(isForgottenSession(500, Buffer.from('{"error":{"message":"session"}}')));
});

recovery.run();
everything.run();
