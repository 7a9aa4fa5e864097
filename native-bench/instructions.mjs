#!/usr/bin/env node
// make instructions: user-space instructions per request of each (b) target — a new
// client connection per request — counted by valgrind (callgrind), not timed. Instruction
// counts repeat from run to run whatever else the machine does, where req/s on this VM
// swings by a third; they leave out the kernel, which strace counts by syscall instead.
// Each target runs under callgrind with instrumentation off, takes a warm-up of requests
// (so V8 has compiled what it will), then instrumentation is turned on for the counted
// requests only. The upstream is a fixed keep-alive answer served by this script.
// Writes native-bench/results/instructions-<stamp>.md (and prints it). Needs valgrind.
//
// Usage: node native-bench/instructions.mjs [--warm 6000] [--count 2000] [--only name,name]

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, NODE_ENV, NODE_FLAGS, nodeStartup, waitPort } from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const WORK = join(HERE, '.work');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const WARM = opt('warm', 6000);
const COUNT = opt('count', 2000);
const onlyAt = args.indexOf('--only');
const ONLY = onlyAt === -1 ? null : args[onlyAt + 1].split(',');

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('instructions needs valgrind (Debian: apt-get install valgrind)');
  process.exit(1);
}
mkdirSync(WORK, { recursive: true });

// The upstream: every request gets the same small JSON answer; the connection is kept
// unless the request says `Connection: close` (the socket pipe passes the client's on).
const ANSWER = '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"Echo: hello"}]}}';
const RESPONSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${ANSWER.length}\r\nKeep-Alive: timeout=75\r\n\r\n${ANSWER}`, 'latin1');
const upstream = net.createServer((s) => {
  let pending = '';
  s.on('data', (d) => {
    pending += d.toString('latin1');
    // Requests carry a Content-Length body: answer each whole one.
    for (;;) {
      const headEnd = pending.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const m = /content-length: *(\d+)/i.exec(pending.slice(0, headEnd));
      const end = headEnd + 4 + (m === null ? 0 : Number(m[1]));
      if (pending.length < end) return;
      const close = /\r\nconnection: *close\r\n/i.test(pending.slice(0, headEnd + 2));
      pending = pending.slice(end);
      if (close) return void s.end(RESPONSE);
      s.write(RESPONSE);
    }
  });
  s.on('error', () => {});
});
await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamPort = upstream.address().port;

// SHADOWCAT_CLI: count another build's cli.js (a before/after comparison).
const CLI = process.env.SHADOWCAT_CLI ?? join(ROOT, 'dist', 'cli.js');
const shadowcat = (...extra) => (p, u) => [CLI, 'forward', 'http', '--port', String(p), '--url', `http://127.0.0.1:${u}/mcp`, '--log-level', 'warn',
  '--max-sessions', '100000', '--max-per-client', '100000', ...extra];
const TARGETS = [
  { name: 'shadowcat L7 multi, --upstream-pool 64', argv: shadowcat('--multi-session', '--upstream-pool', '64') },
  { name: 'shadowcat L7 multi-session', argv: shadowcat('--multi-session') },
  { name: 'node socket pipe', argv: (p, u) => [join(HERE, 'socket-pipe-target.mjs'), String(p), String(u)] },
  { name: 'bare Node relay (yardstick)', argv: (p, u) => [join(HERE, 'bare-relay-target.mjs'), String(p), String(u)] },
];

// The driver is a child process and is awaited, not waited for: the upstream above runs
// on this process's event loop.
async function drive(port, n) {
  const child = spawn(process.execPath, [join(HERE, 'drive-close.mjs'), String(port), String(n), '4'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((resolve) => child.once('exit', resolve));
  const m = /done (\d+) bad (\d+)/.exec(out);
  if (m === null || m[2] !== '0') throw new Error(`driver: ${out.trim()}`);
}

/** Instructions in the callgrind file: all, and those of V8's optimizing compiler (JIT work still going on). */
function count(file) {
  // "summary:" can read 0 when instrumentation started late; "totals:" counts what was collected.
  const text = readFileSync(file, 'utf8');
  const totals = /^totals:\s+(\d+)/m.exec(text) ?? /^summary:\s+(\d+)/m.exec(text);
  const annotated = execFileSync('callgrind_annotate', ['--threshold=100', file], { maxBuffer: 64 * 1024 * 1024 }).toString();
  let compiler = 0;
  for (const line of annotated.split('\n')) {
    const m = /^\s*([\d,]+)\s+\([\s\d.]+%\)\s+.*v8::internal::compiler::/.exec(line);
    if (m !== null) compiler += Number(m[1].replaceAll(',', ''));
  }
  return { total: Number(totals[1]), compiler };
}

const rows = [];
for (const target of TARGETS) {
  if (ONLY !== null && !ONLY.some((o) => target.name.toLowerCase().includes(o.toLowerCase()))) continue;
  const port = await freePort();
  const out = join(WORK, `callgrind-${port}.out`);
  const child = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`, process.execPath, ...NODE_FLAGS,
    ...target.argv(port, upstreamPort)], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...NODE_ENV } });
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-20_000)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await waitPort(port, 180_000);
    await drive(port, WARM);
    execFileSync('callgrind_control', ['-i', 'on', String(child.pid)], { stdio: 'ignore' });
    await drive(port, COUNT);
    execFileSync('callgrind_control', ['-i', 'off', String(child.pid)], { stdio: 'ignore' });
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  const c = count(out);
  rmSync(out, { force: true });
  const row = { name: target.name, perRequest: c.total / COUNT, compiler: c.compiler / COUNT };
  rows.push(row);
  process.stderr.write(`${row.name.padEnd(40)} ${(row.perRequest / 1000).toFixed(0).padStart(6)}k instructions/request (V8 compiler ${(row.compiler / 1000).toFixed(0)}k)\n`);
  if (c.total === 0) process.stderr.write(err);
}
upstream.close();

const stamp = new Date().toISOString();
let md = `# Instructions per request, scenario (b) — ${stamp}\n\n`;
md += `Command: \`make instructions\` (node native-bench/instructions.mjs --warm ${WARM} --count ${COUNT}) · valgrind callgrind, user space only · `
  + `${COUNT} requests counted after ${WARM} of warm-up, each on a new connection with Connection: close, 4 at a time · Node ${process.version} with ${nodeStartup()}\n\n`;
md += '| target | instructions / request | without V8 compiler work | × socket pipe |\n|---|---:|---:|---:|\n';
const pipe = rows.find((r) => r.name === 'node socket pipe');
for (const r of rows) {
  const net = r.perRequest - r.compiler;
  const vsPipe = pipe === undefined ? '–' : `${(net / (pipe.perRequest - pipe.compiler)).toFixed(2)}×`;
  md += `| ${r.name} | ${(r.perRequest / 1000).toFixed(0)}k | ${(net / 1000).toFixed(0)}k | ${vsPipe} |\n`;
}
const file = join(HERE, 'results', `instructions-${stamp.replace(/[:.]/g, '-')}.md`);
writeFileSync(file, md);
console.log(md);
console.log(`written: ${file}`);
