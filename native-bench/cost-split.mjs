#!/usr/bin/env node
// make cost-split: where a small keep-alive request's proxy CPU goes, shadowcat L7
// (multi-session) beside a plain Node socket pipe, under scenario (a) of the bench.
// Each target runs alone on CPU 1 beside the nginx upstream while wrk (CPU 0) loads it;
// `perf record` samples it, then a run without perf measures its CPU per request, and the
// sample shares are scaled to that, so each row reads "µs of proxy CPU per request". The difference between the
// two columns is what L7 + MCP inspection cost on top of moving the bytes.
// Writes native-bench/results/cost-split-<stamp>.md (and prints it). Needs `perf`.
//
// `--scenario d`: the same for scenario (d) instead, an SSE response of ~500 small
// events per GET (8 connections), per response; `--proxy-args '...'` adds shadowcat flags
// (e.g. '--inspect-limit 0' for the row without inspection).
//
// `--single-session`: shadowcat in single-session mode instead.
//
// Usage: node native-bench/cost-split.mjs [--seconds 5] [--scenario a|d] [--single-session] [--proxy-args '...']

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuTicks, freePort, NODE_ENV, NODE_FLAGS, nodeStartup, waitPort } from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const WORK = join(HERE, '.work');
const args = process.argv.slice(2);
const secondsAt = args.indexOf('--seconds');
const SECONDS = secondsAt === -1 ? 5 : Number(args[secondsAt + 1]);
const scenarioAt = args.indexOf('--scenario');
const SCENARIO = scenarioAt === -1 ? 'a' : args[scenarioAt + 1];
if (SCENARIO !== 'a' && SCENARIO !== 'd') {
  console.error('--scenario is a or d');
  process.exit(2);
}
const proxyArgsAt = args.indexOf('--proxy-args');
const PROXY_ARGS = proxyArgsAt === -1 ? [] : args[proxyArgsAt + 1].split(/\s+/).filter(Boolean);
// `--single-session`: shadowcat in its default mode (one upstream link for every client).
const MODE = args.includes('--single-session') ? [] : ['--multi-session'];
// The (d) body: the bench's own SSE file (bench.mjs), ~500 progress notifications.
const SSE_EVENT = (i) => `id: ${i}\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${i},"total":1000}}\n\n`;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
// --perf-basic-prof writes /tmp/perf-<pid>.map so perf can name JIT-compiled JavaScript.
const NODE_FLAGS_PERF = [...NODE_FLAGS, '--perf-basic-prof'];

