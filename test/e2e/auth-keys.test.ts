// --auth-keys (SPEC "Who may connect"): every request of forward http carries a key, as
// Authorization: Bearer KEY or X-API-Key: KEY; without one (or with a wrong one) it gets 401
// with WWW-Authenticate naming the RFC 9728 document the proxy serves; the key never reaches
// the upstream (unless --forward-client-auth) nor /sessions, which shows the key's name; the
// file is reloaded when edited; a bad file at start exits 2 naming the entry; a flood of bad
// keys is counted, logged sparingly, and leaves the proxy serving.

import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli, startCli } from '../helpers/cli.js';
import { EVERYTHING } from '../helpers/everything.js';
import { adminGet, authFailures, startProxy, type TestProxy, until } from '../helpers/proxy.js';
import { rawExchange } from '../helpers/raw-client.js';
import { sdkHttpClient } from '../helpers/sdk.js';
import { recordingUpstreamFor } from '../helpers/upstreams.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const ALICE = 'alice-key-0123456789abcdef';
const BOB = 'bob-key-fedcba9876543210';
const INIT = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}';
const post = (port: number, extra = ''): string =>
  `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n${extra}Content-Length: ${INIT.length}\r\nConnection: close\r\n\r\n${INIT}`;

const dir = mkdtempSync(join(tmpdir(), 'auth-keys-'));
const keyFile = join(dir, 'keys.yaml');
const writeKeys = (text: string): void => {
  // As editors do: a new file renamed over the old one.
  writeFileSync(`${keyFile}.tmp`, text);
  renameSync(`${keyFile}.tmp`, keyFile);
};
writeKeys(`keys:\n  - name: alice\n    key: ${ALICE}\n  - name: bob\n    sha256: ${createHash('sha256').update(BOB).digest('hex')}\n`);

const keys = suite('--auth-keys');
const upstream = recordingUpstreamFor(keys);
const seenHeaders = upstream.seen;
keys.after(() => rmSync(dir, { recursive: true, force: true }));


keys('the corridor: 401 without a key or with a wrong one (WWW-Authenticate, RFC 9728 document served); Bearer and X-API-Key pass, stripped before the upstream; the name on /sessions', async () => {
  const proxy: TestProxy = await startProxy({ mode: 'http', upstreamUrl: upstream.mcpUrl(), multiSession: true, adminPort: 0, authKeys: keyFile });
  try {
    seenHeaders.length = 0;
    const none = await rawExchange(proxy.port, post(proxy.port));
    assert.is(none.status, 401);
    assert.is(none.headers['www-authenticate'], `Bearer resource_metadata="http://127.0.0.1:${proxy.port}/.well-known/oauth-protected-resource"`);
    assert.match(none.body.toString(), /"reason":"unauthorized"/);
    const wrong = await rawExchange(proxy.port, post(proxy.port, 'Authorization: Bearer not-a-key-at-all-000000\r\n'));
    assert.is(wrong.status, 401);
    assert.match(wrong.headers['www-authenticate']!, /error="invalid_token"/);
    assert.is(seenHeaders.length, 0, 'nothing refused reached the upstream');
    const doc = await rawExchange(proxy.port, `GET /.well-known/oauth-protected-resource HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\nConnection: close\r\n\r\n`);
    assert.is(doc.status, 200);
    assert.is((JSON.parse(doc.body.toString()) as { resource: string }).resource, `http://127.0.0.1:${proxy.port}/mcp`);

    const bearer = await rawExchange(proxy.port, post(proxy.port, `Authorization: Bearer ${ALICE}\r\n`));
    assert.is(bearer.status, 200);
    const apiKey = await rawExchange(proxy.port, post(proxy.port, `X-API-Key: ${BOB}\r\n`));
    assert.is(apiKey.status, 200);
    assert.is(seenHeaders.length, 2);
    for (const h of seenHeaders) {
      assert.is(h.authorization, undefined, 'no Authorization upstream');
      assert.is(h['x-api-key'], undefined, 'no X-API-Key upstream');
    }
    const metrics = await adminGet(proxy.adminPort!, '/metrics');
    assert.is(authFailures(metrics, 'missing'), 1);
    assert.is(authFailures(metrics, 'invalid'), 1);
    assert.not.match(metrics + (await adminGet(proxy.adminPort!, '/sessions')), new RegExp(`${ALICE}|${BOB}`));
  } finally {
    await proxy.close();
  }
});

