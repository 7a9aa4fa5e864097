// --auth-jwt (SPEC "Who may connect"): a bearer JWT signed by a key of --auth-jwks, from
// --auth-issuer, for --auth-audience, with the --auth-scopes; anything else is refused (401
// with WWW-Authenticate, 403 insufficient_scope) before the upstream sees a byte. Tokens are
// signed here with node:crypto (RS256, ES256); the key set comes from a file or over https
// (rotated, fetched again for an unknown key id at most once a minute, failing closed when
// it cannot be had). The token's sub is the session's subject: /sessions, tapes, policies
// (match.subject, match.claims) and --max-per-client count by it.

import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { runCli, startCli } from '../helpers/cli.js';
import { EVERYTHING } from '../helpers/everything.js';
import { hs256WithPublicKey, jwks, makeKey, signJwt, tampered, unsigned } from '../helpers/jwt.js';
import { adminGet, authFailures, startProxy, until } from '../helpers/proxy.js';
import { RawClient, rawExchange } from '../helpers/raw-client.js';
import { fixture, TEST_CA } from '../helpers/tls-terminator.js';
import { recordingUpstreamFor } from '../helpers/upstreams.js';

const ISS = 'https://issuer.test';
const AUD = 'https://proxy.test/mcp';
const INIT = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}';
const post = (port: number, token: string | null, close = true): string =>
  `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n${token === null ? '' : `Authorization: Bearer ${token}\r\n`}Content-Length: ${INIT.length}\r\n${close ? 'Connection: close\r\n' : ''}\r\n${INIT}`;
const now = (): number => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ iss: ISS, aud: AUD, sub: 'alice', iat: now(), exp: now() + 600, scope: 'mcp:tools other', ...extra });

const rsa = makeKey('RS256', 'rsa-1');
const ec = makeKey('ES256', 'ec-1');
const dir = mkdtempSync(join(tmpdir(), 'auth-jwt-'));
const jwksFile = join(dir, 'jwks.json');
writeFileSync(jwksFile, jwks(rsa, ec));

const jwt = suite('--auth-jwt with a key set file');
const upstream = recordingUpstreamFor(jwt);
const seen = upstream.seen;

const corridor = (extra: Record<string, unknown> = {}): ReturnType<typeof startProxy> => startProxy({
  mode: 'http', upstreamUrl: upstream.mcpUrl(), multiSession: true, adminPort: 0,
  authJwt: true, authJwks: jwksFile, authIssuer: ISS, authAudience: AUD, authScopes: Object.freeze(['mcp:tools']), ...extra,
});

jwt('valid RS256 and ES256 tokens pass (the credential stripped, the sub on /sessions); every broken one gets 401 and never reaches the upstream', async () => {
  const proxy = await corridor();
  try {
    seen.length = 0;
    const foreign = makeKey('RS256', 'rsa-1');
    const refused: Record<string, string> = {
      'no token': '',
      expired: signJwt(rsa, claims({ exp: now() - 120 })),
      'not yet valid': signJwt(rsa, claims({ nbf: now() + 300 })),
      'wrong iss': signJwt(rsa, claims({ iss: 'https://evil.test' })),
      'wrong aud': signJwt(rsa, claims({ aud: 'https://other.test/mcp' })),
      'foreign key, known kid': signJwt(foreign, claims()),
      'alg none': unsigned(claims(), 'rsa-1'),
      'HS256 with the public key': hs256WithPublicKey(rsa, claims()),
      'tampered payload': tampered(signJwt(rsa, claims()), claims({ sub: 'admin' })),
      'unknown kid': signJwt(makeKey('ES256', 'nobody'), claims()),
      'no sub': signJwt(rsa, claims({ sub: undefined })),
      'no exp': signJwt(rsa, claims({ exp: undefined })),
      'RS256 key named ES256': signJwt(rsa, claims(), { alg: 'ES256' }),
    };
    for (const [what, token] of Object.entries(refused)) {
      const r = await rawExchange(proxy.port, post(proxy.port, token === '' ? null : token));
      assert.is(r.status, 401, what);
      assert.match(r.headers['www-authenticate']!, new RegExp(`^Bearer resource_metadata="http://127\\.0\\.0\\.1:${proxy.port}/\\.well-known/oauth-protected-resource"`), what);
      assert.is(/error="invalid_token"/.test(r.headers['www-authenticate']!), token !== '', what);
      assert.match(r.body.toString(), /"reason":"unauthorized"/, what);
    }
    assert.is(seen.length, 0, 'nothing refused reached the upstream');
    const metrics = await adminGet(proxy.adminPort!, '/metrics');
    assert.is(authFailures(metrics, 'expired'), 1);
    assert.is(authFailures(metrics, 'missing'), 1);
    assert.is(authFailures(metrics, 'invalid'), Object.keys(refused).length - 2);

    // Within the 60 s of clock skew an expired token still passes.
    for (const token of [signJwt(rsa, claims()), signJwt(ec, claims({ sub: 'bob' })), signJwt(rsa, claims({ sub: 'carol', exp: now() - 30 }))]) {
      const r = await rawExchange(proxy.port, post(proxy.port, token));
      assert.is(r.status, 200, r.body.toString());
    }
    assert.is(seen.length, 3);
    for (const h of seen) assert.is(h.authorization, undefined, 'no token upstream');

    const held = await RawClient.connect(proxy.port);
    held.write(post(proxy.port, signJwt(ec, claims({ sub: 'dave', role: 'x' })), false));
    assert.is((await held.readResponse()).status, 200);
    const sessions = JSON.parse(await adminGet(proxy.adminPort!, '/sessions')) as Array<Record<string, unknown>>;
    assert.equal(sessions.map((s) => s.subject), ['dave']);
    assert.not.match(JSON.stringify(sessions), /role|eyJ/, 'no claims, no token on /sessions');
    held.close();
  } finally {
    await proxy.close();
  }
});

