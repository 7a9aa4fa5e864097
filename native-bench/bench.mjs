#!/usr/bin/env node
// Runs the same wrk scenarios against every target in one go and prints one markdown
// table (saved under native-bench/results/). Load generator pinned to CPU 0, proxy and
// upstream to CPU 1. Each figure is the median of 3 runs after a warm-up; the runs go
// round the targets of a scenario, so a drift of the machine's speed is shared by all.
//
// Usage: node native-bench/bench.mjs [--runs 3] [--seconds 5] [--only name,name] [--scenarios a,b,c,d] [--compare DIR]
// --compare DIR adds a row for another build (DIR/dist/cli.js, e.g. a git worktree of an
// earlier commit), multi-session, run in turn with the others: a paired A/B.

import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpuTicks, freePort, idleOpener, NODE_ENV, NODE_FLAGS, nodeStartup, waitPort } from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const WORK = join(HERE, '.work');
const CLI = join(ROOT, 'dist', 'cli.js');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1];
};
const RUNS = Number(opt('runs', '3'));
const SECONDS = Number(opt('seconds', '5'));
const ONLY = opt('only', '') ? opt('only', '').split(',') : null;
// `--scenarios none --only idle` measures idle sessions alone.
const SCENARIOS = opt('scenarios', 'a,b,c,d').split(',').filter((s) => s !== 'none');
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

mkdirSync(join(WORK, 'www'), { recursive: true });
mkdirSync(join(WORK, 'logs'), { recursive: true });

// ---- helpers --------------------------------------------------------------------

function peakRssKiB(pid) {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  } catch {
    return 0;
  }
}

function childPids(pid) {
  try {
    return execFileSync('pgrep', ['-P', String(pid)]).toString().trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function start(cmd, argv, name, env = {}) {
  const log = join(WORK, 'logs', `${name.replace(/[^a-z0-9]+/gi, '-')}.log`);
  const child = spawn('taskset', ['-c', '1', cmd, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    if (err.length > 100_000) err = err.slice(-50_000);
  });
  child.on('exit', () => writeFileSync(log, err));
  return child;
}

async function stop(child) {
  if (child === null || child.exitCode !== null) return;
  await new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000);
  });
}

function wrk(port, scenario, seconds, targetEnv = {}) {
  const env = { ...process.env, ...scenario.env, ...targetEnv, BENCH_LUA_DIR: join(HERE, 'lua') };
  const out = execFileSync('taskset', ['-c', '0', 'wrk', '-t1', `-c${scenario.connections}`, `-d${seconds}s`, '--timeout', '10s',
    '-s', join(HERE, 'lua', scenario.script), `http://127.0.0.1:${port}${scenario.path}`], { env, maxBuffer: 16 * 1024 * 1024 }).toString();
  const line = out.split('\n').find((l) => l.startsWith('BENCH '));
  if (line === undefined) throw new Error(`wrk printed no result:\n${out}`);
  return JSON.parse(line.slice(6));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---- upstream: nginx serving the MCP-shaped routes ---------------------------------

const JSON_ANSWER = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'Echo: hello' }], structuredContent: { echo: 'hello', note: 'padding to about three hundred bytes of JSON-RPC answer....................................................................................' } } });
writeFileSync(join(WORK, 'www', 'big'), Buffer.alloc(1024 * 1024, 0x61));
// A policy of 20 rules, none of which matches scenario (a)'s tools/call of echo: every
// request is held, read strictly and matched against the tools/call rules (the worst case
// of a policy that lets traffic through).
const POLICY = join(WORK, 'policy-20.json');
writeFileSync(POLICY, JSON.stringify({
  rules: [
    ...['shell_*', 'delete_*', 'exec', 'rm', 'drop_*', 'sudo*', 'kill_?', 'format_disk', 'write_file', 'net_*'].map((tool, i) => ({ name: `call-${i}`, match: { method: 'tools/call', tool }, action: 'block' })),
    ...['file:///etc/*', 'file:///root/*', 'secret://*', 'vault://*', 'db://prod/*'].map((tool, i) => ({ name: `read-${i}`, match: { method: 'resources/read', tool }, action: 'delay', ms: 10 })),
    ...['admin-*', 'debug', 'internal-?'].map((tool, i) => ({ name: `prompt-${i}`, match: { method: 'prompts/get', tool }, action: 'block' })),
    { name: 'hide-shell', match: { method: 'tools/list' }, action: 'hide', names: ['shell_*', 'delete_*'] },
    { name: 'lan-echo', match: { method: 'tools/call', tool: 'echo', client: '10.0.0.0/8' }, action: 'mock', result: { content: [] } },
  ],
}));
let sse = '';
for (let i = 0; sse.length < 64 * 1024; i++) sse += `id: ${i}\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${i},"total":1000}}\n\n`;
writeFileSync(join(WORK, 'www', 'sse'), sse);

