// A stdio client to a remote server (README, "Performance"): `shadowcat forward stdio --url`
// against mcp-remote (what users run today) doing the same, side by side in one run. The
// driver is this process and plays both ends: the stdio client (it writes JSON-RPC lines to
// the tool's stdin and reads its stdout) and a minimal stateful Streamable HTTP MCP server
// on loopback that answers at once (JSON answers, a session id, 405 for GET), so the
// tool's own cost is what differs. The driver is pinned to CPU 0, the tool to CPU 1.
// Rows: tools/call echo with W requests in flight for S seconds: calls/s, p50/p99, the
// tool's CPU per call; and with --upstream-transport auto (its fallback never taken).
// Usage: node native-bench/remote-bench.mjs [--seconds 5] [--window 8] [--runs 3]

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuTicks, NODE_ENV, NODE_FLAGS } from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
// SHADOWCAT_CLI: another build's cli.js, to compare two builds.
const CLI = process.env.SHADOWCAT_CLI ?? join(HERE, '..', 'dist', 'cli.js');
const MCP_REMOTE = join(HERE, 'node_modules', 'mcp-remote', 'dist', 'proxy.js');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
};
const SECONDS = Number(opt('seconds', '5'));
const WINDOW = Number(opt('window', '8'));
const RUNS = Number(opt('runs', '3'));
const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const TWO_CPUS = availableParallelism() >= 2;

try {
  execFileSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
} catch {
  // no taskset: the numbers are noisier, not wrong
}

