// --upstream-pool (SPEC "Phase C"): multi-session's upstream connections lent to any
// session's next request, through real sockets: how many the upstream sees, no session
// waiting behind another, the upstream closing pooled connections under a request, the
// official SDK client with the pool on, and shutdown.

import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEverythingHttp } from '../helpers/everything.js';
import { proxyFor, adminGet, startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/raw-client.js';
import { sdkHttpClient } from '../helpers/sdk.js';

/** A raw HTTP/1.1 upstream: `answer` decides per request (the n-th on its connection) what to do. */
async function rawUpstream(answer: (req: string, nth: number, socket: net.Socket) => void): Promise<{ port: number; connections: () => number; open: () => number; requests: string[]; close(): Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const requests: string[] = [];
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = '';
    let nth = 0;
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.slice(0, end);
        const len = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        const req = buf.slice(0, end + 4 + len);
        buf = buf.slice(end + 4 + len);
        requests.push(req);
        answer(req, ++nth, socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    open: () => sockets.size,
    requests,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

const OK = (body = 'ok'): string => `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

async function oneRequest(port: number, request: string): Promise<{ status: number; body: string }> {
  const c = await RawClient.connect(port);
  c.write(request);
  const res = await c.readResponse();
  c.close();
  return { status: res.status, body: res.body.toString() };
}

const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
const post = (path: string, body: string): string => `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

const pool = suite('--upstream-pool');
let proxy: TestProxy | null = null;
pool.after.each(async () => {
  await proxy?.close();
  proxy = null;
});

pool('200 client connections, one request each, in turn: the upstream sees no more than N connections; shutdown closes the idle ones', async () => {
  const up = await rawUpstream((_req, _n, socket) => socket.write(OK()));
  try {
    proxy = await startProxy({ mode: 'http', multiSession: true, upstreamPool: 4, upstreamUrl: new URL(`http://127.0.0.1:${up.port}/mcp`), adminPort: 0 });
    for (let i = 0; i < 200; i++) {
      const r = await oneRequest(proxy.port, i % 2 === 0 ? get('/mcp') : post('/mcp', '{"jsonrpc":"2.0","id":1,"method":"ping"}'));
      assert.is(r.status, 200);
    }
    assert.ok(up.connections() <= 4, `${up.connections()} upstream connections`);
    const metrics = await adminGet(proxy.adminPort!, '/metrics');
    assert.match(metrics, /shadowcat_upstream_pool_connections\{state="idle"\} [1-4]\n/);
    assert.match(metrics, /shadowcat_upstream_pool_connections\{state="active"\} 0\n/);
    await proxy.close();
    proxy = null;
    await until(() => up.open() === 0, 5000, 'the pooled connections to close');
  } finally {
    await up.close();
  }
});

pool('keep-alive clients between requests hold no pooled connection: three open clients, one after another, share one', async () => {
  const up = await rawUpstream((_req, _n, socket) => socket.write(OK()));
  const clients: RawClient[] = [];
  try {
    proxy = await startProxy({ mode: 'http', multiSession: true, upstreamPool: 4, upstreamUrl: new URL(`http://127.0.0.1:${up.port}/mcp`), adminPort: 0 });
    for (let i = 0; i < 3; i++) {
      const c = await RawClient.connect(proxy.port);
      clients.push(c);
      c.write(post('/mcp', `{"jsonrpc":"2.0","id":${i},"method":"ping"}`));
      assert.is((await c.readResponse()).status, 200);
    }
    // All three client connections are still open, idle between requests.
    assert.ok(clients.every((c) => !c.ended));
    assert.is(up.connections(), 1);
    const metrics = await adminGet(proxy.adminPort!, '/metrics');
    assert.match(metrics, /shadowcat_upstream_pool_connections\{state="idle"\} 1\n/);
    assert.match(metrics, /shadowcat_upstream_pool_connections\{state="active"\} 0\n/);
    // A second request on the first client borrows it again.
    clients[0]!.write(get('/mcp'));
    assert.is((await clients[0]!.readResponse()).status, 200);
    assert.is(up.connections(), 1);
  } finally {
    for (const c of clients) c.close();
    await up.close();
  }
});

pool('two sessions: one waits 2 s for its answer, the other is answered at once (no session stands behind another)', async () => {
  const up = await rawUpstream((req, _n, socket) => {
    if (req.startsWith('GET /slow')) setTimeout(() => socket.write(OK('slow')), 2000);
    else socket.write(OK('fast'));
  });
  try {
    proxy = await startProxy({ mode: 'http', multiSession: true, upstreamPool: 1, upstreamUrl: new URL(`http://127.0.0.1:${up.port}/mcp`) });
    // Warm the pool: one idle connection, which the slow request takes.
    assert.is((await oneRequest(proxy.port, get('/warm'))).status, 200);
    const order: string[] = [];
    const slow = oneRequest(proxy.port, get('/slow')).then((r) => order.push(r.body));
    await until(() => up.requests.some((r) => r.startsWith('GET /slow')), 5000, 'the slow request upstream');
    const fast = await oneRequest(proxy.port, get('/fast'));
    order.push(fast.body);
    await slow;
    assert.equal(order, ['fast', 'slow']);
  } finally {
    await up.close();
  }
});

pool('the upstream closes a pooled connection under a request: a bodyless GET is sent again once on a fresh connection, a POST never is', async () => {
  // Each connection answers its first request, then reads the second and closes without a word.
  const up = await rawUpstream((_req, nth, socket) => {
    if (nth === 1) socket.write(OK(`first`));
    else socket.destroy();
  });
  try {
    proxy = await startProxy({ mode: 'http', multiSession: true, upstreamPool: 1, upstreamUrl: new URL(`http://127.0.0.1:${up.port}/mcp`), adminPort: 0 });
    assert.is((await oneRequest(proxy.port, get('/a'))).status, 200);
    // The pooled connection is reused, read, and closed: the GET goes again on a fresh one.
    const again = await oneRequest(proxy.port, get('/b'));
    assert.is(again.status, 200);
    assert.is(up.requests.filter((r) => r.startsWith('GET /b')).length, 2, 'sent twice: once on the reused connection, once on a fresh one');
    // The fresh one is now pooled; a POST on it may have been acted on: a 502, never sent twice.
    const p = await oneRequest(proxy.port, post('/c', '{"jsonrpc":"2.0","id":1,"method":"tools/call"}'));
    assert.is(p.status, 502);
    assert.is(up.requests.filter((r) => r.startsWith('POST /c')).length, 1);
  } finally {
    await up.close();
  }
});

pool('without a pool too: a session\'s own kept link closed under a GET is re-dialled once; under a POST it is a 502', async () => {
  const up = await rawUpstream((_req, nth, socket) => {
    if (nth === 1) socket.write(OK('first'));
    else socket.destroy();
  });
  try {
    proxy = await proxyFor(up);
    const c = await RawClient.connect(proxy.port);
    c.write(get('/a'));
    assert.is((await c.readResponse()).status, 200);
    // Same client connection, same session: its kept upstream link is reused and closes.
    c.write(get('/b'));
    assert.is((await c.readResponse()).status, 200);
    assert.is(up.requests.filter((r) => r.startsWith('GET /b')).length, 2);
    c.write(post('/c', '{"jsonrpc":"2.0","id":1,"method":"tools/call"}'));
    assert.is((await c.readResponse()).status, 502);
    assert.is(up.requests.filter((r) => r.startsWith('POST /c')).length, 1);
    c.close();
  } finally {
    await up.close();
  }
});

pool('an upstream that closes idle connections at random: every GET is answered', async () => {
  const up = await rawUpstream((_req, _n, socket) => {
    socket.write(OK());
    // Sometimes the connection is closed right after an answer, unannounced, a moment later.
    if (Math.random() < 0.5) setTimeout(() => socket.destroy(), Math.floor(Math.random() * 3));
  });
  try {
    proxy = await startProxy({ mode: 'http', multiSession: true, upstreamPool: 2, upstreamUrl: new URL(`http://127.0.0.1:${up.port}/mcp`) });
    const statuses = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const r = await oneRequest(proxy.port, get(`/r${i}`));
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    assert.equal([...statuses], [[200, 300]]);
  } finally {
    await up.close();
  }
});

pool('five SDK clients at once through the pool to server-everything', async () => {
  const everything = await startEverythingHttp();
  try {
    proxy = await startProxy({ mode: 'http', multiSession: true, upstreamPool: 8, upstreamUrl: new URL(everything.url), adminPort: 0 });
    const url = `http://127.0.0.1:${proxy.port}/mcp`;
    const results = await Promise.all([1, 2, 3, 4, 5].map(async (n) => {
      const { client, transport, agent } = sdkHttpClient(url, `pool-${n}`);
      await client.connect(transport);
      const tools = (await client.listTools()).tools.length;
      const echo = await client.callTool({ name: 'echo', arguments: { message: `client ${n}` } });
      const progress: number[] = [];
      await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
      await transport.terminateSession();
      await client.close();
      await agent.close();
      return { tools, echo: (echo.content as Array<{ text: string }>)[0]!.text, progress };
    }));
    for (const [i, r] of results.entries()) {
      assert.ok(r.tools > 5);
      assert.is(r.echo, `Echo: client ${i + 1}`);
      assert.equal(r.progress, [1, 2, 3]);
    }
    const metrics = await adminGet(proxy.adminPort!, '/metrics');
    assert.match(metrics, /shadowcat_upstream_pool_connections\{state="idle"\} [1-8]\n/);
  } finally {
    await proxy?.close();
    proxy = null;
    await everything.close();
  }
});

pool('--upstream-pool needs --multi-session', async () => {
  await startProxy({ mode: 'http', upstreamPool: 4 }).then(
    () => assert.unreachable('accepted'),
    (err: Error) => assert.match(err.message, /--upstream-pool needs --multi-session/),
  );
});

pool.run();