// TLS rows use the test fixtures: a certificate for 127.0.0.1 signed by the test CA.
const TLS_DIR = join(ROOT, 'test', 'fixtures', 'tls');

function nginxUpstreamConf(port, keepaliveTimeout = '75s', tlsPort = null) {
  const locations = `location = /mcp { default_type application/json; return 200 '${JSON_ANSWER}'; }
    location = /big { root ${WORK}/www; default_type application/octet-stream; }
    location = /sse { root ${WORK}/www; default_type text/event-stream; }`;
  const tlsServer = tlsPort === null ? '' : `
  server {
    listen 127.0.0.1:${tlsPort} ssl reuseport backlog=4096;
    ssl_certificate ${TLS_DIR}/server.pem; ssl_certificate_key ${TLS_DIR}/server.key;
    ssl_session_cache shared:up:10m;
    ${locations}
  }`;
  return `daemon off; master_process on; worker_processes 1; pid ${WORK}/upstream-${port}.pid; error_log ${WORK}/logs/nginx-upstream.log warn;
events { worker_connections 30000; }
http {
  access_log off; keepalive_requests 1000000; keepalive_timeout ${keepaliveTimeout};
  client_body_temp_path ${WORK}/tmp-body; proxy_temp_path ${WORK}/tmp-proxy; fastcgi_temp_path ${WORK}/tmp-fcgi; uwsgi_temp_path ${WORK}/tmp-uwsgi; scgi_temp_path ${WORK}/tmp-scgi;
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    ${locations}
  }${tlsServer}
}
`;
}

