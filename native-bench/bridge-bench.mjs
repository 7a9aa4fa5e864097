// A stdio MCP server behind Streamable HTTP, side by side in one run (README, "Performance"):
// shadowcat's bridge (a child per session, and one shared child) against supergateway
// (--stateful, the gateway users run today), all in front of the same stdio server that
// answers at once (stdio-echo-server.mjs). The driver is this process, pinned to CPU 0;
// each gateway and its children run on CPU 1. Rows:
//   - tools/call echo: C clients, each its own MCP session on one keep-alive connection,
//     calling in a loop for S seconds: requests/s, p50/p99, gateway CPU per call (the
//     children's CPU apart);
//   - first initialize of a new session, with and without --stdio-pool: p50/p99;
//   - memory per idle bridged session, gateway side (children's RSS apart).
// Usage: node native-bench/bridge-bench.mjs [--seconds 5] [--clients 8] [--runs 3] [--sessions 400] [--parts calls,init,memory]

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { cpuTicks, freePort, NODE_ENV, NODE_FLAGS, waitPort } from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const SERVER = [process.execPath, join(HERE, 'stdio-echo-server.mjs')];
// The idle-memory rows start hundreds of children: a smaller server (python3 from Debian's packages).
const SMALL_SERVER = ['python3', join(HERE, 'stdio-echo-server.py')];
const SUPERGATEWAY = join(HERE, 'node_modules', 'supergateway', 'dist', 'index.js');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
};
const SECONDS = Number(opt('seconds', '5'));
const CLIENTS = Number(opt('clients', '8'));
const RUNS = Number(opt('runs', '3'));
const SESSIONS = Number(opt('sessions', '400'));
const PARTS = opt('parts', 'calls,init,memory').split(',');
const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const TWO_CPUS = availableParallelism() >= 2;

try {
  execFileSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
} catch {
  // no taskset: the numbers are noisier, not wrong
}

