// Who may connect, by Host and Origin (SPEC "Who may connect"): on by default for forward
// http, the byte corridor and the message bridge alike. A browser-shaped request (a foreign
// Origin), a rebinding-shaped one (a foreign Host, no Origin), loopback origins,
// --allowed-origins / --allowed-hosts, --cors preflights and headers; a refused request
// never reaches the upstream, is counted, and leaves the session table empty.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EVERYTHING } from '../helpers/everything.js';
import { adminGet, authFailures, startProxy, type TestProxy } from '../helpers/proxy.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient, rawExchange } from '../helpers/raw-client.js';
import { readBody, startHttpUpstream, type TestServer } from '../helpers/upstreams.js';

const INIT = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}';
function post(host: string, extra = '', method = 'POST', body = INIT): string {
  return `${method} /mcp HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n${extra}`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
const preflight = (host: string, origin: string): string =>
  `OPTIONS /mcp HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${origin}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type, mcp-session-id\r\nConnection: close\r\n\r\n`;


interface Path {
  readonly name: string;
  start(extra: Record<string, unknown>): Promise<{ proxy: TestProxy; seen: () => number }>;
}

let upstream: TestServer | null = null;
let requests = 0;
const corridor: Path = {
  name: 'the byte corridor (forward http --url)',
  async start(extra) {
    requests = 0;
    upstream ??= await startHttpUpstream(async (req, res) => {
      requests++;
      await readBody(req);
      // An upstream with CORS of its own: --cors must replace it, not add a second value.
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'up-1', 'access-control-allow-origin': '*' })
        .end('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"up","version":"1"}}}');
    });
    const proxy = await startProxy({ mode: 'http', upstreamUrl: new URL(`http://127.0.0.1:${upstream.port}/mcp`), adminPort: 0, ...extra });
    return { proxy, seen: () => requests };
  },
};
const bridge: Path = {
  name: 'the message bridge (forward http -- <command>)',
  async start(extra) {
    const proxy = await startProxy({ mode: 'http', command: [process.execPath, EVERYTHING, 'stdio'], multiSession: true, adminPort: 0, ...extra });
    return { proxy, seen: () => proxy.app.registry.size };
  },
};