function nginxProxyConf(port, upstreamPort, tls = false) {
  // TLS: nginx verifies the upstream as shadowcat does, and reuses sessions and connections.
  const pass = tls
    ? `proxy_pass https://up; proxy_ssl_verify on; proxy_ssl_trusted_certificate ${TLS_DIR}/ca.pem; proxy_ssl_name localhost; proxy_ssl_session_reuse on;`
    : 'proxy_pass http://up;';
  return `daemon off; master_process on; worker_processes 1; pid ${WORK}/proxy-${port}.pid; error_log ${WORK}/logs/nginx-proxy.log warn;
events { worker_connections 30000; }
http {
  access_log off; keepalive_requests 1000000;
  client_body_temp_path ${WORK}/tmp-body; proxy_temp_path ${WORK}/tmp-proxy; fastcgi_temp_path ${WORK}/tmp-fcgi; uwsgi_temp_path ${WORK}/tmp-uwsgi; scgi_temp_path ${WORK}/tmp-scgi;
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 128; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { ${pass} proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
}

function haproxyConf(port, upstreamPort) {
  return `global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  server up 127.0.0.1:${upstreamPort} maxconn 1000
`;
}

// ---- targets ------------------------------------------------------------------------

const startNode = (argv, name, env = NODE_ENV) => start(process.execPath, [...NODE_FLAGS, ...argv], name, env);

const shadowcat = (extra) => (port, up, tlsUp) => startNode([CLI, ...extra(port, up, tlsUp), '--log-level', 'warn',
  '--max-sessions', '100000', '--max-per-client', '100000'], `shadowcat-${extra(port, up, tlsUp)[1]}`);

const nginxProxy = (tls) => ({
  start: (p, u, t) => {
    const conf = join(WORK, `nginx-proxy-${p}.conf`);
    writeFileSync(conf, nginxProxyConf(p, tls ? t : u, tls));
    return start('nginx', ['-c', conf, '-p', WORK], 'nginx-proxy');
  },
  pids: (child) => [child.pid, ...childPids(child.pid)].flatMap((pid) => [pid, ...childPids(pid)]).filter((pid, i, a) => a.indexOf(pid) === i && pid !== undefined),
});
// Tapes go to a tmpfs, so the row measures the recorder rather than the disk; removed at exit.
const TAPES = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/shadowcat-bench-tapes-') : mkdtempSync(join(WORK, 'tapes-'));
process.on('exit', () => rmSync(TAPES, { recursive: true, force: true }));
const recordDir = (port) => join(TAPES, String(port));
const TLS_URL = (t) => ['--url', `https://127.0.0.1:${t}/mcp`, '--upstream-ca', join(TLS_DIR, 'ca.pem')];

// --auth-keys: one key, sent by wrk as X-API-Key (the cost of checking it on every request).
const KEYS = join(WORK, 'bench-keys.json');
const BENCH_KEY = 'bench-key-0123456789abcdef';
writeFileSync(KEYS, JSON.stringify({ keys: [{ name: 'bench', key: BENCH_KEY }] }));
// --auth-jwt: an RS256 token from a key set file, the same token on every request (a client
// reuses its access token: verified once, then taken from the proxy's minute-long cache).
const JWKS = join(WORK, 'bench-jwks.json');
const BENCH_TOKEN = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(JWKS, JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'bench', alg: 'RS256', use: 'sig' }] }));
  const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'bench' })}.${b64({ iss: 'https://issuer.bench', aud: 'bench', sub: 'bench', iat: now, exp: now + 86_400 })}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
})();
const JWT_FLAGS = ['--auth-jwt', '--auth-jwks', JWKS, '--auth-issuer', 'https://issuer.bench', '--auth-audience', 'bench'];
const COMPARE = opt('compare', '');

