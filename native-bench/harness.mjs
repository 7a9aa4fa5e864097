// What bench.mjs and cost-split.mjs share: how Node targets are started, ports, CPU time.

import { readFileSync } from 'node:fs';
import net from 'node:net';

// Every Node target runs as `make run` starts shadowcat (README, "Running it for speed"):
// V8's helper GC threads off (pinned to one CPU they only take turns with the main
// thread), and glibc told not to hand freed heap back to the kernel below 32 MiB (else
// the 64 KiB read buffers Node mallocs per socket read are page-faulted in again, in some
// processes and not others: the (c) figures then swing by half between runs).
// BENCH_NODE_FLAGS (space-separated) replaces them, to measure what a flag does.
export const NODE_FLAGS = process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean) : ['--single-threaded-gc'];
export const NODE_ENV = { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=33554432' };

/** NODE_FLAGS and NODE_ENV as one line of text, for a results header. */
export const nodeStartup = () => `${NODE_FLAGS.join(' ')} and ${Object.entries(NODE_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}`;

/** A loopback port nothing listens on right now. */
export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on the loopback port. */
export async function waitPort(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} never opened`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** CPU time (utime + stime) of a process so far, in clock ticks; 0 once it is gone. */
export function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/**
 * Opens idle keep-alive sessions on `port`: each sends one small POST, reads its answer and
 * stays open. Returns `openMore(n)`, which pushes n more sockets onto `sockets` (200 at a time).
 */
export function idleOpener(port, sockets) {
  const request = 'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';
  const open = () => new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    s.once('data', () => resolve(s));
    s.on('error', reject);
  });
  return async (n) => {
    for (let i = 0; i < n; i += 200) sockets.push(...await Promise.all(Array.from({ length: Math.min(200, n - i) }, open)));
  };
}
