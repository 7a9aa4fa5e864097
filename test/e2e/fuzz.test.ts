// Seeded mutation fuzzing of requests and responses through real sockets: whatever the
// bytes, the proxy answers or closes, never crashes, and leaves no session behind.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { RawClient, rawExchange } from '../helpers/raw-client.js';
import { proxyFor, until } from '../helpers/proxy.js';
import { readBody, startHttpUpstream, startNetUpstream } from '../helpers/upstreams.js';

/** A small deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"jsonrpc":"2"}',
  'POST /mcp HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n',
  'GET / HTTP/1.0\r\n\r\nGET /2 HTTP/1.1\r\nHost: localhost\r\n\r\n',
];
const SPECIAL = [0x0d, 0x0a, 0x00, 0x20, 0x3a, 0x09, 0xff, 0x30];

function mutate(r: () => number, input: string): Buffer {
  const b = [...Buffer.from(input, 'latin1')];
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * b.length);
    const op = Math.floor(r() * 5);
    if (op === 0) b[at] = Math.floor(r() * 256);
    else if (op === 1) b.splice(at, 0, SPECIAL[Math.floor(r() * SPECIAL.length)]!);
    else if (op === 2) b.splice(at, 1 + Math.floor(r() * 4));
    else if (op === 3) b.splice(at, 0, ...b.slice(0, Math.floor(r() * 20)));
    else b.length = Math.max(1, at);
  }
  return Buffer.from(b);
}

const fuzz = suite('fuzz');

fuzz('400 mutated requests: every one answered or closed, no crash, no session left', async () => {
  const up = await startHttpUpstream(async (req, res) => {
    await readBody(req);
    res.end('ok');
  });
  const proxy = await proxyFor(up, { headerTimeoutMs: 500, upstreamTimeoutMs: 1000 });
  const r = rng(20261128);
  for (let i = 0; i < 400; i += 20) {
    await Promise.all(Array.from({ length: 20 }, async () => {
      const bytes = mutate(r, SEEDS[Math.floor(r() * SEEDS.length)]!);
      const split = Math.floor(r() * bytes.length);
      await new Promise<void>((resolve) => {
        const s = net.connect(proxy.port, '127.0.0.1', () => {
          s.write(bytes.subarray(0, split));
          setTimeout(() => {
            if (!s.destroyed) s.end(bytes.subarray(split));
          }, 1);
        });
        s.on('data', () => undefined);
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        setTimeout(() => s.destroy(), 3000);
      });
    }));
  }
  await until(() => proxy.app.registry.size === 0, 5000, 'every fuzz session to end');
  const ok = await rawExchange(proxy.port, 'GET /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  assert.is(ok.status, 200);
  await proxy.close();
  await up.close();
});

fuzz('200 mutated upstream responses: 502 or a closed connection, never a crash', async () => {
  const r = rng(42);
  const responses = [
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: application/json\r\n\r\n{"a":',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n7\r\ndata: x\r\n0\r\n\r\n',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
  ];
  let next: Buffer = Buffer.alloc(0);
  const up = await startNetUpstream((sock) => sock.once('data', () => sock.end(next)));
  const proxy = await proxyFor(up, { upstreamTimeoutMs: 500 });
  const seen = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    next = mutate(r, responses[Math.floor(r() * responses.length)]!);
    // Everything the client gets until the proxy closes: a response (a 502 when the
    // upstream's was broken) or nothing; never a hang, never bytes that are not HTTP.
    const got = await new Promise<Buffer>((resolve, reject) => {
      const parts: Buffer[] = [];
      const s = net.connect(proxy.port, '127.0.0.1', () => s.write('POST /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'));
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`mutation ${i}: the proxy neither answered nor closed within 10 s`));
      }, 10_000);
      s.on('data', (b: Buffer) => parts.push(b));
      s.on('error', () => undefined);
      s.on('close', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(parts));
      });
    });
    const status = got.length === 0 ? 'closed' : /^HTTP\/1\.1 (\d{3}) /.exec(got.toString('latin1'))?.[1] ?? `not HTTP: ${JSON.stringify(got.subarray(0, 40).toString('latin1'))}`;
    seen.set(status, (seen.get(status) ?? 0) + 1);
  }
  const kinds = [...seen.keys()];
  assert.ok(kinds.every((k) => /^(closed|\d{3})$/.test(k)), `answers: ${JSON.stringify([...seen])}`);
  assert.ok((seen.get('502') ?? 0) > 0, `some broken responses got the 502: ${JSON.stringify([...seen])}`);
  await until(() => proxy.app.registry.size === 0, 5000, 'every session to end');
  await proxy.close();
  await up.close();
});

fuzz.run();