function start(argv, port) {
  const cmd = TWO_CPUS ? 'taskset' : process.execPath;
  const full = TWO_CPUS ? ['-c', '1', process.execPath, ...NODE_FLAGS, ...argv] : [...NODE_FLAGS, ...argv];
  const child = spawn(cmd, full, { env: { ...process.env, ...NODE_ENV }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
  return { child, port, err: () => err };
}

const targets = (server) => ({
  'shadowcat bridge, multi-session': (p) => [CLI, 'forward', 'http', '--port', String(p), '--multi-session', '--log-level', 'warn', '--max-per-client', '10000', '--', ...server],
  'shadowcat bridge, multi-session, --stdio-pool 4': (p) => [CLI, 'forward', 'http', '--port', String(p), '--multi-session', '--stdio-pool', '4', '--log-level', 'warn', '--max-per-client', '10000', '--', ...server],
  // Two workers on the gateway's one CPU: what the relay to a session's worker costs (half the sessions are relayed).
  'shadowcat bridge, multi-session, --workers 2': (p) => [CLI, 'forward', 'http', '--port', String(p), '--multi-session', '--workers', '2', '--log-level', 'warn', '--max-per-client', '10000', '--', ...server],
  'shadowcat bridge, shared child': (p) => [CLI, 'forward', 'http', '--port', String(p), '--log-level', 'warn', '--max-per-client', '10000', '--', ...server],
  'supergateway 4.0.0 --stateful': (p) => [SUPERGATEWAY, '--stdio', server.join(' '), '--outputTransport', 'streamableHttp', '--stateful', '--port', String(p), '--logLevel', 'none'],
});
const TARGETS = targets(SERVER);
const SMALL_TARGETS = targets(SMALL_SERVER);

const INIT = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function rpc(client, body, sid) {
  const res = await client.request({ path: '/mcp', method: 'POST', headers: sid === undefined ? HEADERS : { ...HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' }, body });
  const text = await res.body.text();
  return { status: res.statusCode, sid: res.headers['mcp-session-id'], text };
}

async function openSession(port) {
  const client = new Client(`http://127.0.0.1:${port}`, { pipelining: 1, keepAliveTimeout: 60_000 });
  const init = await rpc(client, INIT);
  if (init.status !== 200 || init.sid === undefined) throw new Error(`initialize: ${init.status} ${init.text.slice(0, 200)}`);
  const note = await rpc(client, '{"jsonrpc":"2.0","method":"notifications/initialized"}', init.sid);
  if (note.status !== 202) throw new Error(`initialized: ${note.status}`);
  return { client, sid: init.sid };
}

function percentile(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function childrenOf(pid) {
  try {
    return execFileSync('pgrep', ['-P', String(pid)]).toString().trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Every process under pid (taskset execs node in place, so pid is the gateway itself). */
function descendants(pid) {
  const out = [];
  for (const c of childrenOf(pid)) out.push(c, ...descendants(c));
  return out;
}

function rssKiB(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function callLoad(port, pid, workers) {
  const sessions = await Promise.all(Array.from({ length: CLIENTS }, () => openSession(port)));
  const body = (i) => `{"jsonrpc":"2.0","id":${i},"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`;
  // Warm-up.
  for (const s of sessions) await rpc(s.client, body(1), s.sid);
  const lat = [];
  let errors = 0;
  // With workers, the gateway is the primary and its direct children; the stdio servers are below them.
  const gateway = workers ? [pid, ...childrenOf(pid)] : [pid];
  const gatewayCpu = () => gateway.reduce((n, k) => n + cpuTicks(k), 0);
  const cpu0 = gatewayCpu();
  const kids = descendants(pid).filter((k) => !gateway.includes(k));
  const kidCpu0 = kids.reduce((n, k) => n + cpuTicks(k), 0);
  const t0 = performance.now();
  const until = t0 + SECONDS * 1000;
  await Promise.all(sessions.map(async (s) => {
    let i = 2;
    while (performance.now() < until) {
      const a = performance.now();
      const r = await rpc(s.client, body(i++), s.sid);
      if (r.status !== 200 || !r.text.includes('Echo: hi')) errors++;
      lat.push(performance.now() - a);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const cpu = (gatewayCpu() - cpu0) * TICK_US;
  const kidCpu = (kids.reduce((n, k) => n + cpuTicks(k), 0) - kidCpu0) * TICK_US;
  for (const s of sessions) await s.client.close();
  lat.sort((x, y) => x - y);
  return { rps: lat.length / secs, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), cpuUs: cpu / lat.length, childCpuUs: kidCpu / lat.length, errors };
}

async function firstInit(port) {
  // A pool fills after its start; the rows measure a proxy that is up, not one starting.
  await new Promise((res) => setTimeout(res, 2000));
  const lat = [];
  for (let i = 0; i < 30; i++) {
    const client = new Client(`http://127.0.0.1:${port}`);
    const a = performance.now();
    const r = await rpc(client, INIT);
    lat.push(performance.now() - a);
    if (r.sid !== undefined) await client.request({ path: '/mcp', method: 'DELETE', headers: { 'mcp-session-id': r.sid } }).then((x) => x.body.text());
    await client.close();
    // The pool refills between sessions as it would between users.
    await new Promise((res) => setTimeout(res, 300));
  }
  lat.sort((x, y) => x - y);
  return { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99) };
}

async function idleMemory(port, pid) {
  // Warm-up: the first sessions grow heaps and pools that later ones reuse.
  for (let i = 0; i < 20; i++) {
    const s = await openSession(port);
    await s.client.request({ path: '/mcp', method: 'DELETE', headers: { 'mcp-session-id': s.sid } }).then((x) => x.body.text());
    await s.client.close();
  }
  await new Promise((r) => setTimeout(r, 1500));
  const before = rssKiB(pid);
  const sessions = [];
  for (let i = 0; i < SESSIONS; i++) sessions.push(await openSession(port));
  await new Promise((r) => setTimeout(r, 1500));
  const after = rssKiB(pid);
  const kids = descendants(pid);
  const kidRss = kids.reduce((n, k) => n + rssKiB(k), 0);
  for (const s of sessions) await s.client.close();
  return { perSessionKiB: (after - before) / SESSIONS, childRssMiB: kidRss / 1024, children: kids.length };
}

async function withTarget(name, fn, table = TARGETS) {
  const port = await freePort();
  const t = start(table[name](port), port);
  try {
    await waitPort(port);
    // Workers start one after another: the port opens with the first.
    await new Promise((r) => setTimeout(r, name.includes('--workers') ? 2500 : 500));
    return await fn(port, t.child.pid);
  } catch (err) {
    process.stderr.write(`${name}: ${err.message}\n${t.err()}\n`);
    return null;
  } finally {
    t.child.kill('SIGTERM');
    await new Promise((r) => t.child.once('exit', r));
  }
}

const rows = [];
for (const name of PARTS.includes('calls') ? ['shadowcat bridge, multi-session', 'shadowcat bridge, multi-session, --workers 2', 'shadowcat bridge, shared child', 'supergateway 4.0.0 --stateful'] : []) {
  const runs = [];
  for (let run = 0; run < RUNS; run++) {
    const r = await withTarget(name, (port, pid) => callLoad(port, pid, name.includes('--workers')));
    if (r !== null) runs.push(r);
    process.stderr.write(`calls ${name}: ${r === null ? 'FAILED' : `${r.rps.toFixed(0)} req/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms cpu ${r.cpuUs.toFixed(1)} µs/call children ${r.childCpuUs.toFixed(1)} µs/call errors ${r.errors}`}\n`);
  }
  runs.sort((a, b) => a.rps - b.rps);
  rows.push({ name, ...(runs[Math.floor(runs.length / 2)] ?? { rps: NaN, p50: NaN, p99: NaN, cpuUs: NaN, childCpuUs: NaN, errors: NaN }) });
}
const inits = [];
for (const name of PARTS.includes('init') ? ['shadowcat bridge, multi-session', 'shadowcat bridge, multi-session, --stdio-pool 4', 'supergateway 4.0.0 --stateful'] : []) {
  const r = await withTarget(name, (port) => firstInit(port));
  process.stderr.write(`first initialize ${name}: ${r === null ? 'FAILED' : `p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms`}\n`);
  inits.push({ name, ...(r ?? { p50: NaN, p99: NaN }) });
}
const memory = [];
for (const name of PARTS.includes('memory') ? ['shadowcat bridge, multi-session', 'shadowcat bridge, shared child', 'supergateway 4.0.0 --stateful'] : []) {
  const r = await withTarget(name, (port, pid) => idleMemory(port, pid), SMALL_TARGETS);
  process.stderr.write(`idle sessions ${name}: ${r === null ? 'FAILED' : `${r.perSessionKiB.toFixed(1)} KiB/session, children ${r.children} using ${r.childRssMiB.toFixed(0)} MiB`}\n`);
  memory.push({ name, ...(r ?? { perSessionKiB: NaN, childRssMiB: NaN, children: NaN }) });
}

const sg = rows.find((r) => r.name.startsWith('supergateway')) ?? { rps: NaN, cpuUs: NaN };
const f = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
let md = `### A stdio server behind Streamable HTTP — ${new Date().toISOString()}\n\n`;
md += `tools/call echo, ${CLIENTS} clients (each its own MCP session on one keep-alive connection), ${SECONDS} s, median of ${RUNS} runs; the gateway on CPU 1, the driver on CPU 0.\n\n`;
md += '| target | req/s | × supergateway | p50 ms | p99 ms | gateway CPU µs/call | × supergateway | children CPU µs/call | errors |\n|---|---|---|---|---|---|---|---|---|\n';
for (const r of rows) {
  md += `| ${r.name} | ${f(r.rps, 0)} | ${f(r.rps / sg.rps, 2)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${f(r.cpuUs)} | ${f(r.cpuUs / sg.cpuUs, 2)} | ${f(r.childCpuUs)} | ${r.errors} |\n`;
}
md += `\nFirst initialize of a new session (30 in a row, 300 ms apart):\n\n| target | p50 ms | p99 ms |\n|---|---|---|\n`;
for (const r of inits) md += `| ${r.name} | ${f(r.p50, 2)} | ${f(r.p99, 2)} |\n`;
md += `\nIdle sessions (${SESSIONS} initialised, then left open; a small python3 stdio server):\n\n| target | gateway KiB per session | children | children's RSS MiB |\n|---|---|---|---|\n`;
for (const r of memory) md += `| ${r.name} | ${f(r.perSessionKiB)} | ${r.children} | ${f(r.childRssMiB, 0)} |\n`;
process.stdout.write(md);
mkdirSync(join(HERE, 'results'), { recursive: true });
writeFileSync(join(HERE, 'results', `bridge-${new Date().toISOString().replace(/[:.]/g, '-')}.md`), md);
