// The stdio replay server's line handling, in-process with streams.

import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../../dist/observe/logger.js';
import { CallBook } from '../../../dist/tape/book.js';
import { runReplayStdio } from '../../../dist/tape/replay-stdio.js';

const stdio = suite('replay --stdio lines');

stdio('a line over the limit is dropped whole (its tail is no line of its own); the next line is answered', async () => {
  const book = new CallBook([{
    file: 'a.jsonl', end: null, unreadable: 0,
    meta: { tape: 1, shadowcat: 't', mode: 'stdio', upstream: '', client: '', proxySession: 'stdio', mcpSessionId: null, protocolVersion: null, startedAt: '' },
    entries: [
      { t: 0, dir: 'in', msg: { jsonrpc: '2.0', id: 1, method: 'ping', params: {} } },
      { t: 1, dir: 'out', msg: { jsonrpc: '2.0', id: 1, result: { pong: true } } },
    ],
  }]);
  const input = new PassThrough();
  const output = new PassThrough();
  let out = '';
  output.on('data', (d: Buffer) => (out += d.toString()));
  const done = runReplayStdio(book, { input, output, timing: 'fast', log: silentLogger() });
  // 17 MiB in pieces, then its newline and a real request.
  const piece = Buffer.alloc(1024 * 1024, 0x61);
  for (let i = 0; i < 17; i++) input.write(piece);
  input.write('"}\n{"jsonrpc":"2.0","id":7,"method":"ping","params":{}}\n');
  input.end();
  await done;
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { id: unknown; result?: unknown; error?: unknown });
  assert.equal(lines, [{ jsonrpc: '2.0', id: 7, result: { pong: true } }]);
});

stdio.run();