jwt('a token without the scopes gets 403 insufficient_scope; the RFC 9728 document names the issuer and the scopes', async () => {
  const proxy = await corridor();
  try {
    seen.length = 0;
    for (const scope of [{ scope: 'other' }, { scope: undefined }, { scope: undefined, scp: ['x'] }]) {
      const r = await rawExchange(proxy.port, post(proxy.port, signJwt(rsa, claims(scope))));
      assert.is(r.status, 403);
      assert.is(r.headers['www-authenticate'], `Bearer error="insufficient_scope", scope="mcp:tools", resource_metadata="http://127.0.0.1:${proxy.port}/.well-known/oauth-protected-resource"`);
      assert.match(r.body.toString(), /"reason":"insufficient_scope"/);
    }
    // scp as a list (Azure AD, Okta) counts too.
    assert.is((await rawExchange(proxy.port, post(proxy.port, signJwt(rsa, claims({ scope: undefined, scp: ['mcp:tools'] }))))).status, 200);
    assert.is(seen.length, 1);
    const doc = await rawExchange(proxy.port, `GET /.well-known/oauth-protected-resource HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\nConnection: close\r\n\r\n`);
    assert.is(doc.status, 200);
    assert.equal(JSON.parse(doc.body.toString()), {
      resource: `http://127.0.0.1:${proxy.port}/mcp`, authorization_servers: [ISS], scopes_supported: ['mcp:tools'], bearer_methods_supported: ['header'], resource_name: 'shadowcat',
    });
  } finally {
    await proxy.close();
  }
});

jwt('requests pipelined behind a token being verified wait for it and are answered in order', async () => {
  const proxy = await corridor();
  try {
    seen.length = 0;
    const c = await RawClient.connect(proxy.port);
    // A fresh token (never verified): the first request waits for jose while the second is already here.
    const token = signJwt(ec, claims({ sub: 'pipelined', jti: 'p1' }));
    c.write(post(proxy.port, token, false) + post(proxy.port, token, false) + post(proxy.port, signJwt(rsa, claims({ sub: 'pipelined', aud: 'nope' })), false));
    assert.is((await c.readResponse()).status, 200);
    assert.is((await c.readResponse()).status, 200);
    assert.is((await c.readResponse()).status, 401);
    await c.waitClosed();
    assert.is(seen.length, 2);
  } finally {
    await proxy.close();
  }
});

jwt('--max-per-client counts per subject: a third connection of alice is refused while bob, from the same address, is served', async () => {
  const proxy = await corridor({ maxPerClient: 2 });
  try {
    const open = async (sub: string): Promise<{ c: RawClient; status: number }> => {
      const c = await RawClient.connect(proxy.port);
      c.write(post(proxy.port, signJwt(rsa, claims({ sub })), false));
      return { c, status: (await c.readResponse()).status };
    };
    const a1 = await open('alice');
    const a2 = await open('alice');
    const b1 = await open('bob');
    const a3 = await open('alice');
    assert.equal([a1.status, a2.status, b1.status, a3.status], [200, 200, 200, 503]);
    for (const x of [a1, a2, b1, a3]) x.c.close();
  } finally {
    await proxy.close();
  }
});

