// SPEC "forward http": the userinfo and query of --url never reach logs, /sessions,
// metrics or errors; an --upstream-header value never does either, and one that would
// smuggle a header line (CR/LF from ${VAR}) is refused at start.

import http from 'node:http';
import { spawn } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, startCli } from '../helpers/cli.js';
import { adminGet } from '../helpers/proxy.js';
import { rawExchange } from '../helpers/raw-client.js';
import { startHttpUpstream } from '../helpers/upstreams.js';

const PASSWORD = 's3cret-pw-7f3a';
const USER = 'agent-user-91c2';
const QUERY = 'key-4d9e0b';

const secrets = suite('--url secrets');

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr, stdout }));
  });
}

secrets('a run with a secret-bearing --url logs no password, user or query, at trace, in either mode and with workers', async () => {
  let hits = 0;
  const up = await startHttpUpstream((req, res) => {
    hits++;
    // Every other request is cut off, so the proxy writes (and logs) an upstream error too.
    if (hits % 2 === 0) {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
  });
  try {
    const url = `http://${USER}:${PASSWORD}@127.0.0.1:${up.port}/mcp?api_key=${QUERY}`;
    for (const extra of [['--multi-session'], [], ['--multi-session', '--workers', '2']]) {
      const p = startCli(['forward', 'http', '--port', '0', '--admin-port', '0', '--log-level', 'trace', '--url', url, ...extra]);
      const seen: string[] = [];
      try {
        // With workers, the primary's line (the one with the admin port) comes last.
        const listening = await p.waitFor((l) => l.msg === 'listening' && l.adminPort !== null);
        assert.is(listening.upstream, `http://127.0.0.1:${up.port}/mcp`, 'the upstream is logged as scheme, host, port and path');
        const port = Number(listening.port);
        const adminPort = Number(listening.adminPort);
        for (let i = 0; i < 4; i++) {
          const res = await rawExchange(port, 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 40\r\nConnection: close\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"ping"}');
          seen.push(res.raw.toString());
        }
        const keep = http.request({ port, host: '127.0.0.1', path: '/mcp', method: 'POST', headers: { 'content-type': 'application/json' } });
        keep.end('{"jsonrpc":"2.0","id":2,"method":"ping"}');
        await new Promise<void>((r) => keep.on('response', (res) => {
          res.resume();
          r();
        }).on('error', () => r()));
        seen.push(await adminGet(adminPort, '/sessions'), await adminGet(adminPort, '/metrics'), await adminGet(adminPort, '/healthz'));
        keep.destroy();
      } finally {
        p.child.kill('SIGTERM');
        await p.exited;
      }
      const everything = [...p.lines.map((l) => JSON.stringify(l)), ...seen].join('\n');
      assert.ok(p.lines.length > 5, 'there were log lines to read');
      for (const secret of [PASSWORD, USER, QUERY]) assert.not.ok(everything.includes(secret), `${secret} appears with ${extra.join(' ')}`);
    }
  } finally {
    await up.close();
  }
});

secrets('start errors about --url do not echo its secrets', async () => {
  for (const url of [`ftp://${USER}:${PASSWORD}@h/mcp?k=${QUERY}`, `http://${USER}:${PASSWORD}@[bad/mcp?k=${QUERY}`]) {
    const r = await run(['forward', 'http', '--url', url], process.env);
    assert.is(r.code, 2, url);
    assert.match(r.stderr, /invalid --url/);
    for (const secret of [PASSWORD, USER, QUERY]) assert.not.ok(r.stderr.includes(secret), `${secret} in: ${r.stderr}`);
  }
});

secrets('CR or LF in an --upstream-header value from ${VAR} is refused at start, without echoing it', async () => {
  for (const value of ['tok\r\nX-Injected: 1', 'tok\nX-Injected: 1', 'tok\rX']) {
    const r = await run(['forward', 'http', '--upstream-header', 'Authorization: Bearer ${TOKEN}'], { ...process.env, TOKEN: value });
    assert.is(r.code, 2);
    assert.match(r.stderr, /control characters/);
    assert.is(r.stderr.trim().split('\n').length, 1);
    assert.not.ok(r.stderr.includes('Injected'));
  }
});

secrets.run();