const TARGETS = [
  { name: 'direct', direct: true },
  { name: 'shadowcat L7 multi-session', start: shadowcat((p, u) => ['forward', 'http', '--port', String(p), '--url', `http://127.0.0.1:${u}/mcp`, '--multi-session']) },
  { name: 'shadowcat L7 single-session', start: shadowcat((p, u) => ['forward', 'http', '--port', String(p), '--url', `http://127.0.0.1:${u}/mcp`]) },
  // The same proxy with MCP inspection off: (d)'s row without the per-event reading.
  { name: 'shadowcat L7 multi, --inspect-limit 0', scenarios: ['d'], start: shadowcat((p, u) => ['forward', 'http', '--port', String(p), '--url', `http://127.0.0.1:${u}/mcp`, '--multi-session', '--inspect-limit', '0']) },
  // The same proxy with --policy: 20 rules, none matching (a)'s request (the hold phase's cost).
  { name: 'shadowcat L7 multi, policy (20 rules, no match)', scenarios: ['a'], start: shadowcat((p, u) => ['forward', 'http', '--port', String(p), '--url', `http://127.0.0.1:${u}/mcp`, '--multi-session', '--policy', POLICY]) },
  // The same proxy with --record to a tmpfs: two messages written per request (the recorder's cost).
  { name: 'shadowcat L7 multi, --record (tmpfs)', scenarios: ['a'], start: shadowcat((p, u) => ['forward', 'http', '--port', String(p), '--url', `http://127.0.0.1:${u}/mcp`, '--multi-session', '--record', recordDir(p)]) },
  // Phase C: idle upstream connections lent to any session (scenario (b) dials no more per client connection).
  { name: 'shadowcat L7 multi, --auth-keys (X-API-Key)', scenarios: ['a'], wrkEnv: { BENCH_API_KEY: BENCH_KEY }, start: shadowcat((p, u) => ['forward', 'http', '--port', String(p), '--url', `http://127.0.0.1:${u}/mcp`, '--multi-session', '--auth-keys', KEYS]) },
  { name: 'shadowcat L7 multi, --auth-jwt (RS256, one token)', scenarios: ['a'], wrkEnv: { BENCH_BEARER: BENCH_TOKEN }, start: shadowcat((p, u) => ['forward', 'http', '--port', String(p), '--url', `http://127.0.0.1:${u}/mcp`, '--multi-session', ...JWT_FLAGS]) },
  ...(COMPARE === '' ? [] : [{ name: `shadowcat L7 multi-session (${COMPARE})`, start: (p, u) => startNode([join(COMPARE, 'dist', 'cli.js'), 'forward', 'http', '--port', String(p), '--url', `http://127.0.0.1:${u}/mcp`, '--multi-session', '--log-level', 'warn', '--max-sessions', '100000', '--max-per-client', '100000'], 'shadowcat-compare') }]),
  { name: 'shadowcat L7 multi, --upstream-pool 64', start: shadowcat((p, u) => ['forward', 'http', '--port', String(p), '--url', `http://127.0.0.1:${u}/mcp`, '--multi-session', '--upstream-pool', '64']) },
  // Phase C: two worker processes behind one port. Pinned to the proxy's one CPU like every
  // target, so this row shows what the primary and a second process cost, not a speed-up.
  {
    name: 'shadowcat L7 multi, --workers 2', scenarios: ['a', 'b'],
    start: shadowcat((p, u) => ['forward', 'http', '--port', String(p), '--url', `http://127.0.0.1:${u}/mcp`, '--multi-session', '--workers', '2']),
    // The primary and its workers: CPU and RSS of all three.
    pids: (child) => [child.pid, ...childPids(child.pid)],
  },
  { name: 'shadowcat L4', start: shadowcat((p, u) => ['forward', 'tcp', '--port', String(p), '--upstream', `127.0.0.1:${u}`]) },
  { name: 'nginx', ...nginxProxy(false) },
  {
    name: 'HAProxy', start: (p, u) => {
      const conf = join(WORK, `haproxy-${p}.cfg`);
      writeFileSync(conf, haproxyConf(p, u));
      return start('haproxy', ['-db', '-f', conf], 'haproxy');
    },
  },
  { name: 'http-proxy (npm)', start: (p, u) => startNode([join(HERE, 'http-proxy-target.mjs'), String(p), String(u)], 'http-proxy') },
  { name: 'node socket pipe', start: (p, u) => startNode([join(HERE, 'socket-pipe-target.mjs'), String(p), String(u)], 'socket-pipe') },
  // The same proxies to the upstream's TLS port (the client side stays plain HTTP).
  { name: 'shadowcat L7 multi, TLS upstream', scenarios: ['a', 'c'], start: shadowcat((p, _u, t) => ['forward', 'http', '--port', String(p), ...TLS_URL(t), '--multi-session']) },
  { name: 'shadowcat L7 single, TLS upstream', scenarios: ['a', 'c'], start: shadowcat((p, _u, t) => ['forward', 'http', '--port', String(p), ...TLS_URL(t)]) },
  { name: 'nginx, TLS upstream', scenarios: ['a', 'c'], ...nginxProxy(true) },
];

const ALL_SCENARIOS = {
  a: { id: 'a', title: '(a) small JSON-RPC POST, keep-alive, 64 conns', script: 'post.lua', connections: 64, path: '/mcp', env: {} },
  b: { id: 'b', title: '(b) small JSON-RPC POST, new connection per request', script: 'post.lua', connections: 16, path: '/mcp', env: { BENCH_CLOSE: '1' } },
  c: { id: 'c', title: '(c) 1 MiB GET, 8 conns', script: 'get.lua', connections: 8, path: '/big', env: { BENCH_PATH: '/big' } },
  d: { id: 'd', title: '(d) SSE stream (64 KiB of events), 8 conns', script: 'get.lua', connections: 8, path: '/sse', env: { BENCH_PATH: '/sse', BENCH_ACCEPT: 'text/event-stream' } },
};

// ---- run ------------------------------------------------------------------------------

