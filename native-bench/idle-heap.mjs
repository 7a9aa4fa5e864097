// Where an idle keep-alive session's heap goes: the bench's idle rows give RSS per session,
// which moves ±15 % run to run; a heap snapshot names each object and does not move. The
// target is snapshotted after a few sessions and again after `count` more (same process),
// and the growth is split by object kind, per session.
// Usage: node native-bench/idle-heap.mjs [--count 2000] [--pool 64|0] [--floor] [--dist DIR]
//   --floor: the bare node:net server of the idle rows instead of shadowcat.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, idleOpener, waitPort } from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
const COUNT = Number(opt('count', '2000'));
const POOL = Number(opt('pool', '64'));
const DIST = resolve(opt('dist', join(HERE, '..', 'dist')));
const FLOOR = args.includes('--floor');

const up = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end('{}'));
});
up.keepAliveTimeout = 1000; // idle upstream links close, as in the bench's idle rows
await new Promise((r) => up.listen(0, '127.0.0.1', r));
const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'idle-heap-'));
const argv = FLOOR
  ? [join(HERE, 'idle-floor-target.mjs'), String(port)]
  : [join(DIST, 'cli.js'), 'forward', 'http', '--port', String(port), '--url', `http://127.0.0.1:${up.address().port}/mcp`, '--multi-session',
      '--log-level', 'warn', '--max-sessions', '100000', '--max-per-client', '100000', '--admin-port', '0', ...(POOL > 0 ? ['--upstream-pool', String(POOL)] : [])];
const target = spawn(process.execPath, ['--heapsnapshot-signal=SIGUSR2', ...argv], { cwd: dir, stdio: 'inherit' });
const sockets = [];
try {
  await waitPort(port);
  const opener = idleOpener(port, sockets);
  const openMore = async (n) => {
    await opener(n);
    await new Promise((r) => setTimeout(r, 2000)); // upstream links close; sessions stay
  };
  const snapshot = async () => {
    const before = new Set(readdirSync(dir));
    target.kill('SIGUSR2');
    // The file is complete when its size stops changing.
    let file = null;
    let size = -1;
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      file ??= readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f)) ?? null;
      if (file === null) continue;
      const now = readFileSync(join(dir, file)).length;
      if (now === size && now > 0) break;
      size = now;
    }
    const split = splitOf(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    rmSync(join(dir, file));
    return split;
  };
  await openMore(200);
  const a = await snapshot();
  await openMore(COUNT);
  const b = await snapshot();
  const rows = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const [n0, s0] = a.get(k) ?? [0, 0];
    const [n1, s1] = b.get(k) ?? [0, 0];
    if (s1 !== s0) rows.push([k, (n1 - n0) / COUNT, (s1 - s0) / COUNT]);
  }
  rows.sort((x, y) => y[2] - x[2]);
  const total = rows.reduce((t, r) => t + r[2], 0);
  const jit = rows.filter((r) => r[0].startsWith('code')).reduce((t, r) => t + r[2], 0);
  console.log(`${FLOOR ? 'node:net floor' : `shadowcat multi-session${POOL > 0 ? `, --upstream-pool ${POOL}` : ''}`}: heap per idle session ${total.toFixed(0)} bytes (${(total - jit).toFixed(0)} without compiled code, which is not per session)`);
  console.log('| bytes | objects | kind |\n|---:|---:|---|');
  for (const [k, n, s] of rows) if (Math.abs(s) >= 8) console.log(`| ${s.toFixed(0)} | ${n.toFixed(2)} | ${k} |`);
} finally {
  for (const s of sockets) s.destroy();
  target.kill();
  up.close();
  rmSync(dir, { recursive: true, force: true });
}

/** Count and self size of every node kind ("type:name" for objects, closures and the like). */
function splitOf(snap) {
  const meta = snap.snapshot.meta;
  const width = meta.node_fields.length;
  const types = meta.node_types[0];
  const iType = meta.node_fields.indexOf('type');
  const iName = meta.node_fields.indexOf('name');
  const iSize = meta.node_fields.indexOf('self_size');
  const named = new Set(['object', 'closure', 'native', 'hidden', 'array', 'code']);
  const out = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    const key = named.has(type) ? `${type}:${snap.strings[nodes[i + iName]].slice(0, 50)}` : type;
    const e = out.get(key) ?? [0, 0];
    e[0]++;
    e[1] += nodes[i + iSize];
    out.set(key, e);
  }
  return out;
}
