// No file descriptor left (SPEC "Errors a client can see"): under `ulimit -n 256` with
// hundreds of clients, an upstream connect that fails with EMFILE is a 503 with
// Retry-After and data.reason fd-exhausted, not a 502 "unreachable"; the storm is logged
// at most once a second; and the proxy serves again as soon as descriptors are free.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, startLogged } from '../helpers/cli.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/proxy.js';
import { startHttpUpstream } from '../helpers/upstreams.js';

const fds = suite('fd exhaustion');

fds('EMFILE on the upstream connect: 503 fd-exhausted with Retry-After, logged once a second, then recovery', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const p = startLogged('bash', ['-c', `ulimit -n 256 && exec "${process.execPath}" "${CLI}" forward http --port 0 --multi-session --url ${up.url} --max-per-client 1000 --header-timeout 120`]);
  const clients: RawClient[] = [];
  const count = (msg: string): number => p.lines.filter((l) => l.msg === msg).length;
  try {
    const port = Number((await p.waitFor((l) => l.msg === 'listening', 20_000)).port);
    const startedAt = Date.now();
    // Served while descriptors last.
    const first = await RawClient.connect(port);
    clients.push(first);
    first.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.is((await first.readResponse()).status, 200);
    // Idle connections until the proxy has no descriptor left to accept with: each one
    // either starts a session (its log says so) or is closed at once (libuv accepts it on
    // a reserve descriptor and closes it; nothing else can be done without one).
    for (let i = 0; ; i++) {
      assert.ok(i < 1000, 'the descriptor limit was never reached');
      const before = count('session start');
      const k = await RawClient.connect(port);
      clients.push(k);
      await until(() => count('session start') > before || k.ended, 10_000, 'the connection accepted or refused');
      if (count('session start') === before) break;
    }
    // Free exactly one descriptor: the next client is accepted with it, and its upstream
    // connect then finds none.
    const ended = count('session end');
    clients[1]!.close();
    await until(() => count('session end') > ended, 10_000, 'one session closed');
    const c = await RawClient.connect(port);
    clients.push(c);
    const ping = '{"jsonrpc":"2.0","id":31,"method":"ping"}';
    c.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${ping.length}\r\n\r\n${ping}`);
    const r = await c.readResponse({ timeoutMs: 10_000 });
    assert.is(r.status, 503, r.raw.toString('latin1'));
    assert.is(r.headers['retry-after'], '1');
    assert.is(r.headers.connection, 'close');
    assert.is(JSON.parse(r.body.toString()).error.data.reason, 'fd-exhausted');
    assert.is(JSON.parse(r.body.toString()).id, 31, "the request's id");
    // The storm's log lines: at most one a second per kind.
    const seconds = (Date.now() - startedAt) / 1000;
    const lines = p.lines.filter((l) => l.kind === 'fd-exhausted').length + count('accept failed');
    assert.ok(lines >= 1 && lines <= 2 * (Math.ceil(seconds) + 1), `${lines} log lines in ${seconds} s`);
    for (const k of clients) k.close();
    clients.length = 0;
    // Descriptors free again: served as before.
    await until(async () => {
      try {
        const k = await RawClient.connect(port);
        k.write('GET /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
        const res = await k.readResponse({ timeoutMs: 2000 }).catch(() => null);
        k.close();
        return res?.status === 200;
      } catch {
        return false;
      }
    }, 20_000, 'service after the storm');
  } finally {
    for (const k of clients) k.close();
    p.child.kill('SIGKILL');
    await p.exited;
    await up.close();
  }
});

fds.run();