const upstreamPort = await freePort();
const upstreamTlsPort = await freePort();
writeFileSync(join(WORK, 'upstream.conf'), nginxUpstreamConf(upstreamPort, '75s', upstreamTlsPort));
const upstream = start('nginx', ['-c', join(WORK, 'upstream.conf'), '-p', WORK], 'nginx-upstream');
await waitPort(upstreamPort);
await waitPort(upstreamTlsPort);
const results = [];
const partial = SCENARIOS.length < 4 || ONLY !== null;

try {
  for (const sid of SCENARIOS) {
    const scenario = ALL_SCENARIOS[sid];
    // Every target of the scenario is started (and warmed up) first, then the runs go
    // round them: this VM's speed drifts by a third over minutes, and a drift taken by one
    // target's three runs in a row used to land in its row alone.
    const live = [];
    try {
      for (const target of TARGETS) {
        if (ONLY !== null && !target.direct && !ONLY.some((o) => target.name.toLowerCase().includes(o.toLowerCase()))) continue;
        if (target.scenarios !== undefined && !target.scenarios.includes(sid)) continue;
        const port = target.direct ? upstreamPort : await freePort();
        const entry = { target, port, child: target.direct ? null : target.start(port, upstreamPort, upstreamTlsPort), runs: [], failed: null };
        live.push(entry);
        try {
          if (!target.direct) await waitPort(port);
          wrk(port, scenario, 1, target.wrkEnv); // warm-up (JIT, pools, keep-alive links)
        } catch (err) {
          entry.failed = String(err.message).split('\n')[0];
        }
      }
      for (let i = 0; i < RUNS; i++) {
        // Each round starts one target further on: a row's place in the round (after the
        // direct run, or after a heavy target) moves, rather than biasing one row every time.
        const shift = (i * Math.max(1, Math.floor(live.length / RUNS))) % live.length;
        for (const e of [...live.slice(shift), ...live.slice(0, shift)]) {
          if (e.failed !== null) continue;
          try {
            const pids = e.child === null ? [] : (e.target.pids ? e.target.pids(e.child) : [e.child.pid]);
            const before = pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
            const r = wrk(e.port, scenario, SECONDS, e.target.wrkEnv);
            const after = pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
            const secs = r.duration_us / 1e6;
            e.runs.push({
              rps: r.requests / secs,
              p50: r.p50_us / 1000,
              p99: r.p99_us / 1000,
              mbs: r.bytes / secs / 1024 / 1024,
              cpuUs: e.child === null ? NaN : ((after - before) / CLK_TCK) * 1e6 / r.requests,
              errors: r.errors,
            });
          } catch (err) {
            e.failed = String(err.message).split('\n')[0];
          }
        }
      }
      for (const { target, child, runs, failed } of live) {
        if (failed !== null) {
          process.stderr.write(`${scenario.id} ${target.name}: FAILED ${failed}\n`);
          results.push({ scenario: scenario.id, title: scenario.title, target: target.name, failed });
          continue;
        }
        const pids = child === null ? [] : (target.pids ? target.pids(child) : [child.pid]);
        const row = {
          scenario: scenario.id, title: scenario.title, target: target.name,
          rps: median(runs.map((r) => r.rps)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)),
          mbs: median(runs.map((r) => r.mbs)), cpuUs: median(runs.map((r) => r.cpuUs)), cpuRuns: runs.map((r) => r.cpuUs),
          errors: runs.reduce((sum, r) => sum + r.errors, 0),
          rssMiB: pids.reduce((sum, pid) => sum + peakRssKiB(pid), 0) / 1024,
        };
        results.push(row);
        process.stderr.write(`${scenario.id} ${target.name.padEnd(28)} ${row.rps.toFixed(0).padStart(8)} req/s  p50 ${row.p50.toFixed(2)} ms  p99 ${row.p99.toFixed(2)} ms  ${row.mbs.toFixed(1)} MB/s  cpu ${Number.isNaN(row.cpuUs) ? '-' : row.cpuUs.toFixed(1)} µs/req  rss ${row.rssMiB.toFixed(1)} MiB  errors ${row.errors}\n`);
      }
    } finally {
      for (const e of live) await stop(e.child);
    }
  }
} finally {
  await stop(upstream);
}

