// The MCP Inspector's CLI (a client nobody here wrote) driving shadowcat the way users run
// it: through a stdio server behind Streamable HTTP, and launching `forward stdio` without
// the `--` (the Inspector passes the command's words as they are).

import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, startCli } from '../helpers/cli.js';
import { EVERYTHING } from '../helpers/everything.js';

const require = createRequire(import.meta.url);
const pkg = require.resolve('@modelcontextprotocol/inspector/package.json');
const INSPECTOR = join(dirname(pkg), (require(pkg) as { bin: Record<string, string> }).bin.inspector!);

function inspector(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [INSPECTOR, '--cli', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

const cli = suite('the MCP Inspector CLI');

cli('lists and calls tools through a stdio server behind HTTP, in both session modes', async () => {
  for (const extra of [['--multi-session'], []]) {
    const p = startCli(['forward', 'http', '--port', '0', ...extra, '--', process.execPath, EVERYTHING, 'stdio']);
    try {
      const port = Number((await p.waitFor((l) => l.msg === 'listening')).port);
      const url = `http://127.0.0.1:${port}/mcp`;
      const list = await inspector([url, '--transport', 'http', '--method', 'tools/list']);
      assert.is(list.code, 0, list.stderr);
      assert.match(list.stdout, /"name": "echo"/);
      const call = await inspector([url, '--transport', 'http', '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=bridged']);
      assert.is(call.code, 0, call.stderr);
      assert.match(call.stdout, /Echo: bridged/);
    } finally {
      p.child.kill('SIGTERM');
      assert.is(await p.exited, 0);
    }
  }
});

cli('--transport sse against --serve-sse in front of a stdio server; --transport http with a key (--auth-keys), and without one the 401 it gets', async () => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'inspector-keys-'));
  const keys = join(dir, 'keys.json');
  writeFileSync(keys, JSON.stringify({ keys: [{ name: 'inspector', key: 'inspector-key-0123456789' }] }));
  const p = startCli(['forward', 'http', '--port', '0', '--serve-sse', '--multi-session', '--', process.execPath, EVERYTHING, 'stdio']);
  const k = startCli(['forward', 'http', '--port', '0', '--multi-session', '--auth-keys', keys, '--', process.execPath, EVERYTHING, 'stdio']);
  try {
    const port = Number((await p.waitFor((l) => l.msg === 'listening')).port);
    const sse = await inspector([`http://127.0.0.1:${port}/sse`, '--transport', 'sse', '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=old-transport']);
    assert.is(sse.code, 0, sse.stderr);
    assert.match(sse.stdout, /Echo: old-transport/);
    const keyed = Number((await k.waitFor((l) => l.msg === 'listening')).port);
    const url = `http://127.0.0.1:${keyed}/mcp`;
    const ok = await inspector([url, '--transport', 'http', '--header', 'X-API-Key: inspector-key-0123456789', '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=keyed']);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Echo: keyed/);
    const refused = await inspector([url, '--transport', 'http', '--method', 'tools/list']);
    assert.is.not(refused.code, 0);
    assert.not.match(refused.stdout, /"name": "echo"/);
  } finally {
    p.child.kill('SIGTERM');
    k.child.kill('SIGTERM');
    assert.is(await p.exited, 0);
    assert.is(await k.exited, 0);
    rmSync(dir, { recursive: true, force: true });
  }
});

cli('launches `shadowcat forward stdio <command>` without `--` and calls a tool', async () => {
  // No --log-level here: the Inspector reads that flag as its own.
  const r = await inspector([process.execPath, CLI, 'forward', 'stdio', process.execPath, EVERYTHING, 'stdio',
    '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=no-dashdash']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /Echo: no-dashdash/);
});

cli.run();
