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
    c.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
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
  c.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
  assert.is((await c.readResponse()).status, 502);
  c.close();
  assert.is(p.child.exitCode, null, 'still running');
});

// The embedding API as a user gets it: a script in the consumer folder imports the package
// by name (its exports map), drives startProxy with hooks, and closes it; the SDK client it
// uses is the repo's (the consumer installed production dependencies only).
const EMBED = `
import { startProxy } from 'shadowcat';
import { Client } from ${JSON.stringify(join(ROOT, 'node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js'))};
import { StreamableHTTPClientTransport } from ${JSON.stringify(join(ROOT, 'node_modules/@modelcontextprotocol/sdk/dist/esm/client/streamableHttp.js'))};
const seen = [];
const opened = [];
const closed = [];
const before = new Set(process.getActiveResourcesInfo());
const proxy = await startProxy({
  port: 0, multiSession: true, sessionTimeout: 60,
  hooks: {
    onMessage: (m) => seen.push(m.from + ' ' + m.method + (m.name ? ' ' + m.name : '')),
    onSessionOpen: (s) => opened.push(s.id),
    onSessionClose: (s, reason) => closed.push(reason),
    decide: (call) => (call.name === 'echo' && call.bytes.includes('blocked') ? { block: 'not from this hook' } : undefined),
    decideMethods: ['tools/call'],
  },
});
const client = new Client({ name: 'embedder', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL('http://127.0.0.1:' + proxy.addresses.port + '/mcp')));
const echo = await client.callTool({ name: 'echo', arguments: { message: 'fine' } });
let blocked = null;
try {
  await client.callTool({ name: 'echo', arguments: { message: 'blocked' } });
} catch (err) {
  blocked = { code: err.code, message: err.message };
}
const sessions = proxy.sessions().length;
await client.close();
const report = await proxy.close({ drainMs: 2000 });
let bad = null;
try { await startProxy({ port: -1 }); } catch (err) { bad = err.message; }
let unknown = null;
try { await startProxy({ colour: 'red' }); } catch (err) { unknown = err.message; }
await new Promise((r) => setTimeout(r, 50));
const left = process.getActiveResourcesInfo().filter((t) => !before.has(t) && t !== 'Timeout');
console.log(JSON.stringify({ echo: echo.content[0].text, blocked, seen, opened: opened.length, closed, sessions, report, bad, unknown, left }));
`;

pack('import { startProxy } from \'shadowcat\': hooks see the messages, a decider answers, close() leaves nothing behind', async () => {
  const app = join(work, 'app');
  writeFileSync(join(app, 'embed.mjs'), EMBED);
  const out = JSON.parse((await run(process.execPath, ['embed.mjs'], app, 60_000)).trim().split('\n').pop()!) as {
    echo: string; blocked: { code: number; message: string } | null; seen: string[]; opened: number; closed: string[]; sessions: number;
    report: { forced: number }; bad: string; unknown: string; left: string[];
  };
  assert.is(out.echo, 'Echo: fine');
  assert.is(out.blocked?.code, -32001);
  assert.match(String(out.blocked?.message), /not from this hook/);
  assert.ok(out.seen.includes('client initialize'), out.seen.join(', '));
  assert.ok(out.seen.includes('client tools/call echo'), `onMessage names the tool: ${out.seen.join(', ')}`);
  assert.not.ok(out.seen.includes('client tools/call'), 'no tools/call without its name');
  assert.ok(out.seen.includes('server '), 'responses seen too');
  assert.ok(out.opened >= 1);
  assert.is(out.closed.length, out.opened, 'every session opened was closed');
  assert.ok(out.sessions >= 1);
  assert.is(out.report.forced, 0);
  assert.match(out.bad, /invalid --port '-1'/, 'the CLI\'s own message');
  assert.match(out.unknown, /unknown option 'colour'/);
  assert.equal(out.left, [], `handles left behind: ${out.left.join(', ')}`);
});

pack.run();
