// The tape writer: order, the budget, partial writes to a pipe, and failure.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyOneLine, TapeFile, WriteBudget, type TapeOpener } from '../../../dist/tape/tape-file.js';

const dir = fs.mkdtempSync(join(tmpdir(), 'shadowcat-tapefile-'));
const noFail = (): void => {
  throw new Error('unexpected failure');
};

const tf = suite('TapeFile');
tf.after(() => fs.rmSync(dir, { recursive: true, force: true }));

tf('the first line goes first, body line breaks become spaces, the budget refuses what does not fit and frees what is written', async () => {
  const budget = new WriteBudget(200);
  const file = new TapeFile(budget, noFail);
  // The recorder's way: a line reserved, written in pieces, committed.
  const body = Buffer.from('{\n"x":\r\n1}');
  const slab = file.reserve(5 + body.length + 2)!;
  let at = file.cursor + slab.write('{"a":', file.cursor);
  at = copyOneLine(body, slab, at);
  slab.write('}\n', at);
  file.commit();
  assert.not.ok(file.line(`${'x'.repeat(200)}\n`), 'over the budget: refused');
  file.lineAlways('{"meta":1}\n', true);
  const target = join(dir, 'one.jsonl');
  file.open([target]);
  file.lineAlways('{"end":1}\n');
  await file.end();
  assert.is(fs.readFileSync(target, 'utf8'), '{"meta":1}\n{"a":{ "x":  1}}\n{"end":1}\n');
  assert.is(budget.used, 0, 'everything written is released');
  assert.ok(file.line('x') === false, 'an ended tape takes nothing');
});

tf('an existing name is never written into: the next candidate is used', async () => {
  const taken = join(dir, 'taken.jsonl');
  fs.writeFileSync(taken, 'other tape\n');
  const file = new TapeFile(new WriteBudget(1000), noFail);
  file.lineAlways('mine\n');
  file.open([taken, join(dir, 'taken-2.jsonl')]);
  await file.end();
  assert.is(fs.readFileSync(taken, 'utf8'), 'other tape\n');
  assert.is(fs.readFileSync(join(dir, 'taken-2.jsonl'), 'utf8'), 'mine\n');
  assert.is(file.path, join(dir, 'taken-2.jsonl'));
});

tf('a pipe that takes less than asked: the rest follows in order, nothing lost or repeated', async () => {
  const fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  // A reader that is there from the start (it never reads): the writer's non-blocking open
  // needs one, and the stream's own open waits in the thread pool until a writer comes.
  const idle = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const reader = fs.createReadStream(fifo, { highWaterMark: 4096 });
  const got: Buffer[] = [];
  reader.on('data', (c) => got.push(c as Buffer));
  // Listened for from the start: the reader may reach the end before the writer's end() resolves.
  const readerEnded = new Promise<void>((r) => reader.on('end', () => r()));
  // Read slowly: the pipe fills, writes come back short or with EAGAIN.
  reader.pause();
  const opener: TapeOpener = (_c, done) => fs.open(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK, (err, fd) => done(err, fd, fifo));
  const budget = new WriteBudget(4 * 1024 * 1024);
  const file = new TapeFile(budget, noFail);
  let expected = '';
  for (let i = 0; i < 3000; i++) {
    const line = `${i}:${'y'.repeat(100)}`;
    assert.ok(file.line(`${line}\n`));
    expected += `${line}\n`;
  }
  await new Promise((r) => setTimeout(r, 50));
  file.open([fifo], opener);
  let draining = false;
  const resume = setInterval(() => {
    reader.resume();
    setTimeout(() => {
      if (!draining) reader.pause();
    }, 2);
  }, 10);
  const ended = file.end();
  await ended;
  clearInterval(resume);
  draining = true;
  reader.resume();
  await readerEnded;
  fs.closeSync(idle);
  assert.is(Buffer.concat(got).toString(), expected);
  assert.is(budget.used, 0);
});

tf('a write error stops the tape: what was queued is reported lost, later lines are refused', async () => {
  let failure: { code: string | undefined; lost: number } | null = null;
  const budget = new WriteBudget(1 << 20);
  const file = new TapeFile(budget, (err, lost) => {
    failure = { code: err.code, lost };
  });
  for (let i = 0; i < 5; i++) file.line(`line ${i}\n`);
  file.open(['/dev/full'], (_c, done) => fs.open('/dev/full', 'w', (err, fd) => done(err, fd, '/dev/full')));
  await file.end();
  assert.equal(failure, { code: 'ENOSPC', lost: 5 });
  assert.ok(file.failed);
  assert.not.ok(file.line('more\n'));
  assert.is(budget.used, 0);
});

tf.run();
