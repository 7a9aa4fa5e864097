// The legacy HTTP+SSE transport (MCP 2024-11-05) upstream (SPEC "Bridges" → "Legacy
// HTTP+SSE"): server-everything in sse mode behind `forward http --upstream-transport sse`
// (the SDK's Streamable HTTP client in front, both session modes) and behind
// `forward stdio --url … --upstream-transport sse` (the SDK's stdio client); an SSE server
// that never names its endpoint, and one that names an endpoint on another origin.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, startCli } from '../helpers/cli.js';
import { startEverythingHttp, type Everything } from '../helpers/everything.js';
import { adminGet, until } from '../helpers/proxy.js';
import { rawExchange } from '../helpers/raw-client.js';
import { progressBefore, recordArrivals, sdkHttpClient } from '../helpers/sdk.js';

function textOf(result: unknown): string {
  return (result as { content: Array<{ text?: string }> }).content.map((c) => c.text ?? '').join('');
}

const INIT = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}';
const post = (body: string): string =>
  `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;

const sse = suite('a legacy SSE server upstream');
let everything: Everything;
sse.before(async () => {
  everything = await startEverythingHttp(0, 'sse');
});
sse.after(async () => {
  await everything.close();
});

for (const multi of [true, false]) {
  sse(`forward http --upstream-transport sse${multi ? ' --multi-session' : ''}: SDK Streamable HTTP clients list and call tools, progress and sampling`, async () => {
    const proxy = startCli(['forward', 'http', '--port', '0', '--admin-port', '0', '--url', everything.url, '--upstream-transport', 'sse', ...(multi ? ['--multi-session'] : [])]);
    try {
      const listening = await proxy.waitFor((l) => l.msg === 'listening', 15_000);
      assert.is(listening.upstream, `sse: ${everything.url}`);
      const url = `http://127.0.0.1:${listening.port as number}/mcp`;
      const clients = [0, 1].map((i) => sdkHttpClient(url, `sse-${i}`));
      for (const { client } of clients) {
        client.registerCapabilities({ sampling: {} });
        client.setRequestHandler(CreateMessageRequestSchema, async () => ({ model: 'm', role: 'assistant', content: { type: 'text', text: 'sampled through sse' } }));
      }
      await Promise.all(clients.map(({ client, transport }) => client.connect(transport)));
      await Promise.all(clients.map(async ({ client }, i) => {
        assert.ok((await client.listTools()).tools.some((t) => t.name === 'echo'));
        assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: `sse ${i}` } })), `Echo: sse ${i}`);
        const progress: number[] = [];
        await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
        assert.equal(progress, [1, 2, 3], `client ${i} sees its own progress`);
      }));
      if (multi) assert.match(textOf(await clients[0]!.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } })), /sampled through sse/);
      const sessions = JSON.parse(await adminGet(listening.adminPort as number, '/sessions')) as unknown[];
      assert.is(sessions.length, 2);
      for (const { client, transport, agent } of clients) {
        await transport.terminateSession();
        await client.close();
        await agent.close();
      }
      await until(async () => (JSON.parse(await adminGet(listening.adminPort as number, '/sessions')) as unknown[]).length === 0, 10_000, 'sessions ended');
    } finally {
      proxy.child.kill('SIGTERM');
      assert.is(await proxy.exited, 0);
    }
  });
}

sse('forward stdio --url … --upstream-transport sse: the SDK stdio client', async () => {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'forward', 'stdio', '--url', everything.url, '--upstream-transport', 'sse'], stderr: 'pipe' });
  transport.stderr!.on('data', () => {});
  const client = new Client({ name: 'stdio-sse', version: '1.0.0' });
  await client.connect(transport);
  assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'stdio to sse' } })), 'Echo: stdio to sse');
  const seen = recordArrivals(transport);
  await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 } }, undefined, { onprogress: () => {} });
  assert.equal(progressBefore(seen, /Long running operation completed/), [1, 2], 'every progress step, in order, before the result');
  await client.close();
});

/** A fake SSE server: `endpoint` decides what its first event says (null: it sends none). */
async function fakeSse(endpoint: string | null): Promise<{ url: string; posts: () => number; close: () => Promise<void> }> {
  let posts = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'POST') {
      posts++;
      req.resume();
      return void res.writeHead(202).end();
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (endpoint !== null) res.write(`event: endpoint\ndata: ${endpoint}\n\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sse`,
    posts: () => posts,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

sse('an SSE server that names no endpoint: a clear error within --connect-timeout; one naming another origin: refused, nothing posted there', async () => {
  const silent = await fakeSse(null);
  const foreignTarget = await fakeSse('/x');
  const foreign = await fakeSse(`${foreignTarget.url.replace('/sse', '')}/message?sessionId=1`);
  try {
    for (const [upstream, why] of [[silent, /no endpoint event/], [foreign, /another origin/]] as const) {
      const proxy = startCli(['forward', 'http', '--port', '0', '--url', upstream.url, '--upstream-transport', 'sse', '--multi-session', '--connect-timeout', '1']);
      try {
        const port = (await proxy.waitFor((l) => l.msg === 'listening', 15_000)).port as number;
        const started = Date.now();
        const r = await rawExchange(port, post(INIT), 15_000);
        assert.is(r.status >= 500 && r.status < 600, true, r.raw.toString());
        const body = JSON.parse(r.body.toString()) as { id: unknown; error: { message: string } };
        assert.match(body.error.message, why);
        assert.is(body.id, 1);
        assert.ok(Date.now() - started < 10_000);
      } finally {
        proxy.child.kill('SIGTERM');
        await proxy.exited;
      }
    }
    assert.is(foreignTarget.posts(), 0, 'no client message went to the other origin');
  } finally {
    await silent.close();
    await foreign.close();
    await foreignTarget.close();
  }
});

sse.run();
