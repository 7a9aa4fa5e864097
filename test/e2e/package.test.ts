// The package as users get it: `npm pack` on a tree without dist/ (prepack builds it),
// `npm install <tgz> --omit=dev` into an empty folder, and the installed `shadowcat`
// run in every mode with MCP traffic through it. A green run of the repo's own tests
// once hid a crash here (a run-time module that was only a devDependency).

import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startCli, type CliProcess } from '../helpers/cli.js';
import { EVERYTHING } from '../helpers/everything.js';
import { RawClient } from '../helpers/raw-client.js';
import { startHttpUpstream } from '../helpers/upstreams.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'shadowcat-pack-'));
let bin = '';
let children: CliProcess[] = [];

function run(cmd: string, args: string[], cwd: string, timeoutMs = 240_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: timeoutMs, maxBuffer: 16 << 20, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } },
      (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`))));
  });
}

function textOf(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

async function listeningPort(p: CliProcess): Promise<number> {
  return Number((await p.waitFor((l) => l.msg === 'listening', 30_000)).port);
}

const pack = suite('npm pack + npm install --omit=dev');

pack.before(async () => {
  // uvu does not print a failing hook's error: say it, then fail every test.
  try {
    await setUp();
  } catch (err) {
    process.stderr.write(`package set-up failed: ${String(err)}\n`);
    throw err;
  }
});

async function setUp(): Promise<void> {
  // A tree as a fresh clone has it: sources, no dist/. node_modules is the repo's own,
  // already installed by `make test` (timestamps kept, so make sees it up to date).
  const tree = join(work, 'clone');
  mkdirSync(tree);
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'Makefile', 'README.md', 'src']) {
    cpSync(join(ROOT, f), join(tree, f), { recursive: true, preserveTimestamps: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  // prepack's own output (make echoing its commands) comes before npm's JSON.
  const out = await run('npm', ['pack', '--json', '--pack-destination', work], tree);
  const packed = JSON.parse(out.slice(out.indexOf('[\n'))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = packed[0]!.files.map((f) => f.path);
  assert.ok(files.includes('dist/cli.js'), `packed files: ${files.join(', ')}`);
  assert.ok(files.includes('dist/http/framer.js'));
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{"name":"consumer","version":"1.0.0","private":true}\n');
  await run('npm', ['install', join(work, packed[0]!.filename), '--omit=dev', '--no-audit', '--no-fund'], app);
  bin = join(app, 'node_modules', '.bin', 'shadowcat');
}

pack.after.each(async () => {
  for (const c of children) {
    if (c.child.exitCode === null) c.child.kill('SIGKILL');
    await c.exited;
  }
  children = [];
});

pack.after(() => {
  rmSync(work, { recursive: true, force: true });
});

pack('the install holds run-time dependencies only', () => {
  const modules = readdirSync(join(work, 'app', 'node_modules'));
  for (const dev of ['typescript', 'llhttp-wasm', 'uvu', '@modelcontextprotocol', 'cac']) {
    assert.not.ok(modules.includes(dev), `${dev} was installed with --omit=dev`);
  }
  assert.ok(existsSync(join(work, 'app', 'node_modules', 'undici')), 'undici (the llhttp wasm) is a run-time dependency');
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return run(bin, ['--version'], work).then((out) => assert.is(out.trim(), version));
});

for (const multi of [false, true]) {
  pack(`forward http${multi ? ' --multi-session' : ''} on the demo upstream: the SDK client initialises, lists and calls`, async () => {
    const p = startCli(['forward', 'http', '--port', '0', ...(multi ? ['--multi-session'] : [])], bin);
    children.push(p);
    const port = await listeningPort(p);
    const client = new Client({ name: 'pack-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
    const tools = await client.listTools();
    assert.ok(tools.tools.some((t) => t.name === 'echo'));
    assert.match(textOf(await client.callTool({ name: 'echo', arguments: { message: 'installed' } })), /installed/);
    await client.close();
    p.child.kill('SIGTERM');
    assert.is(await p.exited, 0);
  });
}

pack('forward tcp: bytes both ways', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('pong'));
  try {
    const p = startCli(['forward', 'tcp', '--port', '0', '--upstream', `127.0.0.1:${up.port}`], bin);
    children.push(p);
    const port = await listeningPort(p);
    const c = await RawClient.connect(port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const res = await c.readResponse();
    assert.is(res.status, 200);
    assert.is(res.body.toString(), 'pong');
    c.close();
  } finally {
    await up.close();
  }
});

pack('forward stdio: the SDK client through the installed command to server-everything', async () => {
  const transport = new StdioClientTransport({ command: process.execPath, args: [bin, 'forward', 'stdio', '--', process.execPath, EVERYTHING, 'stdio'], stderr: 'pipe' });
  const client = new Client({ name: 'pack-stdio', version: '1.0.0' });
  await client.connect(transport);
  assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'stdio installed' } })), 'Echo: stdio installed');
  await client.close();
});

pack('a refused upstream connect through the installed command is a 502, not a crash', async () => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const p = startCli(['forward', 'http', '--port', '0', '--url', `http://127.0.0.1:${deadPort}/mcp`], bin);
  children.push(p);
  const port = await listeningPort(p);
  const c = await RawClient.connect(port);
  c.write('POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
  assert.is((await c.readResponse()).status, 502);
  c.close();
  assert.is(p.child.exitCode, null, 'still running');
});

pack.run();