keys('--forward-client-auth passes the client\'s Authorization on', async () => {
  const proxy = await startProxy({ mode: 'http', upstreamUrl: upstream.mcpUrl(), authKeys: keyFile, forwardClientAuth: true });
  try {
    seenHeaders.length = 0;
    assert.is((await rawExchange(proxy.port, post(proxy.port, `Authorization: Bearer ${ALICE}\r\n`))).status, 200);
    assert.is(seenHeaders[0]!.authorization, `Bearer ${ALICE}`);
  } finally {
    await proxy.close();
  }
});

keys('the bridge: the SDK client with its key in requestInit; /sessions names the key; the file edited live takes effect', async () => {
  const proxy = await startProxy({ mode: 'http', command: [process.execPath, EVERYTHING, 'stdio'], multiSession: true, adminPort: 0, authKeys: keyFile });
  try {
    const url = new URL(`http://127.0.0.1:${proxy.port}/mcp`);
    const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${ALICE}` } } });
    const client = new Client({ name: 'keyed', version: '1.0.0' });
    await client.connect(transport);
    assert.ok((await client.listTools()).tools.length > 0);
    const sessions = JSON.parse(await adminGet(proxy.adminPort!, '/sessions')) as Array<{ subject?: string }>;
    assert.equal(sessions.map((s) => s.subject), ['alice']);
    // Without a key the SDK's connect fails with the 401.
    const bare = sdkHttpClient(url.href, 'bare');
    let refused = '';
    await bare.client.connect(bare.transport).catch((err: Error) => void (refused = err.message));
    assert.match(refused, /401|Unauthorized/);
    await bare.agent.close();
    // alice's key is replaced: her next request is refused, carol's key works.
    const CAROL = 'carol-key-00000000000000000';
    writeKeys(`keys:\n  - name: carol\n    key: ${CAROL}\n`);
    await until(async () => (await rawExchange(proxy.port, post(proxy.port, `Authorization: Bearer ${CAROL}\r\n`))).status === 200, 10_000, 'the new key accepted');
    assert.is((await rawExchange(proxy.port, post(proxy.port, `Authorization: Bearer ${ALICE}\r\n`))).status, 401);
    await client.close();
  } finally {
    writeKeys(`keys:\n  - name: alice\n    key: ${ALICE}\n  - name: bob\n    sha256: ${createHash('sha256').update(BOB).digest('hex')}\n`);
    await proxy.close();
  }
});

keys('--rate-limit counts per key name when there is one: alice spending her burst leaves bob\'s, from the same address, whole', async () => {
  for (const bridged of [false, true]) {
    const proxy = bridged
      ? await startProxy({ mode: 'http', command: [process.execPath, EVERYTHING, 'stdio'], multiSession: true, authKeys: keyFile, rateLimit: 2 })
      : await startProxy({ mode: 'http', upstreamUrl: upstream.mcpUrl(), multiSession: true, authKeys: keyFile, rateLimit: 2 });
    try {
      const as = async (key: string): Promise<number> => (await rawExchange(proxy.port, post(proxy.port, `X-API-Key: ${key}\r\n`))).status;
      // At once: a bridged initialize waits for its child, and a second is a refill at this rate.
      const alice = await Promise.all([as(ALICE), as(ALICE), as(ALICE)]);
      assert.is(alice.filter((st) => st === 429).length, 1, `alice: ${alice.join(',')}`);
      assert.is(await as(BOB), 200, 'bob has a budget of his own');
    } finally {
      await proxy.close();
    }
  }
});

keys('a bad key file at start: exit 2, one line naming the entry', async () => {
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ keys: [{ name: 'ok', key: ALICE }, { name: 'short', key: 'abc' }] }));
  const r = await runCli(['forward', 'http', '--port', '0', '--auth-keys', bad]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /keys\[1\] \(short\)/);
  assert.is(r.stderr.trim().split('\n').length, 1);
});

keys('with --workers the same bad file stops the group with exit 2 (as one process does), naming the entry', async () => {
  const bad = join(dir, 'bad-workers.json');
  writeFileSync(bad, JSON.stringify({ keys: [{ name: 'short', key: 'abc' }] }));
  const r = await runCli(['forward', 'http', '--port', '0', '--workers', '2', '--auth-keys', bad]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /keys\[0\] \(short\)/);
});

keys('the bridge counts --max-per-client per key name: a second session of alice is refused (503) while bob, from the same address, gets his', async () => {
  const proxy = await startProxy({ mode: 'http', command: [process.execPath, EVERYTHING, 'stdio'], multiSession: true, authKeys: keyFile, maxPerClient: 1 });
  const init = async (key: string): Promise<number> => (await rawExchange(proxy.port, post(proxy.port, `X-API-Key: ${key}\r\n`))).status;
  try {
    assert.is(await init(ALICE), 200);
    assert.is(await init(ALICE), 503);
    assert.is(await init(BOB), 200);
  } finally {
    await proxy.close();
  }
});

keys('10,000 requests with bad keys from one client: all 401, counted, logged a few times, the proxy still serves', async () => {
  const cli = startCli(['forward', 'http', '--port', '0', '--admin-port', '0', '--url', upstream.mcpUrl().href, '--multi-session', '--auth-keys', keyFile]);
  try {
    const listening = await cli.waitFor((l) => l.msg === 'listening', 15_000);
    const port = listening.port as number;
    let next = 0;
    const statuses = new Map<number, number>();
    await Promise.all(Array.from({ length: 20 }, async () => {
      while (next < 10_000) {
        next++;
        const r = await rawExchange(port, post(port, `X-API-Key: wrong-${next}-000000000000\r\n`));
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    }));
    assert.equal([...statuses.entries()], [[401, 10_000]]);
    const metrics = await adminGet(listening.adminPort as number, '/metrics');
    assert.is(authFailures(metrics, 'invalid'), 10_000);
    const logged = cli.lines.filter((l) => l.msg === 'request refused: no valid credential').length;
    assert.ok(logged >= 1 && logged < 200, `logged ${logged} times`);
    assert.is((await rawExchange(port, post(port, `X-API-Key: ${ALICE}\r\n`))).status, 200, 'a good key is still served');
  } finally {
    cli.child.kill('SIGTERM');
    assert.is(await cli.exited, 0);
  }
});

keys.run();

const subjects = suite('policy by subject');
subjects('a policy blocks a tool for subject guest-* only: the SDK client with a guest key is refused, alice is served', async () => {
  const sdir = mkdtempSync(join(tmpdir(), 'auth-subject-'));
  const file = join(sdir, 'keys.json');
  writeFileSync(file, JSON.stringify({ keys: [{ name: 'alice', key: ALICE }, { name: 'guest-1', key: BOB }] }));
  const rules = join(sdir, 'policy.json');
  writeFileSync(rules, JSON.stringify({ rules: [{ name: 'no-guest-echo', match: { method: 'tools/call', tool: 'echo', subject: 'guest-*' }, action: 'block', message: 'guests may not echo' }] }));
  const proxy = await startProxy({ mode: 'http', command: [process.execPath, EVERYTHING, 'stdio'], multiSession: true, authKeys: file, policyFile: rules });
  try {
    const url = new URL(`http://127.0.0.1:${proxy.port}/mcp`);
    const as = async (key: string): Promise<string> => {
      const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { 'X-API-Key': key } } });
      const client = new Client({ name: 'who', version: '1.0.0' });
      await client.connect(transport);
      try {
        const r = await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
        return JSON.stringify(r);
      } catch (err) {
        return (err as Error).message;
      } finally {
        await client.close();
      }
    };
    assert.match(await as(ALICE), /Echo: hi/);
    assert.match(await as(BOB), /guests may not echo/);
  } finally {
    await proxy.close();
    rmSync(sdir, { recursive: true, force: true });
  }
});
subjects.run();