jwt('the bridge: the SDK client with a token; the tape names the subject, never the token; match.claims blocks a tool for guests only', async () => {
  const tapes = join(dir, 'tapes');
  const rules = join(dir, 'policy.json');
  writeFileSync(rules, JSON.stringify({ rules: [
    { name: 'no-guest-echo', match: { method: 'tools/call', tool: 'echo', claims: { role: ['guest', 'visitor'] } }, action: 'block', message: 'guests may not echo' },
    { name: 'no-intern-sum', match: { method: 'tools/call', tool: 'get-sum', subject: 'intern-*' }, action: 'block', message: 'interns may not add' },
  ] }));
  const proxy = await startProxy({
    mode: 'http', command: [process.execPath, EVERYTHING, 'stdio'], multiSession: true, adminPort: 0, policyFile: rules, recordDir: tapes,
    authJwt: true, authJwks: jwksFile, authIssuer: ISS, authAudience: AUD,
  });
  try {
    const url = new URL(`http://127.0.0.1:${proxy.port}/mcp`);
    const call = async (token: string, name: string, args: Record<string, unknown>): Promise<string> => {
      const client = new Client({ name: 'token', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
      try {
        return JSON.stringify(await client.callTool({ name, arguments: args }));
      } catch (err) {
        return (err as Error).message;
      } finally {
        await client.close();
      }
    };
    const staff = signJwt(rsa, claims({ sub: 'alice', role: 'staff' }));
    const guest = signJwt(ec, claims({ sub: 'guest-7', role: ['reader', 'guest'] }));
    const intern = signJwt(ec, claims({ sub: 'intern-2', role: 'staff' }));
    assert.match(await call(staff, 'echo', { message: 'hi' }), /Echo: hi/);
    assert.match(await call(guest, 'echo', { message: 'hi' }), /guests may not echo/);
    assert.match(await call(intern, 'echo', { message: 'hi' }), /Echo: hi/);
    assert.match(await call(intern, 'get-sum', { a: 1, b: 2 }), /interns may not add/);
    assert.match(await call(staff, 'get-sum', { a: 1, b: 2 }), /3/);
    // Without a token the SDK's connect fails with the 401.
    const bare = new Client({ name: 'bare', version: '1.0.0' });
    let refused = '';
    await bare.connect(new StreamableHTTPClientTransport(url)).catch((err: Error) => void (refused = err.message));
    assert.match(refused, /401|Unauthorized/);
    await until(() => readdirSync(tapes).length >= 5, 10_000, 'five tapes');
    const texts = readdirSync(tapes).map((f) => readFileSync(join(tapes, f), 'utf8'));
    const subjects = texts.map((t) => (JSON.parse(t.split('\n')[0]!) as { subject?: string }).subject).sort();
    assert.equal(subjects, ['alice', 'alice', 'guest-7', 'intern-2', 'intern-2']);
    for (const t of texts) assert.not.match(t, /eyJ/, 'no token in a tape');
  } finally {
    await proxy.close();
  }
});

jwt('the key set file edited live: a token of a removed key is refused (even one verified before), a new key works', async () => {
  const proxy = await corridor();
  const fresh = makeKey('ES256', 'ec-2');
  try {
    const before = signJwt(ec, claims({ sub: 'before' }));
    assert.is((await rawExchange(proxy.port, post(proxy.port, before))).status, 200);
    // As editors do: a new file renamed over the old one.
    writeFileSync(`${jwksFile}.tmp`, jwks(rsa, fresh));
    renameSync(`${jwksFile}.tmp`, jwksFile);
    await until(async () => (await rawExchange(proxy.port, post(proxy.port, signJwt(fresh, claims())))).status === 200, 10_000, 'the new key accepted');
    assert.is((await rawExchange(proxy.port, post(proxy.port, before))).status, 401, 'the removed key\'s token, cached before, is refused');
  } finally {
    writeFileSync(jwksFile, jwks(rsa, ec));
    await proxy.close();
  }
});

jwt('a bad key set file at start exits 2 with one line; missing settings exit 2', async () => {
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }));
  const r = await runCli(['forward', 'http', '--port', '0', '--auth-jwt', '--auth-jwks', bad, '--auth-issuer', ISS, '--auth-audience', AUD]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /keys\[0\] is a shared secret/);
  assert.is(r.stderr.trim().split('\n').length, 1);
  const half = await runCli(['forward', 'http', '--port', '0', '--auth-jwt', '--auth-jwks', jwksFile]);
  assert.is(half.code, 2);
  assert.match(half.stderr, /--auth-jwt needs --auth-jwks URL\|FILE, --auth-issuer URL and --auth-audience AUD/);
});

