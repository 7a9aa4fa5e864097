// The built CLI as a child process, the way a user runs it.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli, startCli } from '../helpers/cli.js';
import { startHttpUpstream } from '../helpers/upstreams.js';

const cli = suite('cli');

cli('an upstream that cannot be reached at start: one warning line, and the proxy serves anyway; a reachable one: no warning', async () => {
  const { closedPort } = await import('../helpers/upstreams.js');
  const port = await closedPort();
  for (const args of [['forward', 'http', '--url', `http://127.0.0.1:${port}/mcp`], ['forward', 'tcp', '--upstream', `127.0.0.1:${port}`]]) {
    const p = startCli([...args, '--port', '0']);
    try {
      const listening = await p.waitFor((l) => l.msg === 'listening');
      const warning = await p.waitFor((l) => l.msg === 'upstream not reachable at start: requests get 502 until it is');
      assert.is(warning.level, 40);
      assert.match(String(warning.err), /ECONNREFUSED/);
      const c = net.connect(Number(listening.port), '127.0.0.1');
      await new Promise<void>((r, j) => c.once('connect', () => r()).once('error', j));
      c.destroy();
      assert.is(p.child.exitCode, null, 'still running');
    } finally {
      p.child.kill('SIGTERM');
      assert.is(await p.exited, 0);
    }
    assert.is(p.lines.filter((l) => String(l.msg).startsWith('upstream not reachable')).length, 1);
  }
  const up = await startHttpUpstream((_req, res) => res.end());
  const ok = startCli(['forward', 'http', '--url', up.url, '--port', '0', '--log-level', 'debug']);
  try {
    await ok.waitFor((l) => l.msg === 'upstream reachable');
    assert.not.ok(ok.lines.some((l) => String(l.msg).startsWith('upstream not reachable')));
  } finally {
    ok.child.kill('SIGTERM');
    await ok.exited;
    await up.close();
  }
});

cli('a bad flag prints one line and exits 2', async () => {
  const r = await runCli(['forward', 'http', '--port', 'eighty']);
  assert.is(r.code, 2);
  assert.is(r.stderr, "shadowcat: invalid --port 'eighty': expected a whole number\n");
  const r2 = await runCli(['forward', 'http', '--nope']);
  assert.is(r2.code, 2);
  assert.is(r2.stderr.trim().split('\n').length, 1);
});

cli('flags read as typed: --port -1 is a bad port; a non-loopback admin address without a token is refused', async () => {
  const r = await runCli(['forward', 'http', '--port', '-1']);
  assert.is(r.code, 2);
  assert.is(r.stderr, "shadowcat: invalid --port '-1': expected a whole number\n");
  const open = await runCli(['forward', 'http', '--admin-port', '0', '--admin-host', '0.0.0.0']);
  assert.is(open.code, 2);
  assert.match(open.stderr, /^shadowcat: --admin-host 0\.0\.0\.0 is not a loopback address: set --admin-token/);
  assert.is(open.stderr.trim().split('\n').length, 1);
});

cli('SHADOWCAT_ADMIN_TOKEN guards the admin API and never reaches a log line, at any level', async () => {
  const secret = 'tok-7f3a9c-never-logged';
  const p = startCli(['forward', 'http', '--port', '0', '--admin-port', '0', '--log-level', 'trace'], undefined, { ...process.env, SHADOWCAT_ADMIN_TOKEN: secret });
  try {
    const listening = await p.waitFor((l) => l.msg === 'listening');
    const get = (headers: Record<string, string>): Promise<number> => new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: Number(listening.adminPort), path: '/sessions', agent: false, headers }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      }).on('error', reject);
    });
    assert.is(await get({}), 401);
    assert.is(await get({ authorization: `Bearer ${secret}` }), 200);
    // A request through the proxy, so per-request and per-message lines are logged too.
    await new Promise<void>((resolve) => {
      const req = http.request({ port: Number(listening.port), host: '127.0.0.1', path: '/mcp', method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.end('{"jsonrpc":"2.0","id":1,"method":"ping"}');
    });
    await p.waitFor((l) => l.msg === 'session end');
  } finally {
    p.child.kill('SIGTERM');
    await p.exited;
  }
  assert.ok(p.lines.length > 3);
  assert.not.ok(p.lines.some((l) => JSON.stringify(l).includes(secret)), 'the token is in a log line');
});

