// forward stdio on the built CLI: bytes pass unchanged both ways, exit codes propagate,
// and stdin end / signals stop the child as SPEC says.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI } from '../helpers/cli.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface BridgeRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs `forward stdio` around a node child. `ready` (optional) is awaited before `then`
 * runs: tests wait for a line the child prints once it is set up, never for a fixed time.
 */
function runBridge(childScript: string, input: Buffer, extra: string[] = [], then?: { ready: (out: Buffer, err: string) => boolean; act: (p: ChildProcess) => void }): Promise<BridgeRun> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, 'forward', 'stdio', ...extra, '--', process.execPath, '-e', childScript], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    let acted = false;
    const check = (): void => {
      if (then === undefined || acted || !then.ready(Buffer.concat(out), err)) return;
      acted = true;
      then.act(p);
    };
    p.stdout.on('data', (d: Buffer) => {
      out.push(d);
      check();
    });
    p.stderr.on('data', (d) => {
      err += d;
      check();
    });
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
    if (then === undefined) p.stdin.end(input);
    else p.stdin.write(input);
  });
}

/** Lines of the proxy's own log (pino JSON), without the child's stderr. */
function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const stdio = suite('forward stdio');

stdio('what the child writes reaches stdout byte for byte, whatever it is', async () => {
  // The child echoes stdin to stdout, so both directions are compared at once.
  const lines = [
    '{"jsonrpc":"2.0","id":1,"method":"tools/list"}\n',
    'not json at all\n',
    `{"jsonrpc":"2.0","id":2,"method":"x","params":{"blob":"${'b'.repeat(300_000)}"}}\n`,
    '\n\n',
    '[{"jsonrpc":"2.0","id":3,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]\r\n',
  ];
  const input = Buffer.concat([...lines.map((l) => Buffer.from(l)), randomBytes(100_000), Buffer.from('{"tail":"no newline"}')]);
  const r = await runBridge('process.stdin.pipe(process.stdout)', input, ['--inspect-limit', '65536', '--log-level', 'debug']);
  assert.is(r.code, 0);
  assert.is(sha(r.stdout), sha(input));
  assert.match(r.stderr, /"method":"tools\/list"/);
  assert.match(r.stderr, /forwarded, not inspected/);
  assert.not.match(r.stdout.toString('latin1'), /"level":/, 'logs never go to stdout');
});

stdio('the proxy exits with the child\'s exit code', async () => {
  const r = await runBridge('process.stdin.resume(); process.stdin.on("end", () => process.exit(7))', Buffer.alloc(0));
  assert.is(r.code, 7);
});

stdio('a child that ignores stdin end gets SIGTERM after --shutdown-timeout', async () => {
  const r = await runBridge('setInterval(() => {}, 1000)', Buffer.alloc(0), ['--shutdown-timeout', '0.2']);
  assert.is(r.code, 143);
  assert.match(r.stderr, /SIGTERM/);
});

stdio('a child that ignores SIGTERM gets SIGKILL', async () => {
  // stdin is closed only once the child says its SIGTERM handler is in place (the marker is
  // built at run time: the script's own text is in the proxy's "child started" log line).
  const r = await runBridge('process.on("SIGTERM", () => {}); process.stderr.write("RE" + "ADY\\n"); setInterval(() => {}, 1000)', Buffer.alloc(0), ['--shutdown-timeout', '0.1'],
    { ready: (_out, err) => /^READY$/m.test(err), act: (p) => p.stdin!.end() });
  assert.is(r.code, 137);
  assert.match(r.stderr, /SIGKILL/);
});

stdio('SIGTERM to the proxy closes the child\'s stdin; the child exits on its own', async () => {
  const ping = '{"jsonrpc":"2.0","id":1,"method":"ping"}\n';
  // The child echoing our line proves both are up: then the signal (twice, as make forwards it).
  const r = await runBridge('process.stdin.on("data", (d) => process.stdout.write(d)); process.stdin.on("end", () => { process.stdout.write("bye\\n"); process.exit(0); })',
    Buffer.from(ping), [], { ready: (out) => out.toString().includes(ping), act: (p) => {
      p.kill('SIGTERM');
      p.kill('SIGTERM');
    } });
  assert.is(r.code, 0);
  assert.is(r.stdout.toString(), `${ping}bye\n`);
  assert.not.match(r.stderr, /second signal/);
});

stdio('the child\'s pid is logged once, under its own name', async () => {
  const r = await runBridge('process.stdin.resume(); process.stdin.on("end", () => process.exit(0))', Buffer.alloc(0));
  assert.is(r.code, 0);
  const started = logLines(r.stderr).filter((l) => l.msg === 'child started');
  assert.is(started.length, 1);
  assert.type(started[0]!.child, 'number');
  assert.is.not(started[0]!.child, started[0]!.pid);
  assert.is(logLines(r.stderr).filter((l) => l.msg === 'child exited').length, 1);
});

stdio('a command that cannot start exits 127 with a clear log line', async () => {
  const p = spawn(process.execPath, [CLI, 'forward', 'stdio', '--', '/nonexistent/server'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  p.stdin.end();
  const code = await new Promise<number | null>((r) => p.on('close', r));
  assert.is(code, 127);
  assert.match(err, /could not start the child/);
  // Nothing claims it started or exited.
  assert.not.ok(logLines(err).some((l) => l.msg === 'child started' || l.msg === 'child exited'));
});

stdio('without `--`, as the Inspector and other launchers pass it: the SDK client reaches server-everything', async () => {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  const { EVERYTHING } = await import('../helpers/everything.js');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'forward', 'stdio', '--log-level', 'warn', process.execPath, EVERYTHING, 'stdio'],
    stderr: 'pipe',
  });
  const client = new Client({ name: 'no-dashdash', version: '1.0.0' });
  await client.connect(transport);
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
  assert.match(JSON.stringify(echo), /Echo: hi/);
  await client.close();
});

stdio.run();