/** The remote server: stateful Streamable HTTP, JSON answers, nothing per request but parsing. */
function startServer() {
  let sessions = 0;
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    if (req.method === 'GET') return void res.writeHead(405, { allow: 'POST, DELETE' }).end();
    if (req.method === 'DELETE') return void res.writeHead(204).end();
    if (req.method !== 'POST') return void res.writeHead(404).end();
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      let m;
      try {
        m = JSON.parse(Buffer.concat(parts).toString());
      } catch {
        return void res.writeHead(400).end();
      }
      if (m.id === undefined) return void res.writeHead(202).end();
      let result;
      const headers = { 'content-type': 'application/json' };
      if (m.method === 'initialize') {
        headers['mcp-session-id'] = `bench-${++sessions}`;
        result = { protocolVersion: m.params?.protocolVersion ?? '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'bench-remote', version: '1' } };
      } else if (m.method === 'tools/list') {
        result = { tools: [{ name: 'echo', inputSchema: { type: 'object', properties: { message: { type: 'string' } } } }] };
      } else if (m.method === 'tools/call') {
        result = { content: [{ type: 'text', text: `Echo: ${m.params?.arguments?.message}` }] };
      } else {
        result = {};
      }
      res.writeHead(200, headers).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const TARGETS = {
  'shadowcat forward stdio --url': (url) => [CLI, 'forward', 'stdio', '--url', url, '--log-level', 'warn'],
  'shadowcat forward stdio --url --upstream-transport auto': (url) => [CLI, 'forward', 'stdio', '--url', url, '--upstream-transport', 'auto', '--log-level', 'warn'],
  'mcp-remote 0.15.1': (url) => [MCP_REMOTE, url],
};

function percentile(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Runs one tool on `url` for one run: initialize, then WINDOW calls in flight for SECONDS. */
async function run(name, url) {
  const home = mkdtempSync(join(tmpdir(), 'remote-bench-'));
  const argv = TARGETS[name](url);
  const cmd = TWO_CPUS ? 'taskset' : process.execPath;
  const full = TWO_CPUS ? ['-c', '1', process.execPath, ...NODE_FLAGS, ...argv] : [...NODE_FLAGS, ...argv];
  // mcp-remote keeps its OAuth state under $HOME (here: a throwaway one).
  const child = spawn(cmd, full, { env: { ...process.env, ...NODE_ENV, HOME: home, MCP_REMOTE_CONFIG_DIR: join(home, '.mcp-auth') }, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
  const waiting = new Map();
  let partial = '';
  child.stdout.on('data', (d) => {
    partial += d;
    let nl;
    while ((nl = partial.indexOf('\n')) !== -1) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      let m;
      try {
        m = JSON.parse(line);
      } catch {
        continue;
      }
      const w = waiting.get(m.id);
      if (w !== undefined) {
        waiting.delete(m.id);
        w(m);
      }
    }
  });
  const call = (id, method, params) => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name}: no answer to ${method} in 20 s\n${err}`)), 20_000);
    waiting.set(id, (m) => {
      clearTimeout(t);
      resolve(m);
    });
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
  });
  try {
    const init = await call(0, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } });
    if (init.result === undefined) throw new Error(`${name}: initialize failed: ${JSON.stringify(init)}`);
    child.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
    let id = 1;
    const echo = () => call(id++, 'tools/call', { name: 'echo', arguments: { message: 'hi' } });
    for (let i = 0; i < 200; i++) await echo();
    const lat = [];
    let errors = 0;
    const cpu0 = cpuTicks(child.pid);
    const t0 = performance.now();
    const until = t0 + SECONDS * 1000;
    await Promise.all(Array.from({ length: WINDOW }, async () => {
      while (performance.now() < until) {
        const a = performance.now();
        const r = await echo();
        if (r.result?.content?.[0]?.text !== 'Echo: hi') errors++;
        lat.push(performance.now() - a);
      }
    }));
    const secs = (performance.now() - t0) / 1000;
    const cpu = (cpuTicks(child.pid) - cpu0) * TICK_US;
    lat.sort((x, y) => x - y);
    return { rps: lat.length / secs, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), cpuUs: cpu / lat.length, errors };
  } finally {
    child.stdin.end();
    const gone = new Promise((r) => child.once('exit', r));
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(kill);
    rmSync(home, { recursive: true, force: true });
  }
}

const server = await startServer();
const url = `http://127.0.0.1:${server.address().port}/mcp`;
const rows = [];
for (const name of Object.keys(TARGETS)) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    try {
      const r = await run(name, url);
      runs.push(r);
      process.stderr.write(`${name}: ${r.rps.toFixed(0)} calls/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms cpu ${r.cpuUs.toFixed(1)} µs/call errors ${r.errors}\n`);
    } catch (e) {
      process.stderr.write(`${name}: FAILED ${e.message}\n`);
    }
  }
  runs.sort((a, b) => a.rps - b.rps);
  rows.push({ name, ...(runs[Math.floor(runs.length / 2)] ?? { rps: NaN, p50: NaN, p99: NaN, cpuUs: NaN, errors: NaN }) });
}
server.close();

const base = rows.find((r) => r.name.startsWith('mcp-remote')) ?? { rps: NaN, cpuUs: NaN };
const f = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
let md = `### A stdio client to a remote server — ${new Date().toISOString()}\n\n`;
md += `tools/call echo over stdin/stdout, ${WINDOW} calls in flight, ${SECONDS} s, median of ${RUNS} runs, against a minimal Streamable HTTP server (JSON answers) in the driver; the tool on CPU 1, the driver on CPU 0.\n\n`;
md += '| stdio client tool | calls/s | × mcp-remote | p50 ms | p99 ms | tool CPU µs/call | × mcp-remote | errors |\n|---|---|---|---|---|---|---|---|\n';
for (const r of rows) md += `| ${r.name} | ${f(r.rps, 0)} | ${f(r.rps / base.rps, 2)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${f(r.cpuUs)} | ${f(r.cpuUs / base.cpuUs, 2)} | ${r.errors} |\n`;
process.stdout.write(md);
mkdirSync(join(HERE, 'results'), { recursive: true });
writeFileSync(join(HERE, 'results', `remote-${new Date().toISOString().replace(/[:.]/g, '-')}.md`), md);