cli('--version and --help for every command', async () => {
  const v = await runCli(['--version']);
  assert.is(v.code, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  for (const mode of ['http', 'tcp', 'stdio']) {
    const h = await runCli(['forward', mode, '--help']);
    assert.is(h.code, 0);
    assert.match(h.stdout, new RegExp(`shadowcat forward ${mode}`));
  }
  assert.match((await runCli(['--help'])).stdout, /forward http/);
});

cli('make run\'s command: the logged curl line reaches the demo server through the proxy', async () => {
  const p = startCli(['forward', 'http', '--port', '0', '--multi-session']);
  try {
    await p.waitFor((l) => l.msg === 'try it');
    // The plain-text line a human copies (the JSON log line escapes its quotes).
    const plain = await p.waitFor((l) => typeof l.raw === 'string' && l.raw.startsWith('  curl '));
    const curl = String(plain.raw).trim();
    assert.match(curl, /^curl .*http:\/\/127\.0\.0\.1:\d+\/mcp/);
    const out = await new Promise<string>((resolve, reject) => {
      execFile('bash', ['-c', curl], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    }).catch(async (err: unknown) => {
      // No curl on this machine: send the same request ourselves.
      if (!String(err).includes('command not found') && !String(err).includes('ENOENT')) throw err;
      const port = Number(/:(\d+)\/mcp/.exec(curl)![1]);
      const body = /-d '(.*)'$/.exec(curl)![1]!;
      return new Promise<string>((resolve) => {
        const req = http.request({ port, host: '127.0.0.1', path: '/mcp', method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
          let t = `HTTP/1.1 ${res.statusCode}\r\n${Object.entries(res.headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
          res.on('data', (d) => (t += d));
          res.on('end', () => resolve(t));
        });
        req.end(body);
      });
    });
    assert.match(out, /HTTP\/1\.1 200/);
    assert.match(out, /mcp-session-id: [0-9a-f-]{36}/i);
    assert.match(out, /"serverInfo":\{"name":"shadowcat-demo"/);
    await p.waitFor((l) => l.msg === 'session end');
  } finally {
    p.child.kill('SIGTERM');
    assert.is(await p.exited, 0);
  }
});

cli('--log-level debug: one line per request and per MCP message, each with the session id', async () => {
  const p = startCli(['forward', 'http', '--port', '0', '--multi-session', '--log-level', 'debug']);
  try {
    const port = Number((await p.waitFor((l) => l.msg === 'listening')).port);
    const body = '{"jsonrpc":"2.0","id":9,"method":"tools/list"}';
    await new Promise<void>((resolve) => {
      const req = http.request({ port, host: '127.0.0.1', path: '/mcp', method: 'POST', headers: { 'content-type': 'application/json', 'mcp-session-id': 'nope' } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.end(body);
    });
    const start = await p.waitFor((l) => l.msg === 'session start');
    const line = await p.waitFor((l) => l.msg === 'request');
    assert.is(line.sid, start.sid);
    assert.is(line.method, 'POST');
    assert.is(line.path, '/mcp');
    assert.is(line.status, 404); // the demo server does not know that MCP session
    assert.type(line.ms, 'number');
    const msg = await p.waitFor((l) => l.msg === 'mcp message' && l.method === 'tools/list');
    assert.is(msg.sid, start.sid);
    assert.is(msg.id, '9');
    assert.is(msg.mcp, 'nope');
    // At info, neither line appears.
    const quiet = startCli(['forward', 'http', '--port', '0', '--multi-session']);
    const quietPort = Number((await quiet.waitFor((l) => l.msg === 'listening')).port);
    await new Promise<void>((resolve) => {
      const req = http.request({ port: quietPort, host: '127.0.0.1', path: '/mcp', method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.end(body);
    });
    await quiet.waitFor((l) => l.msg === 'session end');
    quiet.child.kill('SIGTERM');
    await quiet.exited;
    assert.not.ok(quiet.lines.some((l) => l.msg === 'request' || l.msg === 'mcp message'));
  } finally {
    p.child.kill('SIGTERM');
    await p.exited;
  }
});

cli('a 1 GiB request body streams through with bounded proxy memory', async () => {
  const hash = createHash('sha256');
  let received = 0;
  const up = await startHttpUpstream((req, res) => {
    req.on('data', (d: Buffer) => {
      received += d.length;
      hash.update(d);
    });
    req.on('end', () => res.end(hash.digest('hex')));
  });
  const p = startCli(['forward', 'http', '--port', '0', '--multi-session', '--url', up.url, '--max-body-size', String(2 * 1024 ** 3)]);
  try {
    const port = Number((await p.waitFor((l) => l.msg === 'listening')).port);
    const baseline = p.peakRssKiB();
    const total = 1024 ** 3;
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const expect = createHash('sha256');
    for (let i = 0; i < total / chunk.length; i++) expect.update(chunk);
    const digest = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(`POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${total}\r\n\r\n`);
        let sent = 0;
        const pump = (): void => {
          while (sent < total) {
            sent += chunk.length;
            if (!s.write(chunk)) {
              s.once('drain', pump);
              return;
            }
          }
        };
        pump();
      });
      let answer = '';
      s.on('data', (d) => {
        answer += d;
        if (answer.includes('\r\n\r\n') && /\r\n\r\n[0-9a-f]{64}/.test(answer)) {
          s.destroy();
          resolve(/\r\n\r\n([0-9a-f]{64})/.exec(answer)![1]!);
        }
      });
      s.on('error', reject);
    });
    assert.is(received, total);
    assert.is(digest, expect.digest('hex'));
    // Node allocates a fresh buffer per socket read and V8 collects them once ~64 MiB of
    // external memory is pending, so peak RSS rises by up to ~70 MiB for any body of 64 MiB
    // or more, then stays flat. Buffering the body would show as growth near 1 GiB.
    // The exact backpressure proof is in corridor.test.ts (bytes accepted by a stalled peer).
    const growthMiB = (p.peakRssKiB() - baseline) / 1024;
    assert.ok(growthMiB < 96, `proxy peak RSS grew by ${growthMiB.toFixed(1)} MiB for a 1 GiB body`);
  } finally {
    p.child.kill('SIGTERM');
    await p.exited;
    await up.close();
  }
});

cli.run();
