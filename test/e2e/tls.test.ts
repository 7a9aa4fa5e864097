// TLS upstreams (SPEC "forward http", TLS bullet): the official SDK client through the
// proxy to server-everything behind TLS in both session modes; bad certificates are 502s
// with data.reason tls while the proxy keeps serving; a slow handshake is a 504; forward
// tcp --upstream-tls; --upstream-header reaches the upstream and no log line.

import http from 'node:http';
import net from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Agent, fetch as undiciFetch } from 'undici';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startCli } from '../helpers/cli.js';
import { startEverythingHttp, type Everything } from '../helpers/everything.js';
import { startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTlsTerminator, TEST_CA, TEST_CA_FILE, type FixtureCert, type TlsTerminator } from '../helpers/tls-terminator.js';
import { startHttpUpstream, type TestServer } from '../helpers/upstreams.js';

const tlsSuite = suite('TLS upstreams');
let everything: Everything | null = null;
let proxy: TestProxy | null = null;
let term: TlsTerminator | null = null;
let up: TestServer | null = null;

tlsSuite.after.each(async () => {
  await proxy?.close();
  await term?.close();
  await up?.close();
  proxy = null;
  term = null;
  up = null;
});
tlsSuite.after(async () => {
  await everything?.close();
});

function textOf(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

async function get(port: number): Promise<{ status: number; reason: string | undefined; message: string | undefined }> {
  const c = await RawClient.connect(port);
  c.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  const r = await c.readResponse();
  c.close();
  const body = r.headers['content-type'] === 'application/json' ? JSON.parse(r.body.toString()) as { error?: { message: string; data: { reason: string } } } : {};
  return { status: r.status, reason: body.error?.data.reason, message: body.error?.message };
}

for (const multiSession of [false, true]) {
  const mode = multiSession ? 'multi-session' : 'single-session';
  tlsSuite(`${mode}: the SDK client reaches server-everything over TLS: initialize, list, echo, a progress stream`, async () => {
    everything ??= await startEverythingHttp();
    term = await startTlsTerminator('server', everything.port);
    proxy = await startProxy({ mode: 'http', multiSession, upstreamUrl: new URL(`https://127.0.0.1:${term.port}/mcp`), upstreamCa: TEST_CA });
    const agent = new Agent();
    const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${proxy.port}/mcp`), {
      fetch: ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch,
    });
    const client = new Client({ name: `tls-${mode}`, version: '1.0.0' });
    await client.connect(transport);
    assert.match(String(client.getServerVersion()?.name), /everything/);
    assert.ok((await client.listTools()).tools.some((t) => t.name === 'echo'));
    assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'over TLS' } })), 'Echo: over TLS');
    const events: string[] = [];
    await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, {
      onprogress: (p) => events.push(`progress ${p.progress}/${p.total}`),
    });
    assert.equal(events, ['progress 1/3', 'progress 2/3', 'progress 3/3']);
    await client.close();
    await agent.close();
    // Repeat connects to the one upstream resume the TLS session instead of a full handshake.
    for (let i = 0; i < 2; i++) await get(proxy.port);
    assert.ok(term.handshakes() >= 2, `${term.handshakes()} handshakes`);
    assert.ok(term.resumed() >= 1, `no resumed session among ${term.handshakes()} handshakes`);
  });
}

tlsSuite('bad certificates are 502s with data.reason tls and the certificate error; the proxy keeps serving', async () => {
  up = await startHttpUpstream((_req, res) => res.end('ok'));
  term = await startTlsTerminator('server', up.port);
  const cases: Array<[FixtureCert, string | null, RegExp]> = [
    ['wrong-host', TEST_CA, /ERR_TLS_CERT_ALTNAME_INVALID/],
    ['expired', TEST_CA, /CERT_HAS_EXPIRED/],
    ['self-signed', TEST_CA, /DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED/],
    ['server', null, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/], // our CA is unknown without --upstream-ca
  ];
  for (const [cert, ca, code] of cases) {
    proxy = await startProxy({ mode: 'http', multiSession: true, upstreamUrl: new URL(`https://127.0.0.1:${term.port}/mcp`), upstreamCa: ca });
    term.use(cert);
    const bad = await get(proxy.port);
    assert.is(bad.status, 502, cert);
    assert.is(bad.reason, 'tls', cert);
    assert.match(String(bad.message), code);
    const metrics = await proxy.app.metrics.render();
    assert.match(metrics, /shadowcat_upstream_errors_total\{kind="tls"\} 1/);
    if (ca !== null) {
      term.use('server');
      assert.is((await get(proxy.port)).status, 200, `served again after ${cert}`);
    }
    await until(() => proxy!.app.registry.size === 0, 5000, 'sessions gone');
    await proxy.close();
    proxy = null;
  }
});

tlsSuite('--upstream-insecure takes a self-signed certificate, and says so in /healthz', async () => {
  up = await startHttpUpstream((_req, res) => res.end('ok'));
  term = await startTlsTerminator('self-signed', up.port);
  proxy = await startProxy({ mode: 'http', upstreamUrl: new URL(`https://127.0.0.1:${term.port}/mcp`), upstreamInsecure: true, adminPort: 0 });
  assert.is((await get(proxy.port)).status, 200);
  const health = await new Promise<string>((resolve) => {
    http.get({ host: '127.0.0.1', port: proxy!.adminPort!, path: '/healthz', agent: false }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    });
  });
  assert.match(health, /"status":"ok".*"warnings":\["upstream TLS certificates are not verified/);
});

tlsSuite('a handshake that never completes counts toward --connect-timeout: 504', async () => {
  const silent = net.createServer((s) => s.on('error', () => undefined)); // accepts, never answers the ClientHello
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    proxy = await startProxy({ mode: 'http', multiSession: true, upstreamUrl: new URL(`https://127.0.0.1:${(silent.address() as net.AddressInfo).port}/mcp`), connectTimeoutMs: 300 });
    const r = await get(proxy.port);
    assert.is(r.status, 504);
    assert.match(String(r.message), /TLS handshake/);
  } finally {
    silent.close();
  }
});

tlsSuite('forward tcp --upstream-tls: bytes both ways over TLS', async () => {
  up = await startHttpUpstream((_req, res) => res.end('over tls'));
  term = await startTlsTerminator('server', up.port);
  proxy = await startProxy({ mode: 'tcp', upstream: { host: '127.0.0.1', port: term.port }, upstreamTls: true, upstreamCa: TEST_CA });
  const c = await RawClient.connect(proxy.port);
  c.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  assert.is((await c.readResponse()).body.toString(), 'over tls');
  c.close();
});

tlsSuite('--upstream-header with ${VAR}: reaches the upstream, replaces the client\'s, and appears in no log line or /sessions', async () => {
  const secret = 'sk-test-5c1f0e9d';
  const seen: http.IncomingHttpHeaders[] = [];
  up = await startHttpUpstream((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  term = await startTlsTerminator('server', up.port);
  const p = startCli(['forward', 'http', '--port', '0', '--admin-port', '0', '--log-level', 'trace', '--url', `https://127.0.0.1:${term.port}/mcp`,
    '--upstream-ca', TEST_CA_FILE, '--upstream-header', 'Authorization: Bearer ${TOKEN}', '--upstream-header', 'X-Team: blue'], undefined, { ...process.env, TOKEN: secret });
  try {
    const listening = await p.waitFor((l) => l.msg === 'listening');
    const c = await RawClient.connect(Number(listening.port));
    const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
    c.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer client-own\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    assert.is((await c.readResponse()).status, 200);
    assert.is(seen[0]!.authorization, `Bearer ${secret}`);
    assert.is(seen[0]!['x-team'], 'blue');
    const sessions = await new Promise<string>((resolve) => {
      http.get({ host: '127.0.0.1', port: Number(listening.adminPort), path: '/sessions', agent: false }, (res) => {
        let b = '';
        res.on('data', (d) => (b += d));
        res.on('end', () => resolve(b));
      });
    });
    assert.not.match(sessions, secret);
    c.close();
    await p.waitFor((l) => l.msg === 'upstream connected');
  } finally {
    p.child.kill('SIGTERM');
    await p.exited;
  }
  assert.not.ok(p.lines.some((l) => JSON.stringify(l).includes(secret)), 'the injected value is in a log line');
  const tlsLine = p.lines.find((l) => l.msg === 'upstream connected')!;
  assert.match(String(tlsLine.protocol), /^TLSv1\.[23]$/);
  assert.type(tlsLine.cipher, 'string');
  assert.type(tlsLine.sid, 'string', 'the line names its session');
});

tlsSuite('bad TLS flags are start errors (exit 2)', async () => {
  const { runCli } = await import('../helpers/cli.js');
  for (const [args, message] of [
    [['forward', 'http', '--upstream-ca', '/nonexistent.pem', '--url', 'https://h/'], /cannot read --upstream-ca/],
    [['forward', 'http', '--upstream-insecure', '--url', 'http://h/'], /need a TLS upstream/],
    [['forward', 'http', '--upstream-header', 'X-A: ${SHADOWCAT_TEST_UNSET_VAR}'], /SHADOWCAT_TEST_UNSET_VAR is not set/],
    [['forward', 'http', '--upstream-header', 'Content-Length: 5'], /sets that header itself/],
    [['forward', 'tcp', '--upstream', 'h:1', '--upstream-header', 'X-A: b'], /does not apply to forward tcp/],
  ] as Array<[string[], RegExp]>) {
    const r = await runCli(args);
    assert.is(r.code, 2, args.join(' '));
    assert.match(r.stderr, message);
    assert.is(r.stderr.trim().split('\n').length, 1);
  }
});

tlsSuite.run();