jwt('10,000 requests with bad tokens from one client: all 401, counted, logged a few times, the proxy still serves', async () => {
  const cli = startCli(['forward', 'http', '--port', '0', '--admin-port', '0', '--url', upstream.mcpUrl().href, '--multi-session',
    '--auth-jwt', '--auth-jwks', jwksFile, '--auth-issuer', ISS, '--auth-audience', AUD]);
  try {
    const listening = await cli.waitFor((l) => l.msg === 'listening', 15_000);
    const port = listening.port as number;
    const good = signJwt(rsa, claims());
    let next = 0;
    const statuses = new Map<number, number>();
    await Promise.all(Array.from({ length: 20 }, async () => {
      while (next < 10_000) {
        next++;
        // Each one different (nothing cached), with a signature that must be checked.
        const r = await rawExchange(port, post(port, tampered(good, claims({ jti: String(next) }))));
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    }));
    assert.equal([...statuses.entries()], [[401, 10_000]]);
    const metrics = await adminGet(listening.adminPort as number, '/metrics');
    assert.is(authFailures(metrics, 'invalid'), 10_000);
    const logged = cli.lines.filter((l) => l.msg === 'request refused: no valid credential').length;
    assert.ok(logged >= 1 && logged < 200, `logged ${logged} times`);
    assert.is((await rawExchange(port, post(port, good))).status, 200, 'a good token is still served');
  } finally {
    cli.child.kill('SIGTERM');
    assert.is(await cli.exited, 0);
  }
});

jwt('embedding: auth: { jwt } checks tokens as the flags do; hooks.authenticate names callers of a scheme of its own (sync or async), null refuses', async () => {
  const { startProxy: embed } = await import('../../dist/index.js');
  const url = upstream.mcpUrl().href;
  const withJwt = await embed({ port: 0, url, multiSession: true, auth: { jwt: { jwks: jwksFile, issuer: ISS, audience: AUD, scopes: ['mcp:tools'] } } });
  try {
    const port = withJwt.addresses.port;
    assert.is((await rawExchange(port, post(port, signJwt(rsa, claims())))).status, 200);
    assert.is((await rawExchange(port, post(port, signJwt(rsa, claims({ scope: 'x' }))))).status, 403);
    assert.is((await rawExchange(port, post(port, null))).status, 401);
  } finally {
    await withJwt.close();
  }
  const both = await embed({ port: 0, url, authKeys: jwksFile, auth: { keys: jwksFile } }).then(() => 'started', (err: Error) => err.message);
  assert.match(both, /give authKeys or auth, not both/);
  const asked: Array<string | null> = [];
  const hooked = await embed({
    port: 0, url, multiSession: true, adminPort: 0,
    hooks: {
      authenticate: (r) => {
        asked.push(r.authorization);
        if (r.authorization === 'Signature good') return 'device-1';
        if (r.authorization === 'Signature later') return new Promise((resolve) => setImmediate(() => resolve('device-2')));
        if (r.authorization === 'Signature throws') throw new Error('boom');
        if (r.authorization === 'Signature odd') return 'two\nlines';
        return null;
      },
    },
  });
  try {
    const port = hooked.addresses.port;
    const as = async (authorization: string | null): Promise<number> => (await rawExchange(port,
      post(port, null).replace('Content-Type', `${authorization === null ? '' : `Authorization: ${authorization}\r\n`}Content-Type`))).status;
    seen.length = 0;
    assert.equal([await as('Signature good'), await as('Signature later'), await as('Signature bad'), await as('Signature throws'), await as('Signature odd'), await as(null)], [200, 200, 401, 401, 401, 401]);
    assert.equal(asked, ['Signature good', 'Signature later', 'Signature bad', 'Signature throws', 'Signature odd', null]);
    assert.is(seen.length, 2);
    for (const h of seen) assert.is(h.authorization, undefined, 'the scheme\'s credential is not passed on either');
    // The hook's subject is the session's, as the embedding API lists it.
    const held = await RawClient.connect(port);
    held.write(post(port, null, false).replace('Content-Type', 'Authorization: Signature good\r\nContent-Type'));
    assert.is((await held.readResponse()).status, 200);
    assert.equal(hooked.sessions().map((x) => x.subject), ['device-1']);
    held.close();
  } finally {
    await hooked.close();
  }
});

jwt.after(() => rmSync(dir, { recursive: true, force: true }));
jwt.run();

const remote = suite('--auth-jwt with a key set over https');
const remoteUpstream = recordingUpstreamFor(remote);
remote('fetched with --upstream-ca; a rotated key is fetched again for its unknown kid, at most once a minute; no key set fails closed', async () => {
  const old = makeKey('RS256', 'old');
  const rotated = makeKey('ES256', 'new');
  let served = jwks(old);
  let fetches = 0;
  const server = https.createServer(fixture('server'), (req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(served);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const jwksUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  const proxy = await startProxy({
    mode: 'http', upstreamUrl: remoteUpstream.mcpUrl(), multiSession: true, adminPort: 0,
    authJwt: true, authJwks: jwksUrl, authIssuer: ISS, authAudience: AUD, upstreamCa: TEST_CA,
  });
  try {
    assert.is((await rawExchange(proxy.port, post(proxy.port, signJwt(old, claims())))).status, 200);
    assert.is(fetches, 1, 'fetched once, at start');
    served = jwks(old, rotated);
    assert.is((await rawExchange(proxy.port, post(proxy.port, signJwt(rotated, claims())))).status, 200, 'the new kid is fetched');
    assert.is(fetches, 2);
    const stranger = makeKey('ES256', 'stranger');
    assert.is((await rawExchange(proxy.port, post(proxy.port, signJwt(stranger, claims())))).status, 401);
    assert.is(fetches, 2, 'not fetched again within the minute');
  } finally {
    await proxy.close();
  }
  // An issuer that cannot be reached: every token is refused, and said so.
  await new Promise<void>((r) => server.close(() => r()));
  server.closeAllConnections();
  const down = await startProxy({
    mode: 'http', upstreamUrl: remoteUpstream.mcpUrl(), multiSession: true, adminPort: 0,
    authJwt: true, authJwks: jwksUrl, authIssuer: ISS, authAudience: AUD, upstreamCa: TEST_CA,
  });
  try {
    const r = await rawExchange(down.port, post(down.port, signJwt(old, claims())));
    assert.is(r.status, 401);
    assert.match(r.body.toString(), /keys are unavailable/);
    assert.is(authFailures(await adminGet(down.adminPort!, '/metrics'), 'jwks_unavailable'), 1);
  } finally {
    await down.close();
  }
});
remote('an issuer that trickles its key set is cut after 5 s in all: the token gets 401 (jwks_unavailable), not the head timeout', async () => {
  const trickles = new Set<NodeJS.Timeout>();
  const server = https.createServer(fixture('server'), (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{');
    const t = setInterval(() => res.write(' '), 500);
    trickles.add(t);
    res.on('close', () => clearInterval(t));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const proxy = await startProxy({
    mode: 'http', upstreamUrl: remoteUpstream.mcpUrl(), multiSession: true, adminPort: 0,
    authJwt: true, authJwks: `https://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`, authIssuer: ISS, authAudience: AUD, upstreamCa: TEST_CA,
  });
  try {
    const r = await rawExchange(proxy.port, post(proxy.port, signJwt(rsa, claims())), 20_000);
    assert.is(r.status, 401);
    assert.match(r.body.toString(), /keys are unavailable/);
    assert.is(authFailures(await adminGet(proxy.adminPort!, '/metrics'), 'jwks_unavailable'), 1);
  } finally {
    await proxy.close();
    for (const t of trickles) clearInterval(t);
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

remote('shutdown while a token waits for the key set: the request gets its answer, then the proxy closes', async () => {
  // An issuer that takes the connection and never answers: the fetch runs into its 5 s bound.
  let asked = 0;
  const server = https.createServer(fixture('server'), () => void asked++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const proxy = await startProxy({
    mode: 'http', upstreamUrl: remoteUpstream.mcpUrl(), multiSession: true,
    authJwt: true, authJwks: `https://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`, authIssuer: ISS, authAudience: AUD, upstreamCa: TEST_CA,
  });
  try {
    const answer = rawExchange(proxy.port, post(proxy.port, signJwt(rsa, claims())), 20_000);
    await until(() => proxy.app.registry.size === 1 && asked >= 1, 5000, 'the request waiting on the key set');
    const closed = proxy.app.close(10_000);
    const r = await answer;
    assert.is(r.status, 401);
    assert.match(r.body.toString(), /keys are unavailable/);
    await closed;
  } finally {
    await proxy.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

remote.run();
