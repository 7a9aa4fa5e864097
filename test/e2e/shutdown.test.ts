// Graceful shutdown on the built CLI: SIGTERM with a request in flight.

import http from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startCli } from '../helpers/cli.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/proxy.js';
import { startHttpUpstream } from '../helpers/upstreams.js';

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    }).on('error', () => resolve(-1));
  });
}

const shutdown = suite('shutdown');

shutdown('SIGTERM: in-flight response delivered, idle connection closed at once, /healthz 503, exit 0', async () => {
  let release: (() => void) | null = null;
  const up = await startHttpUpstream((req, res) => {
    if (req.url === '/slow') {
      release = () => res.end('slow answer');
      return;
    }
    res.end('quick');
  });
  const p = startCli(['forward', 'http', '--port', '0', '--multi-session', '--url', up.url, '--admin-port', '0', '--shutdown-timeout', '10']);
  try {
    const listening = await p.waitFor((l) => l.msg === 'listening');
    const port = Number(listening.port);
    const adminPort = Number(listening.adminPort);
    const idle = await RawClient.connect(port);
    idle.write('GET /quick HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.is((await idle.readResponse()).body.toString(), 'quick');
    const busy = await RawClient.connect(port);
    busy.write('GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await until(() => release !== null, 5000, 'slow request upstream');
    // Twice, as `make run` stopped through its process group delivers it (the group's
    // signal, then make's forwarded copy): still one graceful drain.
    p.child.kill('SIGTERM');
    p.child.kill('SIGTERM');
    await p.waitFor((l) => l.msg === 'draining');
    await idle.waitClosed(2000); // idle keep-alive closed at once
    assert.is(await get(adminPort, '/healthz'), 503);
    assert.not.ok(busy.ended);
    release!();
    const r = await busy.readResponse();
    assert.is(r.body.toString(), 'slow answer');
    assert.is(r.headers.connection, 'close');
    assert.is(await p.exited, 0);
    const drained = await p.waitFor((l) => l.msg === 'drained');
    assert.is(drained.drained, 2);
    assert.is(drained.forced, 0);
    assert.not.ok(p.lines.some((l) => l.msg === 'second signal: exiting now'));
  } finally {
    p.child.kill('SIGKILL');
    await up.close();
  }
});

/** A CLI proxy in front of an upstream that never answers, with one request in flight. */
async function withHangingRequest(shutdownTimeout: string): Promise<{ p: ReturnType<typeof startCli>; c: RawClient; up: Awaited<ReturnType<typeof startHttpUpstream>> }> {
  const up = await startHttpUpstream(() => undefined);
  const p = startCli(['forward', 'http', '--port', '0', '--multi-session', '--url', up.url, '--shutdown-timeout', shutdownTimeout]);
  const port = Number((await p.waitFor((l) => l.msg === 'listening')).port);
  const c = await RawClient.connect(port);
  c.write('GET /hang HTTP/1.1\r\nHost: localhost\r\n\r\n');
  // Two connections reach the upstream: the start-up probe (closed at once) and the request's.
  await until(() => up.accepted() === 2 && up.open() === 1, 5000, 'request upstream');
  return { p, c, up };
}

shutdown('the drain ends at --shutdown-timeout; a second, different signal exits at once', async () => {
  const { p, up } = await withHangingRequest('30');
  try {
    p.child.kill('SIGTERM');
    await p.waitFor((l) => l.msg === 'draining');
    p.child.kill('SIGINT');
    const code = await p.exited;
    assert.is(code, 130);
  } finally {
    p.child.kill('SIGKILL');
    await up.close();
  }
});

shutdown('forced close after the timeout, exit 0, counted as forced', async () => {
  const { p, c, up } = await withHangingRequest('0.3');
  try {
    p.child.kill('SIGTERM');
    assert.is(await p.exited, 0);
    const drained = await p.waitFor((l) => l.msg === 'drained');
    assert.is(drained.forced, 1);
    await c.waitClosed();
  } finally {
    p.child.kill('SIGKILL');
    await up.close();
  }
});

shutdown.run();