try {
  execFileSync('perf', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('cost-split needs perf (Debian: apt-get install linux-perf)');
  process.exit(1);
}
mkdirSync(join(WORK, 'logs'), { recursive: true });

function wrk(port, seconds) {
  const load = SCENARIO === 'a'
    ? ['-c64', `-d${seconds}s`, '-s', join(HERE, 'lua', 'post.lua'), `http://127.0.0.1:${port}/mcp`]
    : ['-c8', `-d${seconds}s`, '-s', join(HERE, 'lua', 'get.lua'), `http://127.0.0.1:${port}/sse`];
  const out = execFileSync('taskset', ['-c', '0', 'wrk', '-t1', ...load],
    { env: { ...process.env, BENCH_LUA_DIR: join(HERE, 'lua'), BENCH_PATH: '/sse', BENCH_ACCEPT: 'text/event-stream' } }).toString();
  return JSON.parse(out.split('\n').find((l) => l.startsWith('BENCH ')).slice(6));
}

const stopped = (child) => new Promise((resolve) => {
  if (child.exitCode !== null) return resolve();
  child.once('exit', resolve);
  child.kill('SIGTERM');
});

/** Runs one target under load and perf; returns µs/request and µs/request per (dso, symbol). */
async function measure(name, argv, port) {
  const child = spawn('taskset', ['-c', '1', 'node', ...NODE_FLAGS_PERF, ...argv], { stdio: 'ignore', env: { ...process.env, ...NODE_ENV } });
  await waitPort(port);
  wrk(port, 1); // warm-up: let the JIT settle before sampling
  const data = join(WORK, `perf-${name}.data`);
  const perf = spawn('perf', ['record', '-F', '999', '-p', String(child.pid), '-o', data, '--', 'sleep', String(SECONDS)], { stdio: 'ignore' });
  wrk(port, SECONDS);
  await new Promise((resolve) => perf.once('exit', resolve));
  // Sampling slows the target (interrupts on its CPU): the shares come from the sampled
  // run, the CPU per request from a second run without perf.
  const t0 = cpuTicks(child.pid);
  const run = wrk(port, SECONDS);
  const usPerReq = ((cpuTicks(child.pid) - t0) * 1e6 / CLK_TCK) / run.requests;
  await stopped(child);
  const report = execFileSync('perf', ['report', '-i', data, '--no-children', '--sort', 'dso,sym', '-g', 'none', '--stdio'],
    { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  rmSync(data, { force: true });
  const rows = new Map();
  for (const line of report.split('\n')) {
    const m = /^\s*([\d.]+)%\s+(\S.*?)\s+\[[.k]\]\s+(.*)$/.exec(line);
    if (m === null) continue;
    const dso = m[2].startsWith('[JIT]') ? '[JIT]' : m[2];
    const key = `${group(dso, m[3])}\u0000${m[3].trim().replace(/^JS:\*?/, '').replace(/file:\/\/\/.*\/dist\//, 'dist/')}`;
    rows.set(key, (rows.get(key) ?? 0) + (Number(m[1]) / 100) * usPerReq);
  }
  return { name, usPerReq, rps: run.requests / (run.duration_us / 1e6), rows };
}

/** The layer a sampled symbol belongs to. */
function group(dso, sym) {
  if (dso === '[kernel.kallsyms]') return 'kernel (syscalls, TCP, scheduler)';
  // perf names wasm code by function index only, so llhttp's and the SSE scan's (src/mcp/sse-scan.wat) are one row.
  if (dso === '[JIT]') return sym.includes('/dist/') ? 'JS: shadowcat' : sym.includes('wasm-function') ? 'wasm: llhttp and the SSE scan' : 'JS: node core (streams, buffers)';
  if (dso.startsWith('node')) return /Scaveng|MarkCompact|Marking|Sweep|Evacuat|RememberedSet|FlushedBytecode|ShouldFlushCode/.test(sym) ? 'V8 GC' : 'node/V8 runtime (C++, builtins, ICs)';
  if (dso.startsWith('libc')) return 'libc (malloc, memcpy, syscall stubs)';
  return 'other';
}

const upPort = await freePort();
const conf = readFileSync(join(HERE, 'conf', 'upstream-profile.conf'), 'utf8').replaceAll('@PORT@', String(upPort)).replaceAll('@WORK@', WORK);
// The conf serves /sse from www-sse (as profile-upstream.sh writes it for ab.sh).
mkdirSync(join(WORK, 'www-sse'), { recursive: true });
let sse = '';
for (let i = 0; sse.length < 64 * 1024; i++) sse += SSE_EVENT(i);
writeFileSync(join(WORK, 'www-sse', 'sse'), sse);
writeFileSync(join(WORK, 'upstream-cost.conf'), conf.replaceAll('upstream-profile.pid', 'upstream-cost.pid'));
const nginx = spawn('taskset', ['-c', '1', 'nginx', '-c', join(WORK, 'upstream-cost.conf'), '-p', WORK], { stdio: 'ignore' });
try {
  await waitPort(upPort);
  const scPort = await freePort();
  const sc = await measure('shadowcat', [join(ROOT, 'dist', 'cli.js'), 'forward', 'http', '--port', String(scPort),
    '--url', `http://127.0.0.1:${upPort}/mcp`, ...MODE, '--log-level', 'warn', ...PROXY_ARGS], scPort);
  const pipePort = await freePort();
  const pipe = await measure('pipe', [join(HERE, 'socket-pipe-target.mjs'), String(pipePort), String(upPort)], pipePort);
  print(sc, pipe);
} finally {
  await stopped(nginx);
}

function sum(rows, pred) {
  let t = 0;
  for (const [k, v] of rows) if (pred(k)) t += v;
  return t;
}

function print(sc, pipe) {
  const f = (x) => x.toFixed(2);
  const lines = [
    SCENARIO === 'a' ? `## Proxy CPU per small keep-alive request, by layer — ${new Date().toISOString()}` : `## Proxy CPU per SSE response (~500 events), by layer — ${new Date().toISOString()}`, '',
    SCENARIO === 'a'
      ? `Command: \`${MODE.length === 0 ? 'node native-bench/cost-split.mjs --single-session' : 'make cost-split'}\` · scenario (a) (64 connections, keep-alive POST /mcp${MODE.length === 0 ? ', shadowcat single-session' : ''}), ${SECONDS} s under \`perf record -F 999\`,`
      : `Command: \`node native-bench/cost-split.mjs --scenario d${PROXY_ARGS.length > 0 ? ` --proxy-args '${PROXY_ARGS.join(' ')}'` : ''}\` · scenario (d) (8 connections, keep-alive GET /sse, 64 KiB of events), ${SECONDS} s under \`perf record -F 999\`,`,
    `node ${nodeStartup()}, --perf-basic-prof · sample shares scaled to each target's CPU per request measured in a second ${SECONDS} s run`,
    'without perf (/proc utime+stime). Sampling shifts the shares a little toward the kernel.', '',
    `| layer | shadowcat L7 µs/req | node socket pipe µs/req | difference |`, '|---|---:|---:|---:|',
  ];
  const groups = new Set([...sc.rows.keys(), ...pipe.rows.keys()].map((k) => k.split('\u0000')[0]));
  const byGroup = [...groups].map((g) => [g, sum(sc.rows, (k) => k.startsWith(g + '\u0000')), sum(pipe.rows, (k) => k.startsWith(g + '\u0000'))])
    .sort((a, b) => b[1] - a[1]);
  for (const [g, a, b] of byGroup) lines.push(`| ${g} | ${f(a)} | ${f(b)} | ${f(a - b)} |`);
  lines.push(`| **total** | **${f(sc.usPerReq)}** | **${f(pipe.usPerReq)}** | **${f(sc.usPerReq - pipe.usPerReq)}** |`, '');
  lines.push(`req/s in the unsampled run: shadowcat ${Math.round(sc.rps)}, pipe ${Math.round(pipe.rps)}.`, '');
  lines.push('Largest per-symbol differences (µs/request, shadowcat − pipe):', '', '| µs | layer | symbol |', '|---:|---|---|');
  const keys = new Set([...sc.rows.keys(), ...pipe.rows.keys()]);
  const diffs = [...keys].map((k) => [k, (sc.rows.get(k) ?? 0) - (pipe.rows.get(k) ?? 0)]).sort((a, b) => b[1] - a[1]).slice(0, 25);
  for (const [k, d] of diffs) {
    const [g, s] = k.split('\u0000');
    lines.push(`| ${f(d)} | ${g} | \`${s.slice(0, 90).replaceAll('|', '\\|')}\` |`);
  }
  const text = lines.join('\n') + '\n';
  const stamp = (SCENARIO === 'd' ? 'd-' : '') + new Date().toISOString().replace(/[:.]/g, '').slice(0, 15) + 'Z';
  mkdirSync(join(HERE, 'results'), { recursive: true });
  writeFileSync(join(HERE, 'results', `cost-split-${stamp}.md`), text);
  process.stdout.write(text + `\nsaved: native-bench/results/cost-split-${stamp}.md\n`);
}