for (const path of [corridor, bridge]) {
  const t = suite(`Origin and Host checks: ${path.name}`);
  t.after(async () => {
    await upstream?.close();
    upstream = null;
  });

  t('defaults on a loopback address: loopback hosts and origins pass; a foreign Host or Origin gets 403 (host / origin), counted, never upstream', async () => {
    const { proxy, seen } = await path.start({});
    try {
      for (const host of [`127.0.0.1:${proxy.port}`, `localhost:${proxy.port}`, '127.0.0.2', '[::1]:9']) {
        const ok = await rawExchange(proxy.port, post(host));
        assert.is(ok.status, 200, `Host ${host}: ${ok.raw.toString().slice(0, 200)}`);
      }
      const before = seen();
      const rebinding = await rawExchange(proxy.port, post('attacker.example:8080'));
      assert.is(rebinding.status, 403);
      assert.match(rebinding.body.toString(), /"reason":"host"/);
      const page = await rawExchange(proxy.port, post(`127.0.0.1:${proxy.port}`, 'Origin: https://evil.example\r\n'));
      assert.is(page.status, 403);
      assert.match(page.body.toString(), /"reason":"origin"/);
      assert.match(page.body.toString(), /"id":null|"id":1/);
      const opaque = await rawExchange(proxy.port, post(`127.0.0.1:${proxy.port}`, 'Origin: null\r\n'));
      assert.is(opaque.status, 403);
      assert.is(seen(), before, 'no refused request reached the upstream');
      const local = await rawExchange(proxy.port, post(`127.0.0.1:${proxy.port}`, 'Origin: http://localhost:3000\r\n'));
      assert.is(local.status, 200);
      assert.not.ok('access-control-allow-origin' in local.headers && local.headers['access-control-allow-origin'] !== '*', 'no CORS headers of the proxy without --cors');
      const metrics = await adminGet(proxy.adminPort!, '/metrics');
      assert.is(authFailures(metrics, 'host'), 1);
      assert.is(authFailures(metrics, 'origin'), 2);
    } finally {
      await proxy.close();
    }
  });

  t('--allowed-hosts and --allowed-origins widen them; --cors answers preflights for allowed origins and marks answers, in place of the upstream\'s own', async () => {
    const { proxy, seen } = await path.start({ allowedHosts: ['mcp.internal'], allowedOrigins: ['https://app.example'], cors: true });
    try {
      assert.is((await rawExchange(proxy.port, post('mcp.internal:443'))).status, 200);
      assert.is((await rawExchange(proxy.port, post('other.internal'))).status, 403);
      const before = seen();
      const pre = await rawExchange(proxy.port, preflight(`127.0.0.1:${proxy.port}`, 'https://app.example'));
      assert.is(pre.status, 204);
      assert.is(pre.headers['access-control-allow-origin'], 'https://app.example');
      assert.match(pre.headers['access-control-allow-methods']!, /POST/);
      assert.match(pre.headers['access-control-allow-headers']!, /Mcp-Session-Id/i);
      assert.is(seen(), before, 'a preflight is the proxy\'s to answer');
      const deniedPre = await rawExchange(proxy.port, preflight(`127.0.0.1:${proxy.port}`, 'https://evil.example'));
      assert.is(deniedPre.status, 403);
      const allowed = await rawExchange(proxy.port, post(`127.0.0.1:${proxy.port}`, 'Origin: https://app.example\r\n'));
      assert.is(allowed.status, 200);
      assert.equal(allowed.headerNames.filter((n) => n === 'access-control-allow-origin').length, 1, 'one Access-Control-Allow-Origin');
      assert.is(allowed.headers['access-control-allow-origin'], 'https://app.example');
      assert.match(allowed.headers['access-control-expose-headers']!, /Mcp-Session-Id/i);
    } finally {
      await proxy.close();
    }
  });

  t('--cors with --auth-keys: an allowed browser can read its 401 (ACAO, WWW-Authenticate exposed); a later foreign Origin on the same connection gets no CORS lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'origin-keys-'));
    const keys = join(dir, 'keys.json');
    writeFileSync(keys, JSON.stringify({ keys: [{ name: 'page', key: 'page-key-0123456789abcdef' }] }));
    const { proxy } = await path.start({ allowedOrigins: ['https://app.example'], cors: true, authKeys: keys });
    try {
      const unauth = await rawExchange(proxy.port, post(`127.0.0.1:${proxy.port}`, 'Origin: https://app.example\r\n'));
      assert.is(unauth.status, 401);
      assert.is(unauth.headers['access-control-allow-origin'], 'https://app.example');
      assert.match(unauth.headers['access-control-expose-headers']!, /WWW-Authenticate/i);
      assert.match(unauth.headers['www-authenticate']!, /resource_metadata=/);
      const c = await RawClient.connect(proxy.port);
      try {
        const keyed = post(`127.0.0.1:${proxy.port}`, 'Origin: https://app.example\r\nX-API-Key: page-key-0123456789abcdef\r\n').replace('Connection: close\r\n', '');
        c.write(keyed);
        const first = await c.readResponse();
        assert.is(first.status, 200);
        assert.is(first.headers['access-control-allow-origin'], 'https://app.example');
        c.write(post(`127.0.0.1:${proxy.port}`, 'Origin: https://evil.example\r\nX-API-Key: page-key-0123456789abcdef\r\n'));
        const second = await c.readResponse();
        assert.is(second.status, 403);
        assert.is(second.headers['access-control-allow-origin'], undefined, 'no CORS lines left over from the request before');
      } finally {
        c.socket.destroy();
      }
    } finally {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  t.run();
}

const guard = suite('OriginGuard on a non-loopback address');
guard('any Host; a browser only from its own origin or a listed one', async () => {
  const { OriginGuard } = await import('../../dist/policy/origin-guard.js');
  const g = new OriginGuard({ loopback: false, allowedHosts: [], allowedOrigins: ['https://app.example'] });
  assert.is(g.check('mcp.example.com', null), null);
  assert.is(g.check('10.0.0.5:8080', null), null);
  assert.is(g.check('mcp.example.com', 'https://mcp.example.com'), null, 'same origin');
  assert.is(g.check('mcp.example.com', 'https://app.example'), null, 'listed');
  assert.is(g.check('mcp.example.com', 'http://localhost:3000')?.code, 'ORIGIN_NOT_ALLOWED', 'loopback origins are not special off loopback');
  const hosts = new OriginGuard({ loopback: false, allowedHosts: ['mcp.example.com'], allowedOrigins: [] });
  assert.is(hosts.check('MCP.example.com:443', null), null);
  assert.is(hosts.check('10.0.0.5', null)?.code, 'HOST_NOT_ALLOWED');
  const loop = new OriginGuard({ loopback: true, allowedHosts: [], allowedOrigins: [] });
  assert.is(loop.check('127.0.0.1:80', 'http://127.0.0.1:5173'), null);
  assert.is(loop.check('127.0.0.1:80', 'http://127.0.0.1.evil.example')?.code, 'ORIGIN_NOT_ALLOWED');
  assert.is(loop.check('localhost.evil.example', null)?.code, 'HOST_NOT_ALLOWED');
  assert.is(loop.check(null, null), null, 'HTTP/1.0 without Host');
});
guard.run();