// ---- idle sessions ----------------------------------------------------------------------

/** RSS per idle keep-alive session of the target `argv` starts on `port` (a node script and its arguments); `collect`: read after full collections. */
async function idleSessionsOf(name, count, port, argv, collect) {
  // glibc's default trim threshold here, not NODE_ENV's 32 MiB: freed heap kept resident at
  // the baseline would be reused by the new sessions and hide part of their cost.
  const proxy = startNode(collect ? ['--expose-gc', '--compact-on-every-full-gc', '--import', pathToFileURL(join(HERE, 'gc-on-signal.mjs')).href, ...argv] : ['--expose-gc', ...argv], name, {});
  const sockets = [];
  try {
    await waitPort(port);
    const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proxy.pid}/status`, 'utf8'))[1]);
    // With `collect`, RSS after compacting full collections in the target, less its young
    // generation (gc-on-signal.mjs), a moment after for V8 to hand freed pages back: what
    // the sessions hold (where V8's own collections fell and how far it grew the young
    // generation moved a plain reading ±15 %). A process of its own: a collection at the
    // first point would change the plain reading.
    const read = async () => {
      if (!collect) return rssKiB();
      let young = 0;
      await new Promise((resolve) => {
        const onData = (d) => {
          const m = /gc done young=(\d+)/.exec(String(d));
          if (m === null) return;
          young = Number(m[1]);
          proxy.stderr.off('data', onData);
          resolve();
        };
        proxy.stderr.on('data', onData);
        proxy.kill('SIGUSR2');
      });
      await new Promise((r) => setTimeout(r, 500));
      return rssKiB() - young / 1024;
    };
    const opener = idleOpener(port, sockets);
    // One warm session first, so the baseline includes JIT and the parser's wasm module.
    await opener(1);
    const openMore = async (n) => {
      await opener(n);
      await new Promise((r) => setTimeout(r, 3000)); // upstream links close; sessions stay
    };
    // The slope between a fifth of the sessions and all of them: the heap's slack at the
    // start (committed, not yet used) is taken up by the first fifth, not counted per session.
    const first = Math.round(count / 5);
    await openMore(first);
    const base = await read();
    await openMore(count - first);
    const after = await read();
    return { name, count, baseMiB: base / 1024, afterMiB: after / 1024, perSessionKiB: (after - base) / (count - first) };
  } finally {
    for (const s of sockets) s.destroy();
    await stop(proxy);
  }
}

/** Idle sessions of the floor (a bare node:net server), shadowcat multi-session, and with --upstream-pool. */
async function idleSessions(count) {
  // The upstream closes idle keep-alive links after 1 s, so each idle session holds its
  // client socket only: 10,000 sessions with their upstream links would need 20,000 fds
  // in the proxy, over this machine's hard limit.
  const upPort = await freePort();
  writeFileSync(join(WORK, 'upstream-idle.conf'), nginxUpstreamConf(upPort, '1s'));
  const up = start('nginx', ['-c', join(WORK, 'upstream-idle.conf'), '-p', WORK], 'nginx-upstream-idle');
  try {
    await waitPort(upPort);
    const sc = (extra) => async (port) => [CLI, 'forward', 'http', '--port', String(port), '--url', `http://127.0.0.1:${upPort}/mcp`,
      '--multi-session', '--log-level', 'warn', '--max-sessions', '100000', '--max-per-client', '100000', '--admin-port', '0', ...extra];
    const targets = [
      ['node:net floor', async (port) => [join(HERE, 'idle-floor-target.mjs'), String(port)]],
      ['shadowcat L7 multi-session', sc([])],
      ['shadowcat L7 multi, --upstream-pool 64', sc(['--upstream-pool', '64'])],
    ];
    // One opening's slope moves ±15 % with where V8's collections fall while sessions open:
    // each target is measured three times, in turn, and its median run is kept.
    const runs = targets.map(() => []);
    for (let r = 0; r < 3; r++) {
      for (const [i, [name, argv]] of targets.entries()) {
        const port = await freePort();
        const plain = await idleSessionsOf(name, count, port, await argv(port), false);
        const port2 = await freePort();
        const collected = await idleSessionsOf(name, count, port2, await argv(port2), true);
        runs[i].push({ ...plain, collectedKiB: collected.perSessionKiB });
      }
    }
    return runs.map((rs) => {
      const sorted = [...rs].sort((a, b) => a.perSessionKiB - b.perSessionKiB);
      const collected = rs.map((x) => x.collectedKiB);
      return { ...sorted[1], all: rs.map((x) => x.perSessionKiB), collected, collectedKiB: [...collected].sort((a, b) => a - b)[1] };
    });
  } finally {
    await stop(up);
  }
}

