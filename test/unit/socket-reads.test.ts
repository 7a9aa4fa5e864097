// Socket reads through `onread` (src/socket-reads.ts): one slab every socket reads its
// small reads into, copied out, and memory of a socket's own for large ones. Listeners
// keep what they are given (heads in pieces, held bodies) and must find it unchanged
// however many reads of other sockets came since, and see the same 'data', pause and
// 'end' behaviour as Node's own reads. Everything here goes through real loopback sockets.

import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { acceptWithStableShape } from '../../dist/listener/stable-accept.js';
import { connectReading, expectRead, SOCKET_READS } from '../../dist/socket-reads.js';
import { rng } from '../helpers/seeded.js';

const reads = suite('socket reads (onread)');

/** A server accepting through the corridor's accept path with SOCKET_READS; `onSocket` gets each connection. */
async function serve(onSocket: (socket: net.Socket) => void): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer({ allowHalfOpen: true }, onSocket);
  acceptWithStableShape(server, true);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** What `promise` gives, or `what` when it does not settle within 10 s: a broken build fails instead of hanging. */
async function within<T>(promise: Promise<T>, what: string): Promise<T | string> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<string>((resolve) => { timer = setTimeout(resolve, 10_000, what); });
  try {
    return await Promise.race([promise, gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

/** `total` bytes made from `seed`: what a client sends, so the server can check what it kept. */
function payload(seed: number, total: number): Buffer {
  const next = rng(seed);
  const out = Buffer.allocUnsafe(total);
  for (let i = 0; i < total; i++) out[i] = (next() * 256) | 0;
  return out;
}

/** Writes `data` in pieces of random sizes (a few bytes to 200 KiB), waiting for 'drain' where asked, then ends. */
async function sendInPieces(socket: net.Socket, data: Buffer, seed: number): Promise<void> {
  const next = rng(seed);
  let at = 0;
  while (at < data.length) {
    const big = next() < 0.3;
    const size = Math.max(1, Math.floor(next() * (big ? 200_000 : 600)));
    const piece = data.subarray(at, Math.min(data.length, at + size));
    at += piece.length;
    if (!socket.write(piece)) await new Promise((resolve) => socket.once('drain', resolve));
    // Now and then a turn of the loop, so reads of different sockets interleave.
    if (next() < 0.2) await new Promise((resolve) => setImmediate(resolve));
  }
  socket.end();
}

reads('every chunk a listener keeps stays as read while other sockets read: small reads, large ones, hints', async () => {
  const CONNECTIONS = 8;
  const kept = new Map<number, Buffer[]>();
  const ended = new Map<number, () => void>();
  const { server, port } = await serve((socket) => {
    const chunks: Buffer[] = [];
    let id = -1;
    let got = 0;
    socket.on('data', (chunk: Buffer) => {
      // The first byte names the connection; the listener keeps every chunk, as a held body does.
      if (id === -1) id = chunk[0]!;
      chunks.push(chunk);
      got += chunk.length;
      // Half the connections say how much is left, as the corridor does for a body's rest.
      if (id % 2 === 0) expectRead(socket, 1_500_000 - got);
    });
    socket.on('end', () => {
      kept.set(id, chunks);
      ended.get(id)?.();
      socket.end();
    });
  });
  const sent: Buffer[] = [];
  const done: Promise<void>[] = [];
  for (let c = 0; c < CONNECTIONS; c++) {
    const data = payload(c + 1, 1_500_000);
    data[0] = c;
    sent.push(data);
    done.push(new Promise<void>((resolve) => ended.set(c, resolve)));
  }
  await Promise.all(sent.map(async (data, c) => {
    // Half the clients read through SOCKET_READS too (an upstream socket's way).
    const client = c % 2 === 0
      ? connectReading({ port, host: '127.0.0.1', allowHalfOpen: true, onread: SOCKET_READS } as net.NetConnectOpts)
      : net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await new Promise((resolve) => client.once('connect', resolve));
    client.resume();
    await sendInPieces(client, data, 100 + c);
  }));
  await Promise.all(done);
  server.close();
  for (let c = 0; c < CONNECTIONS; c++) {
    const chunks = kept.get(c)!;
    assert.ok(chunks.length > 1, `connection ${c} came in more than one read`);
    assert.ok(Buffer.concat(chunks).equals(sent[c]!), `connection ${c}: what the listener kept is what was sent`);
  }
});

reads('a listener that pauses on some chunks gets nothing while paused and the rest, in order, after resume', async () => {
  let result: Buffer | null = null;
  let whilePaused = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  const { server, port } = await serve((socket) => {
    const chunks: Buffer[] = [];
    let n = 0;
    socket.on('data', (chunk: Buffer) => {
      if (socket.isPaused()) whilePaused++;
      chunks.push(chunk);
      if (++n % 3 === 0) {
        socket.pause();
        // Paused until bytes came meanwhile (kept in the stream's buffer, not emitted), so
        // each pause covers reads of its own.
        const later = (): void => {
          if (socket.readableLength > 0 || whilePaused > 0 || socket.readableEnded) socket.resume();
          else setImmediate(later);
        };
        setImmediate(later);
      }
    });
    socket.on('end', () => {
      result = Buffer.concat(chunks);
      socket.end();
      finish();
    });
  });
  const data = payload(7, 2_000_000);
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((resolve) => client.once('connect', resolve));
  client.resume();
  await sendInPieces(client, data, 8);
  await finished;
  client.destroy();
  server.close();
  assert.is(whilePaused, 0, 'no data while paused');
  assert.ok(result !== null && (result as Buffer).equals(data), 'every byte, in order');
});

reads('bytes that come before any data listener are kept for it, as Node keeps them', async () => {
  let got: Buffer | null = null;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  let serverSide: net.Socket | null = null;
  const { server, port } = await serve((socket) => {
    serverSide = socket;
    // No listener until something was read: it waits in the stream's buffer.
    socket.read(0);
    const wait = (): void => {
      if (socket.readableLength === 0) {
        setImmediate(wait);
        return;
      }
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => {
        got = Buffer.concat(chunks);
        socket.end();
        finish();
      });
    };
    wait();
  });
  const data = payload(9, 300_000);
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((resolve) => client.once('connect', resolve));
  client.resume();
  client.write(data.subarray(0, 100));
  await new Promise((resolve) => setTimeout(resolve, 0));
  await sendInPieces(client, data.subarray(100), 10);
  const outcome = await within(finished.then(() => 'end'), 'the bytes were never there for a listener to take');
  client.destroy();
  (serverSide as net.Socket | null)?.destroy();
  server.close();
  assert.is(outcome, 'end');
  assert.ok(got !== null && (got as Buffer).equals(data), 'the early bytes first, then the rest');
});

reads('a paused socket still reads: the peer\'s end comes while paused, as on a socket read Node\'s way', async () => {
  let ended!: () => void;
  const endSeen = new Promise<void>((resolve) => { ended = resolve; });
  let serverSide: net.Socket | null = null;
  const { server, port } = await serve((socket) => {
    serverSide = socket;
    socket.once('data', () => socket.pause());
    socket.on('end', () => ended());
  });
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((resolve) => client.once('connect', resolve));
  client.write('a request head, then nothing more');
  await new Promise<void>((resolve) => {
    const wait = (): void => (serverSide !== null && serverSide.isPaused() ? resolve() : void setImmediate(wait));
    wait();
  });
  client.end();
  const outcome = await within(endSeen.then(() => 'end'), 'no end within 10 s');
  const stillPaused = (serverSide as net.Socket | null)?.isPaused();
  client.destroy();
  (serverSide as net.Socket | null)?.destroy();
  server.close();
  assert.is(outcome, 'end');
  assert.ok(stillPaused, 'still paused');
});

reads('a listener that throws: the error goes on as Node\'s would, and the socket reads no more', async () => {
  let serverSide: net.Socket | null = null;
  const boom = new Error('listener failed');
  const { server, port } = await serve((socket) => {
    serverSide = socket;
    socket.on('error', () => {});
    socket.on('data', () => {
      throw boom;
    });
  });
  const caught = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
  const client = net.connect({ port, host: '127.0.0.1' });
  client.on('error', () => {});
  const closed = new Promise((resolve) => client.once('close', resolve));
  client.write('x');
  assert.is(await caught, boom);
  assert.ok((serverSide as net.Socket | null)?.destroyed, 'the socket is destroyed');
  await closed;
  server.close();
});

reads.run();
