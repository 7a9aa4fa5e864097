// The tape commands' arguments.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../../dist/cli/argv.js';

const args = suite('replay and tape show arguments');

args('replay: defaults, flags, and mistakes named', () => {
  const r = parseConfig(['replay', 'tapes/'], '1');
  assert.equal(r, { kind: 'replay', args: { target: 'tapes/', host: '127.0.0.1', port: 8080, timing: 'recorded', stdio: false, logLevel: 'info' } });
  const s = parseConfig(['replay', 'a.jsonl', '--stdio', '--timing=fast', '--log-level', 'warn'], '1');
  assert.equal(s, { kind: 'replay', args: { target: 'a.jsonl', host: '127.0.0.1', port: 8080, timing: 'fast', stdio: true, logLevel: 'warn' } });
  assert.is(parseConfig(['replay', '--help'], '1').kind, 'help');
  assert.throws(() => parseConfig(['replay'], '1'), /replay needs a tape file or a folder/);
  assert.throws(() => parseConfig(['replay', 'a', '--timing', 'slow'], '1'), /invalid --timing 'slow'/);
  assert.throws(() => parseConfig(['replay', 'a', '--port', '70000'], '1'), /invalid --port/);
  assert.throws(() => parseConfig(['replay', 'a', '--stdio', '--port', '1'], '1'), /pick one/);
  assert.throws(() => parseConfig(['replay', 'a', '--multi-session'], '1'), /unknown flag --multi-session for replay/);
  assert.throws(() => parseConfig(['replay', 'a', 'b'], '1'), /unexpected argument 'b'/);
});

args('tape show FILE', () => {
  assert.equal(parseConfig(['tape', 'show', 'x.jsonl'], '1'), { kind: 'tape-show', file: 'x.jsonl' });
  assert.throws(() => parseConfig(['tape'], '1'), /tape needs a subcommand/);
  assert.throws(() => parseConfig(['tape', 'play', 'x'], '1'), /unknown tape subcommand 'play'/);
  assert.throws(() => parseConfig(['tape', 'show'], '1'), /tape show needs a tape file/);
  assert.is(parseConfig(['tape', 'show', '--help'], '1').kind, 'help');
});

args('--record belongs to forward http and forward stdio', () => {
  assert.throws(() => parseConfig(['forward', 'tcp', '--upstream', 'a:1', '--record', 'd'], '1'), /--record does not apply to forward tcp/);
  const r = parseConfig(['forward', 'stdio', '--record', 'd', '--record-queue', '65536', '--', 'x'], '1');
  assert.ok(r.kind === 'run' && r.config.recordDir === 'd' && r.config.recordQueueBytes === 65536);
  assert.throws(() => parseConfig(['forward', 'http', '--record-queue', '10'], '1'), /invalid --record-queue '10'/);
});

args.run();
