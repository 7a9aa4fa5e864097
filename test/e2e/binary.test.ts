// The single executable (make binary → dist/bin/shadowcat) as a sidecar user runs it:
// copied into an empty temp folder with no node_modules above it and started from there.
// forward http with the SDK client to server-everything (initialize, echo, a progress
// stream), forward stdio, --version, a bad flag.

import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startLogged, type CliProcess } from '../helpers/cli.js';
import { EVERYTHING, startEverythingHttp, type Everything } from '../helpers/everything.js';

const BUILT = new URL('../../dist/bin/shadowcat', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'shadowcat-bin-'));
const bin = join(work, 'shadowcat');
let everything: Everything | undefined;
let proxy: CliProcess | null = null;

function textOf(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((c) => c.text).join('');
}

/** True when a node_modules folder sits in `dir` or any folder above it. */
function nodeModulesAbove(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) return true;
    if (dirname(d) === d) return false;
  }
}

const binary = suite('dist/bin/shadowcat, run from a folder with no node_modules');

binary.before(async () => {
  // make test builds the binary first (make binary); a missing one is a failure, not a skip.
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run make binary`);
  copyFileSync(BUILT, bin);
  everything = await startEverythingHttp();
});
binary.after(async () => {
  await everything?.close();
  rmSync(work, { recursive: true, force: true });
});
binary.after.each(async () => {
  if (proxy !== null && proxy.child.exitCode === null) {
    proxy.child.kill('SIGTERM');
    await proxy.exited;
  }
  proxy = null;
});

// No Node on PATH for the binary: only the folder it sits in.
const NO_NODE_ENV = { PATH: '' } as const;

const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((resolve) => {
  execFile(bin, args, { cwd: work, env: { ...NO_NODE_ENV, PATH: work } }, (err, stdout, stderr) => {
    resolve({ code: err === null ? 0 : Number((err as NodeJS.ErrnoException & { code: unknown }).code), stdout, stderr });
  });
});

binary('the test folder has no node_modules above it', () => {
  assert.not.ok(nodeModulesAbove(work), `${work} has a node_modules above it`);
});

binary('--version names the version and the Node inside; a bad flag exits 2', async () => {
  const v = await run(['--version']);
  assert.is(v.code, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+ \(single executable, Node\.js v\d+\.\d+\.\d+ inside\)\n$/);
  const bad = await run(['forward', 'http', '--port', 'nope']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /invalid --port 'nope'/);
});

binary('forward http: the SDK client initialises, echoes and streams progress through the binary', async () => {
  proxy = startLogged(bin, ['forward', 'http', '--port', '0', '--url', everything!.url, '--multi-session'], { PATH: work });
  const port = Number((await proxy.waitFor((l) => l.msg === 'listening', 30_000)).port);
  const client = new Client({ name: 'binary', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`));
  await client.connect(transport);
  assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'from the binary' } })), 'Echo: from the binary');
  const progress: number[] = [];
  await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, {
    onprogress: (p) => progress.push(p.progress),
  });
  assert.equal(progress, [1, 2, 3]);
  await transport.terminateSession();
  await client.close();
  proxy.child.kill('SIGTERM');
  assert.is(await proxy.exited, 0);
});

binary('forward stdio: the SDK client through the binary to server-everything', async () => {
  const transport = new StdioClientTransport({
    command: bin,
    args: ['forward', 'stdio', '--log-level', 'warn', '--', process.execPath, EVERYTHING, 'stdio'],
    cwd: work,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'binary-stdio', version: '1.0.0' });
  await client.connect(transport);
  assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'stdio' } })), 'Echo: stdio');
  await client.close();
});

binary('--workers 2: the workers start from the binary itself and serve', async () => {
  proxy = startLogged(bin, ['forward', 'http', '--port', '0', '--workers', '2', '--url', everything!.url, '--multi-session'], { PATH: work });
  const port = Number((await proxy.waitFor((l) => l.msg === 'listening' && l.workers === 2, 30_000)).port);
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`));
  const client = new Client({ name: 'binary-workers', version: '1.0.0' });
  await client.connect(transport);
  assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'workers' } })), 'Echo: workers');
  await client.close();
  assert.not.ok(proxy.lines.some((l) => l.msg === 'worker died: starting another'));
});

binary('tapes: forward stdio --record, then tape show and replay --stdio through the binary', async () => {
  const tapes = join(work, 'tapes');
  const record = new StdioClientTransport({
    command: bin,
    args: ['forward', 'stdio', '--log-level', 'warn', '--record', tapes, '--', process.execPath, EVERYTHING, 'stdio'],
    cwd: work,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'binary-tape', version: '1.0.0' });
  await client.connect(record);
  assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: 'taped' } })), 'Echo: taped');
  await client.close();
  const files = (): string[] => readdirSync(tapes).filter((f) => f.endsWith('.jsonl'));
  for (let i = 0; i < 100 && !(files().length === 1 && readFileSync(join(tapes, files()[0]!), 'utf8').includes('"end":')); i++) await new Promise((r) => setTimeout(r, 50));
  const shown = await run(['tape', 'show', join(tapes, files()[0]!)]);
  assert.is(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /tools\/call\s+echo/);
  const replay = new StdioClientTransport({ command: bin, args: ['replay', tapes, '--stdio', '--log-level', 'warn'], cwd: work, stderr: 'pipe' });
  const again = new Client({ name: 'binary-tape', version: '1.0.0' });
  await again.connect(replay);
  assert.is(textOf(await again.callTool({ name: 'echo', arguments: { message: 'taped' } })), 'Echo: taped');
  await again.close();
});

binary.run();