let idle = null;
if (ONLY === null || ONLY.includes('idle')) {
  try {
    idle = await idleSessions(10_000);
    for (const row of idle) process.stderr.write(`idle: ${row.name}: ${row.count} sessions, ${row.perSessionKiB.toFixed(2)} KiB each, median of ${row.all.map((x) => x.toFixed(2)).join(' / ')} (RSS ${row.baseMiB.toFixed(1)} → ${row.afterMiB.toFixed(1)} MiB); held ${row.collectedKiB.toFixed(2)} KiB, median of ${row.collected.map((x) => x.toFixed(2)).join(' / ')}\n`);
  } catch (err) {
    process.stderr.write(`idle sessions: FAILED ${err.message}\n`);
  }
}

// ---- table ------------------------------------------------------------------------------

const fmt = (x, d = 1) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));
const ratio = (x, base) => (base === undefined || Number.isNaN(x) || !base ? '–' : `${(x / base).toFixed(2)}×`);
let md = `## shadowcat native-bench — ${new Date().toISOString()}\n\n`;
md += `Command: \`make bench\` (node native-bench/bench.mjs ${args.join(' ')}) · ${RUNS} runs × ${SECONDS} s per target, taken in turn across the targets, median, after a 1 s warm-up · wrk -t1 pinned to CPU 0; proxy and upstream (nginx, 1 worker) pinned to CPU 1 · Node ${process.version}, Node targets with ${nodeStartup()} · ${execFileSync('nproc').toString().trim()} CPUs\n\n`;
md += '| scenario | target | req/s | × direct | p50 ms | × | p99 ms | × | MB/s | × | proxy CPU µs/req | peak RSS MiB | errors |\n';
md += '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
for (const sid of SCENARIOS) {
  const direct = results.find((r) => r.scenario === sid && r.target === 'direct');
  for (const r of results.filter((x) => x.scenario === sid)) {
    if (r.failed) {
      md += `| ${r.title} | ${r.target} | failed: ${r.failed} |||||||||||\n`;
      continue;
    }
    md += `| ${r.title} | ${r.target} | ${fmt(r.rps, 0)} | ${ratio(r.rps, direct?.rps)} | ${fmt(r.p50, 2)} | ${ratio(r.p50, direct?.p50)} | ${fmt(r.p99, 2)} | ${ratio(r.p99, direct?.p99)} | ${fmt(r.mbs)} | ${ratio(r.mbs, direct?.mbs)} | ${fmt(r.cpuUs)} | ${fmt(r.rssMiB)} | ${r.errors} |\n`;
  }
}
// Paired by round: run i of every target was taken in the same round, so a row against its
// base row is read as the median of the per-round differences (or ratios), which drops most
// of the drift that moves every row of a round together (the machine's speed changes by a
// third over minutes; a row's own median carries that drift in).
const PAIRS = [
  ['a', 'shadowcat L7 multi, policy (20 rules, no match)', 'shadowcat L7 multi-session', 'diff'],
  ['a', 'shadowcat L7 multi, --record (tmpfs)', 'shadowcat L7 multi-session', 'diff'],
  ['a', 'shadowcat L7 multi, --auth-keys (X-API-Key)', 'shadowcat L7 multi-session', 'diff'],
  ['a', 'shadowcat L7 multi, --auth-jwt (RS256, one token)', 'shadowcat L7 multi-session', 'diff'],
  ['a', 'shadowcat L7 multi-session', 'node socket pipe', 'ratio'],
  ['a', 'shadowcat L7 single-session', 'node socket pipe', 'ratio'],
  ['d', 'shadowcat L7 multi-session', 'node socket pipe', 'ratio'],
  ['d', 'shadowcat L7 multi, --inspect-limit 0', 'node socket pipe', 'ratio'],
];
const paired = [];
for (const [sid, name, baseName, how] of PAIRS) {
  const row = results.find((r) => r.scenario === sid && r.target === name && !r.failed);
  const base = results.find((r) => r.scenario === sid && r.target === baseName && !r.failed);
  if (row === undefined || base === undefined) continue;
  const per = row.cpuRuns.map((x, i) => (how === 'diff' ? x - base.cpuRuns[i] : x / base.cpuRuns[i])).filter((x) => !Number.isNaN(x));
  if (per.length === 0) continue;
  const sorted = [...per].sort((x, y) => x - y);
  paired.push({ sid, name, baseName, how, median: median(per), min: sorted[0], max: sorted[sorted.length - 1], n: per.length });
}
if (paired.length > 0) {
  md += `\nProxy CPU per request, paired by round (each row's run i against its base row's run i, then the median of the ${RUNS} rounds; min … max beside it):\n\n| scenario | target | against | paired median | min … max |\n|---|---|---|---:|---|\n`;
  for (const p of paired) {
    const f = (x) => (p.how === 'diff' ? `${x >= 0 ? '+' : ''}${x.toFixed(1)} µs` : `${x.toFixed(2)}×`);
    md += `| (${p.sid}) | ${p.name} | ${p.baseName} | ${f(p.median)} | ${f(p.min)} … ${f(p.max)} |\n`;
  }
}
if (idle !== null) {
  const floor = idle[0].perSessionKiB;
  const floorCollected = idle[0].collectedKiB;
  md += `\nIdle keep-alive sessions: RSS each, after one request: the growth from ${idle[0].count / 5} to ${idle[0].count} sessions, per session (one target at a time). The upstream closes idle links after 1 s, so a multi-session session holds its client socket only (with upstream links, 10,000 sessions need 20,000 fds, over this machine's hard limit); with the pool the links go back to it. Floor: a bare node:net server that answers and keeps the socket. Measured with glibc's default trim threshold (a kept 32 MiB of freed heap would absorb part of the growth). Each target three times, in turn; the median run is shown, all three beside it. \"Held\": the same two points in another process of the target (run with --compact-on-every-full-gc), each read after two full collections, less the young generation (native-bench/gc-on-signal.mjs): not the garbage of opening the sessions, holes in old-space pages, nor the young generation V8 sizes by allocation rate, which moved the plain reading ±15 %.\n\n| target | KiB per idle session (median) | × floor | three runs | RSS at a fifth → all (MiB), median run | held: KiB (median) | × floor | three runs |\n|---|---:|---:|---|---|---:|---:|---|\n`;
  for (const row of idle) md += `| ${row.name} | ${fmt(row.perSessionKiB, 2)} | ${fmt(row.perSessionKiB / floor, 2)}× | ${row.all.map((x) => fmt(x, 2)).join(' / ')} | ${fmt(row.baseMiB)} → ${fmt(row.afterMiB)} | ${fmt(row.collectedKiB, 2)} | ${fmt(row.collectedKiB / floorCollected, 2)}× | ${row.collected.map((x) => fmt(x, 2)).join(' / ')} |\n`;
}
process.stdout.write(`\n${md}`);
// Only a full run (every scenario, every target) replaces results/latest.md, the table the
// README quotes; partial runs are saved beside it.
mkdirSync(join(HERE, 'results'), { recursive: true });
const file = join(HERE, 'results', `${partial ? 'partial' : 'bench'}-${new Date().toISOString().replace(/[:.]/g, '-')}.md`);
writeFileSync(file, md);
if (!partial) writeFileSync(join(HERE, 'results', 'latest.md'), md);
process.stderr.write(`saved ${file}\n`);
